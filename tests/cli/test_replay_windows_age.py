"""`retrain-trigger replay` sees maintenance windows and model age: the replay calls the evaluator's own engine, so
the reference scenario changes exactly as the evaluator's decisions would (issue 14, capabilities 4 and 6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import REFERENCE, Run, seeded_config, write

DAILY = ("--tick", "1d")
FRIDAY_2AM_BERLIN = {"cron": "0 2 * * FRI", "duration": "3h", "timezone": "Europe/Berlin"}  # 2024-08-09 00:00 UTC


def daily_config(tmp_path: Path, **monitor: Any) -> Path:
    document = seeded_config()
    document["defaults"]["every"] = "1d"
    document["monitors"][0].update(monitor)
    return write(tmp_path / "daily.json", json.dumps(document))


def test_a_maintenance_window_over_the_reference_breach_holds_its_retraining_and_its_alert(
    cli: Any, tmp_path: Path
) -> None:
    run: Run = cli(
        "replay", "--config", daily_config(tmp_path, maintenance=[FRIDAY_2AM_BERLIN]), "--scores", REFERENCE, *DAILY
    )

    assert run.code == 0
    last = run.lines()[-1]
    assert (last["timestamp"], last["state"], last["actions"]) == ("2024-08-09T00:00:00Z", "ALARM", [])
    assert "retraining blocked: maintenance window until 2024-08-09T03:00:00+00:00" in last["reason"]
    assert not any("retrain" in line["actions"] for line in run.lines())


def test_a_maintenance_window_that_ended_before_the_breach_changes_nothing(cli: Any, tmp_path: Path) -> None:
    thursday = {**FRIDAY_2AM_BERLIN, "cron": "0 2 * * THU"}
    run: Run = cli("replay", "--config", daily_config(tmp_path, maintenance=[thursday]), "--scores", REFERENCE, *DAILY)

    retrains = [line["timestamp"] for line in run.lines() if "retrain" in line["actions"]]
    assert retrains == ["2024-08-09T00:00:00Z"]


def test_max_model_age_retrains_the_reference_model_every_age_window_and_drift_still_retrains(
    cli: Any, tmp_path: Path
) -> None:
    run: Run = cli("replay", "--config", daily_config(tmp_path, max_model_age="10d"), "--scores", REFERENCE, *DAILY)

    retrains = [line for line in run.lines() if "retrain" in line["actions"]]
    assert [line["timestamp"] for line in retrains] == [
        "2024-07-21T00:00:00Z",  # 10 days after the first evaluation
        "2024-08-01T00:00:00Z",  # the first tick 10 days after the simulated success (07-21 03:00)
        "2024-08-09T00:00:00Z",  # the drift breach, as without the key
    ]
    assert [line["reason"].split(":")[0] for line in retrains] == ["model age", "model age", "drift 0.2186 > 0.2"]
