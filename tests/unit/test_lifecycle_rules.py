"""Lifecycle rules: what a pipeline status or a deployment does to the state, and the reason it gives (the history
and the logs show that reason to the on-call engineer, so it is pinned whole)."""

from __future__ import annotations

from typing import Any

from retrain_trigger.model import ActionRecord, Episode, LifecycleEvent, MonitorState, Notice, Status
from retrain_trigger.policy import evaluate, on_lifecycle, on_start_given_up

from .scenario import day, monitor, obs

EPISODE = "churn-model@20240801T000000Z"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/churn-model-retraining/execution/abc"


def episode(**fields: Any) -> Episode:
    return Episode(id=EPISODE, opened_at=day(0), trigger_score=0.3, retrains=1, **fields)


def retraining(**fields: Any) -> MonitorState:
    return MonitorState(
        monitor_id="churn-model",
        version=3,
        status=Status.RETRAINING,
        episode=episode(**fields),
        config_version="v0",
        last_retrain_at=day(0),
    )


def event(kind: str, **fields: Any) -> LifecycleEvent:
    return LifecycleEvent(kind=kind, at=day(1), **fields)  # type: ignore[arg-type]


def test_a_deploy_starts_a_grace_period_and_keeps_the_status_and_config_version() -> None:
    state = MonitorState(monitor_id="churn-model", version=1, config_version="v0")

    decision = on_lifecycle(monitor(grace_period="2d"), state, event("deployed"))

    assert (decision.outcome, decision.reason) == (
        "transition",
        "model deployed: no retraining before 2024-08-04T00:00:00+00:00",
    )
    assert (decision.state.status, decision.state.grace_until, decision.state.config_version) == (
        Status.OK,
        day(3),
        "v0",
    )


def test_a_deploy_inside_a_longer_grace_period_changes_nothing_and_says_why() -> None:
    state = MonitorState(monitor_id="churn-model", version=1, grace_until=day(5))

    decision = on_lifecycle(monitor(grace_period="1d"), state, event("deployed"))

    assert (decision.outcome, decision.reason, decision.changed) == (
        "unchanged",
        "model deployed; grace period already runs longer",
        False,
    )


def test_a_status_event_without_a_retraining_in_progress_is_ignored_even_with_an_open_episode() -> None:
    state = retraining().model_copy(update={"status": Status.ALARM})

    decision = on_lifecycle(monitor(), state, event("failed", episode_id=EPISODE, attempt=1), "v1")

    assert (decision.outcome, decision.reason) == ("ignored", "failed event ignored: no retraining in progress")
    assert decision.state == state


def test_a_succeeded_event_named_by_episode_and_attempt_records_its_execution_and_the_grace_period() -> None:
    decision = on_lifecycle(
        monitor(grace_period="1d"), retraining(), event("succeeded", episode_id=EPISODE, attempt=1, execution_arn=ARN)
    )

    assert (decision.outcome, decision.reason) == (
        "transition",
        "retraining succeeded (attempt 1); grace period until 2024-08-03T00:00:00+00:00",
    )
    assert decision.state.status is Status.RETRAINED
    assert decision.state.episode == episode(execution_arn=ARN)
    assert (decision.state.grace_until, decision.state.config_version) == (day(2), "v0")


def test_a_succeeded_event_keeps_a_longer_grace_period_from_a_deploy() -> None:
    state = retraining(execution_arn=ARN).model_copy(update={"grace_until": day(9)})

    decision = on_lifecycle(monitor(grace_period="1d"), state, event("succeeded", execution_arn=ARN), "v1")

    assert decision.state.grace_until == day(9)
    assert decision.reason == "retraining succeeded (attempt 1); grace period until 2024-08-10T00:00:00+00:00"


def test_a_succeeded_event_keeps_the_execution_already_recorded() -> None:
    state = retraining(execution_arn=ARN)

    decision = on_lifecycle(monitor(), state, event("succeeded", execution_arn=ARN), "v1")

    assert decision.state.episode == episode(execution_arn=ARN)
    assert decision.state.config_version == "v1"


