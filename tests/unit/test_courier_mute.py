"""While a monitor is muted the courier keeps every action untried and reports each one held, by kind and key."""

from __future__ import annotations

from datetime import timedelta

from retrain_trigger.courier import Courier, history
from retrain_trigger.model import MonitorState
from retrain_trigger.outbox import RetryPolicy
from retrain_trigger.policy import evaluate
from tests.shared.fakes import FakeGateway, FakeStateStore

from .scenario import day, monitor, obs

KEY = "churn-model@20240801T000000Z#1:retrain_started"


def test_a_muted_courier_reports_each_pending_action_held_and_sends_none() -> None:
    store, gateway = FakeStateStore(), FakeGateway()
    decision = evaluate(monitor(), MonitorState(monitor_id="churn-model"), [obs(0, 0.3)], day(0), "v1")
    state = store.commit(decision.state, 0, history(decision, "v1"))
    muted = monitor(mode="muted", muted_until="2024-09-01T00:00:00Z")
    run = Courier(
        muted, store, gateway, "evaluator-1", lambda: day(10), timedelta(minutes=5), RetryPolicy(), day(0.5), "v1"
    )

    final = run.deliver(state)

    kinds = ["sagemaker", "sqs", "eventbridge", "sns"]
    assert [d.as_dict() for d in run.log] == [{"kind": kind, "key": KEY, "status": "held"} for kind in kinds]
    assert (final, gateway.calls) == (state, [])
