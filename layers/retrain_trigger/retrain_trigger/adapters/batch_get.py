"""DynamoDB's BatchGetItem as the adapters use it: strongly consistent, unprocessed keys asked again with back-off."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from retrain_trigger.adapters.clients import translated
from retrain_trigger.errors import RetryableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

BATCH_GET_LIMIT = 100  # DynamoDB's maximum keys per BatchGetItem
UNPROCESSED_ATTEMPTS = 6


def batch_get_items(
    client: DynamoDBClient,
    table: str,
    keys: Sequence[Mapping[str, AttributeValueTypeDef]],
    sleep: Callable[[float], None],
) -> list[dict[str, AttributeValueTypeDef]]:
    """The items of up to 100 keys. UnprocessedKeys is DynamoDB shedding load: back off (with jitter, as concurrent
    ticks share the table) before asking again; RetryableError if keys are still unprocessed after that."""
    items: list[dict[str, AttributeValueTypeDef]] = []
    for attempt in range(UNPROCESSED_ATTEMPTS):
        if attempt:
            sleep(random.uniform(0, min(0.05 * 2**attempt, 1.0)))
        with translated(f"BatchGetItem on {table}"):
            response = client.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": True}})
        items.extend(response.get("Responses", {}).get(table, []))
        unprocessed = response.get("UnprocessedKeys", {}).get(table)
        keys = unprocessed["Keys"] if unprocessed else []
        if not keys:
            return items
    raise RetryableError(f"BatchGetItem on {table}: {len(keys)} keys still unprocessed after backoff")
