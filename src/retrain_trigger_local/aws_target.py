"""Where a local stack goes: an in-process boto3 session under mock_aws, or the moto server's endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3

from retrain_trigger_local.runtime import DUMMY_CREDENTIALS, REGION

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient


@dataclass(frozen=True)
class AwsTarget:
    """A boto3 session and the endpoint its clients use (None: the default, which mock_aws intercepts)."""

    session: boto3.session.Session
    endpoint_url: str | None = None

    @classmethod
    def of(cls, session_or_endpoint: boto3.session.Session | str | None) -> AwsTarget:
        """A session is used as given; an endpoint URL (or None) gets us-east-1 and dummy credentials."""
        if isinstance(session_or_endpoint, boto3.session.Session):
            return cls(session_or_endpoint)
        session = boto3.session.Session(
            aws_access_key_id=DUMMY_CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=DUMMY_CREDENTIALS["aws_secret_access_key"],
            region_name=REGION,
        )
        return cls(session, session_or_endpoint)

    @property
    def region(self) -> str:
        return self.session.region_name or REGION

    def cloudformation(self) -> CloudFormationClient:
        return self.session.client("cloudformation", region_name=self.region, endpoint_url=self.endpoint_url)

    def s3(self) -> S3Client:
        return self.session.client("s3", region_name=self.region, endpoint_url=self.endpoint_url)

    def dynamodb(self) -> DynamoDBClient:
        return self.session.client("dynamodb", region_name=self.region, endpoint_url=self.endpoint_url)

    def sqs(self) -> SQSClient:
        return self.session.client("sqs", region_name=self.region, endpoint_url=self.endpoint_url)

    def cloudwatch(self) -> CloudWatchClient:
        return self.session.client("cloudwatch", region_name=self.region, endpoint_url=self.endpoint_url)

    def events(self) -> EventBridgeClient:
        return self.session.client("events", region_name=self.region, endpoint_url=self.endpoint_url)

    def awslambda(self) -> Any:  # Any: the dev extras install no boto3-stubs[lambda]
        return self.session.client("lambda", region_name=self.region, endpoint_url=self.endpoint_url)
