"""When a retraining whose start never went out times out: only the running attempt's own start notice, still
waiting, keeps the timeout counting from the real start; anything else pending does not hold it off."""

from __future__ import annotations

from retrain_trigger.model import ActionRecord, Episode, MonitorState, Notice, Status
from retrain_trigger.policy import evaluate, retraining_overdue

from .scenario import day, monitor, obs

EPISODE = "churn-model@20240801T000000Z"


def requested(*pending: ActionRecord) -> MonitorState:
    """Attempt 2 of the episode decided on day 0, its start not delivered."""
    running = Episode(id=EPISODE, opened_at=day(0), trigger_score=0.3, retrains=2, retrain_requested_at=day(0))
    return MonitorState(monitor_id="churn-model", status=Status.RETRAINING, episode=running, actions=pending)


def pending(event: str, episode_id: str, attempt: int) -> ActionRecord:
    notice = Notice(event=event, episode_id=episode_id, attempt=attempt, decided_at=day(0))  # type: ignore[arg-type]
    return ActionRecord(kind="sqs", key=f"{episode_id}#{attempt}:{event}", notice=notice)


def test_the_running_attempts_start_still_waiting_holds_off_the_timeout() -> None:
    waiting = requested(pending("retrain_started", EPISODE, 2))

    assert not retraining_overdue(monitor(retraining_timeout="1d"), waiting, day(2))


def test_a_pending_start_of_an_earlier_attempt_does_not_hold_off_the_timeout() -> None:
    earlier = requested(pending("retrain_started", EPISODE, 1))

    assert retraining_overdue(monitor(retraining_timeout="1d"), earlier, day(2))


def test_a_pending_start_of_another_episode_does_not_hold_off_the_timeout() -> None:
    other = requested(pending("retrain_started", "churn-model@20240701T000000Z", 2))

    assert retraining_overdue(monitor(retraining_timeout="1d"), other, day(2))


def test_a_pending_alert_of_the_running_attempt_does_not_hold_off_the_timeout() -> None:
    alert = requested(pending("escalation", EPISODE, 2))

    assert retraining_overdue(monitor(retraining_timeout="1d"), alert, day(2))


def test_a_monitor_not_retraining_is_never_overdue_whatever_its_episode_says() -> None:
    # given an alarm whose episode still remembers an attempt decided and started long ago
    alarm = requested().model_copy(update={"status": Status.ALARM})
    assert alarm.episode is not None
    alarm = alarm.model_copy(update={"episode": alarm.episode.model_copy(update={"retrain_started_at": day(0)})})

    assert not retraining_overdue(monitor(retraining_timeout="1d"), alarm, day(40))


def test_a_retraining_timed_out_from_its_decision_says_no_start_was_confirmed() -> None:
    decision = evaluate(monitor(retraining_timeout="1d"), requested(), [obs(2, 0.3)], day(2), "v1")

    assert decision.state.status is Status.ALARM
    assert decision.reason.startswith(
        "retraining attempt 2 had no final status within 1 day, 0:00:00 of its decision (no start was confirmed); "
    )
