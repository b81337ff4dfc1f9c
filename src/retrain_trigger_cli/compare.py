"""`retrain-trigger compare`: variants of a configuration over the same history, in parallel processes, and the
tuning on top: episodes the team knows about (`--labels`) score each variant, `--best` keeps the Pareto front."""

from __future__ import annotations

import csv
import itertools
import json
import os
import statistics
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from retrain_trigger_cli import replay
from retrain_trigger_cli.configs import select, with_overrides
from retrain_trigger_cli.engine import Simulation
from retrain_trigger_cli.errors import UsageError
from retrain_trigger_cli.scores import ScoreSeries, parse_time, read_scores

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class Variant:
    name: str
    document: Mapping[str, Any]


@dataclass(frozen=True)
class Scored:
    """A variant's replay summary and, with labels, how it did on the known episodes."""

    variant: Variant
    summary: replay.Summary | None = None
    error: str = ""
    episodes: int = 0
    caught: int = 0
    delays: tuple[timedelta, ...] = ()
    retrains_outside: int = 0

    @property
    def missed(self) -> int:
        return self.episodes - self.caught

    @property
    def alerts(self) -> int:
        return sum(self.summary.alerts.values()) if self.summary else 0

    @property
    def median_delay(self) -> timedelta | None:
        return timedelta(seconds=statistics.median(d.total_seconds() for d in self.delays)) if self.delays else None

    @property
    def worst_delay(self) -> timedelta | None:
        return max(self.delays) if self.delays else None

    def objectives(self) -> tuple[float, ...]:
        """Each smaller is better: missed episodes, median detection delay, retrains, alerts."""
        delay = self.median_delay.total_seconds() if self.median_delay is not None else float("inf")
        return (self.missed, delay, self.summary.retrains if self.summary else 0, self.alerts)

    def as_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"variant": self.variant.name}
        if self.error:
            return row | {"error": self.error}
        assert self.summary is not None
        row |= self.summary.as_dict()
        if self.episodes:
            row |= {
                "episodes": self.episodes,
                "caught": self.caught,
                "missed": self.missed,
                "median_delay_hours": _hours(self.median_delay),
                "worst_delay_hours": _hours(self.worst_delay),
                "retrains_outside_episodes": self.retrains_outside,
            }
        return row


def parse_sweep(spec: str) -> tuple[str, list[Any]]:
    """`key=start:stop:step` (both ends included) or `key=v1,v2,...` (JSON values, else text such as `3d`)."""
    key, sep, values = spec.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise UsageError(f"--sweep {spec!r}: write it as key=start:stop:step or key=v1,v2")
    if values.count(":") == 2:
        try:
            start, stop, step = (float(v) for v in values.split(":"))
        except ValueError as error:
            raise UsageError(f"--sweep {spec!r}: start, stop and step must be numbers") from error
        if step <= 0 or stop < start:
            raise UsageError(f"--sweep {spec!r}: needs step > 0 and stop >= start")
        count = round((stop - start) / step) + 1
        return key.strip(), [round(start + i * step, 10) for i in range(count)]
    return key.strip(), [_value(v.strip()) for v in values.split(",") if v.strip()]


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def variants(
    documents: Sequence[tuple[str, Mapping[str, Any]]], sweeps: Sequence[str], monitor_id: str
) -> list[Variant]:
    """Each document crossed with every combination of the sweeps (set on the monitor `monitor_id`)."""
    axes = [parse_sweep(s) for s in sweeps]
    out: list[Variant] = []
    for name, document in documents:
        for combination in itertools.product(*(values for _, values in axes)):
            overrides = {key: value for (key, _), value in zip(axes, combination, strict=True)}
            label = " ".join(f"{k}={v}" for k, v in overrides.items())
            prefix = name if len(documents) > 1 or not label else ""
            out.append(
                Variant(
                    " ".join(p for p in (prefix, label) if p) or name, with_overrides(document, monitor_id, overrides)
                )
            )
    return out


