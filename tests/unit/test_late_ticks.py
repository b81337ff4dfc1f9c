"""Never decide on the past (issue 13, items 1 and 6), against in-memory fakes of the ports.

A tick older than the monitor's last committed decision reaches the service again after the next tick committed:
Lambda's asynchronous retry of the scheduled event, a duplicate delivery, or a shard redelivered after its
visibility timeout. It must change nothing for that monitor. And whether an episode is real belongs to the episode,
not to the mode the configuration names at each transition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from retrain_trigger.model import Observation, Status
from retrain_trigger.ports import Shard
from retrain_trigger.service import evaluate_shard
from retrain_trigger.tick_report import Report
from tests.unit.test_outbox import T0, Rig, _Killed, breach, hour, killed_during, revived


def async_retry(rig: Rig) -> Report:
    """Lambda retries the scheduled event of T0 (same event, same time) after T1 committed."""
    report: Report = rig.tick(T0)
    return report


def shard_redelivered(rig: Rig) -> Report:
    """The shard of T0 comes back from the queue after its visibility timeout, after T1 committed."""
    return evaluate_shard(Shard(now=T0, due=("churn-model",), waiting=()), rig.deps)


LATE = pytest.mark.parametrize("late_tick", [async_retry, shard_redelivered], ids=["async-retry", "shard-redelivered"])


def outcome(report: Report) -> str:
    (result,) = [r for r in report.results if r.monitor_id == "churn-model"]
    return result.outcome


# -- item 1: a late tick changes nothing --------------------------------------------------------------------------


@LATE
def test_a_late_tick_does_not_publish_the_same_key_warning_alert_twice(late_tick: Callable[[Rig], Report]) -> None:
    rig = Rig(warning=0.1, warning_reset=0.08)
    rig.score(T0, 0.12)
    rig.tick(T0)  # WARNING: the warning alert
    rig.score(hour(1), 0.05)
    rig.tick(hour(1))  # OK: recovered
    committed = rig.state()

    report = late_tick(rig)

    assert outcome(report) == "stale"
    assert rig.gateway.events() == ["warning", "recovered"]
    assert rig.state() == committed


def test_a_late_tick_does_not_close_an_open_guard_blocked_episode() -> None:
    rig = Rig(guards=[{"metric": "accuracy", "below": 0.85}])
    rig.scores.add("churn-model", Observation(at=T0, score=0.05, metrics={"accuracy": 0.9}))
    rig.tick(T0)
    rig.scores.add("churn-model", Observation(at=hour(1), score=0.3, metrics={"accuracy": 0.9}))
    rig.tick(hour(1))  # critical, but the guard blocks the retraining: ALARM
    opened = rig.state().episode

    report = rig.tick(T0)
    rig.scores.add("churn-model", Observation(at=hour(2), score=0.3, metrics={"accuracy": 0.8}))
    rig.tick(hour(2))  # drift never stopped; now the guard holds

    assert outcome(report) == "stale"
    assert "recovered" not in rig.gateway.events()
    assert rig.state().episode is not None and rig.state().episode.id == opened.id
    assert len(rig.gateway.of("sagemaker")) == 1


def test_a_late_tick_with_no_cooldown_does_not_restart_attempt_1_under_the_same_key() -> None:
    rig = Rig(cooldown="0s")
    breach(rig)  # T0: attempt 1 starts
    arn = rig.state().episode.execution_arn
    rig.lifecycle("failed", hour(0.5), execution_arn=arn, monitor_id="churn-model")
    rig.score(hour(1), 0.05)
    rig.tick(hour(1))  # below reset: the episode closes

    report = rig.tick(T0)

    assert outcome(report) == "stale"
    assert len(rig.gateway.of("sagemaker")) == 1
    assert len(rig.gateway.of("sqs")) == 1
    assert rig.state().status is Status.OK


def test_a_late_tick_still_delivers_the_waiting_outbox_as_at_the_last_decision() -> None:
    rig = Rig()
    killed_during(rig, "sagemaker", after_the_call=False)
    rig.score(T0, 0.05)
    rig.tick(T0)
    with pytest.raises(_Killed):
        breach(rig, hour(1))  # committed at 01:00, the invocation died before the start reached SageMaker
    revived(rig, "sagemaker")

    report = rig.tick(T0, owner="evaluator-2")

    assert outcome(report) == "stale"
    assert len(rig.gateway.of("sagemaker")) == 1
    assert rig.gateway.events() == ["retrain_started"]
    assert rig.state().episode.retrain_started_at == hour(1)  # the timeout never counts from before the decision


def test_a_tick_at_the_time_of_the_last_decision_is_not_stale() -> None:
    rig = Rig(warning=0.1)
    rig.score(T0, 0.12)
    rig.tick(T0)

    report = rig.tick(T0)  # a duplicate delivery of the tick that committed: decides again, as before

    assert outcome(report) == "unchanged"
    assert rig.gateway.events() == ["warning"]


def test_a_steady_tick_writes_nothing_and_a_later_one_after_it_is_not_stale() -> None:
    rig = Rig(warning=0.1)
    rig.score(T0, 0.12)
    rig.tick(T0)
    commits = rig.states.commits

    steady: Any = rig.tick(hour(1))
    again: Any = rig.tick(hour(0.5))  # older than a tick that committed nothing: the state it reads is T0's

    assert rig.states.commits == commits
    assert outcome(steady) == outcome(again) == "unchanged"


# -- item 6: whether an episode is real belongs to the episode ----------------------------------------------------


def switch_mode(rig: Rig, mode: str) -> None:
    rig.config.document["defaults"]["mode"] = mode  # type: ignore[index]


def test_a_short_trip_to_shadow_does_not_forget_a_real_retraining() -> None:
    rig = Rig(cooldown="1d")
    breach(rig)  # active: attempt 1 starts a real pipeline
    arn = rig.state().episode.execution_arn
    switch_mode(rig, "shadow")
    rig.lifecycle("succeeded", hour(0.5), execution_arn=arn, monitor_id="churn-model")
    switch_mode(rig, "active")
    rig.score(hour(3), 0.3)

    rig.tick(hour(3))  # drift persists inside the grace period and the cooldown of the real retraining

    assert len(rig.gateway.of("sagemaker")) == 1
    state = rig.state()
    assert state.status is Status.RETRAINED
    assert state.episode is not None and state.episode.execution_arn == arn
