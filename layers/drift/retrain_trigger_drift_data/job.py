"""The scheduled ScoreFunction's job: the newest window of data under an S3 prefix, scored against a profile, written
as one score item. Pure: S3 and the score table come in through the ports below, time is a parameter."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from retrain_trigger.score_items import feature_attribute
from retrain_trigger_drift.combine import HOWS
from retrain_trigger_drift.ports import DataObject, DataStore, ScoreWriter
from retrain_trigger_drift_data.metrics import METHODS, Score, Scorer
from retrain_trigger_drift_data.profile import Profile, ProfileError
from retrain_trigger_drift_data.tables import Chunk, TableError, capture_chunks, csv_chunks


class ScoreSettings(BaseModel):
    """The ScoreFunction's environment (template.yaml's ScoreFunction), read once per container."""

    model_config = ConfigDict(frozen=True)

    bucket: str = Field(alias="SCORE_DATA_BUCKET", min_length=1)
    prefix: str = Field(default="", alias="SCORE_DATA_PREFIX")
    profile_key: str = Field(alias="SCORE_PROFILE_KEY", min_length=1)
    monitor_id: str = Field(alias="SCORE_MONITOR_ID", min_length=1)
    score_table_name: str = Field(alias="SCORE_TABLE_NAME", min_length=1)
    window_minutes: int = Field(default=60, alias="SCORE_WINDOW_MINUTES", ge=1)
    method: str = Field(default="psi", alias="SCORE_METHOD", pattern="^(" + "|".join(METHODS) + ")$")
    combine: str = Field(default="share_drifted", alias="SCORE_COMBINE", pattern="^(" + "|".join(HOWS) + ")$")
    feature_threshold: float | None = Field(default=None, alias="SCORE_FEATURE_THRESHOLD")


@cache
def get_score_settings() -> ScoreSettings:
    import os  # noqa: PLC0415 - the environment is read here only, once

    environment = {k: v for k, v in os.environ.items() if v != ""}  # an empty template parameter means the default
    return ScoreSettings.model_validate(environment)


@dataclass(frozen=True)
class ScoreRun:
    monitor_id: str
    written: bool
    objects: int
    reason: str = ""
    item: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        shown = (
            None if self.item is None else {k: str(v) if isinstance(v, Decimal) else v for k, v in self.item.items()}
        )
        return {
            "monitor_id": self.monitor_id,
            "written": self.written,
            "objects": self.objects,
            "reason": self.reason,
            "item": shown,
        }


class ScoreJobError(ValueError):
    """The profile or the data cannot be scored; the message names the object and the field."""


def window(objects: Sequence[DataObject], now: datetime, minutes: int) -> list[DataObject]:
    """The objects written in (now - minutes, now], oldest first: the newest window, and none written after `now`,
    so a retried run scores what the first attempt scored."""
    start = now - timedelta(minutes=minutes)
    return sorted((o for o in objects if start < o.modified <= now), key=lambda o: (o.modified, o.key))


def chunks_of(store: DataStore, bucket: str, obj: DataObject, profile: Profile) -> Iterator[Chunk]:
    where = f"s3://{bucket}/{obj.key}"
    name = obj.key.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".json")):
        return capture_chunks(store.lines(bucket, obj.key), list(profile.order), where)
    if name.endswith(".csv"):
        return csv_chunks((line.decode() for line in store.lines(bucket, obj.key)), where)
    raise TableError(f"{where}: only data capture JSON lines (.jsonl) and CSV are read here (Parquet needs pyarrow)")


def score_item(monitor_id: str, now: datetime, score: Score) -> dict[str, Any]:
    """The score table item: drift_score, sample_count and one attribute per feature (its value)."""
    if score.score is None:
        raise ScoreJobError("no feature could be scored: every profiled column is missing in the window")
    item: dict[str, Any] = {
        "monitor_id": monitor_id,
        "timestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "drift_score": _decimal(score.score),
        "sample_count": score.sample_count,
        "drift_method": score.method,
        "drifted": list(score.drifted),
    }
    if score.unscored:
        item["unscored"] = list(score.unscored)
    for name, feature in score.features.items():
        if feature.value is not None:
            item[feature_attribute(name)] = _decimal(feature.value)
    return item


def _decimal(value: float) -> Decimal:
    if not math.isfinite(value):
        raise ScoreJobError(f"a drift value is not finite: {value!r}")
    return Decimal(repr(round(value, 10)))


def score_newest_window(now: datetime, settings: ScoreSettings, store: DataStore, writer: ScoreWriter) -> ScoreRun:
    """Score the newest window and write one item; no object in the window writes nothing (the evaluator's own
    missing-data rules decide what a gap means)."""
    try:
        profile = Profile.from_json(json.loads(store.read(settings.bucket, settings.profile_key)))
    except (ProfileError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ScoreJobError(f"s3://{settings.bucket}/{settings.profile_key}: {error}") from error
    newest = [
        o
        for o in window(store.objects(settings.bucket, settings.prefix), now, settings.window_minutes)
        if o.key != settings.profile_key
    ]
    if not newest:
        return ScoreRun(settings.monitor_id, written=False, objects=0, reason="no data in the window")
    scorer = Scorer(profile)
    try:
        for obj in newest:
            scorer.add_all(chunks_of(store, settings.bucket, obj, profile))
        score = scorer.result(settings.method, settings.combine, settings.feature_threshold)
    except TableError as error:
        raise ScoreJobError(str(error)) from error
    item = score_item(settings.monitor_id, now, score)
    writer.put(item)
    return ScoreRun(settings.monitor_id, written=True, objects=len(newest), item=item)
