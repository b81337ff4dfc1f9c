"""Grouped alerts: when one tick decides more than `group_alerts_over` alerts of the same event, on-call gets one
digest per event instead of a page per monitor.

Pure: the service calls it on the decisions it committed in a tick, the CLI's fleet replay on the decisions of each
simulated tick, so both group the same alerts under the same keys. A digest only lists alerts: each monitor's own
alert is still queued, delivered and de-duplicated by its outbox; the digest's key is what lets on-call's filter
policy drop the per-monitor copies (`grouped_in`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from retrain_trigger.config import MonitorConfig
from retrain_trigger.model import SEVERITY, Decision, NoticeEvent, Severity

DEFAULT_GROUP_ALERTS_OVER = 10


@dataclass(frozen=True)
class Listed:
    """One monitor's alert as a digest lists it: enough to find the monitor's own message by its key."""

    monitor_id: str
    key: str  # the per-monitor alert's idempotency key
    score: float | None
    episode_id: str | None
    reason: str


@dataclass(frozen=True)
class Digest:
    """The tick's alerts of one event, over the limit: sent once, under a key derived from (tick, event)."""

    event: NoticeEvent
    severity: Severity
    at: datetime
    key: str
    alerts: tuple[Listed, ...]

    def grouped(self) -> dict[str, str]:
        """Each listed alert's key, mapped to this digest's key."""
        return {listed.key: self.key for listed in self.alerts}


def digest_key(at: datetime, event: str, scope: str = "") -> str:
    """Derived from the tick and the event, so a tick decided again (a retry) would name the same digest. `scope`
    tells apart the digests of the shards of one fanned-out tick: each shard groups only its own monitors."""
    base = f"digest:{at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}:{event}"
    return f"{base}:{scope}" if scope else base


def digests(decisions: Iterable[Decision], over: int, at: datetime, scope: str = "") -> tuple[Digest, ...]:
    """The digests of one tick: for each event with more than `over` alerts among `decisions` (those committed and
    sent this tick), one digest listing them in monitor order. Events at or under the limit are not grouped."""
    by_event: dict[NoticeEvent, dict[str, Listed]] = {}
    for decision in decisions:
        for action in decision.new_actions:
            if action.kind != "sns":
                continue
            notice = action.notice
            listed = Listed(decision.monitor_id, action.key, notice.score, notice.episode_id, notice.reason)
            by_event.setdefault(notice.event, {})[action.key] = listed
    return tuple(
        Digest(
            event=event,
            severity=SEVERITY[event],
            at=at,
            key=digest_key(at, event, scope),
            alerts=tuple(sorted(listed.values(), key=lambda entry: (entry.monitor_id, entry.key))),
        )
        for event, listed in sorted(by_event.items())
        if len(listed) > over
    )


def tick_digests(
    decided: Iterable[tuple[MonitorConfig, Decision]], over: int, at: datetime, scope: str = ""
) -> tuple[Digest, ...]:
    """The digests of the tick at `at`: the decisions of the monitors acting then (a muted monitor's alerts are held
    by its outbox and go out on their own when the mute ends; shadow mode sends nothing). The service and the CLI's
    fleet replay both call this."""
    return digests((d for m, d in decided if m.acting_at(at)), over, at, scope)


def grouped_keys(found: Iterable[Digest]) -> Mapping[str, str]:
    """Every grouped alert's key mapped to the key of the digest that lists it."""
    return {key: digest for d in found for key, digest in d.grouped().items()}
