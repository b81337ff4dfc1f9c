"""The rules of the policy engine, one behaviour per test. No AWS anywhere in here."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from retrain_trigger.config import MonitorConfig
from retrain_trigger.errors import BadInput
from retrain_trigger.messages import headline
from retrain_trigger.model import LifecycleEvent, MonitorState, Observation, Status
from retrain_trigger.outbox import delivered
from retrain_trigger.policy import evaluate, is_due, on_cancelled, on_lifecycle, on_start_given_up

from .scenario import Replay, day, monitor, obs

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "reference_drift_scores.csv"


def blocked_by_guard(**overrides: object) -> Replay:
    """A monitor whose accuracy guard never holds: every breach only alerts."""
    return Replay(monitor(guards=[{"metric": "accuracy", "below": 0.85}], **overrides))


class TestStaleTick:
    """`stale_tick`: a tick older than the last committed evaluation changes nothing."""

    def test_a_tick_older_than_the_last_committed_evaluation_keeps_the_state_and_says_stale(self) -> None:
        replay = Replay(monitor(warning=0.1, warning_reset=0.08))
        replay.scores(0, [0.12, 0.05])  # WARNING on day 0, back to OK on day 1
        committed = replay.state

        decision = evaluate(replay.config, committed, [obs(0, 0.12)], day(0.5), "v1")

        assert decision.outcome == "stale"
        assert not decision.changed and decision.new_actions == ()
        assert committed.decided_at == day(1)

    def test_a_tick_at_the_time_of_the_last_committed_evaluation_is_decided(self) -> None:
        replay = Replay(monitor(warning=0.1))
        replay.score(0, 0.12)

        decision = evaluate(replay.config, replay.state, [obs(0, 0.12)], day(0), "v1")

        assert decision.outcome == "unchanged"

    def test_a_lifecycle_transition_does_not_move_the_time_ticks_are_measured_against(self) -> None:
        replay = Replay(monitor())
        replay.score(0, 0.3)  # RETRAINING

        replay.lifecycle(0.5, "succeeded")

        assert replay.state.status is Status.RETRAINED
        assert replay.state.decided_at == day(0)

    def test_a_state_stored_before_the_field_existed_is_read_and_never_stale(self) -> None:
        stored = MonitorState(monitor_id="churn-model", status=Status.WARNING, version=3).model_dump_json(
            exclude={"decided_at"}
        )
        state = MonitorState.model_validate_json(stored)

        decision = evaluate(monitor(warning=0.1), state, [obs(0, 0.12)], day(0), "v1")

        assert state.decided_at is None
        assert decision.outcome == "unchanged"


class TestArmed:
    """`armed`: OK and WARNING."""

    def test_a_score_exactly_at_critical_is_not_above_it(self) -> None:
        replay = Replay(monitor(critical=0.2))
        replay.score(0, 0.2)

        assert replay.status is Status.OK
        assert replay.retrains() == []

    def test_missing_data_as_breaching_alerts_but_never_retrains_without_a_real_datapoint(self) -> None:
        decision = evaluate(monitor(missing_data="breaching"), MonitorState(monitor_id="churn-model"), [], day(5))

        assert decision.state.status is Status.ALARM
        assert [a.notice.event for a in decision.new_actions] == ["critical"]
        assert "no real datapoint breached" in decision.reason

    def test_missing_data_as_not_breaching_lets_a_warning_recover(self) -> None:
        state = MonitorState(monitor_id="churn-model", status=Status.WARNING, version=1)

        decision = evaluate(monitor(warning=0.1, missing_data="not_breaching"), state, [], day(5))

        assert decision.state.status is Status.OK
        assert [a.notice.event for a in decision.new_actions] == ["recovered"]

    def test_m_of_n_needs_m_breaching_datapoints_among_the_last_n(self) -> None:
        replay = Replay(monitor(datapoints_to_trigger=2, evaluation_periods=3))
        replay.scores(0, [0.25, 0.1, 0.1, 0.25])
        assert replay.retrains() == []
        replay.score(4, 0.22)

        (retrain,) = replay.retrains()
        assert retrain.breaches == 2
        assert retrain.state.episode and retrain.state.episode.opened_at == day(4)

    def test_a_warning_alert_goes_out_once_when_the_warning_level_is_crossed(self) -> None:
        replay = Replay(monitor(warning=0.1))
        replay.scores(0, [0.05, 0.12, 0.13, 0.11, 0.14])

        assert replay.notices() == ["warning"]
        assert replay.status is Status.WARNING

    def test_a_recovery_alert_goes_out_when_the_monitor_returns_to_ok(self) -> None:
        replay = Replay(monitor(warning=0.1))
        replay.scores(0, [0.12, 0.05])

        assert replay.notices() == ["warning", "recovered"]
        assert replay.status is Status.OK

    def test_warning_reset_keeps_a_warning_from_flapping(self) -> None:
        replay = Replay(monitor(warning=0.1, warning_reset=0.08))
        replay.scores(0, [0.11, 0.09, 0.11, 0.09, 0.07])

        assert replay.notices() == ["warning", "recovered"]

    def test_drift_with_a_guard_that_does_not_hold_only_alerts(self) -> None:
        replay = Replay(monitor(guards=[{"metric": "accuracy", "below": 0.85}]))
        decision = replay.score(0, 0.3, accuracy=0.91)

        assert replay.retrains() == []
        assert [a.notice.event for a in decision.new_actions] == ["critical"]
        assert decision.guards == {"accuracy < 0.85": False}

    def test_a_missing_guard_metric_does_not_hold(self) -> None:
        replay = Replay(monitor(guards=[{"metric": "accuracy", "below": 0.85}]))
        replay.score(0, 0.3)

        assert replay.retrains() == []
        assert replay.status is Status.ALARM

    def test_shadow_mode_is_blocked_by_cooldown_where_active_mode_would_be(self) -> None:
        replay = Replay(monitor(mode="shadow", grace_period="0s", cooldown="7d"))
        replay.scores(0, [0.3, 0.05])
        decision = replay.score(2, 0.3)

        assert decision.state.status is Status.ALARM
        assert "cooldown until 2024-08-08" in decision.reason
        assert decision.suppressed == ("sns:critical",)
        assert decision.new_actions == ()


class TestInAlarm:
    """`in_alarm`: ALARM."""

    def test_persisting_drift_retrains_again_only_after_cooldown_when_configured(self) -> None:
        replay = Replay(monitor(grace_period="1d", cooldown="3d", retrain_on_persisting_drift=True))
        replay.score(0, 0.25)
        replay.lifecycle(0.5, "succeeded")
        replay.scores(1, [0.26, 0.27])  # day 1: grace; day 2: cooldown from day 0 still runs
        assert len(replay.retrains()) == 1
        replay.score(3, 0.28)  # cooldown over

        assert len(replay.retrains()) == 2
        assert replay.retrains()[1].new_actions[0].key == "churn-model@20240801T000000Z#2:retrain_started"

    def test_a_model_drifting_after_its_deploy_grace_is_retrained_once_grace_ends(self) -> None:
        replay = Replay(monitor(grace_period="2d"))
        replay.lifecycle(0, "deployed")
        replay.score(1, 0.3)
        assert replay.retrains() == []
        replay.score(2, 0.3)  # grace ends at day 2

        assert len(replay.retrains()) == 1

    def test_retraining_starts_in_the_same_episode_once_the_guard_holds(self) -> None:
        replay = Replay(monitor(guards=[{"metric": "accuracy", "below": 0.85}]))
        replay.score(0, 0.3, accuracy=0.91)
        replay.score(1, 0.3, accuracy=0.80)

        (retrain,) = replay.retrains()
        assert retrain.new_actions[0].key == "churn-model@20240801T000000Z#1:retrain_started"

    def test_a_muted_monitor_acts_again_after_muted_until(self) -> None:
        replay = Replay(monitor(mode="muted", muted_until="2024-08-03T00:00:00Z"))
        replay.scores(0, [0.3, 0.3])
        assert replay.retrains() == []
        replay.score(2, 0.3)

        assert len(replay.retrains()) == 1

    def test_an_episode_closes_only_on_datapoints_to_recover_datapoints_below_reset(self) -> None:
        replay = blocked_by_guard(datapoints_to_trigger=2, evaluation_periods=3, datapoints_to_recover=2)
        for n, value in enumerate([0.3, 0.1] * 5):
            replay.score(n, value, accuracy=0.95)
        assert replay.notices() == ["critical"]

        replay.score(10, 0.1, accuracy=0.95)

        assert replay.notices() == ["critical", "recovered"]
        assert replay.status is Status.OK

    def test_by_default_one_datapoint_below_reset_closes_the_episode_so_alternation_flaps(self) -> None:
        replay = blocked_by_guard(datapoints_to_trigger=2, evaluation_periods=3)
        for n, value in enumerate([0.3, 0.1] * 5):
            replay.score(n, value, accuracy=0.95)

        # Day 0 is one breach of the two needed; from day 2 on, each breach opens an episode the next day closes.
        assert replay.notices() == ["critical", "recovered"] * 4
        closings = [d for d in replay.decisions if d.new_actions and d.new_actions[0].notice.event == "recovered"]
        assert [d.at for d in closings] == [day(3), day(5), day(7), day(9)]
        assert {d.reason for d in closings} == {"drift 0.1 below reset 0.15; re-armed"}

    def test_an_episode_that_closes_unannounced_after_the_mute_sends_no_recovered_alert(self) -> None:
        replay = blocked_by_guard(mode="muted", muted_until="2024-08-03T00:00:00Z")
        replay.score(0, 0.3, accuracy=0.95)
        replay.score(2, 0.1, accuracy=0.95)

        assert replay.status is Status.OK
        assert replay.notices() == []


class TestRetraining:
    """`retraining`: RETRAINING, while no status arrives."""

    def test_retraining_fires_once_per_episode_while_breaches_continue(self) -> None:
        replay = Replay(monitor())
        replay.scores(0, [0.05, 0.25, 0.30, 0.27, 0.26])

        assert len(replay.retrains()) == 1
        assert replay.retrains()[0].datapoint_at == day(1)
        assert replay.status is Status.RETRAINING

    def test_a_retraining_that_never_reports_times_out_as_a_failure(self) -> None:
        replay = Replay(monitor(retraining_timeout="2d"))
        replay.score(0, 0.3)
        replay.score(1, 0.3)
        assert replay.status is Status.RETRAINING
        decision = replay.score(2, 0.3)

        assert decision.state.status is Status.ALARM
        assert [a.notice.event for a in decision.new_actions] == ["retrain_failed"]

    def test_reevaluating_a_committed_decision_fires_nothing_again(self) -> None:
        config, window = monitor(), [obs(0, 0.3)]
        first = evaluate(config, MonitorState(monitor_id="churn-model"), window, day(0))
        committed = first.state.model_copy(update={"version": 1})

        again = evaluate(config, committed, window, day(0))

        assert not again.changed
        assert again.new_actions == ()

    def test_the_retraining_timeout_counts_from_the_attempts_real_start(self) -> None:
        replay = Replay(monitor(retraining_timeout="2d"))
        replay.score(0, 0.3)
        assert replay.state.episode is not None
        started_late = replay.state.episode.model_copy(update={"retrain_started_at": day(1)})
        replay.state = replay.state.model_copy(update={"episode": started_late})

        assert replay.score(2.5, 0.3).state.status is Status.RETRAINING  # 2.5 days after the decision, 1.5 after start
        assert replay.score(3, 0.3).state.status is Status.ALARM


class TestAfterRetraining:
    """`after_retraining`: RETRAINED."""

    def test_flapping_between_019_and_021_with_reset_015_gives_exactly_one_retraining(self) -> None:
        replay = Replay(monitor(reset=0.15, cooldown="1d", grace_period="0s"))
        replay.score(0, 0.19)
        replay.score(1, 0.21)
        replay.lifecycle(1.5, "succeeded")
        replay.scores(2, [0.19, 0.21] * 10)

        assert len(replay.retrains()) == 1

    def test_does_not_retrigger_until_score_falls_below_reset(self) -> None:
        replay = Replay(monitor(reset=0.15, cooldown="0s", grace_period="0s", retrain_on_persisting_drift=True))
        replay.score(0, 0.25)
        replay.lifecycle(0.5, "succeeded")
        replay.scores(1, [0.17, 0.16, 0.15])  # not below 0.15: still disarmed

        assert replay.status is Status.RETRAINED
        assert len(replay.retrains()) == 1

    def test_rearms_below_reset_and_the_next_breach_opens_a_new_episode(self) -> None:
        replay = Replay(monitor(reset=0.15, cooldown="1d", grace_period="0s"))
        replay.score(0, 0.25)
        replay.lifecycle(0.5, "succeeded")
        replay.score(2, 0.10)
        assert replay.status is Status.OK
        replay.score(3, 0.24)

        first, second = replay.retrains()
        assert first.state.episode and second.state.episode
        assert first.state.episode.id == "churn-model@20240801T000000Z"
        assert second.state.episode.id == "churn-model@20240804T000000Z"

    def test_persisting_drift_after_retraining_escalates_instead_of_looping(self) -> None:
        replay = Replay(monitor(grace_period="1d", cooldown="2d"))
        replay.score(0, 0.25)
        replay.lifecycle(0.5, "succeeded")
        replay.scores(1, [0.26, 0.27, 0.28, 0.29, 0.30, 0.31])

        assert len(replay.retrains()) == 1
        assert replay.notices().count("escalation") == 1
        assert replay.status is Status.ALARM

    def test_retrainings_per_episode_are_capped(self) -> None:
        replay = Replay(
            monitor(grace_period="0s", cooldown="0s", retrain_on_persisting_drift=True, max_retrains_per_episode=2)
        )
        for n in range(6):
            replay.score(n, 0.3)
            replay.lifecycle(n + 0.5, "succeeded")

        assert len(replay.retrains()) == 2

    def test_no_escalation_during_the_grace_period_after_a_retraining(self) -> None:
        replay = Replay(monitor(grace_period="3d"))
        replay.score(0, 0.25)
        replay.lifecycle(0.5, "succeeded")
        replay.scores(1, [0.3, 0.3])

        assert replay.status is Status.RETRAINED
        assert "escalation" not in replay.notices()

    def test_recovery_after_a_retraining_is_announced_when_the_score_falls_below_reset(self) -> None:
        replay = Replay(monitor(grace_period="1d"))
        replay.score(0, 0.25)
        replay.lifecycle(0.5, "succeeded")
        replay.score(1, 0.05)

        assert replay.status is Status.OK
        assert replay.notices()[-1] == "recovered"
        assert replay.state.episode is None

    def test_shadow_mode_logs_a_would_be_escalation_when_drift_persists_after_the_grace_period(self) -> None:
        replay = Replay(monitor(mode="shadow", grace_period="2d"))
        replay.scores(0, [0.3, 0.3, 0.3])

        assert [d.state.status for d in replay.decisions] == [Status.RETRAINED, Status.RETRAINED, Status.ALARM]
        assert replay.decisions[-1].suppressed == ("sns:escalation",)

    def test_after_a_retraining_only_datapoints_after_its_completion_show_that_drift_persists(self) -> None:
        replay = Replay(monitor(grace_period="0s", max_age="5d", no_data_after=None))
        replay.score(0, 0.3)
        replay.lifecycle(0.5, "succeeded")
        waiting = replay.score(1, None)  # only the day-0 datapoint that triggered the retraining

        assert waiting.outcome == "insufficient_data"
        assert replay.status is Status.RETRAINED
        replay.score(2, 0.3)
        assert replay.notices() == ["retrain_started", "escalation"]

    def test_retrain_on_persisting_drift_starts_no_second_pipeline_without_new_data(self) -> None:
        replay = Replay(monitor(grace_period="0s", cooldown="0s", retrain_on_persisting_drift=True, max_age="5d"))
        replay.score(0, 0.3)
        replay.lifecycle(0.5, "succeeded")
        replay.scores(1, [None, None])

        assert len(replay.retrains()) == 1
        replay.score(3, 0.3)
        assert len(replay.retrains()) == 2


class TestStartRetraining:
    """`start_retraining`: the next attempt starts (in shadow mode: succeeds at once)."""

    def test_shadow_mode_takes_a_would_be_retraining_as_succeeded_at_once_and_sends_nothing(self) -> None:
        replay = Replay(monitor(mode="shadow", grace_period="2d"))
        decision = replay.score(0, 0.3)

        assert decision.new_actions == ()
        assert decision.suppressed == (
            "sagemaker:retrain_started",
            "sqs:retrain_started",
            "eventbridge:retrain_started",
            "sns:retrain_started",
        )
        assert "shadow mode: would retrain" in decision.reason
        assert replay.status is Status.RETRAINED
        assert replay.state.grace_until == day(2)
        assert replay.state.last_retrain_at == day(0)
        assert replay.state.actions == ()

    def test_retrain_actions_start_the_pipeline_first_and_alert_last_with_one_episode_key(self) -> None:
        decision = Replay(monitor()).score(0, 0.3)

        assert [a.kind for a in decision.new_actions] == ["sagemaker", "sqs", "eventbridge", "sns"]
        assert {a.key for a in decision.new_actions} == {"churn-model@20240801T000000Z#1:retrain_started"}
        assert all(a.notice.episode_id == "churn-model@20240801T000000Z" for a in decision.new_actions)


class TestLeftShadow:
    """`left_shadow`: a shadow monitor switched to active."""

    def test_switching_a_shadow_monitor_to_active_starts_it_armed(self) -> None:
        replay = Replay(monitor(mode="shadow", grace_period="5d", cooldown="30d"))
        replay.score(0, 0.3)
        assert replay.status is Status.RETRAINED
        replay.config = monitor(mode="active", grace_period="5d", cooldown="30d")

        decision = replay.score(1, 0.3)

        assert decision.before.status is Status.RETRAINED
        assert decision.state.status is Status.RETRAINING
        assert "left shadow mode" in decision.reason
        assert decision.new_actions[0].key == "churn-model@20240802T000000Z#1:retrain_started"

    def test_an_episode_opened_in_active_mode_is_kept_after_a_trip_to_shadow(self) -> None:
        replay = Replay(monitor(grace_period="5d", cooldown="30d"))
        replay.score(0, 0.3)  # active: a real retraining starts
        replay.config = monitor(mode="shadow", grace_period="5d", cooldown="30d")
        replay.lifecycle(0.5, "succeeded")  # decided while the configuration said shadow
        real = replay.state
        replay.config = monitor(grace_period="5d", cooldown="30d")

        decision = replay.score(1, 0.3)

        assert real.status is Status.RETRAINED and not real.shadow
        assert real.episode is not None and real.episode.shadow is False
        assert "left shadow mode" not in decision.reason
        assert decision.state.status is Status.RETRAINED and decision.new_actions == ()

    def test_an_episode_stored_before_its_mode_was_recorded_goes_by_the_states_flag(self) -> None:
        replay = Replay(monitor(mode="shadow"))
        replay.score(0, 0.3)  # a shadow episode, as an earlier version stored it: no `shadow` of its own
        assert replay.state.episode is not None
        replay.state = replay.state.model_copy(
            update={"episode": replay.state.episode.model_copy(update={"shadow": None})}
        )
        replay.config = monitor()

        decision = replay.score(1, 0.3)

        assert "left shadow mode" in decision.reason


class TestNoFreshDatapoint:
    """`no_fresh_datapoint`: missing_data missing or ignore."""

    def test_missing_data_under_missing_never_triggers_and_keeps_the_state(self) -> None:
        config = monitor(missing_data="missing", max_age="1d")
        state = MonitorState(monitor_id="churn-model", status=Status.WARNING, version=4)

        decision = evaluate(config, state, [], day(5))

        assert decision.outcome == "insufficient_data"
        assert decision.state == state
        assert decision.new_actions == ()

    def test_a_stale_datapoint_counts_as_missing_and_never_triggers(self) -> None:
        config = monitor(missing_data="missing", max_age="1d", no_data_after=None)
        state = MonitorState(monitor_id="churn-model")

        decision = evaluate(config, state, [obs(0, 0.9)], day(3))

        assert decision.outcome == "insufficient_data"
        assert decision.state == state

    def test_missing_data_ignore_keeps_the_state_without_reporting_insufficient_data(self) -> None:
        state = MonitorState(monitor_id="churn-model", status=Status.WARNING, version=2)

        decision = evaluate(monitor(missing_data="ignore"), state, [], day(5))

        assert decision.outcome == "ignored_missing"
        assert decision.state == state


class TestRetrainingRunning:
    """`retraining_running`: the running attempt's `executing` status."""

    def test_an_executing_event_records_the_execution_arn_when_the_starts_answer_was_lost(self) -> None:
        replay = Replay(monitor())
        replay.score(0, 0.3)
        assert replay.state.episode is not None
        replay.state = replay.state.model_copy(
            update={"episode": replay.state.episode.model_copy(update={"execution_arn": None})}
        )
        replay.lifecycle(0.1, "executing", execution_arn="arn:exec/mine")

        assert replay.state.episode and replay.state.episode.execution_arn == "arn:exec/mine"


