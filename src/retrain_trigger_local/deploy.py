"""Create the SAM stack from template.yaml in moto, in-process (`mock_aws`) or on the embedded moto server.

The template is transformed with aws-sam-translator (no network) and the code zipped into a moto S3 bucket
(`retrain_trigger_local.sam_package`), then moto's CloudFormation creates the stack. moto does not model every
resource type the template uses; each such resource is created with its service API (before the stack if stack
resources reference it, after it otherwise) or reported as not created. `StackInfo.skipped` lists every one, so
nothing is dropped silently.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from retrain_trigger_local.aws_target import AwsTarget
from retrain_trigger_local.intrinsics import effective_parameters, evaluate_conditions, inline_references
from retrain_trigger_local.moto_gaps import (
    SkippedResource,
    StackResolver,
    create_outside,
    dependency_order,
    outside_moto,
    referenced_by_stack,
)
from retrain_trigger_local.runtime import ROOT
from retrain_trigger_local.sam_package import translate_template, upload_code
from retrain_trigger_local.template import load_template

STACK_TIMEOUT_SECONDS = 60.0
CAPABILITIES: list[Any] = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]


class StackCreationError(RuntimeError):
    """The stack could not be created in moto; the message says which resource or status and why."""


# ---------------------------------------------------------------------------------------------------------------
# The stack
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StackInfo:
    """The created stack: outputs, parameter values (NoEcho masked), physical ids and what moto skipped.

    `patched` lists resources moto created without some of their properties, and how they were set afterwards;
    `environments` is each function's environment as Lambda would pass it (strings), by function logical id.
    """

    stack_name: str
    stack_id: str
    outputs: dict[str, str]
    parameters: dict[str, str]
    physical_ids: dict[str, str]
    skipped: list[SkippedResource]
    patched: list[SkippedResource]
    environments: dict[str, dict[str, str]]
    conditions: dict[str, bool]
    template: dict[str, Any]


@dataclass(frozen=True)
class _Plan:
    """The template as this deployment will create it: translated, its parameters and conditions evaluated, and
    which active resources moto's CloudFormation cannot create (`outside`), of which the stack references `before`."""

    sam_template: dict[str, Any]
    values: dict[str, str]
    translated: dict[str, Any]
    conditions: dict[str, bool]
    active: set[str]
    outside: set[str]
    before: set[str]

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.translated["Resources"]
        return resources


def deploy_stack(
    session_or_endpoint: boto3.session.Session | str | None,
    stack_name: str,
    parameters: Mapping[str, str] | None = None,
    *,
    template: Mapping[str, Any] | None = None,
    root: Path = ROOT,
) -> StackInfo:
    """Create the stack of template.yaml (or `template`) in moto and return what a deployment's user looks up.

    `session_or_endpoint`: a boto3 Session (in-process under `mock_aws`), or the moto server's endpoint URL.
    """
    target = AwsTarget.of(session_or_endpoint)
    plan = _plan(target, stack_name, template, parameters or {}, root)
    resolver = StackResolver(stack_name, plan.resources, plan.values, plan.conditions, target.region, target=target)
    skipped = _create_referenced_outside(resolver, plan)
    stack_id = _create_in_moto(target, stack_name, resolver, plan)
    skipped += _create_remaining_outside(resolver, plan)
    skipped += _dropped_by_moto(resolver, plan)
    created = plan.active - plan.outside
    patched = _patch_functions(resolver, created) + _patch_tables(resolver, created)
    return _stack_info(target, stack_name, stack_id, plan, resolver, skipped, patched)


def _plan(
    target: AwsTarget,
    stack_name: str,
    template: Mapping[str, Any] | None,
    parameters: Mapping[str, str],
    root: Path,
) -> _Plan:
    """Upload the code, translate the SAM template with the code's locations, evaluate parameters and conditions."""
    sam_template = dict(template) if template is not None else load_template()
    values = effective_parameters(sam_template, dict(parameters))
    bucket = f"{stack_name.lower()}-artifacts"[:63]
    locations = upload_code(target.s3(), sam_template, bucket, root)
    translated = translate_template(sam_template, locations, values, target.region)
    conditions = evaluate_conditions(translated, values)
    resources: dict[str, Any] = translated["Resources"]
    active = {lid for lid, res in resources.items() if conditions.get(res.get("Condition", ""), True)}
    outside = {lid for lid in active if outside_moto(resources[lid]["Type"])}
    before = referenced_by_stack(translated, outside)
    return _Plan(sam_template, values, translated, conditions, active, outside, before)


