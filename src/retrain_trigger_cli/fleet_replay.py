"""`retrain-trigger replay --all-monitors`: what a whole fleet would have done on a long score file, as JSON lines
with `monitor_id`, in time order.

The evaluator decides a tick's due monitors causes first, each through the fleet rules (`FleetTick`, on the pure
`policy.fleet`: inhibition, the retraining budget), then groups the tick's alerts (`policy.digest`), then delivers.
`fleet_tick` is that one step here, over all monitors of the tick, calling the same functions, so the replay
decides as the service does. It decides nothing itself: no rule lives here. What it cannot know it simulates: the
budget in memory (as the state table keeps it), every delivery succeeding at once, every retraining ending as
`--retrain-outcome` says, and CloudWatch alarms named in `suppressed_by` as never firing.
"""

from __future__ import annotations

import bisect
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TextIO

from retrain_trigger.config import Catalog, MonitorConfig, parse_catalog
from retrain_trigger.errors import ConfigError
from retrain_trigger.fleet_config import FleetConfig
from retrain_trigger.fleet_tick import FleetTick, ended_attempt
from retrain_trigger.model import Decision, LifecycleEvent, MonitorState, Observation, OperatorCommand, Status
from retrain_trigger.policy import evaluate, is_due, on_command, on_lifecycle
from retrain_trigger.policy.digest import Digest, tick_digests
from retrain_trigger_cli.engine import Simulation, Step, _delivered, evaluation_times
from retrain_trigger_cli.errors import UsageError
from retrain_trigger_cli.fleet_scores import FleetScores
from retrain_trigger_cli.replay import Replay, record, summarize
from retrain_trigger_cli.scores import score_column_of


@dataclass(frozen=True)
class FleetStep:
    """One engine call for one monitor, and the digest that lists its alert, if the tick grouped it."""

    monitor_id: str
    step: Step
    grouped_in: str | None = None


@dataclass(frozen=True)
class FleetReplay:
    monitors: tuple[MonitorConfig, ...]
    config_version: str
    steps: tuple[FleetStep, ...]
    digests: tuple[Digest, ...]
    start: datetime
    end: datetime


@dataclass
class SimulatedBudget:
    """The fleet's retraining budget as the state table keeps it (adapters/fleet_budget.py), in memory: each UTC
    hour's and day's retrainings and the running ones, one key per retraining attempt, a retake free."""

    hours: dict[str, set[str]] = field(default_factory=dict)
    days: dict[str, set[str]] = field(default_factory=dict)
    running: set[str] = field(default_factory=set)

    def take(self, key: str, now: datetime, fleet: FleetConfig) -> bool:
        now = now.astimezone(UTC)
        windows = [
            (self.hours.setdefault(f"{now:%Y-%m-%dT%H}", set()), fleet.max_retrains_per_hour),
            (self.days.setdefault(f"{now:%Y-%m-%d}", set()), fleet.max_retrains_per_day),
            (self.running, fleet.max_concurrent_retrains),
        ]
        limited = [(taken, limit) for taken, limit in windows if limit is not None]
        if any(key not in taken and len(taken) >= limit for taken, limit in limited):
            return False
        for taken, _ in limited:
            taken.add(key)
        return True

    def release(self, key: str) -> None:
        self.running.discard(key)


class NoAlarms:
    """The replay has no history of CloudWatch alarms: an `alarm:` cause is taken as not firing."""

    def states(self, names: Iterable[str]) -> dict[str, str]:
        return {}


@dataclass
class _World:
    """The fleet as the state table, the budget and the pipelines would hold it between ticks."""

    catalog: Catalog
    simulation: Simulation
    states: dict[str, MonitorState]
    budget: SimulatedBudget = field(default_factory=SimulatedBudget)
    pending: dict[str, LifecycleEvent] = field(default_factory=dict)  # a started retraining's simulated end
    approvals: dict[str, OperatorCommand] = field(default_factory=dict)  # an approval request's simulated answer


def catalog_of(document: Mapping[str, Any]) -> Catalog:
    """Every monitor of the document, valid; a broken one is refused by name, as `config validate` does."""
    try:
        catalog = parse_catalog(document)
    except ConfigError as error:
        raise UsageError(f"config: {error}") from error
    if catalog.errors:
        raise UsageError("config: " + "; ".join(str(e) for e in catalog.errors))
    return catalog


