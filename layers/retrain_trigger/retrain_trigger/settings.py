"""The functions' environment, read once per container in one cached function (never at import time)."""

from __future__ import annotations

import os
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from retrain_trigger.config import DEFAULT_TICK


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    state_table_name: str = Field(alias="STATE_TABLE_NAME")
    score_table_name: str = Field(default="", alias="SCORE_TABLE_NAME")
    alert_topic_arn: str = Field(default="", alias="ALERT_TOPIC_ARN")
    retrain_queue_url: str = Field(default="", alias="RETRAIN_QUEUE_URL")
    event_bus_name: str = Field(default="", alias="EVENT_BUS_NAME")
    # Where the monitors' document lives: an SSM parameter (8 KiB at most) or an S3 object (any size).
    config_source: Literal["ssm", "s3"] = Field(default="ssm", alias="CONFIG_SOURCE")
    config_parameter_name: str = Field(default="", alias="CONFIG_PARAMETER_NAME")
    config_bucket: str = Field(default="", alias="CONFIG_BUCKET")
    config_key: str = Field(default="monitors.json", alias="CONFIG_KEY")
    # Per monitor, its latest datapoints kept by the score stream's consumer; empty: one Query per monitor.
    score_window_table_name: str = Field(default="", alias="SCORE_WINDOW_TABLE_NAME")
    # Fan-out: a tick with more due monitors than this sends shards of this size to the queue (empty: never).
    shard_queue_url: str = Field(default="", alias="SHARD_QUEUE_URL")
    shard_size: int = Field(default=2000, alias="SHARD_SIZE", ge=1)
    config_max_age_seconds: int = Field(default=60, alias="CONFIG_MAX_AGE_SECONDS", ge=0)
    tick_minutes: int = Field(default=int(DEFAULT_TICK.total_seconds() // 60), alias="TICK_MINUTES", ge=1)
    history_ttl_days: int = Field(default=90, alias="HISTORY_TTL_DAYS", ge=1)
    lease_seconds: int = Field(default=900, alias="LEASE_SECONDS", ge=1)
    event_source: str = Field(default="retrain-trigger", alias="EVENT_SOURCE")
    action_max_attempts: int = Field(default=3, alias="ACTION_MAX_ATTEMPTS", ge=1, le=20)
    action_backoff_seconds: int = Field(default=60, alias="ACTION_BACKOFF_SECONDS", ge=0)
    # The IngestFunction's: detectors' files are read from <prefix><format>/<monitor_id>/...
    ingest_prefix: str = Field(default="", alias="INGEST_PREFIX")


@cache
def get_settings() -> Settings:
    return Settings.model_validate(dict(os.environ))