class TestRetrainingSucceeded:
    """`retraining_succeeded`: RETRAINING -> RETRAINED."""

    def test_a_succeeded_pipeline_moves_to_retrained_and_starts_the_grace_period_from_its_event(self) -> None:
        replay = Replay(monitor(grace_period="2d"))
        replay.score(0, 0.3)

        decision = replay.lifecycle(0.5, "succeeded")

        assert decision.outcome == "transition"
        assert (decision.before.status, decision.state.status) == (Status.RETRAINING, Status.RETRAINED)
        assert decision.state.grace_until == day(2.5)
        assert decision.state.evidence_after == day(0.5)  # older datapoints are no evidence from now on
        assert decision.new_actions == ()
        assert decision.reason == "retraining succeeded (attempt 1); grace period until 2024-08-03T12:00:00+00:00"

    def test_a_longer_grace_period_already_running_is_kept(self) -> None:
        replay = Replay(monitor(grace_period="1d"))
        replay.score(0, 0.3)
        replay.lifecycle(0.2, "deployed")  # grace until day 1.2
        replay.state = replay.state.model_copy(update={"grace_until": day(5)})

        decision = replay.lifecycle(0.5, "succeeded")

        assert decision.state.grace_until == day(5)


class TestRetrainingFailed:
    """`retraining_failed`: RETRAINING -> ALARM."""

    def test_a_failed_pipeline_alerts_and_rearms_after_cooldown(self) -> None:
        replay = Replay(monitor(cooldown="2d"))
        replay.score(0, 0.3)
        failed = replay.lifecycle(0.5, "failed", detail="step Train failed")
        assert [a.notice.event for a in failed.new_actions] == ["retrain_failed"]
        assert failed.new_actions[0].notice.severity == "error"
        replay.scores(1, [0.3, 0.3])  # day 1, 2: back-off until day 2.5
        assert len(replay.retrains()) == 1
        replay.score(3, 0.3)

        assert len(replay.retrains()) == 2
        assert replay.retrains()[1].new_actions[0].key.endswith("#2:retrain_started")


