"""`retrain-trigger plot` draws a real figure; `retrain-trigger simulate` writes the series its presets describe."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import matplotlib.image as mpimg
import numpy as np

from retrain_trigger_cli.scores import read_scores
from tests.cli.conftest import REFERENCE, Run, seeded_config, write


def test_plot_writes_a_real_png_of_the_figures_size_and_an_svg(
    cli: Any, tmp_path: Path, seeded_config_file: Path
) -> None:
    out = tmp_path / "figure" / "drift.png"

    run: Run = cli(
        "plot", "--config", seeded_config_file, "--scores", REFERENCE, "--until", "2024-08-11T00:00:00Z",
        "--out", out, "--svg",
    )  # fmt: skip

    assert run.code == 0, run.err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = mpimg.imread(out)
    assert pixels.shape[:2] == (528, 1210)  # 11 x 4.8 inches at 110 dpi
    assert len(np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0)) > 50  # drawn, not a blank canvas
    assert out.with_suffix(".svg").read_text().lstrip().startswith("<?xml")


def test_the_plot_marks_the_retraining_and_shades_grace_and_the_open_episode(
    cli: Any, tmp_path: Path, seeded_config_file: Path
) -> None:
    svg = tmp_path / "drift.svg"

    cli("plot", "--config", seeded_config_file, "--scores", REFERENCE, "--until", "2024-08-11T00:00:00Z", "--out", svg)

    text = svg.read_text()
    for label in ("retrain 2024-08-09", "grace period", "open episode", "alert: warning", "critical 0.2", "reset 0.15"):
        assert label in text


def test_simulate_writes_a_reproducible_series_with_its_episodes_as_labels(cli: Any, tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    labels = tmp_path / "labels.csv"

    cli("simulate", "--preset", "sudden", "--days", "60", "--seed", "7", "--out", first, "--labels", labels)
    cli("simulate", "--preset", "sudden", "--days", "60", "--seed", "7", "--out", second)

    assert first.read_text() == second.read_text()
    series = read_scores(first)
    assert len(series.observations) == 60
    ((start, end),) = [(row["start"], row["end"]) for row in csv.DictReader(labels.open())]
    inside = [o.score for o in series.observations if start <= o.at.strftime("%Y-%m-%dT%H:%M:%SZ") < end]
    before = [o.score for o in series.observations if o.at.strftime("%Y-%m-%dT%H:%M:%SZ") < start]
    assert min(inside) > max(before)  # the sudden jump of 0.2 stands out of the baseline noise


def test_simulate_gaps_leave_empty_scores_that_replay_treats_as_missing(cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "gaps.csv"

    run: Run = cli("simulate", "--preset", "gaps", "--days", "200", "--out", out)

    rows = list(csv.DictReader(out.open()))
    empty = sum(1 for row in rows if row["drift_score"] == "")
    assert len(rows) == 200
    assert 25 <= empty <= 75  # a quarter of the points, give or take the seed's luck
    assert f"{200 - empty} datapoints, {empty} gaps" in run.out
    assert read_scores(out).problems == ()  # a gap is no bad row


def test_a_simulated_gradual_rise_is_caught_by_the_seeded_monitor(cli: Any, tmp_path: Path) -> None:
    scores, labels = tmp_path / "rise.jsonl", tmp_path / "labels.csv"
    cli("simulate", "--preset", "gradual", "--out", scores, "--labels", labels)
    document = seeded_config()
    document["defaults"]["every"] = "1d"
    config = write(tmp_path / "daily.json", json.dumps(document))

    lines = cli("replay", "--config", config, "--scores", scores, "--tick", "1d").lines()

    ((start, _),) = [(row["start"], row["end"]) for row in csv.DictReader(labels.open())]
    retrains = [line["timestamp"] for line in lines if "retrain" in line["actions"]]
    assert len(retrains) == 1
    assert retrains[0] > start  # after the onset, once 0.01 a day has climbed past critical


def test_the_flapping_preset_hovers_around_the_critical_level(cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "flap.parquet"

    cli("simulate", "--preset", "flapping", "--days", "90", "--out", out)

    scores = [o.score for o in read_scores(out).observations]
    above = sum(1 for s in scores if s > 0.2)
    assert 20 < above < 70
