"""The reason each evaluation gives, pinned whole: the history, the logs and every alert carry it, and it is what an
on-call engineer reads to learn why a model was, or was not, retrained."""

from __future__ import annotations

from typing import Any

from retrain_trigger.config import MonitorConfig
from retrain_trigger.model import Episode, MonitorState, Notice, Observation, Status
from retrain_trigger.policy import evaluate

from .scenario import day, decimals, monitor, obs, read, scored

EPISODE = "churn-model@20240801T000000Z"


def state(**fields: Any) -> MonitorState:
    return MonitorState(monitor_id="churn-model", version=1, **fields)


def episode(**fields: Any) -> Episode:
    return Episode(id=EPISODE, opened_at=day(0), trigger_score=0.3, **fields)


def test_a_blocked_retraining_names_every_blocker_in_order() -> None:
    # given a guard that does not hold, a grace period, a cooldown and a mute, all at once
    config = monitor(
        guards=[{"metric": "accuracy", "below": 0.85}],
        cooldown="7d",
        mode="muted",
        muted_until="2024-09-01T00:00:00Z",
    )
    armed = state(grace_until=day(2), last_retrain_at=day(-1))

    decision = evaluate(config, armed, [obs(1, 0.3, accuracy=0.9)], day(1), "v1")

    assert decision.reason == (
        "drift 0.3 > 0.2; retraining blocked: guard accuracy < 0.85 does not hold (accuracy=0.9); "
        "grace period until 2024-08-03T00:00:00+00:00; cooldown until 2024-08-07T00:00:00+00:00; "
        "muted until 2024-09-01T00:00:00+00:00"
    )
    assert decision.state.status is Status.ALARM


def test_a_still_critical_episode_names_its_back_off_its_cap_and_persisting_drift() -> None:
    config = monitor(max_retrains_per_episode=1, actions={"on_alert": ["sns"], "on_retrain": ["sns"]})
    failed = state(status=Status.ALARM, episode=episode(retrains=1, last_attempt_failed=True, retry_not_before=day(3)))
    persisting = state(status=Status.ALARM, episode=episode(retrains=1))

    after_failure = evaluate(config, failed, [obs(1, 0.3)], day(1), "v1")
    after_success = evaluate(monitor(max_retrains_per_episode=2), persisting, [obs(1, 0.3)], day(1), "v1")

    assert after_failure.reason == (
        "still critical; retraining blocked: back-off after a failed retraining until 2024-08-04T00:00:00+00:00; "
        "cap of 1 retrainings per episode reached"
    )
    assert after_success.reason == (
        "still critical; retraining blocked: drift persists after retraining and retrain_on_persisting_drift is off"
    )


def test_missing_data_counted_as_breaching_says_no_real_datapoint_breached() -> None:
    config = monitor(missing_data="breaching", datapoints_to_trigger=1, evaluation_periods=2)

    decision = evaluate(config, state(), [obs(1, 0.1)], day(1), "v1")

    assert decision.reason == (
        "drift missing > 0.2; retraining blocked: no real datapoint breached (missing data counted as breaching)"
    )


def test_a_monitor_without_retraining_actions_says_so() -> None:
    config = monitor(actions={"on_alert": ["sns"], "on_retrain": []})

    decision = evaluate(config, state(), [obs(1, 0.3)], day(1), "v1")

    assert decision.reason == "drift 0.3 > 0.2; retraining blocked: no on_retrain actions configured"


def test_a_retraining_names_its_attempt_and_episode() -> None:
    decision = evaluate(monitor(), state(), [obs(1, 0.3)], day(1), "v1")

    assert decision.reason == "drift 0.3 > 0.2: retraining started (attempt 1 of episode churn-model@20240802T000000Z)"


def test_a_warning_names_how_many_datapoints_breached_it() -> None:
    config = monitor(warning=0.1, datapoints_to_trigger=2, evaluation_periods=3)

    decision = evaluate(config, state(), [obs(0, 0.12), obs(1, 0.05), obs(2, 0.15)], day(2), "v1")

    assert decision.reason == "drift above warning 0.1 in 2 of the last 3 datapoints"


