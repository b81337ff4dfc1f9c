"""`retrain-trigger simulate`: a synthetic drift series (baseline, onsets, daily increase, jumps, noise, gaps) and
the drift episodes it contains, as the labels `compare --labels` reads."""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from retrain_trigger_cli.errors import UsageError
from retrain_trigger_cli.scores import write_scores

PRESETS = ("gradual", "sudden", "flapping", "gaps", "recovery")


@dataclass(frozen=True)
class Scenario:
    """A series of `days` at one point per `every`, with `episodes` drift episodes of `duration` days each.

    Inside an episode the score is baseline + jump + increase x (days since onset); noise is Gaussian."""

    start: datetime
    days: float = 30
    every: timedelta = timedelta(days=1)
    baseline: float = 0.05
    noise: float = 0.01
    onset: float | None = None  # days from the start to the first episode; None: 40% into its share of the series
    increase: float = 0.015  # per day inside an episode
    jump: float = 0.0
    duration: float | None = None  # days; None: to the end (one episode) or 30% of each episode's share
    episodes: int = 1
    gaps: float = 0.0  # the share of datapoints missing
    seed: int = 0

    def episode_spans(self) -> list[tuple[datetime, datetime]]:
        end = self.start + timedelta(days=self.days)
        if self.episodes <= 0:
            return []
        share = self.days / self.episodes
        first = self.onset if self.onset is not None else 0.4 * share
        length = self.duration if self.duration is not None else (self.days if self.episodes == 1 else 0.3 * share)
        spans = []
        for index in range(self.episodes):
            opened = self.start + timedelta(days=first + index * share)
            spans.append((opened, min(opened + timedelta(days=length), end)))
        return spans


def preset(name: str, start: datetime) -> Scenario:
    """The named scenario; any option given on the command line overrides its values."""
    base = Scenario(start=start)
    match name:
        case "gradual":
            return base
        case "sudden":
            return replace(base, increase=0.0, jump=0.2)
        case "flapping":  # around the template's critical level 0.2: the M-of-N and reset levels earn their keep
            return replace(base, baseline=0.2, noise=0.02, episodes=0)
        case "gaps":
            return replace(base, gaps=0.25)
        case "recovery":  # the drift ends after ten days, as it does when a retraining fixes it
            return replace(base, onset=12, duration=10, increase=0.02)
    raise ValueError(f"unknown preset {name!r} (presets: {', '.join(PRESETS)})")


def checked(scenario: Scenario) -> Scenario:
    """The scenario, or a UsageError naming the first option out of its range."""
    for name in ("days", "baseline", "noise", "onset", "increase", "jump", "duration", "gaps"):
        value = getattr(scenario, name)
        if value is not None and not math.isfinite(value):
            raise UsageError(f"--{name} {value}: must be a finite number")
    limits = (
        ("--days", scenario.days > 0, "must be more than 0"),
        ("--noise", scenario.noise >= 0, "must not be negative (it is a standard deviation)"),
        ("--gaps", 0 <= scenario.gaps < 1, "must be a share from 0 up to, not including, 1"),
        ("--episodes", scenario.episodes >= 0, "must not be negative"),
        ("--onset", scenario.onset is None or scenario.onset >= 0, "must not be negative"),
        ("--duration", scenario.duration is None or scenario.duration > 0, "must be more than 0"),
    )
    for option, holds, problem in limits:
        if not holds:
            value = getattr(scenario, option.removeprefix("--"))
            raise UsageError(f"{option} {value:g}: {problem}")
    return scenario


def generate(scenario: Scenario) -> list[tuple[datetime, float | None]]:
    rng = random.Random(scenario.seed)
    spans = scenario.episode_spans()
    rows: list[tuple[datetime, float | None]] = []
    at, end = scenario.start, scenario.start + timedelta(days=scenario.days)
    while at < end:
        drift = next(
            (
                scenario.jump + scenario.increase * (at - opened).total_seconds() / 86400
                for opened, closed in spans
                if opened <= at < closed
            ),
            0.0,
        )
        score = max(0.0, scenario.baseline + drift + rng.gauss(0.0, scenario.noise))
        missing = rng.random() < scenario.gaps
        rows.append((at, None if missing else round(score, 4)))
        at += scenario.every
    return rows


def write(scenario: Scenario, out: Path, labels: Path | None = None) -> tuple[int, int]:
    """Write the series (and the labels); returns (rows, datapoints)."""
    rows = generate(scenario)
    write_scores(out, rows)
    if labels is not None:
        labels.parent.mkdir(parents=True, exist_ok=True)
        with labels.open("w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")  # as the score file: LF, not csv's CRLF
            writer.writerow(["start", "end"])
            for opened, closed in scenario.episode_spans():
                writer.writerow([opened.strftime("%Y-%m-%dT%H:%M:%SZ"), closed.strftime("%Y-%m-%dT%H:%M:%SZ")])
    return len(rows), sum(1 for _, score in rows if score is not None)
