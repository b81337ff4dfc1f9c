"""`replay --all-monitors` and `compare --all-monitors`: the fleet's commands, kept out of `__main__`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from retrain_trigger_cli import fleet_replay
from retrain_trigger_cli.engine import Simulation
from retrain_trigger_cli.errors import UsageError
from retrain_trigger_cli.fleet_scores import FleetScores, read_fleet_scores


def add_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--all-monitors",
        action="store_true",
        help="the whole document over a long score file (monitor_id,timestamp,drift_score[,...]): the fleet's rules "
        "too, one JSON line per monitor and step with monitor_id, in time order",
    )


def refuse_single_options(args: argparse.Namespace) -> None:
    if getattr(args, "monitor", None):
        raise UsageError("--all-monitors replays every monitor of the document: leave out --monitor")
    if getattr(args, "format", "json") != "json":
        raise UsageError("--all-monitors writes JSON lines (one per monitor and step): leave out --format table")


def read(document: Mapping[str, Any], path: Path) -> FleetScores:
    scores = read_fleet_scores(path, fleet_replay.score_columns(fleet_replay.catalog_of(document)))
    for problem in scores.problems:
        print(problem, file=sys.stderr)
    return scores


def cmd_replay(args: argparse.Namespace, document: Mapping[str, Any], simulation: Simulation) -> int:
    refuse_single_options(args)
    result = fleet_replay.run(document, read(document, args.scores), simulation, args.until)
    fleet_replay.write_json_lines(result, sys.stdout)
    if args.summary:
        print(json.dumps({"summary": fleet_replay.summary(result)}))
    return 0


def cmd_compare(
    args: argparse.Namespace, documents: Sequence[tuple[str, Mapping[str, Any]]], simulation: Simulation
) -> int:
    """One row per configuration: the fleet's monitors summed (evaluations, retrains, alerts, digests)."""
    refuse_single_options(args)
    if args.sweep or args.labels or args.best:
        raise UsageError("--all-monitors compares whole documents: --sweep, --labels and --best are per monitor")
    if len(documents) < 2:
        raise UsageError("nothing to compare: give two or more --config")
    rows = []
    for name, document in documents:
        result = fleet_replay.run(document, read(document, args.scores), simulation, args.until)
        rows.append({"variant": name, **fleet_replay.summary(result)})
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    width = max(len("variant"), *(len(r["variant"]) for r in rows)) + 2
    print(f"{'variant':<{width}}{'monitors':>9}{'retrains':>10}{'alerts':>8}{'digests':>9}  alerts by severity")
    for row in rows:
        by = ", ".join(f"{k} {v}" for k, v in row["alerts"].items()) or "none"
        total = sum(row["alerts"].values())
        print(f"{row['variant']:<{width}}{row['monitors']:>9}{row['retrains']:>10}{total:>8}{row['digests']:>9}  {by}")
    return 0
