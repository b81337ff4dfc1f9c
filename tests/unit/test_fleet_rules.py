"""The fleet rules (policy/fleet.py): inhibition and the retraining budget hold a retraining, never a decision."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from retrain_trigger.config import MonitorConfig
from retrain_trigger.errors import RetryableError
from retrain_trigger.fleet_config import FleetConfig
from retrain_trigger.fleet_tick import FleetTick
from retrain_trigger.model import Decision, MonitorState, Observation, Status
from retrain_trigger.policy import evaluate
from retrain_trigger.policy.fleet import (
    BUDGET_HELD,
    UNREADABLE,
    budget_key,
    cause_open,
    decide_in_fleet,
    inhibitors,
    starts_retraining,
    tick_order,
)

from .scenario import Replay, day, monitor, obs


def dependent(**overrides: Any) -> MonitorConfig:
    return monitor(suppressed_by=["etl", "alarm:ETL job failed"], **overrides)


def breaking(replay: Replay) -> MonitorState:
    """The state of a cause after a breach opened its episode (its retraining started)."""
    replay.score(0, 0.5)
    return replay.state


def fleet_tick(
    replay: Replay,
    n: float,
    score: float,
    causes: dict[str, MonitorState | None],
    alarms: dict[str, str] | None = None,
    budget: list[str] | None = None,
    limit: int | None = None,
) -> Decision:
    """One tick of `replay`'s monitor decided as the service does, committed as the evaluator would."""
    replay.history.append((n, score))
    window: Sequence[Observation] = [obs(d, v) for d, v in replay.history if v is not None][-1:]

    def decide(holds: tuple[str, ...]) -> Decision:
        return evaluate(replay.config, replay.state, window, day(n), "v1", held=holds)

    def take(decision: Decision) -> bool:
        assert budget is not None and limit is not None
        key = budget_key(decision)
        if key in budget:
            return True
        if len(budget) >= limit:
            return False
        budget.append(key)
        return True

    decision = decide_in_fleet(decide, replay.config, causes, alarms or {}, take if budget is not None else None)
    return replay._commit(decision)


class TestInhibitors:
    """`inhibitors`: which causes hold a monitor's retraining right now."""

    def test_a_cause_monitor_in_an_open_episode_inhibits_its_dependents(self) -> None:
        cause = breaking(Replay(monitor(id="etl")))
        assert inhibitors(dependent(), {"etl": cause}, {}) == ("inhibited by etl",)

    def test_an_armed_or_never_evaluated_cause_does_not_inhibit(self) -> None:
        assert inhibitors(dependent(), {"etl": MonitorState(monitor_id="etl")}, {}) == ()
        assert inhibitors(dependent(), {"etl": None}, {}) == ()

    def test_a_cloudwatch_alarm_in_alarm_inhibits_and_ok_or_missing_does_not(self) -> None:
        assert inhibitors(dependent(), {}, {"ETL job failed": "ALARM"}) == ("inhibited by alarm:ETL job failed",)
        assert inhibitors(dependent(), {}, {"ETL job failed": "OK"}) == ()
        assert inhibitors(dependent(), {}, {"ETL job failed": "INSUFFICIENT_DATA"}) == ()

    def test_a_shadow_cause_never_inhibits(self) -> None:
        cause = breaking(Replay(monitor(id="etl", mode="shadow")))
        assert cause.status is Status.RETRAINED
        assert not cause_open(cause)


