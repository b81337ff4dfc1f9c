"""What the operator's commands answer (policy/operator.py): the message a CLI prints, the reason in the history,
the outcome of a refused command, and the retraining an approval starts. No AWS anywhere in here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from retrain_trigger.model import OperatorCommand, Status
from retrain_trigger.policy import on_command

from .scenario import Replay, day, monitor

EPISODE = "churn-model@20240802T000000Z"


def awaiting(**overrides: Any) -> Replay:
    """A monitor that requires approval, in AWAITING_APPROVAL since day 1 (critical 0.3 on day 1)."""
    replay = Replay(monitor(approval="required", **overrides))
    replay.scores(0, [0.1, 0.3])
    assert replay.state.status is Status.AWAITING_APPROVAL
    return replay


def in_alarm() -> Replay:
    """A monitor without approval whose drift episode is in ALARM (the guard holds the retraining back)."""
    replay = Replay(monitor(guards=[{"metric": "accuracy", "below": 0.85}]))
    replay.score(0, 0.1, accuracy=0.95)
    replay.score(1, 0.3, accuracy=0.95)
    assert replay.state.status is Status.ALARM
    return replay


def command(replay: Replay, kind: str, at: datetime, by: str = "ana", version: str = "v1") -> Any:
    return replay.command(kind, at, version, episode_id=EPISODE, by=by)


class TestAnswers:
    def test_a_refused_command_is_an_ignored_decision_whose_reason_is_the_answer(self) -> None:
        replay = Replay(monitor())
        replay.score(0, 0.1)

        answer = command(replay, "acknowledge", day(1))

        assert answer.verdict == "no_episode"
        assert (answer.decision.outcome, answer.decision.reason) == (
            "ignored",
            "churn-model has no open episode: nothing to acknowledge",
        )

    def test_a_command_already_done_is_an_unchanged_decision_whose_reason_is_the_answer(self) -> None:
        replay = awaiting()
        command(replay, "acknowledge", day(1.5))

        answer = command(replay, "acknowledge", day(1.6))

        assert answer.message == f"episode {EPISODE} already acknowledged in AWAITING_APPROVAL"
        assert (answer.decision.outcome, answer.decision.reason) == ("unchanged", answer.message)

    def test_acknowledging_names_who_and_is_the_reason_of_the_transition(self) -> None:
        replay = awaiting()

        answer = command(replay, "acknowledge", day(1.5))

        why = f"acknowledged by ana: episode {EPISODE}'s alert is not repeated until its next transition"
        assert (answer.verdict, answer.message, answer.decision.reason) == ("done", why, why)

    def test_a_command_without_a_name_says_nobody(self) -> None:
        replay = awaiting()

        answer = command(replay, "acknowledge", day(1.5), by="")

        assert answer.message == f"acknowledged: episode {EPISODE}'s alert is not repeated until its next transition"

    def test_a_command_records_the_config_version_it_was_decided_under(self) -> None:
        replay = awaiting()

        command(replay, "acknowledge", day(1.5), version="v2")

        assert replay.state.config_version == "v2"

    def test_a_command_without_a_config_version_keeps_the_recorded_one(self) -> None:
        replay = awaiting()
        ask = OperatorCommand(kind="acknowledge", monitor_id="churn-model", at=day(1.5), episode_id=EPISODE)

        answer = on_command(replay.config, replay.state, ask)

        assert answer.decision.state.config_version == "v1"


class TestApproveAndReject:
    def test_approving_says_which_attempt_starts(self) -> None:
        replay = awaiting()

        answer = command(replay, "approve", day(1.5))

        assert answer.message == f"attempt 1 of episode {EPISODE} approved: retraining starts"
        assert replay.status is Status.RETRAINING

    def test_the_approved_retraining_request_carries_the_score_and_time_that_opened_the_episode(self) -> None:
        replay = awaiting()

        answer = command(replay, "approve", day(1.5))

        (start,) = [a.notice for a in answer.decision.new_actions if a.notice.event == "retrain_started"][:1]
        assert (start.score, start.datapoint_at) == (0.3, day(1))

    def test_approving_twice_answers_already_approved(self) -> None:
        replay = awaiting()
        command(replay, "approve", day(1.5))

        answer = command(replay, "approve", day(1.6))

        assert (answer.verdict, answer.message) == ("already", f"attempt 1 of episode {EPISODE} already approved")

    def test_rejecting_says_the_episode_stays_open_in_alarm_without_retraining(self) -> None:
        replay = awaiting()

        answer = command(replay, "reject", day(1.5))

        why = (
            f"retraining rejected by ana: attempt 1 of episode {EPISODE} does not start; the episode stays open in "
            "ALARM, without retraining, until drift falls below reset"
        )
        assert (answer.message, answer.decision.reason, replay.status) == (why, why, Status.ALARM)

    def test_approving_an_episode_that_never_asked_says_no_approval_was_requested(self) -> None:
        replay = in_alarm()

        answer = command(replay, "approve", day(1.5))

        assert (answer.verdict, answer.message) == (
            "not_awaiting",
            f"episode {EPISODE} awaits no approval (ALARM; no approval was requested)",
        )

    def test_approving_after_the_timeout_says_the_request_expired_unanswered(self) -> None:
        replay = awaiting(approval_timeout="1d")

        answer = command(replay, "approve", day(3))

        assert (answer.verdict, answer.message) == (
            "expired",
            f"the approval request of episode {EPISODE} expired unanswered",
        )

    def test_approving_an_expiry_already_committed_says_the_request_expired_unanswered(self) -> None:
        replay = awaiting(approval_timeout="1d")
        replay.score(3, 0.3)

        answer = command(replay, "approve", day(3.5))

        assert (answer.verdict, answer.message) == (
            "expired",
            f"the approval request of episode {EPISODE} expired unanswered",
        )


class TestAwaitingApproval:
    def test_a_tick_while_awaiting_says_which_attempt_awaits_approval(self) -> None:
        replay = awaiting()

        waiting = replay.score(2, 0.3)

        assert waiting.reason == f"retraining attempt 1 of episode {EPISODE} awaits approval"
