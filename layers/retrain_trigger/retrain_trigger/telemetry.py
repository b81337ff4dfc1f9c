"""One structured log line per evaluation and EMF metrics, from a Report. Handlers call this; the domain does not."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from retrain_trigger.tick_report import MonitorResult, Report


def record_result(result: MonitorResult, logger: Logger, metrics: Metrics) -> None:
    """One log line per monitor (per outbox transition too), and the counters the template's alarms watch."""
    if result.outcome == "ignored" and result.decision is None:
        # Another pipeline's status change in the same account: normal traffic, not ours.
        logger.debug("event ignored", extra={"outcome": result.outcome, **(result.error or {})})
        return
    if result.decision is None:
        line = {"monitor_id": result.monitor_id, "outcome": result.outcome, "actions_run": result.actions}
        if result.outcome == "error":
            logger.error("evaluation failed", extra={**line, "error": result.error})
            metrics.add_metric(name="EvaluationErrors", unit=MetricUnit.Count, value=1)
        else:  # not due this tick: only its waiting actions were delivered
            logger.info("actions delivered", extra=line)
    else:
        _record_decision(result, logger, metrics)
    for refused in result.refused:
        logger.error("score item refused", extra={"monitor_id": result.monitor_id, **refused})
    if result.refused:
        metrics.add_metric(name="BadScoreItems", unit=MetricUnit.Count, value=len(result.refused))
    for decision in result.transitions:
        logger.warning("outbox transition", extra={**decision.as_log(), "outcome": decision.outcome})
        metrics.add_metric(name="Transitions", unit=MetricUnit.Count, value=1)
    done = sum(1 for a in result.actions if a.get("status") == "done")
    failed = sum(1 for a in result.actions if a.get("status") in ("failed", "retry"))
    if done:
        metrics.add_metric(name="ActionsDone", unit=MetricUnit.Count, value=done)
    if failed:
        metrics.add_metric(name="ActionFailures", unit=MetricUnit.Count, value=failed)
    # A try nobody recorded the outcome of: it may or may not have landed, and it is not repeated.
    unconfirmed = sum(1 for a in result.actions if a.get("status") == "unconfirmed")
    if unconfirmed:
        metrics.add_metric(name="ActionsUnconfirmed", unit=MetricUnit.Count, value=unconfirmed)


def _record_decision(result: MonitorResult, logger: Logger, metrics: Metrics) -> None:
    decision = result.decision
    assert decision is not None
    line = {**decision.as_log(), "outcome": result.outcome, "actions_run": result.actions}
    if result.outcome == "ignored":
        logger.info("event ignored", extra=line)  # a late or replayed status of an earlier attempt
        return
    logger.info("evaluation", extra=line)
    if decision.score is not None:
        with single_metric(
            name="DriftScore", unit=MetricUnit.NoUnit, value=decision.score, namespace=metrics.namespace
        ) as metric:
            metric.add_dimension(name="MonitorId", value=result.monitor_id)
    if result.outcome == "transition":
        metrics.add_metric(name="Transitions", unit=MetricUnit.Count, value=1)
    if result.outcome == "insufficient_data":
        metrics.add_metric(name="InsufficientData", unit=MetricUnit.Count, value=1)
    if result.outcome == "stale":
        metrics.add_metric(name="StaleTicks", unit=MetricUnit.Count, value=1)
    if result.outcome == "conflict":
        metrics.add_metric(name="ConcurrentUpdates", unit=MetricUnit.Count, value=1)


def record_report(report: Report, logger: Logger, metrics: Metrics) -> None:
    """The heartbeat (MonitorsEvaluated) counts evaluations that happened: a tick that only sent its monitors to
    shards says ShardsSent instead, so a shard queue nobody consumes leaves the heartbeat silent."""
    logger.append_keys(config_version=report.config_version, evaluation_time=report.now.isoformat())
    if report.shards:
        metrics.add_metric(name="ShardsSent", unit=MetricUnit.Count, value=report.shards)
    else:
        metrics.add_metric(name="MonitorsEvaluated", unit=MetricUnit.Count, value=len(report.results))
    for result in report.results:
        record_result(result, logger, metrics)
