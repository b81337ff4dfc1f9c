"""The shard queue (SQS, standard): a tick too large for one invocation sends its shards here, and the evaluator
consumes them. SendMessageBatch: 10 messages and 256 KiB a call."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from retrain_trigger.adapters.clients import aws_client, translated
from retrain_trigger.errors import RetryableError
from retrain_trigger.ports import Shard
from retrain_trigger.shards import encode

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

MAX_ENTRIES = 10
MAX_BATCH_BYTES = 256 * 1024


def _batches(bodies: Sequence[str]) -> Iterator[list[tuple[int, str]]]:
    batch: list[tuple[int, str]] = []
    size = 0
    for index, body in enumerate(bodies):
        length = len(body.encode())
        if batch and (len(batch) == MAX_ENTRIES or size + length > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append((index, body))
        size += length
    if batch:
        yield batch


class SqsShardQueue:
    """ports.ShardQueue on the template's ShardQueue."""

    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            self._client = aws_client("sqs")
        return self._client

    def send(self, shards: Sequence[Shard]) -> None:
        for batch in _batches([encode(shard) for shard in shards]):
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": str(index), "MessageBody": body} for index, body in batch
            ]
            with translated(f"SendMessageBatch to {self.queue_url}"):
                response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            if failed := response.get("Failed", []):
                codes = ", ".join(sorted({str(f.get("Code", "?")) for f in failed}))
                raise RetryableError(f"SendMessageBatch to {self.queue_url}: {len(failed)} shards not sent ({codes})")