def score_columns(catalog: Catalog) -> dict[str, str]:
    return {m.id: score_column_of(m.source) for m in catalog.monitors}


def fleet_tick(
    world: _World, now: datetime, windows: Mapping[str, Sequence[Observation]]
) -> tuple[list[tuple[MonitorConfig, Decision]], tuple[Digest, ...]]:
    """One tick of the fleet, as the service's `_evaluate` runs it: the due monitors decided causes first through
    the fleet rules (`FleetTick`: inhibition, the budget), each seeing the states decided before it this tick; then
    the tick's digests (`tick_digests`) over all of the tick's decisions."""
    catalog, tick = world.catalog, world.simulation.tick
    due = [m for m in catalog.monitors if is_due(m.every, now, tick, m.evaluation_delay)]
    fleet = FleetTick.start(catalog.fleet, now, due, dict(world.states), world.budget, NoAlarms())
    decided: list[tuple[MonitorConfig, Decision]] = []
    for monitor in fleet.order(due):
        state, window = world.states[monitor.id], windows[monitor.id]
        decision = fleet.decide(monitor, partial(_evaluate, monitor, state, window, now, catalog.version, tick))
        fleet.committed(monitor.id, decision.state, [decision])
        decided.append((monitor, decision))
    return decided, tick_digests(decided, catalog.fleet.group_alerts_over, now)


def _evaluate(
    monitor: MonitorConfig,
    state: MonitorState,
    window: Sequence[Observation],
    now: datetime,
    version: str,
    tick: timedelta,
    held: tuple[str, ...],
) -> Decision:
    """The evaluator's call (service._decide): the engine with the fleet's holds as blockers."""
    return evaluate(monitor, state, window, now, version, tick=tick, held=held)


def replay_fleet(
    catalog: Catalog,
    series: Mapping[str, Sequence[Observation]],
    simulation: Simulation,
    start: datetime,
    end: datetime,
) -> FleetReplay:
    """Every engine call the evaluator and the lifecycle function would make for the fleet from start to end."""
    world = _World(catalog, simulation, {m.id: MonitorState(monitor_id=m.id) for m in catalog.monitors})
    times = {m.id: [o.at for o in series.get(m.id, ())] for m in catalog.monitors}
    steps: list[FleetStep] = []
    found: list[Digest] = []
    for now in evaluation_times(None, start, end, simulation.tick):
        steps += _answered(world, now)  # as the one-monitor replay: an approval, then what ended, then the tick
        steps += _ended(world, now)
        windows = {}
        for monitor in catalog.monitors:
            newest = bisect.bisect_right(times[monitor.id], now)
            windows[monitor.id] = series.get(monitor.id, ())[max(0, newest - monitor.evaluation_periods) : newest]
        decided, digests = fleet_tick(world, now, windows)
        found += digests
        grouped = {key: d.key for d in digests for key in d.grouped()}
        for monitor, decision in decided:
            step = Step(now, "evaluation", decision)
            keys = [a.key for a in decision.new_actions if a.key in grouped]
            steps.append(FleetStep(monitor.id, step, grouped[keys[0]] if keys else None))
            world.states[monitor.id] = _delivered(decision.state, now)
            _simulate_end(monitor, world, step)
            steps += _asked(world, monitor, decision, now)
    return FleetReplay(catalog.monitors, catalog.version, tuple(steps), tuple(found), start, end)


def _ended(world: _World, now: datetime) -> list[FleetStep]:
    """Retrainings that ended by this tick reached the lifecycle function before the evaluator runs: oldest first.
    As the lifecycle function does, an ended retraining frees its slot of the budget."""
    steps: list[FleetStep] = []
    catalog = world.catalog
    for monitor_id, event in sorted(world.pending.items(), key=lambda item: (item[1].at, item[0])):
        if event.at > now:
            continue
        monitor = catalog.get(monitor_id)
        assert monitor is not None
        decision = on_lifecycle(monitor, world.states[monitor_id], event, catalog.version)
        steps.append(FleetStep(monitor_id, Step(event.at, event.kind, decision)))  # type: ignore[arg-type]
        world.states[monitor_id] = _delivered(decision.state, event.at)
        if catalog.fleet.max_concurrent_retrains is not None and (key := ended_attempt(decision)):
            world.budget.release(key)
        del world.pending[monitor_id]
    return steps


