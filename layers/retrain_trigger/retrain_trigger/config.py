"""The monitor configuration document: `defaults` plus a list of `monitors`, each overriding any default.

Validated per monitor, so one broken monitor is reported (by id and field) and the others still run.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails

from retrain_trigger.durations import Duration, PositiveDuration, not_boolean
from retrain_trigger.errors import ConfigError
from retrain_trigger.fleet_config import Cause, FleetConfig, checked_suppressions, parse_fleet
from retrain_trigger.maintenance_config import MaintenanceWindow, covering
from retrain_trigger.score_config import ScoreConfig, ScoreFieldError

MAX_DEPTH = 32  # the schema itself nests 7 deep; deeper is a broken document, refused before it can recurse


class _CrossFieldError(ValueError):
    """A cross-field rule broken: raised by a model validator, it names the field to blame (pydantic cannot)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(problem)


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Level = Annotated[float, BeforeValidator(not_boolean), AfterValidator(_finite)]
Count = Annotated[int, BeforeValidator(not_boolean)]
Instant = Annotated[AwareDatetime, AfterValidator(_utc)]  # any offset in, UTC out; no timezone is refused
ActionKind = Literal["sagemaker", "sqs", "eventbridge", "sns"]
MissingData = Literal["missing", "ignore", "breaching", "not_breaching"]
MonitorId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]

# The evaluator's tick when none is given (the template's TickMinutes default); the evaluator passes its own.
DEFAULT_TICK = timedelta(hours=1)

# The order actions run in: the pipeline first, so the alert can carry its execution ARN.
ACTION_ORDER: tuple[ActionKind, ...] = ("sagemaker", "sqs", "eventbridge", "sns")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DynamoDBSource(_Frozen):
    """Scores are items in the score table: key (monitor_id, timestamp), the score in `score_attribute`."""

    type: Literal["dynamodb"] = "dynamodb"
    table: str | None = None  # default: the deployment's ScoreTable
    score_attribute: str = "drift_score"


class CloudWatchSource(_Frozen):
    """Scores are a CloudWatch metric; guards are metrics of the same namespace and dimensions."""

    type: Literal["cloudwatch"] = "cloudwatch"
    namespace: str
    metric_name: str = "drift_score"
    dimensions: dict[str, str] = Field(default_factory=dict)
    stat: Literal["Average", "Maximum", "Minimum", "Sum", "SampleCount"] = "Average"
    period: PositiveDuration = timedelta(days=1)

    @model_validator(mode="after")
    def _cloudwatch_period(self) -> CloudWatchSource:
        seconds = self.period.total_seconds()
        if seconds not in (1, 5, 10, 30) and seconds % 60:
            raise _CrossFieldError("period", "CloudWatch takes a period of 1, 5, 10 or 30 seconds or a multiple of 60")
        return self


class Guard(_Frozen):
    """A second condition a retraining needs, e.g. `{"metric": "accuracy", "below": 0.85}`."""

    metric: str
    below: Level | None = None
    above: Level | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Guard:
        if (self.below is None) == (self.above is None):
            raise _CrossFieldError("", "a guard takes exactly one of 'below' or 'above'")
        return self

    def holds(self, value: float | None) -> bool:
        if value is None:
            return False
        return value < self.below if self.below is not None else value > self.above  # type: ignore[operator]

    def describe(self) -> str:
        return f"{self.metric} < {self.below}" if self.below is not None else f"{self.metric} > {self.above}"


class PipelineConfig(_Frozen):
    name: str
    parameters: dict[str, str] = Field(default_factory=dict)


