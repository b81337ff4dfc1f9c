"""The courier cancels actions instead of delivering them (shadow mode sends nothing; a start found never made for
an attempt that is over is not made): what its report says, and what the cancellation commits."""

from __future__ import annotations

from datetime import timedelta

from retrain_trigger.courier import Courier, history
from retrain_trigger.model import MonitorState, Status
from retrain_trigger.outbox import RetryPolicy, announced
from retrain_trigger.policy import evaluate
from tests.shared.fakes import FakeGateway, FakeStateStore

from .scenario import day, monitor, obs

WALL = day(10)
LEASE = timedelta(minutes=5)
EPISODE = "churn-model@20240801T000000Z"
KEY = f"{EPISODE}#1:retrain_started"
KINDS = ["sagemaker", "sqs", "eventbridge", "sns"]


def breach_committed(store: FakeStateStore) -> MonitorState:
    """A critical datapoint at day 0, decided in active mode and committed with its four retraining actions."""
    decision = evaluate(monitor(), MonitorState(monitor_id="churn-model"), [obs(0, 0.3)], day(0), "v1")
    return store.commit(decision.state, 0, history(decision, "v1"))


def test_a_shadow_courier_reports_each_pending_action_cancelled_and_sends_none() -> None:
    store, gateway = FakeStateStore(), FakeGateway()
    state = breach_committed(store)
    run = Courier(
        monitor(mode="shadow"), store, gateway, "evaluator-1", lambda: WALL, LEASE, RetryPolicy(), day(0.5), "v1"
    )

    run.deliver(state)

    assert [d.as_dict() for d in run.log] == [{"kind": kind, "key": KEY, "status": "cancelled"} for kind in KINDS]
    assert gateway.calls == []


def test_a_shadow_couriers_cancellation_is_committed_at_its_time_under_its_config_version() -> None:
    store = FakeStateStore()
    state = breach_committed(store)
    config = monitor(mode="shadow")
    run = Courier(config, store, FakeGateway(), "evaluator-1", lambda: WALL, LEASE, RetryPolicy(), day(0.5), "v2")

    final = run.deliver(state)

    assert (final.status, final.updated_at, final.config_version) == (Status.ALARM, day(0.5), "v2")
    assert [a.status for a in final.actions] == ["cancelled"] * 4
    assert (store.history[-1].before, store.history[-1].after, store.history[-1].config_version) == (
        "RETRAINING",
        "ALARM",
        "v2",
    )


def test_in_shadow_mode_a_start_found_never_made_is_cancelled_not_made_even_while_its_attempt_runs() -> None:
    # given an active decision's start announced by an invocation that never recorded its outcome (its companions
    # went out), and the monitor switched to shadow mode since
    store, gateway = FakeStateStore(), FakeGateway()
    state = breach_committed(store)
    start, *companions = state.actions
    in_flight = start.model_copy(update={"status": "sending", "tried_by": "evaluator-0"})
    sent = [a.model_copy(update={"status": "done", "result": "msg"}) for a in companions]
    state = store.commit(state.model_copy(update={"actions": (in_flight, *sent)}), state.version, None)
    run = Courier(
        monitor(mode="shadow"), store, gateway, "evaluator-1", lambda: WALL, LEASE, RetryPolicy(), day(0.5), "v1"
    )

    final = run.deliver(state)

    assert gateway.of("sagemaker") == []
    assert [d.as_dict() for d in run.log] == [{"kind": "sagemaker", "key": KEY, "status": "cancelled"}]
    (cancellation,) = run.transitions
    assert cancellation.reason == (
        f"sagemaker {KEY} was never made and its attempt is over: cancelled, not made; "
        "retraining attempt 1 withdrawn before it started (not counted)"
    )
    assert final.status is Status.ALARM


def test_a_cancelled_action_is_never_announced_for_a_try() -> None:
    # a concurrent transition may cancel the action between the courier's read and its write
    state = breach_committed(FakeStateStore())
    cancelled = state.actions[1].model_copy(update={"status": "cancelled"})
    held = state.model_copy(update={"actions": (state.actions[0], cancelled, *state.actions[2:])})

    assert announced(held, cancelled, "evaluator-1") == held
