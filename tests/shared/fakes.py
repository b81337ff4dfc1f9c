"""Small in-memory fakes of the ports, for testing the service and the outbox without AWS (moto tests the adapters).

They keep the ports' contracts: the store's commit is conditional on the version, a gateway call either returns
an id or raises the project's own error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from retrain_trigger.config import Catalog, MonitorConfig, parse_catalog
from retrain_trigger.errors import DependencyError, RetrainTriggerError, StaleState
from retrain_trigger.model import MonitorState, Observation, PipelineStatus
from retrain_trigger.ports import Alert, BusEvent, HistoryEntry, PipelineStart, QueueMessage


@dataclass
class FakeConfig:
    document: Mapping[str, object]

    def load(self) -> Catalog:
        return parse_catalog(self.document)


@dataclass
class FakeScores:
    """Datapoints per monitor; a monitor mapped to an error returns that error (as a source would).

    It returns every datapoint it holds, in the order they were added: it does not filter by `now` nor keep the
    newest `evaluation_periods`. The real sources do both (pinned on moto in tests/functional/test_score_sources.py);
    a fake that did too would hide an engine that trusted them to, e.g. a late tick reading a newer datapoint."""

    series: dict[str, list[Observation]] = field(default_factory=dict)
    errors: dict[str, RetrainTriggerError] = field(default_factory=dict)

    def add(self, monitor_id: str, observation: Observation) -> None:
        self.series.setdefault(monitor_id, []).append(observation)

    def latest(
        self, monitors: Sequence[MonitorConfig], now: datetime
    ) -> dict[str, Sequence[Observation] | RetrainTriggerError]:
        out: dict[str, Sequence[Observation] | RetrainTriggerError] = {}
        for monitor in monitors:
            if monitor.id in self.errors:
                out[monitor.id] = self.errors[monitor.id]
                continue
            out[monitor.id] = tuple(self.series.get(monitor.id, []))
        return out


@dataclass
class FakeStateStore:
    """Versioned states with conditional commits, and the history they were committed with."""

    states: dict[str, MonitorState] = field(default_factory=dict)
    history: list[HistoryEntry] = field(default_factory=list)
    commits: int = 0
    unreadable: set[str] = field(default_factory=set)  # get_many answers these with an error
    failing_commits: set[str] = field(default_factory=set)  # commits of these raise a DependencyError
    before_commit: Callable[[MonitorState], None] | None = None  # runs just before a commit lands (races)
    # Commits (by number, counting from 1) that land but answer StaleState, as a conditional write whose answer
    # was lost and that the SDK retried does.
    lost_answers: set[int] = field(default_factory=set)
    # The first commit this matches lands, then its answer is lost: the retry of the conditional write meets the
    # version it wrote itself (StaleState), as botocore's retry of a lost PutItem or transaction does.
    lose_answer_of: Callable[[MonitorState], bool] | None = None

    def get_many(self, monitor_ids: Sequence[str]) -> dict[str, MonitorState | RetrainTriggerError]:
        out: dict[str, MonitorState | RetrainTriggerError] = {}
        for monitor_id in monitor_ids:
            if monitor_id in self.unreadable:
                out[monitor_id] = DependencyError(f"state item of {monitor_id} unreadable")
            else:
                out[monitor_id] = self.states.get(monitor_id) or MonitorState(monitor_id=monitor_id)
        return out

    def get(self, monitor_id: str) -> MonitorState:
        state = self.get_many([monitor_id])[monitor_id]
        if isinstance(state, RetrainTriggerError):
            raise state
        return state

    def with_pending_actions(self) -> list[str]:
        return [s.monitor_id for s in self.states.values() if s.pending]

    def commit(self, state: MonitorState, expected_version: int, history: HistoryEntry | None) -> MonitorState:
        if state.monitor_id in self.failing_commits:
            raise DependencyError(f"commit of {state.monitor_id} refused")
        if self.before_commit is not None:
            hook, self.before_commit = self.before_commit, None  # once: the hook may commit itself
            hook(state)
        current = self.states.get(state.monitor_id)
        if (current.version if current else 0) != expected_version:
            raise StaleState(state.monitor_id, expected_version)
        committed = state.model_copy(update={"version": expected_version + 1})
        self.states[state.monitor_id] = committed
        self.commits += 1
        if history is not None:
            self.history.append(history)
        lost = self.commits in self.lost_answers
        if self.lose_answer_of is not None and self.lose_answer_of(state):
            self.lose_answer_of = None
            lost = True
        if lost:
            raise StaleState(state.monitor_id, expected_version)
        return committed

    def find_by_execution(self, execution_arn: str) -> str | None:
        return next(
            (s.monitor_id for s in self.states.values() if s.episode and s.episode.execution_arn == execution_arn),
            None,
        )


@dataclass
class Call:
    kind: str
    key: str
    payload: object


@dataclass
class FakeGateway:
    """Records every delivery. `fail[kind]` makes that kind raise (a DependencyError unless given another error);
    `during[kind]` runs just before that kind returns (to stage a race)."""

    calls: list[Call] = field(default_factory=list)
    fail: dict[str, RetrainTriggerError] = field(default_factory=dict)
    during: dict[str, Callable[[], None]] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)  # execution ARN -> DescribePipelineExecution status
    described: list[str] = field(default_factory=list)
    lookups: list[tuple[str, datetime]] = field(default_factory=list)  # (key, not_before) of each start looked up

    def _call(self, kind: str, key: str, payload: object, result: str) -> str:
        if kind in self.fail:
            raise self.fail[kind]
        if kind in self.during:
            self.during.pop(kind)()
        self.calls.append(Call(kind, key, payload))
        return result

    def publish_alert(self, alert: Alert) -> str:
        key = str(alert.attributes.get("idempotency_key", ""))
        return self._call("sns", key, alert, f"msg-{len(self.calls)}")

    def send_retrain_request(self, message: QueueMessage) -> str:
        return self._call("sqs", str(message.attributes["idempotency_key"]), message, f"sqs-{len(self.calls)}")

    def start_pipeline(self, start: PipelineStart) -> str:
        arn = f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/{start.client_request_token[:12]}"
        return self._call("sagemaker", start.client_request_token, start, arn)

    def put_event(self, event: BusEvent) -> str:
        return self._call("eventbridge", str(event.detail.get("idempotency_key", "")), event, f"ev-{len(self.calls)}")

    def pipeline_status(self, execution_arn: str) -> PipelineStatus | None:
        self.described.append(execution_arn)
        return PipelineStatus.read(self.statuses.get(execution_arn, "Executing"))

    def find_pipeline_execution(
        self, pipeline_name: str, idempotency_key: str, not_before: datetime | None = None
    ) -> str | None:
        """Every start ever made is searched, whatever `not_before` says: the bound is the adapter's job.
        `fail["lookup"]` makes the lookup raise (ListPipelineExecutions denied, throttled)."""
        self.lookups.append((idempotency_key, not_before))
        if "lookup" in self.fail:
            raise self.fail["lookup"]
        for call in self.of("sagemaker"):
            if (
                isinstance(call.payload, PipelineStart)
                and call.payload.pipeline_name == pipeline_name
                and idempotency_key in call.payload.description
            ):
                return f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/{call.key[:12]}"
        return None

    def of(self, kind: str) -> list[Call]:
        return [c for c in self.calls if c.kind == kind]

    def events(self) -> list[str]:
        """The `event` attribute of every alert delivered, in order."""
        return [str(c.payload.attributes["event"]) for c in self.of("sns") if isinstance(c.payload, Alert)]
