"""`make bench`: everything side by side in one run, on the embedded moto server; tables, then one JSON line."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TextIO

from retrain_trigger_local.bench import docs_page
from retrain_trigger_local.bench.artefacts import build_sizes
from retrain_trigger_local.bench.coldstart import COLD_START_MONITORS, COLD_START_RUNS, compare_cold_starts
from retrain_trigger_local.bench.drift import MEMORY_ROWS, ROWS, measure_drift
from retrain_trigger_local.bench.fanout import FANOUT_CAP_SECONDS, FANOUT_MONITORS, measure_fanout
from retrain_trigger_local.bench.imports import IMPORT_RUNS, compare_imports
from retrain_trigger_local.bench.replay import HOURS_PER_YEAR, replay_rate
from retrain_trigger_local.bench.results import BenchReport
from retrain_trigger_local.bench.scenario import FLEET_CONFIG_KEY, MAX_TICKS, SOURCES, Source
from retrain_trigger_local.bench.seeding import seed
from retrain_trigger_local.bench.summary import as_dict, json_line
from retrain_trigger_local.bench.tables import markdown
from retrain_trigger_local.bench.ticks import VARIANTS, check_steady, run_variant
from retrain_trigger_local.moto_server import MotoServer

PARTS = ("coldstart", "ticks", "fanout", "replay", "imports", "build", "drift")


@dataclass(frozen=True)
class Options:
    sizes: tuple[int, ...] = (100, 1000, 10_000)
    sources: tuple[Source, ...] = SOURCES
    # Seconds one variant may run at one size. moto scans the whole table (or every datapoint) per Query and
    # GetMetricData, so the naive loop's call per monitor makes it O(N^2) on moto: at 10,000 it would take hours.
    cap_seconds: float = 45.0
    ours_cap_seconds: float = 300.0
    import_runs: int = IMPORT_RUNS
    cold_start_runs: int = COLD_START_RUNS
    replay_hours: int = HOURS_PER_YEAR
    fanout_monitors: int = FANOUT_MONITORS
    fanout_shard: int | None = None  # None: the evaluator's SHARD_SIZE default
    fanout_cap_seconds: float = FANOUT_CAP_SECONDS
    parts: tuple[str, ...] = PARTS
    drift_rows: int = ROWS  # x 50 columns, ours against scipy
    drift_memory_rows: int = MEMORY_ROWS  # scored in a fresh process for its peak RSS


QUICK = Options(
    sizes=(20, 150),
    cap_seconds=60.0,
    import_runs=5,
    cold_start_runs=15,
    replay_hours=24 * 30,
    fanout_monitors=300,
    fanout_shard=120,
    fanout_cap_seconds=60.0,
    drift_rows=100_000,
    drift_memory_rows=1_000_000,
)


def ticks_for(size: int, variant: str) -> int:
    """Ticks per process: the first is the cold start; later ones are timed. Fewer where moto is slow."""
    if variant == "naive":
        return 2 if size <= 100 else 1
    return MAX_TICKS if size <= 1000 else 1


def run(options: Options, argv: Sequence[str], log: TextIO = sys.stderr) -> BenchReport:
    report = BenchReport(
        command=command_line(argv),
        date=datetime.now(UTC).strftime("%Y-%m-%d"),
        machine=f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        versions={n: package_version(n) for n in ("moto", "boto3", "pydantic", "aws-lambda-powertools")},
    )

    def say(text: str) -> None:
        print(f"bench: {text}", file=log, flush=True)

    with MotoServer() as server:
        if "coldstart" in options.parts:
            server.reset()
            say(f"cold start: ours vs the minimal baseline, {options.cold_start_runs} fresh processes each")
            world = seed(server.endpoint_url, "cloudwatch", range(COLD_START_MONITORS))
            report.cold_start = compare_cold_starts(world, options.cold_start_runs)
        for source in options.sources if "ticks" in options.parts else ():
            for size in options.sizes:
                server.reset()
                say(f"{source}, N={size:,}: seeding")
                world = seed(server.endpoint_url, source, range(size))
                for variant in VARIANTS:
                    say(f"{source}, N={size:,}: {variant}")
                    cap = options.ours_cap_seconds if variant == "ours" else options.cap_seconds
                    measured = run_variant(world, variant, ticks_for(size, variant), cap)
                    check_steady(measured)
                    report.runs.append(measured)
                say(f"{source}, N={size:,}: ours with the fleet rules configured")
                fleet_env = {"CONFIG_KEY": FLEET_CONFIG_KEY}
                measured = run_variant(world, "ours", ticks_for(size, "ours"), options.ours_cap_seconds, fleet_env)
                check_steady(measured)
                report.runs.append(replace(measured, variant="fleet"))
        if "fanout" in options.parts:
            say(f"fan-out: {options.fanout_monitors:,} monitors")
            report.fanout = measure_fanout(
                server, options.fanout_monitors, options.fanout_shard, "cloudwatch", options.fanout_cap_seconds, say
            )
    if "replay" in options.parts:
        say("replay")
        report.replay = replay_rate(options.replay_hours)
    if "imports" in options.parts:
        say("cold imports")
        report.imports = compare_imports(options.import_runs)
    if "build" in options.parts:
        report.build = build_sizes()
    if "drift" in options.parts:
        say(f"drift: score vs scipy on {options.drift_rows:,} rows x 50 columns; {options.drift_memory_rows:,} rows")
        report.drift = measure_drift(options.drift_rows, memory_rows=options.drift_memory_rows)
    return report


def command_line(argv: Sequence[str]) -> str:
    if os.environ.get("BENCH_COMMAND"):  # set by the Makefile: what a reader types
        return os.environ["BENCH_COMMAND"]
    executable = Path(sys.executable)
    shown = os.path.relpath(executable, Path.cwd()) if executable.is_relative_to(Path.cwd()) else str(executable)
    return shlex.join([shown, "-m", "retrain_trigger_local.bench", *argv])


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="retrain_trigger_local.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a quick look and the tests")
    parser.add_argument("--sizes", type=int, nargs="+", help="monitor counts (default 100 1000 10000)")
    parser.add_argument("--sources", nargs="+", choices=SOURCES, help="score sources (default both)")
    parser.add_argument("--cap", type=float, help="seconds the naive loop may take at one size (default 45)")
    parser.add_argument("--fanout-monitors", type=int, help="fleet size split into shards (default 100000)")
    parser.add_argument("--fanout-shard", type=int, help="monitors per shard (default: the evaluator's SHARD_SIZE)")
    parser.add_argument("--fanout-cap", type=float, help="seconds the fan-out may take before it stops")
    parser.add_argument("--import-runs", type=int, help="fresh interpreters per import (at least 5)")
    parser.add_argument("--cold-start-runs", type=int, help="fresh processes per cold-start variant (default 100)")
    parser.add_argument("--parts", nargs="+", choices=PARTS, help="what to measure (default everything)")
    parser.add_argument("--out", type=Path, default=Path("demo-output"), help="directory of bench.json")
    parser.add_argument("--docs", type=Path, help="the docs' benchmark page: this run's report replaces its block")
    args = parser.parse_args(args_list)
    base = QUICK if args.quick else Options()
    options = Options(
        sizes=tuple(args.sizes or base.sizes),
        sources=tuple(args.sources or base.sources),
        cap_seconds=args.cap or base.cap_seconds,
        import_runs=args.import_runs or base.import_runs,
        cold_start_runs=args.cold_start_runs or base.cold_start_runs,
        replay_hours=base.replay_hours,
        fanout_monitors=args.fanout_monitors or base.fanout_monitors,
        fanout_shard=args.fanout_shard or base.fanout_shard,
        fanout_cap_seconds=args.fanout_cap or base.fanout_cap_seconds,
        parts=tuple(args.parts or base.parts),
        drift_rows=base.drift_rows,
        drift_memory_rows=base.drift_memory_rows,
    )
    if options.import_runs < 5 or options.cold_start_runs < 5 or min(options.sizes) < 1:
        parser.error("--import-runs and --cold-start-runs must be at least 5 and every size at least 1")
    report = run(options, args_list)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(as_dict(report), indent=2) + "\n")
    tables, line = markdown(report), json_line(report)
    print(tables)
    print(line)
    if args.docs is not None:
        docs_page.write(args.docs, tables, line)
    return 0
