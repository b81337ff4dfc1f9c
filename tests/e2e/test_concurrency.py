"""Exactly once under concurrency: many invocations of one tick against the moto server start one pipeline.

moto ignores SageMaker's ClientRequestToken, so this passes only because our own conditional writes and the
action lease allow one invocation to act.
"""

from __future__ import annotations

import json
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from retrain_trigger import wiring
from retrain_trigger_local.deploy import deploy_stack
from retrain_trigger_local.moto_server import start_moto_server
from retrain_trigger_local.runtime import (
    ACCOUNT_ID,
    REAL_ACCOUNT_VARIABLES,
    REGION,
    SANDBOX_ENV,
    LambdaContext,
    load_handler,
)
from retrain_trigger_local.world import drain

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = "churn-model-retraining"


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name in REAL_ACCOUNT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        **SANDBOX_ENV,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(name, value)
    with start_moto_server() as server:
        # moto's backends are per process, shared by every server in it: start from an empty account.
        urllib.request.urlopen(urllib.request.Request(f"{server.endpoint_url}/moto-api/reset", method="POST"))
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint_url)
        stack = deploy_stack(
            server.endpoint_url, "concurrency", {"TickMinutes": "1440", "MonitorEvery": "1d", "PipelineName": PIPELINE}
        )
        session = boto3.Session(region_name=REGION)
        sagemaker = session.client("sagemaker", endpoint_url=server.endpoint_url)
        sagemaker.create_pipeline(
            PipelineName=PIPELINE,
            RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/pipeline",
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
        )
        function = session.client("lambda", endpoint_url=server.endpoint_url).get_function_configuration(
            FunctionName=stack.outputs["EvaluatorFunctionName"]
        )
        for name, value in function["Environment"]["Variables"].items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("CONFIG_MAX_AGE_SECONDS", "0")
        wiring.reset()
        yield {"endpoint": server.endpoint_url, "outputs": stack.outputs, "session": session}
        wiring.reset()


