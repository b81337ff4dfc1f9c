"""The README's demo command, run as a user runs it: a subprocess, an embedded moto server, template.yaml."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def demo_process(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`make demo` as a user runs it: a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "retrain_trigger_local.demo", "--out", str(tmp_path), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def run_demo(tmp_path: Path, *args: str) -> tuple[dict[str, object], str]:
    completed = demo_process(tmp_path, *args)
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
    assert "dashboard retrain-trigger-demo-retrain-trigger (CloudWatch" in output  # the template's, on moto


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


# --- issue 16: the demo's defects -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_with_holes(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One DynamoDB demo on a CSV with empty score cells (2024-09-02, 09-03) and no row at all on 2024-09-05."""
    out = tmp_path_factory.mktemp("holes")
    scores = out / "holes.csv"
    scores.write_text(
        "timestamp,drift_score\n"
        "2024-09-01T00:00:00Z,0.05\n"
        "2024-09-02T00:00:00Z,\n"
        "2024-09-03T00:00:00Z,\n"
        "2024-09-04T00:00:00Z,0.25\n"
        "2024-09-06T00:00:00Z,0.26\n"
    )
    return demo_process(out, "--scores", str(scores)), out


def table(stdout: str) -> list[str]:
    """The per-day lines the demo prints between its header and the first blank line."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("date "))
    return lines[start + 1 : lines.index("", start)]


@pytest.mark.e2e
def test_empty_score_cells_replay_as_missing_data_without_a_traceback(
    demo_with_holes: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    completed, out = demo_with_holes

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Traceback" not in completed.stderr
    summary = json.loads(completed.stdout.splitlines()[-1])
    assert (summary["retrains"], summary["first_retrain"]) == (1, "2024-09-04")
    assert (out / "drift.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.e2e
def test_the_demo_prints_one_line_per_day_and_a_day_without_a_score_shows_as_one(
    demo_with_holes: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    completed, _ = demo_with_holes

    days = [line.split()[:2] for line in table(completed.stdout) if line[:1].isdigit()]
    assert days == [
        ["2024-09-01", "0.0500"],
        ["2024-09-02", "-"],
        ["2024-09-03", "-"],
        ["2024-09-04", "0.2500"],
        ["2024-09-05", "-"],
        ["2024-09-06", "0.2600"],
    ]


@pytest.mark.e2e
def test_moto_runs_no_function_from_the_score_stream_so_no_docker_errors(
    demo_with_holes: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    completed, out = demo_with_holes

    everything = completed.stdout + completed.stderr + (out / "lambda.log").read_text()
    assert "error running docker" not in everything
    assert "JSONDecodeError" not in everything
    assert "demo detached the event-source mappings of retrain-trigger-demo-ScoreTable" in completed.stdout


DEMO_MISTAKES = [
    pytest.param(("--scores", "nope.csv"), "nope.csv: no such file", id="a missing file"),
    pytest.param(("--scores", "{header}"), "no datapoints", id="a header-only CSV"),
    pytest.param(("--scores", "{badcol}"), "missing column(s) drift_score", id="a CSV without drift_score"),
    pytest.param(("--guard", "accuracy<0.85"), "--guard 'accuracy'", id="a guard on a column the CSV lacks"),
    pytest.param(("--guard", "accuracy"), "write it as METRIC<VALUE", id="a guard without a bound"),
    pytest.param(("--reset", "0.5"), "field 'reset': must not be above critical", id="a reset above critical"),
    pytest.param(("--pipeline", "Bad_Name"), "parameter PipelineName", id="a pipeline name SageMaker refuses"),
    pytest.param(("--critical", "high"), "argument --critical: invalid float value", id="a level that is a word"),
    pytest.param(("--source", "kafka"), "argument --source: invalid choice", id="an unknown source"),
    pytest.param(("--colour", "blue"), "unrecognized arguments: --colour", id="an unknown flag"),
]


@pytest.mark.e2e
@pytest.mark.parametrize(("args", "words"), DEMO_MISTAKES)
def test_a_users_mistake_is_one_line_on_stderr_and_exit_code_2(
    tmp_path: Path, args: tuple[str, ...], words: str
) -> None:
    header = tmp_path / "header.csv"
    header.write_text("timestamp,drift_score\n")
    badcol = tmp_path / "badcol.csv"
    badcol.write_text("timestamp,score\n2024-09-01T00:00:00Z,0.05\n")

    completed = demo_process(tmp_path / "out", *(a.format(header=header, badcol=badcol) for a in args))

    assert completed.returncode == 2
    assert len(completed.stderr.splitlines()) == 1, completed.stderr
    assert words in completed.stderr and "Traceback" not in completed.stderr
    assert completed.stdout == ""  # refused before moto starts


# --- issue 15: a score from many features ----------------------------------------------------------------------------


@pytest.mark.e2e
def test_the_multi_feature_scenario_retrains_on_the_same_day_and_draws_and_names_the_top_features(
    tmp_path: Path,
) -> None:
    summary, output = run_demo(tmp_path, "--features")

    assert summary["scenario"] == "features"
    # income, a critical feature, breaches on its own above 0.15 on 2024-08-07 (the score 0.1614 < critical 0.2)
    assert (summary["retrains"], summary["first_retrain"], summary["pipeline_executions"]) == (1, "2024-08-07", 1)
    assert "critical feature income 0.1614 above its threshold (drift 0.1614, critical 0.2)" in output
    assert "top features: income 0.1614, age 0.1007, tenure 0.0968" in output  # ranked by value
    assert (tmp_path / "features.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
