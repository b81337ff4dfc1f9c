"""`sam local invoke` of the real functions in a Lambda-like container, against moto; asserts on what reached moto.

The demo's stack and world are deployed into moto; the reference scenario's scores up to the tick of
events/scheduled.json (2024-08-09, score 0.2186 over the 0.2 critical level) are in the ScoreTable.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from retrain_trigger_local.local_invoke import Invocation, SamLocal
from retrain_trigger_local.runtime import ROOT

EVENTS = ROOT / "events"
pytestmark = pytest.mark.sam_local

TICK = json.loads((EVENTS / "scheduled.json").read_text())["time"]
# The demo stack's monitor and pipeline (retrain_trigger_local.world.DemoMonitor's defaults), written out here.
MONITOR_ID = "churn-model"
PIPELINE = "churn-model-retraining"


def state_item(local: SamLocal) -> dict[str, Any]:
    items = local.client("dynamodb").scan(TableName=local.stack.outputs["StateTableName"])["Items"]
    states: list[dict[str, Any]] = [item for item in items if item["sk"]["S"] == "state"]
    (state,) = states
    return state


@pytest.fixture(scope="module")
def breach(sam_local: SamLocal) -> Invocation:
    """The evaluator invoked with the scheduled tick, the reference scores up to that tick seeded."""
    seeded = sam_local.seed_reference_scores(until=TICK)
    assert seeded > 0
    return sam_local.invoke("EvaluatorFunction", EVENTS / "scheduled.json")


def test_the_evaluator_on_a_breach_starts_the_pipeline_in_moto(sam_local: SamLocal, breach: Invocation) -> None:
    assert breach.error_type is None, breach.payload

    sagemaker = sam_local.client("sagemaker")
    summaries = sagemaker.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]
    (execution,) = summaries
    parameters = sagemaker.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=execution["PipelineExecutionArn"]
    )["PipelineParameters"]
    assert {p["Name"]: p["Value"] for p in parameters}["MonitorId"] == MONITOR_ID
    assert float({p["Name"]: p["Value"] for p in parameters}["DriftScore"]) == pytest.approx(0.2186)
    (monitor,) = breach.payload["monitors"]
    started = [a["result"] for a in monitor["actions"] if a["kind"] == "sagemaker" and a["status"] == "done"]
    assert started == [execution["PipelineExecutionArn"]]
    assert state_item(sam_local)["status"]["S"] == "RETRAINING"


def test_the_lifecycle_function_with_the_succeeded_event_moves_the_state_to_retrained(
    sam_local: SamLocal, breach: Invocation
) -> None:
    sagemaker = sam_local.client("sagemaker")
    (execution,) = sagemaker.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]
    described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution["PipelineExecutionArn"])
    event = json.loads((EVENTS / "pipeline-succeeded.json").read_text())
    event["resources"] = [described["PipelineArn"], described["PipelineExecutionArn"]]
    event["detail"] |= {
        "pipelineArn": described["PipelineArn"],
        "pipelineExecutionArn": described["PipelineExecutionArn"],
        "pipelineExecutionDescription": described.get("PipelineExecutionDescription", ""),
        "currentPipelineExecutionStatus": "Succeeded",
    }

    result = sam_local.invoke("LifecycleFunction", event)

    assert result.error_type is None, result.payload
    assert state_item(sam_local)["status"]["S"] == "RETRAINED"


def test_a_malformed_event_fails_the_invocation_naming_the_field(sam_local: SamLocal) -> None:
    # events/malformed.json has no "time" (and a number for "detail-type"): the tick's time is what is missing.
    result = sam_local.invoke("EvaluatorFunction", EVENTS / "malformed.json")

    assert result.error_type == "BadInput"
    assert "field 'event.time'" in result.payload["errorMessage"]
