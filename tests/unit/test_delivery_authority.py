"""Issue 13, items 5, 13 and 14: the outbox delivers only with authority, never for the past, and an outage is not
a failed retraining. On the in-memory fakes of the ports, through the service's two entry points.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from retrain_trigger.errors import RetryableError
from retrain_trigger.model import Status
from retrain_trigger.ports import Alert, PipelineStart
from tests.unit.test_outbox import T0, Rig, _Killed, breach, hour, killed_during, revived

START = "churn-model@20240809T000000Z#1:retrain_started"
CANCELLED_KINDS = ("sagemaker", "sqs", "eventbridge", "sns")


def switched(rig: Rig, **monitor: Any) -> None:
    """The operator edits the monitor's configuration (the next tick reads it)."""
    rig.config.document = {**rig.config.document, "monitors": [{"id": "churn-model", **monitor}]}


def statuses(rig: Rig) -> dict[str, str]:
    return {f"{a.kind}:{a.notice.event}": a.status for a in rig.state().actions}


def starts(rig: Rig) -> list[int]:
    """The attempt number of every pipeline start made."""
    made = [c.payload for c in rig.gateway.of("sagemaker") if isinstance(c.payload, PipelineStart)]
    return [json.loads(start.description)["attempt"] for start in made]


# -- item 5: delivery respects the monitor's current mode ---------------------------------------------------------


def test_a_muted_monitor_holds_its_pending_start_untried_and_delivers_it_once_when_the_mute_ends() -> None:
    rig = Rig()
    rig.gateway.fail["sagemaker"] = RetryableError("ThrottlingException")
    breach(rig)  # the start is throttled once
    rig.gateway.fail.clear()
    calls = len(rig.gateway.calls)
    switched(rig, mode="muted", muted_until=hour(5).isoformat())

    for n in (1, 2, 3, 4):
        rig.score(hour(n), 0.25)
        report = rig.tick(hour(n))
        assert {a["status"] for a in report.results[0].actions} == {"held"}

    assert len(rig.gateway.calls) == calls  # nothing delivered, nothing tried
    held = next(a for a in rig.state().actions if a.kind == "sagemaker")
    assert (held.status, held.attempts, held.tried_by) == ("pending", 1, None)  # no attempt spent while muted
    assert rig.state().lease_owner is None

    for n in (5, 6, 7):  # the mute has ended
        rig.score(hour(n), 0.25)
        rig.tick(hour(n))

    assert [c.kind for c in rig.gateway.calls[calls:]] == ["sagemaker", "sqs", "eventbridge", "sns"]
    assert starts(rig) == [1]
    assert rig.gateway.events() == ["action_failed", "retrain_started"]
    assert rig.state().status is Status.RETRAINING
    assert rig.state().episode.retrain_started_at == hour(5)  # the timeout counts from the real start


def test_a_transition_while_muted_neither_takes_the_lease_nor_announces_a_held_action() -> None:
    rig = Rig(warning=0.1)
    rig.gateway.fail["sns"] = RetryableError("ThrottlingException")
    rig.score(T0, 0.12)
    rig.tick(T0)  # WARNING: its alert is throttled and waits
    rig.gateway.fail.clear()
    switched(rig, mode="muted", muted_until=hour(3).isoformat())

    rig.score(hour(1), 0.3)
    rig.tick(hour(1))  # critical while muted: ALARM, its alert suppressed; the warning alert still held

    state = rig.state()
    assert state.status is Status.ALARM
    held = [a for a in state.actions if a.notice.event == "warning"]
    assert [(a.status, a.tried_by) for a in held] == [("pending", None)]
    assert state.lease_owner is None
    assert rig.gateway.calls == []

    rig.score(hour(3), 0.3)
    rig.tick(hour(3))  # the mute is over: the held alert goes out once

    assert rig.gateway.events() == ["warning", "retrain_started"]  # the retraining the mute blocked starts now


