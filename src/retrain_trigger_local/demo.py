"""`make demo`: replay a score series through the real evaluator, on the stack created from template.yaml in moto.

Everything it reports at the end is read back from moto: what SageMaker, SQS, SNS subscribers, the event bus
and the state table really hold, not what the evaluator believes it did.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import boto3
import pandas as pd

from retrain_trigger_cli.plot import plot_scores
from retrain_trigger_local.deploy import StackInfo, deploy_stack
from retrain_trigger_local.moto_server import start_moto_server
from retrain_trigger_local.template import ROOT

REFERENCE = ROOT / "data" / "reference_drift_scores.csv"
PIPELINE_STATUS_EVENT = ROOT / "events" / "pipeline-succeeded.json"
SCHEDULED_EVENT = ROOT / "events" / "scheduled.json"
REGION = "us-east-1"
STACK_NAME = "retrain-trigger-demo"
PIPELINE_DURATION = timedelta(hours=3)  # simulated: the retraining ends three hours after the tick


@dataclass(frozen=True)
class LambdaContext:
    """What Powertools reads from the Lambda context."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:local"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="retrain-trigger-demo", description=__doc__)
    parser.add_argument("--scores", type=Path, default=REFERENCE, help="CSV: timestamp,drift_score[,other metrics]")
    parser.add_argument("--source", choices=["dynamodb", "cloudwatch"], default="dynamodb")
    parser.add_argument("--out", type=Path, default=ROOT / "demo-output")
    parser.add_argument("--monitor-id", default="churn-model")
    parser.add_argument("--critical", type=float, default=0.2)
    parser.add_argument("--reset", type=float, default=0.15)
    parser.add_argument("--warning", type=float, default=0.1)
    parser.add_argument("--pipeline", default="churn-model-retraining")
    parser.add_argument(
        "--guard",
        action="append",
        default=[],
        metavar="METRIC<VALUE",
        help="a combined condition on another CSV column, e.g. 'accuracy<0.85' (repeatable)",
    )
    return parser.parse_args(argv)