def _create_referenced_outside(resolver: StackResolver, plan: _Plan) -> list[SkippedResource]:
    """The resources moto cannot create that the stack references: created first, with their service APIs."""
    skipped = [create_outside(resolver, lid) for lid in dependency_order(plan.resources, plan.before)]
    missing_before = [s for s in skipped if s.logical_id not in resolver.physical_ids]
    if missing_before:
        raise StackCreationError(f"resources the stack references could not be created: {missing_before}")
    return skipped


def _create_in_moto(target: AwsTarget, stack_name: str, resolver: StackResolver, plan: _Plan) -> str:
    """Create the stack of what moto can create; record each resource's physical id. The stack's id."""
    moto_template = _template_for_moto(plan.translated, resolver, plan.outside, plan.conditions)
    stack_id = _create_and_wait(target, stack_name, moto_template, plan.values)
    for logical_id, physical_id in _stack_resources(target, stack_name):
        # moto reports no physical id for some types (an EventBus); its declared Name is the one AWS would report.
        name = plan.resources.get(logical_id, {}).get("Properties", {}).get("Name")
        resolver.physical_ids[logical_id] = physical_id or (str(resolver.resolve(name)) if name else "")
    return stack_id


def _create_remaining_outside(resolver: StackResolver, plan: _Plan) -> list[SkippedResource]:
    """The resources moto cannot create that nothing in the stack references: created after it."""
    return [create_outside(resolver, lid) for lid in dependency_order(plan.resources, plan.outside - plan.before)]


def _dropped_by_moto(resolver: StackResolver, plan: _Plan) -> list[SkippedResource]:
    """Active resources moto's CloudFormation accepted but never created: reported, never dropped silently."""
    silently_dropped = plan.active - plan.outside - set(resolver.physical_ids)
    return [
        SkippedResource(lid, plan.resources[lid]["Type"], "not created: moto's CloudFormation dropped it")
        for lid in sorted(silently_dropped)
    ]


def _stack_info(
    target: AwsTarget,
    stack_name: str,
    stack_id: str,
    plan: _Plan,
    resolver: StackResolver,
    skipped: list[SkippedResource],
    patched: list[SkippedResource],
) -> StackInfo:
    """What a deployment's user looks up: the outputs, the parameters (NoEcho masked), the physical ids, and more."""
    described = target.cloudformation().describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: str(o["OutputValue"]) for o in described.get("Outputs", [])}
    no_echo = {name for name, spec in plan.sam_template.get("Parameters", {}).items() if spec.get("NoEcho")}
    shown = {name: ("****" if name in no_echo else value) for name, value in plan.values.items()}
    return StackInfo(
        stack_name=stack_name,
        stack_id=stack_id,
        outputs=outputs,
        parameters=shown,
        physical_ids=dict(resolver.physical_ids),
        skipped=skipped,
        patched=patched,
        environments=_function_environments(resolver, plan.active - plan.outside),
        conditions=plan.conditions,
        template=plan.translated,
    )


