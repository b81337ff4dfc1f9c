"""What a decision records: the state's bookkeeping on a transition, the episode it opens or restarts, and the
notice its actions carry (the datapoint that caused them, not merely the latest one)."""

from __future__ import annotations

from typing import Any

from retrain_trigger.model import Episode, MonitorState, Notice, Status
from retrain_trigger.policy import evaluate

from .scenario import day, monitor, obs

EPISODE = "churn-model@20240801T000000Z"


def state(**fields: Any) -> MonitorState:
    return MonitorState(monitor_id="churn-model", version=1, **fields)


def test_a_transition_records_its_time_its_config_version_and_the_datapoint_it_saw() -> None:
    decision = evaluate(monitor(warning=0.1), state(config_version="v0"), [obs(1, 0.15)], day(1), "v1")

    assert (decision.state.updated_at, decision.state.config_version) == (day(1), "v1")
    assert (decision.state.last_score, decision.state.last_datapoint_at) == (0.15, day(1))


def test_a_transition_without_a_config_version_keeps_the_states() -> None:
    decision = evaluate(monitor(warning=0.1), state(config_version="v0"), [obs(1, 0.15)], day(1))

    assert decision.state.config_version == "v0"


def test_a_transition_without_a_fresh_datapoint_keeps_the_last_one_seen() -> None:
    # given a gap: the newest datapoint is too old to count, and the no-data alert fires
    config = monitor(max_age="1d", no_data_after="1d")
    seen = state(last_score=0.12, last_datapoint_at=day(0))

    decision = evaluate(config, seen, [obs(0, 0.12)], day(3), "v1")

    assert decision.outcome == "transition"
    assert (decision.state.last_score, decision.state.last_datapoint_at) == (0.12, day(0))


def test_a_warning_notice_is_keyed_by_the_datapoint_that_crossed_the_level() -> None:
    decision = evaluate(monitor(warning=0.1), state(), [obs(1, 0.15)], day(1), "v1")

    why = "drift above warning 0.1 in 1 of the last 1 datapoints"
    assert [(a.key, a.notice) for a in decision.new_actions] == [
        (
            "churn-model@20240802T000000Z#0:warning",
            Notice(event="warning", score=0.15, datapoint_at=day(1), reason=why, decided_at=day(1)),
        )
    ]


def test_an_episode_is_named_and_alerted_by_its_newest_breaching_datapoint_not_the_latest() -> None:
    # given two breaches among the last three, the latest datapoint below critical, and a guard that blocks
    config = monitor(datapoints_to_trigger=2, evaluation_periods=3, guards=[{"metric": "accuracy", "below": 0.85}])
    window = [obs(0, 0.3, accuracy=0.9), obs(1, 0.25, accuracy=0.9), obs(2, 0.1, accuracy=0.9)]

    decision = evaluate(config, state(), window, day(2), "v1")

    opened = "churn-model@20240802T000000Z"
    assert decision.state.episode == Episode(
        id=opened, opened_at=day(1), trigger_score=0.25, announced=True, notified_at=day(2), shadow=False
    )
    assert [(a.key, a.notice.score, a.notice.datapoint_at) for a in decision.new_actions] == [
        (f"{opened}#0:critical", 0.25, day(1))
    ]
    assert decision.reason.startswith("drift 0.25 > 0.2; retraining blocked")


def test_a_retraining_is_requested_with_the_breaching_datapoint() -> None:
    config = monitor(datapoints_to_trigger=2, evaluation_periods=3)

    decision = evaluate(config, state(), [obs(0, 0.3), obs(1, 0.25), obs(2, 0.1)], day(2), "v1")

    assert {(a.notice.score, a.notice.datapoint_at) for a in decision.new_actions} == {(0.25, day(1))}


def test_only_missing_data_breaching_opens_an_episode_at_the_evaluation_time_without_a_score() -> None:
    # a datapoint exactly at critical is not a breach: only the missing datapoints count
    config = monitor(missing_data="breaching", datapoints_to_trigger=1, evaluation_periods=2)

    decision = evaluate(config, state(), [obs(1, 0.2)], day(1), "v1")

    assert decision.state.episode == Episode(
        id="churn-model@20240802T000000Z", opened_at=day(1), trigger_score=None, notified_at=day(1), shadow=False
    )
    assert decision.reason.startswith("drift missing > 0.2; retraining blocked: no real datapoint breached")
    # no datapoint breached: the alert shows the latest one
    assert [(a.notice.score, a.notice.datapoint_at) for a in decision.new_actions] == [(0.2, day(1))]


