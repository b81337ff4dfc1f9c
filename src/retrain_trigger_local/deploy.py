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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import boto3
from botocore.exceptions import ClientError
from moto.cloudformation.parsing import get_model_map

from retrain_trigger_local.intrinsics import (
    Resolver,
    UnresolvableError,
    effective_parameters,
    evaluate_conditions,
    inline_references,
    references,
)
from retrain_trigger_local.runtime import ACCOUNT_ID, DUMMY_CREDENTIALS, REGION, ROOT
from retrain_trigger_local.sam_package import translate_template, upload_code
from retrain_trigger_local.template import load_template

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

STACK_TIMEOUT_SECONDS = 60.0
CAPABILITIES: list[Any] = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]


# moto models these types but its CloudFormation resolves `Ref` to them as the Python object's repr (moto 5.2.5:
# LayerVersion has no physical_resource_id), so the SharedLayerArn output would not be an ARN.
_REF_BROKEN_IN_MOTO = frozenset({"AWS::Lambda::LayerVersion"})


class StackCreationError(RuntimeError):
    """The stack could not be created in moto; the message says which resource or status and why."""


# ---------------------------------------------------------------------------------------------------------------
# Where the stack goes: an in-process session under mock_aws, or the server's endpoint
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AwsTarget:
    """A boto3 session and the endpoint its clients use (None: the default, which mock_aws intercepts)."""

    session: boto3.session.Session
    endpoint_url: str | None = None

    @classmethod
    def of(cls, session_or_endpoint: boto3.session.Session | str | None) -> AwsTarget:
        """A session is used as given; an endpoint URL (or None) gets us-east-1 and dummy credentials."""
        if isinstance(session_or_endpoint, boto3.session.Session):
            return cls(session_or_endpoint)
        session = boto3.session.Session(
            aws_access_key_id=DUMMY_CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=DUMMY_CREDENTIALS["aws_secret_access_key"],
            region_name=REGION,
        )
        return cls(session, session_or_endpoint)

    @property
    def region(self) -> str:
        return self.session.region_name or REGION

    def cloudformation(self) -> CloudFormationClient:
        return self.session.client("cloudformation", region_name=self.region, endpoint_url=self.endpoint_url)

    def s3(self) -> S3Client:
        return self.session.client("s3", region_name=self.region, endpoint_url=self.endpoint_url)

    def dynamodb(self) -> DynamoDBClient:
        return self.session.client("dynamodb", region_name=self.region, endpoint_url=self.endpoint_url)

    def sqs(self) -> SQSClient:
        return self.session.client("sqs", region_name=self.region, endpoint_url=self.endpoint_url)

    def cloudwatch(self) -> CloudWatchClient:
        return self.session.client("cloudwatch", region_name=self.region, endpoint_url=self.endpoint_url)

    def events(self) -> EventBridgeClient:
        return self.session.client("events", region_name=self.region, endpoint_url=self.endpoint_url)

    def awslambda(self) -> Any:  # Any: the dev extras install no boto3-stubs[lambda]
        return self.session.client("lambda", region_name=self.region, endpoint_url=self.endpoint_url)


@dataclass
class _StackResolver(Resolver):
    """A Resolver that looks up the attributes of resources that exist in moto."""

    target: AwsTarget = field(kw_only=True)

    def live_attribute(self, resource_type: str, physical_id: str, attribute: str) -> str:
        if resource_type == "AWS::SQS::Queue" and attribute == "QueueName":
            return physical_id.rsplit("/", 1)[1]
        if resource_type == "AWS::SQS::Queue" and attribute == "Arn":
            found = self.target.sqs().get_queue_attributes(QueueUrl=physical_id, AttributeNames=["QueueArn"])
            return found["Attributes"]["QueueArn"]
        if resource_type == "AWS::SNS::Topic" and attribute == "TopicName":
            return physical_id.rsplit(":", 1)[1]
        if resource_type == "AWS::Events::Rule" and attribute == "Arn":
            return self._rule_arn(physical_id)
        if attribute == "Arn" and physical_id.startswith("arn:"):
            return physical_id
        raise UnresolvableError(f"{attribute} of a {resource_type} is not supported here")

    def _rule_arn(self, rule_name: str) -> str:
        events = self.target.events()
        for bus in events.list_event_buses()["EventBuses"]:
            for rule in events.list_rules(NamePrefix=rule_name, EventBusName=bus["Name"])["Rules"]:
                if rule["Name"] == rule_name:
                    return rule["Arn"]
        raise UnresolvableError(f"rule {rule_name} not found")


