"""The fleet rules: inhibition (`suppressed_by`) and the retraining budget hold a retraining a monitor would start.

Pure: the causes' states, the alarms' states and the budget come in as values and a callable; the service and the
CLI replay call `decide_in_fleet` the same way (see its docstring). A hold is a blocker like a guard: the monitor
still decides and commits, stays in ALARM with the hold as its reason, alerts once per episode (the `critical`
notice of the episode's opening), and retrains by the usual rules once nothing holds it any more.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from retrain_trigger.config import MonitorConfig
from retrain_trigger.fleet_config import ALARM_PREFIX, causes_first, monitor_causes
from retrain_trigger.model import ARMED, Decision, MonitorState, Status

BUDGET_HELD = "held by the fleet budget"
ALARM_STATE = "ALARM"  # CloudWatch's StateValue of an alarm that fires
UNREADABLE = "UNREADABLE"  # an alarm whose state could not be read: it holds, as a start on broken data is worse


def cause_open(state: MonitorState | None) -> bool:
    """A cause monitor inhibits while its episode is open (ALARM, RETRAINING, RETRAINED). A shadow episode never
    reached anyone, and an unknown state (never evaluated) has no episode: neither inhibits."""
    if state is None or state.status in ARMED or state.episode is None:
        return False
    return not state.episode.shadow


def inhibitors(
    monitor: MonitorConfig, causes: Mapping[str, MonitorState | None], alarms: Mapping[str, str]
) -> tuple[str, ...]:
    """The holds of `monitor`'s `suppressed_by`, in its order: "inhibited by <monitor id>" for each cause monitor
    with an open episode, "inhibited by alarm:<name>" for each CloudWatch alarm in ALARM. `causes` maps a cause's
    id to its state as this tick decided it; `alarms` an alarm name to its StateValue (a missing alarm: not held)."""
    held: list[str] = []
    for cause in monitor.suppressed_by:
        if cause.startswith(ALARM_PREFIX):
            alarm = alarms.get(cause[len(ALARM_PREFIX) :])
            if alarm == ALARM_STATE:
                held.append(f"inhibited by {cause}")
            elif alarm == UNREADABLE:
                held.append(f"inhibited by {cause} (its state could not be read)")
        elif cause_open(causes.get(cause)):
            held.append(f"inhibited by {cause}")
    return tuple(held)


def starts_retraining(decision: Decision) -> bool:
    """The decision starts a retraining (a real one: shadow mode's is taken as succeeded at once and costs nothing)."""
    return decision.state.status is Status.RETRAINING and decision.before.status is not Status.RETRAINING


def budget_key(decision: Decision) -> str:
    """What the budget counts: one retraining attempt of one episode. Taking it again for the same key is free."""
    episode = decision.state.episode
    assert episode is not None  # a retraining always belongs to an episode
    return f"{episode.id}#{episode.retrains}"


def decide_in_fleet(
    decide: Callable[[tuple[str, ...]], Decision],
    monitor: MonitorConfig,
    causes: Mapping[str, MonitorState | None],
    alarms: Mapping[str, str],
    take_budget: Callable[[Decision], bool] | None = None,
) -> Decision:
    """One monitor's decision with the fleet rules applied.

    - `decide(holds)` is the engine's decision with `holds` as extra blockers, e.g.
      `lambda holds: evaluate(monitor, state, datapoints, now, version, tick=tick, held=holds)`;
    - `causes`: the states of `monitor`'s cause monitors as this tick decided them (decide causes first, see
      `fleet_config.causes_first`); `alarms`: CloudWatch alarm name -> StateValue;
    - `take_budget(decision)`: asked only when the decision would start a retraining and nothing else holds it;
      True takes (or had already taken) a slot for `budget_key(decision)`, False means over budget. None: no
      budget is configured.

    Returns the decision let through, or the one held in ALARM ("inhibited by X" / "held by the fleet budget")."""
    held = inhibitors(monitor, causes, alarms)
    decision = decide(held)
    if held or take_budget is None or not starts_retraining(decision) or take_budget(decision):
        return decision
    return decide((BUDGET_HELD,))


def release_order(monitor: MonitorConfig, state: MonitorState | None) -> tuple[int, int, float, str]:
    """The sort key that lets held retrainings take a freed budget highest `priority` first, then the oldest held
    (its episode opened first), then by id; monitors not in ALARM sort after them, in the order they came."""
    episode = state.episode if state is not None else None
    if state is None or episode is None or state.status is not Status.ALARM:
        return (1, 0, 0.0, "")
    return (0, -monitor.priority, episode.opened_at.timestamp(), monitor.id)


def tick_order(monitors: Sequence[MonitorConfig], states: Mapping[str, object]) -> list[MonitorConfig]:
    """A tick's due monitors in deciding order: held retrainings by `release_order`, then every cause moved before
    its dependents (`fleet_config.causes_first`, stable). `states`: monitor id -> its state (or a read error)."""

    def key(monitor: MonitorConfig) -> tuple[int, int, float, str]:
        state = states.get(monitor.id)
        return release_order(monitor, state if isinstance(state, MonitorState) else None)

    by_release = sorted(monitors, key=key)
    by_id = {m.id: m for m in monitors}
    ordered = causes_first([m.id for m in by_release], {m.id: monitor_causes(m.suppressed_by) for m in monitors})
    return [by_id[i] for i in ordered]