def test_each_way_back_to_armed_says_why() -> None:
    config = monitor()
    alarm = state(status=Status.ALARM, episode=episode())
    retrained = state(status=Status.RETRAINED, episode=episode(retrains=1), evidence_after=day(0))
    muted_alarm = state(status=Status.ALARM, episode=episode(announced=False))

    reasons = [
        evaluate(config, alarm, [obs(1, 0.1)], day(1), "v1").reason,
        evaluate(config, retrained, [obs(1, 0.1)], day(1), "v1").reason,
        evaluate(config, muted_alarm, [obs(1, 0.1)], day(1), "v1").reason,
        evaluate(monitor(warning=0.05), alarm, [obs(1, 0.1)], day(1), "v1").reason,
    ]

    assert reasons == [
        "drift 0.1 below reset 0.15; re-armed",
        "retraining fixed the drift: 0.1 below reset; re-armed",
        "drift 0.1 below reset 0.15; re-armed (its alert was muted: no recovered alert)",
        "drift 0.1 below reset 0.15; re-armed at warning level",
    ]


def test_each_way_of_staying_in_an_episode_says_why() -> None:
    config = monitor()
    alarm = state(status=Status.ALARM, episode=episode())
    retrained = state(status=Status.RETRAINED, episode=episode(retrains=1), evidence_after=day(0))

    reasons = [
        evaluate(config, alarm, [obs(1, 0.17)], day(1), "v1").reason,
        evaluate(config, retrained, [obs(1, 0.17)], day(1), "v1").reason,
        evaluate(config, retrained.model_copy(update={"grace_until": day(2)}), [obs(1, 0.3)], day(1), "v1").reason,
    ]

    assert reasons == [
        "drift 0.17 not below reset 0.15: not re-armed",
        "drift 0.17 not below reset 0.15: not re-armed",
        "grace period until 2024-08-03T00:00:00+00:00",
    ]


def test_no_fresh_datapoint_keeps_the_state_and_says_how_missing_data_is_treated() -> None:
    missing = evaluate(monitor(), state(), [], day(1), "v1")
    ignored = evaluate(monitor(missing_data="ignore"), state(), [], day(1), "v1")

    assert (missing.outcome, missing.reason) == (
        "insufficient_data",
        "no fresh datapoint: insufficient data, state kept",
    )
    assert (ignored.outcome, ignored.reason) == ("ignored_missing", "no fresh datapoint: ignored, state kept")


def test_a_gap_and_its_end_are_announced_with_the_times_that_bound_them() -> None:
    config = monitor(max_age="10d", no_data_after="2d")

    started = evaluate(config, state(), [obs(0, 0.1)], day(3), "v1")
    ended = evaluate(config, started.state, [obs(0, 0.1), obs(4, 0.1)], day(4), "v1")

    assert started.reason == "no data: the newest datapoint (2024-08-01T00:00:00+00:00) is older than 2 days, 0:00:00"
    assert [(a.notice.event, a.notice.datapoint_at, a.notice.score) for a in started.new_actions] == [
        ("no_data", day(0), 0.1)
    ]
    assert ended.reason == (
        "data resumed: a datapoint at 2024-08-05T00:00:00+00:00 after the gap since 2024-08-01T00:00:00+00:00"
    )
    assert [(a.notice.event, a.notice.datapoint_at, a.notice.score) for a in ended.new_actions] == [
        ("data_resumed", day(4), 0.1)
    ]
    assert (started.state.gap_since, ended.state.gap_since) == (day(0), None)


def test_a_gap_forgotten_when_the_no_data_alert_is_turned_off_says_so() -> None:
    in_gap = state(gap_since=day(0))

    decision = evaluate(monitor(no_data_after=None), in_gap, [obs(0, 0.1)], day(3), "v1")

    assert (decision.outcome, decision.reason, decision.state.gap_since) == (
        "transition",
        "no-data alert turned off: the open gap is forgotten",
        None,
    )


def test_a_repeat_alert_names_its_count_the_episode_and_the_drift() -> None:
    config = monitor(renotify_every="1d", guards=[{"metric": "accuracy", "below": 0.85}])
    alarm = state(status=Status.ALARM, episode=episode(notified_at=day(0), renotified=1))

    decision = evaluate(config, alarm, [obs(1, 0.3, accuracy=0.9)], day(1), "v1")

    assert decision.reason == f"repeat 2 of the critical alert: episode {EPISODE} still open, drift 0.3"
    assert [(a.key, a.notice.renotification, a.notice.datapoint_at) for a in decision.new_actions] == [
        (f"{EPISODE}#0:critical#r2", 2, day(1))
    ]
    assert decision.state.episode is not None
    assert (decision.state.episode.renotified, decision.state.episode.notified_at) == (2, day(1))


