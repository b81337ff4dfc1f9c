"""The functions' input events, as Powertools parser models, and their translation to domain values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from retrain_trigger.errors import BadInput
from retrain_trigger.model import CommandKind, LifecycleEvent, OperatorCommand, PipelineStatus

SAGEMAKER_STATUS_CHANGE = "SageMaker Model Building Pipeline Execution Status Change"
RETRAINING_FINISHED = "Retraining Finished"
MODEL_DEPLOYED = "Model Deployed"

Model = TypeVar("Model", bound=BaseModel)


def _text(value: Any) -> Any:
    # EventBridge writes `time` as ISO-8601 text; pydantic would read a number as seconds since 1970.
    if not isinstance(value, str | datetime):
        raise ValueError(f"must be an ISO-8601 time with a timezone, not {type(value).__name__}")
    return value


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# An event's time, normalized to UTC where it enters; a time without a timezone is refused (BadInput on event.time).
Instant = Annotated[AwareDatetime, BeforeValidator(_text), AfterValidator(_utc)]


class EventBridgeModel(BaseModel):
    """EventBridge's envelope, the fields Powertools' EventBridgeModel has. Our own, because importing
    `aws_lambda_powertools.utilities.parser` costs ~90 ms of every cold start (see `make bench`)."""

    model_config = ConfigDict(populate_by_name=True)

    version: str
    id: str
    source: str
    account: str
    time: Instant
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    detail: dict[str, Any]
    replay_name: str | None = Field(default=None, alias="replay-name")


class ScheduledTick(EventBridgeModel):
    """EventBridge's scheduled event. Its `time` is the evaluation time, so a retried tick decides the same."""

    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")


class PipelineStatusDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    pipeline_arn: str = Field(alias="pipelineArn")
    pipeline_execution_arn: str = Field(alias="pipelineExecutionArn")
    current_status: PipelineStatus = Field(alias="currentPipelineExecutionStatus")
    description: str | None = Field(default=None, alias="pipelineExecutionDescription")


def _finished(value: Any) -> Any:
    # Checked before the enum, so the message lists only the statuses a finished pipeline can have.
    status = PipelineStatus.read(value)
    if status is None or not status.final:
        finals = ", ".join(repr(s.value) for s in PipelineStatus if s.final)
        raise ValueError(f"Input should be the status of a finished pipeline ({finals}), not {value!r}")
    return value


FinishedStatus = Annotated[PipelineStatus, BeforeValidator(_finished)]


class RetrainingFinishedDetail(BaseModel):
    """Sent on the project's bus by a non-SageMaker pipeline (Jenkins, GitLab CI, Argo) when it ends."""

    monitor_id: str
    status: FinishedStatus
    episode_id: str | None = None  # with `attempt`, from the "Retraining Requested" event: what the status is about
    attempt: int | None = Field(default=None, ge=1)
    execution_id: str | None = None
    detail: str = ""


class ModelDeployedDetail(BaseModel):
    monitor_id: str
    model_version: str = ""


def parse_event(event: Any, model: type[Model], source: str = "event") -> Model:
    """Validate an incoming event; a malformed one becomes BadInput naming the field by its path in the event
    (`event.time`, `event.detail-type`, `event.detail.monitor_id`)."""
    if not isinstance(event, dict):
        raise BadInput(_monitor_hint(event), source, f"must be a JSON object, not {type(event).__name__}")
    try:
        return model.model_validate(event)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(event)"
        cause = first.get("ctx", {}).get("error")
        problem = str(cause) if isinstance(cause, ValueError) else first["msg"]
        raise BadInput(_monitor_hint(event), f"{source}.{field}", problem) from error


def _monitor_hint(event: Any) -> str:
    """The monitor an event (or its detail, when that is what failed) says it is about; '*' when none."""
    if not isinstance(event, dict):
        return "*"
    detail = event.get("detail")
    return str((detail if isinstance(detail, dict) else event).get("monitor_id", "*"))


