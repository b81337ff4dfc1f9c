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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from retrain_trigger.config import ACTION_ORDER, ActionKind, MonitorConfig
from retrain_trigger.errors import BadInput
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

# A datapoint stamped later than this past the evaluation time is bad input, not a breach.
FUTURE_TOLERANCE = timedelta(minutes=5)


def is_due(every: timedelta | None, now: datetime, tick: timedelta) -> bool:
    """A monitor is due when a boundary of its `every` (aligned to the epoch) falls in this tick (now - tick, now].

    Stateless, so a retried tick (same event time) selects the same monitors and no write is needed to remember.
    """
    if every is None or every <= tick:
        return True
    period, t = every.total_seconds(), now.timestamp()
    return math.floor(t / period) != math.floor((t - tick.total_seconds()) / period)


def evaluate(
    monitor: MonitorConfig,
    state: MonitorState,
    window: Sequence[Observation],
    now: datetime,
    config_version: str = "",
) -> Decision:
    """Decide one monitor at `now` from its latest datapoints (any order). Raises BadInput for future datapoints."""
    check = _Evaluation(monitor, state, window, now, config_version)
    return check.decide()


def on_lifecycle(
    monitor: MonitorConfig,
    state: MonitorState,
    event: LifecycleEvent,
    config_version: str = "",
) -> Decision:
    """Apply a retraining status change or a deployment to the state, at the event's time."""
    step = _Step(monitor, state, event.at, config_version)
    if event.kind == "deployed":
        until = event.at + monitor.grace_period
        if state.grace_until is not None and state.grace_until >= until:
            return step.unchanged("model deployed; grace period already runs longer")
        return step.to(state.status, f"model deployed: no retraining before {until.isoformat()}", grace_until=until)

    episode = state.episode
    if state.status is not Status.RETRAINING or episode is None:
        return step.unchanged(f"{event.kind} event ignored: no retraining in progress")
    if event.episode_id and event.episode_id != episode.id:
        return step.unchanged(f"{event.kind} event ignored: it is for episode {event.episode_id}, not {episode.id}")
    if event.execution_arn and episode.execution_arn and event.execution_arn != episode.execution_arn:
        return step.unchanged(f"{event.kind} event ignored: it is for another execution")

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
            f"retraining succeeded; grace period until {grace.isoformat()}",
            grace_until=grace,
            episode=episode.model_copy(update={"execution_arn": event.execution_arn or episode.execution_arn}),
        )
    return step.retraining_failed(f"retraining {event.kind}" + (f": {event.detail}" if event.detail else ""))


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
        state = state.model_copy(update={"actions": self.state.pending + new_actions})
        return self._decision("transition", state, reason, new_actions=new_actions, suppressed=suppressed)

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
    ) -> None:
        super().__init__(monitor, state, now, config_version)
        for datapoint in window:
            if datapoint.at > now + FUTURE_TOLERANCE:
                raise BadInput(monitor.id, "timestamp", f"datapoint at {datapoint.at.isoformat()} is in the future")
        newest_first = sorted(window, key=lambda o: o.at, reverse=True)[: monitor.evaluation_periods]
        # A datapoint older than max_age counts as missing.
        self.fresh = [o for o in newest_first if now - o.at <= monitor.staleness][::-1]
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
        return self.latest is not None and self.latest.score < self.monitor.reset_level

    def decide(self) -> Decision:
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
        started = episode.retrain_started_at or self.now
        if self.now >= started + self.monitor.retraining_timeout:
            return self.retraining_failed(f"no retraining status within {self.monitor.retraining_timeout}")
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
        if monitor.mode == "shadow":
            reasons.append("shadow mode: would retrain, acts never")
        elif not monitor.acting_at(now):
            reasons.append(f"muted until {monitor.muted_until.isoformat() if monitor.muted_until else '?'}")
        return reasons

    def _start_retraining(self, episode: Episode, trigger: Observation | None, above: str) -> Decision:
        attempt = episode.retrains + 1
        started = episode.model_copy(
            update={
                "retrains": attempt,
                "retrain_started_at": self.now,
                "execution_arn": None,
                "last_attempt_failed": False,
                "retry_not_before": None,
            }
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