def _asked(world: _World, monitor: MonitorConfig, decision: Decision, now: datetime) -> list[FleetStep]:
    """A new approval request gets the simulated operator's answer `approve_after` later (never with
    `--approval never`: its `approval_timeout` decides); one answered at once starts at the request's own tick."""
    episode, approve_after = decision.state.episode, world.simulation.approve_after
    asked = decision.state.status is Status.AWAITING_APPROVAL and decision.before.status is not Status.AWAITING_APPROVAL
    if not asked or episode is None or approve_after is None:
        return []
    command = OperatorCommand(
        kind="approve", monitor_id=monitor.id, at=now + approve_after, episode_id=episode.id, by="replay"
    )
    if command.at > now:
        world.approvals[monitor.id] = command
        return []
    return [_approve(world, monitor, command)]


def _answered(world: _World, now: datetime) -> list[FleetStep]:
    """Approvals given by this tick reached the lifecycle function (or the CLI) before the evaluator runs."""
    steps: list[FleetStep] = []
    for monitor_id, command in sorted(world.approvals.items(), key=lambda item: (item[1].at, item[0])):
        if command.at <= now:
            del world.approvals[monitor_id]
            monitor = world.catalog.get(monitor_id)
            assert monitor is not None
            steps.append(_approve(world, monitor, command))
    return steps


def _approve(world: _World, monitor: MonitorConfig, command: OperatorCommand) -> FleetStep:
    """The service's `handle_command` on the simulated state: the engine's own `on_command`."""
    answer = on_command(monitor, world.states[monitor.id], command, world.catalog.version)
    step = Step(command.at, "approved", answer.decision)
    world.states[monitor.id] = _delivered(answer.decision.state, command.at)
    _simulate_end(monitor, world, step)
    return FleetStep(monitor.id, step)


def _simulate_end(monitor: MonitorConfig, world: _World, step: Step) -> None:
    episode = world.states[monitor.id].episode
    simulation = world.simulation
    if step.retrain_started and episode is not None and simulation.retrain_outcome != "never":
        world.pending[monitor.id] = LifecycleEvent(
            kind=simulation.retrain_outcome,
            at=step.at + simulation.retrain_duration,
            monitor_id=monitor.id,
            episode_id=episode.id,
            attempt=episode.retrains,
            detail="simulated by retrain-trigger replay",
        )


def run(
    document: Mapping[str, Any], scores: FleetScores, simulation: Simulation, until: datetime | None = None
) -> FleetReplay:
    return replay_fleet(catalog_of(document), scores.series, simulation, scores.start, until or scores.end)


def fleet_record(step: FleetStep) -> dict[str, Any]:
    """A one-monitor replay's line, with `monitor_id` first and, when its alert went into a digest, `grouped_in`."""
    row = {"monitor_id": step.monitor_id, **record(step.step)}
    return row | ({"grouped_in": step.grouped_in} if step.grouped_in else {})


def per_monitor(result: FleetReplay) -> list[Replay]:
    """The fleet's replay cut into one replay per monitor: what `replay --monitor` summarizes, for each."""
    return [
        Replay(m, result.config_version, tuple(s.step for s in result.steps if s.monitor_id == m.id), result.start,
               result.end)
        for m in result.monitors
    ]  # fmt: skip


def summary(result: FleetReplay) -> dict[str, Any]:
    """The fleet's counts: each monitor's summary summed, and the digests on-call would have read."""
    summaries = [summarize(r) for r in per_monitor(result)]
    alerts: Counter[str] = Counter()
    for one in summaries:
        alerts.update(one.alerts)
    return {
        "monitors": len(summaries),
        "evaluations": sum(s.evaluations for s in summaries),
        "retrains": sum(s.retrains for s in summaries),
        "alerts": dict(sorted(alerts.items())),
        "digests": len(result.digests),
        "retraining_monitors": sorted(r.monitor.id for r, s in zip(per_monitor(result), summaries, strict=True)
                                      if s.retrains),
    }  # fmt: skip


def write_json_lines(result: FleetReplay, out: TextIO) -> None:
    """Every step in time order; within a tick, lifecycle steps first (oldest first), then the evaluations in the
    document's monitor order, as the evaluator decides them."""
    for item in result.steps:
        out.write(json.dumps(fleet_record(item)) + "\n")
