"""The one builder of Decisions. A rule answers with a plan (`Keep` or `Move`, with the notices to send); steps
may add notices to a plan; `decision` then builds the Decision once, with its notices' actions, and never
rewrites it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from retrain_trigger.config import ACTION_ORDER, ActionKind, MonitorConfig
from retrain_trigger.model import (
    ActionRecord,
    Decision,
    MonitorState,
    Notice,
    NoticeEvent,
    Observation,
    Outcome,
    Status,
    episode_id,
    idempotency_key,
)
from retrain_trigger.policy.window import Window

GAP_EVENTS: frozenset[NoticeEvent] = frozenset({"no_data", "data_resumed"})

# Every outcome but "transition": a plan that keeps the state cannot claim to have moved it.
KeptOutcome = Literal["unchanged", "insufficient_data", "ignored_missing", "ignored", "stale"]


@dataclass(frozen=True)
class Context:
    """One monitor at one time: what the rules decide from."""

    monitor: MonitorConfig
    state: MonitorState  # the state the rules read (armed afresh when leaving shadow mode)
    now: datetime
    config_version: str
    window: Window | None = None  # None for a lifecycle event: no datapoints were read
    stored: MonitorState | None = None  # the committed state, when the rules read another (leaving shadow mode)
    held: tuple[str, ...] = ()  # the fleet's holds on a retraining (policy/fleet.py): blockers like a guard's

    @property
    def before(self) -> MonitorState:
        return self.stored or self.state

    @property
    def alert_kinds(self) -> tuple[ActionKind, ...]:
        return self.monitor.actions.on_alert


@dataclass(frozen=True)
class Tell:
    """One notice a plan sends, as one action per kind (all under one key)."""

    event: NoticeEvent
    kinds: tuple[ActionKind, ...]
    why: str
    at: datetime | None = None  # the datapoint the notice is about (None: none; the key then uses `now`)
    score: float | None = None
    key: str | None = None  # None: `<episode>#<attempt>:<event>`; without an episode `<monitor>@<at>#0:<event>`
    renotification: int = 0


@dataclass(frozen=True)
class Keep:
    """The state stays as it is; nothing is committed."""

    reason: str
    outcome: KeptOutcome = "unchanged"
    guards: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Move:
    """A transition to `status`; `fields` override the state's, `notices` go out in the same commit."""

    status: Status
    reason: str
    fields: Mapping[str, object] = field(default_factory=dict)
    notices: tuple[Tell, ...] = ()
    guards: Mapping[str, bool] = field(default_factory=dict)
    cancels: tuple[ActionRecord, ...] = ()  # pending actions this transition cancels, besides the ones it ends


Plan = Keep | Move


def also_tell(ctx: Context, plan: Plan, notice: Tell, **fields: object) -> Move:
    """`plan` with one more notice (and `fields`), in the same commit; a transition of its own when the plan kept
    the state. Its reason follows the plan's."""
    if isinstance(plan, Keep):
        return Move(ctx.state.status, notice.why, fields, (notice,), plan.guards)
    return Move(
        plan.status,
        f"{plan.reason}; {notice.why}",
        {**plan.fields, **fields},
        (*plan.notices, notice),
        plan.guards,
        plan.cancels,
    )


def also_set(ctx: Context, plan: Plan, why: str, **fields: object) -> Move:
    """`plan` with `fields` changed as well; a transition of its own (saying `why`) when the plan kept the state."""
    if isinstance(plan, Keep):
        return Move(ctx.state.status, why, fields, (), plan.guards)
    return Move(plan.status, plan.reason, {**plan.fields, **fields}, plan.notices, plan.guards, plan.cancels)


def decision(ctx: Context, plan: Plan) -> Decision:
    """The Decision for `plan`, built once."""
    new_actions: tuple[ActionRecord, ...] = ()
    suppressed: tuple[str, ...] = ()
    cancelled: tuple[ActionRecord, ...] = ()
    if isinstance(plan, Keep):
        outcome: Outcome = plan.outcome
        state = ctx.state
    else:
        outcome = "transition"
        state, new_actions, suppressed, cancelled = _moved(ctx, plan)
    reason = plan.reason
    if ctx.stored is not None:  # left shadow mode: the armed state replaces the stored one, whatever the rules say
        outcome, reason = "transition", f"left shadow mode, armed: {reason}"
    window = ctx.window
    latest = window.latest if window else None
    if window is not None and window.thin:
        reason = f"{reason}; {window.missing_text()}"
    return Decision(
        monitor_id=ctx.monitor.id,
        at=ctx.now,
        outcome=outcome,
        before=ctx.before,
        state=state,
        reason=reason,
        score=latest.score if latest else None,
        datapoint_at=latest.at if latest else None,
        breaches=window.breaches if window else 0,
        periods=ctx.monitor.evaluation_periods if window else 0,
        guards=dict(plan.guards),
        thresholds={"critical": ctx.monitor.critical, "reset": ctx.monitor.reset_level, "warning": ctx.monitor.warning},
        new_actions=new_actions,
        suppressed=suppressed,
        cancelled=cancelled,
        features=latest.top_features() if latest else (),
    )


