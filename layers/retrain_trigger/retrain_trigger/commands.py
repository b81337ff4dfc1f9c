"""The operator's commands (acknowledge, approve, reject) against the state table: one code path for the CLI,
which calls it directly against the stack's table for a synchronous answer, and the lifecycle function, which
receives the same commands as events on the project bus.

A command commits like a lifecycle event: conditional on the state's version, decided again on a fresh state when
an evaluation committed first. It never delivers: the start it queues goes out on the next tick, as a lifecycle
event's actions do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from retrain_trigger.courier import history
from retrain_trigger.errors import BadInput, RetryableError, StaleState
from retrain_trigger.model import OperatorCommand
from retrain_trigger.policy import Answer, on_command
from retrain_trigger.ports import ConfigSource, StateStore
from retrain_trigger.tick_report import MonitorResult


@dataclass(frozen=True)
class CommandResult:
    """What a command did to one monitor, and what to tell the operator."""

    command: OperatorCommand
    answer: Answer

    @property
    def ok(self) -> bool:
        return self.answer.ok

    def as_result(self) -> MonitorResult:
        """The telemetry's view (one log line, the Transitions counter), as for a lifecycle event."""
        queued = [{"kind": a.kind, "key": a.key, "status": "queued"} for a in self.answer.decision.new_actions]
        decision = self.answer.decision
        return MonitorResult(self.command.monitor_id, decision.outcome, decision, actions=queued)

    def as_dict(self) -> dict[str, Any]:
        decision = self.answer.decision
        return {
            "monitor_id": self.command.monitor_id,
            "command": self.command.kind,
            "episode_id": decision.before.episode.id if decision.before.episode else None,
            "verdict": self.answer.verdict,
            "message": self.answer.message,
            "state_before": decision.before.status.value,
            "state_after": decision.state.status.value,
            "queued": [f"{a.kind}:{a.notice.event}" for a in decision.new_actions],
        }


def handle_command(
    command: OperatorCommand, config: ConfigSource, states: StateStore, attempts: int = 3
) -> CommandResult:
    """Decide `command` on the monitor's current state and commit it exactly once (see `policy.on_command`)."""
    catalog = config.load()
    monitor = catalog.get(command.monitor_id)
    if monitor is None:
        raise BadInput(command.monitor_id, "monitor_id", "no such monitor in the configuration")
    for _ in range(attempts):
        state = states.get(command.monitor_id)
        answer = on_command(monitor, state, command, catalog.version)
        if not answer.decision.changed:
            return CommandResult(command, answer)
        try:
            states.commit(answer.decision.state, state.version, history(answer.decision, catalog.version))
        except StaleState:
            continue  # an evaluation (or another command) committed first: decide again on the fresh state
        return CommandResult(command, answer)
    raise RetryableError(f"monitor {command.monitor_id!r}: state kept changing under {attempts} attempts; retry")
