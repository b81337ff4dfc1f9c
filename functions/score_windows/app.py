"""Score windows: the score table's stream, merged into one item per monitor holding its latest datapoints."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain_trigger.wiring import score_window_writer

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records", [])
    failed = score_window_writer().apply(records)  # idempotent: a retried batch changes nothing
    if failed:
        logger.warning("windows not written; the stream retries them", extra={"records": len(failed)})
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}
