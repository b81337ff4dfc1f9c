"""Stacks of template.yaml created in moto (under mock_aws) for the template's specifications, and plain clients."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import boto3

from retrain_trigger_local.aws_target import AwsTarget
from retrain_trigger_local.deploy import StackInfo, deploy_stack
from tests.support.resources import REGION

Deploy = Callable[..., StackInfo]
_names = itertools.count()


def deployer() -> Deploy:
    """deploy(**parameters): the stack of template.yaml created in moto with those parameter overrides."""

    def create(**parameters: str) -> StackInfo:
        return deploy_stack(None, f"rt-{next(_names)}", parameters)

    return create


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]


def skipped_ids(stack: StackInfo) -> set[str]:
    """The logical ids of the resources moto did not create as the stack's own (see StackInfo.skipped)."""
    return {s.logical_id for s in stack.skipped}


def capture_lambda_targets(session_or_endpoint: boto3.session.Session | str | None, info: StackInfo) -> dict[str, str]:
    """Re-point every rule target that invokes one of the stack's functions at an SQS queue (an inbox).

    moto cannot deliver to a Lambda target: put_events raises NotImplementedError for a matching rule that has
    one. With inboxes, events still flow through the template's own rules and patterns; the caller drains a
    function's inbox and calls its handler. Returns each inbox's URL by function logical id.

    Schedule rules lose their Lambda target instead: moto never fires a schedule, but matches a rule without a
    pattern with every event on its bus, so any event on the default bus would reach the evaluator's target.
    """
    target = AwsTarget.of(session_or_endpoint)
    events, sqs = target.events(), target.sqs()
    resources = info.template["Resources"]
    functions = {
        info.physical_ids[lid]: lid
        for lid, res in resources.items()
        if res["Type"] == "AWS::Lambda::Function" and info.physical_ids.get(lid)
    }
    rules = {
        info.physical_ids[lid]
        for lid, res in resources.items()
        if res["Type"] == "AWS::Events::Rule" and info.physical_ids.get(lid)
    }
    inboxes: dict[str, str] = {}
    for bus in events.list_event_buses()["EventBuses"]:
        for rule in events.list_rules(EventBusName=bus["Name"])["Rules"]:
            if rule["Name"] not in rules:
                continue
            listed = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus["Name"])["Targets"]
            for rule_target in listed:
                function = functions.get(rule_target["Arn"].rsplit(":", 1)[-1])
                if ":lambda:" not in rule_target["Arn"] or function is None:
                    continue
                events.remove_targets(Rule=rule["Name"], EventBusName=bus["Name"], Ids=[rule_target["Id"]])
                if "EventPattern" not in rule:
                    continue
                if function not in inboxes:
                    queue = sqs.create_queue(QueueName=f"{info.stack_name}-{function}-inbox"[:80])
                    inboxes[function] = queue["QueueUrl"]
                queue_arn = sqs.get_queue_attributes(QueueUrl=inboxes[function], AttributeNames=["QueueArn"])
                events.put_targets(
                    Rule=rule["Name"],
                    EventBusName=bus["Name"],
                    Targets=[{"Id": rule_target["Id"], "Arn": queue_arn["Attributes"]["QueueArn"]}],
                )
    return inboxes