def test_the_next_attempt_starts_clean_after_a_failed_one() -> None:
    failed = Episode(
        id=EPISODE,
        opened_at=day(0),
        trigger_score=0.3,
        retrains=1,
        retrain_requested_at=day(0),
        retrain_started_at=day(0),
        execution_arn="arn:exec/1",
        last_attempt_failed=True,
        retry_not_before=day(2),
    )

    decision = evaluate(monitor(cooldown="1d"), state(status=Status.ALARM, episode=failed), [obs(3, 0.3)], day(3), "v1")

    assert decision.state.status is Status.RETRAINING
    assert decision.state.episode == failed.model_copy(
        update={
            "retrains": 2,
            "retrain_requested_at": day(3),
            "retrain_started_at": None,
            "execution_arn": None,
            "last_attempt_failed": False,
            "retry_not_before": None,
            "notified_at": day(3),
        }
    )
    assert decision.state.last_retrain_at == day(3)


def test_shadow_mode_takes_its_would_be_retraining_as_completed_now_with_its_grace_period() -> None:
    config = monitor(mode="shadow", grace_period="1d")

    decision = evaluate(config, state(grace_until=day(1)), [obs(1, 0.3)], day(1), "v1")

    assert decision.state.status is Status.RETRAINED
    assert (decision.state.grace_until, decision.state.evidence_after, decision.state.last_retrain_at) == (
        day(2),
        day(1),
        day(1),
    )
    assert decision.state.episode is not None
    assert (decision.state.episode.retrain_started_at, decision.state.episode.announced) == (day(1), True)
    assert decision.suppressed == (
        "sagemaker:retrain_started",
        "sqs:retrain_started",
        "eventbridge:retrain_started",
        "sns:retrain_started",
    )


def test_an_armed_monitor_says_whether_it_stays_at_warning_recovers_or_saw_no_breach() -> None:
    config = monitor(warning=0.1)

    still = evaluate(config, state(status=Status.WARNING), [obs(1, 0.15)], day(1), "v1")
    back = evaluate(config, state(status=Status.WARNING), [obs(1, 0.05)], day(1), "v1")
    calm = evaluate(config, state(), [obs(1, 0.05)], day(1), "v1")

    assert [(d.outcome, d.reason) for d in (still, back, calm)] == [
        ("unchanged", "still at warning level"),
        ("transition", "drift back below the warning level"),
        ("unchanged", "no breach"),
    ]
    assert [a.notice.event for a in back.new_actions] == ["recovered"]


def test_an_episode_in_alarm_without_a_fresh_datapoint_under_breaching_says_the_drift_is_missing() -> None:
    config = monitor(missing_data="breaching", guards=[{"metric": "accuracy", "below": 0.85}])
    alarm = state(status=Status.ALARM, episode=Episode(id=EPISODE, opened_at=day(0), trigger_score=0.3))

    decision = evaluate(config, alarm, [], day(1), "v1")

    assert decision.reason.startswith("still critical; retraining blocked: no real datapoint breached")
    assert decision.score is None


def failed_once() -> MonitorState:
    episode = Episode(id=EPISODE, opened_at=day(0), trigger_score=0.3, retrains=1, last_attempt_failed=True)
    return state(status=Status.ALARM, episode=episode)


def test_the_next_attempt_in_an_open_episode_names_its_drift_and_attempt() -> None:
    decision = evaluate(monitor(cooldown="0s"), failed_once(), [obs(3, 0.3)], day(3), "v1")

    assert decision.reason == f"drift 0.3 > 0.2: retraining started (attempt 2 of episode {EPISODE})"


def test_the_next_attempt_is_requested_with_the_newest_breaching_datapoint() -> None:
    config = monitor(cooldown="0s", datapoints_to_trigger=2, evaluation_periods=3, datapoints_to_recover=2)

    decision = evaluate(config, failed_once(), [obs(1, 0.3), obs(2, 0.25), obs(3, 0.1)], day(3), "v1")

    assert decision.state.status is Status.RETRAINING
    assert {(a.notice.score, a.notice.datapoint_at, a.notice.attempt) for a in decision.new_actions} == {
        (0.25, day(2), 2)
    }
