"""Score windows for the DynamoDB source, where the build has them (issue 9): the score table's stream, delivered to
the real consumer (functions/score_windows/app.py) as Lambda's event source mapping would, before any measuring.

Seeding only: what the consumer costs is the producers' side, not the tick's. moto keeps the stream; a fresh
process reads it from its start and calls the consumer's handler with batches of 100 records (the mapping's
default batch size).
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import boto3

from retrain_trigger_local.bench.scenario import SCORE_TABLE, WINDOW_TABLE, World
from retrain_trigger_local.runtime import LAYER_DIR, ROOT, LambdaContext, handler_path, load_handler

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CONSUMER = "score_windows"  # functions/score_windows/app.py
BATCH_SIZE = 100
EMPTY_SCORE_TABLE = "bench-scores-before-the-producers"
STREAM_TABLE = "BENCH_STREAM_TABLE"  # the pump's own variable: whose stream to read


def windows_available() -> bool:
    """True when this checkout's template has the window table and the consumer exists."""
    from retrain_trigger_local.template import read_template  # noqa: PLC0415 - yaml only where seeding

    resources = read_template()["Resources"]
    return "ScoreWindowTable" in resources and (ROOT / "functions" / CONSUMER / "app.py").is_file()


def enable_stream(dynamodb: DynamoDBClient, score_table: str) -> None:
    """The window table and the score table's stream, both from template.yaml's own properties."""
    from retrain_trigger_local.template import resource_properties  # noqa: PLC0415

    for name, logical_id in ((WINDOW_TABLE, "ScoreWindowTable"), (EMPTY_SCORE_TABLE, "ScoreTable")):
        props = resource_properties(logical_id)
        dynamodb.create_table(
            TableName=name,
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode=props["BillingMode"],
        )
    view = resource_properties("ScoreTable")["StreamSpecification"]["StreamViewType"]
    dynamodb.update_table(TableName=score_table, StreamSpecification={"StreamEnabled": True, "StreamViewType": view})


def deliver(world: World) -> None:
    """Run the consumer over the whole stream in a fresh process; raises if any record was not applied."""
    path = os.pathsep.join([str(LAYER_DIR), str(handler_path(CONSUMER).parent), os.environ.get("PYTHONPATH", "")])
    env = {
        **os.environ,
        **world.child_environment(),
        "PYTHONPATH": path.rstrip(os.pathsep),
        "AWS_LAMBDA_FUNCTION_NAME": "retrain-trigger-score-windows",
        STREAM_TABLE: SCORE_TABLE,
        # The consumer seeds a monitor's first window from the score table, once: here from an empty copy, as it
        # would have found the table had it been deployed before the producers wrote (moto's Query scans the whole
        # table, so seeding 10,000 windows from the full one would take about 20 minutes on moto alone).
        "SCORE_TABLE_NAME": EMPTY_SCORE_TABLE,
    }
    completed = subprocess.run(
        [sys.executable, "-m", "retrain_trigger_local.bench.windows"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if completed.returncode:
        raise RuntimeError(f"bench: the score window consumer failed:\n{completed.stderr[-4000:]}")


def _records(score_table: str) -> list[dict[str, Any]]:
    """Every record of the table's stream, in the Lambda event's shape."""
    dynamodb = boto3.client("dynamodb")
    arn = dynamodb.describe_table(TableName=score_table)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams")
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while True:  # GetRecords answers at most 1,000 records a call
            page = streams.get_records(ShardIterator=iterator)
            for record in page["Records"]:
                image = dict(record["dynamodb"])
                image["ApproximateCreationDateTime"] = image["ApproximateCreationDateTime"].timestamp()
                records.append({**record, "dynamodb": image, "eventSourceARN": arn})
            if not page["Records"] or "NextShardIterator" not in page:
                break
            iterator = page["NextShardIterator"]
    return records


def main() -> int:
    app = load_handler(CONSUMER)
    records = _records(os.environ[STREAM_TABLE])
    for start in range(0, len(records), BATCH_SIZE):
        context = LambdaContext("retrain-trigger-score-windows", f"bench-windows-{start}")
        answer = app.lambda_handler({"Records": records[start : start + BATCH_SIZE]}, context)
        if answer.get("batchItemFailures"):
            raise RuntimeError(f"records not applied: {answer['batchItemFailures'][:5]}")
    print(f"{len(records)} records delivered", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
