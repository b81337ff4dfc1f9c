"""`retrain-trigger ingest FILE --format F --monitor ID`: a detector's output file read by the IngestFunction's own
readers; the items it would write are printed, and with `--write` written to a stack's score table through the
IngestFunction's own adapter."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retrain_trigger.adapters.ingest import BatchScoreWriter
from retrain_trigger.detectors import FORMATS, DetectorFileError, ScoreItem, read_items
from retrain_trigger_cli import live
from retrain_trigger_cli.errors import UsageError


def _utc(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from None
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no timezone: write UTC (...Z) or an offset")
    return at.astimezone(UTC)


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "ingest",
        help="read a detector's output file (Evidently, Model Monitor, NannyML, long) into score items",
        description="Read FILE as the IngestFunction does and print the score items it would write; with --write, "
        "write them to the stack's score table. A malformed file is refused whole, naming the file and the field.",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="the detector's output (JSON, CSV, JSON lines, Parquet)")
    p.add_argument("--format", dest="detector", choices=FORMATS, required=True, help="the detector that wrote FILE")
    p.add_argument("--monitor", help="the monitor the items belong to (long: optional, the rows name theirs)")
    p.add_argument(
        "--time", type=_utc, help="the datapoint's time (UTC): required for model-monitor, overrides Evidently's"
    )
    p.add_argument("--json", action="store_true", help="one JSON object a line (default: one summary line each)")
    p.add_argument("--write", action="store_true", help="write the items to the stack's score table")
    p.add_argument("--stack", help=f"with --write: the deployed stack (default: ${live.STACK_VARIABLE})")
    p.add_argument("--endpoint-url", help="with --write: send AWS calls here (e.g. a moto server)")
    p.add_argument("--region", help="with --write: the AWS region")


def _summary(item: ScoreItem) -> str:
    features = ", ".join(f"{k}={v:.4g}" for k, v in sorted(item.features.items(), key=lambda kv: -kv[1])[:5])
    more = f" (+{len(item.features) - 5} more)" if len(item.features) > 5 else ""
    return f"{item.monitor_id} {item.timestamp} drift_score={item.drift_score:.4g} {features}{more}".rstrip()


def run(args: argparse.Namespace) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as error:
        raise UsageError(f"{args.file}: {error.strerror}") from error
    try:
        items = read_items(args.detector, data, str(args.file), args.monitor, args.time)
    except DetectorFileError as error:
        raise UsageError(str(error)) from error
    for item in items:
        print(json.dumps(item.as_json()) if args.json else _summary(item))
    if not args.write:
        return 0
    name = live.default_stack_name(args.stack)
    if not name:
        raise UsageError(f"--write: no stack: give --stack or set {live.STACK_VARIABLE}")
    stack = live.Stack(stack_name=name, endpoint_url=args.endpoint_url, region=args.region)
    table = stack.outputs().get("ScoreTableName")
    if not table:
        raise UsageError(f"stack {name}: no ScoreTableName output to write to")
    with live.aws_call(f"BatchWriteItem {table}"):
        written = BatchScoreWriter(table, client=stack.client("dynamodb")).write([i.as_item() for i in items])
    print(f"wrote {written} item(s) to {table}", file=sys.stderr)
    return 0
