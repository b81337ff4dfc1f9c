"""The configuration from an S3 object (CONFIG_SOURCE=s3): the same document as the SSM parameter, any size, read with
one conditional GetObject per tick; the bucket is built from template.yaml's own properties (moto)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from retrain_trigger.adapters.clients import aws_client
from retrain_trigger.adapters.s3_config import S3ConfigSource
from retrain_trigger.errors import ConfigError, DependencyError, RetryableError
from retrain_trigger_local.template import resource_properties
from tests.support.resources import REGION
from tests.support.scale import create_config_bucket, use_s3_config
from tests.support.world import TICK, World

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from tests.functional.conftest import RecordCalls

KEY = "monitors.json"


def document(*monitor_ids: str, **defaults: Any) -> str:
    return json.dumps({"defaults": {"critical": 0.2, **defaults}, "monitors": [{"id": m} for m in monitor_ids]})


@pytest.fixture
def s3(aws: None) -> S3Client:
    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def bucket(s3: S3Client) -> str:
    return create_config_bucket(s3)


def upload(s3: S3Client, bucket: str, text: str) -> str:
    etag: str = s3.put_object(Bucket=bucket, Key=KEY, Body=text.encode())["ETag"]
    return etag


def test_the_templates_bucket_is_versioned_encrypted_and_never_public(s3: S3Client, bucket: str) -> None:
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())


def test_the_templates_bucket_refuses_every_request_not_made_over_tls() -> None:
    (statement,) = resource_properties("ConfigBucketPolicy")["PolicyDocument"]["Statement"]

    assert (statement["Effect"], statement["Principal"], statement["Action"]) == ("Deny", "*", "s3:*")
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": False}}
    assert statement["Resource"] == [{"Fn::GetAtt": ["ConfigBucket", "Arn"]}, {"Fn::Sub": "${ConfigBucket.Arn}/*"}]


def test_a_document_far_beyond_ssms_8_kib_loads_with_its_etag_as_the_version(s3: S3Client, bucket: str) -> None:
    ids = [f"model-{i:04d}" for i in range(1000)]
    text = document(*ids)
    etag = upload(s3, bucket, text)

    catalog = S3ConfigSource(bucket, KEY, client=s3).load()

    assert len(text.encode()) > 8 * 1024 * 2
    assert [m.id for m in catalog.monitors] == ids
    assert catalog.version == "s3:" + etag.strip('"')


def test_a_warm_load_is_one_conditional_get_and_no_parse_while_the_object_is_unchanged(
    s3: S3Client, bucket: str, record_calls: RecordCalls
) -> None:
    etag = upload(s3, bucket, document("churn"))
    source = S3ConfigSource(bucket, KEY, client=s3)
    first = source.load()
    calls = record_calls(s3, "GetObject")

    second = source.load()

    assert second is first  # the parsed catalog itself, not a second parse of the same text
    assert [call.get("IfNoneMatch") for call in calls] == [etag]


def test_an_edit_is_seen_on_the_next_load_under_a_new_version(s3: S3Client, bucket: str) -> None:
    upload(s3, bucket, document("churn"))
    source = S3ConfigSource(bucket, KEY, client=s3)
    before = source.load()

    etag = upload(s3, bucket, document("churn", "fraud"))
    after = source.load()

    assert [m.id for m in after.monitors] == ["churn", "fraud"]
    assert after.version == "s3:" + etag.strip('"') != before.version


@pytest.mark.parametrize("missing", ["object", "bucket"])
def test_a_missing_object_or_bucket_is_a_config_error_naming_the_settings(
    s3: S3Client, bucket: str, missing: str
) -> None:
    where = (bucket, "nowhere.json") if missing == "object" else ("rt-no-such-bucket", KEY)

    with pytest.raises(ConfigError) as error:
        S3ConfigSource(*where, client=s3).load()

    assert (error.value.monitor_id, error.value.field) == ("*", "CONFIG_BUCKET/CONFIG_KEY")
    assert f"s3://{where[0]}/{where[1]}" in error.value.problem


def test_a_broken_document_is_a_config_error_and_its_fix_is_read_on_the_next_load(s3: S3Client, bucket: str) -> None:
    upload(s3, bucket, "{monitors: [")
    source = S3ConfigSource(bucket, KEY, client=s3)
    with pytest.raises(ConfigError) as error:
        source.load()
    assert error.value.field == "(document)"

    upload(s3, bucket, document("churn"))

    assert [m.id for m in source.load().monitors] == ["churn"]


@pytest.mark.parametrize(
    ("code", "status", "raised"), [("SlowDown", 503, RetryableError), ("InvalidRequest", 400, DependencyError)]
)
def test_throttling_is_retryable_and_other_refusals_are_dependency_errors(
    code: str, status: int, raised: type[Exception]
) -> None:
    client = boto3.client("s3", region_name=REGION, config=Config(retries={"max_attempts": 1}))
    with Stubber(client) as stub:
        stub.add_client_error("get_object", code, http_status_code=status)

        with pytest.raises(raised, match=code):
            S3ConfigSource("rt-config", KEY, client=client).load()


def test_the_evaluator_decides_from_the_s3_document_and_records_its_etag(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket, key = use_s3_config(world, monkeypatch, document("churn-model", "fraud-model", critical=0.5))
    world.score("churn-model", TICK, 0.6)

    report = world.tick()

    etag = aws_client("s3").head_object(Bucket=bucket, Key=key)["ETag"]
    assert report["config_version"] == "s3:" + etag.strip('"')
    by_id = {m["monitor_id"]: m for m in report["monitors"]}
    assert by_id["churn-model"]["state_after"] == "RETRAINING"  # 0.6 > the S3 document's 0.5, not SSM's default
    assert by_id["fraud-model"]["outcome"] == "insufficient_data"


def test_a_broken_s3_document_fails_the_tick_loudly_as_a_broken_parameter_does(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_s3_config(world, monkeypatch, "{not json")

    with pytest.raises(ConfigError) as error:
        world.tick()

    assert error.value.field == "(document)"
    (alert,) = world.alerts()
    assert alert["MessageAttributes"]["severity"]["Value"] == "error"
