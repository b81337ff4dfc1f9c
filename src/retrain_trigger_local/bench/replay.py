"""Replay speed: the policy engine over a simulated year of hourly scores, through the CLI's replay."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from datetime import timedelta

from retrain_trigger.config import MonitorConfig
from retrain_trigger.model import Observation
from retrain_trigger_cli.engine import Simulation, replay
from retrain_trigger_local.bench.scenario import SCORES_AT, THRESHOLDS

HOURS_PER_YEAR = 365 * 24
RUNS = 3


@dataclass(frozen=True)
class ReplayRate:
    evaluations: int
    transitions: int
    seconds: float  # median of RUNS

    @property
    def per_second(self) -> float:
        return self.evaluations / self.seconds


def year_of_scores(monitor_id: str, hours: int = HOURS_PER_YEAR) -> list[Observation]:
    """Hourly scores with a drift episode every month: they cross warning, critical and reset, so the engine's
    every branch (alerts, retraining, recovery) runs, not only its quiet path."""
    return [
        Observation.checked(
            monitor_id,
            SCORES_AT + timedelta(hours=h),
            round(0.05 + 0.25 * max(0.0, math.sin(2 * math.pi * h / (24 * 30))), 4),
        )
        for h in range(hours)
    ]


def replay_rate(hours: int = HOURS_PER_YEAR, runs: int = RUNS) -> ReplayRate:
    monitor = MonitorConfig.model_validate({"id": "replay", **THRESHOLDS})
    observations = year_of_scores(monitor.id, hours)
    start, end = observations[0].at, observations[-1].at
    seconds: list[float] = []
    steps = []
    for _ in range(runs):
        began = time.perf_counter()
        steps = replay(monitor, observations, "bench", Simulation(), start, end)
        seconds.append(time.perf_counter() - began)
    evaluations = sum(1 for s in steps if s.kind == "evaluation")
    transitions = sum(1 for s in steps if s.decision.changed)
    return ReplayRate(evaluations, transitions, statistics.median(seconds))