def test_an_episode_opened_while_muted_is_announced_once_the_mute_ends_with_its_own_datapoint() -> None:
    config = monitor(mode="muted", muted_until="2024-08-02T00:00:00Z", guards=[{"metric": "accuracy", "below": 0.85}])
    muted = state(status=Status.ALARM, episode=episode(announced=False, notified_at=day(0)))

    decision = evaluate(config, muted, [obs(2, 0.3, accuracy=0.9)], day(2), "v1")

    assert decision.reason == (
        f"episode {EPISODE} opened while muted and is still open: announced now the mute has ended"
    )
    assert [(a.key, a.notice.datapoint_at, a.notice.score) for a in decision.new_actions] == [
        (f"{EPISODE}#0:critical", day(0), 0.3)
    ]


# --- the notices an added alert carries ------------------------------------------------------------------------


def test_a_no_data_notice_during_an_open_episode_is_about_the_gap_not_the_episode() -> None:
    config = monitor(max_age="10d", no_data_after="2d", guards=[{"metric": "accuracy", "below": 0.85}])
    alarm = state(status=Status.ALARM, episode=episode(retrains=1, last_attempt_failed=True))

    decision = evaluate(config, alarm, [obs(0, 0.3, accuracy=0.9)], day(3), "v1")

    why = "no data: the newest datapoint (2024-08-01T00:00:00+00:00) is older than 2 days, 0:00:00"
    assert (decision.outcome, decision.reason) == ("transition", why)
    assert [(a.kind, a.key, a.notice) for a in decision.new_actions] == [
        (
            "sns",
            "churn-model@20240801T000000Z#0:no_data",
            Notice(event="no_data", score=0.3, datapoint_at=day(0), reason=why, decided_at=day(3)),
        )
    ]
    assert decision.state.actions == decision.new_actions


def test_a_repeat_alert_after_a_retraining_names_the_attempt_and_is_queued_in_the_outbox() -> None:
    config = monitor(renotify_every="1d", grace_period="0s", actions={"on_alert": ["sns", "eventbridge"]})
    retrained = state(status=Status.RETRAINED, episode=episode(retrains=1, notified_at=day(0)), evidence_after=day(0))

    decision = evaluate(config, retrained, [obs(1, 0.17)], day(1), "v1")

    assert decision.outcome == "transition"
    assert [(a.kind, a.notice.attempt, a.notice.renotification, a.notice.score) for a in decision.new_actions] == [
        ("eventbridge", 1, 1, 0.17),
        ("sns", 1, 1, 0.17),
    ]
    assert decision.state.actions == decision.new_actions


def test_data_resuming_with_a_breach_retrains_and_announces_the_end_of_the_gap_in_one_decision() -> None:
    config = monitor(max_age="10d", no_data_after="2d")
    in_gap = state(gap_since=day(0), last_datapoint_at=day(0))

    decision = evaluate(config, in_gap, [obs(0, 0.1), obs(4, 0.3)], day(4), "v1")

    assert decision.reason == (
        "drift 0.3 > 0.2: retraining started (attempt 1 of episode churn-model@20240805T000000Z); "
        "data resumed: a datapoint at 2024-08-05T00:00:00+00:00 after the gap since 2024-08-01T00:00:00+00:00"
    )
    assert [(a.kind, a.notice.event) for a in decision.new_actions] == [
        ("sagemaker", "retrain_started"),
        ("sqs", "retrain_started"),
        ("eventbridge", "retrain_started"),
        ("sns", "retrain_started"),
        ("sns", "data_resumed"),
    ]
    assert decision.state.status is Status.RETRAINING
    assert decision.state.gap_since is None


def test_a_muted_episodes_late_announcement_is_its_first_alert_not_a_repeat() -> None:
    config = monitor(mode="muted", muted_until="2024-08-02T00:00:00Z", guards=[{"metric": "accuracy", "below": 0.85}])
    muted = state(status=Status.ALARM, episode=episode(announced=False, notified_at=day(0)))

    decision = evaluate(config, muted, [obs(2, 0.3, accuracy=0.9)], day(2), "v1")

    assert [(a.notice.renotification, a.notice.attempt, a.notice.episode_id) for a in decision.new_actions] == [
        (0, 0, EPISODE)
    ]


