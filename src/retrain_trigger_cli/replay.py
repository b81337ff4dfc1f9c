"""`retrain-trigger replay`: what a monitor would have done on a score history, as JSON lines, a table, a summary."""

from __future__ import annotations

import bisect
import itertools
import json
import statistics
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TextIO

from retrain_trigger.config import MonitorConfig, config_version
from retrain_trigger.model import Status
from retrain_trigger_cli.configs import select
from retrain_trigger_cli.engine import Simulation, Step, replay
from retrain_trigger_cli.errors import UsageError
from retrain_trigger_cli.scores import ScoreSeries

STATES = tuple(s.value for s in Status)


@dataclass(frozen=True)
class Replay:
    """One monitor replayed over one series: every engine call, in order."""

    monitor: MonitorConfig
    config_version: str
    steps: tuple[Step, ...]
    start: datetime
    end: datetime


def run(
    document: Mapping[str, Any],
    monitor_id: str | None,
    series: ScoreSeries,
    simulation: Simulation,
    until: datetime | None = None,
) -> Replay:
    _, monitor = select(document, monitor_id)
    version = config_version(document)
    end = until or series.end
    steps = replay(monitor, series.observations, version, simulation, series.start, end)
    return Replay(monitor, version, tuple(steps), series.start, end)


def check_guard_columns(monitor: MonitorConfig, series: ScoreSeries) -> None:
    """A guard reads the column of its metric's name: without one it never holds and the monitor never retrains,
    which a replay would show only as "guard does not hold". Refused up front instead."""
    for metric in monitor.guard_metrics:
        if metric not in series.columns:
            raise UsageError(
                f"monitor {monitor.id!r}: guard metric {metric!r} is not a column of {series.path.name} "
                f"(columns: {', '.join(series.columns)})"
            )


def unread_datapoints(result: Replay, series: ScoreSeries, tick: timedelta) -> str | None:
    """A one-line warning when the schedule reads fewer datapoints than the file holds (`every: 1d` on hourly
    scores): how many are read, i.e. in some evaluation's window of the newest `evaluation_periods`."""
    times = [o.at for o in series.observations if o.at <= result.end]
    read: set[int] = set()
    for step in result.steps:
        if step.kind == "evaluation":
            newest = bisect.bisect_right(times, step.at)
            read.update(range(max(0, newest - result.monitor.evaluation_periods), newest))
    if len(read) >= len(times):
        return None
    every = max(result.monitor.every or tick, tick)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    spacing = timedelta(seconds=statistics.median(gaps)) if gaps else every
    return (
        f"warning: monitor {result.monitor.id!r} is evaluated every {_span(every)} on datapoints every "
        f"{_span(spacing)}: {len(read)} of {len(times)} datapoints are evaluated "
        "(set every and --tick to the data's interval to evaluate them all)"
    )


def actions(step: Step) -> list[str]:
    """`retrain` when a retraining starts; `alert:<severity>` for each alert that goes out."""
    out: list[str] = []
    for notice in dict.fromkeys(a.notice for a in step.decision.new_actions):
        kinds = {a.kind for a in step.decision.new_actions if a.notice == notice}
        if notice.event == "retrain_started":
            out.append("retrain")
            if "sns" in kinds:  # the retraining's own announcement on the alert topic
                out.append(f"alert:{notice.severity}")
        else:
            out.append(f"alert:{notice.severity}")
    return out


def record(step: Step) -> dict[str, Any]:
    decision = step.decision
    row: dict[str, Any] = {
        "timestamp": _iso(step.at),
        "score": decision.score,
        "state": decision.state.status.value,
        "actions": actions(step),
        "reason": decision.reason,
        "transition": decision.changed,  # the evaluator would commit this (a history entry)
    }
    if step.kind != "evaluation":
        row["event"] = f"retraining {step.kind}"
    if decision.suppressed:
        row["suppressed"] = list(decision.suppressed)
    return row


@dataclass(frozen=True)
class Summary:
    evaluations: int
    retrains: int
    alerts: Mapping[str, int]
    first_retrain: datetime | None
    first_detection: datetime | None
    time_in_state: Mapping[str, timedelta] = field(default_factory=dict)
    retrain_times: tuple[datetime, ...] = ()
    detection_times: tuple[datetime, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "evaluations": self.evaluations,
            "retrains": self.retrains,
            "alerts": dict(self.alerts),
            "first_retrain": _iso(self.first_retrain) if self.first_retrain else None,
            "first_detection": _iso(self.first_detection) if self.first_detection else None,
            "hours_in_state": {k: round(v.total_seconds() / 3600, 2) for k, v in self.time_in_state.items()},
        }


