"""Same engine, same code: the reference scenario replayed by the CLI and by the real handlers on moto agree
evaluation by evaluation and transition by transition."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from retrain_trigger.adapters.clients import aws_client
from tests.cli.conftest import REFERENCE, Run
from tests.support.world import World, context, event

START = datetime(2024, 7, 11, tzinfo=UTC)
UNTIL = datetime(2024, 8, 10, tzinfo=UTC)  # a day past the last datapoint: the retraining ends, grace runs
TICK = timedelta(hours=1)  # the template's TickMinutes default, as the World's evaluator runs
PIPELINE_RUNS = timedelta(hours=3)


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def drive_handlers(world: World) -> list[dict[str, Any]]:
    """The evaluator ticks hourly while the scores arrive; each pipeline it starts succeeds three hours later
    (SageMaker's status-change event to the lifecycle handler). Returns what the handlers reported, in order."""
    rows = list(csv.DictReader(REFERENCE.open()))
    reports: list[dict[str, Any]] = []
    finishing: tuple[datetime, str] | None = None
    now = START
    while now <= UNTIL:
        if finishing is not None and finishing[0] <= now:
            ended, arn = finishing
            described = aws_client("sagemaker").describe_pipeline_execution(PipelineExecutionArn=arn)
            status = event(
                "pipeline-succeeded.json",
                time=iso(ended),
                detail={
                    "pipelineExecutionArn": arn,
                    "pipelineExecutionDescription": described.get("PipelineExecutionDescription", ""),
                },
            )
            reports.append({"at": iso(ended), **world.lifecycle.lambda_handler(status, context())})
            finishing = None
        while rows and rows[0]["timestamp"] <= iso(now):
            row = rows.pop(0)
            world.score("churn-model", row["timestamp"], float(row["drift_score"]))
        (monitor,) = world.tick(iso(now))["monitors"]
        reports.append({"at": iso(now), **monitor})
        started = [a["result"] for a in monitor["actions"] if a["kind"] == "sagemaker" and a["status"] == "done"]
        if started:
            finishing = (now + PIPELINE_RUNS, started[0])
        now += TICK
    return reports


def handler_transitions(world: World) -> list[tuple[str, str, str, str]]:
    """The state table's history, oldest first, without the outbox's own entries (they record deliveries)."""
    items = aws_client("dynamodb").query(
        TableName=world.state_table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :h)",
        ExpressionAttributeValues={":pk": {"S": "monitor#churn-model"}, ":h": {"S": "history#"}},
    )["Items"]
    return [
        (i["at"]["S"], i["before"]["S"], i["after"]["S"], i["reason"]["S"])
        for i in items
        if not i["reason"]["S"].startswith("actions")
    ]


def cli_transitions(lines: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    out, before = [], "OK"
    for line in lines:
        if line["transition"]:
            out.append((line["timestamp"], before, line["state"], line["reason"]))
        before = line["state"]
    return out


def test_the_cli_and_the_handlers_make_the_same_decisions_on_the_reference_scenario(
    world: World, cli: Any, tmp_path: Path
) -> None:
    # Given the configuration the template seeds, exactly as the deployed evaluator reads it
    deployed = aws_client("ssm").get_parameter(Name=world.parameter)["Parameter"]["Value"]
    config = tmp_path / "monitors.json"
    config.write_text(deployed)

    # When the handlers run the scenario on moto, and the CLI replays it
    reports = drive_handlers(world)
    run: Run = cli(
        "replay", "--config", config, "--scores", REFERENCE, "--tick", "1h",
        "--retrain-duration", "3h", "--until", iso(UNTIL),
    )  # fmt: skip
    assert run.code == 0, run.err
    lines = run.lines()

    # Then every evaluation (and the lifecycle step) matches: time, score, state, reason
    assert len(lines) == len(reports) > 700
    for line, report in zip(lines, reports, strict=True):
        assert (line["timestamp"], line["state"], line["reason"]) == (
            report["at"],
            report["state_after"],
            report["reason"],
        ), json.dumps(report)
        assert line["score"] == report.get("score")
    # And the transitions, one by one, are those the state table recorded
    transitions = cli_transitions(lines)
    assert transitions == handler_transitions(world)
    assert [t[2] for t in transitions if t[1] != t[2]] == ["WARNING", "RETRAINING", "RETRAINED"]
    # And exactly one retraining starts, on 2024-08-09
    assert [line["timestamp"] for line in lines if "retrain" in line["actions"]] == ["2024-08-09T00:00:00Z"]
