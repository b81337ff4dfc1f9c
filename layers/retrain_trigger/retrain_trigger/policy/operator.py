"""The operator's commands on a monitor's open episode (acknowledge, approve, reject), and the AWAITING_APPROVAL
state's own rule. Each command is idempotent and answers with a verdict a CLI can turn into an exit code.

Approving starts the retraining through `rules.start_retraining`, the one start path, so the start's keys are the
episode's (`<episode>#<attempt>:retrain_started`): approved twice, or approved while a tick decides, it starts once
(the state's conditional write lets one of them commit; the other decides again and finds it started)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from retrain_trigger.config import MonitorConfig
from retrain_trigger.model import Decision, Episode, MonitorState, Observation, OperatorCommand, Status
from retrain_trigger.policy import rules
from retrain_trigger.policy.approval import acknowledged, approval_expired
from retrain_trigger.policy.decisions import Context, Keep, Move, Plan, decision
from retrain_trigger.policy.window import Window

Verdict = Literal[
    "done",  # the command changed the state (committed with its history entry)
    "already",  # it had been done before: nothing changes (idempotent)
    "no_episode",  # the monitor has no open episode
    "wrong_episode",  # the command names another episode than the open one
    "not_awaiting",  # approve/reject while no retraining waits for approval (never asked, or already answered)
    "expired",  # the request expired unanswered (the expiry is committed now if no tick did it yet)
]
OK_VERDICTS = frozenset({"done", "already"})


@dataclass(frozen=True)
class Answer:
    """A command's decision and what to tell the operator."""

    verdict: Verdict
    message: str
    decision: Decision

    @property
    def ok(self) -> bool:
        return self.verdict in OK_VERDICTS


def awaiting_approval(ctx: Context, window: Window) -> Plan:
    """AWAITING_APPROVAL: expires after `approval_timeout`; closes like ALARM when the drift falls below reset (no
    retraining needed any more); otherwise waits, whatever the scores say."""
    expired = approval_expired(ctx)
    if expired is not None:
        return expired
    if window.below_reset:
        return rules.in_alarm(ctx, window)
    episode = ctx.state.episode
    assert episode is not None
    return Keep(f"retraining attempt {episode.approval_attempt} of episode {episode.id} awaits approval")


def on_command(
    monitor: MonitorConfig, state: MonitorState, command: OperatorCommand, config_version: str = ""
) -> Answer:
    """Apply an operator's command at its time; see `Verdict` for the answers."""
    ctx = Context(monitor, state, command.at, config_version)
    episode = state.episode
    if episode is None:
        return _answer(ctx, "no_episode", f"{monitor.id} has no open episode: nothing to {command.kind}")
    if command.episode_id is not None and command.episode_id != episode.id:
        return _answer(
            ctx, "wrong_episode", f"{command.episode_id} is not {monitor.id}'s open episode (it is {episode.id})"
        )
    if command.kind == "acknowledge":
        return _acknowledge(ctx, episode, command)
    return _approve(ctx, episode, command) if command.kind == "approve" else _reject(ctx, episode, command)


def _acknowledge(ctx: Context, episode: Episode, command: OperatorCommand) -> Answer:
    status = ctx.state.status
    if acknowledged(ctx.state):
        return _answer(ctx, "already", f"episode {episode.id} already acknowledged in {status.value}")
    why = f"acknowledged{_by(command)}: episode {episode.id}'s alert is not repeated until its next transition"
    noted = episode.model_copy(update={"acknowledged_at": ctx.now, "acknowledged_in": status})
    return _answer(ctx, "done", why, Move(status, why, {"episode": noted}))


def _approve(ctx: Context, episode: Episode, command: OperatorCommand) -> Answer:
    refused = _not_answerable(ctx, episode, "approved")
    if refused is not None:
        return refused
    attempt = episode.approval_attempt
    approved = episode.model_copy(update={"approval": "approved"})
    trigger = Observation(episode.opened_at, episode.trigger_score) if episode.trigger_score is not None else None
    above = f"approved{_by(command)}"
    plan = rules.start_retraining(ctx, approved, trigger, above, {})
    return _answer(ctx, "done", f"attempt {attempt} of episode {episode.id} approved: retraining starts", plan)


def _reject(ctx: Context, episode: Episode, command: OperatorCommand) -> Answer:
    refused = _not_answerable(ctx, episode, "rejected")
    if refused is not None:
        return refused
    why = (
        f"retraining rejected{_by(command)}: attempt {episode.approval_attempt} of episode {episode.id} does not "
        "start; the episode stays open in ALARM, without retraining, until drift falls below reset"
    )
    rejected = episode.model_copy(update={"approval": "rejected"})
    return _answer(ctx, "done", why, Move(Status.ALARM, why, {"episode": rejected}))


def _not_answerable(ctx: Context, episode: Episode, answer: Literal["approved", "rejected"]) -> Answer | None:
    """Why the request of `episode` cannot take `answer` now (None: it can). An expiry not committed yet by a tick
    is committed here, so the answer and the state agree."""
    said = episode.approval
    if said == answer:
        return _answer(ctx, "already", f"attempt {episode.approval_attempt} of episode {episode.id} already {said}")
    if said == "expired":
        return _answer(ctx, "expired", f"the approval request of episode {episode.id} expired unanswered")
    expired = approval_expired(ctx)
    if expired is not None:
        return _answer(ctx, "expired", f"the approval request of episode {episode.id} expired unanswered", expired)
    if ctx.state.status is not Status.AWAITING_APPROVAL or said != "requested":
        what = f"it was {said}" if said else "no approval was requested"
        return _answer(
            ctx, "not_awaiting", f"episode {episode.id} awaits no approval ({ctx.state.status.value}; {what})"
        )
    return None


def _answer(ctx: Context, verdict: Verdict, message: str, plan: Plan | None = None) -> Answer:
    kept = plan or Keep(message, "ignored" if verdict not in OK_VERDICTS else "unchanged")
    return Answer(verdict, message, decision(ctx, kept))


def _by(command: OperatorCommand) -> str:
    return f" by {command.by}" if command.by else ""
