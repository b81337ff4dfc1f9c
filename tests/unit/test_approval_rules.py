"""Approval and acknowledgement in the pure engine (policy/approval.py, policy/operator.py): docs/rules.md's
approval table, one class per rule."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from retrain_trigger.model import MonitorState, OperatorCommand, Status
from retrain_trigger.outbox import delivered
from retrain_trigger.policy import evaluate, on_command

from .scenario import Replay, day, monitor, obs

SECOND = timedelta(seconds=1)
EPISODE = "churn-model@20240802T000000Z"


def approving(**overrides: Any) -> Replay:
    return Replay(monitor(approval="required", **overrides))


def awaiting(**overrides: Any) -> Replay:
    """Given a monitor that requires approval, in AWAITING_APPROVAL since day 1 (critical on day 1)."""
    replay = approving(**overrides)
    replay.scores(0, [0.1, 0.3])
    assert replay.state.status is Status.AWAITING_APPROVAL
    return replay


def command(replay: Replay, kind: str, at: datetime, episode: str | None = EPISODE, by: str = "ana") -> Any:
    """Apply an operator's command as the service does: decide, then commit (and deliver) when it changed."""
    return replay.command(kind, at, episode_id=episode, by=by)


def deliver_all(state: MonitorState, at: datetime) -> MonitorState:
    for action in state.pending:
        state = delivered(state, action, "ok", at)
    return state


class TestApprovalNeeded:
    def test_a_retraining_that_would_start_awaits_approval_instead(self) -> None:
        replay = approving()

        decision = replay.scores(0, [0.1, 0.3])[-1]

        assert (decision.before.status, decision.state.status) == (Status.OK, Status.AWAITING_APPROVAL)
        assert [(a.kind, a.notice.event, a.key) for a in decision.new_actions] == [
            ("sns", "approval_requested", f"{EPISODE}#1:approval_requested")
        ]
        assert replay.retrains() == []
        assert decision.state.episode is not None and decision.state.episode.retrains == 0

    def test_the_request_says_the_commands_and_the_bus_events_that_answer_it(self) -> None:
        decision = approving().scores(0, [0.1, 0.3])[-1]

        reason = decision.new_actions[0].notice.reason
        assert f"retrain-trigger approve churn-model {EPISODE} --stack STACK" in reason
        assert f"retrain-trigger reject churn-model {EPISODE} --stack STACK" in reason
        assert '"Retraining Approved"' in reason and '"Retraining Rejected"' in reason
        assert "until 2024-08-04T00:00:00+00:00" in reason  # the default approval_timeout, 2d

    def test_approval_none_starts_at_once_as_before(self) -> None:
        replay = Replay(monitor(approval="none"))

        assert replay.scores(0, [0.1, 0.3])[-1].state.status is Status.RETRAINING

    def test_shadow_mode_never_waits_for_approval(self) -> None:
        replay = approving(mode="shadow")

        assert replay.scores(0, [0.1, 0.3])[-1].state.status is Status.RETRAINED

    def test_a_blocked_retraining_alerts_critical_and_asks_only_once_nothing_blocks(self) -> None:
        replay = approving(guards=[{"metric": "accuracy", "below": 0.85}])

        first = replay.score(1, 0.3, accuracy=0.9)
        second = replay.score(2, 0.3, accuracy=0.8)

        assert first.state.status is Status.ALARM and replay.notices() == ["critical", "approval_requested"]
        assert second.state.status is Status.AWAITING_APPROVAL


