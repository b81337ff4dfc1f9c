"""The outbox and the service against in-memory fakes of the ports: exactly once and never silent, rule by rule.

Each test stages one of the failures seen in production (issue 5) and names the behaviour a user relies on.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from retrain_trigger.errors import BadInput, DependencyError, RetryableError
from retrain_trigger.model import LifecycleEvent, Observation, Status
from retrain_trigger.outbox import RetryPolicy
from retrain_trigger.ports import PipelineStart
from retrain_trigger.service import Deps, evaluate_due_monitors, handle_lifecycle_event
from tests.shared.fakes import FakeConfig, FakeGateway, FakeScores, FakeStateStore

T0 = datetime(2024, 8, 9, tzinfo=UTC)
WALL = datetime(2024, 8, 20, tzinfo=UTC)  # the real clock: ticks replay the past, leases use this


def hour(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def document(*ids: str, **overrides: Any) -> dict[str, Any]:
    defaults = {
        "critical": 0.2,
        "reset": 0.15,
        "cooldown": "7d",
        "retraining_timeout": "6h",
        "actions": {"pipeline": {"name": "churn-model-retraining"}},
        **overrides,
    }
    return {"defaults": defaults, "monitors": [{"id": i} for i in ids or ("churn-model",)]}


class Rig:
    """One deployment's ports, in memory, and the two entry points called as the functions would."""

    def __init__(self, *ids: str, **overrides: Any) -> None:
        self.config = FakeConfig(document(*ids, **overrides))
        self.scores = FakeScores()
        self.states = FakeStateStore()
        self.gateway = FakeGateway()
        self.deps = Deps(
            config=self.config,
            scores=self.scores,
            states=self.states,
            actions=self.gateway,
            owner="evaluator-1",
            wall_clock=lambda: WALL,
            tick=timedelta(hours=1),
            retry=RetryPolicy(max_attempts=3, backoff=timedelta(minutes=30)),
        )

    def score(self, at: datetime, value: float, monitor_id: str = "churn-model") -> None:
        self.scores.add(monitor_id, Observation(at=at, score=value))

    def tick(self, at: datetime, owner: str = "evaluator-1") -> Any:
        return evaluate_due_monitors(at, replace(self.deps, owner=owner))

    def lifecycle(self, kind: str, at: datetime, **fields: Any) -> Any:
        return handle_lifecycle_event(LifecycleEvent(kind=kind, at=at, **fields), replace(self.deps, owner="lc"))

    def state(self, monitor_id: str = "churn-model") -> Any:
        return self.states.get(monitor_id)


def breach(rig: Rig, at: datetime = T0) -> Any:
    rig.score(at, 0.2186)
    return rig.tick(at)


# -- 1. the lease ------------------------------------------------------------------------------------------------


def test_a_status_event_committed_mid_delivery_neither_takes_the_lease_nor_repeats_an_action() -> None:
    rig = Rig()
    arrived: list[Any] = []

    def executing_event_arrives() -> None:  # the SNS publish is slow; SageMaker says "Executing" meanwhile
        state = rig.state()
        assert state.episode is not None
        arrived.append(
            rig.lifecycle(
                "executing",
                hour(0.1),
                monitor_id="churn-model",
                execution_arn=state.episode.execution_arn,
                episode_id=state.episode.id,
                attempt=1,
            )
        )

    rig.gateway.during["sqs"] = executing_event_arrives
    breach(rig)
    rig.tick(hour(1))

    assert len(arrived) == 1
    assert [c.kind for c in rig.gateway.calls] == ["sagemaker", "sqs", "eventbridge", "sns"]
    assert rig.state().lease_owner is None


