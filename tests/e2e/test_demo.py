"""The README's demo command, run as a user runs it: a subprocess, an embedded moto server, template.yaml."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_demo(tmp_path: Path, *args: str) -> tuple[dict[str, object], str]:
    completed = subprocess.run(
        [sys.executable, "-m", "retrain_trigger_local.demo", "--out", str(tmp_path), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    last = [line for line in completed.stdout.splitlines() if line.startswith("{")][-1]
    return json.loads(last), completed.stdout


@pytest.mark.e2e
def test_the_reference_scenario_retrains_once_on_2024_08_09_as_moto_records_it(tmp_path: Path) -> None:
    summary, output = run_demo(tmp_path)

    assert summary["scenario"] == "reference"
    assert summary["evaluations"] == 30
    assert summary["retrains"] == 1
    assert summary["first_retrain"] == "2024-08-09"
    assert summary["pipeline_executions"] == 1
    assert summary["retrain_requests"] == 1
    assert summary["alerts"] == 2  # the warning on 2024-08-03, the retraining on 2024-08-09
    assert "[CRITICAL] churn-model drift 0.2186 > 0.2: retraining started" in output
    assert (tmp_path / "drift.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.e2e
def test_the_demo_reads_the_same_scenario_from_a_cloudwatch_metric(tmp_path: Path) -> None:
    summary, _ = run_demo(tmp_path, "--source", "cloudwatch")

    assert summary["source"] == "cloudwatch"
    assert (summary["retrains"], summary["first_retrain"], summary["pipeline_executions"]) == (1, "2024-08-09", 1)


@pytest.mark.e2e
def test_any_csv_with_extra_metric_columns_can_drive_a_guarded_monitor(tmp_path: Path) -> None:
    scores = tmp_path / "scores.csv"
    scores.write_text(
        "timestamp,drift_score,accuracy\n"
        "2024-09-01T00:00:00Z,0.05,0.93\n"
        "2024-09-02T00:00:00Z,0.25,0.91\n"  # drift, but accuracy still fine: alert only
        "2024-09-03T00:00:00Z,0.26,0.80\n"  # the guard now holds: retrain in the same episode
        "2024-09-04T00:00:00Z,0.27,0.79\n"
    )
    summary, output = run_demo(tmp_path, "--scores", str(scores), "--guard", "accuracy<0.85")

    assert summary["scenario"] == "scores"
    assert (summary["retrains"], summary["first_retrain"], summary["pipeline_executions"]) == (1, "2024-09-03", 1)
    assert "retraining blocked: guard accuracy < 0.85 does not hold" in output
