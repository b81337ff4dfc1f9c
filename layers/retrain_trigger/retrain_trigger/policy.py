"""The policy engine: pure functions from (config, state, datapoints, time) to a Decision.

No AWS, no clock, no environment. The README's rules table is this module, rule for rule:

  armed (OK, WARNING) --critical M-of-N, retraining allowed--> RETRAINING   (retrain actions, once per episode)
  armed               --critical M-of-N, retraining blocked--> ALARM        (critical alert, says why)
  OK                  --warning M-of-N-->                      WARNING      (warning alert, once)
  WARNING             --below warning_reset-->                 OK           (recovered alert)
  ALARM, RETRAINED    --latest score below reset-->            OK/WARNING   (episode closed; recovered alert if OK)
  ALARM               --critical, blockers cleared-->          RETRAINING   (next attempt, new key)
  RETRAINING          --pipeline succeeded-->                  RETRAINED    (grace period starts)
  RETRAINING          --pipeline failed/stopped/timed out-->   ALARM        (error alert, retry after cooldown)
  RETRAINED           --critical after grace-->                ALARM        (escalation alert; retrains again
                                                                             only if retrain_on_persisting_drift)
  any                 --model deployed-->                      same         (grace period starts)
  ALARM, RETRAINED    --renotify_every passed, drift persists-> same         (the alert again, `renotification` n)
  any                 --newest datapoint older than no_data_after--> same  (no_data once per gap; data_resumed)
  ALARM, RETRAINED    --mute ended, episode never announced-->  same         (its critical alert, once)
  shadow mode: as active, a would-be retraining succeeds at once (RETRAINED); every action is only logged

A gap, and any datapoint not newer than the last completed retraining, count as missing: neither ever retrains or
closes an episode. An episode closes only on `datapoints_to_recover` datapoints below reset.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from retrain_trigger.config import ACTION_ORDER, DEFAULT_TICK, ActionKind, MonitorConfig
from retrain_trigger.model import (
    ARMED,
    ActionRecord,
    Decision,
    Episode,
    LifecycleEvent,
    MonitorState,
    Notice,
    NoticeEvent,
    Observation,
    Status,
    episode_id,
    idempotency_key,
)

_GAP_EVENTS: frozenset[NoticeEvent] = frozenset({"no_data", "data_resumed"})


def is_due(every: timedelta | None, now: datetime, tick: timedelta, delay: timedelta = timedelta(0)) -> bool:
    """A monitor is due when a boundary of its `every` (aligned to the epoch), plus its `evaluation_delay`, falls
    in this tick (now - tick, now].

    Stateless, so a retried tick (same event time) selects the same monitors and no write is needed to remember.
    """
    if every is None or every <= tick:
        return True
    period, t = every.total_seconds(), (now - delay).timestamp()
    return math.floor(t / period) != math.floor((t - tick.total_seconds()) / period)


def evaluate(
    monitor: MonitorConfig,
    state: MonitorState,
    window: Sequence[Observation],
    now: datetime,
    config_version: str = "",
    *,
    tick: timedelta = DEFAULT_TICK,
) -> Decision:
    """Decide one monitor at `now` from its latest datapoints (any order); datapoints after `now` are not seen.
    `tick` is how often the evaluator runs: a monitor without `every` is evaluated, and its data ages, per tick."""
    if state.shadow and monitor.mode != "shadow":
        # Shadow's episodes never reached anyone: an active (or muted) monitor starts armed, with no history.
        armed = MonitorState(
            monitor_id=state.monitor_id,
            version=state.version,
            actions=state.pending,
            lease_owner=state.lease_owner,
            lease_until=state.lease_until,
            config_version=config_version or state.config_version,
            updated_at=now,
        )
        decision = _Evaluation(monitor, armed, window, now, config_version, tick).decide()
        return replace(
            decision, before=state, outcome="transition", reason=f"left shadow mode, armed: {decision.reason}"
        )
    return _Evaluation(monitor, state, window, now, config_version, tick).decide()


def on_lifecycle(
    monitor: MonitorConfig,
    state: MonitorState,
    event: LifecycleEvent,
    config_version: str = "",
) -> Decision:
    """Apply a retraining status change or a deployment to the state, at the event's time.

    A status change counts only for the attempt that is running: its execution ARN, or its episode id and attempt
    number. Anything else (a late event of an earlier attempt, another pipeline's run) is `ignored`."""
    step = _Step(monitor, state, event.at, config_version)
    if event.kind == "deployed":
        until = event.at + monitor.grace_period
        if state.grace_until is not None and state.grace_until >= until:
            return step.unchanged("model deployed; grace period already runs longer")
        return step.to(state.status, f"model deployed: no retraining before {until.isoformat()}", grace_until=until)

    episode = state.episode
    if state.status is not Status.RETRAINING or episode is None:
        return step.unchanged(f"{event.kind} event ignored: no retraining in progress", "ignored")
    mismatch = _attempt_mismatch(episode, event)
    if mismatch:
        return step.unchanged(f"{event.kind} event ignored: {mismatch}", "ignored")

    execution_arn = episode.execution_arn or event.execution_arn
    if event.kind == "executing":
        if episode.execution_arn or not event.execution_arn:
            return step.unchanged("retraining is running")
        running = episode.model_copy(update={"execution_arn": event.execution_arn})
        return step.to(Status.RETRAINING, "retraining is running", episode=running)
    if event.kind == "succeeded":
        until = event.at + monitor.grace_period
        grace = max(until, state.grace_until) if state.grace_until else until
        return step.to(
            Status.RETRAINED,
            f"retraining succeeded (attempt {episode.retrains}); grace period until {grace.isoformat()}",
            grace_until=grace,
            episode=episode.model_copy(update={"execution_arn": execution_arn}),
        )
    return step.retraining_failed(
        f"retraining attempt {episode.retrains} {event.kind}" + (f": {event.detail}" if event.detail else "")
    )


def _attempt_mismatch(episode: Episode, event: LifecycleEvent) -> str:
    """Why `event` is not about the running attempt of `episode`; empty when it is."""
    if event.execution_arn and episode.execution_arn:
        if event.execution_arn != episode.execution_arn:
            return f"execution {event.execution_arn} is not the running attempt's ({episode.execution_arn})"
        return ""
    if event.episode_id is None or event.attempt is None:
        return "it names no execution of ours, nor an episode id and attempt number to match"
    if event.episode_id != episode.id:
        return f"it is for episode {event.episode_id}, not {episode.id}"
    if event.attempt != episode.retrains:
        return f"it is for attempt {event.attempt}, the running attempt is {episode.retrains}"
    return ""


def retraining_overdue(monitor: MonitorConfig, state: MonitorState, now: datetime) -> bool:
    """True when a started retraining has had no final status within `retraining_timeout`: before declaring it
    failed, the caller may ask the pipeline for its real status and apply it with `on_lifecycle`."""
    episode = state.episode
    if state.status is not Status.RETRAINING or episode is None or episode.retrain_started_at is None:
        return False
    return now >= episode.retrain_started_at + monitor.retraining_timeout


def on_start_given_up(
    monitor: MonitorConfig, state: MonitorState, action: ActionRecord, now: datetime, config_version: str = ""
) -> Decision:
    """The outbox gave up on the action that starts a retraining: that attempt failed (alert, back-off)."""
    step = _Step(monitor, state, now, config_version)
    episode = state.episode
    if (
        state.status is not Status.RETRAINING
        or episode is None
        or action.notice.episode_id != episode.id
        or action.notice.attempt != episode.retrains
    ):
        return step.unchanged(f"{action.kind} gave up for an attempt that is no longer running", "ignored")
    return step.retraining_failed(
        f"retraining attempt {episode.retrains} could not be started: {action.kind} failed "
        f"{action.attempts} times ({action.last_error or 'no error text'})"
    )


def _still_wanted(action: ActionRecord, state: MonitorState) -> bool:
    """The retraining actions of an attempt that failed are cancelled: a failed attempt's start must never run
    after it was declared failed. Everything else (alerts, a succeeded attempt's request) still goes out."""
    episode = state.episode
    return not (
        action.notice.event == "retrain_started"
        and episode is not None
        and episode.last_attempt_failed
        and action.notice.episode_id == episode.id
        and action.notice.attempt == episode.retrains
    )


class _Step:
    """Builds Decisions for one monitor at one time; every transition goes through `to`."""

    def __init__(self, monitor: MonitorConfig, state: MonitorState, now: datetime, config_version: str) -> None:
        self.monitor = monitor
        self.state = state
        self.now = now
        self.config_version = config_version
        self.latest: Observation | None = None
        self.breaches = 0
        self.window = 0
        self.guards: dict[str, bool] = {}

    def _decision(self, outcome: str, state: MonitorState, reason: str, **extra: object) -> Decision:
        return Decision(
            monitor_id=self.monitor.id,
            at=self.now,
            outcome=outcome,  # type: ignore[arg-type]
            before=self.state,
            state=state,
            reason=reason,
            score=self.latest.score if self.latest else None,
            datapoint_at=self.latest.at if self.latest else None,
            breaches=self.breaches,
            window=self.window,
            guards=dict(self.guards),
            thresholds={
                "critical": self.monitor.critical,
                "reset": self.monitor.reset_level,
                "warning": self.monitor.warning,
            },
            **extra,  # type: ignore[arg-type]
        )

    def unchanged(self, reason: str, outcome: str = "unchanged") -> Decision:
        return self._decision(outcome, self.state, reason)

    def to(
        self,
        status: Status,
        reason: str,
        *,
        notice: NoticeEvent | None = None,
        kinds: Sequence[ActionKind] = (),
        trigger: Observation | None = None,
        **fields: object,
    ) -> Decision:
        """Move to `status` (fields override the state's), attaching one notice's actions."""
        state = self.state.model_copy(
            update={
                "status": status,
                "updated_at": self.now,
                "config_version": self.config_version or self.state.config_version,
                "last_score": self.latest.score if self.latest else self.state.last_score,
                "last_datapoint_at": self.latest.at if self.latest else self.state.last_datapoint_at,
                **fields,
            }
        )
        new_actions: tuple[ActionRecord, ...] = ()
        suppressed: tuple[str, ...] = ()
        if notice is not None:
            new_actions = self._actions(state, notice, kinds, reason, trigger or self.latest)
            if not self.monitor.acting_at(self.now):
                suppressed, new_actions = tuple(f"{a.kind}:{notice}" for a in new_actions), ()
        state = self._recorded(state, notice, sent=bool(new_actions))
        carried = tuple(a for a in self.state.pending if _still_wanted(a, state))
        cancelled = tuple(a for a in self.state.pending if a not in carried)
        state = state.model_copy(update={"actions": carried + new_actions})
        return self._decision(
            "transition", state, reason, new_actions=new_actions, suppressed=suppressed, cancelled=cancelled
        )

    def _actions(
        self,
        state: MonitorState,
        event: NoticeEvent,
        kinds: Sequence[ActionKind],
        reason: str,
        datapoint: Observation | None,
    ) -> tuple[ActionRecord, ...]:
        episode = state.episode or self.state.episode
        if episode is not None:
            key = idempotency_key(episode.id, episode.retrains, event)
        else:  # a warning or its recovery: keyed by the datapoint that caused it
            key = idempotency_key(episode_id(self.monitor.id, datapoint.at if datapoint else self.now), 0, event)
        notice = Notice(
            event=event,
            score=datapoint.score if datapoint else None,
            datapoint_at=datapoint.at if datapoint else None,
            reason=reason,
            episode_id=episode.id if episode else None,
            attempt=episode.retrains if episode else 0,
            decided_at=self.now,
        )
        ordered = sorted(set(kinds), key=ACTION_ORDER.index)
        return tuple(ActionRecord(kind=kind, key=key, notice=notice) for kind in ordered)

    def alert_kinds(self) -> tuple[ActionKind, ...]:
        return self.monitor.actions.on_alert

    def _recorded(
        self, state: MonitorState, notice: NoticeEvent | None, sent: bool, renotification: int = 0
    ) -> MonitorState:
        """What a step remembers besides its status: the mode it was decided in, when a retraining completed (older
        datapoints are no evidence from then on), and when the open episode's alert last went out."""
        update: dict[str, object] = {"shadow": self.monitor.mode == "shadow"}
        if state.status is Status.RETRAINED and self.state.status is not Status.RETRAINED:
            update["evidence_after"] = self.now
        if state.episode is not None and notice is not None and notice not in _GAP_EVENTS:
            noted: dict[str, object] = {"notified_at": self.now, "renotified": renotification}
            if sent or self.monitor.mode == "shadow":  # shadow: announced as far as active mode would have been
                noted["announced"] = True
            update["episode"] = state.episode.model_copy(update=noted)
        return state.model_copy(update=update)

    def with_alert(
        self,
        decision: Decision,
        event: NoticeEvent,
        key: str,
        why: str,
        datapoint: tuple[datetime | None, float | None],
        renotification: int = 0,
        **fields: object,
    ) -> Decision:
        """`decision` plus one more alert (and `fields`), in the same commit; a transition of its own when the
        decision changed nothing. The alert goes through the outbox like any other, under its own key."""
        if decision.outcome == "transition":
            reason = f"{decision.reason}; {why}"
        else:
            decision, reason = self.to(self.state.status, why), why
        state = decision.state.model_copy(update=fields)
        episode = None if event in _GAP_EVENTS else state.episode
        notice = Notice(
            event=event,
            score=datapoint[1],
            datapoint_at=datapoint[0],
            reason=why,
            episode_id=episode.id if episode else None,
            attempt=episode.retrains if episode else 0,
            decided_at=self.now,
            renotification=renotification,
        )
        ordered = sorted(set(self.alert_kinds()), key=ACTION_ORDER.index)
        actions = tuple(ActionRecord(kind=kind, key=key, notice=notice) for kind in ordered)
        suppressed: tuple[str, ...] = ()
        if not self.monitor.acting_at(self.now):
            suppressed, actions = tuple(f"{a.kind}:{event}" for a in actions), ()
        state = self._recorded(state, event, sent=bool(actions), renotification=renotification)
        state = state.model_copy(update={"actions": state.actions + actions})
        return replace(
            decision,
            outcome="transition",
            state=state,
            reason=reason,
            new_actions=decision.new_actions + actions,
            suppressed=decision.suppressed + suppressed,
        )

    def retraining_failed(self, why: str) -> Decision:
        """RETRAINING -> ALARM: alert, and allow the next attempt only after `cooldown`."""
        assert self.state.episode is not None
        retry_at = self.now + self.monitor.cooldown
        episode = self.state.episode.model_copy(update={"last_attempt_failed": True, "retry_not_before": retry_at})
        return self.to(
            Status.ALARM,
            f"{why}; next attempt not before {retry_at.isoformat()}",
            notice="retrain_failed",
            kinds=self.alert_kinds(),
            episode=episode,
        )


class _Evaluation(_Step):
    def __init__(
        self,
        monitor: MonitorConfig,
        state: MonitorState,
        window: Sequence[Observation],
        now: datetime,
        config_version: str,
        tick: timedelta = DEFAULT_TICK,
    ) -> None:
        super().__init__(monitor, state, now, config_version)
        # A datapoint stamped after the evaluation time is not seen yet (a late tick, a replay), never an error.
        seen = sorted((o for o in window if o.at <= now), key=lambda o: o.at, reverse=True)
        self.newest = seen[0] if seen else None
        known = [o.at for o in seen[:1]] + [t for t in (state.last_datapoint_at,) if t is not None and t <= now]
        self.newest_at = max(known, default=None)
        self.no_data_after = monitor.no_data_limit(tick)
        self.gap = (
            self.no_data_after is not None and self.newest_at is not None and now - self.newest_at > self.no_data_after
        )
        cutoff = state.evidence_after
        newest_first = [o for o in seen if cutoff is None or o.at > cutoff][: monitor.evaluation_periods]
        # A datapoint older than max_age counts as missing; in a no-data gap, or from before the last completed
        # retraining, every datapoint does: a gap or stale evidence never retrains, escalates or closes an episode.
        staleness = monitor.staleness_at(tick)
        self.fresh = [] if self.gap else [o for o in newest_first if now - o.at <= staleness][::-1]
        self.missing = monitor.evaluation_periods - len(self.fresh)
        self.latest = self.fresh[-1] if self.fresh else None
        self.window = monitor.evaluation_periods
        self.breaches = self._count_above(monitor.critical)

    def _count_above(self, level: float) -> int:
        missing_breach = self.missing if self.monitor.missing_data == "breaching" else 0
        return sum(1 for o in self.fresh if o.score > level) + missing_breach

    def _critical(self) -> bool:
        return self.breaches >= self.monitor.datapoints_to_trigger

    def _warning(self) -> bool:
        level = self.monitor.warning
        return level is not None and self._count_above(level) >= self.monitor.datapoints_to_trigger

    def _trigger(self) -> Observation | None:
        """The newest real datapoint above critical: it names the episode."""
        return next((o for o in reversed(self.fresh) if o.score > self.monitor.critical), None)

    def _below_reset(self) -> bool:
        """Recovery needs evidence: the last `datapoints_to_recover` datapoints, all real and below reset."""
        recent = self.fresh[-self.monitor.datapoints_to_recover :]
        return len(recent) == self.monitor.datapoints_to_recover and all(
            o.score < self.monitor.reset_level for o in recent
        )

    def decide(self) -> Decision:
        return self._gap_alert(self._announced_or_renotified(self._by_status()))

    def _announced_or_renotified(self, decision: Decision) -> Decision:
        """An episode opened while muted is announced once the mute ends; an open episode's alert repeats every
        `renotify_every` while no retraining runs and fresh data says the drift persists."""
        state = decision.state
        episode = state.episode
        if decision.changed or episode is None or state.status not in (Status.ALARM, Status.RETRAINED):
            return decision
        event: NoticeEvent = "escalation" if episode.escalated else "critical"
        if not episode.announced:
            if not self.monitor.acting_at(self.now):
                return decision
            why = f"episode {episode.id} opened while muted and is still open: announced now the mute has ended"
            key = idempotency_key(episode.id, episode.retrains, event)
            return self.with_alert(decision, event, key, why, (episode.opened_at, episode.trigger_score))
        every = self.monitor.renotify_every
        if every is None or self.latest is None or self.now < (episode.notified_at or episode.opened_at) + every:
            return decision
        if state.status is Status.RETRAINED and self.latest.score < self.monitor.reset_level:
            return decision  # on its way to recovery: nothing to repeat
        n = episode.renotified + 1
        why = f"repeat {n} of the {event} alert: episode {episode.id} still open, drift {self.score_text()}"
        key = idempotency_key(episode.id, episode.retrains, f"{event}#r{n}")
        return self.with_alert(decision, event, key, why, (self.latest.at, self.latest.score), renotification=n)

    def _gap_alert(self, decision: Decision) -> Decision:
        """One `no_data` alert when a gap starts, one `data_resumed` when a newer datapoint ends it."""
        since, newest_at = self.state.gap_since, self.newest_at
        if self.gap and since is None and newest_at is not None:
            why = f"no data: the newest datapoint ({newest_at.isoformat()}) is older than {self.no_data_after}"
            key = idempotency_key(episode_id(self.monitor.id, newest_at), 0, "no_data")
            score = self.newest.score if self.newest and self.newest.at == newest_at else None
            return self.with_alert(decision, "no_data", key, why, (newest_at, score), gap_since=newest_at)
        if self.gap or since is None:
            return decision
        if newest_at is None or newest_at <= since or self.newest is None:  # the alert was turned off meanwhile
            if decision.outcome == "transition":
                return replace(decision, state=decision.state.model_copy(update={"gap_since": None}))
            return self.to(self.state.status, "no-data alert turned off: the open gap is forgotten", gap_since=None)
        why = f"data resumed: a datapoint at {newest_at.isoformat()} after the gap since {since.isoformat()}"
        key = idempotency_key(episode_id(self.monitor.id, since), 0, "data_resumed")
        return self.with_alert(decision, "data_resumed", key, why, (self.newest.at, self.newest.score), gap_since=None)

    def _by_status(self) -> Decision:
        status, missing_data = self.state.status, self.monitor.missing_data
        if status is Status.RETRAINING:
            return self._while_retraining()
        if self.latest is None and missing_data == "missing":
            return self.unchanged("no fresh datapoint: insufficient data, state kept", "insufficient_data")
        if self.latest is None and missing_data == "ignore":
            return self.unchanged("no fresh datapoint: ignored, state kept", "ignored_missing")
        if status in ARMED:
            return self._armed()
        if status is Status.RETRAINED:
            return self._after_retraining()
        return self._in_alarm()

    def _while_retraining(self) -> Decision:
        episode = self.state.episode
        assert episode is not None
        if retraining_overdue(self.monitor, self.state, self.now):
            return self.retraining_failed(
                f"retraining attempt {episode.retrains} had no final status within {self.monitor.retraining_timeout}"
                " of its start"
            )
        if episode.retrain_started_at is None:
            return self.unchanged("retraining requested, its start not delivered yet: breaches do not fire again")
        return self.unchanged("retraining in progress: breaches do not fire again")

    def _armed(self) -> Decision:
        if self._critical():
            return self._open_episode()
        if self._warning():
            if self.state.status is Status.OK:
                return self.to(
                    Status.WARNING,
                    f"drift above warning {self.monitor.warning} in {self._m_of_n(self.monitor.warning)}",
                    notice="warning",
                    kinds=self.alert_kinds(),
                )
            return self.unchanged("still at warning level")
        warning_reset = self.monitor.warning_reset_level
        if self.state.status is Status.WARNING and (
            self.latest is None or warning_reset is None or self.latest.score < warning_reset
        ):
            return self.to(
                Status.OK, "drift back below the warning level", notice="recovered", kinds=self.alert_kinds()
            )
        return self.unchanged("no breach")

    def _m_of_n(self, level: float | None) -> str:
        count = self._count_above(level) if level is not None else 0
        return f"{count} of the last {self.monitor.evaluation_periods} datapoints"

    def _open_episode(self) -> Decision:
        trigger = self._trigger()
        opened_at = trigger.at if trigger else self.now
        episode = Episode(
            id=episode_id(self.monitor.id, opened_at),
            opened_at=opened_at,
            trigger_score=trigger.score if trigger else None,
            announced=self.monitor.acting_at(self.now) or self.monitor.mode == "shadow",
        )
        return self._retrain_or_alert(episode, trigger, alert="critical")

    def _retrain_or_alert(self, episode: Episode, trigger: Observation | None, alert: NoticeEvent) -> Decision:
        blockers = self._blockers(episode, trigger)
        above = f"drift {trigger.score if trigger else 'missing'} > {self.monitor.critical}"
        if not blockers:
            return self._start_retraining(episode, trigger, above)
        return self.to(
            Status.ALARM,
            f"{above}; retraining blocked: {'; '.join(blockers)}",
            notice=alert,
            kinds=self.alert_kinds(),
            trigger=trigger,
            episode=episode.model_copy(update={"escalated": episode.escalated or alert == "escalation"}),
        )

    def _blockers(self, episode: Episode, trigger: Observation | None) -> list[str]:
        """Why a retraining may not start now; empty when it may."""
        monitor, state, now = self.monitor, self.state, self.now
        reasons: list[str] = []
        if trigger is None:
            reasons.append("no real datapoint breached (missing data counted as breaching)")
        else:
            for guard in monitor.guards:
                value = trigger.metrics.get(guard.metric)
                self.guards[guard.describe()] = holds = guard.holds(value)
                if not holds:
                    reasons.append(f"guard {guard.describe()} does not hold ({guard.metric}={value})")
        if state.grace_until is not None and now < state.grace_until:
            reasons.append(f"grace period until {state.grace_until.isoformat()}")
        if state.last_retrain_at is not None and now < state.last_retrain_at + monitor.cooldown:
            reasons.append(f"cooldown until {(state.last_retrain_at + monitor.cooldown).isoformat()}")
        if episode.retry_not_before is not None and now < episode.retry_not_before:
            reasons.append(f"back-off after a failed retraining until {episode.retry_not_before.isoformat()}")
        if episode.retrains >= monitor.max_retrains_per_episode:
            reasons.append(f"cap of {monitor.max_retrains_per_episode} retrainings per episode reached")
        if episode.retrains and not episode.last_attempt_failed and not monitor.retrain_on_persisting_drift:
            reasons.append("drift persists after retraining and retrain_on_persisting_drift is off")
        if not monitor.actions.on_retrain:
            reasons.append("no on_retrain actions configured")
        if monitor.mode != "shadow" and not monitor.acting_at(now):
            reasons.append(f"muted until {monitor.muted_until.isoformat() if monitor.muted_until else '?'}")
        return reasons

    def _start_retraining(self, episode: Episode, trigger: Observation | None, above: str) -> Decision:
        attempt = episode.retrains + 1
        started = episode.model_copy(
            update={
                "retrains": attempt,
                "retrain_requested_at": self.now,
                "retrain_started_at": None,
                "execution_arn": None,
                "last_attempt_failed": False,
                "retry_not_before": None,
            }
        )
        if self.monitor.mode == "shadow":  # as active mode, with the would-be retraining succeeding at once
            until = self.now + self.monitor.grace_period
            grace = max(until, self.state.grace_until) if self.state.grace_until else until
            return self.to(
                Status.RETRAINED,
                f"{above}: shadow mode: would retrain (attempt {attempt} of episode {episode.id}), taken as "
                f"succeeded at once; grace period until {grace.isoformat()}",
                notice="retrain_started",
                kinds=self.monitor.actions.on_retrain,
                trigger=trigger,
                episode=started.model_copy(update={"retrain_started_at": self.now}),
                last_retrain_at=self.now,
                grace_until=grace,
                evidence_after=self.now,
            )
        return self.to(
            Status.RETRAINING,
            f"{above}: retraining started (attempt {attempt} of episode {episode.id})",
            notice="retrain_started",
            kinds=self.monitor.actions.on_retrain,
            trigger=trigger,
            episode=started,
            last_retrain_at=self.now,
        )

    def _close_episode(self, why: str) -> Decision:
        if self._warning():
            return self.to(Status.WARNING, f"{why}; re-armed at warning level", episode=None)
        if self.state.episode is not None and not self.state.episode.announced:
            return self.to(Status.OK, f"{why}; re-armed (its alert was muted: no recovered alert)", episode=None)
        return self.to(Status.OK, f"{why}; re-armed", notice="recovered", kinds=self.alert_kinds(), episode=None)

    def _in_alarm(self) -> Decision:
        episode = self.state.episode
        assert episode is not None
        if self._below_reset():
            return self._close_episode(f"drift {self.score_text()} below reset {self.monitor.reset_level}")
        if not self._critical():
            return self.unchanged(f"drift {self.score_text()} not below reset {self.monitor.reset_level}: not re-armed")
        trigger = self._trigger()
        blockers = self._blockers(episode, trigger)
        if blockers:
            return self.unchanged(f"still critical; retraining blocked: {'; '.join(blockers)}")
        return self._start_retraining(episode, trigger, f"drift {self.score_text()} > {self.monitor.critical}")

    def _after_retraining(self) -> Decision:
        episode = self.state.episode
        assert episode is not None
        if self._below_reset():
            return self._close_episode(f"retraining fixed the drift: {self.score_text()} below reset")
        if self.state.grace_until is not None and self.now < self.state.grace_until:
            return self.unchanged(f"grace period until {self.state.grace_until.isoformat()}")
        if not self._critical():
            return self.unchanged(f"drift {self.score_text()} not below reset {self.monitor.reset_level}: not re-armed")
        return self._retrain_or_alert(episode, self._trigger(), alert="escalation")

    def score_text(self) -> str:
        return "missing" if self.latest is None else f"{self.latest.score:g}"