def test_an_unexpired_lease_of_another_invocation_is_respected_and_an_expired_one_taken_over() -> None:
    rig = Rig()
    rig.gateway.fail["sagemaker"] = RetryableError("throttled")
    breach(rig)
    held = rig.state().model_copy(update={"lease_owner": "crashed", "lease_until": WALL + timedelta(minutes=5)})
    rig.states.states["churn-model"] = held
    rig.gateway.fail.clear()

    during = rig.tick(hour(1), owner="evaluator-2")
    assert {a["status"] for a in during.results[0].actions} == {"lease_held"}
    assert rig.gateway.of("sagemaker") == []

    rig.deps = replace(rig.deps, wall_clock=lambda: WALL + timedelta(minutes=6))
    rig.tick(hour(2), owner="evaluator-2")
    assert len(rig.gateway.of("sagemaker")) == 1


# -- 2. a failing action never silences the monitor ---------------------------------------------------------------


def test_a_start_that_keeps_failing_is_alerted_at_once_and_fails_the_attempt_after_its_last_try() -> None:
    rig = Rig()
    rig.gateway.fail["sagemaker"] = DependencyError("Could not find pipeline churn-model-retraining")

    breach(rig)
    assert rig.gateway.events() == ["action_failed"]  # the first failed try is said at once
    for n in (1, 2, 3):  # back-off: 30 min, then 1 h
        rig.score(hour(n), 0.25)
        rig.tick(hour(n))

    assert rig.state().status is Status.ALARM
    assert rig.gateway.events() == ["action_failed", "action_failed", "retrain_failed"]
    assert rig.gateway.of("sqs") == []  # the attempt's request never went out: nothing was started


def test_after_an_outage_only_the_running_attempt_starts_once_and_no_backlog_follows() -> None:
    rig = Rig(cooldown="1d")
    rig.gateway.fail["sagemaker"] = RetryableError("ServiceUnavailable")
    breach(rig)
    for n in range(1, 32):  # an outage spends no attempt (issue 13 item 14): attempt 1 is retried until it goes out
        if n == 27:
            rig.gateway.fail.clear()
        rig.score(hour(n), 0.25)
        rig.tick(hour(n))

    starts = [c.payload for c in rig.gateway.of("sagemaker") if isinstance(c.payload, PipelineStart)]
    assert [json.loads(start.description)["attempt"] for start in starts] == [1]
    assert rig.gateway.events().count("retrain_started") == 1
    assert rig.state().status is Status.RETRAINING


# -- 3. attempts that ended never act ------------------------------------------------------------------------------


def test_the_retraining_timeout_counts_from_the_real_start_not_the_decision() -> None:
    rig = Rig()
    rig.gateway.fail["sagemaker"] = RetryableError("throttled")
    breach(rig)
    rig.gateway.fail.clear()
    rig.tick(hour(1))  # the start goes out an hour after the decision
    rig.tick(hour(6.5))  # 6.5 h after the decision, 5.5 h after the start: not timed out

    assert rig.state().status is Status.RETRAINING
    rig.tick(hour(7))
    assert rig.state().status is Status.ALARM


def test_a_failed_attempts_pending_request_is_cancelled_and_never_sent() -> None:
    rig = Rig()
    rig.gateway.fail["sqs"] = RetryableError("throttled")
    breach(rig)  # the pipeline started, its SQS request waits
    state = rig.state()
    assert state.episode is not None
    rig.lifecycle("failed", hour(0.5), execution_arn=state.episode.execution_arn, monitor_id="churn-model")
    rig.gateway.fail.clear()
    rig.tick(hour(1))

    assert rig.gateway.of("sqs") == []
    assert "retrain_failed" in rig.gateway.events()
    assert any("cancelled:sqs" in " ".join(h.actions) for h in rig.states.history)


# -- 4. events are matched to the attempt -------------------------------------------------------------------------