def test_a_switch_to_shadow_cancels_the_pending_start_and_records_the_cancellation() -> None:
    rig = Rig()
    rig.gateway.fail["sagemaker"] = RetryableError("ThrottlingException")
    breach(rig)
    rig.gateway.fail.clear()
    calls = len(rig.gateway.calls)
    switched(rig, mode="shadow")

    rig.score(hour(1), 0.25)
    rig.tick(hour(1))
    rig.score(hour(2), 0.25)
    rig.tick(hour(2))

    assert len(rig.gateway.calls) == calls  # the throttled start never goes out, nor its request or alert
    cancelled = [h for h in rig.states.history if any(a.startswith("cancelled:") for a in h.actions)]
    assert len(cancelled) == 1
    assert sorted(cancelled[0].actions) == sorted(f"cancelled:{kind}:{START}" for kind in CANCELLED_KINDS)
    assert "shadow" in cancelled[0].reason
    assert not rig.state().pending
    # The attempt never ran: it is withdrawn, not counted, and shadow mode decides on from there.
    assert cancelled[0].after is Status.ALARM


def test_the_cancelled_actions_of_a_switch_to_shadow_keep_the_status_cancelled_in_the_state() -> None:
    rig = Rig()
    rig.gateway.fail["sagemaker"] = RetryableError("ThrottlingException")
    breach(rig)
    switched(rig, mode="shadow")

    rig.tick(hour(1))  # no fresh datapoint: the rules keep the state, the outbox still answers to the mode

    assert statuses(rig) == dict.fromkeys(
        ("sagemaker:retrain_started", "sqs:retrain_started", "eventbridge:retrain_started", "sns:retrain_started"),
        "cancelled",
    )
    assert rig.gateway.of("sagemaker") == []


# -- item 13: an ended attempt's start notices are never sent as a fresh start -------------------------------------


def test_an_ended_attempts_start_resolved_by_lookup_days_later_is_recorded_and_its_companions_cancelled() -> None:
    rig = Rig(grace_period="1d")
    killed_during(rig, "sagemaker", after_the_call=True)  # the start lands; its result is never recorded
    with pytest.raises(_Killed):
        breach(rig)
    revived(rig, "sagemaker")
    made = rig.gateway.of("sagemaker")[0].payload
    assert isinstance(made, PipelineStart)
    arn = rig.gateway.find_pipeline_execution("churn-model-retraining", START)

    def lookup_fails(pipeline_name: str, idempotency_key: str) -> str | None:
        raise RetryableError("ListPipelineExecutions: ThrottlingException")

    rig.gateway.find_pipeline_execution = lookup_fails  # type: ignore[method-assign]
    # Four days of failing deliveries, while the lifecycle applies the pipeline's success (matched by its
    # description's episode and attempt) and the drift that persists past the grace period escalates.
    episode_id = json.loads(made.description)["episode_id"]
    rig.lifecycle("succeeded", hour(3), monitor_id="churn-model", execution_arn=arn, episode_id=episode_id, attempt=1)
    for n in range(4, 24 * 4, 4):
        rig.score(hour(n), 0.25)
        rig.tick(hour(n), owner="evaluator-2")
    assert rig.state().status is Status.ALARM
    assert rig.state().episode.escalated
    del rig.gateway.find_pipeline_execution  # the faults stop

    rig.score(hour(24 * 4), 0.25)
    rig.tick(hour(24 * 4), owner="evaluator-2")

    assert rig.gateway.of("sqs") == []  # a CI listening on the queue must not retrain again
    assert rig.gateway.of("eventbridge") == []
    assert "retrain_started" not in rig.gateway.events()
    assert len(rig.gateway.of("sagemaker")) == 1
    start = next(a for a in rig.state().actions if a.kind == "sagemaker" and a.notice.event == "retrain_started")
    assert (start.status, start.result) == ("done", arn)  # the start is recorded for what it was
    history = " ".join(a for h in rig.states.history for a in h.actions)
    for kind in ("sqs", "eventbridge", "sns"):
        assert f"cancelled:{kind}:{START}" in history