def read_labels(path: Path) -> list[Span]:
    """`start,end` rows: the drift episodes the team knows about."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    spans: list[Span] = []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if not {"start", "end"} <= set(reader.fieldnames or ()):
            raise UsageError(f"{path}: needs the columns start,end")
        for row in reader:
            try:
                start, end = parse_time(row["start"]), parse_time(row["end"])
            except ValueError as error:
                raise UsageError(f"{path}:{reader.line_num}: {error}") from error
            if end < start:  # counted, it would catch nothing and pass for a missed episode
                raise UsageError(
                    f"{path}:{reader.line_num}: the episode ends ({row['end']}) before it starts ({row['start']})"
                )
            spans.append((start, end))
    return spans


def score(variant: Variant, summary: replay.Summary, labels: Sequence[Span]) -> Scored:
    """An episode is caught by the first detection (a retraining, a critical or an escalation alert) inside it."""
    delays = []
    for start, end in labels:
        detection = next((at for at in summary.detection_times if start <= at <= end), None)
        if detection is not None:
            delays.append(detection - start)
    outside = sum(1 for at in summary.retrain_times if not any(s <= at <= e for s, e in labels))
    return Scored(variant, summary, "", len(labels), len(delays), tuple(delays), outside if labels else 0)


# --- the parallel replays: each worker reads the series once ----------------------------------------------------

_SERIES: ScoreSeries | None = None


def _load(path: Path, column: str) -> None:
    global _SERIES  # noqa: PLW0603 - one series per worker process, read once
    _SERIES = read_scores(path, column)


def _replay_one(
    variant: Variant, monitor_id: str, simulation: Simulation, until: datetime | None
) -> tuple[replay.Summary | None, str]:
    assert _SERIES is not None
    try:
        select(variant.document, monitor_id)
    except UsageError as error:
        return None, str(error).removeprefix("config: ")
    return replay.summarize(replay.run(variant.document, monitor_id, _SERIES, simulation, until)), ""


def run(
    all_variants: Sequence[Variant],
    monitor_id: str,
    scores_path: Path,
    column: str,
    simulation: Simulation,
    until: datetime | None,
    labels: Sequence[Span],
    workers: int | None = None,
) -> list[Scored]:
    workers = max(1, min(workers or os.cpu_count() or 1, len(all_variants)))
    jobs = [(v, monitor_id, simulation, until) for v in all_variants]
    if workers == 1:
        _load(scores_path, column)
        results = [_replay_one(*job) for job in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_load, initargs=(scores_path, column)) as pool:
            results = list(
                pool.map(_replay_one, *zip(*jobs, strict=True), chunksize=max(1, len(jobs) // (workers * 4)))
            )
    return [
        score(variant, summary, labels) if summary is not None else Scored(variant, error=error)
        for variant, (summary, error) in zip(all_variants, results, strict=True)
    ]


def pareto_front(scored: Sequence[Scored]) -> list[Scored]:
    """The variants no other variant beats on every objective (missed, median delay, retrains, alerts)."""
    valid = [s for s in scored if s.summary is not None]

    def dominated(a: Scored) -> bool:
        return any(
            all(x <= y for x, y in zip(b.objectives(), a.objectives(), strict=True))
            and b.objectives() != a.objectives()
            for b in valid
        )

    return sorted((s for s in valid if not dominated(s)), key=lambda s: s.objectives())


def choose(front: Sequence[Scored]) -> Scored:
    """Catch the most episodes, then with the fewest retrainings, then soonest, then with the fewest alerts."""
    return min(
        front,
        key=lambda s: (
            s.missed,
            s.summary.retrains if s.summary else 0,
            s.median_delay or timedelta.max,
            s.worst_delay or timedelta.max,
            s.alerts,
        ),
    )


# --- output -------------------------------------------------------------------------------------------------------


def _hours(span: timedelta | None) -> float | None:
    return round(span.total_seconds() / 3600, 2) if span is not None else None


def _days(span: timedelta | None) -> str:
    return "-" if span is None else f"{span.total_seconds() / 86400:.1f}d"


def write_table(rows: Sequence[Scored], out: TextIO, labelled: bool) -> None:
    width = max([len("variant"), *(len(r.variant.name) for r in rows)]) + 2
    head = f"{'variant':<{width}}{'retrains':>8}  {'alerts w/c/esc/rec/err':<23}{'first detection':<22}"
    head += "days OK/WARN/ALARM/RETR/RETRD/WAIT"
    if labelled:
        head += "   caught  median  worst  missed  outside"
    out.write(head + "\n")
    for row in rows:
        if row.error or row.summary is None:
            out.write(f"{row.variant.name:<{width}}invalid: {row.error}\n")
            continue
        s = row.summary
        alerts = "/".join(str(s.alerts.get(k, 0)) for k in ("warning", "critical", "escalation", "recovered", "error"))
        first = s.first_detection.strftime("%Y-%m-%dT%H:%MZ") if s.first_detection else "-"
        days = "/".join(f"{v.total_seconds() / 86400:.0f}" for v in s.time_in_state.values())
        line = f"{row.variant.name:<{width}}{s.retrains:>8}  {alerts:<23}{first:<22}{days:<34}"
        if labelled:
            line += (
                f"  {row.caught:>3}/{row.episodes:<3}{_days(row.median_delay):>7}{_days(row.worst_delay):>7}"
                f"{row.missed:>8}{row.retrains_outside:>9}"
            )
        out.write(line.rstrip() + "\n")
