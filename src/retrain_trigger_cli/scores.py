"""Score files: CSV, JSON lines or Parquet with `timestamp`, the score column, and guard metrics by column name.

An empty score means "no datapoint at that time". A bad row (unparsable timestamp, non-numeric score, duplicate
timestamp) is reported with its line number and treated as missing; reading goes on.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from retrain_trigger.model import Observation
from retrain_trigger_cli.errors import UsageError

TIMESTAMP = "timestamp"
DEFAULT_SCORE = "drift_score"
JSON_LINES = {".jsonl", ".ndjson", ".json"}
PARQUET = {".parquet", ".pq"}


@dataclass(frozen=True)
class ScoreSeries:
    """The datapoints of one file, oldest first, and what was wrong with the rows that were left out."""

    path: Path
    observations: tuple[Observation, ...]
    problems: tuple[str, ...] = ()
    rows: int = 0
    columns: tuple[str, ...] = ()  # every column a row of the file has (a JSON line may have its own)

    @property
    def start(self) -> datetime:
        return self.observations[0].at

    @property
    def end(self) -> datetime:
        return self.observations[-1].at


def parse_time(value: object) -> datetime:
    """ISO 8601 ('Z' accepted); a time without a zone is taken as UTC. Raises ValueError otherwise."""
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        at = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    else:
        raise ValueError(f"not a timestamp: {value!r}")
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _number(value: object) -> float | None:
    """None for an empty cell; ValueError for anything that is not a finite number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float) and math.isnan(value):
        return None  # Parquet and pandas write an empty cell as NaN
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    number = float(value) if isinstance(value, int | float | str) else math.nan
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {value!r}")
    return number


def _rows(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(line number, row) pairs; Parquet rows are numbered as a CSV of the same table would be (header = 1)."""
    suffix = path.suffix.lower()
    if suffix in PARQUET:
        frame = pd.read_parquet(path)
        for index, record in enumerate(frame.to_dict(orient="records"), start=2):
            yield index, {str(k): (v.to_pydatetime() if hasattr(v, "to_pydatetime") else v) for k, v in record.items()}
        return
    with path.open(newline="") as handle:
        if suffix in JSON_LINES:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    yield number, {"__error__": f"not JSON: {error.msg}"}
                    continue
                yield number, row if isinstance(row, dict) else {"__error__": "not a JSON object"}
            return
        reader = csv.DictReader(handle)
        for row in reader:
            yield reader.line_num, row


def read_scores(path: Path, score_column: str = DEFAULT_SCORE) -> ScoreSeries:
    """Read a score file. Raises UsageError if it is missing, empty, or has no timestamp/score column."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    by_time: dict[datetime, Observation] = {}
    problems: list[str] = []
    rows = 0
    columns: dict[str, None] = {}
    columns_checked = False
    try:
        for line, row in _rows(path):
            rows += 1
            if "__error__" in row:
                problems.append(f"{path}:{line}: {row['__error__']}; row treated as missing")
                continue
            if not columns_checked:
                missing = {TIMESTAMP, score_column} - set(row)
                if missing:
                    raise UsageError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
                columns_checked = True
            columns.update(dict.fromkeys(str(name) for name in row))
            observation, problem = _observation(row, score_column)
            if problem:
                problems.append(f"{path}:{line}: {problem}")
            if observation is None:
                continue
            if observation.at in by_time:
                problems.append(f"{path}:{line}: duplicate timestamp {row[TIMESTAMP]}; row treated as missing")
                continue
            by_time[observation.at] = observation
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UsageError(f"{path}: cannot read: {error}") from error
    if not by_time:
        raise UsageError(f"{path}: no datapoints")
    observations = tuple(sorted(by_time.values(), key=lambda o: o.at))
    return ScoreSeries(path, observations, tuple(problems), rows, tuple(columns))


def _observation(row: Mapping[str, Any], score_column: str) -> tuple[Observation | None, str]:
    try:
        at = parse_time(row.get(TIMESTAMP))
    except ValueError:
        return None, f"unparsable timestamp {row.get(TIMESTAMP)!r}; row treated as missing"
    try:
        score = _number(row.get(score_column))
    except ValueError:
        return None, f"non-numeric {score_column} {row.get(score_column)!r}; row treated as missing"
    if score is None:
        return None, ""
    metrics: dict[str, float] = {}
    bad: list[str] = []
    for name, value in row.items():
        if name in {TIMESTAMP, score_column}:
            continue
        try:
            number = _number(value)
        except ValueError:
            bad.append(f"non-numeric {name} {value!r} treated as missing")
            continue
        if number is not None:
            metrics[str(name)] = number
    return Observation(at=at, score=score, metrics=metrics), "; ".join(bad)


def write_scores(path: Path, rows: Iterable[tuple[datetime, float | None]], score_column: str = DEFAULT_SCORE) -> int:
    """Write (time, score or None for a gap) rows in the format the suffix names. Returns the row count."""
    records = [(at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), score) for at, score in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix in PARQUET:
        frame = pd.DataFrame(records, columns=[TIMESTAMP, score_column])
        frame[TIMESTAMP] = pd.to_datetime(frame[TIMESTAMP], utc=True)
        frame.to_parquet(path, index=False)
    elif suffix in JSON_LINES:
        with path.open("w") as handle:
            for at, score in records:
                handle.write(json.dumps({TIMESTAMP: at, score_column: score}) + "\n")
    else:
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")  # csv's default is CRLF; score files are LF
            writer.writerow([TIMESTAMP, score_column])
            writer.writerows([at, "" if score is None else f"{score:.4f}"] for at, score in records)
    return len(records)


def as_frame(series: ScoreSeries) -> pd.DataFrame:
    """The series as the DataFrame the plot draws: `timestamp` (UTC) and `drift_score`."""
    return pd.DataFrame(
        {
            TIMESTAMP: pd.to_datetime([o.at for o in series.observations], utc=True),
            DEFAULT_SCORE: [o.score for o in series.observations],
        }
    )


def score_column_of(source: Any) -> str:
    """The column holding the score: the monitor source's attribute or metric name."""
    for attribute in ("score_attribute", "metric_name"):
        name = getattr(source, attribute, None)
        if isinstance(name, str):
            return name
    return DEFAULT_SCORE
