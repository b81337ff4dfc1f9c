"""The roles template.yaml gives the functions allow every AWS call the real handlers make, on the resource it is made
on: least privilege that still works.

Each handler runs a retraining's path under moto (tests/support/world.py) while a botocore hook records, per handler,
the IAM action and resource of every call. The role's statements come from SAM's translation of template.yaml, with
the stack's resources resolved to the ones the world built from the same template.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from retrain_trigger import wiring
from retrain_trigger.adapters.clients import aws_client
from retrain_trigger_local.sam_package import translate_template
from retrain_trigger_local.template import read_template
from tests.support import resources
from tests.support.crash import Clock, InvocationKilled, killed
from tests.support.world import TICK, World, context, event

SERVICES = ("dynamodb", "sns", "sqs", "events", "sagemaker", "ssm", "cloudwatch")
# TransactWriteItems and TransactGetItems are authorized item by item, by the action of the item's kind.
TRANSACT_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
IAM_PREFIX = {"monitoring": "cloudwatch"}  # CloudWatch signs as "monitoring" but its IAM actions are cloudwatch:*

Call = tuple[str, str]  # (IAM action, resource ARN)


def arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{resources.REGION}:{resources.ACCOUNT_ID}:{resource}"


def table(name: str, index: str | None = None) -> str:
    return arn("dynamodb", f"table/{name}" + (f"/index/{index}" if index else ""))


def calls_of(operation: str, prefix: str, params: dict[str, Any]) -> set[Call]:
    """The (action, resource) pairs IAM authorizes for one API call."""
    action = f"{prefix}:{operation}"
    match operation:
        case "TransactWriteItems" | "TransactGetItems":
            return {
                (f"dynamodb:{TRANSACT_ITEM_ACTIONS[kind]}", table(request["TableName"]))
                for item in params["TransactItems"]
                for kind, request in item.items()
            }
        case "BatchGetItem" | "BatchWriteItem":
            return {(action, table(name)) for name in params["RequestItems"]}
        case "PutEvents":
            buses = {entry.get("EventBusName", "default") for entry in params["Entries"]}
            return {(action, bus if bus.startswith("arn:") else arn("events", f"event-bus/{bus}")) for bus in buses}
        case "StartPipelineExecution" | "ListPipelineExecutions":  # authorized on the pipeline
            return {(action, arn("sagemaker", f"pipeline/{params['PipelineName']}"))}
    if prefix == "dynamodb":
        return {(action, table(params["TableName"], params.get("IndexName")))}
    if "TopicArn" in params:
        return {(action, params["TopicArn"])}
    if "QueueUrl" in params:
        return {(action, arn("sqs", params["QueueUrl"].rsplit("/", 1)[1]))}
    if "PipelineExecutionArn" in params:
        return {(action, params["PipelineExecutionArn"])}
    if prefix == "ssm" and "Name" in params:
        return {(action, arn("ssm", f"parameter/{params['Name'].lstrip('/')}"))}
    return {(action, "*")}


class CallLog:
    """Records, while a handler runs, the (action, resource) of every call made by the process-wide clients."""

    def __init__(self) -> None:
        self.by_handler: dict[str, set[Call]] = {}
        self._running: str | None = None
        for service in SERVICES:
            aws_client(service).meta.events.register("provide-client-params", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self._running is not None:
            signing = model.service_model.signing_name
            prefix = IAM_PREFIX.get(signing, signing)
            self.by_handler.setdefault(self._running, set()).update(calls_of(model.name, prefix, params))

    @contextmanager
    def running(self, handler: str) -> Iterator[None]:
        self._running = handler
        try:
            yield
        finally:
            self._running = None


def allowed(world: World, role: str) -> list[tuple[list[str], list[str]]]:
    """(actions, resources) of each statement of `role`, its references resolved to the world's resources."""
    translated = translate_template(read_template())["Resources"]
    refs = {
        "StateTable.Arn": table(world.state_table),
        "ScoreTable.Arn": table(world.score_table),
        "ScoreWindowTable.Arn": table(f"{resources.STACK_NAME}-score-windows"),
        "AlertTopic": world.topic,
        "RetrainQueue.Arn": arn("sqs", world.queue.rsplit("/", 1)[1]),
        "EventBus.Arn": arn("events", f"event-bus/{world.bus}"),
        "FunctionFailureQueue.Arn": arn("sqs", f"{resources.STACK_NAME}-function-failures"),
        "ShardQueue.Arn": arn("sqs", f"{resources.STACK_NAME}-shards"),
        "ConfigBucket": f"{resources.STACK_NAME}-config",
        "ConfigBucket.Arn": f"arn:aws:s3:::{resources.STACK_NAME}-config",
    }
    statements = [
        statement
        for policy in translated[role]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    result = []
    for statement in resources.resolve(statements, refs):
        actions, targets = statement["Action"], statement["Resource"]
        result.append(
            ([actions] if isinstance(actions, str) else actions, [targets] if isinstance(targets, str) else targets)
        )
    return result


def denied(calls: set[Call], statements: list[tuple[list[str], list[str]]]) -> set[Call]:
    return {
        (action, resource)
        for action, resource in calls
        if not any(
            any(fnmatch.fnmatchcase(action, pattern) for pattern in actions)
            and any(fnmatch.fnmatchcase(resource, pattern) for pattern in targets)
            for actions, targets in statements
        )
    }


@pytest.fixture
def log(world: World) -> CallLog:
    return CallLog()


def test_the_evaluators_role_allows_every_call_of_a_tick_that_starts_a_retraining(world: World, log: CallLog) -> None:
    world.score("churn-model", TICK, 0.2186)

    with log.running("evaluator"):
        world.tick()
        world.tick("2024-08-09T01:00:00Z")

    calls = log.by_handler["evaluator"]
    assert {"sagemaker:StartPipelineExecution", "sns:Publish", "sqs:SendMessage", "events:PutEvents"} <= {
        action for action, _ in calls
    }, "the scenario no longer delivers every kind of action"
    assert denied(calls, allowed(world, "EvaluatorFunctionRole")) == set()


def test_the_evaluators_role_allows_every_call_of_the_crash_recovery_and_timeout_paths(
    world: World, log: CallLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The paths a happy tick never takes: an invocation killed after StartPipelineExecution landed (the next one
    looks the start up by its key), then a retraining whose final status never arrives (asked before the timeout)."""
    world.score("churn-model", TICK, 0.2186)
    clock = Clock()
    monkeypatch.setattr(wiring, "wall_clock", clock)

    with log.running("evaluator"):
        with killed("sagemaker", "StartPipelineExecution", after_the_call=True), pytest.raises(InvocationKilled):
            world.tick()
        clock.advance()  # past the dead invocation's lease
        world.tick("2024-08-09T01:00:00Z")
        world.tick("2024-08-12T00:00:00Z")  # past retraining_timeout (2d): DescribePipelineExecution first

    calls = log.by_handler["evaluator"]
    needed = {"sagemaker:StartPipelineExecution", "sagemaker:ListPipelineExecutions"}
    assert needed | {"sagemaker:DescribePipelineExecution"} <= {action for action, _ in calls}, (
        "the scenario no longer takes the crash-recovery and timeout paths"
    )
    assert len(world.executions()) == 1  # the landed start was found, not made again
    assert denied(calls, allowed(world, "EvaluatorFunctionRole")) == set()


@pytest.mark.parametrize(
    "outcome", ["pipeline-succeeded.json", "pipeline-failed.json", "retraining-finished.json", "model-deployed.json"]
)
def test_the_lifecycle_functions_role_allows_every_call_of_recording_an_outcome(
    world: World, log: CallLog, outcome: str
) -> None:
    world.score("churn-model", TICK, 0.2186)
    world.tick()
    (execution,) = world.executions()
    detail = {"pipelineExecutionArn": execution["PipelineExecutionArn"], "pipelineExecutionDescription": ""}

    with log.running("lifecycle"):
        world.lifecycle.lambda_handler(
            event(outcome, detail=detail if outcome.startswith("pipeline") else {}), context()
        )

    calls = log.by_handler["lifecycle"]
    writes = {action for action, resource in calls if resource == table(world.state_table)}
    assert writes & {"dynamodb:PutItem", "dynamodb:UpdateItem"}, "the outcome was not recorded"
    # Every action the outcome calls for (a retrain_failed alert, a retry) is the evaluator's to deliver.
    assert denied(calls, allowed(world, "LifecycleFunctionRole")) == set()
