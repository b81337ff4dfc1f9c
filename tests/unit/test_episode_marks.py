"""What a state and its episode remember besides their status, and why each mark matters: shadow mode's (its
retrainings never happened, so they cool nothing down), whether an episode's alert went out (else it is announced
late), an acknowledgement (it ends with the status it was given in), the grace period a retraining must not shorten,
everything a muted transition held back, and which action of a retraining's notice is its start. No AWS."""

from __future__ import annotations

from datetime import datetime, timedelta

from retrain_trigger.model import Decision, LifecycleEvent, Status
from retrain_trigger.outbox import is_start
from retrain_trigger.policy import evaluate, on_lifecycle

from .scenario import Replay, day, monitor, obs

GUARDED = [{"metric": "accuracy", "below": 0.85}]


def answer(replay: Replay, kind: str, at: datetime) -> Decision:
    """The operator ana's answer about the open episode."""
    episode = replay.state.episode
    assert episode is not None
    return replay.command(kind, at, episode_id=episode.id, by="ana").decision


class TestShadowMode:
    def test_a_shadow_retraining_whose_episode_closed_does_not_cool_down_the_first_real_one(self) -> None:
        replay = Replay(monitor(mode="shadow", cooldown="7d"))
        replay.scores(0, [0.3, 0.1, 0.1])  # shadow: "retrained" on day 0, closed below reset on day 2
        assert replay.state.status is Status.OK and replay.state.episode is None and replay.state.shadow

        replay.config = monitor(cooldown="7d")  # active again, within the shadow retraining's cooldown
        first_real = replay.score(3, 0.3)

        assert first_real.reason.startswith("left shadow mode, armed: drift 0.3 > 0.2: retraining started")
        assert first_real.state.status is Status.RETRAINING


class TestAnnounced:
    def test_an_alert_with_nowhere_to_go_still_counts_as_announced_so_it_is_not_announced_again(self) -> None:
        # no alert action is configured: the critical alert sends nothing, yet nothing was muted either
        replay = Replay(monitor(guards=GUARDED, actions={"pipeline": {"name": "p"}, "on_alert": []}))
        opened = replay.score(0, 0.3, accuracy=0.9)
        assert opened.state.status is Status.ALARM and not opened.new_actions

        later = replay.score(1, 0.3, accuracy=0.9)

        assert later.outcome != "transition"
        assert later.reason.startswith("still critical; retraining blocked: guard accuracy < 0.85 does not hold")


class TestAcknowledged:
    def test_an_acknowledgement_ends_when_a_rejection_moves_the_episode_to_alarm_so_its_alert_repeats(self) -> None:
        replay = Replay(monitor(approval="required", renotify_every="1d"))
        replay.scores(0, [0.1, 0.3])  # AWAITING_APPROVAL since day 1
        answer(replay, "acknowledge", day(1.5))
        rejected = answer(replay, "reject", day(1.6))
        assert rejected.state.status is Status.ALARM and not rejected.new_actions  # a rejection alerts nobody

        repeated = replay.score(3, 0.3)

        assert [a.notice.renotification for a in repeated.new_actions][:1] == [1]
        assert repeated.reason.endswith("still open, drift 0.3")


class TestGracePeriod:
    def test_a_shadow_retraining_keeps_a_longer_grace_period_a_deployment_started(self) -> None:
        replay = Replay(monitor(approval="required", grace_period="1d"))
        replay.scores(0, [0.1, 0.3])  # AWAITING_APPROVAL since day 1
        deployed_at = day(3)  # stamped later than the approval below, and delivered first
        replay._commit(on_lifecycle(replay.config, replay.state, LifecycleEvent(kind="deployed", at=deployed_at)))
        replay.config = monitor(approval="required", grace_period="1d", mode="shadow")

        approved = answer(replay, "approve", day(2))

        assert approved.state.status is Status.RETRAINED
        assert approved.state.grace_until == deployed_at + timedelta(days=1)


class TestSuppressed:
    def test_a_muted_transition_lists_every_action_it_held_back_across_its_notices(self) -> None:
        config = monitor(mode="muted", muted_until="2024-09-01T00:00:00Z", max_age="10d", no_data_after="2d")
        in_gap = Replay(config).state.model_copy(update={"gap_since": day(0), "last_datapoint_at": day(0)})

        decision = evaluate(config, in_gap, [obs(0, 0.1), obs(4, 0.3)], day(4), "v1")

        assert decision.new_actions == ()
        assert decision.suppressed == ("sns:critical", "sns:data_resumed")


class TestStart:
    def test_of_a_retrainings_notice_only_its_first_start_kind_is_the_start(self) -> None:
        decision = Replay(monitor()).score(0, 0.3)

        starts = {(a.kind, a.notice.event): is_start(a, decision.state) for a in decision.new_actions}

        assert starts == {
            ("sagemaker", "retrain_started"): True,
            ("sqs", "retrain_started"): False,
            ("eventbridge", "retrain_started"): False,
            ("sns", "retrain_started"): False,
        }

    def test_an_alert_is_never_a_start(self) -> None:
        decision = Replay(monitor(guards=GUARDED)).score(0, 0.3, accuracy=0.9)

        assert decision.new_actions and not any(is_start(a, decision.state) for a in decision.new_actions)
