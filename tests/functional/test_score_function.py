"""The ScoreFunction: the newest window of SageMaker data capture under an S3 prefix, scored against a profile from
S3, written to the score table (built from template.yaml) as one item, by the real handler under moto."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from boto3.dynamodb.types import TypeDeserializer

from retrain_trigger.adapters.clients import aws_client
from retrain_trigger_drift_data import job
from retrain_trigger_drift_data.metrics import Scorer
from retrain_trigger_drift_data.profile import Profile, build_profile
from retrain_trigger_drift_data.tables import capture_chunks
from retrain_trigger_local.intrinsics import Resolver, effective_parameters, evaluate_conditions
from retrain_trigger_local.runtime import load_handler
from retrain_trigger_local.sam_package import translate_template
from retrain_trigger_local.template import ROOT, read_template
from tests.support import resources
from tests.support.world import context, event

BUCKET = "capture-bucket"
PREFIX = "datacapture/churn-endpoint/AllTraffic/"
PARAMETERS = {"ScoreDataBucket": BUCKET, "ScoreDataPrefix": PREFIX}
rng = np.random.default_rng(3)


def capture_lines(rows: np.ndarray) -> list[str]:
    """Data capture records as SageMaker writes them (see data/data_capture_sample.jsonl), 10 requests each."""
    lines = []
    for start in range(0, len(rows), 10):
        payload = "\n".join(",".join(f"{v:.6g}" for v in row) for row in rows[start : start + 10])
        record = {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": payload,
                    "encoding": "CSV",
                },
                "endpointOutput": {
                    "observedContentType": "text/csv",
                    "mode": "OUTPUT",
                    "data": "0.5",
                    "encoding": "CSV",
                },
            },
            "eventMetadata": {"eventId": f"e{start}", "inferenceTime": "2026-12-07T02:00:00Z"},
            "eventVersion": "0",
        }
        lines.append(json.dumps(record))
    return lines


def table(n: int, shift: float) -> np.ndarray:
    return np.column_stack([rng.normal(shift, 1, n), rng.exponential(1, n), rng.integers(0, 4, n).astype(float)])


def score_function_environment(score_table: str) -> dict[str, str]:
    """The ScoreFunction's variables as template.yaml sets them, with the data bucket and prefix given."""
    template = read_template()
    values = effective_parameters(template, PARAMETERS)
    resolver = Resolver(
        stack_name=resources.STACK_NAME,
        resources=template["Resources"],
        values=values,
        conditions=evaluate_conditions(template, values),
        region=resources.REGION,
    )
    variables = resolver.resolve(template["Resources"]["ScoreFunction"]["Properties"]["Environment"]["Variables"])
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    powertools = {k: resolver.resolve(v) for k, v in shared.items() if k.startswith("POWERTOOLS_")}
    # SCORE_TABLE_NAME comes from the Globals, as the other functions' table names do
    return {**{k: str(v) for k, v in (powertools | variables).items()}, "SCORE_TABLE_NAME": score_table}


