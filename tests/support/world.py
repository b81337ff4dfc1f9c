"""A deployment's resources built from template.yaml under mock_aws, and the real handlers, for functional tests."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from retrain_trigger import wiring
from retrain_trigger.adapters.clients import aws_client
from retrain_trigger_local.runtime import ACCOUNT_ID, LambdaContext, load_handler
from retrain_trigger_local.world import drain
from tests.support import resources

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = "churn-model-retraining"
TICK = "2024-08-09T00:00:00Z"


def event(name: str, **changes: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "events" / name).read_text())
    detail = changes.pop("detail", {})
    loaded |= changes
    if detail:
        loaded["detail"] = {**loaded["detail"], **detail}
    return loaded


def context() -> LambdaContext:
    return LambdaContext(function_name="test", aws_request_id=str(uuid.uuid4()))


class World:
    """The stack's resources (from the template), a user's pipeline and an on-call queue behind a filter policy."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        ddb, sns, sqs = aws_client("dynamodb"), aws_client("sns"), aws_client("sqs")
        self.state_table = resources.create_state_table(ddb)
        self.score_table = resources.create_score_table(ddb)
        self.topic = resources.create_topic(sns, "AlertTopic")
        self.queue = resources.create_queue(sqs, "RetrainQueue")
        self.bus = resources.create_event_bus(aws_client("events"))
        self.parameter = resources.create_parameter(aws_client("ssm"))
        aws_client("sagemaker").create_pipeline(
            PipelineName=PIPELINE,
            RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/pipeline",
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
        )
        self.oncall = self.subscribe({"severity": ["critical", "error", "escalation"]})
        for name, value in {
            "STATE_TABLE_NAME": self.state_table,
            "SCORE_TABLE_NAME": self.score_table,
            "ALERT_TOPIC_ARN": self.topic,
            "RETRAIN_QUEUE_URL": self.queue,
            "EVENT_BUS_NAME": self.bus,
            "CONFIG_PARAMETER_NAME": self.parameter,
            "CONFIG_MAX_AGE_SECONDS": "0",
            "TICK_MINUTES": "60",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "RetrainTrigger",
            "POWERTOOLS_SERVICE_NAME": "retrain-trigger",
        }.items():
            monkeypatch.setenv(name, value)
        wiring.reset()
        self.evaluator = load_handler("evaluator")
        self.lifecycle = load_handler("lifecycle")

    def subscribe(self, filter_policy: dict[str, list[str]]) -> str:
        sqs = aws_client("sqs")
        url: str = sqs.create_queue(QueueName=f"oncall-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        aws_client("sns").subscribe(
            TopicArn=self.topic,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"FilterPolicy": json.dumps(filter_policy)},
        )
        return url

    def score(self, monitor_id: str, at: str, value: Any, **metrics: Any) -> None:
        item = {"monitor_id": {"S": monitor_id}, "timestamp": {"S": at}}
        item["drift_score"] = {"N": str(value)} if isinstance(value, float | Decimal) else {"S": str(value)}
        for name, metric in metrics.items():
            item[name] = {"N": str(metric)}
        aws_client("dynamodb").put_item(TableName=self.score_table, Item=item)

    def configure(self, document: dict[str, Any]) -> None:
        aws_client("ssm").put_parameter(Name=self.parameter, Value=json.dumps(document), Type="String", Overwrite=True)

    def tick(self, at: str = TICK) -> dict[str, Any]:
        result: dict[str, Any] = self.evaluator.lambda_handler(event("scheduled.json", time=at), context())
        return result

    def executions(self) -> list[dict[str, Any]]:
        summaries: list[dict[str, Any]] = aws_client("sagemaker").list_pipeline_executions(PipelineName=PIPELINE)[
            "PipelineExecutionSummaries"
        ]
        return summaries

    def state_item(self, monitor_id: str = "churn-model") -> dict[str, Any]:
        item: dict[str, Any] = aws_client("dynamodb").get_item(
            TableName=self.state_table, Key={"pk": {"S": f"monitor#{monitor_id}"}, "sk": {"S": "state"}}
        )["Item"]
        return item

    def alerts(self, queue: str | None = None) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in drain(aws_client("sqs"), queue or self.oncall)]