def test_a_start_never_made_for_an_attempt_that_ended_is_cancelled_not_made() -> None:
    rig = Rig()
    killed_during(rig, "sagemaker", after_the_call=False)  # announced, never made
    with pytest.raises(_Killed):
        breach(rig)
    revived(rig, "sagemaker")
    episode = rig.state().episode
    assert episode is not None
    rig.lifecycle("failed", hour(0.5), monitor_id="churn-model", episode_id=episode.id, attempt=1)

    rig.tick(hour(1), owner="evaluator-2")

    assert rig.gateway.of("sagemaker") == []
    assert rig.gateway.of("sqs") == []
    assert "retrain_started" not in rig.gateway.events()
    assert statuses(rig)["sagemaker:retrain_started"] == "cancelled"


# -- item 14: an outage is not a failed retraining ----------------------------------------------------------------


def test_a_twelve_day_sagemaker_outage_spends_no_attempt_and_the_start_follows_recovery_as_attempt_1() -> None:
    rig = Rig()  # cooldown 7d, at most 3 retrainings per episode
    rig.deps = replace(rig.deps, wall_clock=lambda: hour(24 * 30))
    rig.gateway.fail["sagemaker"] = RetryableError("ServiceUnavailable: HTTP 503")
    recovery = 24 * 12
    alerted_on: set[int] = set()  # the days of the outage with an action_failed alert
    breach(rig)
    for n in range(1, recovery + 6):
        if n == recovery:
            rig.gateway.fail.clear()
        rig.score(hour(n), 0.25)
        before = len(rig.gateway.events())
        rig.tick(hour(n))
        if "action_failed" in rig.gateway.events()[before:]:
            alerted_on.add(n // 24)
        if starts(rig):
            break

    assert starts(rig) == [1]
    assert n <= recovery + 1  # within one back-off interval (at most 1 h) of the recovery
    state = rig.state()
    assert state.status is Status.RETRAINING
    assert state.episode is not None and state.episode.retrains == 1
    assert state.episode.retrain_started_at == hour(n)
    events = rig.gateway.events()
    assert "retrain_failed" not in events
    assert events.count("retrain_started") == 1
    # Never silent: every failed try was alerted, at most once per back-off window (1 h), each day of the outage.
    assert alerted_on == set(range(12))
    assert events.count("action_failed") <= recovery + 1


def test_an_outage_alert_says_the_start_is_retried_without_spending_the_attempt() -> None:
    rig = Rig()
    rig.gateway.fail["sagemaker"] = RetryableError("ServiceUnavailable: HTTP 503")
    breach(rig)
    for n in range(1, 6):
        rig.score(hour(n), 0.25)
        rig.tick(hour(n))

    alerts = [c.payload for c in rig.gateway.of("sns") if isinstance(c.payload, Alert)]
    assert [a.attributes["event"] for a in alerts] == ["action_failed"] * 6  # every try, one per back-off window
    last = alerts[-1]
    assert last.payload["gave_up"] is False
    assert "not spent" in last.text
    assert rig.state().episode.retrains == 1
    assert rig.state().status is Status.RETRAINING


def test_the_back_off_of_a_start_in_an_outage_is_bounded_by_the_maximum() -> None:
    rig = Rig()
    rig.gateway.fail["sagemaker"] = RetryableError("ServiceUnavailable: HTTP 503")
    rig.deps = replace(rig.deps, wall_clock=lambda: hour(24 * 30))
    breach(rig)
    for n in range(1, 200):
        rig.score(hour(n), 0.25)
        rig.tick(hour(n))
        assert [a.status for a in rig.state().actions if a.kind == "sagemaker"] == ["pending"]
        start = rig.state().actions[0]
        assert start.next_try_at is not None and start.next_try_at <= hour(n) + timedelta(hours=1)
