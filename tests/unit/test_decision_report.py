"""What every decision reports besides the state it commits: the levels it judged against, the datapoints it read,
the guards it checked, and the actions it made, suppressed or cancelled (the log line and the history show these
to the on-call engineer). And what leaving shadow mode commits: a fresh armed state, whatever the rules then say."""

from __future__ import annotations

from typing import Any

from retrain_trigger.model import ActionRecord, Episode, LifecycleEvent, MonitorState, Notice, Status
from retrain_trigger.policy import evaluate, on_cancelled, on_lifecycle

from .scenario import day, monitor, obs

EPISODE = "churn-model@20240801T000000Z"
GUARD = {"metric": "accuracy", "below": 0.85}


def state(**fields: Any) -> MonitorState:
    return MonitorState(monitor_id="churn-model", version=1, **fields)


def alarm(**episode_fields: Any) -> MonitorState:
    opened = Episode(id=EPISODE, opened_at=day(0), trigger_score=0.3, announced=True, notified_at=day(0))
    return state(status=Status.ALARM, episode=opened.model_copy(update=episode_fields))


def test_an_evaluation_reports_the_monitors_levels_by_name() -> None:
    decision = evaluate(monitor(warning=0.1), state(), [obs(0, 0.05)], day(0), "v1")

    assert decision.thresholds == {"critical": 0.2, "reset": 0.15, "warning": 0.1}


def test_an_evaluation_reports_its_breaches_out_of_the_periods_it_reads() -> None:
    config = monitor(datapoints_to_trigger=2, evaluation_periods=3)

    decision = evaluate(config, state(), [obs(0, 0.3), obs(1, 0.1), obs(2, 0.1)], day(2), "v1")

    assert (decision.breaches, decision.periods, decision.as_log()["breaches"]) == (1, 3, "1/3")


def test_a_lifecycle_decision_read_no_datapoint_and_reports_none() -> None:
    decision = on_lifecycle(monitor(), state(), LifecycleEvent(kind="deployed", at=day(1)), "v1")

    assert (decision.score, decision.datapoint_at, decision.breaches, decision.periods) == (None, None, 0, 0)
    assert decision.as_log()["breaches"] == "0/0"


def test_a_kept_state_logs_no_actions_made_suppressed_or_cancelled() -> None:
    decision = evaluate(monitor(), state(), [obs(0, 0.05)], day(0), "v1")

    log = decision.as_log()
    assert (decision.outcome, log["actions"], log["suppressed"], log["cancelled"]) == ("unchanged", [], [], [])


def test_an_alarm_kept_by_a_guard_reports_the_guard() -> None:
    decision = evaluate(monitor(guards=[GUARD]), alarm(), [obs(1, 0.3, accuracy=0.9)], day(1), "v1")

    assert decision.outcome == "unchanged"
    assert decision.guards == {"accuracy < 0.85": False}


def test_a_repeat_alert_added_to_a_kept_alarm_still_reports_the_guard_that_blocks_it() -> None:
    config = monitor(renotify_every="1d", guards=[GUARD])

    decision = evaluate(config, alarm(), [obs(1, 0.3, accuracy=0.9)], day(1), "v1")

    assert [a.notice.event for a in decision.new_actions] == ["critical"]
    assert decision.guards == {"accuracy < 0.85": False}


def test_a_gap_that_ends_with_a_blocked_breach_reports_the_guard_and_sends_both_alerts() -> None:
    # given a no-data gap announced since day 0; the datapoint that ends it breaches, and the guard blocks retraining
    config = monitor(guards=[GUARD], no_data_after="1d")
    in_gap = state(gap_since=day(0), last_datapoint_at=day(0))

    decision = evaluate(config, in_gap, [obs(0, 0.1), obs(3, 0.3, accuracy=0.9)], day(3), "v1")

    assert decision.state.status is Status.ALARM
    assert decision.reason.startswith("drift 0.3 > 0.2; retraining blocked: guard accuracy < 0.85 does not hold")
    assert decision.reason.endswith(
        "; data resumed: a datapoint at 2024-08-04T00:00:00+00:00 after the gap since 2024-08-01T00:00:00+00:00"
    )
    assert [a.notice.event for a in decision.new_actions] == ["critical", "data_resumed"]
    assert decision.guards == {"accuracy < 0.85": False}
    assert decision.state.gap_since is None


