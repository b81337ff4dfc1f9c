"""The courier's less travelled paths, against in-memory ports: the top features a transition's history entry keeps,
what a failed try's write announces, the alert of a start given up for an attempt no longer running, the lease and
the announcement of the outbox's own transition, and a delivery whose action another writer dropped meanwhile."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from retrain_trigger.config import MonitorConfig
from retrain_trigger.courier import Courier, history
from retrain_trigger.errors import DependencyError
from retrain_trigger.model import MonitorState, Status
from retrain_trigger.outbox import RetryPolicy
from retrain_trigger.policy import evaluate
from retrain_trigger.ports import Alert, HistoryEntry
from tests.shared.fakes import FakeGateway, FakeStateStore

from .scenario import day, decimals, monitor, obs, read, scored

WALL = day(10)  # the real clock: leases count in it
LEASE = timedelta(minutes=5)
EPISODE = "churn-model@20240801T000000Z"
KEY = f"{EPISODE}#1:retrain_started"
PIPELINE = {"name": "churn-model-retraining"}


@dataclass
class WriteRecordingStore(FakeStateStore):
    """The fake store, keeping every state a commit wrote (landed or not), in order."""

    written: list[MonitorState] = field(default_factory=list)

    def commit(self, state: MonitorState, expected_version: int, history: HistoryEntry | None) -> MonitorState:
        self.written.append(state)
        return super().commit(state, expected_version, history)


def breach_committed(store: FakeStateStore, config: MonitorConfig) -> MonitorState:
    """A critical datapoint at day 0, decided and committed (version 1) with the monitor's retraining actions."""
    decision = evaluate(config, MonitorState(monitor_id="churn-model"), [obs(0, 0.3)], day(0), "v1")
    return store.commit(decision.state, 0, history(decision, "v1"))


def on_its_last_try(store: FakeStateStore, state: MonitorState, kind: str) -> MonitorState:
    actions = tuple(a.model_copy(update={"attempts": 2}) if a.kind == kind else a for a in state.actions)
    return store.commit(state.model_copy(update={"actions": actions}), state.version, None)


def courier(config: MonitorConfig, store: FakeStateStore, gateway: FakeGateway) -> Courier:
    return Courier(
        config, store, gateway, "evaluator-1", lambda: WALL, LEASE, RetryPolicy(max_attempts=3), day(0), "v1"
    )


# --- the history entry of a transition ------------------------------------------------------------------------


def test_a_transitions_history_entry_keeps_the_top_features_of_a_feature_scored_monitor_ranked() -> None:
    # given a monitor scored from four features, breached by one item (combined by max: income 0.30)
    config = scored(combine="max")
    datapoint = read(config, decimals(age="0.05", income="0.30", tenure="0.10", plan="0.02"))
    decision = evaluate(config, MonitorState(monitor_id="churn-model"), [datapoint], day(0), "v1")

    # when its history entry is written
    entry = history(decision, "v1")

    # then it names the features above their threshold, largest first, with their values
    assert entry.extra == {
        "top_features": [
            {"feature": "income", "value": 0.30},
            {"feature": "tenure", "value": 0.10},
            {"feature": "age", "value": 0.05},
        ]
    }


def test_a_transitions_history_entry_of_a_monitor_without_feature_scores_has_no_extra() -> None:
    decision = evaluate(monitor(), MonitorState(monitor_id="churn-model"), [obs(0, 0.3)], day(0), "v1")

    assert history(decision, "v1").extra == {}


# --- what a failed try writes ---------------------------------------------------------------------------------


def test_a_failed_try_announces_the_next_ready_action_in_the_same_write_one_write_per_outcome() -> None:
    # given four retraining actions, the SQS request on its last allowed try and a queue that is gone
    store, config = WriteRecordingStore(), monitor()
    gateway = FakeGateway(fail={"sqs": DependencyError("queue gone")})
    state = on_its_last_try(store, breach_committed(store, config), "sqs")
    store.written.clear()

    # when the courier delivers
    courier(config, store, gateway).deliver(state)

    # then each write records one outcome and announces the next try: the takeover, then one write per action
    assert [tuple((a.status, a.tried_by) for a in s.actions) for s in store.written] == [
        (("sending", "evaluator-1"), ("pending", None), ("pending", None), ("pending", None)),
        (("done", None), ("sending", "evaluator-1"), ("pending", None), ("pending", None)),
        (("done", None), ("failed", None), ("sending", "evaluator-1"), ("pending", None)),
        (("done", None), ("failed", None), ("done", None), ("sending", "evaluator-1")),
        (("done", None), ("failed", None), ("done", None), ("done", None)),
    ]


# --- a start given up ------------------------------------------------------------------------------------------


