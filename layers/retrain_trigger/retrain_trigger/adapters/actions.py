"""The side effects of a transition: an SNS alert, an SQS retraining request, a SageMaker pipeline, a bus event.

Each call carries the episode's key where the service can deduplicate on it (FIFO dedup id, ClientRequestToken).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from retrain_trigger.adapters.clients import aws_client, is_retryable_code, translated
from retrain_trigger.errors import DependencyError, RetryableError
from retrain_trigger.model import PipelineStatus
from retrain_trigger.ports import Alert, BusEvent, PipelineStart, QueueMessage

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef as SnsAttributeTypeDef
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef as SqsAttributeTypeDef

SUBJECT_MAX = 99  # SNS: "less than 100 characters", ASCII, no line breaks or control characters
DISPLAY_NAME_MAX = 82  # SageMaker PipelineExecutionDisplayName: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}
DESCRIPTION_MAX = 3072
LIST_PAGE = 100  # ListPipelineExecutions' largest page


def sns_subject(text: str) -> str:
    """`text` as SNS accepts a Subject: printable ASCII on one line, under 100 characters ('' if nothing is left)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    one_line = " ".join("".join(c if c.isprintable() else " " for c in ascii_text).split())
    return one_line[:SUBJECT_MAX].rstrip()


def display_name(text: str) -> str:
    """`text` as a PipelineExecutionDisplayName: letters and digits joined by single dashes, at most 82 long."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:DISPLAY_NAME_MAX].rstrip("-")
    return name or "retrain"


def _described_key(description: str | None) -> str | None:
    try:
        value = json.loads(description or "")
    except ValueError:
        return None
    return str(value.get("idempotency_key")) if isinstance(value, dict) else None


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _string_attributes(attributes: Mapping[str, str]) -> dict[str, Any]:
    # Both services reject an empty StringValue, and an absent attribute filters the same as an empty one.
    return {name: {"DataType": "String", "StringValue": value} for name, value in attributes.items() if value}


class AwsActionGateway:
    """ports.ActionGateway on SNS, SQS, SageMaker Pipelines and EventBridge. Every call returns what it created."""

    def __init__(
        self,
        topic_arn: str,
        queue_url: str,
        bus_name: str,
        event_source: str = "retrain-trigger",
        sns: SNSClient | None = None,
        sqs: SQSClient | None = None,
        sagemaker: SageMakerClient | None = None,
        events: EventBridgeClient | None = None,
    ) -> None:
        self.topic_arn = topic_arn
        self.queue_url = queue_url
        self.bus_name = bus_name
        self.event_source = event_source
        self._sns = sns
        self._sqs = sqs
        self._sagemaker = sagemaker
        self._events = events

    @property
    def sns(self) -> SNSClient:
        if self._sns is None:
            self._sns = aws_client("sns")
        return self._sns

    @property
    def sqs(self) -> SQSClient:
        if self._sqs is None:
            self._sqs = aws_client("sqs")
        return self._sqs

    @property
    def sagemaker(self) -> SageMakerClient:
        if self._sagemaker is None:
            self._sagemaker = aws_client("sagemaker")
        return self._sagemaker

    @property
    def events(self) -> EventBridgeClient:
        if self._events is None:
            self._events = aws_client("events")
        return self._events

    def publish_alert(self, alert: Alert) -> str:
        """One message per protocol: the text for email, the payload as JSON for SQS and Lambda. Returns MessageId."""
        payload = _json(alert.payload)
        message = json.dumps({"default": alert.text, "email": alert.text, "sqs": payload, "lambda": payload})
        attributes: dict[str, SnsAttributeTypeDef] = _string_attributes(alert.attributes)
        subject = sns_subject(alert.subject)
        with translated(f"Publish to {self.topic_arn}"):
            if subject:
                response = self.sns.publish(
                    TopicArn=self.topic_arn,
                    MessageStructure="json",
                    Message=message,
                    Subject=subject,
                    MessageAttributes=attributes,
                )
            else:
                response = self.sns.publish(
                    TopicArn=self.topic_arn, MessageStructure="json", Message=message, MessageAttributes=attributes
                )
        return response["MessageId"]

    def send_retrain_request(self, message: QueueMessage) -> str:
        """SendMessage; on a FIFO queue the group and deduplication ids make a repeated request a no-op."""
        attributes: dict[str, SqsAttributeTypeDef] = _string_attributes(message.attributes)
        with translated(f"SendMessage to {self.queue_url}"):
            if self.queue_url.endswith(".fifo"):
                response = self.sqs.send_message(
                    QueueUrl=self.queue_url,
                    MessageBody=_json(message.body),
                    MessageAttributes=attributes,
                    MessageGroupId=message.group_id,
                    MessageDeduplicationId=message.deduplication_id,
                )
            else:
                response = self.sqs.send_message(
                    QueueUrl=self.queue_url, MessageBody=_json(message.body), MessageAttributes=attributes
                )
        return response["MessageId"]

    def start_pipeline(self, start: PipelineStart) -> str:
        """StartPipelineExecution, idempotent on ClientRequestToken. Returns the PipelineExecutionArn."""
        with translated(f"StartPipelineExecution of {start.pipeline_name}"):
            response = self.sagemaker.start_pipeline_execution(
                PipelineName=start.pipeline_name,
                PipelineParameters=[{"Name": name, "Value": value} for name, value in start.parameters.items()],
                ClientRequestToken=start.client_request_token,
                PipelineExecutionDisplayName=display_name(start.display_name),
                PipelineExecutionDescription=start.description[:DESCRIPTION_MAX],
            )
        return response["PipelineExecutionArn"]

    def pipeline_status(self, execution_arn: str) -> PipelineStatus | None:
        """DescribePipelineExecution's PipelineExecutionStatus, asked before a retraining is declared timed out."""
        with translated(f"DescribePipelineExecution of {execution_arn}"):
            response = self.sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        return PipelineStatus.read(response.get("PipelineExecutionStatus"))

    def find_pipeline_execution(self, pipeline_name: str, idempotency_key: str, not_before: datetime) -> str | None:
        """The execution whose description carries the key: how a start whose outcome was never recorded is told
        apart from one that never happened. Newest first, page after page, until the executions are older than
        `not_before` (the start cannot be): no fixed cap, which a busy shared pipeline could push the start past."""
        with translated(f"ListPipelineExecutions of {pipeline_name}"):
            pages = self.sagemaker.get_paginator("list_pipeline_executions").paginate(
                PipelineName=pipeline_name,
                SortBy="CreationTime",
                SortOrder="Descending",
                PaginationConfig={"PageSize": LIST_PAGE},
            )
            for page in pages:
                for summary in page.get("PipelineExecutionSummaries", []):
                    if _described_key(summary.get("PipelineExecutionDescription")) == idempotency_key:
                        return str(summary["PipelineExecutionArn"])
                    # Sorted by creation: a summary's StartTime is never before its creation, so every later
                    # summary was created before `not_before` too.
                    started = summary.get("StartTime")
                    if started is not None and started < not_before:
                        return None
        return None

    def put_event(self, event: BusEvent) -> str:
        """PutEvents with one entry; a rejected entry raises like a failed call would. Returns the EventId."""
        with translated(f"PutEvents to {self.bus_name}"):
            response = self.events.put_events(
                Entries=[
                    {
                        "Source": self.event_source,
                        "DetailType": event.detail_type,
                        "Detail": _json(event.detail),
                        "EventBusName": self.bus_name,
                        "Resources": list(event.resources),
                    }
                ]
            )
        entry = response["Entries"][0] if response.get("Entries") else {}
        if response.get("FailedEntryCount", 0) or "EventId" not in entry:
            code = entry.get("ErrorCode", "Unknown")
            text = f"PutEvents to {self.bus_name} rejected the event: {code}: {entry.get('ErrorMessage', '')}"
            raise RetryableError(text) if is_retryable_code(code) else DependencyError(text)
        return entry["EventId"]
