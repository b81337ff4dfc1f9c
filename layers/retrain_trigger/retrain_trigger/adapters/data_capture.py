"""S3 objects under a prefix (SageMaker data capture, CSV) for the ScoreFunction, and its score item's write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from retrain_trigger.adapters.clients import aws_client, translated
from retrain_trigger_drift.ports import DataObject


class S3DataStore:
    """Lists with ListObjectsV2 (paginated) and streams objects line by line, so a large file is never in memory."""

    def __init__(self, client: Any | None = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or aws_client("s3")

    def objects(self, bucket: str, prefix: str) -> list[DataObject]:
        found: list[DataObject] = []
        with translated(f"s3 ListObjectsV2 s3://{bucket}/{prefix}"):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                found.extend(DataObject(o["Key"], o["LastModified"], o["Size"]) for o in page.get("Contents", []))
        return found

    def lines(self, bucket: str, key: str) -> Iterator[bytes]:
        with translated(f"s3 GetObject s3://{bucket}/{key}"):
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
            if key.endswith(".gz"):
                import gzip  # noqa: PLC0415 - rare

                yield from gzip.GzipFile(fileobj=body)
            else:
                yield from body.iter_lines()

    def read(self, bucket: str, key: str) -> bytes:
        with translated(f"s3 GetObject s3://{bucket}/{key}"):
            data: bytes = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return data


class ScoreTableWriter:
    """One PutItem: the item's key is (monitor_id, the run's scheduled time), so a retried run overwrites itself."""

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self._client = client

    def put(self, item: dict[str, Any]) -> None:
        from boto3.dynamodb.types import TypeSerializer  # noqa: PLC0415

        serializer = TypeSerializer()
        client = self._client or aws_client("dynamodb")
        with translated(f"dynamodb PutItem {self.table_name}"):
            client.put_item(TableName=self.table_name, Item={k: serializer.serialize(v) for k, v in item.items()})
