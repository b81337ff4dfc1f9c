"""The "score vs levels" figure: the series, the warning/critical/reset levels, shaded grace periods and open
episodes, and a marker for each alert and each retraining. The demo's figure is drawn by this same code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server or in CI

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd

LEVEL_STYLE = {
    "critical": {"color": "tab:red", "linestyle": "-"},
    "warning": {"color": "tab:orange", "linestyle": "-"},
    "reset": {"color": "tab:green", "linestyle": "--"},
}
ALERT_COLOR = {
    "warning": "tab:orange",
    "critical": "tab:red",
    "escalation": "darkred",
    "recovered": "tab:green",
    "retrain_failed": "black",
}
Span = tuple[datetime, datetime]
# Beyond this many datapoints a line with a marker per point is a solid band (a year of hourly scores is 8,760):
# the figure draws each day's range and maximum instead.
DENSE_POINTS = 1500
GAP_FACTOR = 1.5  # a step this many times the usual spacing is a gap in the data, drawn as one


@dataclass(frozen=True)
class DrawnSeries:
    """What the figure draws of the scores: a line broken at each gap (NaN), and for a dense series each day's
    min-to-max band, the line then being the daily maximum."""

    line: pd.DataFrame  # timestamp, drift_score (NaN where the line breaks)
    band: pd.DataFrame | None = None  # timestamp, low, high: one row per day


def _broken_at_gaps(frame: pd.DataFrame) -> pd.DataFrame:
    """The series with a NaN row inside every step longer than GAP_FACTOR times the median step."""
    if len(frame) < 3:
        return frame
    steps = frame["timestamp"].diff()
    usual = pd.Timedelta(steps.median())
    if usual <= pd.Timedelta(0):
        return frame
    long_steps = steps > usual * GAP_FACTOR
    gaps = frame.loc[long_steps, "timestamp"] - steps[long_steps] / 2
    breaks = pd.DataFrame({"timestamp": gaps, "drift_score": float("nan")})
    return pd.concat([frame, breaks]).sort_values("timestamp").reset_index(drop=True)


def drawn_series(frame: pd.DataFrame) -> DrawnSeries:
    """The series as the figure draws it (see DrawnSeries)."""
    frame = frame[["timestamp", "drift_score"]].dropna().sort_values("timestamp").reset_index(drop=True)
    if len(frame) <= DENSE_POINTS:
        return DrawnSeries(_broken_at_gaps(frame))
    days = frame.set_index("timestamp")["drift_score"].resample("1D")
    band = pd.DataFrame({"low": days.min(), "high": days.max()}).rename_axis("timestamp").reset_index()
    line = band.rename(columns={"high": "drift_score"})[["timestamp", "drift_score"]]  # an empty day is NaN: a gap
    return DrawnSeries(line, band)


def _utc(when: Any) -> pd.Timestamp:
    at = pd.Timestamp(when)
    return at.tz_convert("UTC") if at.tzinfo else at.tz_localize("UTC")


def _x(at: pd.Timestamp) -> float:
    """Matplotlib's date axis position of a timestamp."""
    return float(mdates.date2num(at.to_pydatetime()))  # type: ignore[no-untyped-call]


def _score_at(scores: pd.Series, at: pd.Timestamp) -> float | None:
    """The score of the datapoint at `at`, else the latest one before it (a lifecycle event has no datapoint)."""
    if at in scores.index:
        return float(scores[at])
    earlier = scores[scores.index <= at]
    return float(earlier.iloc[-1]) if len(earlier) else None


def plot_scores(
    frame: pd.DataFrame,
    levels: Mapping[str, float | None],
    alerts: Sequence[tuple[Any, str]],
    retrains: Sequence[Any],
    path: Path,
    title: str,
    *,
    grace: Sequence[Span] = (),
    episodes: Sequence[Span] = (),
    also_svg: bool = False,
) -> Path:
    """Write the figure to `path` (PNG, or SVG by suffix). `alerts` are (time, notice event); `retrains` times.

    `frame` has `timestamp` (UTC) and `drift_score` columns; `grace` and `episodes` are spans to shade."""
    figure, axes = plt.subplots(figsize=(11, 4.8), dpi=110)
    for index, (start, end) in enumerate(episodes):
        axes.axvspan(
            _x(_utc(start)), _x(_utc(end)), color="tab:red", alpha=0.08, label="open episode" if not index else None
        )
    for index, (start, end) in enumerate(grace):
        axes.axvspan(
            _x(_utc(start)),
            _x(_utc(end)),
            color="tab:green",
            alpha=0.12,
            hatch="//",
            label="grace period" if not index else None,
        )
    drawn = drawn_series(frame)
    if drawn.band is not None:
        axes.fill_between(
            drawn.band["timestamp"], drawn.band["low"], drawn.band["high"], color="tab:blue", alpha=0.25,
            linewidth=0, label="drift score, daily min to max",
        )  # fmt: skip
        axes.plot(
            drawn.line["timestamp"], drawn.line["drift_score"], linewidth=0.8, color="tab:blue", label="daily max"
        )
    else:
        axes.plot(
            drawn.line["timestamp"], drawn.line["drift_score"], marker="o", markersize=3, color="tab:blue",
            label="drift score",
        )  # fmt: skip
    for name, level in levels.items():
        if level is not None:
            axes.axhline(level, label=f"{name} {level:g}", linewidth=1.2, **LEVEL_STYLE.get(name, {}))  # type: ignore[arg-type]
    scores = frame.set_index("timestamp")["drift_score"]
    labelled: set[str] = set()
    for when, event in alerts:
        at = _utc(when)
        value = _score_at(scores, at)
        if value is None or event == "retrain_started":
            continue
        axes.scatter(
            [_x(at)],
            [value],
            s=90,
            facecolors="none",
            edgecolors=ALERT_COLOR.get(event, "black"),
            linewidths=2,
            zorder=5,
            label=None if event in labelled else f"alert: {event}",
        )
        labelled.add(event)
    for index, when in enumerate(retrains):
        at = _utc(when)
        value = _score_at(scores, at)
        if value is None:
            continue
        axes.scatter(
            [_x(at)],
            [value],
            marker="*",
            s=260,
            color="crimson",
            zorder=6,
            label="retraining started" if not index else None,
        )
        axes.annotate(f"retrain {at.date()}", (at, value), textcoords="offset points", xytext=(-70, 12))
    axes.set_title(title)
    axes.set_xlabel("datapoint time (UTC)")
    axes.set_ylabel("drift score")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", fontsize=8)
    figure.autofmt_xdate()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path)
    if also_svg:
        figure.savefig(path.with_suffix(".svg"))
    plt.close(figure)
    return path
