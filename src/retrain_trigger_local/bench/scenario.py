"""The bench's world: N monitors, their configuration and scores (seeded on the moto server by bench.seeding).

Every monitor has one score below its warning level, written once: every tick, for every monitor, is the steady
state (nothing changes, nothing to alert). That is what nearly every hourly tick of a real fleet looks like, and it
needs no state write at any N, so moto's transaction cost (it deep-copies the table on every TransactWriteItems)
never enters the figures.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from retrain_trigger_local.runtime import FUNCTIONS_DIR, ROOT, SANDBOX_ENV

Source = Literal["cloudwatch", "dynamodb"]
SOURCES: tuple[Source, ...] = ("cloudwatch", "dynamodb")


EVALUATOR_DIR = FUNCTIONS_DIR / "evaluator"
SCHEDULED_EVENT = ROOT / "events" / "scheduled.json"

TICK = timedelta(hours=1)
SCORES_AT = datetime(2024, 8, 9, tzinfo=UTC)  # every monitor's one datapoint; tick k runs k hours later
MAX_TICKS = 3  # the datapoint stays fresh (max_age) for this many ticks
MAX_AGE = "4h"
THRESHOLDS = {"critical": 0.2, "reset": 0.15, "warning": 0.1}

STATE_TABLE = "bench-state"
NAIVE_STATE_TABLE = "bench-naive-state"
WINDOW_TABLE = "bench-score-windows"
SCORE_TABLE = "bench-scores"
CONFIG_BUCKET = "bench-config"
CONFIG_KEY = "monitors.json"
FLEET_CONFIG_KEY = "monitors-fleet.json"  # the same monitors with the fleet rules configured (docs/fleet.md)
FLEET_GROUP = 100  # each group of this many monitors is inhibited by its first
FLEET_ALARMS = 10  # upstream CloudWatch alarms shared across the fleet
NAMESPACE = "Bench/Drift"
TOPIC = "bench-alerts"
QUEUE = "bench-retrain.fifo"
SHARD_QUEUE = "bench-shards"
BUS = "bench-bus"

# What Lambda and template.yaml's Globals give the evaluator (tracing is not disabled: the template turns it on).
FUNCTION_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "retrain-trigger-evaluator",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "POWERTOOLS_SERVICE_NAME": "retrain-trigger",
    "POWERTOOLS_METRICS_NAMESPACE": "RetrainTrigger",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


def monitor_id(index: int) -> str:
    return f"m{index:05d}"


def score(index: int) -> float:
    """Below warning (0.1): a new monitor stays OK, and so on every tick after."""
    return round(0.02 + 0.01 * (index % 7), 2)


def metric_name(index: int) -> str:
    return f"drift-{monitor_id(index)}"


def monitor_entry(index: int, source: Source) -> dict[str, Any]:
    if source == "dynamodb":
        return {"id": monitor_id(index)}
    # One metric name per monitor and no dimensions: moto compares dimensions by sorting them for every datapoint
    # of every query (O(N) per query); AWS looks a metric up by name and dimensions alike. Calls are the same.
    return {
        "id": monitor_id(index),
        "source": {"type": "cloudwatch", "namespace": NAMESPACE, "metric_name": metric_name(index), "period": "1h"},
    }


def catalog_document(indexes: Sequence[int], source: Source) -> dict[str, Any]:
    return {
        "defaults": {"source": {"type": source}, **THRESHOLDS, "max_age": MAX_AGE},
        "monitors": [monitor_entry(i, source) for i in indexes],
    }


def fleet_document(indexes: Sequence[int], source: Source) -> dict[str, Any]:
    """`catalog_document` with inhibition and a budget: each monitor is inhibited by its group's first monitor and
    by one of a few upstream alarms, and the fleet may start 5 retrainings an hour, 10 at once. In the steady state
    nothing would start: what it costs is the alarms' read (one DescribeAlarms per 100 names) and nothing else."""
    document = catalog_document(indexes, source)
    for entry, index in zip(document["monitors"], indexes, strict=True):
        leader = index - index % FLEET_GROUP
        causes = [monitor_id(leader)] if leader != index and leader in indexes else []
        entry["suppressed_by"] = [*causes, f"alarm:bench-upstream-{index % FLEET_ALARMS}"]
    return document | {"fleet": {"max_retrains_per_hour": 5, "max_concurrent_retrains": 10}}


def tick_time(tick: int) -> datetime:
    if not 1 <= tick <= MAX_TICKS:
        raise ValueError(f"tick {tick}: the scores stay fresh for ticks 1..{MAX_TICKS}")
    return SCORES_AT + tick * TICK


def scheduled_event(now: datetime) -> dict[str, Any]:
    """events/scheduled.json as EventBridge sends it at `now`."""
    event: dict[str, Any] = json.loads(SCHEDULED_EVENT.read_text())
    event["time"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


@dataclass(frozen=True)
class World:
    """What one scenario seeded on the server: the monitors and the names both variants are configured with."""

    endpoint: str
    source: Source
    indexes: tuple[int, ...]
    topic_arn: str
    queue_url: str
    windows: bool = False  # DynamoDB source: the score window table, kept by the real stream consumer
    shard_queue_url: str = ""  # where a tick with more due monitors than SHARD_SIZE sends its shards

    @property
    def size(self) -> int:
        return len(self.indexes)

    def evaluator_environment(self) -> dict[str, str]:
        """The evaluator's settings, as template.yaml sets them: the configuration in S3 (SSM holds 8 KiB at most)."""
        return {
            "STATE_TABLE_NAME": STATE_TABLE,
            "SCORE_TABLE_NAME": SCORE_TABLE,
            "ALERT_TOPIC_ARN": self.topic_arn,
            "RETRAIN_QUEUE_URL": self.queue_url,
            "EVENT_BUS_NAME": BUS,
            "CONFIG_SOURCE": "s3",
            "CONFIG_BUCKET": CONFIG_BUCKET,
            "CONFIG_KEY": CONFIG_KEY,
            # Ticks are an hour apart in production, so each one reads the configuration once.
            "CONFIG_MAX_AGE_SECONDS": "0",
            "TICK_MINUTES": str(int(TICK.total_seconds() // 60)),
            **({"SCORE_WINDOW_TABLE_NAME": WINDOW_TABLE} if self.windows else {}),
            **({"SHARD_QUEUE_URL": self.shard_queue_url} if self.shard_queue_url else {}),
        }

    def child_environment(self) -> dict[str, str]:
        # No X-Ray daemon nor trace header here: tracing would only log that it has nowhere to send segments.
        # (The cold-import probe keeps it on, as the template does: importing the X-Ray SDK is a cold-start cost.)
        return {
            **SANDBOX_ENV,
            **FUNCTION_ENV,
            **self.evaluator_environment(),
            "POWERTOOLS_TRACE_DISABLED": "1",
            "AWS_ENDPOINT_URL": self.endpoint,
        }
