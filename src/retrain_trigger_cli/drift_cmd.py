"""`retrain-trigger baseline` and `retrain-trigger score`: drift from the data itself, through the same
retrain_trigger_drift_data code the ScoreFunction runs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from retrain_trigger_cli.errors import UsageError
from retrain_trigger_drift.combine import HOWS, CombineError
from retrain_trigger_drift_data.metrics import DEFAULT_THRESHOLDS, METHODS, Score, Scorer
from retrain_trigger_drift_data.profile import DEFAULT_BINS, Profile, ProfileError, build_profile
from retrain_trigger_drift_data.tables import FORMATS, TableError, read_chunks

_DEFAULT_THRESHOLDS = ", ".join(f"{k} {v}" for k, v in DEFAULT_THRESHOLDS.items())


def add_parsers(commands: Any) -> None:
    p = commands.add_parser(
        "baseline",
        help="profile a reference data set (quantiles, PSI bins, frequencies) into a small JSON document",
        description="Profile REFERENCE (CSV, Parquet or SageMaker data capture JSON lines) for `score`. The profile "
        "holds quantiles, bin edges and frequencies, never the data.",
    )
    p.add_argument("reference", type=Path, metavar="REFERENCE")
    p.add_argument("--out", type=Path, required=True, help="the profile to write (JSON)")
    p.add_argument("--format", choices=FORMATS, help="the data's format (default: from the file name)")
    p.add_argument(
        "--categorical", nargs="+", action="extend", default=[], metavar="COL", help="columns to treat as categories"
    )
    p.add_argument("--bins", type=int, default=DEFAULT_BINS, help=f"PSI bins at quantiles (default {DEFAULT_BINS})")

    p = commands.add_parser(
        "score",
        help="drift of current data against a profile: one score and one value per feature",
        description="Score CURRENT against a `baseline` profile, in chunks (bounded memory).",
    )
    p.add_argument("current", type=Path, nargs="?", metavar="CURRENT", help="the data (optional with --merge)")
    p.add_argument("--profile", type=Path, required=True, help="the profile `baseline` wrote")
    p.add_argument(
        "--save-state", type=Path, metavar="FILE", help="also write what was accumulated, for another --merge"
    )
    p.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        action="extend",
        default=[],
        metavar="FILE",
        help="add other workers' --save-state files (same profile) before scoring",
    )
    p.add_argument("--format", choices=FORMATS, help="the data's format (default: from the file name)")
    p.add_argument("--method", choices=METHODS, default="psi", help="per-feature drift method (default psi)")
    p.add_argument("--combine", choices=HOWS, default="share_drifted", help="features to one score")
    p.add_argument(
        "--feature-threshold",
        type=float,
        help=f"a feature drifts above this (default: {_DEFAULT_THRESHOLDS})",
    )
    p.add_argument("--weight", action="append", default=[], metavar="COL=W", help="a feature's weight (weighted)")
    p.add_argument("--critical", action="append", default=[], metavar="COL", help="a feature that drifts on its own")
    p.add_argument("--json", action="store_true", help="one JSON object instead of a table")


def _weights(pairs: list[str]) -> dict[str, float] | None:
    weights: dict[str, float] = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        try:
            weights[name] = float(text)
        except ValueError as error:
            raise UsageError(f"--weight {pair!r}: expected COL=NUMBER") from error
    return weights or None


def cmd_baseline(args: argparse.Namespace) -> int:
    if args.bins < 2:
        raise UsageError(f"--bins {args.bins}: at least 2")
    try:
        profile = build_profile(
            read_chunks(args.reference, args.format), args.categorical, bins=args.bins, source=args.reference.name
        )
    except (ProfileError, TableError) as error:
        raise UsageError(f"{args.reference}: {error}") from error
    args.out.write_text(json.dumps(profile.as_json()) + "\n")
    kinds = [type(c).__name__.removesuffix("Profile").lower() for c in profile.columns.values()]
    print(
        f"wrote {args.out}: {profile.rows} rows, {kinds.count('numeric')} numeric and "
        f"{kinds.count('categorical')} categorical columns, {args.out.stat().st_size} bytes",
        file=sys.stderr,
    )
    return 0


def load_profile(path: Path) -> Profile:
    try:
        return Profile.from_json(json.loads(path.read_text()))
    except FileNotFoundError as error:
        raise UsageError(f"--profile {path}: no such file") from error
    except json.JSONDecodeError as error:
        raise UsageError(f"--profile {path}: not JSON ({error})") from error
    except ProfileError as error:
        raise UsageError(f"--profile {path}: {error}") from error


def cmd_score(args: argparse.Namespace) -> int:
    profile = load_profile(args.profile)
    if args.current is None and not args.merge:
        raise UsageError("give CURRENT, or --merge FILE ... (workers' --save-state)")
    scorer = Scorer(profile)
    where = args.current
    try:
        if args.current is not None:
            scorer.add_all(read_chunks(args.current, args.format, names=list(profile.order)))
        for where in args.merge:
            scorer.merge(Scorer.from_state(profile, json.loads(where.read_text())))
        if args.save_state:
            args.save_state.write_text(json.dumps(scorer.state()) + "\n")
        score = scorer.result(args.method, args.combine, args.feature_threshold, _weights(args.weight), args.critical)
    except (TableError, CombineError, json.JSONDecodeError, OSError) as error:
        raise UsageError(f"{where}: {error}") from error
    if args.json:
        print(json.dumps(score.as_json()))
    else:
        write_table(score)
    return 0


def write_table(score: Score) -> None:
    value = "none" if score.score is None else f"{score.score:.4f}"
    print(f"score {value} ({score.method}, {score.combine}) on {score.sample_count} rows")
    print(f"{'feature':<24} {'value':>10}  drifted  {'missing':>8}")
    ordered = sorted(score.features.items(), key=lambda item: -(item[1].value or 0.0))
    for name, feature in ordered:
        shown = "-" if feature.value is None else f"{feature.value:.4f}"
        print(f"{name:<24} {shown:>10}  {'yes' if feature.drifted else 'no':<7}  {feature.missing:>8}")
