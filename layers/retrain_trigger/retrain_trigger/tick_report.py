"""What one invocation of the evaluator did, monitor by monitor: the report its handler returns and its telemetry
reads. Kept apart from the orchestration (`service`) so that stays one sitting's read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from retrain_trigger.model import Decision

ResultOutcome = Literal[
    "transition",
    "unchanged",
    "insufficient_data",
    "ignored_missing",
    "ignored",
    "stale",
    "conflict",
    "error",
    "delivered",
]


@dataclass
class MonitorResult:
    monitor_id: str
    outcome: ResultOutcome
    decision: Decision | None = None
    error: dict[str, str] | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)
    transitions: list[Decision] = field(default_factory=list)  # what the outbox itself decided (attempt failed)
    refused: list[dict[str, str]] = field(default_factory=list)  # bad score items reported on this tick

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"monitor_id": self.monitor_id, "outcome": self.outcome, "actions": self.actions}
        if self.decision is not None:
            out |= {
                "state_before": self.decision.before.status.value,
                "state_after": self.decision.state.status.value,
                "score": self.decision.score,
                "reason": self.decision.reason,
            }
        if self.error is not None:
            out["error"] = self.error
        if self.refused:
            out["refused"] = self.refused
        return out


@dataclass
class Report:
    now: datetime
    config_version: str
    results: list[MonitorResult] = field(default_factory=list)
    digests: list[dict[str, object]] = field(default_factory=list)  # the tick's grouped alerts (fleet-alerts.md)
    shards: int = 0  # shards this invocation sent to the queue instead of evaluating them itself

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    def as_dict(self) -> dict[str, Any]:
        out = {
            "now": self.now.isoformat(),
            "config_version": self.config_version,
            "evaluated": len(self.results),
            "transitions": self.count("transition"),
            "errors": self.count("error"),
            "monitors": [r.as_dict() for r in self.results],
        }
        out |= {"digests": self.digests} if self.digests else {}
        return out | {"shards": self.shards} if self.shards else out
