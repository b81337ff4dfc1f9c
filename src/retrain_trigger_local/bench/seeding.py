"""Seeding the bench's world on the moto server, before any measuring: tables from template.yaml's own properties,
the configuration in S3, one score per monitor, the topic, queues and bus, and (DynamoDB source, where the build
has them) the score windows delivered by the real consumer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import boto3

from retrain_trigger_local.bench.scenario import (
    BUS,
    CONFIG_BUCKET,
    CONFIG_KEY,
    FLEET_CONFIG_KEY,
    NAIVE_STATE_TABLE,
    NAMESPACE,
    QUEUE,
    SCORE_TABLE,
    SCORES_AT,
    SHARD_QUEUE,
    STATE_TABLE,
    TOPIC,
    Source,
    World,
    catalog_document,
    fleet_document,
    metric_name,
    monitor_id,
    score,
)
from retrain_trigger_local.bench.windows import deliver, enable_stream, windows_available
from retrain_trigger_local.runtime import DUMMY_CREDENTIALS, REGION

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _session() -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=DUMMY_CREDENTIALS["aws_secret_access_key"],
        region_name=REGION,
    )


def _create_table(dynamodb: DynamoDBClient, name: str, logical_id: str) -> None:
    from retrain_trigger_local.template import resource_properties  # noqa: PLC0415 - yaml only where seeding

    props = resource_properties(logical_id)
    extra: dict[str, Any] = {}
    if "GlobalSecondaryIndexes" in props:
        extra["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    dynamodb.create_table(
        TableName=name,
        KeySchema=props["KeySchema"],
        AttributeDefinitions=props["AttributeDefinitions"],
        BillingMode=props["BillingMode"],
        **extra,
    )


def seed(
    endpoint: str,
    source: Source,
    indexes: Sequence[int],
    configured: Sequence[int] | None = None,
    shard_queue: bool = False,
) -> World:
    """Tables from template.yaml's own properties, the topic, queue and bus, the configuration of `configured`
    monitors (default: `indexes`), and one score for each of `indexes`, on an empty moto account (the caller resets
    the server between worlds). With `shard_queue`, the queue a too-large tick is sharded to."""
    session = _session()
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    for name, logical_id in (
        (STATE_TABLE, "StateTable"),
        (NAIVE_STATE_TABLE, "StateTable"),
        (SCORE_TABLE, "ScoreTable"),
    ):
        _create_table(dynamodb, name, logical_id)
    document = json.dumps(catalog_document(indexes if configured is None else configured, source))
    s3 = session.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=CONFIG_BUCKET)
    s3.put_object(Bucket=CONFIG_BUCKET, Key=CONFIG_KEY, Body=document.encode())
    fleet = json.dumps(fleet_document(indexes if configured is None else configured, source))
    s3.put_object(Bucket=CONFIG_BUCKET, Key=FLEET_CONFIG_KEY, Body=fleet.encode())
    windows = source == "dynamodb" and windows_available()
    if windows:
        enable_stream(dynamodb, SCORE_TABLE)  # before the scores: the consumer reads them from the stream
    if source == "dynamodb":
        _seed_score_items(dynamodb, indexes)
    else:
        _seed_metrics(session, endpoint, indexes)
    topic_arn = session.client("sns", endpoint_url=endpoint).create_topic(Name=TOPIC)["TopicArn"]
    queue_url = session.client("sqs", endpoint_url=endpoint).create_queue(
        QueueName=QUEUE, Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    session.client("events", endpoint_url=endpoint).create_event_bus(Name=BUS)
    shards = ""
    if shard_queue:
        shards = session.client("sqs", endpoint_url=endpoint).create_queue(QueueName=SHARD_QUEUE)["QueueUrl"]
    world = World(endpoint, source, tuple(indexes), topic_arn, queue_url, windows, shards)
    if windows:
        deliver(world)
    return world


def _seed_score_items(dynamodb: DynamoDBClient, indexes: Sequence[int]) -> None:
    """Plain score items, as producers write them."""
    stamp = SCORES_AT.strftime("%Y-%m-%dT%H:%M:%SZ")
    for start in range(0, len(indexes), 25):  # BatchWriteItem's limit
        dynamodb.batch_write_item(
            RequestItems={
                SCORE_TABLE: [
                    {
                        "PutRequest": {
                            "Item": {
                                "monitor_id": {"S": monitor_id(i)},
                                "timestamp": {"S": stamp},
                                "drift_score": {"N": str(score(i))},
                            }
                        }
                    }
                    for i in indexes[start : start + 25]
                ]
            }
        )


def _seed_metrics(session: boto3.session.Session, endpoint: str, indexes: Sequence[int]) -> None:
    cloudwatch = session.client("cloudwatch", endpoint_url=endpoint)
    for start in range(0, len(indexes), 1000):  # PutMetricData's limit of datums per call
        cloudwatch.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {"MetricName": metric_name(i), "Timestamp": SCORES_AT, "Value": score(i)}
                for i in indexes[start : start + 1000]
            ],
        )
