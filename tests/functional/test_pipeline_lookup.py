"""Issue 13, item 10: the lookup of a start whose outcome was never recorded, on moto, paged as SageMaker pages.

On a pipeline shared by many monitors, a mass drift starts hundreds of executions after ours. The lookup must still
find ours (or know it is not there), however many came after it, and stop once the executions are older than the
start could be.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from retrain_trigger.adapters.actions import AwsActionGateway
from retrain_trigger.model import token
from tests.functional.conftest import RecordCalls
from tests.support.moto_pipelines import page_pipeline_executions

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

SHARED = "shared-retraining"
OURS = "churn-model@20240809T000000Z#1:retrain_started"


@pytest.fixture
def pipeline(sagemaker: SageMakerClient, monkeypatch: pytest.MonkeyPatch) -> str:
    page_pipeline_executions(monkeypatch)
    sagemaker.create_pipeline(
        PipelineName=SHARED,
        RoleArn="arn:aws:iam::123456789012:role/pipeline",
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
    )
    return SHARED


def start(sagemaker: SageMakerClient, key: str) -> str:
    """A start as the outbox makes it: the key in the execution's description."""
    description = json.dumps({"monitor_id": key.split("@", maxsplit=1)[0], "idempotency_key": key})
    arn: str = sagemaker.start_pipeline_execution(
        PipelineName=SHARED, PipelineExecutionDescription=description, ClientRequestToken=token(key)
    )["PipelineExecutionArn"]
    return arn


def others(sagemaker: SageMakerClient, count: int, prefix: str) -> None:
    for n in range(count):
        start(sagemaker, f"{prefix}-{n}@20240809T000000Z#1:retrain_started")


def test_a_start_behind_more_than_200_newer_executions_of_other_monitors_is_found(
    sagemaker: SageMakerClient, pipeline: str
) -> None:
    decided = datetime.now(UTC)
    ours = start(sagemaker, OURS)
    others(sagemaker, 250, "fraud-model")  # a mass drift: every other monitor on the shared pipeline starts after us

    found = AwsActionGateway("", "", "", sagemaker=sagemaker).find_pipeline_execution(pipeline, OURS, decided)

    assert found == ours, "an earlier start was missed: the outbox would make it again"


def test_the_lookup_stops_at_executions_older_than_the_start_could_be(
    sagemaker: SageMakerClient, pipeline: str, record_calls: RecordCalls
) -> None:
    others(sagemaker, 150, "last-week")
    decided = datetime.now(UTC)
    others(sagemaker, 250, "fraud-model")
    pages = record_calls(sagemaker, "ListPipelineExecutions")

    found = AwsActionGateway("", "", "", sagemaker=sagemaker).find_pipeline_execution(pipeline, OURS, decided)

    assert found is None
    # 250 newer executions fill pages 1 and 2 and half of page 3, where the first older one ends the search.
    assert len(pages) == 3, pages
    assert {p["SortOrder"] for p in pages} == {"Descending"}
