"""Issue 16's defects in the CLI, one test each: messages, tuning and output, plots and simulation, and the quiet
mismatches a replay used to pass over without a word."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from retrain_trigger_cli import replay
from retrain_trigger_cli.__main__ import main
from retrain_trigger_cli.engine import Simulation
from retrain_trigger_cli.plot import DENSE_POINTS, drawn_series
from retrain_trigger_cli.scores import read_scores
from tests.cli.conftest import REFERENCE, Run, seeded_config, write

DAILY = ("--tick", "1d")


def config_file(tmp_path: Path, name: str = "monitors.json", **monitor: Any) -> Path:
    """The template's seeded one-monitor document, evaluated daily, with `monitor` set on its monitor."""
    document = seeded_config()
    document["defaults"]["every"] = "1d"
    document["monitors"][0].update(monitor)
    return write(tmp_path / name, json.dumps(document))


def hourly_scores(tmp_path: Path, hours: int, **columns: float) -> Path:
    start = datetime(2024, 3, 1, tzinfo=UTC)
    header = ",".join(["timestamp", "drift_score", *columns])
    rows = [
        ",".join([(start + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ"), "0.05", *map(str, columns.values())])
        for h in range(hours)
    ]
    return write(tmp_path / "hourly.csv", "\n".join([header, *rows]) + "\n")


# --- CLI messages ------------------------------------------------------------------------------------------------


def test_an_invalid_field_in_a_one_monitor_config_is_named_without_monitor(cli: Any, tmp_path: Path) -> None:
    run: Run = cli("replay", "--config", config_file(tmp_path, reset=0.5), "--scores", REFERENCE)

    assert run.code == 2
    assert "field 'reset': must not be above critical" in run.err
    assert "several monitors" not in run.err


def test_a_typoed_key_in_the_config_is_named_with_the_key_it_meant(cli: Any, tmp_path: Path) -> None:
    document = seeded_config()
    monitor = document["monitors"][0]
    monitor["critcal"] = monitor.pop("critical", 0.2)
    document["defaults"].pop("critical", None)

    run: Run = cli("replay", "--config", write(tmp_path / "typo.json", json.dumps(document)), "--scores", REFERENCE)

    assert run.code == 2
    assert "unknown key 'critcal' (did you mean 'critical'?)" in run.err


@pytest.mark.parametrize("tick", ["-1h", "-6h", "-15m", "-2w", "-7d"])
def test_a_negative_tick_is_refused_as_negative(tmp_path: Path, tick: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as leaving:
        main(["replay", "--config", str(config_file(tmp_path)), "--scores", str(REFERENCE), "--tick", tick])

    assert leaving.value.code == 2
    assert f"argument --tick: '{tick}': must not be negative" in capsys.readouterr().err


@pytest.mark.parametrize("cooldown", ["-1h", "-6h", "-15m", "-2w", "-7d"])
def test_a_negative_duration_in_the_config_is_refused_as_negative(cli: Any, tmp_path: Path, cooldown: str) -> None:
    run: Run = cli("replay", "--config", config_file(tmp_path, cooldown=cooldown), "--scores", REFERENCE)

    assert run.code == 2
    assert "field 'cooldown': must not be negative" in run.err


# --- tuning and output -------------------------------------------------------------------------------------------


def test_best_without_labels_refuses_to_choose(cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "tuned.json"

    run: Run = cli(
        "compare", "--config", config_file(tmp_path), "--scores", REFERENCE, *DAILY,
        "--sweep", "critical=0.15,0.2,0.5", "--best", "--best-out", out,
    )  # fmt: skip

    assert run.code == 2
    assert "--best needs --labels" in run.err
    assert not out.exists()  # "never retrain" is not written as the tuned configuration


def test_json_best_prints_only_json_lines(cli: Any, tmp_path: Path) -> None:
    labels = write(tmp_path / "labels.csv", "start,end\n2024-08-05T00:00:00Z,2024-08-10T00:00:00Z\n")

    run: Run = cli(
        "compare", "--config", config_file(tmp_path), "--scores", REFERENCE, *DAILY, "--labels", labels,
        "--sweep", "critical=0.15,0.2,0.5", "--best", "--best-out", tmp_path / "tuned.json", "--json",
    )  # fmt: skip

    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines and all(isinstance(json.loads(line), dict) for line in lines)
    assert json.loads(lines[-1])["chosen"]


def test_a_labels_row_that_ends_before_it_starts_is_refused_naming_the_row(cli: Any, tmp_path: Path) -> None:
    labels = write(
        tmp_path / "labels.csv",
        "start,end\n2024-08-01T00:00:00Z,2024-08-05T00:00:00Z\n2024-08-10T00:00:00Z,2024-08-06T00:00:00Z\n",
    )

    run: Run = cli(
        "compare", "--config", config_file(tmp_path), "--scores", REFERENCE, *DAILY, "--labels", labels,
        "--sweep", "critical=0.15,0.2",
    )  # fmt: skip

    assert run.code == 2
    assert f"{labels}:3: the episode ends (2024-08-06T00:00:00Z) before it starts (2024-08-10T00:00:00Z)" in run.err


def test_compare_scores_a_single_config_against_labels(cli: Any, tmp_path: Path) -> None:
    config = config_file(tmp_path)
    labels = write(tmp_path / "labels.csv", "start,end\n2024-08-03T00:00:00Z,2024-08-10T00:00:00Z\n")

    run: Run = cli("compare", "--config", config, "--scores", REFERENCE, *DAILY, "--labels", labels, "--json")

    assert run.code == 0, run.err
    (row,) = run.lines()
    assert (row["variant"], row["episodes"], row["caught"], row["median_delay_hours"]) == (str(config), 1, 1, 144.0)


# --- plots and simulation ----------------------------------------------------------------------------------------


def test_an_alert_is_marked_when_it_fired_not_at_the_newest_datapoint(cli: Any, tmp_path: Path) -> None:
    svg = tmp_path / "drift.svg"
    config = config_file(tmp_path)  # its no-data limit: max_age, two days at `every: 1d`

    run: Run = cli(
        "plot", "--config", config, "--scores", REFERENCE, *DAILY, "--until", "2024-08-12T00:00:00Z", "--out", svg
    )
    replayed: Run = cli("replay", "--config", config, "--scores", REFERENCE, *DAILY, "--until", "2024-08-12T00:00:00Z")

    assert run.code == 0, run.err
    no_data = [r for r in replayed.lines() if "no data" in r["reason"] and r["actions"]]
    assert [r["timestamp"] for r in no_data] == ["2024-08-12T00:00:00Z"]  # data stopped on 08-09
    assert "alert: no_data" in svg.read_text()
    result = replay.run(
        json.loads(config.read_text()), None, read_scores(REFERENCE), Simulation(tick=timedelta(days=1)),
        datetime(2024, 8, 12, tzinfo=UTC),
    )  # fmt: skip
    no_data_marks = [at for at, event in replay.marks(result).alerts if event == "no_data"]
    assert no_data_marks == [datetime(2024, 8, 12, tzinfo=UTC)]  # not 08-09, its newest datapoint


def test_a_gap_in_the_data_is_drawn_as_a_gap() -> None:
    days = [*range(0, 10), *range(20, 30)]  # ten days missing in the middle
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime([datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=d) for d in days]),
            "drift_score": [0.05] * len(days),
        }
    )

    line = drawn_series(frame).line

    breaks = line[line["drift_score"].isna()]
    assert len(breaks) == 1  # one break, inside the gap: matplotlib stops the line there
    assert datetime(2024, 1, 10, tzinfo=UTC) < breaks["timestamp"].iloc[0] < datetime(2024, 1, 21, tzinfo=UTC)
    assert line["drift_score"].notna().sum() == len(days)


def test_a_gap_is_a_break_in_the_drawn_line_of_the_figure(cli: Any, tmp_path: Path) -> None:
    rows = [f"2024-01-{d:02d}T00:00:00Z,0.05" for d in [*range(1, 11), *range(21, 31)]]
    scores = write(tmp_path / "gap.csv", "timestamp,drift_score\n" + "\n".join(rows) + "\n")
    svg = tmp_path / "gap.svg"

    run: Run = cli("plot", "--config", config_file(tmp_path), "--scores", scores, *DAILY, "--out", svg)

    assert run.code == 0, run.err
    # The score line is the one path drawn with the series' blue; a gap makes it two sub-paths (two moveto).
    paths = re.findall(r'<path d="([^"]*)"[^>]*style="fill: none; stroke: #1f77b4', svg.read_text())
    assert paths, "no score line found"
    assert max(path.count("M ") for path in paths) == 2


def test_a_year_of_hourly_scores_is_drawn_as_a_daily_band() -> None:
    hours = 8760
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=hours, freq="1h", tz="UTC"),
            "drift_score": [0.05 + (h % 24) / 1000 for h in range(hours)],
        }
    )

    drawn = drawn_series(frame)

    assert hours > DENSE_POINTS
    assert drawn.band is not None and len(drawn.band) == 365  # 2024 is a leap year: 8,760 hours end on 30 Dec
    assert len(drawn.line) == 365
    assert drawn.band["low"].iloc[0] == pytest.approx(0.05) and drawn.band["high"].iloc[0] == pytest.approx(0.073)


