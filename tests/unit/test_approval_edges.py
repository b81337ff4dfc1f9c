"""Approval requests at their edges (policy/approval.py): what the request and its expiry tell the operator, when
the timeout counts from, an approval asked for an age retraining (no drift score behind it), and an acknowledgement
given in the very instant of the alert. No AWS anywhere in here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from retrain_trigger.model import Status

from .scenario import Replay, day, monitor

EPISODE = "churn-model@20240802T000000Z"
GUARDED = [{"metric": "accuracy", "below": 0.85}]


def awaiting(**overrides: Any) -> Replay:
    """A monitor that requires approval, in AWAITING_APPROVAL since day 1 (critical 0.3 on day 1)."""
    replay = Replay(monitor(approval="required", **overrides))
    replay.scores(0, [0.1, 0.3])
    assert replay.state.status is Status.AWAITING_APPROVAL
    return replay


def command(replay: Replay, kind: str, at: datetime, episode: str = EPISODE) -> Any:
    return replay.command(kind, at, episode_id=episode, by="ana")


def age_awaiting() -> Replay:
    """A monitor that requires approval whose model turned 10 days old on day 10: its age retraining awaits."""
    replay = Replay(monitor(approval="required", max_model_age="10d"))
    replay.scores(0, [0.05] * 11)
    assert replay.state.status is Status.AWAITING_APPROVAL
    return replay


class TestTheRequest:
    def test_its_reason_says_the_attempt_the_deadline_and_the_bus_event_detail(self) -> None:
        replay = Replay(monitor(approval="required"))

        request = replay.scores(0, [0.1, 0.3])[-1]

        assert request.reason.startswith(
            f"drift 0.3 > 0.2: retraining awaits approval (attempt 1 of episode {EPISODE}) until "
            "2024-08-04T00:00:00+00:00: approve with"
        )
        assert request.reason.endswith(
            f'event with detail {{"monitor_id": "churn-model", "episode_id": "{EPISODE}"}} on the project bus'
        )

    def test_its_alert_carries_the_score_and_time_of_the_datapoint_that_asked(self) -> None:
        replay = Replay(monitor(approval="required"))

        request = replay.scores(0, [0.1, 0.3])[-1]

        (notice,) = [a.notice for a in request.new_actions]
        assert (notice.score, notice.datapoint_at) == (0.3, day(1))

    def test_it_records_when_it_was_asked(self) -> None:
        replay = awaiting()

        assert replay.state.episode is not None and replay.state.episode.approval_requested_at == day(1)

    def test_it_keeps_the_guards_the_retraining_was_decided_with(self) -> None:
        replay = Replay(monitor(approval="required", guards=GUARDED))
        replay.score(0, 0.1, accuracy=0.8)

        request = replay.score(1, 0.3, accuracy=0.8)

        assert request.state.status is Status.AWAITING_APPROVAL
        assert dict(request.guards) == {"accuracy < 0.85": True}


class TestTheTimeout:
    def test_it_counts_from_the_request_not_from_when_the_episode_opened(self) -> None:
        replay = Replay(monitor(approval="required", approval_timeout="36h", guards=GUARDED))
        replay.score(0, 0.1, accuracy=0.95)
        replay.score(1, 0.3, accuracy=0.95)  # ALARM: the guard holds the retraining back
        replay.score(2, 0.3, accuracy=0.8)  # the guard lets it go: the request is asked on day 2
        assert replay.status is Status.AWAITING_APPROVAL

        replay.score(3, 0.3, accuracy=0.8)  # 24h after the request, 48h after the episode opened

        assert replay.status is Status.AWAITING_APPROVAL

    def test_its_expiry_says_the_episode_stays_open_in_alarm_without_retraining(self) -> None:
        replay = awaiting(approval_timeout="1d")

        expiry = replay.score(2, 0.3)

        why = (
            f"approval request for attempt 1 of episode {EPISODE} expired unanswered after 1 day, 0:00:00: no "
            "retraining in this episode; it stays open in ALARM until drift falls below reset"
        )
        assert (expiry.reason, expiry.state.status) == (why, Status.ALARM)
        assert [a.notice.reason for a in expiry.new_actions] == [why]


class TestAnAgeRetrainingAwaitingApproval:
    def test_its_request_carries_no_drift_score(self) -> None:
        replay = age_awaiting()

        (notice,) = [a.notice for a in replay.decisions[-1].new_actions]

        assert (notice.event, notice.score, notice.datapoint_at) == ("approval_requested", None, None)

    def test_approved_its_retraining_request_carries_no_drift_score(self) -> None:
        replay = age_awaiting()
        assert replay.state.episode is not None

        answer = command(replay, "approve", day(10.5), replay.state.episode.id)

        starts = [a.notice for a in answer.decision.new_actions if a.notice.event == "retrain_started"]
        assert [(n.score, n.datapoint_at) for n in starts][:1] == [(None, None)]
        assert replay.status is Status.RETRAINING


class TestAcknowledgement:
    def test_acknowledged_in_the_instant_of_the_alert_it_holds(self) -> None:
        replay = awaiting()
        command(replay, "acknowledge", day(1))  # the approval request went out at day 1 too

        again = command(replay, "acknowledge", day(1))

        assert again.verdict == "already"
