"""Maintenance windows: when one covers an instant (cron or RRULE, in a zone's wall time, across DST), how a bad
window is refused, and that a window mutes exactly as `mode: muted` does. No AWS."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from retrain_trigger.config import parse_catalog
from retrain_trigger.maintenance_config import MaintenanceWindow, covering
from retrain_trigger.model import Observation
from retrain_trigger.outbox import holds
from retrain_trigger.policy import evaluate

from .scenario import Replay, day, monitor

BERLIN_SUNDAY_2AM = {"cron": "0 2 * * SUN", "duration": "3h", "timezone": "Europe/Berlin"}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def window(**fields: Any) -> MaintenanceWindow:
    return MaintenanceWindow.model_validate({**BERLIN_SUNDAY_2AM, **fields})


class TestCovering:
    def test_a_summer_window_starts_at_two_in_berlin_which_is_midnight_utc_and_lasts_three_hours(self) -> None:
        sunday = window()

        assert sunday.covering(utc("2024-08-03T23:59:59")) is None
        occurrence = sunday.covering(utc("2024-08-04T00:00:00"))
        assert occurrence is not None
        assert (occurrence.start, occurrence.end) == (utc("2024-08-04T00:00:00"), utc("2024-08-04T03:00:00"))
        assert sunday.covering(utc("2024-08-04T02:59:59")) is not None
        assert sunday.covering(utc("2024-08-04T03:00:00")) is None  # the end is not in the window

    def test_a_winter_window_starts_at_two_in_berlin_which_is_one_utc(self) -> None:
        occurrence = window().covering(utc("2024-01-07T01:00:00"))

        assert occurrence is not None and occurrence.start == utc("2024-01-07T01:00:00")
        assert window().covering(utc("2024-01-07T00:59:59")) is None

    def test_on_the_spring_dst_change_the_skipped_two_o_clock_starts_the_window_when_the_clock_jumps(self) -> None:
        # 2024-03-31 in Berlin: 02:00 CET jumps to 03:00 CEST (01:00 UTC); 02:00 never shows on a wall clock.
        occurrence = window().covering(utc("2024-03-31T01:00:00"))

        assert window().covering(utc("2024-03-31T00:59:59")) is None
        assert occurrence is not None
        assert (occurrence.start, occurrence.end) == (utc("2024-03-31T01:00:00"), utc("2024-03-31T04:00:00"))

    def test_on_the_autumn_dst_change_the_repeated_two_o_clock_starts_the_window_on_its_first_pass(self) -> None:
        # 2024-10-27 in Berlin: 03:00 CEST falls back to 02:00 CET; 02:00 CEST is 00:00 UTC. Three elapsed hours.
        occurrence = window().covering(utc("2024-10-27T00:00:00"))

        assert occurrence is not None
        assert (occurrence.start, occurrence.end) == (utc("2024-10-27T00:00:00"), utc("2024-10-27T03:00:00"))
        assert window().covering(utc("2024-10-26T23:59:59")) is None

    def test_an_rrule_gives_the_same_windows_as_the_cron(self) -> None:
        rrule = window(cron=None, rrule="FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0")
        instants = [utc("2024-03-31T00:30:00") + timedelta(minutes=20 * i) for i in range(3 * 24 * 7)]

        assert [rrule.covering(t) for t in instants] == [window().covering(t) for t in instants]

    def test_the_answer_is_deterministic_in_now_and_the_latest_ending_of_several_windows_wins(self) -> None:
        windows = (window(), window(cron="0 4 * * SUN", duration="2h"))

        first = covering(windows, utc("2024-08-04T02:30:00"))

        assert first == covering(windows, utc("2024-08-04T02:30:00"))
        assert first is not None and first.end == utc("2024-08-04T04:00:00")
        assert covering((), utc("2024-08-04T02:30:00")) is None


class TestBadWindow:
    @pytest.mark.parametrize(
        ("written", "field", "words"),
        [
            ({"cron": "0 25 * * SUN"}, "maintenance.0.cron", "not a cron expression"),
            ({"cron": "0 2 * * SUN *"}, "maintenance.0.cron", "5 fields"),
            ({"timezone": "Europe/Atlantis"}, "maintenance.0.timezone", "unknown time zone 'Europe/Atlantis'"),
            ({"duration": "0h"}, "maintenance.0.duration", "must be longer than zero"),
            ({"duration": "soon"}, "maintenance.0.duration", ""),
            ({"rrule": "FREQ=WEEKLY"}, "maintenance.0", "exactly one of 'cron' or 'rrule'"),
            ({"cron": None, "rrule": "FREQ=SOMETIMES"}, "maintenance.0.rrule", "not an RRULE"),
            ({"cron": None}, "maintenance.0", "exactly one of 'cron' or 'rrule'"),
        ],
    )
    def test_a_bad_window_is_a_config_error_naming_the_monitor_and_the_field_and_the_others_run(
        self, written: dict[str, Any], field: str, words: str
    ) -> None:
        broken = {"id": "broken", "critical": 0.2, "maintenance": [{**BERLIN_SUNDAY_2AM, **written}]}

        catalog = parse_catalog({"monitors": [broken, {"id": "fine", "critical": 0.2}]})

        (error,) = catalog.errors
        assert (error.monitor_id, error.field) == ("broken", field)
        assert words in str(error)
        assert [m.id for m in catalog.monitors] == ["fine"]

    def test_the_defaults_windows_apply_to_every_monitor_and_a_monitors_own_replace_them(self) -> None:
        catalog = parse_catalog(
            {
                "defaults": {"maintenance": [BERLIN_SUNDAY_2AM]},
                "monitors": [{"id": "a", "critical": 0.2}, {"id": "b", "critical": 0.2, "maintenance": []}],
            }
        )
        sunday = utc("2024-08-04T01:00:00")

        a, b = catalog.get("a"), catalog.get("b")
        assert a is not None and b is not None
        assert (a.acting_at(sunday), b.acting_at(sunday)) == (False, True)


class TestMutedDuringAWindow:
    def test_during_a_window_a_breach_sends_nothing_and_says_which_window_blocks_the_retraining(self) -> None:
        # day(3) is Sunday 2024-08-04, 00:00 UTC: 02:00 in Berlin, the window's first minute.
        config = monitor(maintenance=[BERLIN_SUNDAY_2AM])
        replay = Replay(config)

        breach = replay.score(3, 0.3)

        assert breach.new_actions == () and breach.suppressed  # muted: the critical alert was not sent
        assert "maintenance window until 2024-08-04T03:00:00+00:00" in breach.reason
        assert holds(config, day(3)) and not holds(config, day(3) + timedelta(hours=3))

    def test_an_episode_opened_in_a_window_and_still_open_when_it_ends_is_announced_once(self) -> None:
        replay = Replay(monitor(maintenance=[BERLIN_SUNDAY_2AM], guards=[{"metric": "accuracy", "below": 0.85}]))
        for hours in (0, 1, 2):
            at = day(3) + timedelta(hours=hours)
            replay._commit(evaluate(replay.config, replay.state, [obs_at(at, 0.3)], at, "v1"))
        assert replay.notices() == []

        for hours in (3, 4):
            at = day(3) + timedelta(hours=hours)
            replay._commit(evaluate(replay.config, replay.state, [obs_at(at, 0.3)], at, "v1"))

        assert replay.notices() == ["critical"]
        (alert,) = replay.decisions[3].new_actions
        assert alert.key == "churn-model@20240804T000000Z#0:critical"

    def test_a_window_never_touches_a_monitor_in_shadow_mode_which_sends_nothing_anyway(self) -> None:
        config = monitor(mode="shadow", maintenance=[BERLIN_SUNDAY_2AM])

        assert not holds(config, day(3))


def obs_at(at: datetime, score: float) -> Observation:
    return Observation(at=at, score=score)


def test_a_deployment_without_windows_never_imports_croniter_or_dateutils_rrule() -> None:
    code = (
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "import retrain_trigger.service\n"
        "from retrain_trigger.config import MonitorConfig\n"
        "m = MonitorConfig.model_validate({'id': 'a', 'critical': 0.2})\n"
        "assert m.acting_at(datetime(2024, 8, 4, tzinfo=UTC))\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('croniter', 'dateutil')))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert "croniter" not in loaded and "dateutil.rrule" not in loaded
