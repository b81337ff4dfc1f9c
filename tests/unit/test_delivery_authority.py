"""Issue 13, items 5, 13 and 14: the outbox delivers only with authority, never for the past, and an outage is not
a failed retraining. On the in-memory fakes of the ports, through the service's two entry points.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from retrain_trigger.errors import RetryableError
from retrain_trigger.model import Status
from retrain_trigger.ports import Alert, PipelineStart
from tests.unit.test_outbox import Rig, breach, hour

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