# -- the words of a breach by a critical feature, of thin and missing datapoints, of a window, of a stale tick -----


def by_features(critical_features: list[str], **values: str) -> tuple[MonitorConfig, Observation]:
    """A monitor scored by the max of four features (threshold 0.08 each), and its day-1 datapoint from `values`."""
    config = scored(combine="max", critical_features=critical_features)
    item = {"age": "0.05", "income": "0.1", "tenure": "0.02", "plan": "0.02"} | values
    return config, read(config, decimals(**item), 1)


def test_a_score_above_critical_is_named_as_the_breach_even_when_a_critical_feature_also_breaches() -> None:
    config, observed = by_features(["income"], income="0.3")

    decision = evaluate(config, state(), [observed], day(1), "v1")

    assert decision.reason == "drift 0.3 > 0.2: retraining started (attempt 1 of episode churn-model@20240802T000000Z)"


def test_a_score_at_critical_is_no_breach_so_the_critical_feature_is_named() -> None:
    config, observed = by_features(["income"], income="0.2")

    decision = evaluate(config, state(), [observed], day(1), "v1")

    assert decision.reason == (
        "critical feature income 0.2 above its threshold (drift 0.2, critical 0.2): retraining started "
        "(attempt 1 of episode churn-model@20240802T000000Z)"
    )


def test_every_critical_feature_that_breaches_is_named_in_the_order_of_the_drifted_features() -> None:
    config, observed = by_features(["tenure", "income"], tenure="0.09", income="0.12")

    decision = evaluate(config, state(), [observed], day(1), "v1")

    assert decision.reason.startswith(
        "critical feature income 0.12, tenure 0.09 above its threshold (drift 0.12, critical 0.2): retraining started"
    )


def test_an_alarm_that_retrains_on_a_critical_feature_names_the_feature() -> None:
    config, observed = by_features(["income"], income="0.12")
    in_alarm = state(status=Status.ALARM, episode=episode())

    decision = evaluate(config, in_alarm, [observed], day(1), "v1")

    assert decision.reason == (
        "critical feature income 0.12 above its threshold (drift 0.12, critical 0.2): retraining started "
        f"(attempt 1 of episode {EPISODE})"
    )


def test_each_thin_datapoint_is_listed_with_its_count_and_time() -> None:
    config = monitor(min_samples=100, evaluation_periods=2, datapoints_to_trigger=2)
    thin = [Observation(at=day(n), score=0.3, sample_count=count) for n, count in ((0, 12), (1, 5))]

    decision = evaluate(config, state(), thin, day(1), "v1")

    assert decision.reason == (
        "no fresh datapoint: insufficient data, state kept; 2 datapoint(s) counted as missing: sample_count below "
        "min_samples 100 (12 at 2024-08-01T00:00:00+00:00, 5 at 2024-08-02T00:00:00+00:00)"
    )


def test_an_alarm_without_a_fresh_datapoint_says_its_drift_is_missing() -> None:
    in_alarm = state(status=Status.ALARM, episode=episode())

    decision = evaluate(monitor(missing_data="not_breaching"), in_alarm, [], day(1), "v1")

    assert decision.reason == "drift missing not below reset 0.15: not re-armed"


def test_a_maintenance_window_blocks_in_its_own_words_from_the_instant_a_mute_ends() -> None:
    # 2024-08-04T00:00Z is 02:00 on a Sunday in Berlin: the window opens exactly when the mute ends
    config = monitor(
        mode="muted",
        muted_until="2024-08-04T00:00:00Z",
        maintenance=[{"cron": "0 2 * * SUN", "duration": "3h", "timezone": "Europe/Berlin"}],
    )

    decision = evaluate(config, state(), [obs(3, 0.3)], day(3), "v1")

    assert decision.reason == "drift 0.3 > 0.2; retraining blocked: maintenance window until 2024-08-04T03:00:00+00:00"


def test_a_stale_tick_says_when_the_state_was_decided() -> None:
    decided = state(decided_at=day(2), updated_at=day(2))

    decision = evaluate(monitor(), decided, [obs(1, 0.3)], day(1), "v1")

    assert decision.outcome == "stale"
    assert decision.reason == "stale tick: the state was last decided at 2024-08-03T00:00:00+00:00, after this tick"