class TestStartGivenUp:
    """`start_given_up`: the outbox gave up on a start."""

    def test_giving_up_on_the_start_fails_the_attempt_and_cancels_its_other_actions(self) -> None:
        config = monitor()
        decided = evaluate(config, MonitorState(monitor_id="churn-model"), [obs(0, 0.3)], day(0), "v1")
        state = decided.state.model_copy(update={"version": 1})
        start = state.actions[0].model_copy(update={"status": "failed", "attempts": 3, "last_error": "AccessDenied"})
        state = state.model_copy(update={"actions": (start, *state.actions[1:])})

        decision = on_start_given_up(config, state, start, day(0.1), "v1")

        assert decision.state.status is Status.ALARM
        assert [a.kind for a in decision.cancelled] == ["sqs", "eventbridge", "sns"]
        assert [a.notice.event for a in decision.new_actions] == ["retrain_failed"]
        assert "AccessDenied" in decision.reason


class TestActionsCancelled:
    """`actions_cancelled`: the outbox cancels actions instead of sending them."""

    @staticmethod
    def throttled_start(config: MonitorConfig) -> MonitorState:
        decided = evaluate(config, MonitorState(monitor_id="churn-model"), [obs(0, 0.3)], day(0), "v1")
        return decided.state.model_copy(update={"version": 1})

    def test_a_start_never_made_for_an_attempt_that_ended_is_cancelled_with_its_companions(self) -> None:
        config = monitor()
        state = self.throttled_start(config)
        start = state.actions[0].model_copy(update={"status": "sending", "tried_by": "evaluator-1"})
        ended = state.model_copy(update={"status": Status.ALARM, "actions": (start, *state.actions[1:])})

        decision = on_cancelled(config, ended, (start,), day(0.1), "never made, its attempt is over", "v1")

        assert decision.state.status is Status.ALARM
        assert [a.status for a in decision.state.actions] == ["cancelled"] * 4
        assert [a.kind for a in decision.cancelled] == ["sagemaker", "sqs", "eventbridge", "sns"]
        assert decision.new_actions == ()

    def test_cancelling_the_running_attempts_unsent_start_withdraws_the_attempt_uncounted(self) -> None:
        config = monitor(mode="shadow")
        state = self.throttled_start(monitor())

        decision = on_cancelled(config, state, state.pending, day(0.1), "shadow mode", "v1")

        assert decision.state.status is Status.ALARM
        assert decision.state.episode is not None and decision.state.episode.retrains == 0
        assert [a.status for a in decision.state.actions] == ["cancelled"] * 4
        assert [a.kind for a in decision.cancelled] == ["sagemaker", "sqs", "eventbridge", "sns"]
        assert decision.new_actions == ()
        assert "withdrawn" in decision.reason

    def test_cancelling_a_companion_of_a_start_that_went_out_keeps_the_attempt_running(self) -> None:
        config = monitor(mode="shadow")
        state = self.throttled_start(monitor())
        state = delivered(state, state.actions[0], "arn:exec/1", day(0))
        alert = state.pending[-1]

        decision = on_cancelled(config, state, (alert,), day(0.1), "shadow mode", "v1")

        assert decision.state.status is Status.RETRAINING
        assert decision.state.episode is not None and decision.state.episode.retrains == 1
        assert [a.kind for a in decision.cancelled] == ["sqs", "eventbridge", "sns"]  # shadow sends none of them