def test_giving_up_on_the_start_of_an_attempt_no_longer_running_alerts_that_it_gave_up_not_an_outage() -> None:
    # given a start on its last try whose attempt (1) is no longer the running one (2)
    store, config = FakeStateStore(), monitor()
    gateway = FakeGateway(fail={"sagemaker": DependencyError("no such pipeline")})
    state = on_its_last_try(store, breach_committed(store, config), "sagemaker")
    assert state.episode is not None
    running_2 = state.model_copy(update={"episode": state.episode.model_copy(update={"retrains": 2})})
    state = store.commit(running_2, state.version, None)

    # when the courier delivers
    courier(config, store, gateway).deliver(state)

    # then the alert says it gave up after its tries, never that it is retried as in an outage
    alert = gateway.of("sns")[0].payload
    assert isinstance(alert, Alert)
    assert alert.subject == "[ERROR] churn-model sagemaker action gave up after 3 tries"
    assert alert.text == (
        "churn-model: the sagemaker action of retrain_started gave up after 3 tries.\n\n"
        "Error: no such pipeline\n\n"
        f"Action key: {KEY}\nKey: {KEY}:sagemaker:failed#3"
    )


def test_a_start_given_up_with_nothing_else_to_deliver_still_delivers_its_failure_alert_in_the_same_run() -> None:
    # given a pipeline start, the only action of its notice, on its last try: its failed write gives the lease back
    store, config = FakeStateStore(), monitor(actions={"on_retrain": ["sagemaker"], "pipeline": PIPELINE})
    gateway = FakeGateway(fail={"sagemaker": DependencyError("no such pipeline")})
    state = on_its_last_try(store, breach_committed(store, config), "sagemaker")

    # when the courier delivers
    run = courier(config, store, gateway)
    final = run.deliver(state)

    # then the attempt's failure takes the lease again and its alert goes out at once, not at the next tick
    assert [d.as_dict() for d in run.log] == [
        {"kind": "sagemaker", "key": KEY, "status": "failed", "error": "no such pipeline", "attempts": 3},
        {"kind": "sns", "key": f"{EPISODE}#1:retrain_failed", "status": "done", "result": "msg-0", "attempts": 1},
    ]
    assert gateway.events() == ["retrain_failed"]
    assert (final.status, final.lease_owner, final.lease_until) == (Status.ALARM, None, None)
    assert [(a.notice.event, a.status) for a in final.actions] == [("retrain_failed", "done")]


def test_a_transitions_alert_goes_out_while_an_earlier_notices_action_waits_for_its_back_off() -> None:
    # given an earlier warning's alert backed off until day 1, and the start on its last try at day 0
    store, config = FakeStateStore(), monitor(warning=0.1)
    gateway = FakeGateway(fail={"sagemaker": DependencyError("no such pipeline")})
    state = on_its_last_try(store, breach_committed(store, config), "sagemaker")
    warned = evaluate(config, MonitorState(monitor_id="churn-model"), [obs(-1, 0.15)], day(-1), "v1").state
    earlier = warned.actions[0].model_copy(update={"attempts": 1, "next_try_at": day(1), "last_error": "topic gone"})
    state = store.commit(state.model_copy(update={"actions": (earlier, *state.actions)}), state.version, None)

    # when the courier delivers: the start is given up, and that transition queues the failure alert
    run = courier(config, store, gateway)
    final = run.deliver(state)

    # then the failure alert is delivered and the earlier alert keeps waiting, untried
    assert gateway.events() == ["retrain_failed"]
    assert [d.as_dict()["status"] for d in run.log] == ["failed", "done"]
    assert final.actions[0] == earlier
    assert (final.actions[-1].notice.event, final.actions[-1].status) == ("retrain_failed", "done")
    assert final.lease_owner is None


# --- another writer during a delivery -------------------------------------------------------------------------


def test_an_action_another_writer_dropped_during_its_delivery_is_not_written_back() -> None:
    # given a warning alert being delivered, and meanwhile other writers (the lifecycle function) that cancel it and
    # then drop the cancelled entry, leaving us the lease
    store, gateway, config = FakeStateStore(), FakeGateway(), monitor(warning=0.1)
    decision = evaluate(config, MonitorState(monitor_id="churn-model"), [obs(0, 0.15)], day(0), "v1")
    state = store.commit(decision.state, 0, history(decision, "v1"))
    dropped: list[MonitorState] = []

    def other_writers_drop_the_alert() -> None:
        current = store.get("churn-model")
        dropped.append(current.model_copy(update={"version": current.version + 1, "actions": ()}))
        store.states["churn-model"] = dropped[0]

    gateway.during["sns"] = other_writers_drop_the_alert

    # when the courier delivers
    run = courier(config, store, gateway)
    final = run.deliver(state)

    # then the alert went out once, the state the others left is kept (the entry not brought back), the lease returned
    assert gateway.events() == ["warning"]
    assert [d.as_dict()["status"] for d in run.log] == ["done"]
    assert final == store.get("churn-model")
    assert final == dropped[0].model_copy(
        update={"version": dropped[0].version + 1, "lease_owner": None, "lease_until": None}
    )
    assert store.history[-1].reason == "actions: sns done"
