"""`retrain-trigger status` and `history MONITOR`: the live state table, as the real handlers left it on moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from retrain_trigger.adapters.clients import aws_client
from retrain_trigger.adapters.state_table import DynamoDBStateStore
from retrain_trigger.model import MonitorState, Status
from retrain_trigger.ports import HistoryEntry
from retrain_trigger_local.moto_server import start_moto_server
from tests.cli.conftest import REFERENCE, Run
from tests.support import resources
from tests.support.world import World


def warned_then_retrained(world: World) -> None:
    world.score("churn-model", "2024-08-08T00:00:00Z", 0.15)
    world.tick("2024-08-08T00:00:00Z")
    world.score("churn-model", "2024-08-09T00:00:00Z", 0.2186)
    world.tick("2024-08-09T00:00:00Z")


def flags(world: World) -> tuple[str, ...]:
    return ("--state-table", world.state_table, "--config-parameter", world.parameter)


def test_status_shows_one_row_per_monitor_with_its_state_score_episode_and_mode(world: World, cli: Any) -> None:
    warned_then_retrained(world)

    run: Run = cli("status", *flags(world), "--json")

    (row,) = run.lines()
    assert row["monitor_id"] == "churn-model"
    assert row["state"] == "RETRAINING"
    assert row["last_score"] == 0.2186
    assert row["last_datapoint"] == "2024-08-09T00:00:00Z"
    assert row["episode"] == "churn-model@20240809T000000Z"
    assert row["pending_actions"] == []  # the outbox delivered the pipeline, request, event and alert
    assert row["mode"] == "active"


def test_status_lists_a_configured_monitor_that_was_never_evaluated(world: World, cli: Any) -> None:
    warned_then_retrained(world)
    document = json.loads(aws_client("ssm").get_parameter(Name=world.parameter)["Parameter"]["Value"])
    document["monitors"].append({"id": "fraud-model", "critical": 0.3, "mode": "shadow"})
    world.configure(document)

    run: Run = cli("status", *flags(world))

    header, churn, fraud = run.out.splitlines()
    assert header.split()[:3] == ["monitor", "state", "last"]
    assert churn.split()[:3] == ["churn-model", "RETRAINING", "0.2186"]
    assert fraud.startswith("fraud-model") and "never evaluated" in fraud and "shadow" in fraud


def test_history_lists_the_transitions_newest_first_with_the_decision_inputs(world: World, cli: Any) -> None:
    warned_then_retrained(world)

    rows = cli("history", "churn-model", *flags(world), "--json").lines()

    decisions = [r for r in rows if r["kind"] == "transition"]
    deliveries = [r for r in rows if r["kind"] == "delivery"]
    assert {r["reason"].startswith("actions: ") for r in deliveries} == {True}  # the outbox's results, beside them
    assert [(r["at"], r["before"], r["after"]) for r in decisions] == [
        ("2024-08-09T00:00:00Z", "WARNING", "RETRAINING"),
        ("2024-08-08T00:00:00Z", "OK", "WARNING"),
    ]
    newest = decisions[0]
    assert newest["score"] == 0.2186
    assert newest["reason"].startswith("drift 0.2186 > 0.2: retraining started")
    assert newest["config_version"].startswith("sha256:")
    assert "sagemaker:retrain_started" in newest["actions"]
    versions = [r["version"] for r in rows]
    assert versions == sorted(versions, reverse=True)


def test_history_as_a_table_and_for_a_monitor_without_transitions(world: World, cli: Any) -> None:
    warned_then_retrained(world)

    table = cli("history", "churn-model", *flags(world)).out.splitlines()
    empty = cli("history", "nobody", *flags(world))

    assert table[0].split() == ["at", "transition", "score", "reason"]
    assert any(line.startswith("2024-08-09T00:00:00Z  WARNING -> RETRAINING") for line in table)
    assert empty.out == "no transitions recorded for monitor 'nobody'\n"


def test_the_stack_outputs_name_the_table_and_the_parameter(world: World, cli: Any) -> None:
    warned_then_retrained(world)
    aws_client("cloudformation").create_stack(
        StackName="retrain-trigger-dev",
        TemplateBody=json.dumps(
            {
                "Resources": {"Marker": {"Type": "AWS::SQS::Queue"}},
                "Outputs": {
                    "StateTableName": {"Value": world.state_table},
                    "ConfigParameterName": {"Value": world.parameter},
                },
            }
        ),
    )

    run: Run = cli("status", "--stack-name", "retrain-trigger-dev", "--json")

    assert [(r["monitor_id"], r["state"], r["mode"]) for r in run.lines()] == [("churn-model", "RETRAINING", "active")]


def test_an_unreachable_table_is_an_aws_error_with_exit_code_1(world: World, cli: Any) -> None:
    run: Run = cli("status", "--state-table", "no-such-table")

    assert run.code == 1
    assert "AWS error" in run.err and "ResourceNotFoundException" in run.err


@pytest.fixture
def moto_server() -> Iterator[str]:
    with start_moto_server() as server:
        server.reset()  # moto's backends are per process: start from an empty account
        yield server.endpoint_url


def test_endpoint_url_reads_a_state_table_behind_a_moto_server(moto_server: str, cli: Any) -> None:
    ddb = boto3.client("dynamodb", region_name=resources.REGION, endpoint_url=moto_server)
    table = resources.create_state_table(ddb)
    at = datetime(2024, 8, 9, tzinfo=UTC)
    DynamoDBStateStore(table, client=ddb).commit(
        MonitorState(monitor_id="churn-model", status=Status.ALARM, last_score=0.31, updated_at=at),
        0,
        HistoryEntry(
            "churn-model", at, "OK", "ALARM", "drift 0.31 > 0.2; retraining blocked: cooldown", "sha256:x", 0.31
        ),
    )

    status = cli("status", "--state-table", table, "--endpoint-url", moto_server, "--json").lines()
    history = cli("history", "churn-model", "--state-table", table, "--endpoint-url", moto_server, "--json").lines()

    assert [(r["state"], r["last_score"], r["last_transition"], r["mode"]) for r in status] == [
        ("ALARM", 0.31, "2024-08-09T00:00:00Z", "?")  # no configuration given: the mode is unknown
    ]
    assert [(r["after"], r["reason"]) for r in history] == [("ALARM", "drift 0.31 > 0.2; retraining blocked: cooldown")]


def test_replay_can_take_the_configuration_deployed_with_a_stack(world: World, cli: Any) -> None:
    aws_client("cloudformation").create_stack(
        StackName="retrain-trigger-dev",
        TemplateBody=json.dumps(
            {
                "Resources": {"Marker": {"Type": "AWS::SQS::Queue"}},
                "Outputs": {"ConfigParameterName": {"Value": world.parameter}},
            }
        ),
    )

    run: Run = cli("replay", "--config-from-stack", "retrain-trigger-dev", "--scores", REFERENCE)

    assert run.code == 0, run.err
    assert [line["timestamp"] for line in run.lines() if "retrain" in line["actions"]] == ["2024-08-09T00:00:00Z"]


def test_config_from_stack_reads_the_s3_document_when_the_stack_reads_its_config_from_s3(
    world: World, cli: Any
) -> None:
    s3 = aws_client("s3")
    s3.create_bucket(Bucket="rt-config")
    document = {"defaults": {"critical": 0.3, "reset": 0.15}, "monitors": [{"id": "churn-model"}]}
    s3.put_object(Bucket="rt-config", Key="monitors.json", Body=json.dumps(document).encode())
    aws_client("cloudformation").create_stack(
        StackName="retrain-trigger-s3",
        TemplateBody=json.dumps(
            {
                "Resources": {"Marker": {"Type": "AWS::SQS::Queue"}},
                "Outputs": {
                    "ConfigParameterName": {"Value": world.parameter},  # the seeded document: critical 0.2
                    "ConfigSource": {"Value": "s3"},
                    "ConfigObjectUri": {"Value": "s3://rt-config/monitors.json"},
                },
            }
        ),
    )

    run: Run = cli("replay", "--config-from-stack", "retrain-trigger-s3", "--scores", REFERENCE)

    assert run.code == 0, run.err
    assert [line for line in run.lines() if "retrain" in line["actions"]] == []  # 0.2186 is not above 0.3
