"""The configuration source on moto, with the parameter (and its default document) taken from template.yaml."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from retrain_trigger.adapters.ssm_config import SsmConfigSource
from retrain_trigger.config import PipelineConfig
from retrain_trigger.errors import ConfigError, DependencyError, RetryableError
from tests.support.resources import REGION, create_parameter, parameter_defaults

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

    from tests.functional.conftest import RecordCalls


def document(*monitor_ids: str) -> str:
    return json.dumps({"defaults": {"critical": 0.2}, "monitors": [{"id": m} for m in monitor_ids]})


def offline_ssm() -> SSMClient:
    return boto3.client("ssm", region_name=REGION, config=Config(retries={"max_attempts": 1}))


def test_the_templates_default_configuration_loads_as_one_monitor(ssm: SSMClient) -> None:
    name = create_parameter(ssm)

    catalog = SsmConfigSource(name, client=ssm).load()

    assert catalog.errors == ()
    assert [m.id for m in catalog.monitors] == ["churn-model"]
    assert catalog.monitors[0].actions.pipeline == PipelineConfig(name=parameter_defaults()["PipelineName"])


def test_a_missing_parameter_is_a_config_error_naming_the_setting(ssm: SSMClient) -> None:
    with pytest.raises(ConfigError) as error:
        SsmConfigSource("/nowhere/monitors", client=ssm).load()

    assert (error.value.monitor_id, error.value.field) == ("*", "CONFIG_PARAMETER_NAME")
    assert "/nowhere/monitors" in error.value.problem


def test_a_document_that_is_not_json_is_a_config_error(ssm: SSMClient) -> None:
    name = create_parameter(ssm, value="{monitors: [")

    with pytest.raises(ConfigError) as error:
        SsmConfigSource(name, client=ssm).load()

    assert error.value.field == "(document)"


def test_an_edit_is_seen_only_once_the_cached_copy_is_older_than_max_age(
    ssm: SSMClient, record_calls: RecordCalls
) -> None:
    name = create_parameter(ssm, value=document("churn"))
    calls = record_calls(ssm, "GetParameter")
    cached, uncached = SsmConfigSource(name, max_age_seconds=60, client=ssm), SsmConfigSource(name, 0, client=ssm)
    cached.load()
    uncached.load()

    ssm.put_parameter(Name=name, Value=document("churn", "fraud"), Overwrite=True)

    assert [m.id for m in cached.load().monitors] == ["churn"]
    assert [m.id for m in uncached.load().monitors] == ["churn", "fraud"]
    assert len(calls) == 3


def test_throttled_get_parameter_is_a_retryable_error() -> None:
    client = offline_ssm()
    with Stubber(client) as stub:
        stub.add_client_error("get_parameter", "ThrottlingException", http_status_code=400)

        with pytest.raises(RetryableError, match="ThrottlingException"):
            SsmConfigSource("/rt/monitors", client=client).load()


def test_access_denied_is_a_dependency_error() -> None:
    client = offline_ssm()
    with Stubber(client) as stub:
        stub.add_client_error("get_parameter", "AccessDeniedException", http_status_code=400)

        with pytest.raises(DependencyError, match="AccessDeniedException"):
            SsmConfigSource("/rt/monitors", client=client).load()
