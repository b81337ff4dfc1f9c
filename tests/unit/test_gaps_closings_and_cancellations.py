"""The details the on-call engineer and the outbox rely on when a no-data gap starts, ends or is forgotten, when an
episode closes, and when the outbox cancels actions: which datapoint and key a notice carries, which state is
committed, and what a cancelled action still claims."""

from __future__ import annotations

from typing import Any

from retrain_trigger.model import ActionRecord, Episode, LifecycleEvent, MonitorState, Notice, Status
from retrain_trigger.policy import evaluate, on_cancelled, on_lifecycle

from .scenario import Replay, day, monitor, obs

EPISODE = "churn-model@20240801T000000Z"
GUARD = {"metric": "accuracy", "below": 0.85}


def state(**fields: Any) -> MonitorState:
    return MonitorState(monitor_id="churn-model", version=1, **fields)


def episode(**fields: Any) -> Episode:
    base: dict[str, Any] = {"announced": True, "notified_at": day(0)}
    return Episode(id=EPISODE, opened_at=day(0), trigger_score=0.3, **{**base, **fields})


def notice_of(event: str, episode_id: str | None = EPISODE, attempt: int = 0) -> Notice:
    return Notice(event=event, episode_id=episode_id, attempt=attempt, decided_at=day(0))  # type: ignore[arg-type]


# --- no-data gaps ------------------------------------------------------------------------------------------------


def test_a_gap_named_by_the_states_last_datapoint_alerts_without_a_score() -> None:
    # given the state saw a datapoint on day 1 that the read window no longer holds: the gap is about that one
    seen = state(last_datapoint_at=day(1), last_score=0.1)

    decision = evaluate(monitor(no_data_after="1d"), seen, [obs(0, 0.12)], day(3), "v1")

    assert [(a.key, a.notice.event, a.notice.datapoint_at, a.notice.score) for a in decision.new_actions] == [
        ("churn-model@20240802T000000Z#0:no_data", "no_data", day(1), None)
    ]
    assert decision.state.gap_since == day(1)


def test_data_resumed_is_keyed_by_the_gap_it_ends_and_carries_the_datapoint_that_ended_it() -> None:
    in_gap = state(gap_since=day(0), last_datapoint_at=day(0))

    decision = evaluate(monitor(no_data_after="1d"), in_gap, [obs(0, 0.1), obs(4, 0.12)], day(4), "v1")

    assert [(a.key, a.notice.datapoint_at, a.notice.score) for a in decision.new_actions] == [
        ("churn-model@20240801T000000Z#0:data_resumed", day(4), 0.12)
    ]


def test_a_gap_forgotten_while_the_state_holds_keeps_its_status_and_sends_nothing() -> None:
    # given a gap announced on day 0's datapoint, then the no-data alert turned off; that datapoint still counts
    config = monitor(warning=0.1, no_data_after=None, max_age="3d")
    warned = state(status=Status.WARNING, gap_since=day(0), last_datapoint_at=day(0))

    decision = evaluate(config, warned, [obs(0, 0.12)], day(2), "v1")

    assert (decision.state.status, decision.state.gap_since, decision.new_actions) == (Status.WARNING, None, ())


def test_a_gap_forgotten_while_a_guard_keeps_the_alarm_still_reports_the_guard() -> None:
    config = monitor(guards=[GUARD], no_data_after=None, max_age="3d")
    held = state(status=Status.ALARM, episode=episode(), gap_since=day(0), last_datapoint_at=day(0))

    decision = evaluate(config, held, [obs(0, 0.3, accuracy=0.9)], day(2), "v1")

    assert decision.reason == "no-data alert turned off: the open gap is forgotten"
    assert (decision.state.status, decision.state.gap_since) == (Status.ALARM, None)
    assert decision.guards == {"accuracy < 0.85": False}


def test_a_gap_forgotten_as_an_episode_opens_keeps_the_episodes_reason_alert_guard_and_pending_alerts() -> None:
    # given a gap announced on day 0's datapoint, an older warning alert still pending, and the no-data alert
    # turned off; day 0's datapoint breaches and the guard blocks retraining
    config = monitor(guards=[GUARD], no_data_after=None, max_age="3d")
    warning = ActionRecord(kind="sns", key="churn-model@20240731T000000Z#0:warning", notice=notice_of("warning", None))
    in_gap = state(gap_since=day(0), last_datapoint_at=day(0), actions=(warning,))

    decision = evaluate(config, in_gap, [obs(0, 0.3, accuracy=0.9)], day(2), "v1")

    assert decision.state.status is Status.ALARM
    assert decision.reason == (
        "drift 0.3 > 0.2; retraining blocked: guard accuracy < 0.85 does not hold (accuracy=0.9)"
    )
    assert decision.guards == {"accuracy < 0.85": False}
    assert [a.notice.event for a in decision.state.actions] == ["warning", "critical"]
    assert decision.state.gap_since is None


# --- an episode closes -------------------------------------------------------------------------------------------


def test_an_episode_closing_while_the_warning_still_holds_rearms_at_warning_level_without_an_alert() -> None:
    held = state(status=Status.ALARM, episode=episode())

    decision = evaluate(monitor(warning=0.1), held, [obs(1, 0.12)], day(1), "v1")

    assert decision.reason == "drift 0.12 below reset 0.15; re-armed at warning level"
    assert (decision.state.status, decision.state.episode, decision.new_actions) == (Status.WARNING, None, ())


def test_an_unannounced_episode_closes_to_ok_without_an_alert() -> None:
    held = state(status=Status.ALARM, episode=episode(announced=False))

    decision = evaluate(monitor(), held, [obs(1, 0.1)], day(1), "v1")

    assert decision.reason == "drift 0.1 below reset 0.15; re-armed (its alert was muted: no recovered alert)"
    assert (decision.state.status, decision.state.episode, decision.new_actions) == (Status.OK, None, ())