class TestOtherAttempt:
    """`other_attempt`: status events of anything but the running attempt."""

    def test_a_status_event_for_another_execution_is_ignored(self) -> None:
        replay = Replay(monitor())
        replay.score(0, 0.3)
        replay.lifecycle(0.1, "executing", execution_arn="arn:exec/mine")
        decision = replay.lifecycle(0.5, "failed", execution_arn="arn:exec/someone-else")

        assert not decision.changed
        assert replay.status is Status.RETRAINING

    def test_a_status_event_of_an_earlier_attempt_is_ignored_while_the_next_one_runs(self) -> None:
        replay = Replay(monitor(cooldown="0s"))
        replay.score(0, 0.3)
        replay.lifecycle(0.5, "failed")
        replay.score(1, 0.3)  # attempt 2 starts
        assert replay.state.episode is not None and replay.state.episode.retrains == 2

        late = replay.lifecycle(1.5, "failed", attempt=1)

        assert late.outcome == "ignored"
        assert replay.status is Status.RETRAINING


class TestModelDeployed:
    """`model_deployed`: a deployment starts the grace period."""

    def test_a_deployment_starts_the_grace_period_in_any_state(self) -> None:
        state = MonitorState(monitor_id="churn-model", status=Status.WARNING, version=3)

        decision = on_lifecycle(monitor(grace_period="2d"), state, LifecycleEvent(kind="deployed", at=day(1)), "v1")

        assert decision.state.status is Status.WARNING
        assert decision.state.grace_until == day(3)
        assert decision.reason == "model deployed: no retraining before 2024-08-04T00:00:00+00:00"

    def test_a_deployment_keeps_a_grace_period_that_already_runs_longer(self) -> None:
        state = MonitorState(monitor_id="churn-model", status=Status.OK, version=3, grace_until=day(10))

        decision = on_lifecycle(monitor(grace_period="2d"), state, LifecycleEvent(kind="deployed", at=day(1)), "v1")

        assert not decision.changed
        assert decision.reason == "model deployed; grace period already runs longer"

    def test_no_retraining_fires_during_the_grace_period_after_a_deploy(self) -> None:
        replay = Replay(monitor(grace_period="2d"))
        replay.lifecycle(0, "deployed")
        decision = replay.score(1, 0.3)

        assert replay.retrains() == []
        assert replay.status is Status.ALARM
        assert "grace period until 2024-08-03" in decision.reason


