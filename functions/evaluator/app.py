"""Evaluator: on each scheduled tick, decide every due monitor and act once per episode."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain_trigger.events import ScheduledTick, parse_event
from retrain_trigger.service import evaluate_due_monitors
from retrain_trigger.telemetry import record_report
from retrain_trigger.wiring import default_deps

logger = Logger()
metrics = Metrics()
tracer = Tracer()


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    tick = parse_event(event, ScheduledTick)  # BadInput names the field of a malformed event
    report = evaluate_due_monitors(now=tick.time, deps=default_deps(owner=context.aws_request_id))
    record_report(report, logger, metrics)
    return report.as_dict()
