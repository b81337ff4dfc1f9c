"""Every comparison of the engine, from both sides: the value at a boundary, and the value just past it.

A rule such as "retrain after the grace period" is only pinned when one test stands on the boundary and another
just before it; otherwise `<` and `<=` pass the same tests (issue 12's mutation run found exactly that).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from retrain_trigger.model import Episode, LifecycleEvent, MonitorState, Observation, Status
from retrain_trigger.policy import evaluate, is_due, on_lifecycle

from .scenario import day, monitor, obs

SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)


def at(t: datetime, score: float, **metrics: float) -> Observation:
    return Observation(at=t, score=score, metrics=metrics)


def armed(**fields: Any) -> MonitorState:
    return MonitorState(monitor_id="churn-model", version=1, **fields)


def events(decision: Any) -> list[str]:
    return [a.notice.event for a in decision.new_actions]


def episode(**fields: Any) -> Episode:
    return Episode(id="churn-model@20240801T000000Z", opened_at=day(0), trigger_score=0.3, **fields)


# --- guards: `below` is strictly below, `above` strictly above -------------------------------------------------


@pytest.mark.parametrize(
    ("guard", "value", "retrains"),
    [
        ({"metric": "accuracy", "below": 0.85}, 0.85, False),  # at the bound: does not hold
        ({"metric": "accuracy", "below": 0.85}, 0.8499, True),
        ({"metric": "latency", "above": 1.0}, 1.0, False),  # at the bound: does not hold
        ({"metric": "latency", "above": 1.0}, 1.0001, True),
    ],
)
def test_a_guard_holds_only_strictly_past_its_bound(guard: dict[str, Any], value: float, retrains: bool) -> None:
    # given a monitor whose retraining needs the guard
    config = monitor(guards=[guard])

    # when a critical datapoint arrives with the guard metric at or just past its bound
    decision = evaluate(config, armed(), [obs(0, 0.3, **{guard["metric"]: value})], day(0), "v1")

    # then it retrains only when the guard holds, and alerts (critical) otherwise
    assert decision.state.status is (Status.RETRAINING if retrains else Status.ALARM)
    assert events(decision)[0] == ("retrain_started" if retrains else "critical")
    assert list(decision.guards.values()) == [retrains]


# --- levels: critical and warning strictly above, reset and warning_reset strictly below ------------------------


@pytest.mark.parametrize(("score", "status"), [(0.1, Status.OK), (0.1000001, Status.WARNING)])
def test_the_warning_alert_needs_a_score_strictly_above_the_warning_level(score: float, status: Status) -> None:
    decision = evaluate(monitor(warning=0.1), armed(), [obs(0, score)], day(0), "v1")

    assert decision.state.status is status
    assert events(decision) == (["warning"] if status is Status.WARNING else [])


@pytest.mark.parametrize(("score", "status"), [(0.2, Status.OK), (0.2000001, Status.RETRAINING)])
def test_a_retraining_needs_a_score_strictly_above_critical(score: float, status: Status) -> None:
    decision = evaluate(monitor(), armed(), [obs(0, score)], day(0), "v1")

    assert decision.state.status is status


@pytest.mark.parametrize(("score", "status"), [(0.08, Status.WARNING), (0.0799, Status.OK)])
def test_a_warning_recovers_only_strictly_below_warning_reset(score: float, status: Status) -> None:
    config = monitor(warning=0.1, warning_reset=0.08)

    decision = evaluate(config, armed(status=Status.WARNING), [obs(1, score)], day(1), "v1")

    assert decision.state.status is status
    assert events(decision) == (["recovered"] if status is Status.OK else [])


@pytest.mark.parametrize(("score", "status"), [(0.15, Status.ALARM), (0.1499, Status.OK)])
def test_an_episode_closes_only_strictly_below_reset(score: float, status: Status) -> None:
    state = armed(status=Status.ALARM, episode=episode())

    decision = evaluate(monitor(reset=0.15), state, [obs(1, score)], day(1), "v1")

    assert decision.state.status is status


def test_exactly_datapoints_to_trigger_breaches_among_the_window_trigger() -> None:
    config = monitor(datapoints_to_trigger=2, evaluation_periods=3)
    two = [obs(0, 0.3), obs(1, 0.1), obs(2, 0.3)]
    one = [obs(0, 0.1), obs(1, 0.1), obs(2, 0.3)]

    assert evaluate(config, armed(), two, day(2), "v1").state.status is Status.RETRAINING
    assert evaluate(config, armed(), one, day(2), "v1").state.status is Status.OK


# --- time: each period ends exactly at its stated instant ------------------------------------------------------


@pytest.mark.parametrize(("now", "status"), [(day(1) - SECOND, Status.ALARM), (day(1), Status.RETRAINING)])
def test_the_grace_period_after_a_deploy_ends_exactly_at_grace_until(now: datetime, status: Status) -> None:
    # given a model deployed with a grace period until day 1
    state = armed(grace_until=day(1))

    # when drift is critical just before, or exactly at, the end of the grace period
    decision = evaluate(monitor(), state, [at(now, 0.3)], now, "v1")

    # then only the evaluation at its end retrains; the one before alerts and says why
    assert decision.state.status is status
    assert ("grace period" in decision.reason) is (status is Status.ALARM)


@pytest.mark.parametrize(("now", "status"), [(day(7) - SECOND, Status.ALARM), (day(7), Status.RETRAINING)])
def test_the_cooldown_ends_exactly_cooldown_after_the_last_retraining(now: datetime, status: Status) -> None:
    state = armed(last_retrain_at=day(0))

    decision = evaluate(monitor(cooldown="7d"), state, [at(now, 0.3)], now, "v1")

    assert decision.state.status is status
    assert ("cooldown" in decision.reason) is (status is Status.ALARM)


@pytest.mark.parametrize(("now", "retrains"), [(day(2) - SECOND, 1), (day(2), 2)])
def test_after_a_failed_attempt_the_next_one_starts_exactly_at_retry_not_before(now: datetime, retrains: int) -> None:
    failed = episode(retrains=1, last_attempt_failed=True, retry_not_before=day(2))
    state = armed(status=Status.ALARM, episode=failed)

    decision = evaluate(monitor(), state, [at(now, 0.3)], now, "v1")

    assert decision.state.episode is not None and decision.state.episode.retrains == retrains
    assert decision.state.status is (Status.RETRAINING if retrains == 2 else Status.ALARM)


@pytest.mark.parametrize(("retrains", "status"), [(1, Status.RETRAINING), (2, Status.ALARM)])
def test_the_cap_allows_exactly_max_retrains_per_episode(retrains: int, status: Status) -> None:
    failed = episode(retrains=retrains, last_attempt_failed=True)
    state = armed(status=Status.ALARM, episode=failed)

    decision = evaluate(monitor(max_retrains_per_episode=2), state, [obs(1, 0.3)], day(1), "v1")

    assert decision.state.status is status


@pytest.mark.parametrize(("now", "status"), [(day(2) - SECOND, Status.RETRAINING), (day(2), Status.ALARM)])
def test_a_retraining_times_out_exactly_retraining_timeout_after_its_start(now: datetime, status: Status) -> None:
    running = episode(retrains=1, retrain_requested_at=day(0), retrain_started_at=day(0))
    state = armed(status=Status.RETRAINING, episode=running, last_retrain_at=day(0))

    decision = evaluate(monitor(retraining_timeout="2d"), state, [at(now, 0.3)], now, "v1")

    assert decision.state.status is status
    assert events(decision) == (["retrain_failed"] if status is Status.ALARM else [])


@pytest.mark.parametrize(("now", "status"), [(day(2) - SECOND, Status.RETRAINED), (day(2), Status.ALARM)])
def test_the_grace_period_after_a_retraining_ends_exactly_at_grace_until(now: datetime, status: Status) -> None:
    retrained = episode(retrains=1, retrain_started_at=day(0))
    state = armed(status=Status.RETRAINED, episode=retrained, grace_until=day(2), evidence_after=day(0.5))

    decision = evaluate(monitor(cooldown="0s"), state, [at(now, 0.3)], now, "v1")

    assert decision.state.status is status
    assert events(decision) == (["escalation"] if status is Status.ALARM else [])


def test_a_deploy_that_would_end_grace_exactly_when_it_already_ends_changes_nothing() -> None:
    # given a grace period until day 1, and a deploy at day 0 with a grace period of 1 day (also until day 1)
    state = armed(grace_until=day(1))

    decision = on_lifecycle(monitor(grace_period="1d"), state, LifecycleEvent(kind="deployed", at=day(0)), "v1")

    assert decision.outcome == "unchanged"
    assert not decision.changed


def test_a_deploy_that_extends_grace_by_a_second_is_recorded() -> None:
    state = armed(grace_until=day(1) - SECOND)

    decision = on_lifecycle(monitor(grace_period="1d"), state, LifecycleEvent(kind="deployed", at=day(0)), "v1")

    assert decision.outcome == "transition"
    assert decision.state.grace_until == day(1)


# --- what the window sees ---------------------------------------------------------------------------------------


def test_a_datapoint_stamped_exactly_at_the_evaluation_time_is_seen() -> None:
    decision = evaluate(monitor(), armed(), [obs(1, 0.3)], day(1), "v1")

    assert decision.state.status is Status.RETRAINING
    assert decision.datapoint_at == day(1)


def test_a_datapoint_a_second_after_the_evaluation_time_is_not_seen() -> None:
    decision = evaluate(monitor(), armed(), [at(day(1) + SECOND, 0.3)], day(1), "v1")

    assert decision.outcome == "insufficient_data"


@pytest.mark.parametrize(("now", "outcome"), [(day(2), "transition"), (day(2) + SECOND, "insufficient_data")])
def test_a_datapoint_exactly_max_age_old_is_still_fresh(now: datetime, outcome: str) -> None:
    config = monitor(max_age="2d", no_data_after=None)

    decision = evaluate(config, armed(), [obs(0, 0.3)], now, "v1")

    assert decision.outcome == outcome


@pytest.mark.parametrize(("now", "gap"), [(day(2), False), (day(2) + SECOND, True)])
def test_a_gap_starts_only_when_the_newest_datapoint_is_older_than_no_data_after(now: datetime, gap: bool) -> None:
    config = monitor(max_age="10d", no_data_after="2d")

    decision = evaluate(config, armed(), [obs(0, 0.1)], now, "v1")

    assert events(decision) == (["no_data"] if gap else [])
    assert decision.state.gap_since == (day(0) if gap else None)


def test_the_remembered_newest_datapoint_counts_for_the_gap_only_when_not_after_now() -> None:
    # given a state that remembers a datapoint stamped exactly now, and a window without it
    config = monitor(max_age="10d", no_data_after="2d")
    state = armed(last_datapoint_at=day(3))

    # when evaluated at day 3 with only an old datapoint
    decision = evaluate(config, state, [obs(0, 0.1)], day(3), "v1")

    # then the remembered datapoint is the newest: no gap
    assert events(decision) == []


@pytest.mark.parametrize(("stamp", "status"), [(day(1), Status.RETRAINED), (day(1) + SECOND, Status.ALARM)])
def test_only_datapoints_strictly_after_the_retraining_completed_are_evidence(stamp: datetime, status: Status) -> None:
    # given a retraining that completed at day 1, its grace period over
    retrained = episode(retrains=1, retrain_started_at=day(0))
    state = armed(status=Status.RETRAINED, episode=retrained, evidence_after=day(1))

    # when a critical datapoint stamped exactly at, or just after, the completion is evaluated
    decision = evaluate(monitor(max_age="10d"), state, [at(stamp, 0.3)], day(2), "v1")

    # then only the later one shows the drift persists (escalation); the other is no evidence at all
    assert decision.state.status is status


# --- repeated alerts ----------------------------------------------------------------------------------------------


def retrained_since_day_0(**fields: Any) -> MonitorState:
    retrained = episode(retrains=1, retrain_started_at=day(0), notified_at=day(0))
    return armed(status=Status.RETRAINED, episode=retrained, evidence_after=day(1), **fields)


@pytest.mark.parametrize(("latest", "repeats"), [(0.1, False), (0.15, True), (0.17, True)])
def test_no_repeat_alert_while_retrained_and_the_latest_score_is_below_reset(latest: float, repeats: bool) -> None:
    # given a retrained model whose episode is still open (recovery needs two datapoints below reset)
    config = monitor(renotify_every="1d", datapoints_to_recover=2, evaluation_periods=2, grace_period="0s")

    # when the renotify period has passed and the latest datapoint is below, at, or above reset
    decision = evaluate(config, retrained_since_day_0(), [obs(2, 0.17), obs(3, latest)], day(3), "v1")

    # then the alert repeats only while the drift persists (not below reset)
    assert decision.state.status is Status.RETRAINED
    assert [(a.notice.event, a.notice.renotification) for a in decision.new_actions] == (
        [("critical", 1)] if repeats else []
    )


@pytest.mark.parametrize(("now", "repeats"), [(day(2) - SECOND, False), (day(2), True)])
def test_an_alert_repeats_exactly_renotify_every_after_it_was_last_sent(now: datetime, repeats: bool) -> None:
    config = monitor(renotify_every="2d", guards=[{"metric": "accuracy", "below": 0.85}])
    state = armed(status=Status.ALARM, episode=episode(notified_at=day(0)))

    decision = evaluate(config, state, [at(now, 0.3, accuracy=0.95)], now, "v1")

    assert events(decision) == (["critical"] if repeats else [])


# --- when a monitor is due ----------------------------------------------------------------------------------------


def test_a_monitor_whose_every_equals_the_tick_is_due_at_every_tick() -> None:
    assert all(is_due(HOUR, day(0) + n * HOUR + timedelta(minutes=7), HOUR) for n in range(24))


@pytest.mark.parametrize(("now", "due"), [(day(1), True), (day(1) + HOUR - SECOND, True), (day(1) + HOUR, False)])
def test_a_daily_monitor_is_due_in_the_one_tick_whose_window_holds_midnight(now: datetime, due: bool) -> None:
    # the tick at `now` covers (now - 1h, now]: midnight falls in it for now in [00:00, 01:00)
    assert is_due(timedelta(days=1), now, HOUR) is due
