"""A maintenance window, as a monitor (or the defaults) writes it: `{"cron": "0 2 * * SUN", "duration": "3h",
"timezone": "Europe/Berlin"}`, or an RRULE (`{"rrule": "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2", ...}`) instead of the cron.

Its starts are the zone's wall times; `covering` (pure, deterministic in `now`) says which window covers an instant.
A start that falls in the hour skipped in spring begins when the clock jumps; one in the hour repeated in autumn
begins on its first pass (zoneinfo's fold=0). The duration is elapsed time. croniter and dateutil are imported only
when a window is validated or asked: a deployment without windows never loads them (the evaluator's cold start).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator

from retrain_trigger.durations import PositiveDuration

if TYPE_CHECKING:
    from dateutil.rrule import rrule, rruleset

# Wall starts are listed from a little before (now - duration) to a little after now: a zone's offset moves a wall
# time by at most a day from UTC, and a DST change by an hour or two.
_SLACK = timedelta(days=1, hours=2)
# Any fixed calendar day serves as an RRULE's DTSTART when it states none: the rule is then anchored to it, never
# to the clock, so the same document gives the same windows on every invocation.
_RRULE_ANCHOR = datetime(2000, 1, 1)


@dataclass(frozen=True)
class Occurrence:
    """One window: from `start` until `end` (UTC)."""

    start: datetime
    end: datetime


def _cron(text: str) -> str:
    from croniter import croniter  # noqa: PLC0415 - 36 ms to import: only documents with windows pay for it

    if len(text.split()) != 5 or not croniter.is_valid(text):
        raise ValueError(f"not a cron expression of 5 fields (minute hour day month weekday): {text!r}")
    return text


def _rrule(text: str) -> str:
    _rule(text)
    return text


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r}: an IANA name such as 'Europe/Berlin' or 'UTC'") from error
    return name


class MaintenanceWindow(BaseModel):
    """Muted (as `mode: muted`) from each start of `cron` (or `rrule`), in `timezone`'s wall time, for `duration`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cron: Annotated[str, AfterValidator(_cron)] | None = None
    rrule: Annotated[str, AfterValidator(_rrule)] | None = None
    duration: PositiveDuration
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"

    @model_validator(mode="after")
    def _one_schedule(self) -> MaintenanceWindow:
        if (self.cron is None) == (self.rrule is None):
            raise ValueError("a maintenance window takes exactly one of 'cron' or 'rrule'")
        return self

    def covering(self, now: datetime) -> Occurrence | None:
        """The occurrence of this window that covers `now` (the latest to end, if several), else None."""
        return _covering(self.cron, self.rrule, self.duration, self.timezone, now)


def covering(windows: tuple[MaintenanceWindow, ...], now: datetime) -> Occurrence | None:
    """The occurrence among `windows` that covers `now` and ends last (None: not in maintenance at `now`)."""
    found = [o for o in (w.covering(now) for w in windows) if o is not None]
    return max(found, key=lambda o: o.end) if found else None


@lru_cache(maxsize=4096)  # one tick asks the same window about the same instant several times per monitor
def _covering(
    cron: str | None, rrule_text: str | None, duration: timedelta, timezone: str, now: datetime
) -> Occurrence | None:
    zone = ZoneInfo(timezone)
    wall_now = now.astimezone(zone).replace(tzinfo=None)
    since, until = wall_now - duration - _SLACK, wall_now + _SLACK
    found: Occurrence | None = None
    for wall in _wall_starts(cron, rrule_text, since, until):
        start = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: see the module's docstring
        end = start + duration
        if start <= now < end and (found is None or end > found.end):
            found = Occurrence(start, end)
    return found


def _wall_starts(cron: str | None, rrule_text: str | None, since: datetime, until: datetime) -> list[datetime]:
    """Every wall-clock start in [since, until] (naive datetimes: pure calendar arithmetic, no zone)."""
    if cron is not None:
        from croniter import croniter_range  # noqa: PLC0415 - see _cron

        return list(croniter_range(since, until, cron))
    assert rrule_text is not None
    return list(_rule(rrule_text).between(since, until, inc=True))


@cache
def _rule(text: str) -> rrule | rruleset:
    from dateutil.rrule import rrulestr  # noqa: PLC0415 - see _cron

    try:
        rule = rrulestr(text, dtstart=_RRULE_ANCHOR, ignoretz=True)
    except (ValueError, TypeError) as error:
        raise ValueError(f"not an RRULE (RFC 5545), e.g. 'FREQ=WEEKLY;BYDAY=SU;BYHOUR=2': {error}") from error
    return rule