class TestAnnounceAfterMute:
    """`announce_after_mute`: an episode opened muted."""

    def test_an_episode_opened_while_muted_is_announced_when_the_mute_ends(self) -> None:
        replay = blocked_by_guard(mode="muted", muted_until="2024-08-03T00:00:00Z")
        replay.score(0, 0.3, accuracy=0.95)
        replay.score(1, 0.3, accuracy=0.95)
        assert replay.notices() == []
        announced = replay.score(2, 0.18, accuracy=0.95)  # still open: not below reset

        (alert,) = announced.new_actions
        assert (alert.notice.event, alert.notice.episode_id) == ("critical", "churn-model@20240801T000000Z")
        replay.scores(3, [0.18, 0.1])
        assert replay.notices() == ["critical", "recovered"]


class TestRenotify:
    """`renotify`: an open episode's alert repeats."""

    def test_an_open_episode_repeats_its_alert_every_renotify_every_with_a_count(self) -> None:
        replay = blocked_by_guard(renotify_every="2d")
        for n in range(7):
            replay.score(n, 0.3, accuracy=0.95)

        sent = [(d.at, a.notice.event, a.notice.renotification, a.key) for d in replay.decisions for a in d.new_actions]
        assert sent == [
            (day(0), "critical", 0, "churn-model@20240801T000000Z#0:critical"),
            (day(2), "critical", 1, "churn-model@20240801T000000Z#0:critical#r1"),
            (day(4), "critical", 2, "churn-model@20240801T000000Z#0:critical#r2"),
            (day(6), "critical", 3, "churn-model@20240801T000000Z#0:critical#r3"),
        ]
        assert headline(replay.config, replay.decisions[-1].new_actions[0].notice).endswith("(repeat 3)")

    def test_without_renotify_every_an_open_episode_alerts_once(self) -> None:
        replay = blocked_by_guard()
        for n in range(7):
            replay.score(n, 0.3, accuracy=0.95)

        assert replay.notices() == ["critical"]

    def test_an_escalated_episode_repeats_its_escalation(self) -> None:
        replay = Replay(monitor(grace_period="1d", renotify_every="1d"))
        replay.score(0, 0.3)
        replay.lifecycle(0.5, "succeeded")
        replay.scores(1, [0.3, 0.3, 0.3])  # day 1: grace; day 2: escalation; day 3: its repeat

        assert replay.notices() == ["retrain_started", "critical", "escalation", "escalation"]
        assert replay.decisions[-1].new_actions[0].notice.renotification == 1

    def test_no_renotification_while_a_retraining_runs(self) -> None:
        replay = Replay(monitor(renotify_every="1d"))
        replay.scores(0, [0.3] * 5)

        assert replay.status is Status.RETRAINING
        assert replay.notices() == ["retrain_started"]


