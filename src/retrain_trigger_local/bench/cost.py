"""Cost per model-month at hourly checks, from the calls counted and public AWS prices, against one CloudWatch alarm
per model (the do-it-yourself alternative for a metric already in CloudWatch)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Public list prices, us-east-1, from the AWS pricing pages as of 2025-06 (written from that reading: this machine
# has no web access to re-check them). No free tier counted.
PRICES_AS_OF = "2025-06"
PRICE = {
    "lambda_request": 0.20 / 1e6,  # per request
    "lambda_gb_second_arm64": 0.0000133334,  # per GB-second, Arm
    "getmetricdata_metric": 0.01 / 1000,  # per metric requested
    "alarm_standard_month": 0.10,  # per standard-resolution alarm metric per month
    "dynamodb_read_unit": 0.125 / 1e6,  # on-demand, per read request unit (since 2024-11-01)
    "dynamodb_write_unit": 0.625 / 1e6,  # on-demand, per write request unit (since 2024-11-01)
    "s3_get": 0.0004 / 1000,  # per GET
    "ssm_advanced_interaction": 0.05 / 10_000,  # per API interaction, Advanced tier / higher throughput
    "sns_publish": 0.50 / 1e6,  # per request
    "sqs_request": 0.40 / 1e6,  # per request, standard queue
    "logs_ingested_gb": 0.50,  # CloudWatch Logs, per GB ingested
}
HOURS_PER_MONTH = 730  # 24 x 365 / 12: one tick an hour
MEMORY_GB = 0.5  # template.yaml: MemorySize 512, arm64
CALL_LATENCY_SECONDS = 0.02  # assumed AWS latency per call, sequential (moto's own time is not Lambda's)

# Request units per call, upper bounds for this scenario's small items (< 1 KB written, < 4 KB read).
READ_UNITS = {"GetItem": 1.0, "Query": 1.0, "BatchGetItem": 100.0, "Scan": 1.0}  # BatchGetItem: 100 keys a call
WRITE_UNITS = {"PutItem": 1.0, "UpdateItem": 1.0, "DeleteItem": 1.0, "BatchWriteItem": 25.0, "TransactWriteItems": 4.0}


@dataclass(frozen=True)
class MonthlyCost:
    monitors: int
    by_item: dict[str, float]  # USD per month for the whole fleet

    @property
    def total(self) -> float:
        return sum(self.by_item.values())

    @property
    def per_model(self) -> float:
        return self.total / self.monitors


def per_tick_items(
    calls: Mapping[str, int], metrics_requested: int, cpu_seconds: float, log_bytes: float
) -> dict[str, float]:
    """USD of one tick, by item: the counted calls priced one by one, plus Lambda and its logs."""
    items = {"lambda requests": PRICE["lambda_request"]}
    duration = cpu_seconds + CALL_LATENCY_SECONDS * sum(calls.values())
    items["lambda duration"] = duration * MEMORY_GB * PRICE["lambda_gb_second_arm64"]
    items["CloudWatch Logs"] = log_bytes / 1e9 * PRICE["logs_ingested_gb"]
    for name, count in calls.items():
        service, operation = name.split(".", 1)
        item = f"{service} {operation}"
        if name == "cloudwatch.GetMetricData":
            items[item] = metrics_requested * PRICE["getmetricdata_metric"]
        elif service == "dynamodb" and operation in READ_UNITS:
            items[item] = count * READ_UNITS[operation] * PRICE["dynamodb_read_unit"]
        elif service == "dynamodb" and operation in WRITE_UNITS:
            items[item] = count * WRITE_UNITS[operation] * PRICE["dynamodb_write_unit"]
        elif service == "s3":
            items[item] = count * PRICE["s3_get"]
        elif service == "ssm":
            items[item] = count * PRICE["ssm_advanced_interaction"]
        elif service == "sns":
            items[item] = count * PRICE["sns_publish"]
        elif service == "sqs":
            items[item] = count * PRICE["sqs_request"]
        else:
            raise ValueError(f"no price for {name}")
    return items


def monthly(
    monitors: int, calls: Mapping[str, int], metrics_requested: int, cpu_seconds: float, log_bytes: float
) -> MonthlyCost:
    """A month of hourly ticks, each as the measured steady-state tick."""
    tick = per_tick_items(calls, metrics_requested, cpu_seconds, log_bytes)
    return MonthlyCost(monitors, {item: usd * HOURS_PER_MONTH for item, usd in tick.items()})


def alarm_per_model_month() -> float:
    return PRICE["alarm_standard_month"]
