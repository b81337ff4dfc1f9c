"""`retrain-trigger replay`: the output a user reads, bad rows, missing files, and the simulated retraining."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from retrain_trigger.config import parse_catalog
from retrain_trigger.model import Observation
from retrain_trigger_cli.__main__ import main
from retrain_trigger_cli.engine import Simulation, replay
from tests.cli.conftest import REFERENCE, Run, run_process, seeded_config, write

DAILY = ("--tick", "1d")


def daily_config(tmp_path: Path, **monitor: Any) -> Path:
    """The seeded monitor, evaluated once a day (as the demo deploys it)."""
    document = seeded_config()
    document["defaults"]["every"] = "1d"
    document["monitors"][0].update(monitor)
    return write(tmp_path / "daily.json", json.dumps(document))


def test_the_reference_scenario_retrains_exactly_once_on_2024_08_09(cli: Any, seeded_config_file: Path) -> None:
    run: Run = cli("replay", "--config", seeded_config_file, "--scores", REFERENCE)

    assert run.code == 0
    retrains = [line for line in run.lines() if "retrain" in line["actions"]]
    assert [line["timestamp"] for line in retrains] == ["2024-08-09T00:00:00Z"]
    line = retrains[0]
    assert (line["score"], line["state"], line["transition"]) == (0.2186, "RETRAINING", True)
    assert line["actions"][:2] == ["retrain", "alert:critical"]  # the retraining is announced on the alert topic
    assert "retraining started" in retrains[0]["reason"]


def test_evaluations_follow_the_evaluators_schedule_of_every_and_tick(cli: Any, tmp_path: Path) -> None:
    # An hourly tick evaluates a daily monitor once a day, at midnight UTC (the boundary of its `every`)
    run: Run = cli("replay", "--config", daily_config(tmp_path), "--scores", REFERENCE, "--tick", "1h")

    stamps = [line["timestamp"] for line in run.lines()]
    assert len(stamps) == 30
    assert all(stamp.endswith("T00:00:00Z") for stamp in stamps)


def test_only_the_start_of_a_retraining_says_retrain_and_each_alert_says_its_severity(cli: Any, tmp_path: Path) -> None:
    scores = write(
        tmp_path / "s.csv",
        "timestamp,drift_score\n"
        "2024-01-01T00:00:00Z,0.05\n2024-01-02T00:00:00Z,0.12\n2024-01-03T00:00:00Z,0.25\n"
        "2024-01-04T00:00:00Z,0.26\n2024-01-05T00:00:00Z,0.27\n2024-01-06T00:00:00Z,0.05\n",
    )
    run: Run = cli("replay", "--config", daily_config(tmp_path), "--scores", scores, *DAILY)

    assert [(line["timestamp"][5:13], line["state"], line["actions"]) for line in run.lines()] == [
        ("01-01T00", "OK", []),
        ("01-02T00", "WARNING", ["alert:warning"]),
        ("01-03T00", "RETRAINING", ["retrain", "alert:critical"]),
        ("01-03T03", "RETRAINED", []),  # the simulated pipeline succeeded three hours later
        ("01-04T00", "RETRAINED", []),  # the grace period holds the breach
        ("01-05T00", "ALARM", ["alert:escalation"]),  # drift persists: no second retraining by default
        ("01-06T00", "OK", ["alert:recovered"]),
    ]


def test_the_table_is_the_demos_per_day_table_and_the_summary_counts(cli: Any, tmp_path: Path) -> None:
    run: Run = cli(
        "replay", "--config", daily_config(tmp_path), "--scores", REFERENCE, *DAILY, "--format", "table", "--summary"
    )

    lines = run.out.splitlines()
    assert lines[0].split() == ["date", "score", "state", "actions"]
    assert "2024-08-09    0.2186  RETRAINING  retrain alert:critical" in lines
    assert "2024-08-03    0.1018  WARNING     alert:warning" in lines
    assert lines[-1] == (
        "summary: evaluations 30; retrains 1; alerts critical 1, warning 1; first retrain 2024-08-09T00:00:00Z; "
        "time in state: OK 23d, WARNING 6d"
    )


def test_the_json_summary_ends_the_output(cli: Any, tmp_path: Path) -> None:
    run: Run = cli("replay", "--config", daily_config(tmp_path), "--scores", REFERENCE, *DAILY, "--summary")

    summary = run.lines()[-1]["summary"]
    assert summary["evaluations"] == 30
    assert summary["retrains"] == 1
    assert summary["alerts"] == {"critical": 1, "warning": 1}
    assert summary["first_retrain"] == "2024-08-09T00:00:00Z"
    assert summary["hours_in_state"]["OK"] == 23 * 24


def test_bad_rows_are_reported_with_their_line_and_count_as_missing(cli: Any, tmp_path: Path) -> None:
    scores = write(
        tmp_path / "bad.csv",
        "timestamp,drift_score\n"
        "2024-01-01T00:00:00Z,0.05\n"
        "yesterday,0.30\n"  # line 3
        "2024-01-02T00:00:00Z,high\n"  # line 4
        "2024-01-03T00:00:00Z,0.06\n"
        "2024-01-03T00:00:00Z,0.90\n"  # line 6: duplicate
        "2024-01-04T00:00:00Z,\n"  # empty: no datapoint, not an error
        "2024-01-05T00:00:00Z,0.07\n",
    )
    run: Run = cli("replay", "--config", daily_config(tmp_path), "--scores", scores, *DAILY)

    assert run.code == 0
    assert run.err.splitlines() == [
        f"{scores}:3: unparsable timestamp 'yesterday'; row treated as missing",
        f"{scores}:4: non-numeric drift_score 'high'; row treated as missing",
        f"{scores}:6: duplicate timestamp 2024-01-03T00:00:00Z; row treated as missing",
    ]
    by_day = {line["timestamp"][:10]: line for line in run.lines()}
    # no datapoint on the 2nd (non-numeric) nor the 4th (empty): the newest fresh datapoint is the day before's
    assert by_day["2024-01-02"]["score"] == 0.05
    assert by_day["2024-01-03"]["score"] == 0.06  # the duplicate did not replace the first value
    assert by_day["2024-01-04"]["score"] == 0.06
    assert all(line["actions"] == [] for line in run.lines())  # 0.30 and 0.90 never reached the engine


def test_a_missing_file_is_a_clear_error_with_exit_code_2_and_no_traceback(tmp_path: Path) -> None:
    config = daily_config(tmp_path)
    for args in (
        ("replay", "--config", config, "--scores", tmp_path / "nope.csv"),
        ("replay", "--config", tmp_path / "nope.json", "--scores", REFERENCE),
        ("plot", "--config", config, "--scores", tmp_path / "nope.csv"),
        ("compare", "--config", config, "--sweep", "critical=0.2,0.3", "--scores", tmp_path / "nope.csv"),
    ):
        completed = run_process(*args)

        assert completed.returncode == 2, completed.stderr
        assert "Traceback" not in completed.stderr
        assert "nope" in completed.stderr and "no such file" in completed.stderr


def test_an_unknown_monitor_names_the_monitors_there_are(cli: Any, tmp_path: Path) -> None:
    run: Run = cli("replay", "--config", daily_config(tmp_path), "--monitor", "fraud", "--scores", REFERENCE)

    assert run.code == 2
    assert "no monitor 'fraud' (monitors: churn-model)" in run.err


def test_json_lines_and_parquet_replay_like_the_csv(cli: Any, tmp_path: Path) -> None:
    frame = pd.read_csv(REFERENCE)
    jsonl = tmp_path / "scores.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in frame.to_dict(orient="records")))
    parquet = tmp_path / "scores.parquet"
    frame.assign(timestamp=pd.to_datetime(frame["timestamp"], utc=True)).to_parquet(parquet)
    config = daily_config(tmp_path)

    runs = [cli("replay", "--config", config, "--scores", path, *DAILY) for path in (REFERENCE, jsonl, parquet)]

    assert runs[0].out == runs[1].out == runs[2].out
    assert len(runs[0].lines()) == 30


def test_a_guard_metric_is_read_from_the_column_of_the_same_name(cli: Any, tmp_path: Path) -> None:
    scores = write(
        tmp_path / "guarded.csv",
        "timestamp,drift_score,accuracy\n"
        "2024-09-01T00:00:00Z,0.05,0.93\n"
        "2024-09-02T00:00:00Z,0.25,0.91\n"  # drift, but accuracy still fine: alert only
        "2024-09-03T00:00:00Z,0.26,0.80\n",  # the guard holds: retrain in the same episode
    )
    config = daily_config(tmp_path, guards=[{"metric": "accuracy", "below": 0.85}])

    lines = cli("replay", "--config", config, "--scores", scores, *DAILY).lines()

    assert [line["actions"] for line in lines] == [[], ["alert:critical"], ["retrain", "alert:critical"]]
    assert "guard accuracy < 0.85 does not hold" in lines[1]["reason"]


def test_a_failed_retraining_alerts_and_the_next_attempt_waits_for_the_cooldown(cli: Any, tmp_path: Path) -> None:
    days = [f"2024-01-{d:02d}T00:00:00Z,{0.05 if d < 3 else 0.3}\n" for d in range(1, 16)]
    scores = write(tmp_path / "persisting.csv", "timestamp,drift_score\n" + "".join(days))
    config = daily_config(tmp_path, cooldown="7d")

    lines = cli(
        "replay", "--config", config, "--scores", scores, *DAILY,
        "--retrain-outcome", "failed", "--retrain-duration", "2h",
    ).lines()  # fmt: skip

    failed = [line for line in lines if line.get("event") == "retraining failed"]
    retrains = [line["timestamp"] for line in lines if "retrain" in line["actions"]]
    assert [line["actions"] for line in failed] == [["alert:error"], ["alert:error"]]
    assert failed[0]["timestamp"] == "2024-01-03T02:00:00Z"
    assert retrains == ["2024-01-03T00:00:00Z", "2024-01-11T00:00:00Z"]  # back-off: 7 days after the failure


def test_a_year_of_hourly_scores_replays_as_8760_evaluations() -> None:
    """Its speed is `make bench`'s figure (evaluations per second), never a timed test."""
    document = seeded_config()
    (monitor,) = parse_catalog(document).monitors
    start = datetime(2024, 1, 1, tzinfo=UTC)
    series = [Observation(start + timedelta(hours=h), 0.05 + (h % 500) / 2000) for h in range(8760)]

    steps = replay(monitor, series, "v", Simulation(), series[0].at, series[-1].at)

    assert sum(1 for s in steps if s.kind == "evaluation") == 8760
    assert sum(1 for s in steps if s.retrain_started) >= 2  # the saw-tooth breaches more than once


@pytest.mark.parametrize("command", ["replay", "compare", "plot", "report", "simulate", "status", "history"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as leaving:
        main([command, "--help"])

    assert leaving.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: retrain-trigger {command}")