class TestDataGap:
    """`data_gap`: no data, and data resumed."""

    def test_no_data_alerts_once_per_gap_naming_the_age_of_the_newest_datapoint(self) -> None:
        replay = Replay(monitor())  # every 1d, one datapoint: max_age and so no_data_after default to 2d
        replay.score(0, 0.05)
        replay.scores(1, [None] * 5)

        (gap,) = [d for d in replay.decisions if d.new_actions]
        assert gap.at == day(3)
        (alert,) = gap.new_actions
        assert (alert.notice.event, alert.notice.severity) == ("no_data", "warning")
        assert alert.key == "churn-model@20240801T000000Z#0:no_data"
        assert headline(replay.config, alert.notice) == "no data: the newest datapoint is 3d old"
        assert replay.status is Status.OK

    def test_data_resumed_is_announced_when_a_datapoint_arrives_after_the_gap(self) -> None:
        replay = Replay(monitor())
        replay.score(0, 0.05)
        replay.scores(1, [None, None, None])
        resumed = replay.score(4, 0.06)

        assert replay.notices() == ["no_data", "data_resumed"]
        (alert,) = resumed.new_actions
        assert (alert.notice.severity, alert.notice.datapoint_at) == ("recovered", day(4))
        assert replay.state.gap_since is None

    def test_a_gap_never_retrains_even_when_its_old_datapoint_is_not_yet_stale(self) -> None:
        replay = Replay(monitor(grace_period="2d", max_age="10d", no_data_after="1d"))
        replay.lifecycle(0, "deployed")
        replay.score(0, 0.3)  # blocked by the grace period
        decision = replay.score(3, None)  # grace over; the day-0 datapoint is within max_age, but 3 days old

        assert replay.retrains() == []
        assert decision.state.status is Status.ALARM
        assert [a.notice.event for a in decision.new_actions] == ["no_data"]

    def test_no_data_after_null_turns_the_no_data_alert_off(self) -> None:
        replay = Replay(monitor(no_data_after=None))
        replay.score(0, 0.05)
        replay.scores(1, [None] * 5)

        assert replay.notices() == []

    def test_a_monitor_that_never_had_a_datapoint_is_not_in_a_gap(self) -> None:
        decision = evaluate(monitor(), MonitorState(monitor_id="churn-model"), [], day(30))

        assert decision.outcome == "insufficient_data"
        assert not decision.changed