def test_the_figure_of_a_year_of_hourly_scores_says_it_draws_daily_ranges(cli: Any, tmp_path: Path) -> None:
    scores, svg = tmp_path / "year.csv", tmp_path / "year.svg"
    cli("simulate", "--days", "365", "--every", "1h", "--out", scores)

    run: Run = cli("plot", "--config", config_file(tmp_path), "--scores", scores, "--out", svg)

    assert run.code == 0, run.err
    text = svg.read_text()
    assert "drift score, daily min to max" in text and "daily max" in text


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--days", "-5", "--days -5: must be more than 0"),
        ("--days", "0", "--days 0: must be more than 0"),
        ("--noise", "-1", "--noise -1: must not be negative"),
        ("--gaps", "2", "--gaps 2: must be a share from 0 up to, not including, 1"),
        ("--gaps", "-0.1", "--gaps -0.1: must be a share"),
        ("--episodes", "-1", "--episodes -1: must not be negative"),
        ("--days", "nan", "--days nan: must be a finite number"),
    ],
)
def test_simulate_refuses_an_option_out_of_its_range(
    cli: Any, tmp_path: Path, option: str, value: str, words: str
) -> None:
    out = tmp_path / "s.csv"

    run: Run = cli("simulate", option, value, "--out", out)

    assert run.code == 2
    assert words in run.err
    assert not out.exists()