DETECTIONS = {"retrain", "alert:critical", "alert:escalation"}


def summarize(result: Replay) -> Summary:
    """Counts over the steps; the time in a state runs from the step that entered it to the next step."""
    retrains = tuple(s.at for s in result.steps if s.retrain_started)
    detections = tuple(s.at for s in result.steps if DETECTIONS & set(actions(s)))
    alerts: Counter[str] = Counter()
    for step in result.steps:
        alerts.update(a.removeprefix("alert:") for a in actions(step) if a.startswith("alert:"))
    time_in: dict[str, timedelta] = dict.fromkeys(STATES, timedelta(0))
    for current, following in zip(result.steps, result.steps[1:], strict=False):
        time_in[current.decision.state.status.value] += following.at - current.at
    if result.steps:
        time_in[result.steps[-1].decision.state.status.value] += max(result.end - result.steps[-1].at, timedelta(0))
    return Summary(
        evaluations=sum(1 for s in result.steps if s.kind == "evaluation"),
        retrains=len(retrains),
        alerts=dict(sorted(alerts.items())),
        first_retrain=retrains[0] if retrains else None,
        first_detection=detections[0] if detections else None,
        time_in_state=time_in,
        retrain_times=retrains,
        detection_times=detections,
    )


def write_json_lines(result: Replay, out: TextIO) -> None:
    for step in result.steps:
        out.write(json.dumps(record(step)) + "\n")


def write_table(result: Replay, out: TextIO) -> None:
    """The demo's per-day table: one row per evaluation (and per simulated retraining outcome)."""
    daily = all(s.at.hour == 0 and s.at.minute == 0 for s in result.steps if s.kind == "evaluation")
    width = 12 if daily else 18
    out.write(f"{'date' if daily else 'time':<{width}}{'score':>8}  {'state':<12}actions\n")
    for step in result.steps:
        row = record(step)
        when = step.at.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M")
        score = f"{row['score']:>8.4f}" if row["score"] is not None else f"{'-':>8}"
        what = " ".join(row["actions"]) or "-"
        if "event" in row:
            what = f"{row['event']} {what}" if row["actions"] else row["event"]
        out.write(f"{when:<{width}}{score}  {row['state']:<12}{what}\n")


def write_summary(summary: Summary, out: TextIO) -> None:
    alerts = ", ".join(f"{k} {v}" for k, v in summary.alerts.items()) or "none"
    first = summary.first_retrain.strftime("%Y-%m-%dT%H:%M:%SZ") if summary.first_retrain else "none"
    spent = ", ".join(f"{k} {_duration(v)}" for k, v in summary.time_in_state.items() if v)
    out.write(
        f"summary: evaluations {summary.evaluations}; retrains {summary.retrains}; alerts {alerts}; "
        f"first retrain {first}; time in state: {spent or 'none'}\n"
    )


def _duration(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours / 24:g}d" if hours >= 24 and hours % 24 == 0 else f"{hours:g}h"


def _span(span: timedelta) -> str:
    """'1d', '6h', '15m', '30s': the configuration's own way of writing a duration, in its largest whole unit."""
    seconds = span.total_seconds()
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Marks:
    """What the figure marks: alerts (time, notice event), retrainings, grace periods and open episodes."""

    alerts: tuple[tuple[datetime, str], ...]
    retrains: tuple[datetime, ...]
    grace: tuple[tuple[datetime, datetime], ...]
    episodes: tuple[tuple[datetime, datetime], ...]


def marks(result: Replay) -> Marks:
    alerts: list[tuple[datetime, str]] = []
    retrains: list[datetime] = []
    grace: list[tuple[datetime, datetime]] = []
    episodes: list[tuple[datetime, datetime]] = []
    opened: datetime | None = None
    for step in result.steps:
        decision = step.decision
        for notice in dict.fromkeys(a.notice for a in decision.new_actions):
            # When it fired, not the datapoint it read: a no-data alert's newest datapoint may be days older.
            if notice.event == "retrain_started":
                retrains.append(step.at)
            else:
                alerts.append((step.at, notice.event))
        until = decision.state.grace_until
        if until is not None and until != decision.before.grace_until:
            grace.append((step.at, until))
        episode = decision.state.episode
        if episode is not None and opened is None:
            opened = episode.opened_at
        elif episode is None and opened is not None:
            episodes.append((opened, step.at))
            opened = None
    if opened is not None:
        episodes.append((opened, result.end))
    return Marks(tuple(alerts), tuple(retrains), tuple(grace), tuple(episodes))