class ActionsConfig(_Frozen):
    on_alert: tuple[Literal["sns", "eventbridge"], ...] = ("sns",)
    on_retrain: tuple[ActionKind, ...] = ("sagemaker", "sqs", "eventbridge", "sns")
    pipeline: PipelineConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_retrain_actions(cls, data: Any) -> Any:
        # Without a pipeline, a retraining is the SQS request and the event for whatever consumes them.
        if isinstance(data, Mapping) and "on_retrain" not in data and not data.get("pipeline"):
            return {**data, "on_retrain": ("sqs", "eventbridge", "sns")}
        return data

    @model_validator(mode="after")
    def _pipeline_named(self) -> ActionsConfig:
        if "sagemaker" in self.on_retrain and self.pipeline is None:
            raise _CrossFieldError("pipeline", "on_retrain includes 'sagemaker' but no pipeline is configured")
        return self


class MonitorConfig(_Frozen):
    """One watched model. See the README's configuration table for each key's meaning."""

    id: MonitorId
    source: DynamoDBSource | CloudWatchSource = Field(default_factory=DynamoDBSource, discriminator="type")
    critical: Level
    reset: Level | None = None
    warning: Level | None = None
    warning_reset: Level | None = None
    datapoints_to_trigger: Count = Field(default=1, ge=1)
    evaluation_periods: Count = Field(default=1, ge=1, le=100)
    missing_data: MissingData = "missing"
    max_age: PositiveDuration | None = None
    guards: tuple[Guard, ...] = ()
    grace_period: Duration = timedelta(days=1)
    cooldown: Duration = timedelta(days=7)
    retrain_on_persisting_drift: bool = Field(default=False, strict=True)
    max_retrains_per_episode: Count = Field(default=3, ge=1)
    retraining_timeout: PositiveDuration = timedelta(days=2)
    every: PositiveDuration | None = None
    mode: Literal["active", "shadow", "muted"] = "active"
    muted_until: Instant | None = None
    actions: ActionsConfig = Field(default_factory=ActionsConfig)
    # Alerting as CloudWatch, Datadog and Alertmanager users expect it (see the README's configuration table).
    no_data_after: PositiveDuration | None = None  # unset: the monitor's max_age; an explicit null turns it off
    renotify_every: PositiveDuration | None = None
    datapoints_to_recover: Count = Field(default=1, ge=1)
    evaluation_delay: Duration = timedelta(0)
    suppressed_by: tuple[Cause, ...] = ()  # the fleet (docs/fleet.md): checked across monitors by fleet_config
    priority: Count = 0  # the fleet budget releases held retrainings highest priority first
    maintenance: tuple[MaintenanceWindow, ...] = ()  # muted during each window (see maintenance_config)
    max_model_age: PositiveDuration | None = None  # retrain when the model is older (see policy/model_age)
    approval: Literal["none", "required"] = "none"  # required: a retraining waits for an operator (AWAITING_APPROVAL)
    approval_timeout: PositiveDuration = timedelta(days=2)
    score: ScoreConfig | None = None  # the score from many features' values (see score_config.py)
    min_samples: Count | None = Field(default=None, ge=1)  # a datapoint on fewer rows (`sample_count`) is missing

    @model_validator(mode="before")
    @classmethod
    def _source_type_defaults_to_dynamodb(cls, data: Any) -> Any:
        source = data.get("source") if isinstance(data, Mapping) else None
        if isinstance(source, Mapping) and "type" not in source:
            return {**data, "source": {"type": "dynamodb", **source}}
        return data

    @model_validator(mode="after")
    def _coherent(self) -> MonitorConfig:
        if self.reset is not None and self.reset > self.critical:
            raise _CrossFieldError("reset", "must not be above critical")
        if self.warning is not None and self.warning >= self.critical:
            raise _CrossFieldError("warning", "must be below critical")
        if self.warning_reset is not None and (self.warning is None or self.warning_reset > self.warning):
            raise _CrossFieldError("warning_reset", "needs a warning level and must not be above it")
        if self.datapoints_to_trigger > self.evaluation_periods:
            raise _CrossFieldError("datapoints_to_trigger", "must not exceed evaluation_periods")
        if self.mode == "muted" and self.muted_until is None:
            raise _CrossFieldError("muted_until", "mode 'muted' needs muted_until, e.g. 2024-08-20T00:00:00Z")
        if self.score is not None and (problem := self.score.source_problem(self.source.type)):
            raise _CrossFieldError("score.features", problem)
        if self.min_samples is not None and self.source.type == "cloudwatch":
            raise _CrossFieldError("min_samples", "CloudWatch datapoints carry no sample_count; use the score table")
        return self

    @model_validator(mode="after")
    def _recovery_within_the_window(self) -> MonitorConfig:
        # The score sources read the newest `evaluation_periods` datapoints: recovery evidence must fit in them.
        if self.datapoints_to_recover > self.evaluation_periods:
            raise _CrossFieldError("datapoints_to_recover", "must not exceed evaluation_periods")
        return self

    # Derived levels: the engine reads these, never the raw optional fields.
    @property
    def reset_level(self) -> float:
        return self.critical if self.reset is None else self.reset

    @property
    def warning_reset_level(self) -> float | None:
        return self.warning if self.warning_reset is None else self.warning_reset

    @property
    def staleness(self) -> timedelta:
        """`max_age` for a deployment that ticks every DEFAULT_TICK (see `staleness_at`)."""
        return self.staleness_at(DEFAULT_TICK)

    def staleness_at(self, tick: timedelta) -> timedelta:
        """`max_age`, by default one period more than the evaluation window spans: the period is the CloudWatch
        `period`, else `every`, else the evaluator's tick (a monitor without `every` is evaluated every tick)."""
        if self.max_age is not None:
            return self.max_age
        period = self.source.period if isinstance(self.source, CloudWatchSource) else self.every or tick
        return period * (self.evaluation_periods + 1)

    def no_data_limit(self, tick: timedelta) -> timedelta | None:
        """`no_data_after`: by default the monitor's max_age; None when the no-data alert is turned off."""
        if "no_data_after" in self.model_fields_set:
            return self.no_data_after
        return self.staleness_at(tick)

    @property
    def guard_metrics(self) -> tuple[str, ...]:
        return tuple(g.metric for g in self.guards)

    def acting_at(self, now: datetime) -> bool:
        """False in shadow mode, while muted and during a maintenance window: decisions are made and logged, nothing
        is sent (a window mutes exactly as `mode: muted` does: one notion of muted for the rules and the outbox)."""
        if self.mode == "shadow":
            return False
        if self.muted_until is not None and now < self.muted_until:
            return False
        return not (self.maintenance and covering(self.maintenance, now))


