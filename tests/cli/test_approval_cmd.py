"""`retrain-trigger ack|approve|reject` against a stack's state table, as the real handlers left it (moto): the
commands call the service's `handle_command` directly and answer at once, with an exit code per verdict."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from retrain_trigger.adapters.clients import aws_client
from retrain_trigger_local.world import drain
from tests.cli.conftest import Run
from tests.support.world import World

STACK = "retrain-trigger-dev"


def hour() -> str:
    """The current hour: the commands are dated by the real clock, so the request is made at the real time."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def deployed(world: World, **keys: Any) -> None:
    """The stack's outputs name the world's table and parameter; churn-model requires approval."""
    document = json.loads(aws_client("ssm").get_parameter(Name=world.parameter)["Parameter"]["Value"])
    document["monitors"][0] |= {"approval": "required", **keys}
    world.configure(document)
    aws_client("cloudformation").create_stack(
        StackName=STACK,
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


def awaiting(world: World, **keys: Any) -> str:
    deployed(world, **keys)
    at = hour()
    world.score("churn-model", at, 0.2186)
    assert world.tick(at)["monitors"][0]["state_after"] == "AWAITING_APPROVAL"
    return "churn-model@" + at.replace("-", "").replace(":", "")


def test_approve_starts_one_retraining_on_the_next_tick_and_approving_again_is_harmless(world: World, cli: Any) -> None:
    episode = awaiting(world)

    first: Run = cli("approve", "churn-model", episode, "--stack", STACK, "--by", "ana", "--json")
    again: Run = cli("approve", "churn-model", episode, "--stack", STACK)
    world.tick(hour())

    assert first.code == 0 and json.loads(first.out)["verdict"] == "done"
    assert json.loads(first.out)["state_after"] == "RETRAINING"
    assert again.code == 0 and "already approved" in again.out
    assert len(world.executions()) == 1
    assert len(list(drain(aws_client("sqs"), world.queue))) == 1
    history = cli("history", "churn-model", "--stack-name", STACK, "--json").lines()
    assert any("approved by ana" in r["reason"] for r in history)


def test_reject_keeps_the_episode_in_alarm_and_exits_0(world: World, cli: Any) -> None:
    episode = awaiting(world)

    run: Run = cli("reject", "churn-model", episode, "--stack", STACK)

    assert run.code == 0 and "rejected" in run.out and "(state ALARM)" in run.out
    assert world.executions() == []


def test_a_wrong_episode_is_refused_with_exit_code_3_naming_the_open_one(world: World, cli: Any) -> None:
    episode = awaiting(world)

    run: Run = cli("approve", "churn-model", "churn-model@20240101T000000Z", "--stack", STACK)

    assert run.code == 3
    assert run.err.startswith("churn-model: wrong_episode:") and episode in run.err
    assert world.state_item()["status"]["S"] == "AWAITING_APPROVAL"


def test_an_expired_request_is_refused_with_exit_code_3(world: World, cli: Any) -> None:
    episode = awaiting(world, approval_timeout="1s")

    run: Run = cli("approve", "churn-model", episode, "--stack", STACK)

    assert run.code == 3 and "expired" in run.err
    assert world.state_item()["status"]["S"] == "ALARM"
    assert world.executions() == []


def test_ack_without_an_open_episode_says_so_with_exit_code_3(world: World, cli: Any) -> None:
    deployed(world)

    run: Run = cli("ack", "churn-model", "--stack", STACK)

    assert run.code == 3 and "no open episode" in run.err


def test_ack_of_an_open_episode_is_done_then_already(world: World, cli: Any) -> None:
    awaiting(world)

    first: Run = cli("ack", "churn-model", "--stack", STACK)
    again: Run = cli("ack", "churn-model", "--stack", STACK)

    assert (first.code, again.code) == (0, 0)
    assert ": done: acknowledged" in first.out and ": already: " in again.out


def test_an_unknown_monitor_is_a_usage_error_with_exit_code_2(world: World, cli: Any) -> None:
    deployed(world)

    run: Run = cli("approve", "fraud-model", "fraud-model@20240101T000000Z", "--stack", STACK)

    assert run.code == 2 and "no monitor 'fraud-model'" in run.err
