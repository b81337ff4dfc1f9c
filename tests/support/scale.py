"""The fleet-scale resources (config bucket, score window table, shard queue) built on moto FROM template.yaml, and
a World switched over to them. Kept apart from resources.py, which the other resources' tests share."""

from __future__ import annotations

from typing import Any

import pytest

from retrain_trigger import wiring
from retrain_trigger.adapters.clients import aws_client
from retrain_trigger_local.template import resource_properties
from tests.support import resources
from tests.support.world import World

BUCKET = f"{resources.STACK_NAME}-config"


def create_config_bucket(s3: Any, name: str = BUCKET) -> str:
    """The bucket with the template's versioning, encryption, public access block and ownership controls."""
    props = resources.resolve(resource_properties("ConfigBucket"))
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
    rules = [
        {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
        for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    ]
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
    return name


def config_key() -> str:
    return str(resources.parameter_defaults()["ConfigKey"])


def use_s3_config(world: World, monkeypatch: pytest.MonkeyPatch, document: str) -> tuple[str, str]:
    """Switch the world's handlers to CONFIG_SOURCE=s3 with `document` uploaded. Returns (bucket, key)."""
    s3 = aws_client("s3")
    bucket, key = create_config_bucket(s3), config_key()
    s3.put_object(Bucket=bucket, Key=key, Body=document.encode())
    for name, value in {"CONFIG_SOURCE": "s3", "CONFIG_BUCKET": bucket, "CONFIG_KEY": key}.items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    return bucket, key


# --- score windows: the score table's stream, read from moto as Lambda's event source mapping would -------------

STREAMS_ENDPOINT = f"https://streams.dynamodb.{resources.REGION}.amazonaws.com"  # moto answers this one, not botocore's
WINDOW_TABLE = f"{resources.STACK_NAME}-score-windows"


def create_window_table(ddb: Any, name: str = WINDOW_TABLE) -> str:
    return resources.create_table(ddb, "ScoreWindowTable", name)


def enable_score_stream(ddb: Any, score_table: str) -> str:
    """The template's StreamSpecification of ScoreTable on the (already created) table; returns the stream's ARN."""
    view = resource_properties("ScoreTable")["StreamSpecification"]["StreamViewType"]
    response = ddb.update_table(
        TableName=score_table, StreamSpecification={"StreamEnabled": True, "StreamViewType": view}
    )
    return str(response["TableDescription"]["LatestStreamArn"])


class ScoreStream:
    """The records of a table's stream, each shard read from its start, as event source mappings deliver them."""

    def __init__(self, stream_arn: str) -> None:
        import boto3  # noqa: PLC0415 - created under the test's mock_aws

        self.client = boto3.client("dynamodbstreams", region_name=resources.REGION, endpoint_url=STREAMS_ENDPOINT)
        self.arn = stream_arn
        self.iterators: dict[str, str] = {}

    def new_records(self) -> list[dict[str, Any]]:
        """The records written since the last call, in the Lambda event's shape."""
        records: list[dict[str, Any]] = []
        for shard in self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            iterator = (
                self.iterators.get(shard_id)
                or self.client.get_shard_iterator(
                    StreamArn=self.arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            )
            while True:  # GetRecords answers at most 1,000 records a call
                page = self.client.get_records(ShardIterator=iterator)
                iterator = self.iterators[shard_id] = page["NextShardIterator"]
                for record in page["Records"]:
                    stream = dict(record["dynamodb"])
                    stream["ApproximateCreationDateTime"] = stream["ApproximateCreationDateTime"].timestamp()
                    records.append({**record, "dynamodb": stream, "eventSourceARN": self.arn})
                if not page["Records"]:
                    break
        return records


def use_score_windows(world: World, monkeypatch: pytest.MonkeyPatch) -> ScoreStream:
    """Switch the world to score windows: the score table's stream, the window table, SCORE_WINDOW_TABLE_NAME."""
    ddb = aws_client("dynamodb")
    stream = ScoreStream(enable_score_stream(ddb, world.score_table))
    monkeypatch.setenv("SCORE_WINDOW_TABLE_NAME", create_window_table(ddb))
    wiring.reset()
    return stream
