"""The classic "score vs threshold" figure: the series, the warning/critical/reset levels, alerts and retrainings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

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
ALERT_COLOR = {"warning": "tab:orange", "critical": "tab:red", "escalation": "darkred", "recovered": "tab:green"}


def _x(at: pd.Timestamp) -> float:
    """Matplotlib's date axis position of a timestamp."""
    return float(mdates.date2num(at.to_pydatetime()))  # type: ignore[no-untyped-call]


def plot_scores(
    frame: pd.DataFrame,
    levels: Mapping[str, float | None],
    alerts: Sequence[tuple[str, str]],
    retrains: Sequence[str],
    path: Path,
    title: str,
) -> Path:
    """Write the figure to `path` (PNG). `alerts` are (datapoint time, event); `retrains` datapoint times."""
    figure, axes = plt.subplots(figsize=(11, 4.8), dpi=110)
    axes.plot(frame["timestamp"], frame["drift_score"], marker="o", markersize=3, color="tab:blue", label="drift score")
    for name, level in levels.items():
        if level is not None:
            axes.axhline(level, label=f"{name} {level:g}", linewidth=1.2, **LEVEL_STYLE.get(name, {}))  # type: ignore[arg-type]
    scores = frame.set_index("timestamp")["drift_score"]
    labelled: set[str] = set()
    for when, event in alerts:
        at = pd.Timestamp(when).tz_convert("UTC") if pd.Timestamp(when).tzinfo else pd.Timestamp(when, tz="UTC")
        if at in scores.index and event != "retrain_started":
            label = None if event in labelled else f"alert: {event}"
            labelled.add(event)
            axes.scatter(
                [_x(at)],
                [scores[at]],
                s=90,
                facecolors="none",
                edgecolors=ALERT_COLOR.get(event, "black"),
                linewidths=2,
                zorder=5,
                label=label,
            )
    for index, when in enumerate(retrains):
        at = pd.Timestamp(when)
        at = at.tz_convert("UTC") if at.tzinfo else at.tz_localize("UTC")
        if at in scores.index:
            axes.scatter(
                [_x(at)],
                [scores[at]],
                marker="*",
                s=260,
                color="crimson",
                zorder=6,
                label="retraining started" if index == 0 else None,
            )
            axes.annotate(f"retrain {at.date()}", (at, scores[at]), textcoords="offset points", xytext=(-70, 12))
    axes.set_title(title)
    axes.set_xlabel("datapoint time (UTC)")
    axes.set_ylabel("drift score")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", fontsize=8)
    figure.autofmt_xdate()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
