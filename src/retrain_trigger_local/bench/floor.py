"""The batching floor: the fewest AWS calls one steady-state tick over N monitors can make."""

from __future__ import annotations

import math

from retrain_trigger_local.bench.scenario import Source

METRIC_QUERIES_PER_CALL = 500  # GetMetricData's MetricDataQueries limit
KEYS_PER_BATCH_GET = 100  # BatchGetItem's limit


def floor_calls(size: int, source: Source) -> int:
    """Score windows (ceil(N/500) GetMetricData, or ceil(N/100) BatchGetItem of one window item per monitor),
    + ceil(N/100) BatchGetItem of states + 1 configuration read."""
    if size < 1:
        raise ValueError("at least one monitor")
    per_call = METRIC_QUERIES_PER_CALL if source == "cloudwatch" else KEYS_PER_BATCH_GET
    return math.ceil(size / per_call) + math.ceil(size / KEYS_PER_BATCH_GET) + 1
