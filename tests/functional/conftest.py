"""Fixtures for the functional tests: fake credentials, moto's mock_aws, clients, and the stack's resources
built from template.yaml (see tests/support/resources.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from retrain_trigger import wiring
from retrain_trigger.adapters.clients import CLIENT_CONFIG, forget_clients
from retrain_trigger_local.deploy import StackInfo
from tests.support import resources
from tests.support.stacks import Deploy, deployer
from tests.support.world import World

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, so no test can reach a real account."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", resources.REGION)
    monkeypatch.setenv("AWS_REGION", resources.REGION)


@pytest.fixture
def aws() -> Iterator[None]:
    """moto's mock_aws; the process-wide clients are dropped around it so no test inherits another's hooks."""
    forget_clients()
    with mock_aws():
        yield
    forget_clients()


@pytest.fixture
def ddb(aws: None) -> DynamoDBClient:
    return boto3.client("dynamodb", region_name=resources.REGION, config=CLIENT_CONFIG)


@pytest.fixture
def sns(aws: None) -> SNSClient:
    return boto3.client("sns", region_name=resources.REGION, config=CLIENT_CONFIG)


@pytest.fixture
def sqs(aws: None) -> SQSClient:
    return boto3.client("sqs", region_name=resources.REGION, config=CLIENT_CONFIG)


@pytest.fixture
def cloudwatch(aws: None) -> CloudWatchClient:
    return boto3.client("cloudwatch", region_name=resources.REGION, config=CLIENT_CONFIG)


@pytest.fixture
def events(aws: None) -> EventBridgeClient:
    return boto3.client("events", region_name=resources.REGION, config=CLIENT_CONFIG)


@pytest.fixture
def sagemaker(aws: None) -> SageMakerClient:
    return boto3.client("sagemaker", region_name=resources.REGION, config=CLIENT_CONFIG)


@pytest.fixture
def ssm(aws: None) -> SSMClient:
    return boto3.client("ssm", region_name=resources.REGION, config=CLIENT_CONFIG)


@pytest.fixture
def state_table(ddb: DynamoDBClient) -> str:
    return resources.create_state_table(ddb)


@pytest.fixture
def score_table(ddb: DynamoDBClient) -> str:
    return resources.create_score_table(ddb)


@pytest.fixture
def alert_topic(sns: SNSClient) -> str:
    return resources.create_topic(sns, "AlertTopic")


@pytest.fixture
def retrain_queue(sqs: SQSClient) -> str:
    return resources.create_queue(sqs, "RetrainQueue")


@pytest.fixture
def event_bus(events: EventBridgeClient) -> str:
    return resources.create_event_bus(events)


RecordCalls = Callable[[Any, str], list[dict[str, Any]]]


@pytest.fixture
def record_calls() -> RecordCalls:
    """record_calls(client, "BatchGetItem"): the parameters of every such call the client makes from then on.
    A botocore event hook on the real (moto-backed) client, so the calls still happen."""

    def record(client: Any, operation: str) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = []
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(
            f"provide-client-params.{service}.{operation}", lambda params, **_: calls.append(dict(params))
        )
        return calls

    return record


@pytest.fixture
def world(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The stack's resources from template.yaml, the user's pipeline, and the handlers wired to them."""
    yield World(monkeypatch)
    wiring.reset()


@pytest.fixture
def deploy(aws: None) -> Deploy:
    """deploy(**parameters): the stack of template.yaml created in moto with those parameter overrides."""
    return deployer()


@pytest.fixture
def stack(deploy: Deploy) -> StackInfo:
    """The stack of template.yaml with its parameters' defaults, created in moto."""
    return deploy()