class TestAwaitingApproval:
    def test_waits_whatever_the_scores_say_while_not_expired(self) -> None:
        replay = awaiting()

        decision = replay.score(2, 0.5)

        assert decision.outcome == "unchanged" and decision.state.status is Status.AWAITING_APPROVAL

    @pytest.mark.parametrize(
        ("after", "status"), [(timedelta(days=2) - SECOND, Status.AWAITING_APPROVAL), (timedelta(days=2), Status.ALARM)]
    )
    def test_expires_at_the_timeout_and_not_before(self, after: timedelta, status: Status) -> None:
        replay = awaiting()

        decision = replay._commit(evaluate(replay.config, replay.state, [obs(1, 0.3)], day(1) + after, "v1"))

        assert decision.state.status is status
        expected = ["approval_expired"] if status is Status.ALARM else []
        assert [a.notice.event for a in decision.new_actions] == expected

    def test_expires_even_when_no_datapoint_arrives(self) -> None:
        replay = awaiting(approval_timeout="1d")

        decision = replay.score(2, None)

        assert decision.state.status is Status.ALARM
        assert decision.new_actions[0].key == f"{EPISODE}#1:approval_expired"

    def test_an_expired_request_holds_the_episode_without_asking_again(self) -> None:
        replay = awaiting(approval_timeout="1d")
        replay.score(2, 0.3)

        later = replay.scores(3, [0.3, 0.3, 0.3])

        assert [d.state.status for d in later] == [Status.ALARM] * 3
        assert all(d.new_actions == () for d in later)
        assert "expired unanswered" in later[-1].reason

    def test_closes_the_episode_when_the_drift_falls_below_reset(self) -> None:
        replay = awaiting()

        decision = replay.score(2, 0.1)

        assert decision.state.status is Status.OK and decision.state.episode is None
        assert [a.notice.event for a in decision.new_actions] == ["recovered"]


class TestApprove:
    def test_approval_starts_the_retraining_with_the_episodes_own_keys(self) -> None:
        replay = awaiting()

        answer = command(replay, "approve", day(1.5))

        assert answer.verdict == "done" and answer.ok
        assert answer.decision.state.status is Status.RETRAINING
        starts = [a for a in answer.decision.new_actions if a.notice.event == "retrain_started"]
        assert {a.key for a in starts} == {f"{EPISODE}#1:retrain_started"}
        assert {a.kind for a in starts} == set(replay.config.actions.on_retrain)
        assert "approved by ana" in starts[0].notice.reason

    def test_approved_twice_it_starts_once(self) -> None:
        replay = awaiting()
        command(replay, "approve", day(1.5))

        again = command(replay, "approve", day(1.6))

        assert again.verdict == "already" and again.ok
        assert not again.decision.changed and again.decision.new_actions == ()

    def test_approval_raced_by_a_tick_decides_on_the_committed_state(self) -> None:
        # given two approvals decided on the same stored state: the store lets one commit, the other decides again
        replay = awaiting()
        stale = replay.state
        command(replay, "approve", day(1.5))

        ask = OperatorCommand(kind="approve", monitor_id="churn-model", at=day(1.5), episode_id=EPISODE)
        lost = on_command(replay.config, stale, ask, "v1")
        retried = on_command(replay.config, replay.state, ask, "v1")

        # the loser's decision would start the same keys; retried on the winner's state, it starts nothing
        assert {a.key for a in lost.decision.new_actions} <= {a.key for a in replay.state.actions}
        assert retried.verdict == "already" and retried.decision.new_actions == ()

    def test_a_wrong_episode_is_refused_naming_the_open_one(self) -> None:
        replay = awaiting()

        answer = command(replay, "approve", day(1.5), episode="churn-model@20240101T000000Z")

        assert answer.verdict == "wrong_episode" and not answer.ok
        assert EPISODE in answer.message and not answer.decision.changed

    def test_an_expired_request_cannot_be_approved_and_its_expiry_is_committed(self) -> None:
        replay = awaiting()

        answer = command(replay, "approve", day(3))

        assert answer.verdict == "expired" and not answer.ok
        assert answer.decision.state.status is Status.ALARM
        assert [a.notice.event for a in answer.decision.new_actions] == ["approval_expired"]
        assert command(replay, "approve", day(3.1)).verdict == "expired"

    def test_nothing_to_approve_without_an_open_episode(self) -> None:
        replay = approving()
        replay.score(0, 0.1)

        answer = command(replay, "approve", day(0.5))

        assert answer.verdict == "no_episode" and "no open episode" in answer.message

    def test_a_retry_after_a_failed_approved_attempt_asks_again(self) -> None:
        replay = awaiting(cooldown="0s", max_retrains_per_episode=3)
        command(replay, "approve", day(1.5))
        replay.lifecycle(1.6, "failed")

        decision = replay.score(2, 0.3)

        assert decision.state.status is Status.AWAITING_APPROVAL
        assert decision.new_actions[0].key == f"{EPISODE}#2:approval_requested"


