"""`retrain-trigger compare`: variants over the same history in parallel processes, scored on known episodes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from retrain_trigger.config import parse_catalog
from retrain_trigger_cli.compare import parse_sweep
from retrain_trigger_cli.errors import UsageError
from tests.cli.conftest import REFERENCE, Run, seeded_config, write

DAILY = ("--tick", "1d")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    document = seeded_config()
    document["defaults"]["every"] = "1d"
    return write(tmp_path / "daily.json", json.dumps(document))


@pytest.fixture
def noisy_year(cli: Any, tmp_path: Path) -> tuple[Path, Path]:
    """A year of daily scores with four labelled drift episodes and noise that a low threshold mistakes for drift."""
    scores, labels = tmp_path / "year.csv", tmp_path / "episodes.csv"
    cli(
        "simulate", "--preset", "gradual", "--days", "365", "--episodes", "4", "--duration", "30",
        "--baseline", "0.06", "--noise", "0.035", "--seed", "11", "--out", scores, "--labels", labels,
    )  # fmt: skip
    return scores, labels


def test_a_sweep_is_every_value_from_start_to_stop_inclusive() -> None:
    assert parse_sweep("critical=0.15:0.30:0.05") == ("critical", [0.15, 0.2, 0.25, 0.3])
    assert parse_sweep("cooldown=1d,7d") == ("cooldown", ["1d", "7d"])
    assert parse_sweep("datapoints_to_trigger=1,2") == ("datapoints_to_trigger", [1, 2])
    with pytest.raises(UsageError):
        parse_sweep("critical")


def test_each_variant_gets_one_row_and_the_reference_retrains_earlier_at_a_lower_threshold(
    cli: Any, config: Path
) -> None:
    run: Run = cli(
        "compare", "--config", config, "--scores", REFERENCE, *DAILY,
        "--sweep", "critical=0.16:0.22:0.02", "--json", "--workers", "2",
    )  # fmt: skip

    rows = {row["variant"]: row for row in run.lines()}
    assert list(rows) == ["critical=0.16", "critical=0.18", "critical=0.2", "critical=0.22"]
    assert [rows[v]["first_retrain"] for v in rows] == [
        "2024-08-07T00:00:00Z",  # 0.1614
        "2024-08-08T00:00:00Z",  # 0.1899
        "2024-08-09T00:00:00Z",  # 0.2186, the deployed default
        None,  # never above 0.22
    ]
    assert rows["critical=0.22"]["retrains"] == 0


def test_parallel_processes_give_the_rows_a_single_process_gives(cli: Any, config: Path) -> None:
    args = (
        "compare",
        "--config",
        config,
        "--scores",
        REFERENCE,
        *DAILY,
        "--sweep",
        "critical=0.12:0.24:0.03",
        "--json",
    )

    assert cli(*args, "--workers", "2").out == cli(*args, "--workers", "1").out


def test_two_config_files_compare_side_by_side_and_an_invalid_variant_says_why(
    cli: Any, config: Path, tmp_path: Path
) -> None:
    other = seeded_config()
    other["defaults"]["every"] = "1d"
    other["monitors"][0]["reset"] = 0.5  # above critical: the engine's own validation refuses it
    broken = write(tmp_path / "broken.json", json.dumps(other))

    run: Run = cli("compare", "--config", config, "--config", broken, "--scores", REFERENCE, *DAILY)

    assert run.code == 0
    lines = run.out.splitlines()
    assert lines[1].startswith(str(config)) and lines[1].split()[1] == "1"
    assert lines[2].startswith(f"{broken}  invalid: ")
    assert "reset" in lines[2] and "must not be above critical" in lines[2]


def test_labels_score_each_variant_on_the_episodes_it_caught_missed_and_retrained_outside(
    cli: Any, config: Path, noisy_year: tuple[Path, Path]
) -> None:
    scores, labels = noisy_year

    run: Run = cli(
        "compare", "--config", config, "--scores", scores, *DAILY, "--labels", labels,
        "--sweep", "critical=0.13,0.2,0.5", "--sweep", "reset=0.1", "--json",
    )  # fmt: skip

    low, default, high = run.lines()
    assert (low["episodes"], default["episodes"], high["episodes"]) == (4, 4, 4)
    assert low["retrains_outside_episodes"] > 0  # noise above 0.13 passes for drift
    assert default["caught"] == 4 and default["retrains_outside_episodes"] == 0
    assert high["caught"] < 4 and high["missed"] == 4 - high["caught"]
    assert low["median_delay_hours"] <= default["median_delay_hours"]


def test_best_prints_the_pareto_front_and_writes_the_chosen_configuration(
    cli: Any, config: Path, noisy_year: tuple[Path, Path], tmp_path: Path
) -> None:
    scores, labels = noisy_year
    chosen = tmp_path / "best.json"

    run: Run = cli(
        "compare", "--config", config, "--scores", scores, *DAILY, "--labels", labels,
        "--sweep", "critical=0.12:0.30:0.02", "--sweep", "reset=0.1,0.14", "--best", "--best-out", chosen,
        "--json",
    )  # fmt: skip

    *front, choice = run.lines()
    assert (choice["front"], choice["variants"]) == (len(front), 20)
    for row in front:  # on the front, nobody is beaten on every count
        assert not any(
            other["missed"] <= row["missed"]
            and other["median_delay_hours"] <= row["median_delay_hours"]
            and other["retrains"] <= row["retrains"]
            and sum(other["alerts"].values()) <= sum(row["alerts"].values())
            and other != row
            and (other["missed"], other["median_delay_hours"], other["retrains"], sum(other["alerts"].values()))
            != (row["missed"], row["median_delay_hours"], row["retrains"], sum(row["alerts"].values()))
            for other in front
        )
    best = min(front, key=lambda r: (r["missed"], r["retrains"], r["median_delay_hours"]))
    assert (choice["chosen"], choice["best_out"]) == (best["variant"], str(chosen))
    (monitor,) = parse_catalog(json.loads(chosen.read_text())).monitors  # deployable: the engine parses it
    assert f"critical={monitor.critical:g}" in best["variant"]
