"""`replay --all-monitors` and `compare --all-monitors` as a user runs them: the long file in CSV or Parquet, the
mistakes named in one line, and compare's score per configuration summing the monitors."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.cli.conftest import Run, write
from tests.cli.test_fleet_replay import FLEET, UNTIL, document, iso, scores, write_long_file


def replay(cli: Any, config: Path, long_file: Path, *extra: str) -> Run:
    run: Run = cli(
        "replay", "--config", config, "--scores", long_file, "--all-monitors", "--tick", "1h",
        "--retrain-duration", "3h", "--until", iso(UNTIL), *extra,
    )  # fmt: skip
    return run


def test_a_parquet_long_file_replays_exactly_as_the_same_csv(cli: Any, tmp_path: Path) -> None:
    config = write(tmp_path / "fleet.json", json.dumps(document()))
    rows = scores()

    from_csv = replay(cli, config, write_long_file(tmp_path / "scores.csv", rows))
    from_parquet = replay(cli, config, write_long_file(tmp_path / "scores.parquet", rows))

    assert from_csv.code == from_parquet.code == 0, from_parquet.err
    assert from_csv.lines() == from_parquet.lines()
    assert {line["monitor_id"] for line in from_csv.lines()} == set(FLEET)


def test_the_summary_sums_the_monitors_and_counts_the_digests(cli: Any, tmp_path: Path) -> None:
    config = write(tmp_path / "fleet.json", json.dumps(document()))

    run = replay(cli, config, write_long_file(tmp_path / "scores.csv", scores()), "--summary")

    summary = run.lines()[-1]["summary"]
    assert summary["monitors"] == 12 and summary["retrains"] == 12 and summary["digests"] == 2
    assert summary["retraining_monitors"] == FLEET
    assert summary["evaluations"] == 12 * 13  # every 6h over three days, both ends included


def test_a_file_without_monitor_id_is_refused_in_one_line(cli: Any, tmp_path: Path) -> None:
    config = write(tmp_path / "fleet.json", json.dumps(document()))
    single = write(tmp_path / "one.csv", "timestamp,drift_score\n2024-08-01T00:00:00Z,0.1\n")

    run = replay(cli, config, single)

    assert run.code == 2
    assert (
        run.err.strip()
        == f"retrain-trigger replay: error: {single}: missing column(s) monitor_id (a fleet's long file)"
    )


def test_rows_of_an_unconfigured_monitor_are_reported_once_and_left_out(cli: Any, tmp_path: Path) -> None:
    config = write(tmp_path / "fleet.json", json.dumps(document()))
    rows = [*scores(), ("retired-model", scores()[0][1], 0.9), ("retired-model", scores()[-1][1], 0.9)]

    run = replay(cli, config, write_long_file(tmp_path / "scores.csv", rows))

    assert run.code == 0
    assert "monitor 'retired-model' is not in the configuration; its 2 row(s) are left out" in run.err
    assert "retired-model" not in {line["monitor_id"] for line in run.lines()}


def test_all_monitors_with_one_monitor_chosen_is_refused(cli: Any, tmp_path: Path) -> None:
    config = write(tmp_path / "fleet.json", json.dumps(document()))

    run = replay(cli, config, write_long_file(tmp_path / "scores.csv", scores()), "--monitor", "model-00")

    assert run.code == 2 and "leave out --monitor" in run.err


def test_a_broken_monitor_is_named_rather_than_left_out_of_the_fleet(cli: Any, tmp_path: Path) -> None:
    broken = document()
    broken["monitors"][3]["reset"] = 0.5  # above critical
    config = write(tmp_path / "fleet.json", json.dumps(broken))

    run = replay(cli, config, write_long_file(tmp_path / "scores.csv", scores()))

    assert run.code == 2 and "model-03" in run.err and "reset" in run.err


def test_compare_on_a_fleet_scores_each_configuration_by_summing_its_monitors(cli: Any, tmp_path: Path) -> None:
    plain = write(tmp_path / "plain.json", json.dumps(document()))
    budgeted = write(tmp_path / "budgeted.json", json.dumps(document("budgeted")))
    long_file = write_long_file(tmp_path / "scores.csv", scores())

    run: Run = cli(
        "compare", "--config", plain, "--config", budgeted, "--scores", long_file, "--all-monitors",
        "--tick", "1h", "--retrain-duration", "3h", "--until", iso(UNTIL), "--json",
    )  # fmt: skip

    assert run.code == 0, run.err
    rows = {row["variant"]: row for row in run.lines()}
    single = {str(plain): replay(cli, plain, long_file, "--summary").lines()[-1]["summary"]}
    assert rows[str(plain)] | {"variant": None} == single[str(plain)] | {"variant": None}
    assert rows[str(plain)]["retrains"] == 12
    assert rows[str(budgeted)]["retrains"] < 12  # five an hour: the breakage is over before all eleven started


def test_the_fleet_replay_answers_each_approval_request_as_the_one_monitor_replay_does(
    cli: Any, tmp_path: Path
) -> None:
    needs_approval = document()
    needs_approval["defaults"]["approval"] = "required"
    config = write(tmp_path / "fleet.json", json.dumps(needs_approval))
    long_file = write_long_file(tmp_path / "scores.csv", scores())

    approved = replay(cli, config, long_file, "--approve-after", "2h").lines()
    never = replay(cli, config, long_file, "--approval", "never").lines()

    asked = {
        (r["monitor_id"], r["timestamp"]) for r in approved if r["state"] == "AWAITING_APPROVAL" and r["transition"]
    }
    started = [r for r in approved if "retrain" in r["actions"]]
    assert len(asked) == len(FLEET)
    assert sorted((r["monitor_id"], r["timestamp"]) for r in started) == sorted(
        (monitor_id, iso(datetime.fromisoformat(at) + timedelta(hours=2))) for monitor_id, at in asked
    )
    assert all(r["state"] == "RETRAINING" and r["reason"].startswith("approved by replay") for r in started)
    assert [r for r in never if "retrain" in r["actions"]] == []