# ---------------------------------------------------------------------------------------------------------------
# Resources created with their service APIs because moto's CloudFormation skips (or mangles) them
# ---------------------------------------------------------------------------------------------------------------
class SkippedResource(NamedTuple):
    """A resource moto's CloudFormation did not create, and what was done about it."""

    logical_id: str
    resource_type: str
    action: str


def _name(resolver: _StackResolver, logical_id: str, props: dict[str, Any], key: str, limit: int = 64) -> str:
    return str(props.pop(key, None) or f"{resolver.stack_name}-{logical_id}"[:limit])


def _create_alarm(resolver: _StackResolver, logical_id: str, props: dict[str, Any]) -> str:
    name = _name(resolver, logical_id, props, "AlarmName", limit=255)
    resolver.target.cloudwatch().put_metric_alarm(AlarmName=name, **props)
    resolver.attributes[logical_id] = {"Arn": f"arn:aws:cloudwatch:{resolver.target.region}:{ACCOUNT_ID}:alarm:{name}"}
    return name


def _create_connection(resolver: _StackResolver, logical_id: str, props: dict[str, Any]) -> str:
    name = _name(resolver, logical_id, props, "Name")
    created = resolver.target.events().create_connection(Name=name, **props)
    resolver.attributes[logical_id] = {"Arn": created["ConnectionArn"]}
    return name


def _create_api_destination(resolver: _StackResolver, logical_id: str, props: dict[str, Any]) -> str:
    name = _name(resolver, logical_id, props, "Name")
    created = resolver.target.events().create_api_destination(Name=name, **props)
    resolver.attributes[logical_id] = {"Arn": created["ApiDestinationArn"]}
    return name


def _apply_queue_policy(resolver: _StackResolver, logical_id: str, props: dict[str, Any]) -> str:
    for queue_url in props["Queues"]:
        resolver.target.sqs().set_queue_attributes(
            QueueUrl=queue_url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
        )
    return f"{resolver.stack_name}-{logical_id}"


def _publish_layer_version(resolver: _StackResolver, logical_id: str, props: dict[str, Any]) -> str:
    name = _name(resolver, logical_id, props, "LayerName", limit=140)
    props.pop("RetentionPolicy", None)  # SAM's, not Lambda's
    published = resolver.target.awslambda().publish_layer_version(LayerName=name, **props)
    arn = str(published["LayerVersionArn"])
    resolver.attributes[logical_id] = {"LayerVersionArn": arn}
    return arn


_Creator = Callable[[_StackResolver, str, dict[str, Any]], str]
_CREATORS: dict[str, tuple[_Creator, str]] = {
    "AWS::CloudWatch::Alarm": (_create_alarm, "created with cloudwatch.put_metric_alarm"),
    "AWS::Events::Connection": (_create_connection, "created with events.create_connection"),
    "AWS::Events::ApiDestination": (_create_api_destination, "created with events.create_api_destination"),
    "AWS::SQS::QueuePolicy": (_apply_queue_policy, "applied with sqs.set_queue_attributes(Policy)"),
    "AWS::Lambda::LayerVersion": (
        _publish_layer_version,
        "published with lambda.publish_layer_version (moto's CloudFormation cannot resolve a Ref to a layer version)",
    ),
}


def _outside_moto(resource_type: str) -> bool:
    return resource_type in _REF_BROKEN_IN_MOTO or resource_type not in get_model_map()


def _dependency_order(resources: Mapping[str, Any], logical_ids: set[str]) -> list[str]:
    """`logical_ids` ordered so that each comes after those of them it references."""
    pending, ordered = set(logical_ids), []
    while pending:
        ready = sorted(i for i in pending if not (set(references(resources[i])) & (pending - {i})))
        ready = ready or sorted(pending)  # a cycle: CloudFormation rejects it too; the creator will report it
        ordered.extend(ready)
        pending -= set(ready)
    return ordered


def _referenced_by_stack(template: Mapping[str, Any], outside: set[str]) -> set[str]:
    """The outside-moto resources that resources moto creates (or the Outputs) reference, directly or not."""
    resources = template["Resources"]
    needed: set[str] = set()
    nodes = [res for lid, res in resources.items() if lid not in outside] + [template.get("Outputs", {})]
    while nodes:
        for name in (set(references(nodes.pop())) & outside) - needed:
            needed.add(name)
            nodes.append(resources[name])
    return needed


