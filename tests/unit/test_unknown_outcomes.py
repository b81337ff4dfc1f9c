"""Issue 13, items 3, 4, 7 and 10 on the fakes: an outcome nobody recorded is never taken as done in silence, a
lost answer never loses an action, and a retraining whose start is unknown never stays RETRAINING for good.

Each test stages the failure the issue reproduced and names the behaviour a user relies on.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from retrain_trigger.errors import RetryableError
from retrain_trigger.ports import Alert
from tests.unit.test_outbox import WALL, Rig, breach, hour


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
