"""Score: on its schedule, the newest window of data under an S3 prefix scored against a reference profile (numpy, in
the DriftLayer), written to the score table as one item with its sample_count and per-feature values."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain_trigger.adapters.data_capture import S3DataStore, ScoreTableWriter
from retrain_trigger.events import ScheduledTick, parse_event
from retrain_trigger_drift_data.job import ScoreJobError, get_score_settings, score_newest_window

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    tick = parse_event(event, ScheduledTick)  # its time is the window's end, so a retried run scores the same
    settings = get_score_settings()
    try:
        run = score_newest_window(tick.time, settings, S3DataStore(), ScoreTableWriter(settings.score_table_name))
    except ScoreJobError as error:
        logger.error("drift score not written", extra={"monitor_id": settings.monitor_id, "problem": str(error)})
        metrics.add_metric(name="DriftScoreErrors", unit=MetricUnit.Count, value=1)
        raise
    logger.info("drift score", extra=run.as_dict())
    metrics.add_metric(name="DriftScoresWritten", unit=MetricUnit.Count, value=int(run.written))
    return run.as_dict()
