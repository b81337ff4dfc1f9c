"""The cold-start baseline: a minimal evaluator handler written from scratch, with nothing of ours in it.

It imports boto3 and Powertools' Logger and Metrics, as our handler does (no Tracer: the bench runs with tracing off,
where ours loads no X-Ray SDK either; with it this baseline would import the SDK and look slower than it need be),
and makes exactly the calls of the batching floor
for N <= 100 CloudWatch monitors: the configuration read, one GetMetricData and one BatchGetItem of the states. It
decides nothing: what our handler pays beyond it at a cold start is what our engine, models and adapters cost.
Loaded by path in a fresh process, as Lambda loads a handler (bench.cold_child); never imported by the bench.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()

LOOKBACK = timedelta(hours=5)  # the monitors' max_age (4h) plus one hourly period, as the evaluator queries


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
    document = boto3.client("s3").get_object(Bucket=os.environ["CONFIG_BUCKET"], Key=os.environ["CONFIG_KEY"])
    monitors = json.loads(document["Body"].read())["monitors"]
    queries: list[Any] = [
        {
            "Id": f"m{i}",
            "MetricStat": {
                "Metric": {"Namespace": m["source"]["namespace"], "MetricName": m["source"]["metric_name"]},
                "Period": 3600,
                "Stat": "Average",
            },
        }
        for i, m in enumerate(monitors)
    ]
    scores = boto3.client("cloudwatch").get_metric_data(
        MetricDataQueries=queries, StartTime=now - LOOKBACK, EndTime=now + timedelta(seconds=1)
    )["MetricDataResults"]
    table = os.environ["STATE_TABLE_NAME"]
    keys: list[Any] = [{"pk": {"S": f"monitor#{m['id']}"}, "sk": {"S": "state"}} for m in monitors]
    states = boto3.client("dynamodb").batch_get_item(RequestItems={table: {"Keys": keys}})["Responses"][table]
    metrics.add_metric(name="MonitorsRead", unit=MetricUnit.Count, value=len(monitors))
    return {"monitors": len(monitors), "scores": sum(len(r["Values"]) for r in scores), "states": len(states)}
