"""When the engine is asked: which monitors a tick decides, whether a tick is too late to decide, and when a running
retraining is overdue."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from retrain_trigger.config import MonitorConfig
from retrain_trigger.model import Episode, MonitorState, Status


def is_due(every: timedelta | None, now: datetime, tick: timedelta, delay: timedelta = timedelta(0)) -> bool:
    """A monitor is due when a boundary of its `every` (aligned to the epoch), plus its `evaluation_delay`, falls
    in this tick (now - tick, now].

    Stateless, so a retried tick (same event time) selects the same monitors and no write is needed to remember.
    """
    if every is None or every <= tick:
        return True
    period, t = every.total_seconds(), (now - delay).timestamp()
    return math.floor(t / period) != math.floor((t - tick.total_seconds()) / period)


def retraining_overdue(monitor: MonitorConfig, state: MonitorState, now: datetime) -> bool:
    """True when a retraining has had no final status within `retraining_timeout` of its real start, or, once no
    start of the attempt is waiting any more and none was delivered with evidence (an `unconfirmed` one), of its
    decision: no attempt stays RETRAINING for good. A start still waiting (retried, or its unknown outcome looked up)
    ends by its own cap. Before declaring it failed, the caller may ask the pipeline for its real status and apply it
    with `on_lifecycle`."""
    episode = state.episode
    if state.status is not Status.RETRAINING or episode is None:
        return False
    since = episode.retrain_started_at
    if since is None and not _start_waiting(state, episode):
        since = episode.retrain_requested_at
    return since is not None and now >= since + monitor.retraining_timeout


def _start_waiting(state: MonitorState, episode: Episode) -> bool:
    return any(
        a.notice.event == "retrain_started"
        and a.notice.episode_id == episode.id
        and a.notice.attempt == episode.retrains
        for a in state.pending
    )


def is_stale(state: MonitorState, now: datetime) -> bool:
    """True when a tick at `now` is older than the monitor's last committed evaluation: a retried or redelivered tick
    that arrives after the next one committed. Deciding it again would judge old datapoints against newer state."""
    return state.decided_at is not None and now < state.decided_at


def delivery_time(state: MonitorState, now: datetime) -> datetime:
    """The evaluation time the outbox delivers at: a stale tick's own time would move its back-off backwards."""
    return max(now, state.decided_at) if state.decided_at is not None else now