def test_a_late_failure_of_attempt_1_is_ignored_while_attempt_2_runs() -> None:
    rig = Rig(cooldown="1h")
    breach(rig)
    episode = rig.state().episode
    assert episode is not None
    rig.lifecycle("failed", hour(0.5), monitor_id="churn-model", episode_id=episode.id, attempt=1)
    rig.score(hour(2), 0.3)
    rig.tick(hour(2))  # attempt 2 starts
    assert rig.state().episode.retrains == 2

    late = rig.lifecycle("failed", hour(2.5), monitor_id="churn-model", episode_id=episode.id, attempt=1)

    assert late.outcome == "ignored"
    assert rig.state().status is Status.RETRAINING
    assert len(rig.gateway.of("sagemaker")) == 2


def test_a_status_event_that_names_no_attempt_is_ignored() -> None:
    rig = Rig()
    breach(rig)

    result = rig.lifecycle("failed", hour(0.5), monitor_id="churn-model")

    assert result.outcome == "ignored"
    assert rig.state().status is Status.RETRAINING


# -- 5. a lost final event --------------------------------------------------------------------------------------


def test_a_lost_succeeded_event_is_read_from_the_pipeline_before_the_timeout_fires() -> None:
    rig = Rig()
    breach(rig)
    arn = rig.state().episode.execution_arn
    rig.gateway.statuses[arn] = "Succeeded"
    rig.score(hour(7), 0.25)
    rig.tick(hour(7))

    assert rig.gateway.described == [arn]
    assert rig.state().status is Status.RETRAINED
    assert "retrain_failed" not in rig.gateway.events()


# -- 6. results are committed as soon as they are known -------------------------------------------------------------


def test_each_result_is_committed_before_the_next_action_runs_so_a_lost_write_repeats_nothing() -> None:
    rig = Rig()
    seen: list[list[str]] = []
    rig.gateway.during["eventbridge"] = lambda: seen.append([a.status for a in rig.state().actions])
    breach(rig)

    assert seen == [["done", "done", "sending", "pending"]]  # each try is announced before it is made


# -- unknown outcomes: announced tries nobody recorded --------------------------------------------------------------


class _Killed(BaseException):
    """The invocation dies (timeout, out of memory) mid-call: nothing of ours catches it."""


CALLS = {"sagemaker": "start_pipeline", "sns": "publish_alert", "sqs": "send_retrain_request"}


def killed_during(rig: Rig, kind: str, after_the_call: bool) -> None:
    """The next `kind` call kills the invocation: before the call reaches AWS, or after it landed."""
    real = getattr(rig.gateway, CALLS[kind])

    def die(*args: Any) -> str:
        if after_the_call:
            real(*args)
        raise _Killed(kind)

    setattr(rig.gateway, CALLS[kind], die)


def revived(rig: Rig, kind: str) -> None:
    """The next invocation: a healthy gateway, and a clock past the dead invocation's lease."""
    delattr(rig.gateway, CALLS[kind])
    rig.deps = replace(rig.deps, wall_clock=lambda: WALL + timedelta(hours=1))


def test_a_start_that_landed_before_its_invocation_died_is_found_by_its_key_not_made_again() -> None:
    rig = Rig()
    killed_during(rig, "sagemaker", after_the_call=True)
    with pytest.raises(_Killed):
        breach(rig)
    revived(rig, "sagemaker")

    rig.tick(hour(1), owner="evaluator-2")

    (made,) = rig.gateway.of("sagemaker")
    assert isinstance(made.payload, PipelineStart)
    token = made.payload.client_request_token
    assert (
        rig.state().episode.execution_arn
        == f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/{token[:12]}"
    )
    assert rig.gateway.events() == ["retrain_started"]


def test_a_start_announced_but_never_made_is_made_once_by_the_next_invocation() -> None:
    rig = Rig()
    killed_during(rig, "sagemaker", after_the_call=False)
    with pytest.raises(_Killed):
        breach(rig)
    revived(rig, "sagemaker")

    rig.tick(hour(1), owner="evaluator-2")

    assert len(rig.gateway.of("sagemaker")) == 1
    assert rig.gateway.events() == ["retrain_started"]


