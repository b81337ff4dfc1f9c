"""The demo's multi-feature scenario (`make demo ARGS=--features`): the monitor's score is computed from four
features' drift values, and the figure shows the top drifting features.

The features are derived from the score file's `drift_score` column deterministically, so the scenario needs no
other data (with `combine: max` the income feature is the score). `income` is a critical feature: above its own
threshold, 0.15, it breaches on its own, so the reference retrains on 2024-08-07, two days before the single-score
demo's 2024-08-09, when the score itself (0.1614) is still below critical (0.2):

- `income` = drift_score: the feature that drifts;
- `tenure` = 0.6 x drift_score;
- `age`    = 0.5 x drift_score + 0.02 (below drift_score whenever drift_score > 0.04, as every reference row is);
- `plan`   = 0.03, constant.

Each value is rounded to 4 decimals, as the reference scores are. The score table item carries each feature as its
own attribute (`score_items.feature_attribute`); the CloudWatch source gets one `feature_baseline_drift_<name>`
metric per feature, as SageMaker Model Monitor emits them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server or in CI

import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from retrain_trigger.model import Observation
from retrain_trigger.score_items import feature_attribute

SCORE: dict[str, Any] = {
    "combine": "max",
    "features": ["income", "tenure", "age", "plan"],
    "feature_threshold": {"income": 0.15, "tenure": 0.1, "age": 0.1, "plan": 0.1},
    "critical_features": ["income"],  # breaches on its own above 0.15, before the score reaches critical (0.2)
}
TOP = 3  # the features the figure names, as the decision log and the alerts do


def features_of(drift_score: float) -> dict[str, float]:
    """The scenario's four feature values for one reference score (see the module docstring)."""
    return {
        "income": round(drift_score, 4),
        "tenure": round(0.6 * drift_score, 4),
        "age": round(0.5 * drift_score + 0.02, 4),
        "plan": 0.03,
    }


def item_attributes(observation: Observation) -> dict[str, float]:
    """The feature attributes of the score item written for `observation`."""
    return {feature_attribute(name): value for name, value in features_of(observation.score).items()}


def metric_data(observation: Observation, dimensions: Sequence[Mapping[str, str]]) -> list[dict[str, Any]]:
    """The per-feature CloudWatch datapoints, named as Model Monitor names them."""
    return [
        {"MetricName": f"feature_baseline_drift_{name}", "Dimensions": list(dimensions), "Timestamp": observation.at,
         "Value": value}
        for name, value in features_of(observation.score).items()
    ]  # fmt: skip


def apply_score(document: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    """The configuration document with the multi-feature `score` key on every monitor."""
    for monitor in document["monitors"]:
        monitor["score"] = SCORE
    say(f"demo set score {SCORE} (the features derived from the score file; see demo_features.py)")
    return document


def plot_features(observations: Sequence[Observation], retrains: Sequence[datetime], path: Path, title: str) -> Path:
    """Each feature's drift value over time, the top features at the newest datapoint named with their values, the
    feature threshold and the retraining starts."""
    times = mdates.date2num([o.at for o in observations])  # type: ignore[no-untyped-call]
    values = [features_of(o.score) for o in observations]
    newest = sorted(values[-1].items(), key=lambda item: (-item[1], item[0]))[:TOP] if values else []
    figure, axes = plt.subplots(figsize=(11, 4.8), dpi=110)
    for name in SCORE["features"]:
        rank = next((i for i, (top, _v) in enumerate(newest) if top == name), None)
        label = f"#{rank + 1} {name} {values[-1][name]:g}" if rank is not None else f"{name}"
        width = 2.2 - 0.4 * (TOP if rank is None else rank)  # the top feature drawn boldest
        axes.plot(times, [v[name] for v in values], marker="o", markersize=3, linewidth=width, label=label)
    axes.axhline(SCORE["feature_threshold"]["income"], color="crimson", linestyle="--", label="income: critical above")
    axes.axhline(SCORE["feature_threshold"]["age"], color="tab:orange", linestyle=":", label="feature threshold")
    for index, at in enumerate(retrains):
        x = float(mdates.date2num(at))  # type: ignore[no-untyped-call]
        axes.axvline(x, color="crimson", linewidth=1.2, label="retraining started" if not index else None)
    axes.xaxis_date()
    axes.set_title(f"{title}: top {TOP} drifting features at the newest datapoint")
    axes.set_xlabel("datapoint time (UTC)")
    axes.set_ylabel("feature drift")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", fontsize=8)
    figure.autofmt_xdate()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
