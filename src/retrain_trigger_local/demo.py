"""`make demo`: replay a score series through the real evaluator, on the stack created from template.yaml in moto.

Everything it reports at the end is read back from moto: what SageMaker, SQS, SNS subscribers, the event bus
and the state table really hold, not what the evaluator believes it did.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import boto3

from retrain_trigger.config import parse_catalog
from retrain_trigger.model import Observation
from retrain_trigger_cli.engine import evaluation_times
from retrain_trigger_cli.errors import OneLineArgumentParser, UsageError
from retrain_trigger_cli.plot import plot_scores
from retrain_trigger_cli.scores import ScoreSeries, as_frame, read_scores
from retrain_trigger_local import demo_features
from retrain_trigger_local.deploy import StackInfo, deploy_stack
from retrain_trigger_local.intrinsics import ParameterError, effective_parameters
from retrain_trigger_local.moto_server import detach_event_sources, start_moto_server
from retrain_trigger_local.runtime import REGION, ROOT, LambdaContext, enter_sandbox, load_handler
from retrain_trigger_local.template import load_template
from retrain_trigger_local.world import (
    PIPELINE_STATUS_EVENT,
    REFERENCE,
    SCHEDULED_EVENT,
    STACK_NAME,
    DemoMonitor,
    drain,
    prepare_world,
)

PIPELINE_DURATION = timedelta(hours=3)  # simulated: the retraining ends three hours after the tick
DEFAULTS = DemoMonitor()
TICK = timedelta(minutes=int(DEFAULTS.stack_parameters()["TickMinutes"]))  # the demo stack's schedule


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = OneLineArgumentParser(prog="retrain-trigger-demo", description=__doc__)
    parser.add_argument("--scores", type=Path, default=REFERENCE, help="CSV: timestamp,drift_score[,other metrics]")
    parser.add_argument("--source", choices=["dynamodb", "cloudwatch"], default=DEFAULTS.source)
    parser.add_argument("--out", type=Path, default=ROOT / "demo-output")
    parser.add_argument("--monitor-id", default=DEFAULTS.monitor_id)
    parser.add_argument("--critical", type=float, default=DEFAULTS.critical)
    parser.add_argument("--reset", type=float, default=DEFAULTS.reset)
    parser.add_argument("--warning", type=float, default=DEFAULTS.warning)
    parser.add_argument("--pipeline", default=DEFAULTS.pipeline)
    parser.add_argument(
        "--guard",
        action="append",
        default=[],
        metavar="METRIC<VALUE",
        help="a combined condition on another CSV column, e.g. 'accuracy<0.85' (repeatable)",
    )
    parser.add_argument("--features", action="store_true", help="the multi-feature scenario (see demo_features.py)")
    return parser.parse_args(argv)


def parse_guard(text: str) -> dict[str, Any]:
    for operator, bound in (("<", "below"), (">", "above")):
        if operator in text:
            metric, value = text.split(operator, 1)
            try:
                return {"metric": metric.strip(), bound: float(value)}
            except ValueError:
                break
    raise UsageError(f"--guard {text!r}: write it as METRIC<VALUE or METRIC>VALUE, e.g. 'accuracy<0.85'")


def demo_monitor(args: argparse.Namespace) -> DemoMonitor:
    """The monitor the command line describes."""
    return DemoMonitor(args.monitor_id, args.critical, args.reset, args.warning, args.pipeline, args.source)


def checked_scores(args: argparse.Namespace) -> ScoreSeries:
    """The score file, the monitor and its guards, checked before anything starts: a user's mistake is one line
    (UsageError), never a traceback from the middle of a replay."""
    series = read_scores(args.scores)  # the CLI's reader: a bad row is reported and counts as missing
    try:
        effective_parameters(load_template(), demo_monitor(args).stack_parameters())
    except ParameterError as error:  # what CloudFormation would refuse: a level out of range, a bad pipeline name
        raise UsageError(str(error)) from error
    guards = [parse_guard(g) for g in args.guard]
    monitor = {"id": args.monitor_id, "critical": args.critical, "reset": args.reset, "warning": args.warning}
    catalog = parse_catalog({"monitors": [monitor | {"guards": guards}]})
    if catalog.errors:  # the evaluator's own validation, e.g. a reset level above critical
        raise UsageError(str(catalog.errors[0]))
    for guard in guards:
        if guard["metric"] not in series.columns:
            raise UsageError(
                f"--guard {guard['metric']!r}: {args.scores} has no such column (columns: {', '.join(series.columns)})"
            )
    return series


class Demo:
    def __init__(self, args: argparse.Namespace, series: ScoreSeries, endpoint: str, out: TextIO, log: TextIO) -> None:
        self.args = args
        self.series = series
        self.out = out
        self.log = log
        self.session = boto3.Session(region_name=REGION)
        self.endpoint = endpoint

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint)  # type: ignore[call-overload]

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    # --- setting up -------------------------------------------------------------------------------------------

    def deploy(self) -> StackInfo:
        stack = deploy_stack(self.endpoint, STACK_NAME, demo_monitor(self.args).stack_parameters())
        self.say(f"stack {STACK_NAME} created in moto from template.yaml ({len(stack.physical_ids)} resources)")
        for logical_id, resource_type, action in stack.skipped:
            self.say(f"  moto skipped {logical_id} ({resource_type}): {action}")
        self.say(f"dashboard {stack.physical_ids['Dashboard']} (CloudWatch; moto stores it, it draws nothing)")
        # moto would run the score-window function from the score table's stream itself (and fail without a
        # container engine, once per row); the evaluator reads the score table when a monitor has no window.
        detached = detach_event_sources()
        self.say(
            f"demo detached the event-source mappings of {', '.join(detached) or 'nothing'} (moto runs no function)"
        )
        return stack

    def prepare_world(self, stack: StackInfo) -> dict[str, str]:
        """What a user has besides our stack: their pipeline, an on-call subscriber, an event consumer."""
        queues = prepare_world(self.client, stack.outputs, self.args.pipeline, self.say)
        if self.args.guard or self.args.features:
            self.apply_guards(stack.outputs["ConfigParameterName"])
        return queues

    def apply_guards(self, parameter: str) -> None:
        ssm = self.client("ssm")
        document = json.loads(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])
        guards = [parse_guard(g) for g in self.args.guard]
        for monitor in document["monitors"]:
            monitor["guards"] = guards
        document = demo_features.apply_score(document, self.say) if self.args.features else document
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

    def write_score(self, stack: StackInfo, observation: Observation) -> None:
        at, metrics = observation.at, dict(observation.metrics)
        if self.args.source == "dynamodb":
            item = {"monitor_id": self.args.monitor_id, "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
            if self.args.features:
                metrics |= demo_features.item_attributes(observation)
            item |= {k: Decimal(str(v)) for k, v in {"drift_score": observation.score, **metrics}.items()}
            self.session.resource("dynamodb", endpoint_url=self.endpoint).Table(
                stack.outputs["ScoreTableName"]
            ).put_item(Item=item)
            return
        dimensions = [{"Name": "MonitorId", "Value": self.args.monitor_id}]
        self.client("cloudwatch").put_metric_data(
            Namespace="MLOps/ModelMonitoring",
            MetricData=[
                {"MetricName": name, "Dimensions": dimensions, "Timestamp": at, "Value": value}
                for name, value in {"drift_score": observation.score, **metrics}.items()
            ]
            + (demo_features.metric_data(observation, dimensions) if self.args.features else []),
        )

    def replay(self, stack: StackInfo) -> int:
        """Tick the evaluator as the demo stack's schedule does (TickMinutes 1440: once a day, at 00:00 UTC), with
        every score up to that time written first: one line per day, and a day without a score shows as one."""
        evaluator, lifecycle = self.handlers
        tick_template = json.loads(SCHEDULED_EVENT.read_text())
        observations = self.series.observations
        # Up to the first tick at or after the newest score, so that it is read however late in its day it came.
        last = datetime.fromtimestamp(
            math.ceil(self.series.end.timestamp() / TICK.total_seconds()) * TICK.total_seconds(), UTC
        )
        ticks = list(evaluation_times(None, self.series.start, last, TICK))
        read = 0
        self.say(f"\n{'date':<12}{'score':>8}  {'state':<12}actions")
        evaluations, written = 0, 0
        for at in ticks:
            newest: Observation | None = None
            while written < len(observations) and observations[written].at <= at:
                newest = observations[written]
                self.write_score(stack, newest)
                written += 1
            read += newest is not None
            event = {**tick_template, "id": str(uuid.uuid4()), "time": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
            report = self.invoke(evaluator, event, "evaluator")
            evaluations += len(report["monitors"])
            score = f"{newest.score:>8.4f}" if newest is not None else f"{'-':>8}"
            for monitor in report["monitors"]:
                actions = [f"{a['kind']}:{a['status']}" for a in monitor["actions"]]
                state = monitor.get("state_after", monitor["outcome"])
                self.say(f"{at.date()!s:<12}{score}  {state:<12}{' '.join(actions) or '-'}")
                if any(a["kind"] == "sagemaker" and a["status"] == "done" for a in monitor["actions"]):
                    arn = next(a["result"] for a in monitor["actions"] if a["kind"] == "sagemaker")
                    self.finish_pipeline(lifecycle, arn, at + PIPELINE_DURATION)
        if read < len(observations):
            print(
                f"warning: the demo stack ticks once a day and reads the newest score at each tick: {read} of "
                f"{len(observations)} datapoints are evaluated (the retrain-trigger CLI replays any --tick)",
                file=sys.stderr,
            )
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
            if top := json.loads(alert["Message"]).get("top_features"):
                self.say("    top features: " + ", ".join(f"{f['feature']} {f['value']:g}" for f in top))

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
        # Marked when each was decided, not at the datapoint it read (a no-data alert's is days older).
        alert_points = [(a["decided_at"], a["event"]) for a in (json.loads(m["Message"]) for m in seen["alerts"])]
        figure = plot_scores(
            as_frame(self.series),
            levels={"critical": self.args.critical, "warning": self.args.warning, "reset": self.args.reset},
            alerts=alert_points,
            retrains=[r["decided_at"] for r in seen["requests"]],
            path=self.args.out / "drift.png",
            title=f"{self.args.monitor_id}: drift score vs levels ({self.args.scores.name}, {self.args.source})",
        )
        self.say(f"\nfigure: {figure}")
        if self.args.features:
            requested = [datetime.fromisoformat(r["decided_at"]) for r in seen["requests"]]
            top = demo_features.plot_features(self.series.observations, requested, self.args.out / "features.png",
                                              self.args.monitor_id)  # fmt: skip
            self.say(f"figure: {top}")
        return {
            "scenario": ("features" if self.args.features else "reference")
            if self.args.scores.resolve() == REFERENCE.resolve()
            else self.args.scores.stem,
            "source": self.args.source,
            "evaluations": evaluations,
            "retrains": len(seen["retrains"]),
            "first_retrain": retrain_dates[0] if retrain_dates else None,
            "pipeline_executions": len(seen["executions"]),
            "retrain_requests": len(seen["requests"]),
            "alerts": len(seen["alerts"]),
            "bus_events": len(seen["bus_events"]),
        }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        series = checked_scores(args)
        args.out.mkdir(parents=True, exist_ok=True)
    except (UsageError, OSError) as error:
        print(f"retrain-trigger-demo: error: {error}", file=sys.stderr)
        return 2
    for problem in series.problems:
        print(problem, file=sys.stderr)
    enter_sandbox()
    log_path = args.out / "lambda.log"
    with log_path.open("w") as log, start_moto_server() as server:
        enter_sandbox(server.endpoint_url)
        print(f"moto server on {server.endpoint_url}; Lambda logs and EMF metrics go to {log_path}")
        summary = Demo(args, series, server.endpoint_url, sys.stdout, log).run()
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
