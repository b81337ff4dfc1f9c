"""The IngestFunction's (and `retrain-trigger ingest --write`'s) AWS side: the detector's file from S3, and its score
items into the score table with BatchWriteItem."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from retrain_trigger.adapters.clients import aws_client, translated
from retrain_trigger.errors import RetryableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

BATCH = 25  # BatchWriteItem's largest request
UNPROCESSED_ROUNDS = 5


class S3ObjectStore:
    def __init__(self, client: S3Client | None = None) -> None:
        self._client = client

    def read(self, bucket: str, key: str) -> bytes:
        client = self._client or aws_client("s3")
        with translated(f"s3 GetObject s3://{bucket}/{key}"):
            data: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return data


class BatchScoreWriter:
    """Puts the items 25 a request, retrying the unprocessed ones with backoff. A put of an item whose key exists
    replaces it, so writing a file again (a retried Lambda, a re-upload) leaves the table as one write did."""

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._sleep = sleep

    def write(self, items: Sequence[dict[str, Any]]) -> int:
        from boto3.dynamodb.types import TypeSerializer  # noqa: PLC0415 - boto3's, loaded on first write

        serializer = TypeSerializer()
        client = self._client or aws_client("dynamodb")
        for start in range(0, len(items), BATCH):
            requests: list[Any] = [
                {"PutRequest": {"Item": {k: serializer.serialize(v) for k, v in item.items()}}}
                for item in items[start : start + BATCH]
            ]
            for attempt in range(UNPROCESSED_ROUNDS + 1):
                with translated(f"dynamodb BatchWriteItem {self.table_name}"):
                    response = client.batch_write_item(RequestItems={self.table_name: requests})
                requests = list(response.get("UnprocessedItems", {}).get(self.table_name, []))
                if not requests:
                    break
                if attempt == UNPROCESSED_ROUNDS:
                    raise RetryableError(
                        f"dynamodb BatchWriteItem {self.table_name}: {len(requests)} item(s) still unprocessed after "
                        f"{UNPROCESSED_ROUNDS} retries; writing the file again completes it (same items, same keys)"
                    )
                self._sleep(0.05 * 2**attempt)
        return len(items)
