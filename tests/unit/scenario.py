"""Builders for engine specs: a monitor, datapoints by day, and a replay that commits like the store would."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from retrain_trigger.config import MonitorConfig
from retrain_trigger.features import observe
from retrain_trigger.model import Decision, LifecycleEvent, MonitorState, Observation, OperatorCommand, Status
from retrain_trigger.outbox import delivered
from retrain_trigger.policy import Answer, evaluate, on_command, on_lifecycle

T0 = datetime(2024, 8, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def monitor(**overrides: Any) -> MonitorConfig:
    base: dict[str, Any] = {
        "id": "churn-model",
        "critical": 0.2,
        "reset": 0.15,
        "every": "1d",
        "grace_period": "1d",
        "cooldown": "7d",
        "retraining_timeout": "30d",
        "actions": {"pipeline": {"name": "churn-model-retraining"}},
    }
    return MonitorConfig.model_validate({**base, **overrides})


def obs(n: float, score: float, **metrics: float) -> Observation:
    return Observation(at=day(n), score=score, metrics=metrics)


def scored(keys: dict[str, Any] | None = None, **score: Any) -> MonitorConfig:
    """A monitor (with the other `keys`) whose score comes from four features: age, income, tenure and plan."""
    features = {"features": ["age", "income", "tenure", "plan"], "feature_threshold": 0.08}
    return monitor(score=features | score, **(keys or {}))


def read(config: MonitorConfig, values: Mapping[str, object], n: float = 0) -> Observation:
    """The day-n datapoint a score item with these `values` (Decimals, as DynamoDB gives them) is read into."""
    return observe(config, day(n), dict(values), "drift_score", {}, ("drift_score",))


def decimals(**values: str) -> dict[str, Decimal]:
    return {name: Decimal(value) for name, value in values.items()}


@dataclass
class Replay:
    """Feeds one datapoint a day through the engine and commits each decision, as the evaluator does."""

    config: MonitorConfig
    state: MonitorState = field(default_factory=lambda: MonitorState(monitor_id="churn-model"))
    history: list[tuple[float, float | None]] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    def _commit(self, decision: Decision) -> Decision:
        """Commit the decision and deliver its outbox at once, as the evaluator's courier would."""
        if decision.changed:
            state = decision.state.model_copy(update={"version": self.state.version + 1})
            for action in state.pending:
                state = delivered(state, action, f"result-of-{action.kind}", decision.at)
            self.state = state
        self.decisions.append(decision)
        return decision

    def score(self, n: float, value: float | None, **metrics: float) -> Decision:
        """Record the day-n datapoint (None: no datapoint that day) and evaluate at that time."""
        self.history.append((n, value))
        window = [obs(d, v, **metrics) for d, v in self.history if v is not None][-self.config.evaluation_periods :]
        return self._commit(evaluate(self.config, self.state, window, day(n), "v1"))

    def scores(self, start: float, values: Iterable[float | None]) -> list[Decision]:
        return [self.score(start + i, v) for i, v in enumerate(values)]

    def lifecycle(self, n: float, kind: str, **fields: Any) -> Decision:
        """A status of the running attempt (named by its episode and attempt), unless `fields` say otherwise."""
        episode = self.state.episode
        if episode is not None:
            fields = {"episode_id": episode.id, "attempt": episode.retrains, **fields}
        event = LifecycleEvent(kind=kind, at=day(n), **fields)  # type: ignore[arg-type]
        return self._commit(on_lifecycle(self.config, self.state, event, "v1"))

    def command(self, kind: str, at: datetime, version: str = "v1", **fields: Any) -> Answer:
        """An operator's command (`fields`: its episode_id, by), applied as the service does: decided, then
        committed (and delivered) under config `version`."""
        ask = OperatorCommand(kind=kind, monitor_id=self.config.id, at=at, **fields)  # type: ignore[arg-type]
        answer = on_command(self.config, self.state, ask, version)
        self._commit(answer.decision)
        return answer

    def retrains(self) -> list[Decision]:
        return [d for d in self.decisions if any(a.notice.event == "retrain_started" for a in d.new_actions)]

    def notices(self) -> list[str]:
        return [d.new_actions[0].notice.event for d in self.decisions if d.new_actions]

    @property
    def status(self) -> Status:
        return self.state.status
