"""The "score vs levels" figure: the series, the warning/critical/reset levels, shaded grace periods and open
episodes, and a marker for each alert and each retraining. The demo's figure is drawn by this same code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    axes.plot(frame["timestamp"], frame["drift_score"], marker="o", markersize=3, color="tab:blue", label="drift score")
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