def _functions(resolver: StackResolver, logical_ids: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id in sorted(logical_ids):
        resource = resolver.resources[logical_id]
        if resource["Type"] == "AWS::Lambda::Function" and resolver.physical_ids.get(logical_id):
            yield logical_id, resource.get("Properties", {})


def _patch_functions(resolver: StackResolver, logical_ids: set[str]) -> list[SkippedResource]:
    """moto's CloudFormation drops a function's Layers: set them with update_function_configuration."""
    patched = []
    for logical_id, props in _functions(resolver, logical_ids):
        if props.get("Layers"):
            layers = [str(arn) for arn in resolver.resolve(props["Layers"])]
            resolver.target.awslambda().update_function_configuration(
                FunctionName=resolver.physical_ids[logical_id], Layers=layers
            )
            action = "Layers set with lambda.update_function_configuration (moto's CloudFormation ignores them)"
            patched.append(SkippedResource(logical_id, "AWS::Lambda::Function", action))
    return patched


def _flag(value: Any) -> bool:
    """A CloudFormation boolean: true or "true" (any case)."""
    return str(value).lower() == "true"


def _patch_tables(resolver: StackResolver, logical_ids: set[str]) -> list[SkippedResource]:
    """moto's CloudFormation drops a table's TimeToLiveSpecification and PointInTimeRecoverySpecification."""
    patched = []
    dynamodb = resolver.target.dynamodb()
    for logical_id in sorted(logical_ids):
        resource = resolver.resources[logical_id]
        table = resolver.physical_ids.get(logical_id)
        if resource["Type"] != "AWS::DynamoDB::Table" or not table:
            continue
        props = resolver.resolve(resource.get("Properties", {}))
        done = []
        if ttl := props.get("TimeToLiveSpecification"):
            dynamodb.update_time_to_live(
                TableName=table,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": _flag(ttl["Enabled"])},
            )
            done.append("TimeToLiveSpecification with dynamodb.update_time_to_live")
        if pitr := props.get("PointInTimeRecoverySpecification"):
            dynamodb.update_continuous_backups(
                TableName=table,
                PointInTimeRecoverySpecification={
                    "PointInTimeRecoveryEnabled": _flag(pitr["PointInTimeRecoveryEnabled"])
                },
            )
            done.append("PointInTimeRecoverySpecification with dynamodb.update_continuous_backups")
        if done:
            action = f"set {' and '.join(done)} (moto's CloudFormation ignores them)"
            patched.append(SkippedResource(logical_id, "AWS::DynamoDB::Table", action))
    return patched


def _function_environments(resolver: StackResolver, logical_ids: set[str]) -> dict[str, dict[str, str]]:
    """Each function's environment variables as strings (moto keeps a Number parameter's Ref as a number)."""
    environments = {}
    for logical_id, _ in _functions(resolver, logical_ids):
        found = resolver.target.awslambda().get_function(FunctionName=resolver.physical_ids[logical_id])
        variables = found["Configuration"].get("Environment", {}).get("Variables", {})
        environments[logical_id] = {str(k): str(v) for k, v in variables.items()}
    return environments


def _template_for_moto(
    translated: Mapping[str, Any], resolver: StackResolver, outside: set[str], conditions: Mapping[str, bool]
) -> dict[str, Any]:
    """The translated template without the outside-moto resources, references to them replaced by values.

    Conditions are replaced by their values: moto compares a Number parameter's Ref as a number ("1" != 1),
    CloudFormation as text, and this module decides what should exist with CloudFormation's rule.
    """
    created = set(resolver.physical_ids)
    moto_template = copy.deepcopy(dict(translated))
    moto_template.pop("Rules", None)  # assertions on parameters: checked by CloudFormation, not modelled by moto
    moto_template["Conditions"] = {
        name: {"Fn::Equals": ["true", "true" if value else "false"]} for name, value in conditions.items()
    }
    resources = {lid: res for lid, res in moto_template["Resources"].items() if lid not in outside}
    for resource in resources.values():
        depends_on = resource.get("DependsOn")
        if depends_on is not None:
            kept = [d for d in ([depends_on] if isinstance(depends_on, str) else depends_on) if d not in outside]
            if kept:
                resource["DependsOn"] = kept
            else:
                del resource["DependsOn"]
    moto_template["Resources"] = inline_references(resources, resolver, created)
    if "Outputs" in moto_template:
        moto_template["Outputs"] = inline_references(moto_template["Outputs"], resolver, created)
    return moto_template


def _create_and_wait(target: AwsTarget, stack_name: str, template: Mapping[str, Any], values: Mapping[str, str]) -> str:
    cloudformation = target.cloudformation()
    try:
        created = cloudformation.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
            Capabilities=CAPABILITIES,
        )
    except ClientError as error:
        raise StackCreationError(f"{stack_name}: create_stack failed: {error}") from error
    deadline = time.monotonic() + STACK_TIMEOUT_SECONDS
    while True:
        stack = cloudformation.describe_stacks(StackName=created["StackId"])["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            return created["StackId"]
        if not status.endswith("_IN_PROGRESS"):
            raise StackCreationError(f"{stack_name}: {status}: {stack.get('StackStatusReason', 'no reason given')}")
        if time.monotonic() > deadline:
            raise StackCreationError(f"{stack_name}: still {status} after {STACK_TIMEOUT_SECONDS:.0f}s")
        time.sleep(0.2)


def _stack_resources(target: AwsTarget, stack_name: str) -> Iterator[tuple[str, str]]:
    """(logical id, physical id) of each resource moto created (moto also lists unnamed internals: skipped)."""
    paginator = target.cloudformation().get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack_name):
        for summary in page["StackResourceSummaries"]:
            if summary.get("LogicalResourceId"):
                yield summary["LogicalResourceId"], summary.get("PhysicalResourceId", "")