def test_an_alert_whose_outcome_nobody_recorded_is_taken_as_sent_and_never_sent_twice() -> None:
    rig = Rig()
    killed_during(rig, "sns", after_the_call=True)
    with pytest.raises(_Killed):
        breach(rig)
    revived(rig, "sns")

    report = rig.tick(hour(1), owner="evaluator-2")

    # Never sent twice, and never in silence: a person is told to check it (issue 13, item 3).
    assert rig.gateway.events() == ["retrain_started", "action_unconfirmed"]
    assert [a["status"] for a in report.results[0].actions] == ["unconfirmed", "done"]
    assert [a.status for a in rig.state().actions] == ["done"] * 4


# -- 7. every monitor is its own unit -------------------------------------------------------------------------------


def test_an_unreadable_state_or_a_refused_commit_fails_only_that_monitor() -> None:
    rig = Rig("a", "b", "c")
    rig.states.unreadable.add("a")
    rig.states.failing_commits.add("b")
    for monitor_id in "abc":
        rig.score(T0, 0.3, monitor_id)

    report = rig.tick(T0)

    assert {r.monitor_id: r.outcome for r in report.results} == {"a": "error", "b": "error", "c": "transition"}
    assert rig.state("c").status is Status.RETRAINING
    assert rig.gateway.events().count("evaluation_error") == 2


def test_a_score_read_error_still_delivers_the_monitors_waiting_actions() -> None:
    rig = Rig()
    rig.gateway.fail["sagemaker"] = RetryableError("throttled")
    breach(rig)
    rig.gateway.fail.clear()
    rig.scores.errors["churn-model"] = RetryableError("GetMetricData throttled")

    report = rig.tick(hour(1))

    assert report.results[0].outcome == "error"
    assert len(rig.gateway.of("sagemaker")) == 1


def test_a_monitor_not_due_still_gets_its_waiting_actions_delivered_on_the_next_tick() -> None:
    rig = Rig(every="1d")
    rig.gateway.fail["sagemaker"] = RetryableError("throttled")
    breach(rig)
    rig.gateway.fail.clear()

    report = rig.tick(hour(1))

    assert report.results[0].outcome == "delivered"
    assert len(rig.gateway.of("sagemaker")) == 1


# -- 9. only the evaluator delivers ---------------------------------------------------------------------------------


def test_the_lifecycle_function_queues_its_alerts_and_the_next_tick_delivers_them() -> None:
    rig = Rig()
    breach(rig)
    arn = rig.state().episode.execution_arn
    calls_before = len(rig.gateway.calls)

    rig.lifecycle("failed", hour(0.5), execution_arn=arn, monitor_id="churn-model")
    assert len(rig.gateway.calls) == calls_before
    rig.tick(hour(1))

    assert rig.gateway.events()[-1] == "retrain_failed"


# -- 12. ticks out of time ------------------------------------------------------------------------------------------


def test_a_tick_ahead_of_the_clock_is_refused_and_a_running_retraining_is_untouched() -> None:
    rig = Rig()
    breach(rig)

    with pytest.raises(BadInput, match=r"event\.time"):
        rig.tick(WALL + timedelta(days=365))

    assert rig.state().status is Status.RETRAINING


def test_a_late_tick_decides_exactly_as_the_on_time_one_would_have() -> None:
    on_time, late = Rig(), Rig()
    for rig in (on_time, late):
        rig.score(T0, 0.1)
        rig.score(hour(1), 0.3)  # lands after the T0 tick was due
    on_time.tick(T0)
    late.deps = replace(late.deps, wall_clock=lambda: WALL + timedelta(hours=5))
    late.tick(T0)

    assert on_time.state().status == late.state().status == Status.OK


def test_a_transition_with_n_actions_costs_one_plus_n_writes() -> None:
    rig = Rig()

    breach(rig)  # the transition takes the lease and announces the first try; each result announces the next

    assert len(rig.gateway.calls) == 4
    assert rig.states.commits == 1 + 4
    assert rig.state().lease_owner is None
