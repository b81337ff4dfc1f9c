"""Build the stack's tables, topic, queues, bus and parameter on moto FROM template.yaml's own properties.

A property the template changes (a key, an index, FIFO-ness, the TTL attribute, the default configuration) reaches
the tests without editing them, so the template and the adapters cannot drift apart unnoticed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from retrain_trigger_local.template import read_template, resource_properties

STACK_NAME = "rt-test"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"

PSEUDO = {
    "AWS::StackName": STACK_NAME,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": "aws",
}

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
    parameters = read_template().get("Parameters", {})
    return {name: str(spec.get("Default", "")) for name, spec in parameters.items()}


def resolve(value: Any, refs: Mapping[str, str] | None = None) -> Any:
    """Evaluate the intrinsics the template's plain resources use (Ref, Sub, If, Equals, Not, And, Condition,
    GetAtt) with the parameters' defaults, the pseudo parameters above, and `refs` for other resources."""
    known = {**parameter_defaults(), **PSEUDO, **(refs or {})}
    conditions = read_template().get("Conditions", {})

    def evaluate(node: Any) -> Any:
        if isinstance(node, list):
            return [evaluate(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1:
            return {key: evaluate(item) for key, item in node.items()}
        ((key, arg),) = node.items()
        match key:
            case "Ref":
                return known[arg]
            case "Fn::GetAtt":
                return known[".".join(arg)]
            case "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                scope = {**known, **{name: str(evaluate(v)) for name, v in variables.items()}}
                return re.sub(r"\$\{([^}!]+)\}", lambda m: str(scope[m.group(1)]), text)
            case "Fn::If":
                condition, when_true, when_false = arg
                return evaluate(when_true if evaluate({"Condition": condition}) else when_false)
            case "Condition":
                return evaluate(conditions[arg])
            case "Fn::Equals":
                left, right = (str(evaluate(item)) for item in arg)
                return left == right
            case "Fn::Not":
                return not evaluate(arg[0])
            case "Fn::And":
                return all(evaluate(item) for item in arg)
            case "Fn::Or":
                return any(evaluate(item) for item in arg)
        return {key: evaluate(arg)}

    return evaluate(value)


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