def lifecycle_event(event: Any, received_at: datetime) -> LifecycleEvent | None:
    """Normalise a SageMaker status change, a Retraining Finished or a Model Deployed event. None: nothing to do.

    Its time is bounded by `received_at` (the function's wall clock when the event arrived): SageMaker's own time
    is kept unless it is later; a CI's event on the project bus is dated `received_at`, since its sender sets the
    envelope's `time` (PutEvents' `Time`) and could place a grace period or a retraining's completion anywhere."""
    envelope = parse_event(event, EventBridgeModel)
    received = received_at.astimezone(UTC)
    if envelope.detail_type == SAGEMAKER_STATUS_CHANGE:
        status = parse_event(envelope.detail, PipelineStatusDetail, "event.detail")
        kind = status.current_status.lifecycle
        if kind is None:
            return None
        started_by_us = _description(status.description)
        return LifecycleEvent(
            kind=kind,
            at=min(envelope.time, received),  # a status change is never legitimately stamped after it arrived
            monitor_id=started_by_us.get("monitor_id"),
            episode_id=started_by_us.get("episode_id"),
            attempt=_attempt(started_by_us.get("attempt")),
            execution_arn=status.pipeline_execution_arn,
            detail=f"pipeline execution {status.current_status.value}",
        )
    if envelope.detail_type == RETRAINING_FINISHED:
        finished = parse_event(envelope.detail, RetrainingFinishedDetail, "event.detail")
        finished_kind = finished.status.lifecycle
        assert finished_kind is not None  # a finished status always has one
        return LifecycleEvent(
            kind=finished_kind,
            at=received,
            monitor_id=finished.monitor_id,
            episode_id=finished.episode_id,
            attempt=finished.attempt,
            detail=finished.detail,
        )
    if envelope.detail_type == MODEL_DEPLOYED:
        deployed = parse_event(envelope.detail, ModelDeployedDetail, "event.detail")
        return LifecycleEvent(
            kind="deployed", at=received, monitor_id=deployed.monitor_id, detail=deployed.model_version
        )
    raise BadInput(_monitor_hint(event), "event.detail-type", f"unexpected event type {envelope.detail_type!r}")


def _description(text: str | None) -> dict[str, str]:
    """Our executions carry {"monitor_id", "episode_id", "attempt"} in their description; others do not."""
    try:
        value = json.loads(text or "")
    except ValueError:
        return {}
    wanted = {"monitor_id", "episode_id", "attempt"}
    return {k: str(v) for k, v in value.items() if k in wanted} if isinstance(value, dict) else {}


def _attempt(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


ACKNOWLEDGED = "Alert Acknowledged"
APPROVED = "Retraining Approved"
REJECTED = "Retraining Rejected"
_COMMANDS: dict[str, CommandKind] = {ACKNOWLEDGED: "acknowledge", APPROVED: "approve", REJECTED: "reject"}


class OperatorDetail(BaseModel):
    """An operator's command on the project bus (a chat bot, a runbook): the same as the CLI's."""

    monitor_id: str = Field(min_length=1)
    episode_id: str | None = Field(default=None, min_length=1)
    by: str = ""


def operator_command(event: Any, received_at: datetime) -> OperatorCommand | None:
    """An "Alert Acknowledged", "Retraining Approved" or "Retraining Rejected" event as a command, dated when it
    arrived (its sender sets the envelope's time). None: another event type. Approving or rejecting names the
    episode (`event.detail.episode_id`): an answer must be about the request it answers."""
    envelope = parse_event(event, EventBridgeModel)
    kind = _COMMANDS.get(envelope.detail_type)
    if kind is None:
        return None
    detail = parse_event(envelope.detail, OperatorDetail, "event.detail")
    if kind != "acknowledge" and detail.episode_id is None:
        raise BadInput(detail.monitor_id, "event.detail.episode_id", f"required to {kind} a retraining")
    return OperatorCommand(
        kind=kind,
        monitor_id=detail.monitor_id,
        at=received_at.astimezone(UTC),
        episode_id=detail.episode_id,
        by=detail.by,
    )
