"""Evaluator: on each scheduled tick, decide every due monitor and act once per episode; a tick too large for one
invocation is sent as shards to the shard queue, which this same function consumes (partial batch failures).

Only Powertools' Logger and Metrics load with the module: the domain (its pydantic models, ~80 ms) loads on the first
invocation, the batch utility (~80 ms) only for shards, and the X-Ray SDK (~130 ms) only when tracing is on.
"""
# ruff: noqa: PLC0415 - the imports inside the functions are the point (see above)

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain_trigger.tracing import traced

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from retrain_trigger.events import ScheduledTick, parse_event
    from retrain_trigger.service import evaluate_due_monitors
    from retrain_trigger.telemetry import record_report
    from retrain_trigger.wiring import default_deps

    if "Records" in event:
        return _shards(event, context)
    tick = parse_event(event, ScheduledTick)  # BadInput names the field of a malformed event
    report = evaluate_due_monitors(now=tick.time, deps=default_deps(owner=context.aws_request_id))
    record_report(report, logger, metrics)
    return report.as_dict()


def _shards(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Shards from the queue: each its own record; a failed one is retried alone, then dead-lettered."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    from retrain_trigger import shards
    from retrain_trigger.service import evaluate_shard
    from retrain_trigger.telemetry import record_report
    from retrain_trigger.wiring import default_deps

    def evaluate(record: Any) -> dict[str, Any]:
        report = evaluate_shard(shards.decode(record.body), default_deps(owner=context.aws_request_id))
        record_report(report, logger, metrics)
        return report.as_dict()

    processor = BatchProcessor(event_type=EventType.SQS)
    return dict(process_partial_response(event=event, record_handler=evaluate, processor=processor, context=context))
