"""One tick's fleet: the order monitors are decided in, the states their dependents see, the alarms read, the
budget taken and freed. The rules themselves are pure (policy/fleet.py); this is their orchestration for the
service, kept out of service.py so that stays one sitting's read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from retrain_trigger.config import MonitorConfig
from retrain_trigger.errors import RetrainTriggerError
from retrain_trigger.fleet_config import FleetConfig, alarm_causes, monitor_causes
from retrain_trigger.model import Decision, MonitorState, Status
from retrain_trigger.policy.fleet import UNREADABLE, budget_key, decide_in_fleet, tick_order


class FleetBudget(Protocol):
    def take(self, key: str, now: datetime, fleet: FleetConfig) -> bool:
        """Count retraining `key` against the fleet's limits: False when over budget. Idempotent per key."""
        ...

    def release(self, key: str) -> None:
        """Retraining `key` ended: its concurrency slot frees. Idempotent."""
        ...


class AlarmStates(Protocol):
    def states(self, names: Iterable[str]) -> dict[str, str]:
        """Alarm name -> CloudWatch StateValue, for the named alarms that exist."""
        ...


def cause_ids(monitors: Iterable[MonitorConfig]) -> list[str]:
    """The cause monitors the given monitors name (their states are read with the tick's, in the same batches)."""
    return list(dict.fromkeys(c for m in monitors for c in monitor_causes(m.suppressed_by)))


def ended_attempt(decision: Decision) -> str | None:
    """The budget key of the retraining `decision` ended (it left RETRAINING), else None."""
    before = decision.before
    if before.status is not Status.RETRAINING or decision.state.status is Status.RETRAINING or before.episode is None:
        return None
    return f"{before.episode.id}#{before.episode.retrains}"


@dataclass
class FleetTick:
    """The fleet as one invocation sees it while it decides its monitors."""

    fleet: FleetConfig
    now: datetime
    states: dict[str, MonitorState] = field(default_factory=dict)  # as decided so far this tick
    alarms: Mapping[str, str] = field(default_factory=dict)
    budget: FleetBudget | None = None
    over_budget: bool = False  # once refused, every later start of this tick is held too: priority order holds

    @classmethod
    def start(
        cls,
        fleet: FleetConfig,
        now: datetime,
        due: Sequence[MonitorConfig],
        states: Mapping[str, MonitorState | RetrainTriggerError],
        budget: FleetBudget | None,
        alarms: AlarmStates | None,
    ) -> FleetTick:
        """Read the alarms the due monitors name (only when some do: a steady tick without them makes no call)."""
        names = sorted({a for m in due for a in alarm_causes(m.suppressed_by)})
        read: Mapping[str, str] = {}
        if names:
            try:
                read = alarms.states(names) if alarms is not None else dict.fromkeys(names, UNREADABLE)
            except RetrainTriggerError:
                read = dict.fromkeys(names, UNREADABLE)  # holding a start is safer than one on broken data
        known = {i: s for i, s in states.items() if isinstance(s, MonitorState)}
        return cls(fleet, now, known, read, budget if fleet.budgeted else None)

    def order(self, due: Sequence[MonitorConfig]) -> list[MonitorConfig]:
        return tick_order(due, self.states)

    def decide(self, monitor: MonitorConfig, decide: Callable[[tuple[str, ...]], Decision]) -> Decision:
        causes = {c: self.states.get(c) for c in monitor_causes(monitor.suppressed_by)}
        return decide_in_fleet(decide, monitor, causes, self.alarms, self._take if self.budget else None)

    def _take(self, decision: Decision) -> bool:
        if self.over_budget or self.budget is None:
            return False
        taken = self.budget.take(budget_key(decision), self.now, self.fleet)
        self.over_budget = not taken
        return taken

    def committed(self, monitor_id: str, state: MonitorState, decisions: Iterable[Decision]) -> None:
        """`state` is committed: dependents decided later this tick see it; retrainings ended free their slot."""
        self.states[monitor_id] = state
        for decision in decisions:
            self.release(decision)

    def release(self, decision: Decision) -> None:
        key = ended_attempt(decision)
        if key is not None and self.budget is not None and self.fleet.max_concurrent_retrains is not None:
            self.budget.release(key)
