"""The demo's stack and the user's world around it: what `make demo`, `make invoke` and the tests all set up.

The stack's parameter overrides, the user's own SageMaker pipeline, an on-call queue subscribed to the alert topic,
a queue capturing the project bus's events, and reading a queue back. No pandas, no plotting: sam-local and the
tests import this, not the demo.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from retrain_trigger_local.runtime import ACCOUNT_ID, ROOT

REFERENCE = ROOT / "data" / "reference_drift_scores.csv"
SCHEDULED_EVENT = ROOT / "events" / "scheduled.json"
PIPELINE_STATUS_EVENT = ROOT / "events" / "pipeline-succeeded.json"
STACK_NAME = "retrain-trigger-demo"
PIPELINE_PARAMETERS = ("MonitorId", "EpisodeId", "DriftScore", "DriftThreshold")


@dataclass(frozen=True)
class DemoMonitor:
    """The one monitor the demo stack is deployed with: its levels, its pipeline and where its scores come from."""

    monitor_id: str = "churn-model"
    critical: float = 0.2
    reset: float = 0.15
    warning: float = 0.1
    pipeline: str = "churn-model-retraining"
    source: str = "dynamodb"

    def stack_parameters(self) -> dict[str, str]:
        """The demo stack's parameter overrides: the monitor, its levels and pipeline, a daily tick."""
        return {
            "MonitorId": self.monitor_id,
            "CriticalThreshold": str(self.critical),
            "ResetThreshold": str(self.reset),
            "WarningThreshold": str(self.warning),
            "PipelineName": self.pipeline,
            "ScoreSource": self.source,
            "TickMinutes": "1440",
            "MonitorEvery": "1d",
        }


def prepare_world(
    client: Callable[[str], Any], outputs: Mapping[str, str], pipeline: str, say: Callable[[str], None]
) -> dict[str, str]:
    """The user's side of the demo: their SageMaker pipeline, an on-call queue subscribed to the alert topic and a
    queue that captures the project bus's events. Returns the two queues' URLs ("oncall", "capture")."""
    sagemaker, sqs, sns, events = (client(s) for s in ("sagemaker", "sqs", "sns", "events"))
    sagemaker.create_pipeline(
        PipelineName=pipeline,
        RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/demo-sagemaker",
        PipelineDefinition=json.dumps(
            {
                "Version": "2020-12-01",
                "Parameters": [{"Name": n, "Type": "String"} for n in PIPELINE_PARAMETERS],
                "Steps": [],
            }
        ),
    )
    say(f"demo created SageMaker pipeline {pipeline!r} (the user's own pipeline, not in the stack)")
    oncall = sqs.create_queue(QueueName="demo-oncall-alerts")["QueueUrl"]
    oncall_arn = sqs.get_queue_attributes(QueueUrl=oncall, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=outputs["AlertTopicArn"], Protocol="sqs", Endpoint=oncall_arn)
    say("demo subscribed queue demo-oncall-alerts to the alert topic (every severity)")
    capture = sqs.create_queue(QueueName="demo-bus-capture")["QueueUrl"]
    capture_arn = sqs.get_queue_attributes(QueueUrl=capture, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="demo-capture",
        EventBusName=outputs["EventBusName"],
        EventPattern=json.dumps({"source": ["retrain-trigger"]}),
    )
    events.put_targets(
        Rule="demo-capture", EventBusName=outputs["EventBusName"], Targets=[{"Id": "capture", "Arn": capture_arn}]
    )
    say("demo routed the project bus's retrain-trigger events to queue demo-bus-capture")
    return {"oncall": oncall, "capture": capture}


def drain(sqs: Any, queue_url: str) -> Iterator[dict[str, Any]]:
    """Every message on the queue (each received once, then deleted)."""
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            yield message
