"""The command line's argument helpers: the duration and time types, and the argument groups several commands
share (a deployed stack; a configuration, its scores and the simulated world)."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from retrain_trigger.config import DEFAULT_TICK
from retrain_trigger.durations import Duration
from retrain_trigger_cli import live
from retrain_trigger_cli.scores import parse_time

_DURATION: TypeAdapter[timedelta] = TypeAdapter(Duration)


def duration(text: str) -> timedelta:
    """'90s', '15m', '6h', '1d', '2w', ISO 8601 ('PT6H') or seconds, as the configuration writes durations."""
    try:
        return _DURATION.validate_python(text)
    except ValidationError as error:
        cause = error.errors()[0].get("ctx", {}).get("error")
        if isinstance(cause, ValueError):  # the configuration's own words, e.g. "must not be negative"
            raise argparse.ArgumentTypeError(f"{text!r}: {cause}") from error
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 3h, 1d, PT6H)") from error


def positive_duration(text: str) -> timedelta:
    """A duration longer than zero: a tick or a spacing of zero would never advance."""
    span = duration(text)
    if not span:
        raise argparse.ArgumentTypeError(f"{text!r}: must be longer than zero")
    return span


def timestamp(text: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from error


def _stack_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("deployed stack")
    group.add_argument(
        "--stack-name",
        help=f"read resource names from this CloudFormation stack's outputs (default: ${live.STACK_VARIABLE})",
    )
    group.add_argument("--state-table", help="the state table's name (instead of the stack output StateTableName)")
    group.add_argument("--config-parameter", help="the SSM parameter holding the configuration document")
    group.add_argument("--endpoint-url", help="send every AWS call here (e.g. a moto server)")
    group.add_argument("--region", help="AWS region (default: the environment's)")


def _replay_arguments(parser: argparse.ArgumentParser, *, many_configs: bool = False) -> None:
    source = parser.add_argument_group("configuration and scores")
    if many_configs:
        source.add_argument(
            "--config", type=Path, action="append", default=[], help="a configuration document (repeat to compare)"
        )
    else:
        source.add_argument("--config", type=Path, help="the configuration document (defaults + monitors), JSON")
    source.add_argument(
        "--config-from-stack", metavar="STACK", help="use the configuration deployed with this stack instead"
    )
    source.add_argument("--monitor", help="the monitor's id (optional when the document has one monitor)")
    source.add_argument(
        "--scores", type=Path, required=True, help="CSV, JSON lines or Parquet: timestamp, drift_score, guard metrics"
    )
    world = parser.add_argument_group("simulation")
    world.add_argument(
        "--tick",
        type=positive_duration,
        default=DEFAULT_TICK,
        help=f"the evaluator's schedule (the stack's TickMinutes; default {DEFAULT_TICK.total_seconds() / 3600:g}h)",
    )
    world.add_argument(
        "--retrain-duration",
        type=duration,
        default=timedelta(hours=3),
        help="a started retraining ends this long after it started (default 3h, as the demo's pipeline)",
    )
    world.add_argument(
        "--retrain-outcome",
        choices=["succeeded", "failed", "stopped", "never"],
        default="succeeded",
        help="how each retraining ends ('never': no status arrives, the retraining_timeout decides)",
    )
    answer = world.add_mutually_exclusive_group()  # a monitor with `approval: required` (docs/fleet-approval.md)
    answer.add_argument("--approve-after", type=duration, default=timedelta(0), help="approve each request this late")
    answer.add_argument("--approval", choices=["never"], help="'never': no request is answered (approval_timeout)")
    world.add_argument(
        "--until", type=timestamp, help="replay up to this time (default: the last datapoint's timestamp)"
    )
    parser.add_argument("--endpoint-url", help="with --config-from-stack: send AWS calls here (e.g. moto)")
    parser.add_argument("--region", help="with --config-from-stack: the AWS region")


def _report_parser(commands: Any) -> None:
    p = commands.add_parser(
        "report",
        help="one self-contained HTML page of a replay, or of a compare (with its Pareto front)",
        description="Replay (one --config) or compare (several --config, a --sweep or --labels), then write one "
        "HTML file: the interactive score-vs-levels plot, the decisions table and, for a compare, the variants and "
        "their Pareto front. The plotting library is inlined: the page needs no network.",
    )
    _replay_arguments(p, many_configs=True)
    p.add_argument("--sweep", action="append", default=[], metavar="KEY=START:STOP:STEP", help="as for compare")
    p.add_argument("--labels", type=Path, help="as for compare: CSV start,end of the known drift episodes")
    p.add_argument("--workers", type=int, help="as for compare: parallel processes")
    p.add_argument("--out", type=Path, default=Path("report.html"), help="the HTML file to write (default report.html)")
    p.add_argument("--title", help="the page's title")
    p.set_defaults(best=False)
