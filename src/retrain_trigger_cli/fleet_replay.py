"""`retrain-trigger replay --all-monitors`: what a whole fleet would have done on a long score file, as JSON lines
with `monitor_id`, in time order.

The evaluator decides a tick's due monitors one by one, then the fleet rules look at all of the tick's decisions
at once (today: the grouped alerts of `policy.digest`), then it delivers. `fleet_tick` is that one step here too,
taking every monitor's decision of the tick, so the replay calls the engine as the service does. It decides nothing
itself: no rule lives here.
"""

from __future__ import annotations

import bisect
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from retrain_trigger.config import Catalog, MonitorConfig, config_version, parse_catalog
from retrain_trigger.errors import ConfigError
from retrain_trigger.model import Decision, LifecycleEvent, MonitorState, Observation
from retrain_trigger.policy import evaluate, is_due, on_lifecycle
from retrain_trigger.policy.digest import DEFAULT_GROUP_ALERTS_OVER, Digest, tick_digests
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
class _World:
    """The fleet as the state table and the pipelines would hold it between ticks."""

    states: dict[str, MonitorState]
    pending: dict[str, LifecycleEvent] = field(default_factory=dict)  # a started retraining's simulated end


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


def fleet_tick(now: datetime, decided: Sequence[tuple[MonitorConfig, Decision]], group_over: int) -> tuple[Digest, ...]:
    """The fleet's step at one tick, over all monitors' decisions: the evaluator's own call (`tick_digests`)."""
    return tick_digests(decided, group_over, now)


def replay_fleet(
    catalog: Catalog,
    series: Mapping[str, Sequence[Observation]],
    simulation: Simulation,
    start: datetime,
    end: datetime,
    group_over: int = DEFAULT_GROUP_ALERTS_OVER,
) -> FleetReplay:
    """Every engine call the evaluator and the lifecycle function would make for the fleet from start to end."""
    monitors = catalog.monitors
    world = _World({m.id: MonitorState(monitor_id=m.id) for m in monitors})
    times = {m.id: [o.at for o in series.get(m.id, ())] for m in monitors}
    steps: list[FleetStep] = []
    found: list[Digest] = []
    for now in evaluation_times(None, start, end, simulation.tick):
        steps += _ended(catalog, world, now)
        due = [m for m in monitors if is_due(m.every, now, simulation.tick, m.evaluation_delay)]
        decided = []
        for monitor in due:
            newest = bisect.bisect_right(times[monitor.id], now)
            window = series.get(monitor.id, ())[max(0, newest - monitor.evaluation_periods) : newest]
            state = world.states[monitor.id]
            decided.append((monitor, evaluate(monitor, state, window, now, catalog.version, tick=simulation.tick)))
        digests = fleet_tick(now, decided, group_over)
        found += digests
        grouped = {key: d.key for d in digests for key in d.grouped()}
        for monitor, decision in decided:
            step = Step(now, "evaluation", decision)
            keys = [a.key for a in decision.new_actions if a.key in grouped]
            steps.append(FleetStep(monitor.id, step, grouped[keys[0]] if keys else None))
            world.states[monitor.id] = _delivered(decision.state, now)
            _simulate_end(monitor, world, step, simulation)
    return FleetReplay(monitors, catalog.version, tuple(steps), tuple(found), start, end)


def _ended(catalog: Catalog, world: _World, now: datetime) -> list[FleetStep]:
    """Retrainings that ended by this tick reached the lifecycle function before the evaluator runs: oldest first."""
    steps: list[FleetStep] = []
    for monitor_id, event in sorted(world.pending.items(), key=lambda item: (item[1].at, item[0])):
        if event.at > now:
            continue
        monitor = catalog.get(monitor_id)
        assert monitor is not None
        decision = on_lifecycle(monitor, world.states[monitor_id], event, catalog.version)
        steps.append(FleetStep(monitor_id, Step(event.at, event.kind, decision)))  # type: ignore[arg-type]
        world.states[monitor_id] = _delivered(decision.state, event.at)
        del world.pending[monitor_id]
    return steps


def _simulate_end(monitor: MonitorConfig, world: _World, step: Step, simulation: Simulation) -> None:
    episode = world.states[monitor.id].episode
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
    document: Mapping[str, Any],
    scores: FleetScores,
    simulation: Simulation,
    until: datetime | None = None,
    group_over: int = DEFAULT_GROUP_ALERTS_OVER,
) -> FleetReplay:
    catalog = catalog_of(document)
    assert catalog.version == config_version(document)
    return replay_fleet(catalog, scores.series, simulation, scores.start, until or scores.end, group_over)


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
