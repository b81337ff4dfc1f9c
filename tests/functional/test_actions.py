"""The action gateway on moto: what subscribers, queue consumers, pipelines and bus rules actually receive."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from retrain_trigger.adapters.actions import AwsActionGateway, sns_subject
from retrain_trigger.adapters.clients import aws_client
from retrain_trigger.errors import DependencyError, RetryableError
from retrain_trigger.model import token
from retrain_trigger.ports import Alert, BusEvent, PipelineStart, QueueMessage
from tests.support.resources import REGION

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

    from tests.functional.conftest import RecordCalls

PIPELINE = "churn-model-retraining"


@pytest.fixture
def gateway(
    alert_topic: str,
    retrain_queue: str,
    event_bus: str,
    sns: SNSClient,
    sqs: SQSClient,
    sagemaker: SageMakerClient,
    events: EventBridgeClient,
) -> AwsActionGateway:
    return AwsActionGateway(alert_topic, retrain_queue, event_bus, sns=sns, sqs=sqs, sagemaker=sagemaker, events=events)


def alert(severity: str, subject: str = "churn: drift 0.31 >= 0.2", **attributes: str) -> Alert:
    return Alert(
        subject=subject,
        text=f"[{severity}] churn drift score 0.31",
        payload={"monitor_id": "churn", "severity": severity, "score": 0.31},
        attributes={"severity": severity, "monitor_id": "churn", **attributes},
    )


def request(key: str, body: dict[str, Any] | None = None) -> QueueMessage:
    return QueueMessage(
        body=body or {"monitor_id": "churn", "episode_id": "churn@20240809T000000Z", "attempt": 1},
        group_id="churn",
        deduplication_id=token(key),
        attributes={"monitor_id": "churn", "event": "retrain_started"},
    )


def queue_subscribed_to(sns: SNSClient, sqs: SQSClient, topic_arn: str, **attributes: str) -> str:
    url = sqs.create_queue(QueueName="alert-subscriber")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
    return url


def receive_all(sqs: SQSClient, url: str) -> list[MessageTypeDef]:
    response = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"]
    )
    return list(response.get("Messages", []))


# -- SNS ----------------------------------------------------------------------------------------------------------


def test_subscriber_filter_policy_receives_only_critical_alerts(
    gateway: AwsActionGateway, sns: SNSClient, sqs: SQSClient, alert_topic: str
) -> None:
    inbox = queue_subscribed_to(sns, sqs, alert_topic, FilterPolicy=json.dumps({"severity": ["critical"]}))

    gateway.publish_alert(alert("warning"))
    message_id = gateway.publish_alert(alert("critical"))

    (received,) = receive_all(sqs, inbox)
    envelope = json.loads(received["Body"])
    assert envelope["MessageId"] == message_id
    assert envelope["MessageAttributes"]["severity"] == {"Type": "String", "Value": "critical"}
    # An SQS subscriber gets the machine-readable payload, not the e-mail text.
    assert json.loads(envelope["Message"]) == {"monitor_id": "churn", "severity": "critical", "score": 0.31}


def test_email_subject_is_one_printable_ascii_line_under_100_characters(
    gateway: AwsActionGateway, sns: SNSClient, sqs: SQSClient, alert_topic: str
) -> None:
    inbox = queue_subscribed_to(sns, sqs, alert_topic)
    subject = "Drift détectée — churn\nscore 0.31 ≥ 0.2 " + "x" * 200

    gateway.publish_alert(alert("critical", subject=subject))

    (received,) = receive_all(sqs, inbox)
    sent = json.loads(received["Body"])["Subject"]
    assert sent == sns_subject(subject)
    assert sent.startswith("Drift detectee churn score 0.31 0.2 xxx")
    assert len(sent) < 100
    assert sent.isascii() and sent.isprintable()


def test_empty_attribute_values_are_left_out(
    gateway: AwsActionGateway, sns: SNSClient, sqs: SQSClient, alert_topic: str
) -> None:
    inbox = queue_subscribed_to(sns, sqs, alert_topic)

    gateway.publish_alert(alert("critical", execution_arn=""))

    (received,) = receive_all(sqs, inbox)
    assert set(json.loads(received["Body"])["MessageAttributes"]) == {"severity", "monitor_id"}


def test_throttled_publish_is_a_retryable_error() -> None:
    client = boto3.client("sns", region_name=REGION, config=Config(retries={"max_attempts": 1}))
    gateway = AwsActionGateway("arn:aws:sns:us-east-1:123456789012:alerts", "", "", sns=client)
    with Stubber(client) as stub:
        stub.add_client_error("publish", "Throttling", http_status_code=400)

        with pytest.raises(RetryableError, match="Throttling"):
            gateway.publish_alert(alert("critical"))


def test_publishing_to_a_missing_topic_is_a_dependency_error(sns: SNSClient) -> None:
    gateway = AwsActionGateway("arn:aws:sns:us-east-1:123456789012:nope", "", "", sns=sns)

    with pytest.raises(DependencyError, match="NotFound"):
        gateway.publish_alert(alert("critical"))


# -- SQS ----------------------------------------------------------------------------------------------------------


def test_fifo_queue_drops_a_duplicate_request_with_the_same_key(
    gateway: AwsActionGateway, sqs: SQSClient, retrain_queue: str
) -> None:
    first = gateway.send_retrain_request(request("churn@20240809T000000Z#1:retrain_started"))
    gateway.send_retrain_request(request("churn@20240809T000000Z#1:retrain_started"))

    (received,) = receive_all(sqs, retrain_queue)
    assert received["MessageId"] == first
    assert json.loads(received["Body"]) == {"monitor_id": "churn", "episode_id": "churn@20240809T000000Z", "attempt": 1}
    assert received["Attributes"]["MessageGroupId"] == "churn"
    assert received["MessageAttributes"]["event"]["StringValue"] == "retrain_started"


def test_fifo_queue_keeps_two_retrainings_with_identical_bodies(
    gateway: AwsActionGateway, sqs: SQSClient, retrain_queue: str
) -> None:
    gateway.send_retrain_request(request("churn@20240809T000000Z#1:retrain_started"))
    gateway.send_retrain_request(request("churn@20240809T000000Z#2:retrain_started"))

    assert len(receive_all(sqs, retrain_queue)) == 2


def test_a_standard_queue_gets_no_fifo_ids(
    sqs: SQSClient, record_calls: RecordCalls, alert_topic: str, event_bus: str
) -> None:
    url = sqs.create_queue(QueueName="standard-retrain")["QueueUrl"]
    calls = record_calls(sqs, "SendMessage")

    AwsActionGateway(alert_topic, url, event_bus, sqs=sqs).send_retrain_request(request("k"))

    assert "MessageGroupId" not in calls[0]
    assert "MessageDeduplicationId" not in calls[0]
    assert len(receive_all(sqs, url)) == 1


# -- SageMaker ----------------------------------------------------------------------------------------------------


def create_pipeline(sagemaker: SageMakerClient) -> None:
    sagemaker.create_pipeline(
        PipelineName=PIPELINE,
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": []}),
        RoleArn="arn:aws:iam::123456789012:role/sagemaker",
        ClientRequestToken=token("create churn-model-retraining"),
    )


def test_start_pipeline_passes_parameters_and_returns_the_execution_arn(
    gateway: AwsActionGateway, sagemaker: SageMakerClient
) -> None:
    create_pipeline(sagemaker)

    arn = gateway.start_pipeline(
        PipelineStart(
            pipeline_name=PIPELINE,
            parameters={"MonitorId": "churn", "TriggerScore": "0.31"},
            client_request_token=token("churn@20240809T000000Z#1:retrain_started"),
            display_name="churn@20240809T000000Z#1",
            description="drift 0.31 > critical 0.2",
        )
    )

    execution = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
    parameters = sagemaker.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"]
    assert f":pipeline/{PIPELINE}/execution/" in arn
    assert parameters == [{"Name": "MonitorId", "Value": "churn"}, {"Name": "TriggerScore", "Value": "0.31"}]
    # SageMaker allows only letters, digits and dashes in a display name.
    assert execution["PipelineExecutionDisplayName"] == "churn-20240809T000000Z-1"
    assert execution["PipelineExecutionDescription"] == "drift 0.31 > critical 0.2"


def test_starting_an_unknown_pipeline_is_a_dependency_error(gateway: AwsActionGateway) -> None:
    start = PipelineStart("no-such-pipeline", {}, token("k"), "churn", "")

    with pytest.raises(DependencyError, match="StartPipelineExecution of no-such-pipeline"):
        gateway.start_pipeline(start)


# -- EventBridge --------------------------------------------------------------------------------------------------


def test_put_event_reaches_a_rule_on_the_project_bus(
    gateway: AwsActionGateway, events: EventBridgeClient, sqs: SQSClient, event_bus: str
) -> None:
    url = sqs.create_queue(QueueName="bus-listener")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["retrain-trigger"], "detail-type": ["Retraining Requested"]}
    events.put_rule(Name="listen", EventBusName=event_bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="listen", EventBusName=event_bus, Targets=[{"Id": "queue", "Arn": arn}])

    event_id = gateway.put_event(
        BusEvent("Retraining Requested", {"monitor_id": "churn", "attempt": 1}, resources=("arn:aws:x",))
    )
    gateway.put_event(BusEvent("Drift Warning", {"monitor_id": "churn"}))

    (received,) = receive_all(sqs, url)
    delivered = json.loads(received["Body"])
    assert delivered["id"] == event_id
    assert delivered["detail"] == {"monitor_id": "churn", "attempt": 1}
    assert delivered["resources"] == ["arn:aws:x"]


def test_a_rejected_event_entry_is_a_dependency_error(gateway: AwsActionGateway) -> None:
    with pytest.raises(DependencyError, match="InvalidArgument"):
        gateway.put_event(BusEvent("", {"monitor_id": "churn"}))


def test_a_throttled_event_entry_is_a_retryable_error() -> None:
    client = boto3.client("events", region_name=REGION, config=Config(retries={"max_attempts": 1}))
    gateway = AwsActionGateway("", "", "bus", events=client)
    with Stubber(client) as stub:
        stub.add_response(
            "put_events",
            {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}]},
        )

        with pytest.raises(RetryableError, match="ThrottlingException"):
            gateway.put_event(BusEvent("Retraining Requested", {"monitor_id": "churn"}))


# -- clients --------------------------------------------------------------------------------------------------------


def test_clients_are_created_on_first_use_not_on_construction(aws: None, alert_topic: str) -> None:
    aws_client.cache_clear()
    gateway = AwsActionGateway(alert_topic, "", "")
    assert aws_client.cache_info().currsize == 0

    gateway.publish_alert(alert("critical"))

    assert aws_client.cache_info().currsize == 1
