"""Issue 13, items 3, 4, 7 and 10 on the fakes: an outcome nobody recorded is never taken as done in silence, a
lost answer never loses an action, and a retraining whose start is unknown never stays RETRAINING for good.

Each test stages the failure the issue reproduced and names the behaviour a user relies on.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from retrain_trigger.errors import DependencyError, RetryableError
from retrain_trigger.model import Status
from retrain_trigger.outbox import START_LOOKUP_MARGIN
from retrain_trigger.ports import Alert
from retrain_trigger.service import MAX_TICK_AHEAD
from tests.unit.test_outbox import T0, WALL, Rig, _Killed, breach, hour, killed_during, revived


def alerts(rig: Rig, event: str) -> list[dict[str, Any]]:
    """The payloads of the alerts with this `event` that reached the topic, in order."""
    return [
        json.loads(json.dumps(c.payload.payload))
        for c in rig.gateway.of("sns")
        if isinstance(c.payload, Alert) and c.payload.attributes["event"] == event
    ]


def no_pipeline(**overrides: Any) -> Rig:
    """A monitor whose retraining starts with the SQS request (no pipeline configured): the request is the start."""
    return Rig(actions={}, **overrides)


# -- item 3: an unknown outcome is counted and alerted, never taken as a started retraining -------------------------


def test_an_action_whose_outcome_nobody_recorded_is_alerted_as_an_error_naming_its_kind_and_key() -> None:
    rig = Rig()
    killed_during(rig, "sns", after_the_call=True)
    with pytest.raises(_Killed):
        breach(rig)
    revived(rig, "sns")

    report = rig.tick(hour(1), owner="evaluator-2")

    (unconfirmed,) = alerts(rig, "action_unconfirmed")
    assert (unconfirmed["severity"], unconfirmed["action"]) == ("error", "sns")
    assert unconfirmed["action_key"] == "churn-model@20240809T000000Z#1:retrain_started"
    assert unconfirmed["tried_by"] == "evaluator-1"  # the invocation that announced it, for the logs
    key = "churn-model@20240809T000000Z#1:retrain_started"
    assert [a["status"] for a in report.results[0].actions if a["key"] == key] == ["unconfirmed"]
    assert rig.gateway.events().count("retrain_started") == 1  # still never sent twice


def test_an_unconfirmed_retrain_request_does_not_stamp_the_retraining_as_started() -> None:
    rig = no_pipeline()
    killed_during(rig, "sqs", after_the_call=False)  # the request never left
    with pytest.raises(_Killed):
        breach(rig)
    revived(rig, "sqs")

    rig.tick(hour(1), owner="evaluator-2")

    episode = rig.state().episode
    assert episode is not None
    assert episode.retrain_started_at is None, "no evidence the request was sent, yet the start was stamped"
    (unconfirmed,) = alerts(rig, "action_unconfirmed")
    assert (unconfirmed["action"], unconfirmed["action_key"]) == (
        "sqs",
        "churn-model@20240809T000000Z#1:retrain_started",
    )
    assert rig.gateway.of("sqs") == []  # never repeated: it may have landed


# -- item 4: the lease takeover's own write, whose answer was lost ---------------------------------------------------


def throttled_once() -> None:
    raise RetryableError("Publish throttled")


def test_a_takeover_whose_answer_is_lost_still_delivers_the_waiting_alert_exactly_once() -> None:
    rig = Rig(actions={"pipeline": {"name": "churn-model-retraining"}, "on_retrain": []})  # critical: alert only
    rig.gateway.during["sns"] = throttled_once
    breach(rig)  # the critical alert is throttled and waits for its next try
    assert rig.gateway.events() == ["action_failed"]
    rig.states.lose_answer_of = lambda state: any(a.status == "sending" for a in state.actions)

    rig.tick(hour(1), owner="evaluator-2")  # takes the lease and announces the alert: the write lands, its answer not
    rig.deps = replace(rig.deps, wall_clock=lambda: WALL + timedelta(hours=1))  # any lease has expired
    rig.tick(hour(2), owner="evaluator-3")

    assert rig.gateway.events() == ["action_failed", "critical"]
    (record,) = rig.state().actions
    assert (record.notice.event, record.status, record.result) == ("critical", "done", "msg-1")


# -- item 7: the crash-recovery path ---------------------------------------------------------------------------------


def test_a_failed_lookup_of_an_unrecorded_start_is_a_failed_try_backed_off_alerted_and_capped() -> None:
    rig = Rig()
    killed_during(rig, "sagemaker", after_the_call=False)
    with pytest.raises(_Killed):
        breach(rig)
    revived(rig, "sagemaker")
    rig.gateway.fail["lookup"] = DependencyError("ListPipelineExecutions of churn-model-retraining: AccessDenied")

    for n in (1, 2, 3, 4):  # back-off: 30 min, then 1 h
        rig.score(hour(n), 0.25)
        rig.tick(hour(n), owner=f"evaluator-{n + 1}")

    assert [a["action"] for a in alerts(rig, "action_failed")] == ["sagemaker", "sagemaker"]
    assert "evaluation_error" not in rig.gateway.events()
    assert rig.state().status is Status.ALARM
    assert rig.gateway.events()[-1] == "retrain_failed"
    assert rig.gateway.of("sagemaker") == [], "a start whose outcome is unknown was made without finding it first"
    assert len(rig.gateway.lookups) == 3


def test_a_lookup_that_recovers_after_a_failure_still_finds_the_start_before_making_it() -> None:
    rig = Rig()
    killed_during(rig, "sagemaker", after_the_call=True)  # the start landed, its answer never recorded
    with pytest.raises(_Killed):
        breach(rig)
    revived(rig, "sagemaker")
    rig.gateway.fail["lookup"] = RetryableError("ListPipelineExecutions throttled")
    rig.tick(hour(1), owner="evaluator-2")
    del rig.gateway.fail["lookup"]

    rig.tick(hour(2), owner="evaluator-3")

    assert len(rig.gateway.of("sagemaker")) == 1
    assert rig.state().episode.execution_arn is not None
    assert rig.gateway.events() == ["action_failed", "retrain_started"]


def test_a_retraining_whose_start_is_unconfirmed_times_out_from_its_decision() -> None:
    rig = no_pipeline()
    killed_during(rig, "sqs", after_the_call=False)
    with pytest.raises(_Killed):
        breach(rig)
    revived(rig, "sqs")
    rig.tick(hour(1), owner="evaluator-2")
    assert rig.state().status is Status.RETRAINING

    rig.tick(hour(6), owner="evaluator-3")  # retraining_timeout 6h after the decision at T0

    assert rig.state().status is Status.ALARM
    assert "retrain_failed" in rig.gateway.events()


def test_a_start_still_being_retried_is_not_timed_out_from_its_decision() -> None:
    rig = Rig(retraining_timeout="1h")
    rig.gateway.fail["sagemaker"] = RetryableError("throttled")
    breach(rig)  # the start waits 30 min for its next try
    rig.gateway.fail.clear()

    rig.tick(hour(1.5))  # past the timeout from the decision: the start's own retries decide, not the timeout

    assert len(rig.gateway.of("sagemaker")) == 1
    assert rig.state().status is Status.RETRAINING
    assert rig.state().episode.retrain_started_at == hour(1.5)


# -- item 10: the lookup is bounded by the start's own time, not by a count ------------------------------------------


def test_an_unrecorded_start_is_looked_up_back_to_its_decision_less_a_margin() -> None:
    rig = Rig()
    killed_during(rig, "sagemaker", after_the_call=False)
    with pytest.raises(_Killed):
        breach(rig)
    revived(rig, "sagemaker")

    rig.tick(hour(1), owner="evaluator-2")

    # The decision was at T0; the tick that made the start ran at most 15 minutes ahead of the clock.
    assert rig.gateway.lookups == [("churn-model@20240809T000000Z#1:retrain_started", T0 - START_LOOKUP_MARGIN)]
    assert START_LOOKUP_MARGIN >= MAX_TICK_AHEAD