@dataclass(frozen=True)
class Catalog:
    """The validated configuration: the monitors that parsed, the errors of those that did not."""

    version: str
    monitors: tuple[MonitorConfig, ...]
    errors: tuple[ConfigError, ...] = ()
    by_id: Mapping[str, MonitorConfig] = field(default_factory=dict)
    fleet: FleetConfig = field(default_factory=FleetConfig)

    def get(self, monitor_id: str) -> MonitorConfig | None:
        return self.by_id.get(monitor_id)


def config_version(document: Mapping[str, Any]) -> str:
    """A short content hash of the canonical document, recorded with every decision."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _config_error(monitor_id: str, error: ValidationError) -> ConfigError:
    problems = error.errors()
    # A typo'd key also makes the key it meant "required": the unknown key is the one to name.
    first = next((p for p in problems if p["type"] == "extra_forbidden"), problems[0])
    parts = [str(part) for part in first["loc"]]
    if parts[:1] == ["source"] and parts[1:2] in (["dynamodb"], ["cloudwatch"]):
        del parts[1]  # the discriminated union's tag is not a key the user wrote
    problem = first["msg"]
    if first["type"] == "extra_forbidden":
        problem = _unknown_key(parts)
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, ValueError):  # our own validators' words, without pydantic's "Value error, "
        problem = str(cause)
    if isinstance(
        cause, _CrossFieldError | ScoreFieldError
    ):  # a cross-field rule: blame the field it names, not the whole object
        parts += [cause.field] if cause.field else []
    return ConfigError(monitor_id, ".".join(parts) or "(monitor)", problem)


def _unknown_key(parts: list[str]) -> str:
    """ "unknown key 'critcal' (did you mean 'critical'?)": the keys the model at that place takes, nearest first."""
    model: Any = MonitorConfig
    for part in parts[:-1]:
        field_info = getattr(model, "model_fields", {}).get(part)
        annotation = getattr(field_info, "annotation", None)
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    known = list(getattr(model, "model_fields", {}))
    close = difflib.get_close_matches(parts[-1], known, n=1) if parts else []
    return f"unknown key {parts[-1]!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


def _depth(document: Any) -> int:
    """How deep objects and lists nest (iteratively: the check must not recurse on what it guards against)."""
    deepest, stack = 0, [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, Mapping | list | tuple):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                stack.extend((child, depth + 1) for child in (value.values() if isinstance(value, Mapping) else value))
    return deepest


def _config_errors(monitor_id: str, error: ValidationError) -> list[ConfigError]:
    """Every problem in one monitor, each named as `_config_error` names one (it is given them one at a time)."""
    return [
        _config_error(monitor_id, ValidationError.from_exception_data(error.title, [_init_details(line)]))
        for line in error.errors()
    ]


def _init_details(line: ErrorDetails) -> InitErrorDetails:
    details: InitErrorDetails = {"type": line["type"], "loc": line["loc"], "input": line["input"]}
    if "ctx" in line:
        details["ctx"] = line["ctx"]
    return details


def parse_catalog(document: Any, *, every_error: bool = False) -> Catalog:
    """Validate the whole document; a broken monitor becomes a ConfigError, a broken document raises one.

    A broken monitor's errors hold its first problem; with `every_error`, all of them (`retrain-trigger config
    validate`: the same checks, every field a user has to fix)."""
    if _depth(document) > MAX_DEPTH:
        raise ConfigError("*", "(document)", f"nested deeper than {MAX_DEPTH} levels")
    if not isinstance(document, Mapping):
        raise ConfigError("*", "(document)", "the configuration must be an object with 'defaults' and 'monitors'")
    unknown = set(document) - {"defaults", "monitors", "version", "description", "fleet"}
    if unknown:
        raise ConfigError("*", ",".join(sorted(unknown)), "unknown top-level key")
    defaults = document.get("defaults", {})
    monitors = document.get("monitors")
    if not isinstance(defaults, Mapping):
        raise ConfigError("*", "defaults", "must be an object")
    if not isinstance(monitors, Sequence) or isinstance(monitors, str) or not monitors:
        raise ConfigError("*", "monitors", "must be a non-empty list")
    if "id" in defaults:
        raise ConfigError("*", "defaults.id", "an id belongs to a monitor, not to the defaults")

    parsed: list[MonitorConfig] = []
    errors: list[ConfigError] = []
    seen: set[str] = set()
    for index, raw in enumerate(monitors):
        monitor_id = str(raw.get("id", f"#{index}")) if isinstance(raw, Mapping) else f"#{index}"
        if not isinstance(raw, Mapping):
            errors.append(ConfigError(monitor_id, "(monitor)", "must be an object"))
            continue
        if monitor_id in seen:
            errors.append(ConfigError(monitor_id, "id", "duplicate monitor id"))
            continue
        seen.add(monitor_id)
        try:
            parsed.append(MonitorConfig.model_validate({**defaults, **raw}))
        except ValidationError as error:
            errors.extend(_config_errors(monitor_id, error) if every_error else [_config_error(monitor_id, error)])
    parsed, errors = checked_suppressions(parsed, errors)
    return Catalog(
        version=config_version(document),
        monitors=tuple(parsed),
        errors=tuple(errors),
        by_id={m.id: m for m in parsed},
        fleet=parse_fleet(document.get("fleet")),
    )


def parse_catalog_json(text: str) -> Catalog:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError("*", "(document)", f"not valid JSON: {error}") from error
    except RecursionError as error:  # the JSON decoder recurses per nesting level
        raise ConfigError("*", "(document)", f"nested deeper than {MAX_DEPTH} levels") from error
    return parse_catalog(document)
