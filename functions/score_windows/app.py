"""Score windows: the score table's stream, merged into one item per monitor holding its latest datapoints. A score
item whose timestamp the evaluator could not read in its place is refused here, as it enters: logged, counted and
alerted (once per item)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain_trigger.wiring import score_window_writer

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    writer = score_window_writer()
    failed = writer.apply(event.get("Records", []))  # idempotent: a retried batch changes nothing
    for item in writer.refused:
        logger.error("score item refused", extra={"item_key": item.key, **item.error.as_dict()})
        metrics.add_metric(name="BadScoreItems", unit=MetricUnit.Count, value=1)
    if failed:
        logger.warning("windows not written; the stream retries them", extra={"records": len(failed)})
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}
