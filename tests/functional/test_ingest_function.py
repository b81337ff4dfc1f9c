"""The IngestFunction, by its real handler under moto: a detector's file lands under the ingest prefix (S3's "Object
Created" event, as EventBridge delivers it), its items reach the score table built from template.yaml, and a malformed
file writes nothing, is logged and is alerted to on-call (SNS -> SQS) naming the file and the field."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from retrain_trigger import wiring
from retrain_trigger.adapters.clients import aws_client
from retrain_trigger_local.intrinsics import Resolver, effective_parameters, evaluate_conditions
from retrain_trigger_local.runtime import load_handler
from retrain_trigger_local.sam_package import translate_template
from retrain_trigger_local.template import read_template
from tests.support import resources
from tests.support.world import World, context, event

DATA = Path(__file__).resolve().parents[1] / "data" / "detectors"
BUCKET = "detector-outputs"
PREFIX = resources.parameter_defaults()["IngestPrefix"]
HOUR = "2026/12/07/03"  # Model Monitor's own output layout: <output>/<endpoint>/<schedule>/YYYY/MM/DD/HH/


@pytest.fixture
def ingest(world: World, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, bytes], dict[str, Any]]:
    """put(key, body) then the handler on the object's event; returns the handler's result."""
    aws_client("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("INGEST_PREFIX", PREFIX)
    wiring.reset()
    handler = load_handler("ingest")

    def run(key: str, body: bytes) -> dict[str, Any]:
        aws_client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
        created = event("s3-object-created.json")
        created["detail"] = {**created["detail"], "bucket": {"name": BUCKET}, "object": {"key": key}}
        result: dict[str, Any] = handler.lambda_handler(created, context())
        return result

    return run


def items(world: World) -> list[dict[str, Any]]:
    deserializer = TypeDeserializer()
    raw = aws_client("dynamodb").scan(TableName=world.score_table)["Items"]
    found = [{k: deserializer.deserialize(v) for k, v in item.items()} for item in raw]
    return sorted(found, key=lambda i: (i["monitor_id"], i["timestamp"]))


def fixture(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_a_model_monitor_violations_file_is_one_item_at_the_hour_of_its_key(ingest: Any, world: World) -> None:
    key = f"{PREFIX}model-monitor/churn-model/churn-endpoint/hourly/{HOUR}/constraint_violations.json"
    result = ingest(key, fixture("constraint_violations.json"))
    assert result == {"files": [{"file": f"s3://{BUCKET}/{key}", "written": 1, "skipped": ""}]}
    [item] = items(world)
    assert (item["monitor_id"], item["timestamp"]) == ("churn-model", "2026-12-07T03:00:00Z")
    assert float(item["drift_score"]) == pytest.approx(0.3826979472)


def test_model_monitors_statistics_file_beside_it_is_skipped(ingest: Any, world: World) -> None:
    result = ingest(f"{PREFIX}model-monitor/churn-model/e/s/{HOUR}/statistics.json", b'{"dataset": {}}')
    assert result == {"files": []}
    assert items(world) == []


def test_an_evidently_report_is_one_item_with_the_drifted_share_as_its_score(ingest: Any, world: World) -> None:
    ingest(f"{PREFIX}evidently/churn-model/{HOUR}/report.json", fixture("evidently_0_7_data_drift.json"))
    [item] = items(world)
    assert item["timestamp"] == "2026-12-07T03:00:00Z"
    assert float(item["drift_score"]) == pytest.approx(2 / 3)
    assert set(item) >= {"age", "income", "region"}


def test_an_evidently_report_under_a_key_without_a_date_takes_the_events_time(ingest: Any, world: World) -> None:
    ingest(f"{PREFIX}evidently/churn-model/report.json", fixture("evidently_0_7_data_drift.json"))
    [item] = items(world)
    assert item["timestamp"] == event("s3-object-created.json")["time"]


def test_a_nannyml_results_table_is_one_item_per_analysis_chunk(ingest: Any, world: World) -> None:
    result = ingest(f"{PREFIX}nannyml/churn-model/results.csv", fixture("nannyml_results.csv"))
    assert result["files"][0]["written"] == 6
    assert [i["timestamp"][:10] for i in items(world)] == [f"2026-12-{d:02d}" for d in range(2, 8)]


def test_a_long_table_directly_under_long_writes_every_monitor_it_names(ingest: Any, world: World) -> None:
    ingest(f"{PREFIX}long/scores.csv", fixture("long.csv"))
    assert [(i["monitor_id"], i["timestamp"]) for i in items(world)] == [
        ("churn-model", "2026-12-07T01:00:00Z"),
        ("churn-model", "2026-12-07T02:00:00Z"),
        ("fraud-model", "2026-12-07T01:00:00Z"),
    ]


@pytest.mark.parametrize(
    ("reader", "name"),
    [
        ("model-monitor", f"e/s/{HOUR}/constraint_violations.json"),
        ("evidently", f"{HOUR}/report.json"),
        ("nannyml", "results.csv"),
    ],
)
def test_the_same_file_twice_writes_the_same_items(ingest: Any, world: World, reader: str, name: str) -> None:
    source = {"model-monitor": "constraint_violations.json", "evidently": "evidently_0_7_data_drift.json"}
    body = fixture(source.get(reader, "nannyml_results.csv"))
    key = f"{PREFIX}{reader}/churn-model/{name}"
    ingest(key, body)
    first = items(world)
    ingest(key, body)
    assert items(world) == first
    assert first  # written at all


def test_the_notification_a_bucket_sends_itself_is_read_too_its_key_url_encoded(ingest: Any, world: World) -> None:
    key = f"{PREFIX}long/churn-model/scores of today.jsonl"
    churn_only = b"\n".join(line for line in fixture("long.jsonl").splitlines() if b"fraud-model" not in line)
    aws_client("s3").put_object(Bucket=BUCKET, Key=key, Body=churn_only)
    record = {"eventName": "ObjectCreated:Put", "eventTime": "2026-12-07T03:04:05.000Z"}
    record["s3"] = {"bucket": {"name": BUCKET}, "object": {"key": key.replace(" ", "+")}}

    load_handler("ingest").lambda_handler({"Records": [record]}, context())

    assert [(i["monitor_id"], i["timestamp"]) for i in items(world)] == [
        ("churn-model", "2026-12-07T01:00:00Z"),
        ("churn-model", "2026-12-07T02:00:00Z"),
    ]


def test_an_object_outside_the_layout_is_skipped(ingest: Any, world: World) -> None:
    assert ingest(f"{PREFIX}whylogs/churn-model/profile.bin", b"\x00") == {"files": []}
    assert items(world) == []


@dataclass(frozen=True)
class Malformed:
    name: str
    reader: str
    body: bytes
    field: str


def _replaced(name: str, old: str, new: str) -> bytes:
    text = fixture(name).decode()
    assert old in text, f"{old!r} not in {name}"
    return text.replace(old, new, 1).encode()


EVIDENTLY, VIOLATIONS = "evidently_0_7_data_drift.json", "constraint_violations.json"
MALFORMED = [
    Malformed(
        "report.json",
        "evidently",
        _replaced(EVIDENTLY, '"share": 0.6666666666666666', '"share": "2/3"'),
        "metrics[0].value.share",
    ),
    Malformed(
        VIOLATIONS,
        "model-monitor",
        _replaced(VIOLATIONS, "distance: 0.1452112676056338", "distance is large"),
        "violations[1].description",
    ),
    Malformed(
        "results.csv",
        "nannyml",
        _replaced("nannyml_results.csv", ",0.41027826785981225,", ",,"),
        "row 4.age_jensen_shannon_value",
    ),
    Malformed(
        "scores.csv",
        "long",
        _replaced("long.csv", "2026-12-07T02:00:00Z,income", "2026-12-07 02:00,income"),
        "row 6.timestamp",
    ),
    Malformed(VIOLATIONS, "model-monitor", b'{"violations": {"feature_name": "age"}}', "violations"),
]


@pytest.mark.parametrize("case", MALFORMED, ids=[f"{m.reader}:{m.field}" for m in MALFORMED])
def test_a_malformed_file_writes_nothing_and_is_logged_and_alerted_naming_the_file_and_the_field(
    caplog: pytest.LogCaptureFixture, ingest: Any, world: World, case: Malformed
) -> None:
    key = f"{PREFIX}{case.reader}/churn-model/{HOUR}/{case.name}"
    where = f"s3://{BUCKET}/{key}"

    result = ingest(key, case.body)

    assert result["files"][0]["written"] == 0
    assert where in result["files"][0]["refused"]
    assert items(world) == []  # all or nothing: the rows before the bad one are not written either
    [logged] = [r for r in caplog.records if r.getMessage() == "detector file refused, nothing written"]
    assert (logged.levelname, logged.__dict__["file"], logged.__dict__["field"]) == ("ERROR", where, case.field)
    [alert] = [json.loads(a["Message"]) for a in world.alerts()]
    assert (alert["event"], alert["severity"], alert["monitor_id"]) == ("bad_detector_file", "error", "churn-model")
    assert (alert["file"], alert["field"]) == (where, case.field)


def test_the_ingest_function_is_off_by_default_and_on_with_a_bucket() -> None:
    template = read_template()
    translated = translate_template(template)["Resources"]
    ours = [lid for lid in translated if lid.startswith("Ingest")]
    assert set(ours) >= {"IngestFunction", "IngestFunctionRole", "IngestLogGroup", "IngestFunctionObjectCreated"}
    for logical_id in ours:
        assert translated[logical_id]["Condition"] in ("IngestFromFiles", "IngestAlertsWithTopicKey"), logical_id
    assert evaluate_conditions(template, effective_parameters(template, {}))["IngestFromFiles"] is False
    on = evaluate_conditions(template, effective_parameters(template, {"IngestBucket": BUCKET}))
    assert on["IngestFromFiles"] is True


def test_the_rule_matches_only_object_created_events_of_the_bucket_under_the_prefix() -> None:
    rule = read_template()["Resources"]["IngestFunction"]["Properties"]["Events"]["ObjectCreated"]["Properties"]
    pattern = rule["Pattern"]
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"] == {"bucket": {"name": [{"Ref": "IngestBucket"}]},
                                 "object": {"key": [{"prefix": {"Ref": "IngestPrefix"}}]}}  # fmt: skip


def test_the_ingest_functions_role_allows_every_call_it_makes_and_no_more_objects(ingest: Any, world: World) -> None:
    """Its calls recorded while it ingests a good file and refuses a bad one, against its role's statements (SAM's
    translation, with IngestBucket set and the stack's resources resolved to the ones the world built)."""
    from tests.functional.test_template_permissions import CallLog, arn, denied, table  # noqa: PLC0415

    log, reads = CallLog(), set()

    def record_read(params: dict[str, Any], **_: Any) -> None:
        reads.add(("s3:GetObject", f"arn:aws:s3:::{params['Bucket']}/{params['Key']}"))

    aws_client("s3").meta.events.register("provide-client-params.s3.GetObject", record_read)
    with log.running("ingest"):
        ingest(f"{PREFIX}long/scores.csv", fixture("long.csv"))
        ingest(f"{PREFIX}long/broken.csv", b"monitor_id,timestamp,metric,value\nm,yesterday,age,1\n")
    calls = log.by_handler["ingest"] | reads
    assert {action for action, _ in calls} == {"s3:GetObject", "dynamodb:BatchWriteItem", "sns:Publish"}

    template = read_template()
    values = effective_parameters(template, {"IngestBucket": BUCKET})
    resolver = Resolver(
        stack_name=resources.STACK_NAME,
        resources=template["Resources"],
        values=values,
        conditions=evaluate_conditions(template, values),
        region=resources.REGION,
    )
    resolver.physical_ids["AlertTopic"] = world.topic
    resolver.attributes["ScoreTable"] = {"Arn": table(world.score_table)}
    resolver.attributes["FunctionFailureQueue"] = {"Arn": arn("sqs", f"{resources.STACK_NAME}-function-failures")}
    role = translate_template(template)["Resources"]["IngestFunctionRole"]["Properties"]["Policies"]
    statements = [s for policy in role for s in resolver.resolve(policy["PolicyDocument"]["Statement"])]
    granted = [
        (
            [s["Action"]] if isinstance(s["Action"], str) else s["Action"],
            [s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"],
        )
        for s in statements
    ]
    assert denied(calls, granted) == set()
    outside = {("s3:GetObject", f"arn:aws:s3:::{BUCKET}/elsewhere/report.json")}
    assert denied(outside, granted) == outside  # only the objects under the prefix