def load_scores(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    missing = {"timestamp", "drift_score"} - set(frame.columns)
    if missing:
        raise SystemExit(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame.sort_values("timestamp").reset_index(drop=True)


def parse_guard(text: str) -> dict[str, Any]:
    for operator, bound in (("<", "below"), (">", "above")):
        if operator in text:
            metric, value = text.split(operator, 1)
            return {"metric": metric.strip(), bound: float(value)}
    raise SystemExit(f"--guard {text!r}: write it as METRIC<VALUE or METRIC>VALUE")


def load_handler(name: str) -> ModuleType:
    """Import functions/<name>/app.py under a unique module name (both handlers are called app.py)."""
    spec = importlib.util.spec_from_file_location(f"{name}_app", ROOT / "functions" / name / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stack_parameters(args: argparse.Namespace) -> dict[str, str]:
    """The demo stack's parameter overrides: the monitor, its levels and pipeline, a daily tick."""
    return {
        "MonitorId": args.monitor_id,
        "CriticalThreshold": str(args.critical),
        "ResetThreshold": str(args.reset),
        "WarningThreshold": str(args.warning),
        "PipelineName": args.pipeline,
        "ScoreSource": args.source,
        "TickMinutes": "1440",
        "MonitorEvery": "1d",
    }


def prepare_world(
    client: Callable[[str], Any], outputs: Mapping[str, str], pipeline: str, say: Callable[[str], None]
) -> dict[str, str]:
    """The user's side of the demo: their SageMaker pipeline, an on-call queue subscribed to the alert topic and a
    queue that captures the project bus's events. Returns the two queues' URLs ("oncall", "capture")."""
    sagemaker, sqs, sns, events = (client(s) for s in ("sagemaker", "sqs", "sns", "events"))
    sagemaker.create_pipeline(
        PipelineName=pipeline,
        RoleArn="arn:aws:iam::123456789012:role/demo-sagemaker",
        PipelineDefinition=json.dumps(
            {
                "Version": "2020-12-01",
                "Parameters": [
                    {"Name": n, "Type": "String"} for n in ("MonitorId", "EpisodeId", "DriftScore", "DriftThreshold")
                ],
                "Steps": [],
            }
        ),
    )
    say(f"demo created SageMaker pipeline {pipeline!r} (the user's own pipeline, not in the stack)")
    oncall = sqs.create_queue(QueueName="demo-oncall-alerts")["QueueUrl"]
    oncall_arn = sqs.get_queue_attributes(QueueUrl=oncall, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=outputs["AlertTopicArn"], Protocol="sqs", Endpoint=oncall_arn)
    say("demo subscribed queue demo-oncall-alerts to the alert topic (every severity)")
    capture = sqs.create_queue(QueueName="demo-bus-capture")["QueueUrl"]
    capture_arn = sqs.get_queue_attributes(QueueUrl=capture, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="demo-capture",
        EventBusName=outputs["EventBusName"],
        EventPattern=json.dumps({"source": ["retrain-trigger"]}),
    )
    events.put_targets(
        Rule="demo-capture", EventBusName=outputs["EventBusName"], Targets=[{"Id": "capture", "Arn": capture_arn}]
    )
    say("demo routed the project bus's retrain-trigger events to queue demo-bus-capture")
    return {"oncall": oncall, "capture": capture}


class Demo:
    def __init__(self, args: argparse.Namespace, endpoint: str, out: TextIO, log: TextIO) -> None:
        self.args = args
        self.out = out
        self.log = log
        self.session = boto3.Session(region_name=REGION)
        self.endpoint = endpoint
        self.frame = load_scores(args.scores)
        self.metric_columns = [c for c in self.frame.columns if c not in {"timestamp", "drift_score"}]

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint)  # type: ignore[call-overload]

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    # --- setting up -------------------------------------------------------------------------------------------

    def deploy(self) -> StackInfo:
        stack = deploy_stack(self.endpoint, STACK_NAME, stack_parameters(self.args))
        self.say(f"stack {STACK_NAME} created in moto from template.yaml ({len(stack.physical_ids)} resources)")
        for logical_id, resource_type, action in stack.skipped:
            self.say(f"  moto skipped {logical_id} ({resource_type}): {action}")
        return stack

    def prepare_world(self, stack: StackInfo) -> dict[str, str]:
        """What a user has besides our stack: their pipeline, an on-call subscriber, an event consumer."""
        queues = prepare_world(self.client, stack.outputs, self.args.pipeline, self.say)
        if self.args.guard:
            self.apply_guards(stack.outputs["ConfigParameterName"])
        return queues

    def apply_guards(self, parameter: str) -> None:
        ssm = self.client("ssm")
        document = json.loads(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])
        guards = [parse_guard(g) for g in self.args.guard]
        for monitor in document["monitors"]:
            monitor["guards"] = guards
        ssm.put_parameter(Name=parameter, Value=json.dumps(document), Type="String", Overwrite=True)
        self.say(f"demo set guards {guards} in {parameter} (as `aws ssm put-parameter` would)")

    def function_environment(self, stack: StackInfo) -> dict[str, str]:
        """The evaluator's environment exactly as the stack configured the deployed function."""
        configuration = self.client("lambda").get_function_configuration(
            FunctionName=stack.outputs["EvaluatorFunctionName"]
        )
        variables: dict[str, str] = configuration["Environment"]["Variables"]
        return variables

    # --- the replay -------------------------------------------------------------------------------------------

    def write_score(self, stack: StackInfo, row: pd.Series) -> None:
        at: datetime = row["timestamp"].to_pydatetime()
        metrics = {c: float(row[c]) for c in self.metric_columns if pd.notna(row[c])}
        if self.args.source == "dynamodb":
            item = {"monitor_id": self.args.monitor_id, "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
            item |= {k: Decimal(str(v)) for k, v in {"drift_score": float(row["drift_score"]), **metrics}.items()}
            self.session.resource("dynamodb", endpoint_url=self.endpoint).Table(
                stack.outputs["ScoreTableName"]
            ).put_item(Item=item)
            return
        dimensions = [{"Name": "MonitorId", "Value": self.args.monitor_id}]
        self.client("cloudwatch").put_metric_data(
            Namespace="MLOps/ModelMonitoring",
            MetricData=[
                {"MetricName": name, "Dimensions": dimensions, "Timestamp": at, "Value": value}
                for name, value in {"drift_score": float(row["drift_score"]), **metrics}.items()
            ],
        )

    def replay(self, stack: StackInfo) -> int:
        evaluator, lifecycle = self.handlers
        tick_template = json.loads(SCHEDULED_EVENT.read_text())
        self.say(f"\n{'date':<12}{'score':>8}  {'state':<12}actions")
        evaluations = 0
        for _, row in self.frame.iterrows():
            self.write_score(stack, row)
            at = row["timestamp"].to_pydatetime()
            event = {**tick_template, "id": str(uuid.uuid4()), "time": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
            report = self.invoke(evaluator, event, "evaluator")
            evaluations += len(report["monitors"])
            for monitor in report["monitors"]:
                actions = [f"{a['kind']}:{a['status']}" for a in monitor["actions"]]
                state = monitor.get("state_after", monitor["outcome"])
                self.say(f"{at.date()!s:<12}{row['drift_score']:>8.4f}  {state:<12}{' '.join(actions) or '-'}")
                if any(a["kind"] == "sagemaker" and a["status"] == "done" for a in monitor["actions"]):
                    arn = next(a["result"] for a in monitor["actions"] if a["kind"] == "sagemaker")
                    self.finish_pipeline(lifecycle, arn, at + PIPELINE_DURATION)
        return evaluations

    def finish_pipeline(self, lifecycle: ModuleType, execution_arn: str, ended: datetime) -> None:
        """Close the loop as SageMaker would: its status-change event, with the status moto reports, at the
        simulated time the pipeline ends (moto's own timestamps are wall-clock)."""
        described = self.client("sagemaker").describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        status = described["PipelineExecutionStatus"]
        if status not in {"Succeeded", "Failed", "Stopped"}:
            self.say(
                f"{'':<12}{'':>8}  moto reports the execution {status} and never finishes it; "
                "the demo sends SageMaker's Succeeded event"
            )
            status = "Succeeded"
        event = json.loads(PIPELINE_STATUS_EVENT.read_text())
        event |= {"id": str(uuid.uuid4()), "time": ended.strftime("%Y-%m-%dT%H:%M:%SZ")}
        event["detail"] |= {
            "pipelineArn": described["PipelineArn"],
            "pipelineExecutionArn": execution_arn,
            "currentPipelineExecutionStatus": status,
            "pipelineExecutionDescription": described.get("PipelineExecutionDescription", ""),
        }
        result = self.invoke(lifecycle, event, "lifecycle")
        self.say(f"{'':<12}{'':>8}  {result.get('state_after', result['outcome']):<12}lifecycle: pipeline {status}")

    def invoke(self, handler: ModuleType, event: dict[str, Any], name: str) -> dict[str, Any]:
        context = LambdaContext(function_name=f"retrain-trigger-{name}", aws_request_id=str(uuid.uuid4()))
        with contextlib.redirect_stdout(self.log):
            result: dict[str, Any] = handler.lambda_handler(event, context)
        return result

    # --- reading back what happened ---------------------------------------------------------------------------

    def read_back(self, stack: StackInfo, queues: dict[str, str]) -> dict[str, Any]:
        outputs = stack.outputs
        sagemaker = self.client("sagemaker")
        executions = sagemaker.list_pipeline_executions(PipelineName=self.args.pipeline)["PipelineExecutionSummaries"]
        self.say(f"\nSageMaker pipeline executions of {self.args.pipeline!r}: {len(executions)}")
        for execution in executions:
            arn = execution["PipelineExecutionArn"]
            parameters = sagemaker.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)[
                "PipelineParameters"
            ]
            self.say(f"  {arn}  {execution.get('PipelineExecutionStatus', '?')}")
            self.say("    parameters: " + ", ".join(f"{p['Name']}={p['Value']}" for p in parameters))

        alerts = [json.loads(m["Body"]) for m in drain(self.client("sqs"), queues["oncall"])]
        self.say(f"\nAlerts that reached the subscribed queue: {len(alerts)}")
        for alert in alerts:
            attributes = {k: v["Value"] for k, v in alert.get("MessageAttributes", {}).items()}
            self.say(
                f"  {alert.get('Subject')}  [severity={attributes.get('severity')}, event={attributes.get('event')}]"
            )

        requests = [json.loads(m["Body"]) for m in drain(self.client("sqs"), outputs["RetrainQueueUrl"])]
        self.say(f"\nRetraining requests on the SQS queue: {len(requests)}")
        for request in requests:
            self.say(
                f"  {request['monitor_id']} episode {request['episode_id']} score {request['score']} "
                f"key {request['idempotency_key']}"
            )

        bus_events = [json.loads(m["Body"]) for m in drain(self.client("sqs"), queues["capture"])]
        self.say(f"\nEvents the project bus delivered to the capture queue: {len(bus_events)}")
        for event in bus_events:
            self.say(f"  {event['detail-type']}: {event['detail']['event']} ({event['detail']['idempotency_key']})")

        table = self.session.resource("dynamodb", endpoint_url=self.endpoint).Table(outputs["StateTableName"])
        items: list[dict[str, Any]] = table.scan()["Items"]
        history = sorted((i for i in items if str(i["sk"]).startswith("history#")), key=lambda i: str(i["sk"]))
        state = next((i for i in items if i["sk"] == "state"), None)
        self.say(f"\nState item: {state['status'] if state else 'none'} (version {state['version'] if state else 0})")
        self.say(f"History items: {len(history)}")
        for item in history:
            self.say(f"  {item['at']}  {item['before']:>10} -> {item['after']:<10} {item['reason']}")
        retrains = [i for i in history if i["after"] == "RETRAINING" and i["before"] != "RETRAINING"]
        return {
            "executions": executions,
            "alerts": alerts,
            "requests": requests,
            "bus_events": bus_events,
            "retrains": retrains,
        }

    def run(self) -> dict[str, Any]:
        stack = self.deploy()
        queues = self.prepare_world(stack)
        os.environ.update(self.function_environment(stack))
        os.environ.update(
            {
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_SERVICE_NAME": "retrain-trigger",
                "CONFIG_MAX_AGE_SECONDS": "0",
            }
        )
        with contextlib.redirect_stdout(self.log):
            self.handlers = (load_handler("evaluator"), load_handler("lifecycle"))
        evaluations = self.replay(stack)
        seen = self.read_back(stack, queues)
        retrain_dates = sorted(str(i["at"])[:10] for i in seen["retrains"])
        alert_points = [
            (a["datapoint_at"], a["event"])
            for a in (json.loads(m["Message"]) for m in seen["alerts"])
            if a.get("datapoint_at")
        ]
        figure = plot_scores(
            self.frame,
            levels={"critical": self.args.critical, "warning": self.args.warning, "reset": self.args.reset},
            alerts=alert_points,
            retrains=[r["datapoint_at"] for r in seen["requests"]],
            path=self.args.out / "drift.png",
            title=f"{self.args.monitor_id}: drift score vs levels ({self.args.scores.name}, {self.args.source})",
        )
        self.say(f"\nfigure: {figure}")
        return {
            "scenario": "reference" if self.args.scores.resolve() == REFERENCE.resolve() else self.args.scores.stem,
            "source": self.args.source,
            "evaluations": evaluations,
            "retrains": len(seen["retrains"]),
            "first_retrain": retrain_dates[0] if retrain_dates else None,
            "pipeline_executions": len(seen["executions"]),
            "retrain_requests": len(seen["requests"]),
            "alerts": len(seen["alerts"]),
            "bus_events": len(seen["bus_events"]),
        }


def drain(sqs: Any, queue_url: str) -> Iterator[dict[str, Any]]:
    """Every message on the queue (each received once, then deleted)."""
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            yield message


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
    )
    os.environ.pop("AWS_PROFILE", None)
    log_path = args.out / "lambda.log"
    with log_path.open("w") as log, start_moto_server() as server:
        os.environ["AWS_ENDPOINT_URL"] = server.endpoint_url
        print(f"moto server on {server.endpoint_url}; Lambda logs and EMF metrics go to {log_path}")
        summary = Demo(args, server.endpoint_url, sys.stdout, log).run()
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
