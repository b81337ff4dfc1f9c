"""A fleet's long score file: `monitor_id,timestamp,<score column>[,guard metrics...]` in CSV, JSON lines or Parquet,
one row per monitor and time, read into one series per monitor.

Each monitor's score column is its source's (as for one monitor, `drift_score` by default). A bad row is reported
with its line number and treated as missing, as in a one-monitor file; rows of a monitor the document does not
configure are reported once, by monitor, and left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from retrain_trigger.model import Observation
from retrain_trigger_cli.errors import UsageError
from retrain_trigger_cli.scores import TIMESTAMP, _observation, _rows

MONITOR_ID = "monitor_id"


@dataclass(frozen=True)
class FleetScores:
    """Each configured monitor's datapoints, oldest first, and what was wrong with the rows left out."""

    path: Path
    series: Mapping[str, tuple[Observation, ...]]
    problems: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()

    @property
    def start(self) -> datetime:
        return min(s[0].at for s in self.series.values() if s)

    @property
    def end(self) -> datetime:
        return max(s[-1].at for s in self.series.values() if s)


def read_fleet_scores(path: Path, score_columns: Mapping[str, str]) -> FleetScores:
    """Read a long score file for the monitors of `score_columns` (monitor id -> its score column). Raises UsageError
    if the file is missing, unreadable, lacks `monitor_id` or `timestamp`, or holds no datapoint of any monitor."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    by_monitor: dict[str, dict[datetime, Observation]] = {m: {} for m in score_columns}
    problems: list[str] = []
    unknown: Counter[str] = Counter()
    columns: dict[str, None] = {}
    checked = False
    try:
        for line, row in _rows(path):
            if "__error__" in row:
                problems.append(f"{path}:{line}: {row['__error__']}; row treated as missing")
                continue
            if not checked:
                missing = {MONITOR_ID, TIMESTAMP} - set(row)
                if missing:
                    raise UsageError(f"{path}: missing column(s) {', '.join(sorted(missing))} (a fleet's long file)")
                checked = True
            columns.update(dict.fromkeys(str(name) for name in row))
            monitor_id = str(row.get(MONITOR_ID) or "")
            if monitor_id not in score_columns:
                unknown[monitor_id] += 1
                continue
            _add(path, line, row, monitor_id, score_columns[monitor_id], by_monitor[monitor_id], problems)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UsageError(f"{path}: cannot read: {error}") from error
    problems += [
        f"{path}: monitor {m!r} is not in the configuration; its {n} row(s) are left out" for m, n in unknown.items()
    ]
    series = {m: tuple(sorted(points.values(), key=lambda o: o.at)) for m, points in by_monitor.items()}
    if not any(series.values()):
        raise UsageError(f"{path}: no datapoints of any configured monitor ({', '.join(score_columns)})")
    return FleetScores(path, series, tuple(problems), tuple(columns))


def _add(
    path: Path,
    line: int,
    row: Mapping[str, Any],
    monitor_id: str,
    column: str,
    points: dict[datetime, Observation],
    problems: list[str],
) -> None:
    if column not in row:
        problems.append(f"{path}:{line}: monitor {monitor_id!r}: no {column!r} column; row treated as missing")
        return
    own = {name: value for name, value in row.items() if name != MONITOR_ID}
    observation, problem = _observation(own, column)
    if problem:
        problems.append(f"{path}:{line}: monitor {monitor_id!r}: {problem}")
    if observation is None:
        return
    if observation.at in points:
        problems.append(
            f"{path}:{line}: monitor {monitor_id!r}: duplicate timestamp {row[TIMESTAMP]}; row treated as missing"
        )
        return
    points[observation.at] = observation