class TestReject:
    def test_rejection_keeps_the_episode_open_in_alarm_without_retraining(self) -> None:
        replay = awaiting()

        answer = command(replay, "reject", day(1.5))
        later = replay.scores(2, [0.3, 0.3])

        assert answer.verdict == "done" and answer.decision.state.status is Status.ALARM
        assert [d.state.status for d in later] == [Status.ALARM, Status.ALARM]
        assert replay.retrains() == []
        assert "rejected by an operator" in later[-1].reason

    def test_rejected_twice_answers_already(self) -> None:
        replay = awaiting()
        command(replay, "reject", day(1.5))

        assert command(replay, "reject", day(1.6)).verdict == "already"

    def test_approval_after_a_rejection_is_refused(self) -> None:
        replay = awaiting()
        command(replay, "reject", day(1.5))

        answer = command(replay, "approve", day(1.6))

        assert answer.verdict == "not_awaiting" and "rejected" in answer.message

    def test_the_rejected_episode_closes_below_reset(self) -> None:
        replay = awaiting()
        command(replay, "reject", day(1.5))

        assert replay.score(2, 0.1).state.status is Status.OK


class TestAcknowledge:
    def renotifying(self) -> Replay:
        replay = Replay(monitor(renotify_every="1d", guards=[{"metric": "accuracy", "below": 0.85}]))
        replay.score(1, 0.3, accuracy=0.9)  # ALARM: critical alert, retraining blocked by the guard
        return replay

    def test_an_acknowledged_alarm_is_not_repeated(self) -> None:
        replay = self.renotifying()

        answer = command(replay, "acknowledge", day(1.5), episode=None)
        later = [replay.score(n, 0.3, accuracy=0.9) for n in (2, 3, 4)]

        assert answer.verdict == "done" and answer.decision.state.status is Status.ALARM
        assert all(d.new_actions == () for d in later)

    def test_without_acknowledgement_the_alarm_repeats(self) -> None:
        replay = self.renotifying()

        later = [replay.score(n, 0.3, accuracy=0.9) for n in (2, 3)]

        assert [d.new_actions[0].notice.renotification for d in later] == [1, 2]

    def test_the_acknowledgement_ends_at_the_next_transition(self) -> None:
        # given an acknowledged ALARM that then retrains (the guard holds), fails, and is back in ALARM
        replay = Replay(monitor(renotify_every="1d", cooldown="0s", guards=[{"metric": "accuracy", "below": 0.85}]))
        replay.score(1, 0.3, accuracy=0.9)
        command(replay, "acknowledge", day(1.5), episode=None)
        assert replay.score(2, 0.3, accuracy=0.8).state.status is Status.RETRAINING
        replay.lifecycle(2.5, "failed")

        quiet = replay.score(3, 0.3, accuracy=0.9)  # within renotify_every of the retrain_failed alert
        repeated = replay.score(4, 0.3, accuracy=0.9)

        # then the alert repeats again: the acknowledgement belonged to the ALARM before the retraining
        assert quiet.new_actions == ()
        assert [(a.notice.event, a.notice.renotification) for a in repeated.new_actions] == [("critical", 1)]

    def test_acknowledging_twice_answers_already(self) -> None:
        replay = self.renotifying()
        command(replay, "acknowledge", day(1.5), episode=None)

        again = command(replay, "acknowledge", day(1.6), episode=None)

        assert again.verdict == "already" and not again.decision.changed

    def test_nothing_to_acknowledge_without_an_open_episode(self) -> None:
        replay = Replay(monitor())
        replay.score(0, 0.1)

        answer = command(replay, "acknowledge", day(0.5), episode=None)

        assert answer.verdict == "no_episode" and not answer.ok

    def test_acknowledging_another_episode_is_refused(self) -> None:
        replay = self.renotifying()

        answer = command(replay, "acknowledge", day(1.5), episode="churn-model@20200101T000000Z")

        assert answer.verdict == "wrong_episode"
