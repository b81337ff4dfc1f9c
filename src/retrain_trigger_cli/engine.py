"""The only module that calls the policy engine: the evaluator's own `is_due`, `evaluate` and `on_lifecycle`.

Replay walks the ticks of the evaluator's schedule, evaluates the monitor whenever `is_due` says the evaluator
would, with the datapoints the score table would hold at that time, and feeds each started retraining's simulated
outcome back through `on_lifecycle`. It decides nothing itself: no rule lives here.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from retrain_trigger.config import DEFAULT_TICK, MonitorConfig
from retrain_trigger.model import Decision, LifecycleEvent, MonitorState, Observation, Status
from retrain_trigger.policy import evaluate, is_due, on_lifecycle

RetrainOutcome = Literal["succeeded", "failed", "stopped", "never"]
StepKind = Literal["evaluation", "succeeded", "failed", "stopped"]


@dataclass(frozen=True)
class Simulation:
    """How the replay's world behaves: the evaluator's tick, and how each started retraining ends."""

    tick: timedelta = DEFAULT_TICK
    retrain_duration: timedelta = timedelta(hours=3)
    retrain_outcome: RetrainOutcome = "succeeded"


@dataclass(frozen=True)
class Step:
    """One call into the engine: an evaluation at a due tick, or a simulated retraining's final status."""

    at: datetime
    kind: StepKind
    decision: Decision

    @property
    def retrain_started(self) -> bool:
        return any(a.notice.event == "retrain_started" for a in self.decision.new_actions)


def evaluation_times(every: timedelta | None, start: datetime, end: datetime, tick: timedelta) -> Iterator[datetime]:
    """The scheduler's ticks (multiples of `tick` since the epoch) in [start, end] at which the monitor is due."""
    seconds = tick.total_seconds()
    at = datetime.fromtimestamp(math.ceil(start.timestamp() / seconds) * seconds, UTC)
    while at <= end:
        if is_due(every, at, tick):
            yield at
        at += tick


def replay(
    monitor: MonitorConfig,
    observations: Sequence[Observation],
    config_version: str,
    simulation: Simulation,
    start: datetime,
    end: datetime,
) -> list[Step]:
    """Every engine call the evaluator and the lifecycle function would make for this monitor from start to end."""
    times = [o.at for o in observations]
    state = MonitorState(monitor_id=monitor.id)
    pending: LifecycleEvent | None = None
    steps: list[Step] = []
    for now in evaluation_times(monitor.every, start, end, simulation.tick):
        # A retraining that ended by this tick reached the lifecycle function before the evaluator runs.
        if pending is not None and pending.at <= now:
            decision = on_lifecycle(monitor, state, pending, config_version)
            steps.append(Step(pending.at, pending.kind, decision))  # type: ignore[arg-type]
            state, pending = _delivered(decision.state, pending.at), None
        newest = bisect.bisect_right(times, now)
        window = observations[max(0, newest - monitor.evaluation_periods) : newest]
        decision = evaluate(monitor, state, window, now, config_version)
        step = Step(now, "evaluation", decision)
        steps.append(step)
        state = _delivered(decision.state, now)
        if step.retrain_started and state.episode is not None and simulation.retrain_outcome != "never":
            pending = LifecycleEvent(
                kind=simulation.retrain_outcome,
                at=now + simulation.retrain_duration,
                monitor_id=monitor.id,
                episode_id=state.episode.id,
                attempt=state.episode.retrains,
                detail="simulated by retrain-trigger replay",
            )
    return steps


def _delivered(state: MonitorState, at: datetime) -> MonitorState:
    """The outbox as the evaluator runs it when every delivery succeeds at once: pending actions are done, and a
    requested retraining started at the evaluation time."""
    if not state.pending:
        return state
    actions = tuple(
        a.model_copy(update={"status": "done", "attempts": a.attempts + 1}) if a.status == "pending" else a
        for a in state.actions
    )
    episode = state.episode
    if state.status is Status.RETRAINING and episode is not None and episode.retrain_started_at is None:
        episode = episode.model_copy(update={"retrain_started_at": at})
    return state.model_copy(update={"actions": actions, "episode": episode})
