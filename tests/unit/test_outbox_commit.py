"""The outbox's courier against in-memory ports: what each write records, what each delivery reports, and a write
whose answer was lost. Every expectation is the whole value (report, history entry, record), not a part of it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from retrain_trigger.config import MonitorConfig
from retrain_trigger.courier import Courier, history
from retrain_trigger.errors import DependencyError
from retrain_trigger.model import HistoryKind, MonitorState, Status
from retrain_trigger.outbox import (
    Delivered,
    RetryPolicy,
    delivered,
    failed_try,
    leased,
    next_ready,
)
from retrain_trigger.policy import evaluate, on_start_given_up, retraining_overdue
from retrain_trigger.ports import Alert, BusEvent, HistoryEntry, PipelineStart, QueueMessage
from tests.shared.fakes import FakeGateway, FakeStateStore

from .scenario import day, monitor, obs

WALL = day(10)  # the real clock: leases count in it
LEASE = timedelta(minutes=5)
SECOND = timedelta(seconds=1)
EPISODE = "churn-model@20240801T000000Z"
KEY = f"{EPISODE}#1:retrain_started"
KINDS = ["sagemaker", "sqs", "eventbridge", "sns"]


def breach_committed(store: FakeStateStore, config: MonitorConfig) -> MonitorState:
    """A critical datapoint at day 0, decided and committed (version 1) with its four retraining actions."""
    decision = evaluate(config, MonitorState(monitor_id="churn-model"), [obs(0, 0.3)], day(0), "v1")
    return store.commit(decision.state, 0, history(decision, "v1"))


def courier(config: MonitorConfig, store: FakeStateStore, gateway: FakeGateway, owner: str = "evaluator-1") -> Courier:
    retry = RetryPolicy(max_attempts=3, backoff=timedelta(minutes=30))
    return Courier(config, store, gateway, owner, lambda: WALL, LEASE, retry, day(0), "v1")


def arn_of_the_start(gateway: FakeGateway) -> str:
    (start,) = gateway.of("sagemaker")
    assert isinstance(start.payload, PipelineStart)
    return f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/{start.payload.client_request_token[:12]}"


# --- a write whose answer was lost ----------------------------------------------------------------------------


def test_a_last_write_that_landed_but_lost_its_answer_is_recognised_as_ours_and_not_reported_lost() -> None:
    # given a breach with four actions, and a store that loses the answer of the last delivery write (commit 6:
    # 1 transition, 1 takeover, 4 results)
    store, gateway, config = FakeStateStore(lost_answers={6}), FakeGateway(), monitor()
    state = breach_committed(store, config)

    # when the courier delivers
    run = courier(config, store, gateway)
    final = run.deliver(state)

    # then the write counts as done: every action delivered once, the lease given back, nothing reported lost
    assert [c.kind for c in gateway.calls] == KINDS
    assert [d.status for d in run.log] == ["done"] * 4
    assert final == store.get("churn-model")
    assert (final.version, final.lease_owner, final.lease_until) == (6, None, None)
    assert [a.status for a in final.actions] == ["done"] * 4


def test_a_middle_write_that_landed_but_lost_its_answer_is_not_written_a_second_time() -> None:
    # given a store that loses the answer of the write recording the pipeline start (commit 3)
    store, gateway, config = FakeStateStore(lost_answers={3}), FakeGateway(), monitor()
    state = breach_committed(store, config)

    # when the courier delivers
    courier(config, store, gateway).deliver(state)

    # then no result is recorded twice: one try each, and exactly 1 + 1 + 4 writes
    assert [c.kind for c in gateway.calls] == KINDS
    assert [(a.status, a.attempts) for a in store.get("churn-model").actions] == [("done", 1)] * 4
    assert store.commits == 6


# --- what a delivery reports and records ----------------------------------------------------------------------


def test_a_delivery_reports_each_action_with_its_result_and_records_one_history_entry() -> None:
    store, gateway, config = FakeStateStore(), FakeGateway(), monitor()
    state = breach_committed(store, config)

    run = courier(config, store, gateway)
    run.deliver(state)

    arn = arn_of_the_start(gateway)
    assert [d.as_dict() for d in run.log] == [
        {"kind": "sagemaker", "key": KEY, "status": "done", "result": arn, "attempts": 1},
        {"kind": "sqs", "key": KEY, "status": "done", "result": "sqs-1", "attempts": 1},
        {"kind": "eventbridge", "key": KEY, "status": "done", "result": "ev-2", "attempts": 1},
        {"kind": "sns", "key": KEY, "status": "done", "result": "msg-3", "attempts": 1},
    ]
    assert len(store.history) == 2  # the transition's, and one for the whole delivery
    assert store.history[-1] == HistoryEntry(
        monitor_id="churn-model",
        at=day(0),
        before="RETRAINING",
        after="RETRAINING",
        reason="actions: sagemaker done, sqs done, eventbridge done, sns done",
        config_version="v1",
        kind=HistoryKind.DELIVERY,
        episode_id=EPISODE,
        actions=(f"sagemaker:done:{arn}", "sqs:done:sqs-1", "eventbridge:done:ev-2", "sns:done:msg-3"),
    )
    episode = store.get("churn-model").episode
    assert episode is not None
    assert (episode.retrain_started_at, episode.execution_arn) == (day(0), arn)


def test_a_failed_try_is_reported_with_its_error_and_alerted_and_the_rest_of_its_notice_waits() -> None:
    store, gateway, config = FakeStateStore(), FakeGateway(fail={"sqs": DependencyError("queue gone")}), monitor()
    state = breach_committed(store, config)

    run = courier(config, store, gateway)
    final = run.deliver(state)

    arn = arn_of_the_start(gateway)
    assert [d.as_dict() for d in run.log] == [
        {"kind": "sagemaker", "key": KEY, "status": "done", "result": arn, "attempts": 1},
        {"kind": "sqs", "key": KEY, "status": "retry", "error": "queue gone", "attempts": 1},
        {"kind": "sns", "key": f"{KEY}:sqs:failed#1", "status": "done", "result": "msg-1"},
    ]
    sqs = final.actions[1]
    assert (sqs.status, sqs.attempts, sqs.last_error, sqs.next_try_at) == (
        "pending",
        1,
        "queue gone",
        day(0) + timedelta(minutes=30),
    )
    assert [a.status for a in final.actions] == ["done", "pending", "pending", "pending"]
    assert final.lease_owner is None


def test_an_alert_about_a_failure_that_cannot_be_sent_is_reported_failed_with_its_error() -> None:
    failing = {"sqs": DependencyError("queue gone"), "sns": DependencyError("topic gone")}
    store, gateway, config = FakeStateStore(), FakeGateway(fail=failing), monitor()
    state = breach_committed(store, config)

    run = courier(config, store, gateway)
    run.deliver(state)

    assert [d.as_dict() for d in run.log][1:] == [
        {"kind": "sqs", "key": KEY, "status": "retry", "error": "queue gone", "attempts": 1},
        {"kind": "sns", "key": f"{KEY}:sqs:failed#1", "status": "failed", "error": "topic gone"},
    ]


def test_an_unexpired_lease_of_another_invocation_is_reported_held_for_each_waiting_action() -> None:
    store, gateway, config = FakeStateStore(), FakeGateway(), monitor()
    state = breach_committed(store, config)
    held = store.commit(state.model_copy(update={"lease_owner": "other", "lease_until": WALL + SECOND}), 1, None)

    run = courier(config, store, gateway)
    final = run.deliver(held)

    assert gateway.calls == []
    assert final == held
    assert [d.as_dict() for d in run.log] == [{"kind": kind, "key": KEY, "status": "lease_held"} for kind in KINDS]


def test_an_unannounced_try_found_by_the_next_invocation_is_taken_as_sent_and_reported_unconfirmed() -> None:
    store, gateway, config = FakeStateStore(), FakeGateway(), monitor(actions={"on_retrain": ["sns"]})
    state = breach_committed(store, config)
    sending = state.actions[0].model_copy(update={"status": "sending", "tried_by": "dead"})
    state = store.commit(state.model_copy(update={"actions": (sending,)}), 1, None)

    run = courier(config, store, gateway)
    final = run.deliver(state)

    # never sent again; the unknown outcome is alerted as an error naming it (issue 13 item 3)
    unconfirmed_key = f"{KEY}:sns:unconfirmed"
    assert [(c.kind, c.key, c.payload.attributes["event"]) for c in gateway.calls] == [
        ("sns", unconfirmed_key, "action_unconfirmed")
    ]
    assert [d.as_dict() for d in run.log] == [
        {"kind": "sns", "key": KEY, "status": "unconfirmed", "attempts": 1},
        {"kind": "sns", "key": unconfirmed_key, "status": "done", "result": "msg-0"},
    ]
    assert [(a.status, a.result, a.attempts) for a in final.actions] == [("done", "unconfirmed", 1)]
    assert store.history[-1].actions == ("sns:unconfirmed:", "sns:done:msg-0")


def test_a_start_announced_by_a_dead_invocation_and_found_by_its_key_is_reported_done_with_its_arn() -> None:
    store, gateway, config = (
        FakeStateStore(),
        FakeGateway(),
        monitor(actions={"on_retrain": ["sagemaker"], "pipeline": {"name": "churn-model-retraining"}}),
    )
    state = breach_committed(store, config)
    courier(config, store, gateway, owner="dead").deliver(state)  # makes the start, records it...
    landed = store.get("churn-model")
    arn = arn_of_the_start(gateway)
    sending = landed.actions[0].model_copy(
        update={"status": "sending", "tried_by": "dead", "result": None, "attempts": 0}
    )
    lost = landed.model_copy(
        update={
            "actions": (sending,),
            "episode": landed.episode.model_copy(update={"execution_arn": None, "retrain_started_at": None}),
        }
    )
    state = store.commit(lost, landed.version, None)  # ...but, as far as the state knows, the outcome was lost

    run = courier(config, store, gateway)
    final = run.deliver(state)

    assert len(gateway.of("sagemaker")) == 1
    assert [d.as_dict() for d in run.log] == [
        {"kind": "sagemaker", "key": KEY, "status": "done", "result": arn, "attempts": 1}
    ]
    assert final.episode is not None
    assert (final.episode.execution_arn, final.episode.retrain_started_at) == (arn, day(0))


# --- the pure rules at their boundaries -------------------------------------------------------------------------


@pytest.mark.parametrize(("lease_until", "taken"), [(WALL, True), (WALL + SECOND, False)])
def test_another_invocations_lease_is_free_exactly_at_its_end(lease_until: object, taken: bool) -> None:
    state = MonitorState(monitor_id="churn-model", lease_owner="other", lease_until=lease_until)

    ours = leased(state, "evaluator-1", WALL, LEASE)

    assert ours == (
        state.model_copy(update={"lease_owner": "evaluator-1", "lease_until": WALL + LEASE}) if taken else None
    )


def test_our_own_unexpired_lease_is_renewed() -> None:
    state = MonitorState(monitor_id="churn-model", lease_owner="evaluator-1", lease_until=WALL + LEASE)

    assert leased(state, "evaluator-1", WALL + SECOND, LEASE) == state.model_copy(
        update={"lease_until": WALL + SECOND + LEASE}
    )


@pytest.mark.parametrize(("now", "ready"), [(day(1) - SECOND, False), (day(1), True)])
def test_a_backed_off_action_is_ready_exactly_at_its_next_try(now: object, ready: bool) -> None:
    state = breach_committed(FakeStateStore(), monitor(actions={"on_retrain": ["sns"]}))
    waiting = state.actions[0].model_copy(update={"next_try_at": day(1)})

    assert next_ready(state.model_copy(update={"actions": (waiting,)}), now) == (waiting if ready else None)


def test_an_action_waits_behind_an_earlier_pending_action_of_its_notice_but_not_of_another() -> None:
    state = breach_committed(FakeStateStore(), monitor(actions={"on_retrain": ["sqs", "sns"]}))
    sqs, sns = state.actions
    later = sqs.model_copy(update={"next_try_at": day(1)})
    other = sns.model_copy(update={"key": "another-notice"})

    assert next_ready(state.model_copy(update={"actions": (later, sns)}), day(0)) is None
    assert next_ready(state.model_copy(update={"actions": (later, other)}), day(0)) == other


@pytest.mark.parametrize(
    ("attempts", "status", "next_try"), [(1, "pending", day(0) + timedelta(minutes=60)), (2, "failed", None)]
)
def test_an_action_gives_up_exactly_at_its_last_allowed_try(attempts: int, status: str, next_try: object) -> None:
    state = breach_committed(FakeStateStore(), monitor(actions={"on_retrain": ["sns"]}))
    action = state.actions[0].model_copy(update={"attempts": attempts, "tried_by": "evaluator-1", "status": "sending"})
    state = state.model_copy(update={"actions": (action,)})

    after, record = failed_try(
        state, action, "x" * 600, day(0), RetryPolicy(max_attempts=3, backoff=timedelta(minutes=30))
    )

    assert (record.status, record.attempts, record.next_try_at, record.tried_by) == (
        status,
        attempts + 1,
        next_try,
        None,
    )
    assert record.last_error == "x" * 500
    assert after.actions == (record,)


@pytest.mark.parametrize(
    ("attempts", "wait"),
    [
        (0, timedelta(minutes=1)),
        (1, timedelta(minutes=1)),
        (2, timedelta(minutes=2)),
        (3, timedelta(minutes=4)),
        (9, timedelta(hours=1)),
    ],
)
def test_the_back_off_doubles_from_one_minute_and_is_capped_at_an_hour(attempts: int, wait: timedelta) -> None:
    assert RetryPolicy().next_try(attempts, day(0)) == day(0) + wait


def test_a_report_line_leaves_out_what_it_does_not_know() -> None:
    assert Delivered("sns", "k", "done").as_dict() == {"kind": "sns", "key": "k", "status": "done"}


def test_a_decisions_history_entry_names_its_new_suppressed_and_cancelled_actions() -> None:
    # given a start given up: its other retraining actions are cancelled and the failure alert is queued
    config = monitor()
    state = breach_committed(FakeStateStore(), config)
    start = state.actions[0].model_copy(update={"status": "failed", "attempts": 3, "last_error": "AccessDenied"})
    decision = on_start_given_up(
        config, state.model_copy(update={"actions": (start, *state.actions[1:])}), start, day(0.1), "v1"
    )

    entry = history(decision, "v2")

    assert entry == HistoryEntry(
        monitor_id="churn-model",
        at=day(0.1),
        before="RETRAINING",
        after="ALARM",
        reason=decision.reason,
        config_version="v2",
        score=None,
        episode_id=EPISODE,
        actions=("sns:retrain_failed", f"cancelled:sqs:{KEY}", f"cancelled:eventbridge:{KEY}", f"cancelled:sns:{KEY}"),
    )


def test_a_muted_decisions_history_entry_names_what_it_suppressed() -> None:
    config = monitor(mode="muted", muted_until="2024-09-01T00:00:00Z")
    decision = evaluate(config, MonitorState(monitor_id="churn-model"), [obs(0, 0.3)], day(0), "v1")

    entry = history(decision, "v1")

    assert (entry.before, entry.after, entry.score, entry.episode_id) == ("OK", "ALARM", 0.3, EPISODE)
    assert entry.actions == ("suppressed:sns:critical",)


# --- the outbox's own transitions and failures ------------------------------------------------------------------


def on_its_last_try(store: FakeStateStore, state: MonitorState, kind: str) -> MonitorState:
    actions = tuple(a.model_copy(update={"attempts": 2}) if a.kind == kind else a for a in state.actions)
    return store.commit(state.model_copy(update={"actions": actions}), state.version, None)


def test_giving_up_on_a_start_fails_the_attempt_and_delivers_its_alert_in_the_same_run() -> None:
    # given the pipeline start on its last allowed try, and a pipeline that cannot be started
    store, config = FakeStateStore(), monitor()
    gateway = FakeGateway(fail={"sagemaker": DependencyError("no such pipeline")})
    state = on_its_last_try(store, breach_committed(store, config), "sagemaker")

    # when the courier (under config version v2) delivers
    run = Courier(config, store, gateway, "evaluator-1", lambda: WALL, LEASE, RetryPolicy(), day(0), "v2")
    final = run.deliver(state)

    # then the attempt fails in one transition, committed with its history, and its alert goes out at once
    failed_key = f"{EPISODE}#1:retrain_failed"
    assert [d.as_dict() for d in run.log] == [
        {"kind": "sagemaker", "key": KEY, "status": "failed", "error": "no such pipeline", "attempts": 3},
        {"kind": "sns", "key": failed_key, "status": "done", "result": "msg-0", "attempts": 1},
    ]
    (transition,) = run.transitions
    assert (transition.before.status, transition.state.status) == (Status.RETRAINING, Status.ALARM)
    assert [(h.before, h.after, h.config_version) for h in store.history] == [
        ("OK", "RETRAINING", "v1"),
        ("RETRAINING", "ALARM", "v2"),
        ("ALARM", "ALARM", "v2"),
    ]
    assert (final.status, final.lease_owner, final.config_version) == (Status.ALARM, None, "v2")
    # the attempt's other start notices are cancelled, kept as such until the next transition (issue 13 item 13)
    assert [(a.kind, a.notice.event, a.status) for a in final.actions] == [
        ("sqs", "retrain_started", "cancelled"),
        ("eventbridge", "retrain_started", "cancelled"),
        ("sns", "retrain_started", "cancelled"),
        ("sns", "retrain_failed", "done"),
    ]
    # takeover, the failed try, the transition (announcing the alert), the alert's result
    assert store.commits == 2 + 4


def test_a_transition_that_loses_its_write_to_another_writer_is_reported_and_stops_the_delivery() -> None:
    store, config = FakeStateStore(), monitor()
    gateway = FakeGateway(fail={"sagemaker": DependencyError("no such pipeline")})
    state = on_its_last_try(store, breach_committed(store, config), "sagemaker")
    commits_left = [2]  # the takeover and the failed try land; the transition finds the state moved on

    def another_writer_before_the_transition(_: MonitorState) -> None:
        current = store.get("churn-model")
        if commits_left[0] == 0:
            store.states["churn-model"] = current.model_copy(update={"version": current.version + 1})
            return
        commits_left[0] -= 1
        store.before_commit = another_writer_before_the_transition

    store.before_commit = another_writer_before_the_transition
    run = courier(config, store, gateway)
    run.deliver(state)

    assert [d.as_dict() for d in run.log] == [
        {"kind": "sagemaker", "key": KEY, "status": "failed", "error": "no such pipeline", "attempts": 3},
        {"kind": "state", "key": "churn-model", "status": "lease_lost"},
    ]
    assert run.transitions == []
    assert store.get("churn-model").status is Status.RETRAINING


def test_an_action_given_up_is_reported_failed_and_alerted_with_its_tries() -> None:
    store, config = FakeStateStore(), monitor()
    gateway = FakeGateway(fail={"sqs": DependencyError("queue gone")})
    state = on_its_last_try(store, breach_committed(store, config), "sqs")

    run = courier(config, store, gateway)
    run.deliver(state)

    assert [d.as_dict() for d in run.log][1:] == [
        {"kind": "sqs", "key": KEY, "status": "failed", "error": "queue gone", "attempts": 3},
        {"kind": "sns", "key": f"{KEY}:sqs:failed#3", "status": "done", "result": "msg-1"},
        {"kind": "eventbridge", "key": KEY, "status": "done", "result": "ev-2", "attempts": 1},
        {"kind": "sns", "key": KEY, "status": "done", "result": "msg-3", "attempts": 1},
    ]


def test_a_failure_alert_says_which_try_of_how_many_failed() -> None:
    store, config = FakeStateStore(), monitor()
    gateway = FakeGateway(fail={"sqs": DependencyError("queue gone")})
    state = breach_committed(store, config)

    Courier(
        config, store, gateway, "evaluator-1", lambda: WALL, LEASE, RetryPolicy(max_attempts=7), day(0), "v1"
    ).deliver(state)

    (alert,) = [c.payload for c in gateway.of("sns")]
    assert isinstance(alert, Alert)
    assert "try 1 of 7 failed" in alert.text


def test_a_delivered_request_carries_the_couriers_config_version() -> None:
    store, config = FakeStateStore(), monitor()
    gateway = FakeGateway()
    state = breach_committed(store, config)

    Courier(config, store, gateway, "evaluator-1", lambda: WALL, LEASE, RetryPolicy(), day(0), "v7").deliver(state)

    (request,) = [c.payload for c in gateway.of("sqs")]
    (bus_event,) = [c.payload for c in gateway.of("eventbridge")]
    assert isinstance(request, QueueMessage)
    assert isinstance(bus_event, BusEvent)
    (alert,) = [c.payload for c in gateway.of("sns")]
    assert isinstance(alert, Alert)
    assert (request.body["config_version"], bus_event.detail["config_version"]) == ("v7", "v7")
    assert alert.payload["config_version"] == "v7"


def test_an_unconfirmed_start_without_a_pipeline_is_not_stamped_as_started_and_times_out_from_its_decision() -> None:
    # given a monitor whose retraining is the SQS request (no pipeline), its try announced by a dead invocation
    config = monitor(actions={"on_retrain": ["sqs"]}, retraining_timeout="6h")
    store, gateway = FakeStateStore(), FakeGateway()
    state = breach_committed(store, config)
    sending = state.actions[0].model_copy(update={"status": "sending", "tried_by": "dead"})
    state = store.commit(state.model_copy(update={"actions": (sending,)}), 1, None)

    final = courier(config, store, gateway).deliver(state)

    # then it is never sent again, nor stamped as started without evidence; the error alert names it (issue 13
    # item 3), and the retraining timeout counts from the decision (item 7)
    assert [c.payload.attributes["event"] for c in gateway.calls] == ["action_unconfirmed"]
    assert final.episode is not None
    assert (final.episode.retrain_requested_at, final.episode.retrain_started_at) == (day(0), None)
    assert not retraining_overdue(config, final, day(0) + timedelta(hours=6) - timedelta(seconds=1))
    assert retraining_overdue(config, final, day(0) + timedelta(hours=6))


# --- delivering under our own lease, and races ------------------------------------------------------------------


def under_our_lease(store: FakeStateStore, state: MonitorState, until: object = WALL + LEASE) -> MonitorState:
    ours = state.model_copy(update={"lease_owner": "evaluator-1", "lease_until": until})
    return store.commit(ours, state.version, None)


def test_actions_queued_under_our_lease_are_announced_then_delivered_without_a_takeover() -> None:
    # given our own unexpired lease and four actions nobody announced yet, the first a retry due exactly now
    store, gateway, config = FakeStateStore(), FakeGateway(), monitor()
    state = breach_committed(store, config)
    due = (state.actions[0].model_copy(update={"next_try_at": day(0), "attempts": 1}), *state.actions[1:])
    state = under_our_lease(store, state.model_copy(update={"actions": due}))
    commits = store.commits

    final = courier(config, store, gateway).deliver(state)

    # then the first is announced in a write of its own, each result announces the next: 1 + 4 writes
    assert [c.kind for c in gateway.calls] == KINDS
    assert store.commits - commits == 1 + 4
    assert [(a.status, a.attempts) for a in final.actions] == [("done", 2), ("done", 1), ("done", 1), ("done", 1)]
    assert final.lease_owner is None


def test_our_lease_ending_exactly_now_is_taken_again_before_delivering() -> None:
    store, gateway, config = FakeStateStore(), FakeGateway(), monitor()
    state = under_our_lease(store, breach_committed(store, config), until=WALL)
    commits = store.commits
    renewed: list[object] = []
    store.before_commit = lambda written: renewed.append(written.lease_until)

    courier(config, store, gateway).deliver(state)

    assert renewed == [WALL + LEASE]  # the first write after the takeover carries the renewed lease
    assert store.commits - commits == 1 + 4


def test_a_concurrent_write_that_leaves_us_the_lease_is_built_upon_not_overwritten() -> None:
    # given another writer (the lifecycle function) that commits just before our first result lands
    store, gateway, config = FakeStateStore(), FakeGateway(), monitor()
    state = breach_committed(store, config)
    hooks = [lambda _: None]

    def lifecycle_commits_before_our_result(_: MonitorState) -> None:
        if hooks:
            hooks.pop()
            store.before_commit = lifecycle_commits_before_our_result
            return
        current = store.get("churn-model")
        store.states["churn-model"] = current.model_copy(update={"version": current.version + 1, "grace_until": day(9)})

    store.before_commit = lifecycle_commits_before_our_result
    run = courier(config, store, gateway)
    final = run.deliver(state)

    # then our results are applied to its state: its change kept, ours all there, nothing sent twice
    assert [c.kind for c in gateway.calls] == KINDS
    assert final.grace_until == day(9)
    assert [(a.status, a.attempts) for a in final.actions] == [("done", 1)] * 4
    assert "lease_lost" not in [d.status for d in run.log]


def test_a_lease_taken_by_another_invocation_mid_delivery_stops_the_delivery_and_is_reported() -> None:
    store, gateway, config = FakeStateStore(), FakeGateway(), monitor()
    state = breach_committed(store, config)
    hooks = [lambda _: None]

    def another_invocation_takes_the_lease(_: MonitorState) -> None:
        if hooks:
            hooks.pop()
            store.before_commit = another_invocation_takes_the_lease
            return
        current = store.get("churn-model")
        stolen = {"version": current.version + 1, "lease_owner": "other", "lease_until": WALL + LEASE}
        store.states["churn-model"] = current.model_copy(update=stolen)

    store.before_commit = another_invocation_takes_the_lease
    run = courier(config, store, gateway)
    run.deliver(state)

    assert [c.kind for c in gateway.calls] == ["sagemaker"]
    assert run.log[-1].as_dict() == {"kind": "state", "key": "churn-model", "status": "lease_lost"}


def test_five_lost_races_in_a_row_give_the_delivery_up_and_report_the_lease_lost() -> None:
    store, gateway, config = FakeStateStore(), FakeGateway(), monitor(actions={"on_retrain": ["sns"]})
    state = under_our_lease(store, breach_committed(store, config))
    tries: list[int] = []

    def another_writer_wins(_: MonitorState) -> None:
        tries.append(1)
        current = store.get("churn-model")
        store.states["churn-model"] = current.model_copy(update={"version": current.version + 1})
        store.before_commit = another_writer_wins

    store.before_commit = another_writer_wins
    run = courier(config, store, gateway)
    run.deliver(state)

    assert len(tries) == 5
    assert [d.as_dict() for d in run.log] == [{"kind": "state", "key": "churn-model", "status": "lease_lost"}]


def test_with_nothing_left_to_deliver_after_its_own_transition_the_courier_gives_the_lease_back() -> None:
    # given a monitor that alerts nobody: the failed start's transition queues nothing
    store, config = FakeStateStore(), monitor(actions={"on_alert": [], "pipeline": {"name": "churn-model-retraining"}})
    gateway = FakeGateway(fail={"sagemaker": DependencyError("no such pipeline")})
    state = on_its_last_try(store, breach_committed(store, config), "sagemaker")

    final = courier(config, store, gateway).deliver(state)

    assert (final.status, final.lease_owner, final.lease_until) == (Status.ALARM, None, None)
    assert final == store.get("churn-model")
    assert store.history[-1].reason == "actions: sagemaker failed"


# --- what a delivery stamps ---------------------------------------------------------------------------------------


def test_only_the_first_start_kind_of_a_notice_stamps_the_attempts_start() -> None:
    state = breach_committed(FakeStateStore(), monitor())
    sqs = state.actions[1]

    after = delivered(state, sqs, "sqs-1", day(0))

    assert after.episode == state.episode
    assert [a.status for a in after.actions] == ["pending", "done", "pending", "pending"]


def test_a_delivered_record_forgets_its_back_off_and_its_announcer() -> None:
    state = breach_committed(FakeStateStore(), monitor(actions={"on_retrain": ["sns"]}))
    retried = state.actions[0].model_copy(
        update={"status": "sending", "tried_by": "evaluator-1", "next_try_at": day(0)}
    )

    (record,) = delivered(state.model_copy(update={"actions": (retried,)}), retried, "msg-1", day(0)).actions

    assert (record.status, record.result, record.next_try_at, record.tried_by, record.attempts) == (
        "done",
        "msg-1",
        None,
        None,
        1,
    )


def test_a_try_in_flight_waits_for_the_back_off_of_its_failed_lookup() -> None:
    # only a failed lookup of an unrecorded start sets a try in flight's back-off (issue 13 item 7)
    state = breach_committed(FakeStateStore(), monitor(actions={"on_retrain": ["sns"]}))
    in_flight = state.actions[0].model_copy(update={"status": "sending", "next_try_at": day(1)})
    waiting = state.model_copy(update={"actions": (in_flight,)})

    assert next_ready(waiting, day(1) - timedelta(seconds=1)) is None
    assert next_ready(waiting, day(1)) == in_flight


def test_a_notice_waiting_on_a_back_off_lets_a_later_notice_go_first() -> None:
    state = breach_committed(FakeStateStore(), monitor(actions={"on_retrain": ["sqs", "sns"]}))
    sqs, sns = state.actions
    waiting = sqs.model_copy(update={"next_try_at": day(1)})
    other = sns.model_copy(update={"key": "another-notice"})

    assert next_ready(state.model_copy(update={"actions": (waiting, sns, other)}), day(0)) == other


def test_a_delivery_entry_keeps_each_error_cut_to_300_characters_and_names_no_episode_for_a_warning() -> None:
    store, config = FakeStateStore(), monitor(warning=0.1)
    gateway = FakeGateway(fail={"sns": DependencyError("x" * 400)})
    decision = evaluate(config, MonitorState(monitor_id="churn-model"), [obs(0, 0.15)], day(0), "v1")
    state = store.commit(decision.state, 0, history(decision, "v1"))

    courier(config, store, gateway).deliver(state)

    entry = store.history[-1]
    assert entry.episode_id is None
    assert [len(a) for a in entry.actions] == [300, 300]
    assert entry.actions[0].startswith("sns:retry:xxx")


def test_giving_up_on_the_start_of_an_attempt_no_longer_running_only_alerts() -> None:
    # given a start on its last try whose attempt (1) is no longer the running one (2)
    store, config = FakeStateStore(), monitor()
    gateway = FakeGateway(fail={"sagemaker": DependencyError("no such pipeline")})
    state = on_its_last_try(store, breach_committed(store, config), "sagemaker")
    assert state.episode is not None
    state = store.commit(
        state.model_copy(update={"episode": state.episode.model_copy(update={"retrains": 2})}), state.version, None
    )

    run = courier(config, store, gateway)
    final = run.deliver(state)

    # then no transition: the failure is alerted on its own, and the state keeps running attempt 2
    assert run.transitions == []
    assert [d.as_dict() for d in run.log][:2] == [
        {"kind": "sagemaker", "key": KEY, "status": "failed", "error": "no such pipeline", "attempts": 3},
        {"kind": "sns", "key": f"{KEY}:sagemaker:failed#3", "status": "done", "result": "msg-0"},
    ]
    assert final.status is Status.RETRAINING