@pytest.fixture
def deployed(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    score_table = resources.create_score_table(aws_client("dynamodb"))
    env = score_function_environment(score_table)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reference = capture_lines(table(3_000, 0.0))
    profile = build_profile(capture_chunks(reference), categorical=["_c2"])
    s3.put_object(Bucket=BUCKET, Key=env["SCORE_PROFILE_KEY"], Body=json.dumps(profile.as_json()).encode())
    job.get_score_settings.cache_clear()
    yield env
    job.get_score_settings.cache_clear()


def put_capture(key: str, lines: list[str]) -> None:
    aws_client("s3").put_object(Bucket=BUCKET, Key=PREFIX + key, Body=("\n".join(lines) + "\n").encode())


def run(at: datetime) -> dict[str, Any]:
    handler = load_handler("score")
    result: dict[str, Any] = handler.lambda_handler(
        event("scheduled.json", time=at.strftime("%Y-%m-%dT%H:%M:%SZ")), context()
    )
    return result


def items(score_table: str) -> list[dict[str, Any]]:
    deserializer = TypeDeserializer()
    raw = aws_client("dynamodb").scan(TableName=score_table)["Items"]
    return [{k: deserializer.deserialize(v) for k, v in item.items()} for item in raw]


def soon() -> datetime:
    # the window ends at the run's time: a second ahead of the objects just written
    return (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)


def test_the_newest_window_is_scored_and_written_with_sample_count_and_features(deployed: dict[str, str]) -> None:
    first, second = capture_lines(table(400, 0.8)), capture_lines(table(200, 0.8))
    put_capture("2026/12/07/02/a.jsonl", first)
    put_capture("2026/12/07/02/b.jsonl", second)
    at = soon()

    result = run(at)

    assert result["written"] is True
    assert result["objects"] == 2
    [item] = items(deployed["SCORE_TABLE_NAME"])
    profile = Profile.from_json(
        json.loads(aws_client("s3").get_object(Bucket=BUCKET, Key=deployed["SCORE_PROFILE_KEY"])["Body"].read())
    )
    expected = Scorer(profile).add_all(capture_chunks(first + second, list(profile.order))).result("psi")
    assert item["monitor_id"] == deployed["SCORE_MONITOR_ID"]
    assert item["timestamp"] == at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert item["sample_count"] == 600
    assert item["drift_score"] == pytest.approx(Decimal(repr(round(expected.score or 0.0, 10))))
    assert item["drifted"] == ["_c0"]  # the shifted column, and only it
    assert set(item) >= {"_c0", "_c1", "_c2", "drift_method"}
    assert float(item["_c0"]) > 0.2 > float(item["_c1"])


def test_a_retried_run_writes_the_same_item_again_not_a_second_one(deployed: dict[str, str]) -> None:
    put_capture("2026/12/07/02/a.jsonl", capture_lines(table(300, 0.0)))
    at = soon()
    run(at)
    first = items(deployed["SCORE_TABLE_NAME"])
    run(at)
    assert items(deployed["SCORE_TABLE_NAME"]) == first


def test_nothing_in_the_window_writes_nothing(deployed: dict[str, str]) -> None:
    put_capture("2026/12/07/02/a.jsonl", capture_lines(table(100, 0.0)))
    result = run(soon() + timedelta(minutes=61))  # written before the 60 minute window began
    assert result == {**result, "written": False, "objects": 0, "reason": "no data in the window"}
    assert items(deployed["SCORE_TABLE_NAME"]) == []


def test_a_malformed_capture_object_is_refused_naming_it_and_nothing_is_written(
    deployed: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    put_capture("2026/12/07/02/a.jsonl", capture_lines(table(100, 0.0)))
    put_capture("2026/12/07/02/bad.jsonl", ['{"captureData": {"endpointInput": {"data": "1,2,3"}}}', "not json"])

    with pytest.raises(job.ScoreJobError, match=r"s3://capture-bucket/datacapture/.*/bad\.jsonl line 2: not a data"):
        run(soon())
    assert items(deployed["SCORE_TABLE_NAME"]) == []
    [logged] = [r for r in caplog.records if r.getMessage() == "drift score not written"]
    assert logged.__dict__["monitor_id"] == deployed["SCORE_MONITOR_ID"]
    assert "bad.jsonl line 2" in logged.__dict__["problem"]


def test_the_window_is_the_objects_written_in_the_last_minutes_up_to_the_run() -> None:
    now = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    objects = [job.DataObject(str(m), now - timedelta(minutes=m), 1) for m in (-1, 0, 59, 60, 61)]
    assert [o.key for o in job.window(objects, now, 60)] == ["59", "0"]


def test_the_score_function_and_its_numpy_layer_are_off_by_default() -> None:
    resources_ = translate_template(read_template())["Resources"]
    drift_layers = [lid for lid in resources_ if lid.startswith("DriftLayer")]  # SAM suffixes a layer's id
    assert len(drift_layers) == 1
    for logical_id in ("ScoreFunction", "ScoreFunctionRole", "ScoreFunctionWindow", "ScoreLogGroup", *drift_layers):
        assert resources_[logical_id]["Condition"] == "ScoreFromData", logical_id
    assert evaluate_conditions(read_template(), effective_parameters(read_template(), {}))["ScoreFromData"] is False
    assert (
        evaluate_conditions(read_template(), effective_parameters(read_template(), PARAMETERS))["ScoreFromData"] is True
    )


def test_only_the_score_function_gets_the_numpy_layer_and_it_installs_numpy_only() -> None:
    functions = {k: v for k, v in read_template()["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    assert [k for k, v in functions.items() if {"Ref": "DriftLayer"} in v["Properties"].get("Layers", [])] == [
        "ScoreFunction"
    ]
    pins = [
        line
        for line in (ROOT / "layers" / "drift" / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert [pin.split("==")[0] for pin in pins] == ["numpy"]


def test_the_evaluator_with_combine_and_the_score_adapter_loaded_still_never_loads_numpy() -> None:
    code = (
        "import sys, io; from retrain_trigger_local.runtime import load_handler; load_handler('evaluator');"
        "import retrain_trigger_drift.combine, retrain_trigger_drift.ports, retrain_trigger.adapters.data_capture;"
        "print(sorted(m for m in ('numpy', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"
    assert io  # the handler file is loaded as Lambda loads it, by path
