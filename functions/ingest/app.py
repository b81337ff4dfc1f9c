"""Ingest: a detector's output file, new under the ingest prefix, read whole into score items and written to the score
table. A malformed file writes nothing: it is logged and alerted (naming the file and the field), and not retried,
since reading it again cannot make it right."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain_trigger.adapters.actions import AwsActionGateway
from retrain_trigger.adapters.ingest import BatchScoreWriter, S3ObjectStore
from retrain_trigger.detectors import DetectorFileError
from retrain_trigger.ingest import created_objects, ingest_object, target_of
from retrain_trigger.settings import get_settings

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    writer, alerts = BatchScoreWriter(settings.score_table_name), AwsActionGateway(settings.alert_topic_arn, "", "")
    runs = []
    for found in created_objects(event):
        target = target_of(found.key, settings.ingest_prefix, found.at)
        if target is None:
            logger.info("not a detector file of the layout: skipped", extra={"bucket": found.bucket, "key": found.key})
            continue
        try:
            run = ingest_object(found.bucket, found.key, target, S3ObjectStore(), writer, alerts)
        except DetectorFileError as error:
            logger.error("detector file refused, nothing written", extra={"format": target.format, **error.as_dict()})
            metrics.add_metric(name="DetectorFilesRefused", unit=MetricUnit.Count, value=1)
            runs.append({"file": error.source, "written": 0, "refused": str(error)})
            continue
        logger.info("detector file ingested", extra={"format": target.format, **run.as_dict()})
        metrics.add_metric(name="ScoreItemsIngested", unit=MetricUnit.Count, value=run.written)
        runs.append(run.as_dict())
    return {"files": runs}
