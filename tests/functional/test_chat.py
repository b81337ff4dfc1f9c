"""The optional chat topic (ChatNotifications true): the evaluator's own bus event, rewritten by the template's
ChatRule input transformer, is a valid custom notification of Amazon Q Developer in chat applications (AWS Chatbot).

moto's EventBridge applies an input transformer but cannot deliver to an SNS target (it raises
NotImplementedError). So the test re-points ChatRule's target, transformer unchanged, at an SQS inbox; moto renders
the message there from the event the real evaluator put on the stack's bus; the test then publishes that message to
ChatTopic (the one hop EventBridge makes in AWS) and validates what an SQS subscription of ChatTopic receives.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from retrain_trigger import wiring
from retrain_trigger_local.deploy import StackInfo
from retrain_trigger_local.runtime import ACCOUNT_ID, load_handler
from tests.support.stacks import Deploy, client
from tests.support.world import PIPELINE, TICK, context, event

# The custom notification schema as Amazon Q Developer in chat applications documents it ("Custom notifications",
# event schema and parameter details): version 1.0, source custom, content.description required, textType
# client-markdown only.
CHAT_NOTIFICATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["version", "source", "content"],
    "additionalProperties": False,
    "properties": {
        "version": {"const": "1.0"},
        "source": {"const": "custom"},
        "id": {"type": "string"},
        "content": {
            "type": "object",
            "required": ["description"],
            "additionalProperties": False,
            "properties": {
                "textType": {"const": "client-markdown"},
                "title": {"type": "string", "minLength": 1},
                "description": {"type": "string", "minLength": 1},
                "nextSteps": {"type": "array", "items": {"type": "string"}},
                "keywords": {"type": "array", "items": {"type": "string"}},
            },
        },
        "metadata": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "threadId": {"type": "string"},
                "summary": {"type": "string"},
                "eventType": {"type": "string"},
                "relatedResources": {"type": "array", "items": {"type": "string"}},
                "additionalContext": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
    },
}


def queue(name: str) -> tuple[str, str]:
    sqs = client("sqs")
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def received(url: str) -> list[dict[str, Any]]:
    messages = client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


@pytest.fixture
def chat_stack(deploy: Deploy, monkeypatch: pytest.MonkeyPatch) -> StackInfo:
    stack = deploy(ChatNotifications="true")
    for name, value in stack.environments["EvaluatorFunction"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CONFIG_MAX_AGE_SECONDS", "0")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    client("sagemaker").create_pipeline(
        PipelineName=PIPELINE,
        RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/pipeline",
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
    )
    wiring.reset()
    return stack


def test_the_chat_topic_is_part_of_the_stack_only_when_asked(stack: StackInfo, chat_stack: StackInfo) -> None:
    assert "ChatTopicArn" not in stack.outputs and "ChatRule" not in stack.physical_ids
    assert chat_stack.outputs["ChatTopicArn"].startswith("arn:aws:sns:")


def test_a_retraining_reaches_the_chat_topic_as_a_valid_custom_notification(chat_stack: StackInfo) -> None:
    events, sns = client("events"), client("sns")
    bus = chat_stack.outputs["EventBusName"]
    rule = chat_stack.physical_ids["ChatRule"]
    (target,) = events.list_targets_by_rule(Rule=rule, EventBusName=bus)["Targets"]
    assert target["Arn"] == chat_stack.outputs["ChatTopicArn"]
    inbox, inbox_arn = queue("chat-rule-inbox")
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{**target, "Arn": inbox_arn}])
    channel, channel_arn = queue("chat-channel")
    sns.subscribe(
        TopicArn=chat_stack.outputs["ChatTopicArn"],
        Protocol="sqs",
        Endpoint=channel_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    client("dynamodb").put_item(
        TableName=chat_stack.outputs["ScoreTableName"],
        Item={"monitor_id": {"S": "churn-model"}, "timestamp": {"S": TICK}, "drift_score": {"N": "0.2186"}},
    )

    load_handler("evaluator").lambda_handler(event("scheduled.json", time=TICK), context())

    (rendered,) = received(inbox)
    sns.publish(TopicArn=chat_stack.outputs["ChatTopicArn"], Message=json.dumps(rendered))
    (notification,) = received(channel)
    jsonschema.validate(notification, CHAT_NOTIFICATION_SCHEMA)
    assert notification["content"]["title"] == "Retraining Requested: churn-model (critical)"
    description = notification["content"]["description"]
    assert description.startswith("*retrain_started*: drift score 0.2186, critical level 0.2")
    assert notification["metadata"]["threadId"] == "churn-model"  # one thread per monitor in the channel


def test_the_schema_refuses_what_chat_would_not_render() -> None:
    valid = {"version": "1.0", "source": "custom", "content": {"description": "x"}}
    jsonschema.validate(valid, CHAT_NOTIFICATION_SCHEMA)
    for broken in (
        {**valid, "source": "aws.events"},
        {**valid, "version": "2"},
        {**valid, "content": {"title": "no description"}},
        {**valid, "content": {"description": "x", "textType": "plain"}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, CHAT_NOTIFICATION_SCHEMA)
