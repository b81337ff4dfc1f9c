"""Maintenance windows, for the rules: why a monitor sends nothing at `now`.

Whether `now` falls in a window is `maintenance_config.covering` (pure, deterministic in `now`), asked through
`MonitorConfig.acting_at`, the one notion of "muted at now" that the rules, the decision builder and the outbox share:
a window mutes exactly as `mode: muted` does, and an episode still open when it ends is announced once
(`rules.announce_after_mute`).
"""

from __future__ import annotations

from datetime import datetime

from retrain_trigger.config import MonitorConfig
from retrain_trigger.maintenance_config import covering


def muted_reason(monitor: MonitorConfig, now: datetime) -> str:
    """The blocker's words for a monitor that does not act at `now` (shadow mode aside): its mute or its window."""
    if monitor.muted_until is not None and now < monitor.muted_until:
        return f"muted until {monitor.muted_until.isoformat()}"
    window = covering(monitor.maintenance, now)
    if window is not None:
        return f"maintenance window until {window.end.isoformat()}"
    return "muted"
