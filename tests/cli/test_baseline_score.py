"""`retrain-trigger baseline` and `retrain-trigger score`: a reference's profile, then current data scored against it.

data/data_capture_sample.jsonl has the shape SageMaker data capture writes to S3 (one JSON object a line:
captureData.endpointInput/endpointOutput with observedContentType, mode, data and encoding; eventMetadata with eventId
and inferenceTime; eventVersion "0"), as the SageMaker Developer Guide's data capture page and the Model Monitor
sample notebooks show it; one record holds a batch of two CSV rows, one is BASE64-encoded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.cli.conftest import ROOT, run_process, write

CAPTURE = ROOT / "data" / "data_capture_sample.jsonl"


@pytest.fixture
def reference_and_current(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(7)
    n = 5_000
    reference = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 0.5, n),
            "region": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
        }
    )
    current = pd.DataFrame(
        {
            "age": rng.normal(46, 10, n),  # drifted
            "income": rng.lognormal(10, 0.5, n),
            "region": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
        }
    )
    current.loc[current.index[:250], "income"] = np.nan
    reference_path, current_path = tmp_path / "train.parquet", tmp_path / "today.csv"
    reference.to_parquet(reference_path)
    current.to_csv(current_path, index=False)
    return reference_path, current_path


def test_baseline_writes_a_small_profile_never_the_data(cli: Any, reference_and_current: tuple[Path, Path]) -> None:
    reference, _ = reference_and_current
    out = reference.with_name("profile.json")
    run = cli("baseline", reference, "--out", out)

    assert run.code == 0, run.err
    profile = json.loads(out.read_text())
    assert profile["rows"] == 5_000
    assert profile["columns"]["region"]["frequencies"] == pytest.approx(
        {"north": 0.5, "south": 0.3, "east": 0.2}, abs=0.02
    )
    age = profile["columns"]["age"]
    assert len(age["quantiles"]) == 1001
    assert age["bin_edges"] == pytest.approx(
        np.quantile(pd.read_parquet(reference)["age"], np.arange(1, 10) / 10).tolist()
    )
    # bounded by the quantile count, not by the rows: about 55 KB a numeric column whatever the reference's size
    assert out.stat().st_size < 2 * 64_000 + 1_000


def test_score_prints_one_json_object_with_per_feature_values(
    cli: Any, reference_and_current: tuple[Path, Path]
) -> None:
    reference, current = reference_and_current
    profile = reference.with_name("profile.json")
    cli("baseline", reference, "--out", profile)
    run = cli("score", current, "--profile", profile, "--method", "ks", "--combine", "max", "--json")

    assert run.code == 0, run.err
    result = json.loads(run.out)
    assert set(result) >= {"score", "method", "combine", "sample_count", "features"}
    assert result["sample_count"] == 5_000
    assert result["features"]["age"]["drifted"] is True
    assert result["features"]["income"]["drifted"] is False
    assert result["features"]["income"]["missing"] == 250
    ref, cur = pd.read_parquet(reference)["age"], pd.read_csv(current)["age"]
    assert result["features"]["age"]["value"] == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=0.005)
    assert result["score"] == max(f["value"] for f in result["features"].values())


def test_score_on_data_capture_maps_headerless_columns_by_the_profiles_order(cli: Any, tmp_path: Path) -> None:
    profile = tmp_path / "profile.json"
    assert cli("baseline", CAPTURE, "--out", profile, "--categorical", "_c4").code == 0
    run = cli("score", CAPTURE, "--profile", profile, "--method", "psi", "--json")

    assert run.code == 0, run.err
    result = json.loads(run.out)
    assert result["sample_count"] == 30  # 24 records, six of them a batch of two rows
    assert list(result["features"]) == ["_c0", "_c1", "_c2", "_c3", "_c4"]
    assert result["score"] == 0.0  # the same data: nothing drifted


def test_the_data_capture_sample_is_read_by_line_including_the_base64_record(cli: Any, tmp_path: Path) -> None:
    profile = tmp_path / "profile.json"
    cli("baseline", CAPTURE, "--out", profile)
    assert json.loads(profile.read_text())["columns"]["_c0"]["count"] == 30


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"captureData": {"endpointOutput": {}}}\n', "line 1: not a data capture record"),
        (
            json.dumps({"captureData": {"endpointInput": {"data": "1,2", "encoding": "JSON"}}}) + "\n",
            "line 1: captureData.endpointInput.encoding 'JSON'",
        ),
    ],
)
def test_a_malformed_capture_file_is_refused_naming_the_line_and_field(
    cli: Any, tmp_path: Path, text: str, message: str
) -> None:
    run = cli("baseline", write(tmp_path / "bad.jsonl", text), "--out", tmp_path / "p.json")
    assert run.code == 2
    assert message in run.err
    assert "bad.jsonl" in run.err


def test_a_current_file_without_a_profiled_column_is_refused_naming_it(
    cli: Any, reference_and_current: tuple[Path, Path], tmp_path: Path
) -> None:
    reference, _ = reference_and_current
    profile = tmp_path / "profile.json"
    cli("baseline", reference, "--out", profile)
    run = cli("score", write(tmp_path / "partial.csv", "age,income\n1,2\n"), "--profile", profile)
    assert run.code == 2
    assert "column region: in the profile, not in the current data" in run.err


def test_a_malformed_profile_is_refused_naming_the_field(cli: Any, tmp_path: Path) -> None:
    column = {"kind": "numeric", "count": 1, "missing": 0}
    document = {"version": 1, "rows": 1, "quantile_steps": 1000, "bins": 10, "columns": {"age": column}}
    bad = write(tmp_path / "p.json", json.dumps(document))
    run = cli("score", CAPTURE, "--profile", bad)
    assert run.code == 2
    assert "columns.age.quantiles: not a list of numbers" in run.err


def test_score_runs_as_a_user_types_it(tmp_path: Path) -> None:
    profile = tmp_path / "profile.json"
    assert run_process("baseline", CAPTURE, "--out", profile).returncode == 0
    done = run_process("score", CAPTURE, "--profile", profile)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("score 0.0000 (psi, share_drifted) on 30 rows")


def test_a_critical_feature_above_its_threshold_is_named_whatever_the_combined_score(
    cli: Any, reference_and_current: tuple[Path, Path]
) -> None:
    reference, current = reference_and_current
    profile = reference.with_name("profile.json")
    cli("baseline", reference, "--out", profile)
    run = cli("score", current, "--profile", profile, "--method", "ks", "--combine", "mean", "--feature-threshold",
              "0.2", "--critical", "age", "--critical", "income", "--json")  # fmt: skip

    result = json.loads(run.out)
    assert result["score"] < 0.2 < result["features"]["age"]["value"]
    assert result["critical_drifted"] == ["age"]


def test_workers_save_their_state_and_a_merge_gives_the_single_pass_score(
    cli: Any, reference_and_current: tuple[Path, Path], tmp_path: Path
) -> None:
    reference, current = reference_and_current
    profile = tmp_path / "profile.json"
    cli("baseline", reference, "--out", profile)
    frame = pd.read_csv(current)
    first, second = tmp_path / "part-1.csv", tmp_path / "part-2.csv"
    frame.iloc[:1_800].to_csv(first, index=False)
    frame.iloc[1_800:].to_csv(second, index=False)
    for part in (first, second):
        assert cli("score", part, "--profile", profile, "--save-state", part.with_suffix(".state.json")).code == 0

    merged = cli("score", "--profile", profile, "--merge", first.with_suffix(".state.json"),
                 second.with_suffix(".state.json"), "--method", "wasserstein", "--json")  # fmt: skip
    whole = cli("score", current, "--profile", profile, "--method", "wasserstein", "--json")

    assert merged.code == 0, merged.err
    assert json.loads(merged.out)["sample_count"] == 5_000
    for name, feature in json.loads(whole.out)["features"].items():
        assert json.loads(merged.out)["features"][name]["value"] == pytest.approx(feature["value"], rel=1e-9)


def test_a_state_from_another_profile_is_refused_naming_the_column(cli: Any, tmp_path: Path) -> None:
    profile = tmp_path / "profile.json"
    cli("baseline", CAPTURE, "--out", profile)
    bad = write(tmp_path / "state.json", json.dumps({"rows": 3, "columns": {}}))
    run = cli("score", "--profile", profile, "--merge", bad)
    assert run.code == 2
    assert "columns._c0: not this profile's accumulated state" in run.err
