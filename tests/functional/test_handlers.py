"""The real handlers, invoked with the real events/*.json, against resources built from template.yaml (moto)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from retrain_trigger import wiring
from retrain_trigger.adapters.clients import aws_client
from retrain_trigger.errors import BadInput, ConfigError
from retrain_trigger_local.world import drain
from tests.support.world import PIPELINE, TICK, World, context, event


def retrained(world: World) -> str:
    world.score("churn-model", TICK, 0.2186)
    report = world.tick()
    (arn,) = [a["result"] for a in report["monitors"][0]["actions"] if a["kind"] == "sagemaker"]
    return str(arn)


def test_a_breaching_score_starts_one_pipeline_with_the_episode_as_parameters(world: World) -> None:
    world.score("churn-model", TICK, 0.2186)

    report = world.tick()

    assert report["monitors"][0]["state_after"] == "RETRAINING"
    (execution,) = world.executions()
    parameters = aws_client("sagemaker").list_pipeline_parameters_for_execution(
        PipelineExecutionArn=execution["PipelineExecutionArn"]
    )["PipelineParameters"]
    assert {p["Name"]: p["Value"] for p in parameters} == {
        "MonitorId": "churn-model",
        "EpisodeId": "churn-model@20240809T000000Z",
        "DriftScore": "0.2186",
        "DriftThreshold": "0.2",
    }
    assert world.state_item()["execution_arn"]["S"] == execution["PipelineExecutionArn"]


def test_the_critical_alert_reaches_a_filtered_subscriber_with_a_readable_subject(world: World) -> None:
    arn = retrained(world)

    (alert,) = world.alerts()
    payload = json.loads(alert["Message"])
    assert alert["Subject"] == "[CRITICAL] churn-model drift 0.2186 > 0.2: retraining started"
    assert alert["MessageAttributes"]["severity"]["Value"] == "critical"
    assert alert["MessageAttributes"]["idempotency_key"]["Value"] == "churn-model@20240809T000000Z#1:retrain_started"
    assert payload["pipeline_execution_arn"] == arn
    assert payload["thresholds"] == {"critical": 0.2, "reset": 0.15, "warning": 0.1}


def test_a_warning_does_not_reach_a_subscriber_filtering_for_critical(world: World) -> None:
    everything = world.subscribe({"monitor_id": ["churn-model"]})
    world.score("churn-model", TICK, 0.15)

    world.tick()

    assert world.alerts() == []
    (warning,) = world.alerts(everything)
    assert warning["MessageAttributes"]["severity"]["Value"] == "warning"


def test_a_retried_tick_does_not_start_a_second_pipeline(world: World) -> None:
    world.score("churn-model", TICK, 0.2186)

    first, retry = world.tick(), world.tick()

    assert len(world.executions()) == 1
    assert len(list(drain(aws_client("sqs"), world.queue))) == 1
    assert (first["transitions"], retry["transitions"]) == (1, 0)


def test_a_malformed_event_is_rejected_naming_the_field_and_nothing_is_written(world: World) -> None:
    with pytest.raises(BadInput) as error:
        world.evaluator.lambda_handler(event("malformed.json"), context())

    assert error.value.field.startswith("event.")
    assert aws_client("dynamodb").scan(TableName=world.state_table)["Items"] == []


def test_a_string_score_alerts_an_error_and_leaves_other_monitors_and_the_state_alone(world: World) -> None:
    world.configure(
        {
            "defaults": {"critical": 0.2, "actions": {"pipeline": {"name": PIPELINE}}},
            "monitors": [{"id": "churn-model"}, {"id": "fraud-model"}],
        }
    )
    world.score("churn-model", TICK, "0.31")
    world.score("fraud-model", TICK, 0.25)

    report = world.tick()

    by_id = {m["monitor_id"]: m for m in report["monitors"]}
    assert by_id["churn-model"]["outcome"] == "error"
    assert by_id["churn-model"]["error"] == {
        "monitor_id": "churn-model",
        "field": "drift_score",
        "problem": "not a number: '0.31'",
    }
    assert by_id["fraud-model"]["state_after"] == "RETRAINING"
    assert len(world.executions()) == 1
    errors = [a for a in world.alerts() if a["MessageAttributes"]["severity"]["Value"] == "error"]
    assert [a["MessageAttributes"]["monitor_id"]["Value"] for a in errors] == ["churn-model"]
    assert "Item" not in aws_client("dynamodb").get_item(
        TableName=world.state_table, Key={"pk": {"S": "monitor#churn-model"}, "sk": {"S": "state"}}
    )


def test_a_bad_monitor_config_is_reported_by_id_and_field_while_the_rest_run(world: World) -> None:
    world.configure({"defaults": {"critical": 0.2}, "monitors": [{"id": "churn-model"}, {"id": "typo", "critcal": 1}]})
    world.score("churn-model", TICK, 0.05)

    report = world.tick()

    by_id = {m["monitor_id"]: m for m in report["monitors"]}
    assert by_id["typo"]["error"]["field"] == "critcal"
    assert (by_id["churn-model"]["outcome"], by_id["churn-model"]["reason"]) == ("unchanged", "no breach")


def test_an_unreadable_config_document_fails_the_tick_loudly(world: World) -> None:
    aws_client("ssm").put_parameter(Name=world.parameter, Value="{not json", Type="String", Overwrite=True)

    with pytest.raises(ConfigError) as error:
        world.tick()

    assert error.value.field == "(document)"
    (alert,) = world.alerts()
    assert alert["MessageAttributes"]["severity"]["Value"] == "error"
    assert alert["MessageAttributes"]["monitor_id"]["Value"] == "*"


def test_pipeline_succeeded_moves_the_monitor_to_retrained_with_a_grace_period(world: World) -> None:
    arn = retrained(world)

    result = world.lifecycle.lambda_handler(
        event("pipeline-succeeded.json", detail={"pipelineExecutionArn": arn, "pipelineExecutionDescription": ""}),
        context(),
    )

    assert (result["state_before"], result["state_after"]) == ("RETRAINING", "RETRAINED")
    state = json.loads(world.state_item()["state"]["S"])
    assert state["grace_until"].startswith("2024-08-10T03:30:00")


def test_pipeline_failed_queues_an_error_alert_that_the_next_tick_delivers(world: World) -> None:
    arn = retrained(world)
    world.alerts()

    result = world.lifecycle.lambda_handler(
        event("pipeline-failed.json", detail={"pipelineExecutionArn": arn, "pipelineExecutionDescription": ""}),
        context(),
    )
    assert result["state_after"] == "ALARM"
    assert world.alerts() == []  # the lifecycle function never delivers: its role may not
    world.tick("2024-08-09T03:00:00Z")

    (alert,) = world.alerts()
    assert alert["MessageAttributes"]["event"]["Value"] == "retrain_failed"
    assert alert["Subject"] == "[ERROR] churn-model retraining failed"


@pytest.mark.parametrize("name", ["pipeline-executing.json", "pipeline-stopped.json"])
def test_a_status_change_of_an_execution_we_did_not_start_is_ignored(world: World, name: str) -> None:
    retrained(world)

    result = world.lifecycle.lambda_handler(event(name), context())

    assert result["outcome"] == "ignored"
    assert world.state_item()["status"]["S"] == "RETRAINING"


def test_a_generic_retraining_finished_event_closes_the_loop_for_non_sagemaker_pipelines(world: World) -> None:
    retrained(world)

    result = world.lifecycle.lambda_handler(event("retraining-finished.json"), context())

    assert result["state_after"] == "RETRAINED"


def test_a_model_deployed_event_starts_the_grace_period_and_blocks_retraining(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A CI's event is dated when the function receives it (issue 13, item 2): the clock says when that was.
    now = [datetime(2024, 8, 8, 12, tzinfo=UTC)]
    monkeypatch.setattr(wiring, "wall_clock", lambda: now[0])
    wiring.reset()
    world.lifecycle.lambda_handler(event("model-deployed.json", time="2024-08-08T12:00:00Z"), context())
    world.score("churn-model", TICK, 0.2186)
    now[0] = datetime.fromisoformat(TICK)

    report = world.tick()

    assert report["monitors"][0]["state_after"] == "ALARM"
    assert "grace period until 2024-08-09T12:00:00" in report["monitors"][0]["reason"]
    assert world.executions() == []


def test_the_evaluator_emits_the_drift_score_as_an_emf_metric_per_monitor(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.score("churn-model", TICK, 0.2186)
    capsys.readouterr()

    world.tick()

    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    scores = [b for b in blobs if "DriftScore" in b]
    assert [(b["MonitorId"], b["DriftScore"]) for b in scores] == [("churn-model", [0.2186])]
    assert any(b.get("Transitions") == [1.0] for b in blobs)


def test_another_pipelines_status_change_is_ignored_quietly_not_logged_or_counted_as_an_error(
    world: World, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    other = event(
        "pipeline-succeeded.json",
        detail={
            "pipelineArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/fraud-features",
            "pipelineExecutionArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/fraud-features/execution/x1",
            "pipelineExecutionDescription": "nightly feature build",
        },
    )
    capsys.readouterr()
    service = world.lifecycle.logger.name

    # The one line an ignored event writes is at DEBUG: seeing it proves the checks below saw the logs at all.
    with caplog.at_level(logging.DEBUG, logger=service):
        result = world.lifecycle.lambda_handler(other, context())

    logged = [(r.levelname, r.getMessage(), getattr(r, "outcome", None)) for r in caplog.records if r.name == service]
    metrics = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert result["outcome"] == "ignored"
    assert logged == [("DEBUG", "event ignored", "ignored")]  # nothing at INFO or above: not an error, not noise
    assert not any("EvaluationErrors" in line for line in metrics)
