"""The document's `fleet` section and the cross-monitor checks of `suppressed_by` (see docs/fleet.md).

The fleet section is one object for the whole document: a broken one is a document error (monitor '*', the field
named). `suppressed_by` is checked across monitors after each monitor parsed on its own: a cause that is not a
valid monitor of the document, or a cycle, is an error of the dependent monitor, and the other monitors still run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from retrain_trigger.errors import ConfigError

if TYPE_CHECKING:
    from retrain_trigger.config import MonitorConfig

ALARM_PREFIX = "alarm:"  # a cause naming a CloudWatch alarm rather than a monitor

# A monitor id, or `alarm:` and a CloudWatch alarm name (1-255 characters, as CloudWatch allows).
Cause = Annotated[str, Field(pattern=r"^(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,62}|alarm:[^\x00-\x1f]{1,255})$")]


def _not_boolean(value: Any) -> Any:
    # pydantic's lax mode reads true as 1: never what a JSON `true` meant for a count.
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not a boolean")
    return value


Count = Annotated[int, BeforeValidator(_not_boolean)]


class FleetConfig(BaseModel):
    """The fleet's retraining budget and alert grouping. Unset limits are unlimited; 0 holds every retraining."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_retrains_per_hour: Count | None = Field(default=None, ge=0)
    max_retrains_per_day: Count | None = Field(default=None, ge=0)
    max_concurrent_retrains: Count | None = Field(default=None, ge=0)
    group_alerts_over: Count = Field(default=10, ge=1)

    @property
    def budgeted(self) -> bool:
        """True when any limit is set: only then does a retraining's start touch the shared budget."""
        limits = (self.max_retrains_per_hour, self.max_retrains_per_day, self.max_concurrent_retrains)
        return any(limit is not None for limit in limits)


def parse_fleet(raw: Any) -> FleetConfig:
    """The `fleet` section (absent or null: no limits). A broken section raises ConfigError('*', 'fleet.<key>')."""
    if raw is None:
        return FleetConfig()
    if not isinstance(raw, Mapping):
        raise ConfigError("*", "fleet", "must be an object")
    try:
        return FleetConfig.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "(section)"
        cause = first.get("ctx", {}).get("error")
        problem = str(cause) if isinstance(cause, ValueError) else first["msg"]
        if first["type"] == "extra_forbidden":
            problem = f"unknown key {key!r} (known: {', '.join(FleetConfig.model_fields)})"
        raise ConfigError("*", f"fleet.{key}", problem) from error


def monitor_causes(suppressed_by: Iterable[str]) -> tuple[str, ...]:
    """The monitor ids among a `suppressed_by` list (the rest name CloudWatch alarms)."""
    return tuple(cause for cause in suppressed_by if not cause.startswith(ALARM_PREFIX))


def alarm_causes(suppressed_by: Iterable[str]) -> tuple[str, ...]:
    """The CloudWatch alarm names among a `suppressed_by` list, without their `alarm:` prefix."""
    return tuple(cause[len(ALARM_PREFIX) :] for cause in suppressed_by if cause.startswith(ALARM_PREFIX))


def checked_suppressions(
    monitors: Sequence[MonitorConfig], errors: Sequence[ConfigError]
) -> tuple[list[MonitorConfig], list[ConfigError]]:
    """parse_catalog's cross-monitor step: the monitors whose `suppressed_by` stands, and the errors grown by the
    ones refused (each named by its monitor and the field `suppressed_by`)."""
    refused = check_suppressions({m.id: m.suppressed_by for m in monitors})
    kept = [m for m in monitors if m.id not in refused]
    return kept, [*errors, *refused.values()]


def check_suppressions(causes_of: Mapping[str, Sequence[str]]) -> dict[str, ConfigError]:
    """The monitors whose `suppressed_by` cannot stand, each with its error (monitor id -> ConfigError).

    `causes_of` maps every valid monitor id to its `suppressed_by`. A cause that is no valid monitor, a cause that
    is itself refused here, and a cycle (a monitor inhibiting itself, directly or through others) each refuse the
    dependent: inhibition by a monitor that is not evaluated would silently never lift, or never hold."""
    errors: dict[str, ConfigError] = {}
    for monitor_id, cycle in _cycles(causes_of).items():
        errors[monitor_id] = ConfigError(monitor_id, "suppressed_by", "forms a cycle: " + " -> ".join(cycle))
    changed = True
    while changed:  # a dependent of a refused monitor is refused too, until nothing changes
        changed = False
        for monitor_id, causes in causes_of.items():
            if monitor_id in errors:
                continue
            for cause in monitor_causes(causes):
                if cause not in causes_of:
                    problem = f"names monitor {cause!r}, which is not a valid monitor of this document"
                elif cause in errors:
                    problem = f"names monitor {cause!r}, whose suppressed_by is refused"
                else:
                    continue
                errors[monitor_id] = ConfigError(monitor_id, "suppressed_by", problem)
                changed = True
                break
    return errors


def _cycles(causes_of: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Each monitor on a cycle of `suppressed_by`, with the cycle's path from it back to itself."""
    on_cycle: dict[str, list[str]] = {}
    for start in causes_of:
        # Depth-first from `start`, iteratively: a long chain of causes must not exhaust the stack.
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        seen: set[str] = set()
        while stack and start not in on_cycle:
            node, path = stack.pop()
            for cause in monitor_causes(causes_of.get(node, ())):
                if cause == start:
                    on_cycle[start] = [*path, start]
                    break
                if cause in causes_of and cause not in seen:
                    seen.add(cause)
                    stack.append((cause, [*path, cause]))
    return on_cycle


def causes_first(monitor_ids: Sequence[str], causes_of: Mapping[str, Sequence[str]]) -> list[str]:
    """`monitor_ids` reordered so every monitor comes after its monitor causes among them (stable otherwise).

    The service decides a tick's due monitors in this order, so a dependent sees its cause's new state when a
    breakage hits both in the same tick. The causes have no cycle (check_suppressions refused those)."""
    due = set(monitor_ids)
    placed: set[str] = set()
    ordered: list[str] = []

    def place(monitor_id: str) -> None:
        # Iterative post-order: causes first, then the monitor.
        stack: list[tuple[str, bool]] = [(monitor_id, False)]
        while stack:
            node, expanded = stack.pop()
            if node in placed:
                continue
            if expanded:
                placed.add(node)
                ordered.append(node)
                continue
            stack.append((node, True))
            for cause in reversed(monitor_causes(causes_of.get(node, ()))):
                if cause in due and cause not in placed:
                    stack.append((cause, False))

    for monitor_id in monitor_ids:
        place(monitor_id)
    return ordered