def invoke_concurrently(handler: Any, event: dict[str, Any], invocations: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(invocations)

    def one() -> None:
        start.wait()
        try:
            results.append(handler.lambda_handler(event, LambdaContext("evaluator", str(uuid.uuid4()))))
        except BaseException as error:  # surfaced below, with the others' results
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(invocations)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not [t for t in threads if t.is_alive()], "an invocation was still running after 120 s"
    assert not errors, errors
    assert len(results) == invocations
    return results


class Watcher(threading.Thread):
    """A thread whose failure is the test's failure: `finish` re-raises what it raised, or says it never ended."""

    def __init__(self, target: Callable[[], None]) -> None:
        super().__init__()
        self.watch = target
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self.watch()
        except BaseException as error:  # re-raised in the test's own thread by `finish`
            self.failure = error

    def finish(self, timeout: float) -> None:
        self.join(timeout=timeout)
        assert not self.is_alive(), f"the watcher was still running after {timeout} s"
        if self.failure is not None:
            raise AssertionError(f"the watcher failed: {self.failure!r}") from self.failure


@pytest.mark.e2e
@pytest.mark.parametrize("invocations", [2, 8, 32])
def test_concurrent_invocations_of_one_tick_start_one_pipeline(deployed: dict[str, Any], invocations: int) -> None:
    session, endpoint, outputs = deployed["session"], deployed["endpoint"], deployed["outputs"]
    session.resource("dynamodb", endpoint_url=endpoint).Table(outputs["ScoreTableName"]).put_item(
        Item={"monitor_id": "churn-model", "timestamp": "2024-08-09T00:00:00Z", "drift_score": Decimal("0.2186")}
    )
    event = json.loads((ROOT / "events" / "scheduled.json").read_text())
    evaluator = load_handler("evaluator")

    results = invoke_concurrently(evaluator, event, invocations)
    retried = evaluator.lambda_handler(event, LambdaContext("evaluator", str(uuid.uuid4())))  # a late retry

    executions = session.client("sagemaker", endpoint_url=endpoint).list_pipeline_executions(PipelineName=PIPELINE)
    requests = list(drain(session.client("sqs", endpoint_url=endpoint), outputs["RetrainQueueUrl"]))
    outcomes = sorted(m["outcome"] for r in [*results, retried] for m in r["monitors"])
    assert len(executions["PipelineExecutionSummaries"]) == 1
    assert len(requests) == 1
    assert outcomes.count("transition") == 1
    assert set(outcomes) <= {"transition", "conflict", "unchanged"}


def subscribe(session: Any, endpoint: str, topic_arn: str) -> str:
    sqs = session.client("sqs", endpoint_url=endpoint)
    url: str = sqs.create_queue(QueueName=f"oncall-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    session.client("sns", endpoint_url=endpoint).subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return url


@pytest.mark.e2e
def test_status_events_arriving_while_16_invocations_deliver_repeat_no_action(deployed: dict[str, Any]) -> None:
    session, endpoint, outputs = deployed["session"], deployed["endpoint"], deployed["outputs"]
    session.resource("dynamodb", endpoint_url=endpoint).Table(outputs["ScoreTableName"]).put_item(
        Item={"monitor_id": "churn-model", "timestamp": "2024-08-09T00:00:00Z", "drift_score": Decimal("0.2186")}
    )
    oncall = subscribe(session, endpoint, outputs["AlertTopicArn"])
    tick = json.loads((ROOT / "events" / "scheduled.json").read_text())
    evaluator, lifecycle = load_handler("evaluator"), load_handler("lifecycle")
    sagemaker = session.client("sagemaker", endpoint_url=endpoint)
    lifecycle_outcomes: list[str] = []

    def status_events_as_soon_as_the_pipeline_starts() -> None:
        runs: list[Any] = []
        for _ in range(600):
            runs = sagemaker.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]
            if runs:
                break
        assert runs, "no pipeline execution appeared while the evaluators ran"
        arn = runs[0]["PipelineExecutionArn"]
        description = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionDescription"]
        for status in ("Executing", "Executing", "Succeeded", "Succeeded"):  # delivered twice each, as AWS may
            event = json.loads((ROOT / "events" / f"pipeline-{status.lower()}.json").read_text())
            event["detail"] |= {"pipelineExecutionArn": arn, "pipelineExecutionDescription": description}
            event["time"] = "2024-08-09T00:05:00Z"
            result = lifecycle.lambda_handler(event, LambdaContext("lifecycle", str(uuid.uuid4())))
            lifecycle_outcomes.append(result["outcome"])

    watcher = Watcher(status_events_as_soon_as_the_pipeline_starts)
    watcher.start()
    invoke_concurrently(evaluator, tick, 16)
    watcher.finish(timeout=120)
    later = dict(tick, time="2024-08-09T01:00:00Z")
    evaluator.lambda_handler(later, LambdaContext("evaluator", str(uuid.uuid4())))  # delivers whatever waits

    alerts = [json.loads(m["Body"]) for m in drain(session.client("sqs", endpoint_url=endpoint), oncall)]
    requests = list(drain(session.client("sqs", endpoint_url=endpoint), outputs["RetrainQueueUrl"]))
    state = session.client("dynamodb", endpoint_url=endpoint).get_item(
        TableName=outputs["StateTableName"], Key={"pk": {"S": "monitor#churn-model"}, "sk": {"S": "state"}}
    )["Item"]
    keys = [a["MessageAttributes"]["idempotency_key"]["Value"] for a in alerts]
    history = session.client("dynamodb", endpoint_url=endpoint).query(
        TableName=outputs["StateTableName"],
        KeyConditionExpression="pk = :pk AND begins_with(sk, :history)",
        ExpressionAttributeValues={":pk": {"S": "monitor#churn-model"}, ":history": {"S": "history#"}},
    )["Items"]
    cancelled = {a["S"] for item in history for a in item.get("actions", {}).get("L", []) if "cancelled:" in a["S"]}
    start = "churn-model@20240809T000000Z#1:retrain_started"
    assert len(sagemaker.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]) == 1
    # The pipeline's success may land before the evaluators deliver the start's other notices: an ended attempt's
    # undelivered notices are then cancelled, in the history (issue 13 item 13). Each goes out once, or is cancelled.
    assert (len(requests), f"cancelled:sqs:{start}" in cancelled) in ((1, False), (0, True))
    assert (keys, f"cancelled:sns:{start}" in cancelled) in (([start], False), ([], True))
    # "Executing" records the execution only if it beat the evaluator's own record of it; repeats change nothing
    assert lifecycle_outcomes[:2] in (["transition", "unchanged"], ["unchanged", "unchanged"])
    assert lifecycle_outcomes[2:] == ["transition", "ignored"]
    assert state["status"]["S"] == "RETRAINED"
    assert "pending_shard" not in state
