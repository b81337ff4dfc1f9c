"""`retrain-trigger status` and `history MONITOR`: the live state table, as the real handlers left it on moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
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


def test_history_as_a_table(world: World, cli: Any) -> None:
    warned_then_retrained(world)

    table = cli("history", "churn-model", *flags(world)).out.splitlines()

    assert table[0].split() == ["at", "transition", "score", "reason"]
    assert any(line.startswith("2024-08-09T00:00:00Z  WARNING -> RETRAINING") for line in table)


@pytest.mark.parametrize("output", [(), ("--json",)])
def test_history_of_an_unknown_monitor_is_one_line_on_stderr_and_exit_2(
    world: World, cli: Any, output: tuple[str, ...]
) -> None:
    warned_then_retrained(world)

    run: Run = cli("history", "nobody", *flags(world), *output)

    assert (run.code, run.out) == (2, "")
    assert run.err == (
        "retrain-trigger history: error: no monitor 'nobody': no transitions recorded and not configured "
        "(monitors: churn-model)\n"
    )


def test_history_of_a_configured_monitor_never_evaluated_is_an_empty_answer_not_an_error(
    world: World, cli: Any
) -> None:
    document = json.loads(aws_client("ssm").get_parameter(Name=world.parameter)["Parameter"]["Value"])
    document["monitors"].append({"id": "fraud-model", "critical": 0.3})
    world.configure(document)

    run: Run = cli("history", "fraud-model", *flags(world))

    assert (run.code, run.err) == (0, "")
    assert run.out == "no transitions recorded for monitor 'fraud-model' yet (configured, never evaluated)\n"


def test_history_of_a_monitor_without_transitions_and_without_a_configuration_to_look_in_exits_2(
    world: World, cli: Any
) -> None:
    run: Run = cli("history", "churn-model", "--state-table", world.state_table)

    assert (run.code, run.out) == (2, "")
    assert run.err == (
        "retrain-trigger history: error: no monitor 'churn-model': no transitions recorded "
        "(and no configuration to look in)\n"
    )


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


def test_retrain_trigger_stack_names_the_stack_when_no_flag_does(
    world: World, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    monkeypatch.setenv("RETRAIN_TRIGGER_STACK", "retrain-trigger-dev")

    status: Run = cli("status", "--json")
    history: Run = cli("history", "churn-model", "--json", "--limit", "1")

    assert [(r["monitor_id"], r["state"]) for r in status.lines()] == [("churn-model", "RETRAINING")]
    assert [r["after"] for r in history.lines()] == ["RETRAINING"]


def test_without_a_stack_or_table_the_message_names_the_flags_the_variable_and_make_up(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RETRAIN_TRIGGER_STACK", raising=False)

    run: Run = cli("status")

    assert run.code == 2
    assert run.err == (
        "retrain-trigger status: error: no state table: give --stack-name (or set RETRAIN_TRIGGER_STACK) or "
        '--state-table (for the local stack: eval "$(make -s up)")\n'
    )


@pytest.fixture
def nothing_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A shell with no AWS region, no credentials, no profile and no instance to ask: a newcomer's first shell."""
    for name in (
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.parametrize("command", [("status",), ("history", "churn-model")])
def test_no_region_is_one_line_naming_the_variable_and_exit_2(
    nothing_configured: None, cli: Any, command: tuple[str, ...]
) -> None:
    run: Run = cli(*command, "--stack-name", "retrain-trigger")

    assert (run.code, run.out) == (2, "")
    assert run.err == (
        f"retrain-trigger {command[0]}: error: no AWS region: give --region or set AWS_DEFAULT_REGION "
        '(for the local stack: eval "$(make -s up)")\n'
    )


def test_no_credentials_is_one_line_naming_the_variables_and_exit_2(
    nothing_configured: None, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    run: Run = cli("status", "--stack-name", "retrain-trigger")

    assert (run.code, run.out) == (2, "")
    assert run.err == (
        "retrain-trigger status: error: no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
        '(for the local stack: eval "$(make -s up)")\n'
    )


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