def _moved(
    ctx: Context, move: Move
) -> tuple[MonitorState, tuple[ActionRecord, ...], tuple[str, ...], tuple[ActionRecord, ...]]:
    """The state a transition commits, its new actions, the ones muting suppressed, and the pending ones it
    cancels."""
    before, now = ctx.state, ctx.now
    latest = ctx.window.latest if ctx.window else None
    state = before.model_copy(
        update={
            "status": move.status,
            "updated_at": now,
            "config_version": ctx.config_version or before.config_version,
            "last_score": latest.score if latest else before.last_score,
            "last_datapoint_at": latest.at if latest else before.last_datapoint_at,
            **move.fields,
        }
    )
    if ctx.window is not None:  # an evaluation: later ticks are measured against it (lifecycle events are not ticks)
        state = state.model_copy(update={"decided_at": now})
    state = _recorded(ctx, state, None, sent=False)
    new_actions: list[ActionRecord] = []
    suppressed: list[str] = []
    for notice in move.notices:
        actions = _actions(ctx, state, notice)
        if not ctx.monitor.acting_at(now):
            suppressed += [f"{a.kind}:{notice.event}" for a in actions]
            actions = ()
        state = _recorded(ctx, state, notice, sent=bool(actions))
        new_actions += actions
    carried = tuple(a for a in before.pending if _still_wanted(ctx, move, a, state))
    cancelled = tuple(
        a.model_copy(update={"status": "cancelled", "next_try_at": None, "tried_by": None})
        for a in before.pending
        if a not in carried
    )
    state = state.model_copy(update={"actions": carried + cancelled + tuple(new_actions)})
    return state, tuple(new_actions), tuple(suppressed), cancelled


def _still_wanted(ctx: Context, move: Move, action: ActionRecord, state: MonitorState) -> bool:
    """Whether a pending action may still go out after this transition. Not when the transition cancels it, nor in
    shadow mode (nothing is sent), nor when it announces the start of an attempt that is no longer running
    (succeeded, failed, timed out, escalated, closed): a CI on the queue would retrain again. A try already
    announced (`sending`) stays, so that its outcome is resolved: a pipeline start is looked up by its key."""
    if any(a.kind == action.kind and a.key == action.key for a in move.cancels):
        return False
    if action.status == "sending":
        return True
    return ctx.monitor.mode != "shadow" and not attempt_ended(action, state)


def attempt_ended(action: ActionRecord, state: MonitorState) -> bool:
    """True for a retraining's start notice whose attempt is not the one `state` runs (RETRAINING)."""
    episode = state.episode
    return action.notice.event == "retrain_started" and not (
        state.status is Status.RETRAINING
        and episode is not None
        and action.notice.episode_id == episode.id
        and action.notice.attempt == episode.retrains
    )


def _actions(ctx: Context, state: MonitorState, tell: Tell) -> tuple[ActionRecord, ...]:
    """The notice's actions, in ACTION_ORDER, under one key."""
    episode = None if tell.event in GAP_EVENTS else state.episode or ctx.state.episode
    if tell.key is not None:
        key = tell.key
    elif episode is not None:
        key = idempotency_key(episode.id, episode.retrains, tell.event)
    else:  # a warning or its recovery: keyed by the datapoint that caused it
        key = idempotency_key(episode_id(ctx.monitor.id, tell.at or ctx.now), 0, tell.event)
    notice = Notice(
        event=tell.event,
        score=tell.score,
        datapoint_at=tell.at,
        reason=tell.why,
        episode_id=episode.id if episode else None,
        attempt=episode.retrains if episode else 0,
        decided_at=ctx.now,
        renotification=tell.renotification,
        features=_top_features(ctx, tell.at),
    )
    ordered = sorted(set(tell.kinds), key=ACTION_ORDER.index)
    return tuple(ActionRecord(kind=kind, key=key, notice=notice) for kind in ordered)


def _recorded(ctx: Context, state: MonitorState, notice: Tell | None, sent: bool) -> MonitorState:
    """What a transition remembers besides its status: whether it holds shadow's decisions, when a retraining completed
    (older datapoints are no evidence from then on), and when the open episode's alert last went out."""
    shadow = ctx.monitor.mode == "shadow"
    # An open episode says whether the state holds shadow's decisions (it was opened in shadow mode or not); an
    # episode stored before that was recorded, or none open, goes by the mode of this decision.
    opened_in_shadow = state.episode.shadow if state.episode is not None else None
    update: dict[str, object] = {"shadow": shadow if opened_in_shadow is None else opened_in_shadow}
    if state.status is Status.RETRAINED and ctx.state.status is not Status.RETRAINED:
        update["evidence_after"] = ctx.now
    if state.episode is not None and notice is not None and notice.event not in GAP_EVENTS:
        noted: dict[str, object] = {"notified_at": ctx.now, "renotified": notice.renotification}
        if sent or shadow:  # shadow: announced as far as active mode would have been
            noted["announced"] = True
        update["episode"] = state.episode.model_copy(update=noted)
    return state.model_copy(update=update)


def _top_features(ctx: Context, at: datetime | None) -> tuple[tuple[str, float], ...]:
    """The top drifting features of the datapoint a notice is about (none for a monitor without `score`)."""
    seen = ctx.window.fresh if ctx.window else ()
    return next((o.top_features() for o in seen if o.at == at), ())


def tell(
    ctx: Context, event: NoticeEvent, kinds: Sequence[ActionKind], why: str, trigger: Observation | None = None
) -> Tell:
    """A notice about `trigger`, else about the newest fresh datapoint (if any was read)."""
    datapoint = trigger or (ctx.window.latest if ctx.window else None)
    return Tell(event, tuple(kinds), why, datapoint.at if datapoint else None, datapoint.score if datapoint else None)