def test_the_first_executing_event_records_the_execution_and_a_repeat_changes_nothing() -> None:
    config = monitor()
    first = on_lifecycle(config, retraining(), event("executing", episode_id=EPISODE, attempt=1, execution_arn=ARN))
    repeat = on_lifecycle(config, first.state, event("executing", execution_arn=ARN))

    assert (first.outcome, first.reason, first.state.status) == (
        "transition",
        "retraining is running",
        Status.RETRAINING,
    )
    assert first.state.episode == episode(execution_arn=ARN)
    assert (repeat.outcome, repeat.reason, repeat.changed) == ("unchanged", "retraining is running", False)


def test_a_failed_event_says_which_attempt_failed_and_why_and_backs_off_for_the_cooldown() -> None:
    decision = on_lifecycle(
        monitor(cooldown="2d"), retraining(execution_arn=ARN), event("failed", execution_arn=ARN, detail="OOM")
    )

    assert decision.reason == "retraining attempt 1 failed: OOM; next attempt not before 2024-08-04T00:00:00+00:00"
    assert decision.state.status is Status.ALARM
    assert decision.state.episode == episode(
        execution_arn=ARN, last_attempt_failed=True, retry_not_before=day(3), notified_at=day(1)
    )
    assert [a.notice.event for a in decision.new_actions] == ["retrain_failed"]


def test_a_stopped_event_without_detail_says_only_that_it_stopped() -> None:
    decision = on_lifecycle(monitor(cooldown="2d"), retraining(execution_arn=ARN), event("stopped", execution_arn=ARN))

    assert decision.reason == "retraining attempt 1 stopped; next attempt not before 2024-08-04T00:00:00+00:00"


def test_each_mismatched_status_event_is_ignored_with_the_reason_it_does_not_match() -> None:
    config, state = monitor(), retraining(execution_arn=ARN)
    reasons = [
        on_lifecycle(config, state, e, "v1").reason
        for e in (
            event("failed", execution_arn=ARN + "x"),
            event("failed", episode_id=EPISODE),
            event("failed", attempt=1),
            event("failed", episode_id="other@20240101T000000Z", attempt=1),
            event("failed", episode_id=EPISODE, attempt=2),
        )
    ]

    assert reasons == [
        f"failed event ignored: execution {ARN}x is not the running attempt's ({ARN})",
        "failed event ignored: it names no execution of ours, nor an episode id and attempt number to match",
        "failed event ignored: it names no execution of ours, nor an episode id and attempt number to match",
        f"failed event ignored: it is for episode other@20240101T000000Z, not {EPISODE}",
        "failed event ignored: it is for attempt 2, the running attempt is 1",
    ]


# --- the outbox gives up on a start ----------------------------------------------------------------------------


def start_of(state: MonitorState, **fields: Any) -> ActionRecord:
    notice = Notice(event="retrain_started", episode_id=EPISODE, attempt=1, decided_at=day(0))
    record = ActionRecord(kind="sagemaker", key=f"{EPISODE}#1:retrain_started", notice=notice, status="failed")
    return record.model_copy(update={"attempts": 3, **fields})


def test_a_start_given_up_fails_its_attempt_naming_the_action_its_tries_and_its_error() -> None:
    state = retraining()

    decision = on_start_given_up(monitor(cooldown="1d"), state, start_of(state, last_error="AccessDenied"), day(0))

    assert decision.reason == (
        "retraining attempt 1 could not be started: sagemaker failed 3 times (AccessDenied); "
        "next attempt not before 2024-08-02T00:00:00+00:00"
    )
    assert (decision.state.status, decision.state.config_version) == (Status.ALARM, "v0")


def test_a_start_given_up_without_an_error_text_says_so() -> None:
    state = retraining()

    decision = on_start_given_up(monitor(cooldown="1d"), state, start_of(state), day(0), "v1")

    assert decision.reason.startswith(
        "retraining attempt 1 could not be started: sagemaker failed 3 times (no error text)"
    )
    assert decision.state.config_version == "v1"