class TestWindow:
    """What the rules see (`Window`): not a rule of its own."""

    def test_datapoints_newer_than_the_evaluation_time_are_ignored_not_errors(self) -> None:
        decision = evaluate(monitor(), MonitorState(monitor_id="churn-model"), [obs(1, 0.1), obs(2, 0.3)], day(1))

        assert decision.state.status is Status.OK
        assert decision.datapoint_at == day(1)
        assert decision.score == 0.1

    def test_without_every_a_datapoint_is_stale_after_n_plus_one_ticks(self) -> None:
        config = monitor(every=None, evaluation_periods=2, datapoints_to_trigger=1, no_data_after=None)
        state, tick = MonitorState(monitor_id="churn-model"), timedelta(minutes=15)
        point = Observation(at=day(0), score=0.3)

        fresh = evaluate(config, state, [point], day(0) + timedelta(minutes=45), tick=tick)
        stale = evaluate(config, state, [point], day(0) + timedelta(minutes=46), tick=tick)

        assert fresh.state.status is Status.RETRAINING
        assert stale.outcome == "insufficient_data"


class TestSchedule:
    """When a monitor is due (`is_due`): not a rule of its own."""

    def test_a_daily_monitor_is_due_only_in_the_hourly_tick_that_crosses_midnight(self) -> None:
        hour = timedelta(hours=1)
        ticks = [datetime(2024, 8, 1, h, 5, tzinfo=UTC) for h in range(24)]

        due = [t.hour for t in ticks if is_due(timedelta(days=1), t, hour)]

        assert due == [0]

    def test_a_monitor_without_every_is_due_at_every_tick(self) -> None:
        assert is_due(None, datetime(2024, 8, 1, 13, 7, tzinfo=UTC), timedelta(minutes=15))

    def test_a_daily_monitor_with_an_evaluation_delay_is_due_that_long_after_midnight(self) -> None:
        ticks = [datetime(2024, 8, 1, h, 5, tzinfo=UTC) for h in range(24)]

        due = [t.hour for t in ticks if is_due(timedelta(days=1), t, timedelta(hours=1), timedelta(hours=2))]

        assert due == [2]

    def test_a_late_datapoint_is_evaluated_by_the_delayed_tick(self) -> None:
        config = monitor(evaluation_delay="2h")
        late = Observation(at=datetime(2024, 8, 9, 1, 30, tzinfo=UTC), score=0.3)

        decision = evaluate(config, MonitorState(monitor_id="churn-model"), [late], datetime(2024, 8, 9, 2, tzinfo=UTC))

        assert decision.state.status is Status.RETRAINING


