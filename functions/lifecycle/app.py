"""Lifecycle: a retraining's status (SageMaker or the project bus) or a deployment closes the loop; an operator's
acknowledgement, approval or rejection on the project bus answers an open episode."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain_trigger.commands import handle_command
from retrain_trigger.events import lifecycle_event, operator_command
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
    command = operator_command(event, received_at=deps.wall_clock())  # BadInput names a malformed event's field
    if command is not None:
        answered = handle_command(command, deps.config, deps.states)
        record_result(answered.as_result(), logger, metrics)
        return answered.as_dict()
    change = lifecycle_event(event, received_at=deps.wall_clock())
    if change is None:
        return {"outcome": "ignored", "reason": "intermediate status"}
    result = handle_lifecycle_event(change, deps=deps)
    record_result(result, logger, metrics)
    return result.as_dict()