class TestDecideInFleet:
    """`decide_in_fleet`: the monitor decides and commits; only the start of a retraining is held."""

    def test_an_inhibited_breach_stays_in_alarm_with_one_critical_alert_naming_the_cause(self) -> None:
        cause = breaking(Replay(monitor(id="etl")))
        replay = Replay(dependent())

        decisions = [fleet_tick(replay, n, 0.5, {"etl": cause}) for n in range(4)]

        assert replay.status is Status.ALARM
        assert "inhibited by etl" in decisions[0].reason
        assert all("inhibited by etl" in d.reason for d in decisions)
        assert replay.notices() == ["critical"]
        assert "inhibited by etl" in decisions[0].new_actions[0].notice.reason
        assert replay.retrains() == []

    def test_when_the_cause_closes_a_still_breaching_dependent_retrains(self) -> None:
        cause_replay = Replay(monitor(id="etl"))
        cause = breaking(cause_replay)
        replay = Replay(dependent())
        fleet_tick(replay, 0, 0.5, {"etl": cause})

        closed = MonitorState(monitor_id="etl")
        decision = fleet_tick(replay, 1, 0.5, {"etl": closed})

        assert starts_retraining(decision)
        assert replay.status is Status.RETRAINING
        assert replay.notices() == ["critical", "retrain_started"]

    def test_when_the_cause_closes_a_recovered_dependent_closes_its_episode_without_retraining(self) -> None:
        cause = breaking(Replay(monitor(id="etl")))
        replay = Replay(dependent())
        fleet_tick(replay, 0, 0.5, {"etl": cause})

        fleet_tick(replay, 1, 0.05, {"etl": MonitorState(monitor_id="etl")})

        assert replay.status is Status.OK
        assert replay.retrains() == []

    def test_over_budget_a_retraining_is_held_in_alarm_and_starts_when_the_budget_frees(self) -> None:
        budget = ["other-episode#1"]
        replay = Replay(monitor())

        held = fleet_tick(replay, 0, 0.5, {}, budget=budget, limit=1)
        assert replay.status is Status.ALARM and BUDGET_HELD in held.reason
        budget.clear()  # the other retraining finished (or the hour passed)
        started = fleet_tick(replay, 1, 0.5, {}, budget=budget, limit=1)

        assert starts_retraining(started)
        assert budget == [budget_key(started)]
        assert replay.notices() == ["critical", "retrain_started"]

    def test_the_budget_is_not_asked_while_a_cause_inhibits_or_when_nothing_would_start(self) -> None:
        asked: list[Decision] = []
        cause = breaking(Replay(monitor(id="etl")))

        def take(decision: Decision) -> bool:
            asked.append(decision)
            return True

        replay = Replay(dependent())
        window = [obs(0, 0.5)]
        decide_in_fleet(
            lambda h: evaluate(replay.config, replay.state, window, day(0), held=h),
            replay.config,
            {"etl": cause},
            {},
            take,
        )
        calm = [obs(0, 0.01)]
        decide_in_fleet(
            lambda h: evaluate(replay.config, replay.state, calm, day(0), held=h), replay.config, {}, {}, take
        )

        assert asked == []

    def test_retaking_the_budget_for_the_same_attempt_costs_nothing(self) -> None:
        budget: list[str] = []
        replay = Replay(monitor())
        decision = fleet_tick(replay, 0, 0.5, {}, budget=budget, limit=1)
        again = evaluate(replay.config, MonitorState(monitor_id="churn-model"), [obs(0, 0.5)], day(0), "v1")

        assert budget_key(again) == budget_key(decision)
        assert budget == [budget_key(decision)]


class TestTickOrder:
    """`tick_order`: causes are decided before dependents; held retrainings by priority, then oldest held."""

    def test_a_cause_is_decided_before_its_dependent(self) -> None:
        monitors = [dependent(id="m1"), monitor(id="etl")]
        assert [m.id for m in tick_order(monitors, {})] == ["etl", "m1"]

    def test_held_retrainings_go_highest_priority_first_then_oldest_held(self) -> None:
        def held(monitor_id: str, opened: float, priority: int) -> tuple[MonitorConfig, MonitorState]:
            replay = Replay(monitor(id=monitor_id, priority=priority, guards=[{"metric": "acc", "below": 0.1}]))
            replay.state = replay.state.model_copy(update={"monitor_id": monitor_id})
            replay.score(opened, 0.5)
            return replay.config, replay.state

        pairs = [held("young", 2, 0), held("old", 1, 0), held("urgent", 3, 5), (monitor(id="calm"), None)]
        states = {m.id: s for m, s in pairs if s is not None}

        assert [m.id for m in tick_order([m for m, _ in pairs], states)] == ["urgent", "old", "young", "calm"]


class TestUnreadableAlarms:
    """An alarm whose state could not be read holds the retraining: a start on broken data is the worse mistake."""

    def test_an_unreadable_alarm_inhibits_and_says_so(self) -> None:
        held = inhibitors(dependent(), {}, {"ETL job failed": UNREADABLE})
        assert held == ("inhibited by alarm:ETL job failed (its state could not be read)",)

    def test_a_failed_alarm_read_makes_every_named_alarm_unreadable_for_the_tick(self) -> None:
        class Throttled:
            def states(self, names: Iterable[str]) -> dict[str, str]:
                raise RetryableError("cloudwatch DescribeAlarms failed: Throttling")

        tick = FleetTick.start(FleetConfig(), day(0), [dependent()], {}, None, Throttled())

        assert tick.alarms == {"ETL job failed": UNREADABLE}

    def test_no_alarm_is_read_when_no_due_monitor_names_one(self) -> None:
        class Counting:
            calls = 0

            def states(self, names: Iterable[str]) -> dict[str, str]:
                Counting.calls += 1
                return {}

        FleetTick.start(FleetConfig(), day(0), [monitor(suppressed_by=["etl"])], {}, None, Counting())

        assert Counting.calls == 0