def test_simulate_writes_lf_line_endings_and_says_one_episode_in_the_singular(cli: Any, tmp_path: Path) -> None:
    scores, labels = tmp_path / "s.csv", tmp_path / "labels.csv"

    run: Run = cli("simulate", "--out", scores, "--labels", labels)

    assert b"\r" not in scores.read_bytes() and b"\r" not in labels.read_bytes()
    assert scores.read_bytes().count(b"\n") == 31  # the header and 30 days
    assert f"wrote {labels}: 1 drift episode\n" in run.out


# --- quiet mismatches --------------------------------------------------------------------------------------------


def test_a_guard_on_a_column_the_scores_lack_is_refused_up_front(cli: Any, tmp_path: Path) -> None:
    config = config_file(tmp_path, guards=[{"metric": "accuracy", "below": 0.85}])

    for command in (
        ("replay",),
        ("plot", "--out", tmp_path / "g.png"),
        ("compare", "--sweep", "critical=0.2,0.3"),
    ):
        run: Run = cli(*command, "--config", config, "--scores", REFERENCE, *DAILY)

        assert run.code == 2
        assert "monitor 'churn-model': guard metric 'accuracy' is not a column of reference_drift_scores.csv" in run.err
    assert not (tmp_path / "g.png").exists()


def test_a_guard_on_a_column_the_scores_have_replays(cli: Any, tmp_path: Path) -> None:
    config = config_file(tmp_path, guards=[{"metric": "accuracy", "below": 0.85}])

    run: Run = cli("replay", "--config", config, "--scores", hourly_scores(tmp_path, 48, accuracy=0.9), *DAILY)

    assert run.code == 0, run.err


def test_a_daily_monitor_on_hourly_scores_warns_how_many_datapoints_are_evaluated(cli: Any, tmp_path: Path) -> None:
    run: Run = cli("replay", "--config", config_file(tmp_path), "--scores", hourly_scores(tmp_path, 72))

    assert run.code == 0
    assert len(run.lines()) == 3  # 00:00 on each of the three days
    assert run.err == (
        "warning: monitor 'churn-model' is evaluated every 1d on datapoints every 1h: 3 of 72 datapoints are "
        "evaluated (set every and --tick to the data's interval to evaluate them all)\n"
    )


def test_an_hourly_monitor_on_hourly_scores_says_nothing(cli: Any, tmp_path: Path) -> None:
    config = config_file(tmp_path, every="1h")

    run: Run = cli("replay", "--config", config, "--scores", hourly_scores(tmp_path, 72))

    assert (run.code, run.err, len(run.lines())) == (0, "", 72)
