"""Lifecycle: a retraining's status (SageMaker or the project bus) or a deployment closes the loop."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain_trigger.events import lifecycle_event
from retrain_trigger.service import handle_lifecycle_event
from retrain_trigger.telemetry import record_result
from retrain_trigger.tracing import traced
from retrain_trigger.wiring import default_deps

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps = default_deps(owner=context.aws_request_id)
    change = lifecycle_event(event, received_at=deps.wall_clock())  # BadInput names the field of a malformed event
    if change is None:
        return {"outcome": "ignored", "reason": "intermediate status"}
    result = handle_lifecycle_event(change, deps=deps)
    record_result(result, logger, metrics)
    return result.as_dict()
