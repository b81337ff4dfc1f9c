"""Build the stack's tables, topic, queues, bus and parameter on moto FROM template.yaml's own properties.

A property the template changes (a key, an index, FIFO-ness, the TTL attribute, the default configuration) reaches
the tests without editing them, so the template and the adapters cannot drift apart unnoticed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from retrain_trigger_local import intrinsics
from retrain_trigger_local.intrinsics import Resolver, effective_parameters, evaluate_conditions
from retrain_trigger_local.template import read_template, resource_properties

STACK_NAME = "rt-test"
REGION = intrinsics.REGION
ACCOUNT_ID = intrinsics.ACCOUNT_ID  # moto's default account

# The queue properties that CreateQueue takes as attributes under the same name.
QUEUE_ATTRIBUTES = (
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "MaximumMessageSize",
    "SqsManagedSseEnabled",
)


def parameter_defaults() -> dict[str, str]:
    """Every template parameter's default, checked as CloudFormation checks a value."""
    return effective_parameters(read_template(), {})


def resolve(value: Any, refs: Mapping[str, str] | None = None) -> Any:
    """Evaluate the intrinsics in `value` with the parameters' defaults, the pseudo parameters of stack STACK_NAME,
    and `refs` for other resources ("Logical" for a Ref, "Logical.Attribute" for a GetAtt)."""
    template = read_template()
    values = parameter_defaults()
    resolver = Resolver(
        stack_name=STACK_NAME,
        resources=template["Resources"],
        values=values,
        conditions=evaluate_conditions(template, values),
        region=REGION,
    )
    for name, known in (refs or {}).items():
        logical_id, _, attribute = name.partition(".")
        if attribute:
            resolver.attributes.setdefault(logical_id, {})[attribute] = known
        else:
            resolver.physical_ids[logical_id] = known
    return resolver.resolve(value)


def _attribute(value: Any) -> str:
    value = resolve(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def create_table(ddb: Any, logical_id: str, name: str) -> str:
    """A DynamoDB table with the template's keys, attributes, billing, indexes and TTL."""
    props = resource_properties(logical_id)
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props["BillingMode"],
    }
    if indexes := props.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = indexes
    ddb.create_table(**kwargs)
    if ttl := props.get("TimeToLiveSpecification"):
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    return name


def create_state_table(ddb: Any) -> str:
    return create_table(ddb, "StateTable", f"{STACK_NAME}-state")


def create_score_table(ddb: Any) -> str:
    return create_table(ddb, "ScoreTable", f"{STACK_NAME}-scores")


def create_queue(sqs: Any, logical_id: str) -> str:
    """The queue with the template's name and attributes, its dead-letter queue created first. Returns its URL."""
    props = resource_properties(logical_id)
    attributes = {key: _attribute(props[key]) for key in QUEUE_ATTRIBUTES if key in props}
    refs: dict[str, str] = {}
    if redrive := props.get("RedrivePolicy"):
        target = redrive["deadLetterTargetArn"]
        dead_letter_id = target["Fn::GetAtt"][0]
        dead_letter_url = create_queue(sqs, dead_letter_id)
        arn = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["QueueArn"])["Attributes"]
        refs[f"{dead_letter_id}.Arn"] = arn["QueueArn"]
        attributes["RedrivePolicy"] = json.dumps(resolve(redrive, refs))
    name = resolve(props["QueueName"]) if "QueueName" in props else f"{STACK_NAME}-{logical_id}"
    url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url


def create_topic(sns: Any, logical_id: str) -> str:
    props = resource_properties(logical_id)
    name = resolve(props["TopicName"]) if "TopicName" in props else f"{STACK_NAME}-{logical_id}"
    attributes = {key: _attribute(props[key]) for key in ("DisplayName", "FifoTopic") if key in props}
    arn: str = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
    return arn


def create_event_bus(events: Any, logical_id: str = "EventBus") -> str:
    name: str = resolve(resource_properties(logical_id)["Name"])
    events.create_event_bus(Name=name)
    return name


def create_parameter(ssm: Any, logical_id: str = "MonitorConfigParameter", value: str | None = None) -> str:
    """The SSM parameter under the template's name and type, holding `value` or the template's own default."""
    props = resource_properties(logical_id)
    name: str = resolve(props["Name"])
    ssm.put_parameter(Name=name, Type=props["Type"], Value=value if value is not None else resolve(props["Value"]))
    return name