def _create_outside(resolver: _StackResolver, logical_id: str) -> SkippedResource:
    resource = resolver.resources[logical_id]
    resource_type = str(resource["Type"])
    if resource_type not in _CREATORS:
        return SkippedResource(logical_id, resource_type, "not created: moto has no CloudFormation model for it")
    create, action = _CREATORS[resource_type]
    try:
        props = resolver.resolve(copy.deepcopy(resource.get("Properties", {})))
    except UnresolvableError as error:
        return SkippedResource(logical_id, resource_type, f"not created: {error}")
    resolver.physical_ids[logical_id] = create(resolver, logical_id, props)
    return SkippedResource(logical_id, resource_type, action)


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
    sam_template = dict(template) if template is not None else load_template()
    overrides = dict(parameters or {})
    values = effective_parameters(sam_template, overrides)

    bucket = f"{stack_name.lower()}-artifacts"[:63]
    locations = upload_code(target.s3(), sam_template, bucket, root)
    translated = translate_template(sam_template, locations, values, target.region)
    conditions = evaluate_conditions(translated, values)
    resources: dict[str, Any] = translated["Resources"]
    active = {lid for lid, res in resources.items() if conditions.get(res.get("Condition", ""), True)}

    resolver = _StackResolver(stack_name, resources, values, conditions, target.region, target=target)
    outside = {lid for lid in active if _outside_moto(resources[lid]["Type"])}
    before = _referenced_by_stack(translated, outside)
    skipped = [_create_outside(resolver, lid) for lid in _dependency_order(resources, before)]
    missing_before = [s for s in skipped if s.logical_id not in resolver.physical_ids]
    if missing_before:
        raise StackCreationError(f"resources the stack references could not be created: {missing_before}")

    moto_template = _template_for_moto(translated, resolver, outside, conditions)
    stack_id = _create_and_wait(target, stack_name, moto_template, values)
    for logical_id, physical_id in _stack_resources(target, stack_name):
        # moto reports no physical id for some types (an EventBus); its declared Name is the one AWS would report.
        name = resources.get(logical_id, {}).get("Properties", {}).get("Name")
        resolver.physical_ids[logical_id] = physical_id or (str(resolver.resolve(name)) if name else "")

    after = outside - before
    skipped += [_create_outside(resolver, lid) for lid in _dependency_order(resources, after)]
    silently_dropped = active - outside - set(resolver.physical_ids)
    skipped += [
        SkippedResource(lid, resources[lid]["Type"], "not created: moto's CloudFormation dropped it")
        for lid in sorted(silently_dropped)
    ]

    patched = _patch_functions(resolver, active - outside) + _patch_tables(resolver, active - outside)
    environments = _function_environments(resolver, active - outside)

    described = target.cloudformation().describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: str(o["OutputValue"]) for o in described.get("Outputs", [])}
    no_echo = {name for name, spec in sam_template.get("Parameters", {}).items() if spec.get("NoEcho")}
    shown = {name: ("****" if name in no_echo else value) for name, value in values.items()}
    return StackInfo(
        stack_name=stack_name,
        stack_id=stack_id,
        outputs=outputs,
        parameters=shown,
        physical_ids=dict(resolver.physical_ids),
        skipped=skipped,
        patched=patched,
        environments=environments,
        conditions=conditions,
        template=translated,
    )


def _functions(resolver: _StackResolver, logical_ids: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id in sorted(logical_ids):
        resource = resolver.resources[logical_id]
        if resource["Type"] == "AWS::Lambda::Function" and resolver.physical_ids.get(logical_id):
            yield logical_id, resource.get("Properties", {})


def _patch_functions(resolver: _StackResolver, logical_ids: set[str]) -> list[SkippedResource]:
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


def _patch_tables(resolver: _StackResolver, logical_ids: set[str]) -> list[SkippedResource]:
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


def _function_environments(resolver: _StackResolver, logical_ids: set[str]) -> dict[str, dict[str, str]]:
    """Each function's environment variables as strings (moto keeps a Number parameter's Ref as a number)."""
    environments = {}
    for logical_id, _ in _functions(resolver, logical_ids):
        found = resolver.target.awslambda().get_function(FunctionName=resolver.physical_ids[logical_id])
        variables = found["Configuration"].get("Environment", {}).get("Variables", {})
        environments[logical_id] = {str(k): str(v) for k, v in variables.items()}
    return environments


def _template_for_moto(
    translated: Mapping[str, Any], resolver: _StackResolver, outside: set[str], conditions: Mapping[str, bool]
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
