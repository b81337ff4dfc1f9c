"""`retrain-trigger replay` on a monitor with `approval: required`: the replay feeds each request's simulated
answer (`--approve-after DURATION`, or `--approval never`) through the engine's own `on_command`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Run, seeded_config, write

DAILY = ("--tick", "1d")
SCORES = (
    "timestamp,drift_score\n"
    "2024-01-01T00:00:00Z,0.05\n2024-01-02T00:00:00Z,0.25\n2024-01-03T00:00:00Z,0.26\n"
    "2024-01-04T00:00:00Z,0.27\n2024-01-05T00:00:00Z,0.28\n2024-01-06T00:00:00Z,0.29\n"
)


def approving(tmp_path: Path, **monitor: Any) -> tuple[Path, Path]:
    document = seeded_config()
    document["defaults"]["every"] = "1d"
    document["monitors"][0].update({"approval": "required", **monitor})
    return write(tmp_path / "c.json", json.dumps(document)), write(tmp_path / "s.csv", SCORES)


def rows(run: Run) -> list[tuple[str, str, list[str]]]:
    assert run.code == 0, run.err
    return [(line["timestamp"][5:13], line["state"], line["actions"]) for line in run.lines()]


def test_approve_after_starts_the_retraining_that_long_after_the_request(cli: Any, tmp_path: Path) -> None:
    config, scores = approving(tmp_path)

    run: Run = cli("replay", "--config", config, "--scores", scores, *DAILY, "--approve-after", "6h")

    assert rows(run)[:5] == [
        ("01-01T00", "OK", []),
        ("01-02T00", "AWAITING_APPROVAL", ["alert:critical"]),
        ("01-02T06", "RETRAINING", ["retrain", "alert:critical"]),  # approved six hours later
        ("01-02T09", "RETRAINED", []),  # the simulated pipeline, three hours after its start
        ("01-03T00", "RETRAINED", []),
    ]
    assert sum("retrain" in actions for _, _, actions in rows(run)) == 1
    assert "awaits approval" in run.lines()[1]["reason"]


def test_without_a_flag_each_request_is_approved_at_once(cli: Any, tmp_path: Path) -> None:
    config, scores = approving(tmp_path)

    run: Run = cli("replay", "--config", config, "--scores", scores, *DAILY)

    assert rows(run)[1:3] == [
        ("01-02T00", "AWAITING_APPROVAL", ["alert:critical"]),
        ("01-02T00", "RETRAINING", ["retrain", "alert:critical"]),
    ]


def test_approval_never_lets_the_request_expire_and_never_retrains(cli: Any, tmp_path: Path) -> None:
    config, scores = approving(tmp_path, approval_timeout="2d")

    run: Run = cli("replay", "--config", config, "--scores", scores, *DAILY, "--approval", "never")

    assert rows(run) == [
        ("01-01T00", "OK", []),
        ("01-02T00", "AWAITING_APPROVAL", ["alert:critical"]),
        ("01-03T00", "AWAITING_APPROVAL", []),
        ("01-04T00", "ALARM", ["alert:error"]),  # 2d after the request
        ("01-05T00", "ALARM", []),
        ("01-06T00", "ALARM", []),
    ]
    assert "expired unanswered" in run.lines()[3]["reason"]


def test_approve_after_and_approval_never_exclude_each_other(
    cli: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, scores = approving(tmp_path)

    with pytest.raises(SystemExit) as exit_code:
        cli("replay", "--config", config, "--scores", scores, "--approve-after", "1h", "--approval", "never")

    assert exit_code.value.code == 2 and "not allowed with argument --approve-after" in capsys.readouterr().err