def test_a_cancellation_is_committed_at_its_time_and_without_a_config_version_keeps_the_states() -> None:
    notice = Notice(event="critical", episode_id=EPISODE, decided_at=day(0))
    alert = ActionRecord(kind="sns", key=f"{EPISODE}#0:critical", notice=notice)
    held = alarm().model_copy(update={"actions": (alert,), "config_version": "v0"})

    decision = on_cancelled(monitor(), held, (alert,), day(1), "shadow mode")

    assert (decision.state.updated_at, decision.state.config_version) == (day(1), "v0")
    assert decision.state.actions == (alert.model_copy(update={"status": "cancelled"}),)


# --- leaving shadow mode -----------------------------------------------------------------------------------------


def shadow_retrained(**fields: Any) -> MonitorState:
    """A monitor that retrained in shadow mode: a shadow episode, its grace period, one alert delivered and one
    still in flight, under an evaluator's lease."""
    shadow_episode = Episode(id=EPISODE, opened_at=day(0), trigger_score=0.3, retrains=1, announced=True, shadow=True)
    notice = Notice(event="retrain_started", episode_id=EPISODE, attempt=1, decided_at=day(0))
    done = ActionRecord(kind="sns", key=f"{EPISODE}#1:retrain_started", notice=notice, status="done")
    in_flight = ActionRecord(kind="eventbridge", key=f"{EPISODE}#1:x", notice=notice, status="sending")
    return MonitorState(
        monitor_id="churn-model",
        version=7,
        status=Status.RETRAINED,
        shadow=True,
        episode=shadow_episode,
        grace_until=day(2),
        last_retrain_at=day(0),
        evidence_after=day(0),
        last_score=0.3,
        last_datapoint_at=day(0),
        actions=(done, in_flight),
        lease_owner="evaluator-1",
        lease_until=day(1.1),
        config_version="v0",
        decided_at=day(0),
        **fields,
    )


def test_leaving_shadow_mode_commits_a_fresh_armed_state_even_when_no_rule_moves() -> None:
    stored = shadow_retrained()

    decision = evaluate(monitor(), stored, [obs(1, 0.1)], day(1), "v1")

    assert (decision.outcome, decision.reason) == ("transition", "left shadow mode, armed: no breach")
    assert decision.before == stored
    assert decision.state == MonitorState(
        monitor_id="churn-model",
        version=7,
        actions=(stored.actions[1],),  # only the try in flight: it must still be resolved
        lease_owner="evaluator-1",
        lease_until=day(1.1),
        config_version="v1",
        updated_at=day(1),
        decided_at=day(1),
    )


def test_leaving_shadow_mode_without_a_config_version_keeps_the_states() -> None:
    decision = evaluate(monitor(), shadow_retrained(), [obs(1, 0.1)], day(1))

    assert decision.state.config_version == "v0"


def test_a_shadow_monitor_that_stays_in_shadow_mode_is_not_rearmed() -> None:
    decision = evaluate(monitor(mode="shadow"), shadow_retrained(), [obs(1, 0.18)], day(1), "v1")

    assert decision.outcome == "unchanged"
    assert decision.state.status is Status.RETRAINED


def test_a_gap_that_ends_with_a_transition_keeps_the_alerts_still_pending() -> None:
    # given the no-data alert of the gap still pending when the datapoint that ends the gap breaches
    config = monitor(guards=[GUARD], no_data_after="1d")
    notice = Notice(event="no_data", datapoint_at=day(0), decided_at=day(2))
    no_data = ActionRecord(kind="sns", key="churn-model@20240801T000000Z#0:no_data", notice=notice)
    in_gap = state(gap_since=day(0), last_datapoint_at=day(0), actions=(no_data,))

    decision = evaluate(config, in_gap, [obs(0, 0.1), obs(3, 0.3, accuracy=0.9)], day(3), "v1")

    assert [a.notice.event for a in decision.state.actions] == ["no_data", "critical", "data_resumed"]
