"""`retrain-trigger ingest FILE --format F --monitor ID`: the IngestFunction's readers from the command line, one
item a line; `--write --stack S` writes them to the stack's score table (the stack of template.yaml, in moto)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from retrain_trigger.detectors import read_items
from tests.cli.conftest import Run
from tests.support.stacks import Deploy, client

DATA = Path(__file__).resolve().parents[1] / "data" / "detectors"
VIOLATIONS = DATA / "constraint_violations.json"
AT = "2026-12-07T03:00:00Z"


def test_json_prints_one_object_a_line_the_items_the_function_would_write(cli: Any) -> None:
    run: Run = cli("ingest", DATA / "nannyml_results.parquet", "--format", "nannyml", "--monitor", "churn", "--json")
    assert run.code == 0
    expected = read_items("nannyml", (DATA / "nannyml_results.csv").read_bytes(), "x.csv", "churn", None)
    assert run.lines() == [item.as_json() for item in expected]
    assert {"monitor_id", "timestamp", "drift_score", "sample_count", "age", "region"} <= set(run.lines()[0])


def test_without_json_each_item_is_one_summary_line_its_top_features_first(cli: Any) -> None:
    run: Run = cli("ingest", VIOLATIONS, "--format", "model-monitor", "--monitor", "churn", "--time", AT)
    assert run.out == (
        "churn 2026-12-07T03:00:00Z drift_score=0.3827 Account Length=0.3827, Day Mins=0.1452, Intl Calls=0.04\n"
    )


def test_a_malformed_file_is_one_line_naming_the_file_and_the_field_and_exits_2(cli: Any, tmp_path: Path) -> None:
    broken = tmp_path / "cv.json"
    broken.write_text('{"violations": [{"feature_name": "a", "constraint_check_type": "baseline_drift_check"}]}')
    run: Run = cli("ingest", broken, "--format", "model-monitor", "--monitor", "churn", "--time", AT)
    assert run.code == 2
    assert run.out == ""
    assert run.err == (
        f"retrain-trigger ingest: error: {broken}: field 'violations[0].description': "
        "expected the check's description, got None\n"
    )


def test_a_time_without_a_zone_is_refused_by_the_parser(cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli("ingest", VIOLATIONS, "--format", "model-monitor", "--monitor", "m", "--time", "2026-12-07T03:00")
    assert exit_.value.code == 2
    assert "argument --time: '2026-12-07T03:00' has no timezone" in capsys.readouterr().err


def test_write_puts_the_items_in_the_stack_s_score_table_and_again_changes_nothing(cli: Any, deploy: Deploy) -> None:
    stack = deploy()
    args = ("ingest", DATA / "long.csv", "--format", "long", "--write", "--stack", stack.stack_name)

    first: Run = cli(*args)
    table = stack.outputs["ScoreTableName"]
    written = client("dynamodb").scan(TableName=table)["Items"]
    again: Run = cli(*args)

    assert (first.code, again.code) == (0, 0)
    assert first.err == again.err == f"wrote 3 item(s) to {table}\n"
    assert client("dynamodb").scan(TableName=table)["Items"] == written
    deserializer = TypeDeserializer()
    found = sorted((i["monitor_id"]["S"], i["timestamp"]["S"]) for i in written)
    assert found == [
        ("churn-model", "2026-12-07T01:00:00Z"),
        ("churn-model", "2026-12-07T02:00:00Z"),
        ("fraud-model", "2026-12-07T01:00:00Z"),
    ]
    churn = next(
        i for i in written if i["timestamp"]["S"] == "2026-12-07T01:00:00Z" and i["monitor_id"]["S"] == "churn-model"
    )
    assert deserializer.deserialize(churn["sample_count"]) == 1200
