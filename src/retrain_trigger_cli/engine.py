"""The only module that calls the policy engine: the evaluator's own `is_due`, `evaluate` and `on_lifecycle`.

Replay walks the ticks of the evaluator's schedule, evaluates the monitor whenever `is_due` says the evaluator
would, with the datapoints the score table would hold at that time, and feeds each started retraining's simulated
outcome back through `on_lifecycle`, and each approval request's simulated answer through `on_command` (approved
`approve_after` after the request, or never: the request's `approval_timeout` decides). It decides nothing itself:
no rule lives here.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from retrain_trigger.config import DEFAULT_TICK, MonitorConfig
from retrain_trigger.model import Decision, LifecycleEvent, MonitorState, Observation, OperatorCommand, Status
from retrain_trigger.policy import evaluate, is_due, on_command, on_lifecycle

RetrainOutcome = Literal["succeeded", "failed", "stopped", "never"]
StepKind = Literal["evaluation", "succeeded", "failed", "stopped", "approved"]


@dataclass(frozen=True)
class Simulation:
    """How the replay's world behaves: the evaluator's tick, and how each started retraining ends."""

    tick: timedelta = DEFAULT_TICK
    retrain_duration: timedelta = timedelta(hours=3)
    retrain_outcome: RetrainOutcome = "succeeded"
    approve_after: timedelta | None = timedelta(0)  # how long an operator takes to approve (None: never approves)


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
    approval: OperatorCommand | None = None
    steps: list[Step] = []
    for now in evaluation_times(monitor.every, start, end, simulation.tick):
        # An approval (nothing runs while one is awaited) comes before the retraining it starts.
        if approval is not None and approval.at <= now:
            state, pending = _approved(monitor, state, approval, config_version, simulation, steps)
            approval = None
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
        pending = _outcome(step, state, simulation) or pending
        episode = state.episode
        asked = state.status is Status.AWAITING_APPROVAL and decision.before.status is not Status.AWAITING_APPROVAL
        if asked and episode is not None and simulation.approve_after is not None:
            at = now + simulation.approve_after
            approval = OperatorCommand(kind="approve", monitor_id=monitor.id, at=at, episode_id=episode.id, by="replay")
            if at <= now:  # approved at once: the retraining starts at the request's own tick
                state, pending = _approved(monitor, state, approval, config_version, simulation, steps)
                approval = None
    return steps


def _approved(
    monitor: MonitorConfig,
    state: MonitorState,
    approval: OperatorCommand,
    config_version: str,
    simulation: Simulation,
    steps: list[Step],
) -> tuple[MonitorState, LifecycleEvent | None]:
    """The simulated operator's approval, as the lifecycle function (or the CLI) applies it."""
    answer = on_command(monitor, state, approval, config_version)
    step = Step(approval.at, "approved", answer.decision)
    steps.append(step)
    state = _delivered(answer.decision.state, approval.at)
    return state, _outcome(step, state, simulation)


def _outcome(step: Step, state: MonitorState, simulation: Simulation) -> LifecycleEvent | None:
    """The simulated final status of the retraining `step` started (None: it started none, or none ever arrives)."""
    if not step.retrain_started or state.episode is None or simulation.retrain_outcome == "never":
        return None
    return LifecycleEvent(
        kind=simulation.retrain_outcome,
        at=step.at + simulation.retrain_duration,
        monitor_id=state.monitor_id,
        episode_id=state.episode.id,
        attempt=state.episode.retrains,
        detail="simulated by retrain-trigger replay",
    )


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