class TestBadInput:
    """Bad input never reaches the rules."""

    @pytest.mark.parametrize("score", [float("nan"), float("inf"), "0.3", None, True])
    def test_a_score_that_is_not_a_finite_number_is_bad_input(self, score: object) -> None:
        with pytest.raises(BadInput) as error:
            Observation.checked("churn-model", day(0), score)

        assert error.value.field == "drift_score"

    def test_a_naive_timestamp_is_bad_input(self) -> None:
        with pytest.raises(BadInput, match="timestamp"):
            Observation.checked("churn-model", datetime(2024, 8, 1), 0.1)


class TestReferenceScenario:
    """The reference series, end to end through the rules."""

    def test_the_reference_scenario_retrains_once_on_2024_08_09_and_never_before(self) -> None:
        with REFERENCE.open() as handle:
            rows = [(datetime.fromisoformat(r["timestamp"]), float(r["drift_score"])) for r in csv.DictReader(handle)]
        config = monitor(warning=0.1)
        state = MonitorState(monitor_id="churn-model")
        retrain_days = []
        for at, score in rows:
            decision = evaluate(config, state, [Observation(at=at, score=score)], at)
            if decision.changed:
                state = decision.state.model_copy(update={"version": state.version + 1})
            if any(a.notice.event == "retrain_started" for a in decision.new_actions):
                retrain_days.append(at.date().isoformat())

        assert len(rows) == 30
        assert retrain_days == ["2024-08-09"]