def test_a_start_given_up_for_an_attempt_no_longer_running_is_ignored() -> None:
    config, state = monitor(), retraining()
    notice = start_of(state).notice
    stale = [
        (state.model_copy(update={"status": Status.ALARM}), start_of(state)),
        (state, start_of(state, notice=notice.model_copy(update={"episode_id": "other@20240101T000000Z"}))),
        (state, start_of(state, notice=notice.model_copy(update={"attempt": 2}))),
    ]

    decisions = [on_start_given_up(config, s, action, day(0), "v1") for s, action in stale]

    assert [(d.outcome, d.reason, d.changed) for d in decisions] == [
        ("ignored", "sagemaker gave up for an attempt that is no longer running", False)
    ] * 3


# --- while retraining -------------------------------------------------------------------------------------------


def test_while_a_retraining_runs_breaches_do_not_fire_again_and_the_reason_says_whether_it_started() -> None:
    config = monitor()
    requested = evaluate(config, retraining(), [obs(1, 0.3)], day(1), "v1")
    started = evaluate(config, retraining(retrain_started_at=day(0)), [obs(1, 0.3)], day(1), "v1")

    assert (requested.outcome, requested.reason) == (
        "unchanged",
        "retraining requested, its start not delivered yet: breaches do not fire again",
    )
    assert (started.outcome, started.reason) == ("unchanged", "retraining in progress: breaches do not fire again")


def test_a_retraining_without_a_final_status_times_out_with_a_reason_naming_the_timeout() -> None:
    decision = evaluate(
        monitor(retraining_timeout="1d", cooldown="1d"), retraining(retrain_started_at=day(0)), [], day(1), "v1"
    )

    assert decision.reason == (
        "retraining attempt 1 had no final status within 1 day, 0:00:00 of its start; "
        "next attempt not before 2024-08-03T00:00:00+00:00"
    )
    assert decision.state.status is Status.ALARM


# --- which pending actions an ended attempt cancels -------------------------------------------------------------


def pending(kind: str, event_: str, episode_id: str, attempt: int) -> ActionRecord:
    notice = Notice(event=event_, episode_id=episode_id, attempt=attempt, decided_at=day(0))  # type: ignore[arg-type]
    return ActionRecord(kind=kind, key=f"{episode_id}#{attempt}:{event_}", notice=notice)  # type: ignore[arg-type]


def test_a_failed_attempt_cancels_every_start_notice_of_an_ended_attempt_and_keeps_its_alerts() -> None:
    # given attempt 2 running, with start notices still pending from attempt 2, attempt 1 and an older episode, and
    # an alert of attempt 2 (issue 13 item 13: an ended attempt's start notices are never sent as a fresh start)
    own = pending("sqs", "retrain_started", EPISODE, 2)
    earlier = pending("sqs", "retrain_started", EPISODE, 1)
    other_episode = pending("sqs", "retrain_started", "other@20240101T000000Z", 2)
    alert = pending("sns", "escalation", EPISODE, 2)
    second = episode(execution_arn=ARN).model_copy(update={"retrains": 2})
    state = retraining().model_copy(update={"episode": second, "actions": (own, earlier, other_episode, alert)})

    # when attempt 2 fails
    decision = on_lifecycle(monitor(), state, event("failed", execution_arn=ARN), "v1")

    # then the three start notices are cancelled and stay in the state as cancelled; the alert still goes out,
    # with the failure alert after it
    cancelled = tuple(a.model_copy(update={"status": "cancelled"}) for a in (own, earlier, other_episode))
    assert decision.cancelled == cancelled
    assert decision.state.actions[:4] == (alert, *cancelled)
    assert [(a.notice.event, a.status) for a in decision.state.actions[4:]] == [("retrain_failed", "pending")]


def test_a_succeeded_attempt_cancels_its_undelivered_start_notice_never_sent_as_a_fresh_start() -> None:
    # issue 13 item 13: once an attempt has ended, its "retraining started" is no longer news
    own = pending("sns", "retrain_started", EPISODE, 1)
    state = retraining(execution_arn=ARN).model_copy(update={"actions": (own,)})

    decision = on_lifecycle(monitor(), state, event("succeeded", execution_arn=ARN), "v1")

    cancelled = own.model_copy(update={"status": "cancelled"})
    assert decision.cancelled == (cancelled,)
    assert decision.state.actions == (cancelled,)