# --- the outbox cancels actions ----------------------------------------------------------------------------------


def requested(**fields: Any) -> MonitorState:
    """Attempt 1 of the episode decided, its start not delivered yet."""
    running = episode(retrains=1, retrain_requested_at=day(0))
    return state(status=Status.RETRAINING, episode=running, last_retrain_at=day(0), **fields)


def test_cancelling_actions_that_withdraw_nothing_says_only_why() -> None:
    alert = ActionRecord(kind="sns", key=f"{EPISODE}#0:critical", notice=notice_of("critical"))
    held = state(status=Status.ALARM, episode=episode(), actions=(alert,))

    decision = on_cancelled(monitor(), held, (alert,), day(1), "shadow mode", "v1")

    assert (decision.reason, decision.state.status) == ("shadow mode", Status.ALARM)


def test_withdrawing_an_unstarted_attempt_forgets_its_request_and_cancels_its_start_in_flight() -> None:
    # given the start was tried (its answer lost) and the outbox found it never made
    start = ActionRecord(
        kind="sagemaker",
        key=f"{EPISODE}#1:retrain_started",
        notice=notice_of("retrain_started", attempt=1),
        status="sending",
        tried_by="evaluator-1",
    )
    running = requested(actions=(start,))

    decision = on_cancelled(monitor(), running, (start,), day(1), "never made", "v1")

    assert decision.reason == "never made; retraining attempt 1 withdrawn before it started (not counted)"
    assert decision.state.status is Status.ALARM
    assert decision.state.episode == episode(retrains=0, retrain_requested_at=None)
    assert [(a.key, a.status) for a in decision.state.actions] == [(start.key, "cancelled")]
    assert decision.cancelled == (start.model_copy(update={"status": "cancelled", "tried_by": None}),)


def test_cancelling_a_start_of_another_episode_with_the_same_attempt_number_keeps_the_attempt() -> None:
    other = ActionRecord(
        kind="sqs",
        key="churn-model@20240701T000000Z#1:retrain_started",
        notice=notice_of("retrain_started", "churn-model@20240701T000000Z", attempt=1),
    )

    decision = on_cancelled(monitor(), requested(actions=(other,)), (other,), day(1), "never made", "v1")

    assert decision.state.status is Status.RETRAINING
    assert decision.state.episode is not None and decision.state.episode.retrains == 1


def test_cancelling_an_alert_of_the_running_attempt_keeps_the_attempt() -> None:
    alert = ActionRecord(kind="sns", key=f"{EPISODE}#1:critical", notice=notice_of("critical", attempt=1))

    decision = on_cancelled(monitor(), requested(actions=(alert,)), (alert,), day(1), "shadow mode", "v1")

    assert decision.state.status is Status.RETRAINING
    assert decision.state.episode is not None and decision.state.episode.retrains == 1


def test_a_start_cancelled_after_a_failed_try_is_no_longer_scheduled_for_a_retry() -> None:
    # given the start of attempt 1 backed off after a failed try, and its companion alert in flight
    start = ActionRecord(
        kind="sagemaker",
        key=f"{EPISODE}#1:retrain_started",
        notice=notice_of("retrain_started", attempt=1),
        attempts=1,
        next_try_at=day(1.5),
        last_error="throttled",
    )
    companion = ActionRecord(
        kind="sns",
        key=f"{EPISODE}#1:retrain_started",
        notice=notice_of("retrain_started", attempt=1),
        status="sending",
        tried_by="evaluator-1",
    )
    running = requested(actions=(start, companion))

    # when the attempt fails: its start is no longer news; the try in flight stays, to be resolved
    failed = LifecycleEvent(kind="failed", at=day(1), episode_id=EPISODE, attempt=1)
    decision = on_lifecycle(monitor(), running, failed, "v1")

    assert decision.cancelled == (start.model_copy(update={"status": "cancelled", "next_try_at": None}),)
    assert decision.state.actions[:2] == (companion, *decision.cancelled)


# --- shadow mode -------------------------------------------------------------------------------------------------


def test_a_shadow_retraining_again_after_a_shadow_retraining_counts_only_later_datapoints_as_evidence() -> None:
    config = monitor(mode="shadow", cooldown="1d", retrain_on_persisting_drift=True)
    replay = Replay(config)
    replay.score(0, 0.3)
    assert (replay.status, replay.state.evidence_after) == (Status.RETRAINED, day(0))

    again = replay.score(2, 0.3)

    assert "shadow mode: would retrain (attempt 2" in again.reason
    assert (replay.status, replay.state.evidence_after) == (Status.RETRAINED, day(2))


def test_cancelling_one_companion_of_a_start_cancels_only_that_kind() -> None:
    # given attempt 1 started (its pipeline start delivered) and its three companions pending under the start's key
    key = f"{EPISODE}#1:retrain_started"
    companions = tuple(
        ActionRecord(kind=kind, key=key, notice=notice_of("retrain_started", attempt=1))
        for kind in ("sqs", "eventbridge", "sns")
    )
    started = requested(actions=companions)
    assert started.episode is not None
    started = started.model_copy(update={"episode": started.episode.model_copy(update={"retrain_started_at": day(0)})})

    decision = on_cancelled(monitor(), started, companions[:1], day(1), "the queue is gone", "v1")

    assert [a.kind for a in decision.cancelled] == ["sqs"]
    assert [(a.kind, a.status) for a in decision.state.actions] == [
        ("eventbridge", "pending"),
        ("sns", "pending"),
        ("sqs", "cancelled"),
    ]
