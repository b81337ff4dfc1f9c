"""Evaluator: on each scheduled tick, decide every due monitor and act once per episode; a tick too large for one
invocation is sent as shards to the shard queue, which this same function consumes (partial batch failures)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain_trigger import shards
from retrain_trigger.events import ScheduledTick, parse_event
from retrain_trigger.service import evaluate_due_monitors, evaluate_shard
from retrain_trigger.telemetry import record_report
from retrain_trigger.tracing import traced
from retrain_trigger.wiring import default_deps

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@traced  # the X-Ray SDK only when tracing is on, after import (see tracing.py)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps = default_deps(owner=context.aws_request_id)
    if "Records" in event:  # shards from the queue: a failed shard is retried alone, then dead-lettered
        # ~80 ms of imports a scheduled tick never needs
        from aws_lambda_powertools.utilities.batch import (  # noqa: PLC0415
            BatchProcessor,
            EventType,
            process_partial_response,
        )

        def shard(record: Any) -> dict[str, Any]:
            report = evaluate_shard(shards.decode(record.body), deps)
            record_report(report, logger, metrics)
            return report.as_dict()

        processor = BatchProcessor(event_type=EventType.SQS)
        return dict(process_partial_response(event=event, record_handler=shard, processor=processor, context=context))
    tick = parse_event(event, ScheduledTick)  # BadInput names the field of a malformed event
    report = evaluate_due_monitors(now=tick.time, deps=deps)
    record_report(report, logger, metrics)
    return report.as_dict()
