"""Ingest: a detector's output file, read whole, turned into score items and written, or refused whole with an
`error` alert naming the file and the field. Pure: the object store, the score table and the alert topic come in
through the ports below; the time a file lacks comes in as a parameter.

Where the IngestFunction finds what it needs, in the object's key: `<prefix><format>/<monitor_id>/.../<file>`.
- format: the first segment after the prefix (evidently, model-monitor, nannyml, long);
- monitor: the next one (for `long`, a file directly under `long/` may hold many monitors);
- time, for evidently and model-monitor (whose files hold none, but Evidently's legacy report): the key's
  `YYYY/MM/DD/HH/` (Model Monitor's own output layout), else the S3 event's time. The key's time makes a
  re-uploaded file the same datapoint; the event's makes it a new one."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import unquote_plus

from retrain_trigger.detectors import FORMATS, read_items
from retrain_trigger.detectors.items import DetectorFileError
from retrain_trigger.errors import BadInput
from retrain_trigger.ports import Alert

_HOUR_PATH = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/")
VIOLATIONS_FILE = "constraint_violations.json"


class ObjectStore(Protocol):
    def read(self, bucket: str, key: str) -> bytes: ...


class ScoreItemWriter(Protocol):
    def write(self, items: Sequence[dict[str, Any]]) -> int:
        """Writes every item (the same key twice overwrites: the same file writes the same items); returns how many."""
        ...


class AlertPublisher(Protocol):
    def publish_alert(self, alert: Alert) -> str: ...


@dataclass(frozen=True)
class IngestTarget:
    """What the key says: the reader's format, the monitor, the key's time and the event's."""

    format: str
    monitor_id: str | None
    at: datetime | None
    default_at: datetime | None = None


@dataclass(frozen=True)
class IngestRun:
    source: str
    written: int
    skipped: str = ""
    items: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.source, "written": self.written, "skipped": self.skipped}


@dataclass(frozen=True)
class CreatedObject:
    bucket: str
    key: str
    at: datetime


def created_objects(event: Any) -> list[CreatedObject]:
    """The objects an event announces: S3's "Object Created" through EventBridge (what the template wires), or the
    bucket's own notification (`Records`, keys URL-encoded), for a user who wires that instead."""
    if not isinstance(event, dict):
        raise BadInput("*", "event", f"must be a JSON object, not {type(event).__name__}")
    try:
        if "Records" in event:
            return [
                CreatedObject(
                    r["s3"]["bucket"]["name"], unquote_plus(r["s3"]["object"]["key"]), _event_time(r["eventTime"])
                )
                for r in event["Records"]
                if str(r.get("eventName", "")).startswith("ObjectCreated:")
            ]
        detail = event["detail"]
        return [CreatedObject(detail["bucket"]["name"], detail["object"]["key"], _event_time(event["time"]))]
    except (KeyError, TypeError) as error:
        raise BadInput("*", f"event.{error}", "not an S3 Object Created event") from None


def _event_time(text: str) -> datetime:
    at = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def target_of(key: str, prefix: str, event_time: datetime) -> IngestTarget | None:
    """The format, monitor and time from the key; None for an object the layout does not cover (skipped)."""
    rest = key.removeprefix(prefix).split("/")
    if not key.startswith(prefix) or len(rest) < 2 or rest[0] not in FORMATS:
        return None
    reader, after = rest[0], rest[1:]
    if reader == "model-monitor" and after[-1] != VIOLATIONS_FILE:
        return None  # Model Monitor writes statistics.json beside it: nothing to score there
    monitor = after[0] if len(after) > 1 else None  # a monitor segment, then the file
    if reader not in ("evidently", "model-monitor"):
        return IngestTarget(reader, monitor, None)
    return IngestTarget(reader, monitor, _key_hour("/" + key), event_time.astimezone(UTC))


def _key_hour(key: str) -> datetime | None:
    for found in _HOUR_PATH.finditer(key):
        year, month, day, hour = (int(g) for g in found.groups())
        try:
            return datetime(year, month, day, hour, tzinfo=UTC)
        except ValueError:
            continue  # four numbered folders that are not a date
    return None


def error_alert(target: IngestTarget, error: DetectorFileError) -> Alert:
    """The file was refused: its producer must hear of it, or the monitor would simply go quiet."""
    monitor = target.monitor_id or "(from the file)"
    key = f"{monitor}:bad_detector_file:{error.source}"
    body = {"event": "bad_detector_file", "severity": "error", "idempotency_key": key, "monitor_id": monitor}
    body |= {"format": target.format, **error.as_dict()}
    return Alert(
        subject=f"[ERROR] {monitor} detector file refused: {error.field}",
        text=f"{monitor}: the {target.format} file {error.source} was refused; nothing of it was written.\n\n"
        f"{error}\n\nKey: {key}",
        payload=body,
        attributes={"monitor_id": monitor, "severity": "error", "event": "bad_detector_file", "idempotency_key": key},
    )


def ingest_object(
    bucket: str,
    key: str,
    target: IngestTarget,
    store: ObjectStore,
    writer: ScoreItemWriter,
    alerts: AlertPublisher,
) -> IngestRun:
    """Read the whole file first: a malformed one writes nothing, publishes an `error` alert and raises
    DetectorFileError (the handler logs it); a good one writes all its items."""
    source = f"s3://{bucket}/{key}"
    try:
        data = store.read(bucket, key)
        items = read_items(target.format, data, source, target.monitor_id, target.at, target.default_at)
    except DetectorFileError as error:
        alerts.publish_alert(error_alert(target, error))
        raise
    rows = tuple(i.as_item() for i in items)
    return IngestRun(source, writer.write(rows), items=rows)
