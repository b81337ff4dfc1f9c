"""What moto's CloudFormation cannot create (or mangles), created with each service's own API instead.

The stack's resolver looks attributes up in moto; each resource type moto lacks has a creator here. The deployment
(`retrain_trigger_local.deploy`) reports every such resource in `StackInfo.skipped`, so nothing is dropped silently.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from moto.cloudformation.parsing import get_model_map

from retrain_trigger_local.aws_target import AwsTarget
from retrain_trigger_local.intrinsics import Resolver, UnresolvableError, references
from retrain_trigger_local.runtime import ACCOUNT_ID

# moto models these types but its CloudFormation resolves `Ref` to them as the Python object's repr (moto 5.2.5:
# LayerVersion has no physical_resource_id), so the SharedLayerArn output would not be an ARN.
_REF_BROKEN_IN_MOTO = frozenset({"AWS::Lambda::LayerVersion"})


@dataclass
class StackResolver(Resolver):
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


def _name(resolver: StackResolver, logical_id: str, props: dict[str, Any], key: str, limit: int = 64) -> str:
    return str(props.pop(key, None) or f"{resolver.stack_name}-{logical_id}"[:limit])


def _create_alarm(resolver: StackResolver, logical_id: str, props: dict[str, Any]) -> str:
    name = _name(resolver, logical_id, props, "AlarmName", limit=255)
    resolver.target.cloudwatch().put_metric_alarm(AlarmName=name, **props)
    resolver.attributes[logical_id] = {"Arn": f"arn:aws:cloudwatch:{resolver.target.region}:{ACCOUNT_ID}:alarm:{name}"}
    return name


def _create_connection(resolver: StackResolver, logical_id: str, props: dict[str, Any]) -> str:
    name = _name(resolver, logical_id, props, "Name")
    created = resolver.target.events().create_connection(Name=name, **props)
    resolver.attributes[logical_id] = {"Arn": created["ConnectionArn"]}
    return name


def _create_api_destination(resolver: StackResolver, logical_id: str, props: dict[str, Any]) -> str:
    name = _name(resolver, logical_id, props, "Name")
    created = resolver.target.events().create_api_destination(Name=name, **props)
    resolver.attributes[logical_id] = {"Arn": created["ApiDestinationArn"]}
    return name


def _apply_queue_policy(resolver: StackResolver, logical_id: str, props: dict[str, Any]) -> str:
    for queue_url in props["Queues"]:
        resolver.target.sqs().set_queue_attributes(
            QueueUrl=queue_url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
        )
    return f"{resolver.stack_name}-{logical_id}"


def _publish_layer_version(resolver: StackResolver, logical_id: str, props: dict[str, Any]) -> str:
    name = _name(resolver, logical_id, props, "LayerName", limit=140)
    props.pop("RetentionPolicy", None)  # SAM's, not Lambda's
    published = resolver.target.awslambda().publish_layer_version(LayerName=name, **props)
    arn = str(published["LayerVersionArn"])
    resolver.attributes[logical_id] = {"LayerVersionArn": arn}
    return arn


_Creator = Callable[[StackResolver, str, dict[str, Any]], str]
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


def outside_moto(resource_type: str) -> bool:
    return resource_type in _REF_BROKEN_IN_MOTO or resource_type not in get_model_map()


def dependency_order(resources: Mapping[str, Any], logical_ids: set[str]) -> list[str]:
    """`logical_ids` ordered so that each comes after those of them it references."""
    pending, ordered = set(logical_ids), []
    while pending:
        ready = sorted(i for i in pending if not (set(references(resources[i])) & (pending - {i})))
        ready = ready or sorted(pending)  # a cycle: CloudFormation rejects it too; the creator will report it
        ordered.extend(ready)
        pending -= set(ready)
    return ordered


def referenced_by_stack(template: Mapping[str, Any], outside: set[str]) -> set[str]:
    """The outside-moto resources that resources moto creates (or the Outputs) reference, directly or not."""
    resources = template["Resources"]
    needed: set[str] = set()
    nodes = [res for lid, res in resources.items() if lid not in outside] + [template.get("Outputs", {})]
    while nodes:
        for name in (set(references(nodes.pop())) & outside) - needed:
            needed.add(name)
            nodes.append(resources[name])
    return needed


def create_outside(resolver: StackResolver, logical_id: str) -> SkippedResource:
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
