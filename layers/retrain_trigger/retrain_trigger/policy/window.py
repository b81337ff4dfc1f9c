"""What a monitor's datapoints say at `now`: which are fresh evidence, which count as missing, and whether a
no-data gap runs. The one type for "the window"; the rules read it, never the raw datapoints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from retrain_trigger.config import MonitorConfig
from retrain_trigger.model import MonitorState, Observation


@dataclass(frozen=True)
class Window:
    """One monitor's last `evaluation_periods` datapoints as evidence at one time."""

    monitor: MonitorConfig
    fresh: tuple[Observation, ...]  # oldest first: real, fresh, newer than the last completed retraining
    newest: Observation | None  # the newest datapoint seen at all (stale or not)
    newest_at: datetime | None  # the newest datapoint time known, the state's last one included
    no_data_after: timedelta | None  # None: the no-data alert is off
    gap: bool  # the newest datapoint is older than no_data_after
    thin: tuple[Observation, ...] = ()  # computed on fewer rows than min_samples: counted as missing

    @classmethod
    def at(
        cls,
        monitor: MonitorConfig,
        state: MonitorState,
        datapoints: Sequence[Observation],
        now: datetime,
        tick: timedelta,
    ) -> Window:
        """The window at `now`, from datapoints in any order."""
        # A datapoint stamped after the evaluation time is not seen yet (a late tick, a replay), never an error.
        seen = sorted((o for o in datapoints if o.at <= now), key=lambda o: o.at, reverse=True)
        newest = seen[0] if seen else None
        known = [o.at for o in seen[:1]] + [t for t in (state.last_datapoint_at,) if t is not None and t <= now]
        newest_at = max(known, default=None)
        no_data_after = monitor.no_data_limit(tick)
        gap = no_data_after is not None and newest_at is not None and now - newest_at > no_data_after
        cutoff = state.evidence_after
        newest_first = [o for o in seen if cutoff is None or o.at > cutoff][: monitor.evaluation_periods]
        # A datapoint older than max_age counts as missing; in a no-data gap, or from before the last completed
        # retraining, every datapoint does: a gap or stale evidence never retrains, escalates or closes an episode.
        staleness = monitor.staleness_at(tick)
        fresh = () if gap else tuple(o for o in newest_first if now - o.at <= staleness)[::-1]
        # A score computed on too few rows is no evidence either way: its slot counts as missing.
        thin = tuple(o for o in fresh if _too_few(monitor, o))
        fresh = tuple(o for o in fresh if o not in thin)
        return cls(monitor, fresh, newest, newest_at, no_data_after, gap, thin)

    @property
    def latest(self) -> Observation | None:
        """The newest fresh datapoint: the score a decision reports."""
        return self.fresh[-1] if self.fresh else None

    @property
    def missing(self) -> int:
        return self.monitor.evaluation_periods - len(self.fresh)

    def count_above(self, level: float) -> int:
        """Datapoints strictly above `level`, missing ones included when missing data is breaching."""
        missing_breach = self.missing if self.monitor.missing_data == "breaching" else 0
        return sum(1 for o in self.fresh if _above(o, level)) + missing_breach

    @property
    def breaches(self) -> int:
        return self.count_above(self.monitor.critical)

    @property
    def critical(self) -> bool:
        return self.breaches >= self.monitor.datapoints_to_trigger

    @property
    def warning(self) -> bool:
        level = self.monitor.warning
        return level is not None and self.count_above(level) >= self.monitor.datapoints_to_trigger

    @property
    def trigger(self) -> Observation | None:
        """The newest real datapoint above critical: it names the episode."""
        return next((o for o in reversed(self.fresh) if _above(o, self.monitor.critical)), None)

    @property
    def below_reset(self) -> bool:
        """Recovery needs evidence: the last `datapoints_to_recover` datapoints, all real and below reset."""
        recent = self.fresh[-self.monitor.datapoints_to_recover :]
        return len(recent) == self.monitor.datapoints_to_recover and all(
            o.score < self.monitor.reset_level and not o.critical_features for o in recent
        )

    def score_text(self) -> str:
        latest = self.latest
        return "missing" if latest is None else f"{latest.score:g}"

    def above_text(self, trigger: Observation | None, score: str) -> str:
        """What breached critical: the score, or the critical features that breach on their own."""
        critical = self.monitor.critical
        if trigger is None or trigger.score > critical or not trigger.critical_features:
            return f"drift {score} > {critical}"
        named = ", ".join(f"{name} {trigger.features[name]:g}" for name in trigger.critical_features)
        return f"critical feature {named} above its threshold (drift {score}, critical {critical})"

    def missing_text(self) -> str:
        """Why datapoints counted as missing though they were read: too few rows (empty when none did)."""
        if not self.thin:
            return ""
        counts = ", ".join(f"{o.sample_count:g} at {o.at.isoformat()}" for o in self.thin)
        least = self.monitor.min_samples
        return f"{len(self.thin)} datapoint(s) counted as missing: sample_count below min_samples {least} ({counts})"

    def m_of_n(self, level: float | None) -> str:
        count = self.count_above(level) if level is not None else 0
        return f"{count} of the last {self.monitor.evaluation_periods} datapoints"


def _above(observation: Observation, level: float) -> bool:
    """Above `level`: the score is, or a critical feature breaches on its own."""
    return observation.score > level or bool(observation.critical_features)


def _too_few(monitor: MonitorConfig, observation: Observation) -> bool:
    count, least = observation.sample_count, monitor.min_samples
    return count is not None and least is not None and count < least
