"""`retrain-trigger`: replay, compare and tune, plot and simulate drift scores with the evaluator's own policy
engine; read the state of a deployed stack, and validate and push its configuration. Run `retrain-trigger COMMAND
--help` for each command."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from retrain_trigger_cli import (
    approval_cmd,
    compare,
    config_cmd,
    drift_cmd,
    fleet_cmd,
    ingest_cmd,
    live,
    replay,
    report,
    simulate,
)
from retrain_trigger_cli.arguments import (
    _replay_arguments,
    _report_parser,
    _stack_arguments,
    positive_duration,
    timestamp,
)
from retrain_trigger_cli.configs import load_document, select
from retrain_trigger_cli.engine import Simulation
from retrain_trigger_cli.errors import AwsError, OneLineArgumentParser, UsageError
from retrain_trigger_cli.plot import plot_scores
from retrain_trigger_cli.scores import as_frame, parse_time, read_scores, score_column_of


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(prog="retrain-trigger", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser(
        "replay",
        help="what a monitor would have done on a score history",
        description="Replay a score history through the evaluator's policy engine: one JSON object per evaluation.",
    )
    _replay_arguments(p)
    p.add_argument("--format", choices=["json", "table"], default="json", help="JSON lines (default) or a table")
    p.add_argument("--summary", action="store_true", help="end with counts, first retrain and time in each state")
    fleet_cmd.add_flag(p)

    p = commands.add_parser(
        "compare",
        help="several configurations, or a sweep of one, over the same history",
        description="Replay variants in parallel processes; one row each. With --labels, score them on known "
        "drift episodes; with --best, print the Pareto front and write the chosen configuration.",
    )
    _replay_arguments(p, many_configs=True)
    p.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="KEY=START:STOP:STEP",
        help="vary a monitor key (repeat: every combination), e.g. critical=0.15:0.30:0.01 or cooldown=1d,7d",
    )
    p.add_argument("--labels", type=Path, help="CSV start,end: the drift episodes the team knows about")
    p.add_argument("--best", action="store_true", help="print the Pareto front and write the chosen configuration")
    p.add_argument(
        "--best-out", type=Path, default=Path("best-config.json"), help="where --best writes (default best-config.json)"
    )
    p.add_argument("--workers", type=int, help="parallel processes (default: the number of CPUs)")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    fleet_cmd.add_flag(p)

    p = commands.add_parser(
        "plot",
        help="the series, levels, grace periods, episodes, alerts and retrainings, to PNG (and SVG)",
        description="Replay, then draw the figure.",
    )
    _replay_arguments(p)
    p.add_argument("--out", type=Path, default=Path("drift.png"), help="the PNG (or .svg) to write")
    p.add_argument("--svg", action="store_true", help="also write an SVG beside the PNG")
    p.add_argument("--title", help="the figure's title")

    _report_parser(commands)

    p = commands.add_parser(
        "simulate",
        help="write a synthetic drift series (and its episodes as labels)",
        description="A synthetic drift series: baseline, onset, daily increase, jump, noise, gaps and seed, from a "
        "preset. Options override the preset.",
    )
    p.add_argument("--preset", choices=simulate.PRESETS, default="gradual")
    p.add_argument("--out", type=Path, required=True, help="the score file (.csv, .jsonl or .parquet)")
    p.add_argument("--labels", type=Path, help="also write the drift episodes as CSV start,end")
    p.add_argument("--start", type=timestamp, default=parse_time("2024-01-01T00:00:00Z"))
    p.add_argument("--days", type=float, help="length of the series in days (default 30)")
    p.add_argument("--every", type=positive_duration, help="time between datapoints (default 1d)")
    p.add_argument("--baseline", type=float)
    p.add_argument("--noise", type=float, help="standard deviation of the Gaussian noise")
    p.add_argument("--onset", type=float, help="days from the start to the first episode")
    p.add_argument("--increase", type=float, help="score added per day inside an episode")
    p.add_argument("--jump", type=float, help="score added at once when an episode starts")
    p.add_argument("--duration", type=float, help="days each episode lasts")
    p.add_argument("--episodes", type=int, help="how many drift episodes, spread evenly")
    p.add_argument("--gaps", type=float, help="the share of datapoints missing (0..1)")
    p.add_argument("--seed", type=int)

    p = commands.add_parser(
        "status", help="one row per monitor of a deployed stack", description="Read the live state table."
    )
    _stack_arguments(p)
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")

    p = commands.add_parser(
        "history",
        help="one monitor's transitions, newest first",
        description="Read a monitor's transitions from the live state table, newest first, with the decision inputs.",
    )
    p.add_argument("monitor", metavar="MONITOR")
    _stack_arguments(p)
    p.add_argument("--limit", type=int, default=100, help="at most this many transitions (default 100)")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")

    drift_cmd.add_parsers(commands)
    config_cmd.add_parser(commands)
    approval_cmd.add_parsers(commands)
    ingest_cmd.add_parser(commands)
    return parser


# --- commands ----------------------------------------------------------------------------------------------------


def _document(args: argparse.Namespace, config: Path | None) -> dict[str, Any]:
    if args.config_from_stack:
        stack = live.Stack(stack_name=args.config_from_stack, endpoint_url=args.endpoint_url, region=args.region)
        return stack.resolved().config_document()
    if config is None:
        raise UsageError("give --config FILE or --config-from-stack STACK")
    return load_document(config)


def _simulation(args: argparse.Namespace) -> Simulation:
    approve_after = None if args.approval == "never" else args.approve_after
    return Simulation(args.tick, args.retrain_duration, args.retrain_outcome, approve_after)


def _replayed(args: argparse.Namespace) -> replay.Replay:
    document = _document(args, args.config)
    _, monitor = select(document, args.monitor)
    series = read_scores(args.scores, score_column_of(monitor.source))
    replay.check_guard_columns(monitor, series)
    for problem in series.problems:
        print(problem, file=sys.stderr)
    result = replay.run(document, monitor.id, series, _simulation(args), args.until)
    if warning := replay.unread_datapoints(result, series, args.tick):
        print(warning, file=sys.stderr)
    return result


def cmd_replay(args: argparse.Namespace) -> int:
    if args.all_monitors:
        return fleet_cmd.cmd_replay(args, _document(args, args.config), _simulation(args))
    result = _replayed(args)
    if args.format == "table":
        replay.write_table(result, sys.stdout)
        if args.summary:
            replay.write_summary(replay.summarize(result), sys.stdout)
    else:
        replay.write_json_lines(result, sys.stdout)
        if args.summary:
            print(json.dumps({"summary": replay.summarize(result).as_dict()}))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    result = _replayed(args)
    series = read_scores(args.scores, score_column_of(result.monitor.source))
    marks = replay.marks(result)
    monitor = result.monitor
    path = plot_scores(
        as_frame(series),
        levels={"critical": monitor.critical, "warning": monitor.warning, "reset": monitor.reset_level},
        alerts=marks.alerts,
        retrains=marks.retrains,
        path=args.out,
        title=args.title or f"{monitor.id}: drift score vs levels ({args.scores.name})",
        grace=marks.grace,
        episodes=marks.episodes,
        also_svg=args.svg,
    )
    print(f"wrote {path}" + (f" and {path.with_suffix('.svg')}" if args.svg else ""))
    return 0


@dataclasses.dataclass(frozen=True)
class _Compared:
    documents: list[tuple[str, dict[str, Any]]]
    monitor_id: str
    labels: list[tuple[datetime, datetime]]
    scored: list[compare.Scored]


def _compared(args: argparse.Namespace, *, single_ok: bool = False) -> _Compared:
    """Every variant replayed and scored: compare's engine, for `compare` and for `report`."""
    if args.config_from_stack:
        documents = [(args.config_from_stack, _document(args, None))]
    else:
        if not args.config:
            raise UsageError("give --config FILE (repeatable) or --config-from-stack STACK")
        documents = [(str(path), load_document(path)) for path in args.config]
    if len(documents) < 2 and not args.sweep and not args.labels and not single_ok:
        raise UsageError("nothing to compare: give two or more --config, a --sweep, or --labels to score one")
    if args.best and not args.labels:
        # Without known episodes no variant misses one, and the fewest retrainings (never retrain) would win.
        raise UsageError("--best needs --labels (CSV start,end of the known drift episodes) to choose by")
    _, monitor = select(documents[0][1], args.monitor, documents[0][0])
    column = score_column_of(monitor.source)
    series = read_scores(args.scores, column)
    replay.check_guard_columns(monitor, series)
    for problem in series.problems:
        print(problem, file=sys.stderr)
    labels = compare.read_labels(args.labels) if args.labels else []
    variants = compare.variants(documents, args.sweep, monitor.id)
    scored = compare.run(variants, monitor.id, args.scores, column, _simulation(args), args.until, labels, args.workers)
    return _Compared(documents, monitor.id, list(labels), scored)


def cmd_compare(args: argparse.Namespace) -> int:
    if args.all_monitors:
        documents = [(str(path), load_document(path)) for path in args.config]
        return fleet_cmd.cmd_compare(args, documents, _simulation(args))
    found = _compared(args)
    scored, labels = found.scored, found.labels
    rows = compare.pareto_front(scored) if args.best else scored
    if args.best and not args.json:
        print(f"Pareto front: {len(rows)} of {len(scored)} variants (missed, median delay, retrains, alerts)")
    if args.json:
        for row in rows:
            print(json.dumps(row.as_dict()))
    else:
        compare.write_table(rows, sys.stdout, labelled=bool(labels))
    if args.best:
        if not rows:
            raise UsageError("no valid variant to choose from")
        chosen = compare.choose(rows)
        args.best_out.write_text(json.dumps(chosen.variant.document, indent=2) + "\n")
        if args.json:  # JSON lines stay JSON lines: the choice is one more object
            choice = {"chosen": chosen.variant.name, "best_out": str(args.best_out), "front": len(rows)}
            print(json.dumps(choice | {"variants": len(scored)}))
        else:
            print(f"chosen: {chosen.variant.name}; configuration written to {args.best_out}")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    scenario = simulate.preset(args.preset, args.start)
    overrides = {
        name: getattr(args, name)
        for name in (
            "days",
            "every",
            "baseline",
            "noise",
            "onset",
            "increase",
            "jump",
            "duration",
            "episodes",
            "gaps",
            "seed",
        )
        if getattr(args, name) is not None
    }
    scenario = simulate.checked(dataclasses.replace(scenario, **overrides))
    rows, datapoints = simulate.write(scenario, args.out, args.labels)
    print(f"wrote {args.out}: {rows} rows, {datapoints} datapoints, {rows - datapoints} gaps ({args.preset})")
    if args.labels:
        episodes = len(scenario.episode_spans())
        print(f"wrote {args.labels}: {episodes} drift episode{'' if episodes == 1 else 's'}")
    return 0


def _stack(args: argparse.Namespace) -> live.Stack:
    return live.Stack(
        stack_name=live.default_stack_name(args.stack_name),
        state_table=args.state_table,
        config_parameter=args.config_parameter,
        endpoint_url=args.endpoint_url,
        region=args.region,
    ).resolved()


def cmd_status(args: argparse.Namespace) -> int:
    rows = live.status_rows(_stack(args))
    (live.write_json_lines if args.json else live.write_status)(rows, sys.stdout)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    stack = _stack(args)
    rows = live.history_rows(stack, args.monitor, args.limit)
    if not rows:
        configured = live.configured_monitors(stack)
        if configured is None:
            raise UsageError(f"no monitor {args.monitor!r}: no transitions recorded (and no configuration to look in)")
        if args.monitor not in configured:
            known = ", ".join(configured) or "none"
            raise UsageError(
                f"no monitor {args.monitor!r}: no transitions recorded and not configured (monitors: {known})"
            )
        if not args.json:
            print(f"no transitions recorded for monitor {args.monitor!r} yet (configured, never evaluated)")
        return 0
    (live.write_json_lines if args.json else live.write_history)(rows, sys.stdout)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """A replay's page, or with several configurations, a sweep or labels, a compare's page."""
    is_compare = len(args.config) > 1 or bool(args.sweep) or bool(args.labels)
    if not is_compare:
        args.config = args.config[0] if args.config else None
        result = _replayed(args)
        series = read_scores(args.scores, score_column_of(result.monitor.source))
        title = args.title or f"{result.monitor.id}: replay of {args.scores.name}"
        source = f"configuration {args.config or args.config_from_stack}"
        page = report.render(title, result, as_frame(series), source=source)
    else:
        found = _compared(args, single_ok=True)
        front = compare.pareto_front(found.scored)
        if not front:
            raise UsageError("no valid variant to report on")
        # With labels the plot replays the variant --best would choose; without, the first one given.
        drawn = compare.choose(front) if found.labels else next(s for s in found.scored if s.summary is not None)
        series = read_scores(args.scores, score_column_of(select(drawn.variant.document, found.monitor_id)[1].source))
        result = replay.run(drawn.variant.document, found.monitor_id, series, _simulation(args), args.until)
        comparison = report.Comparison(found.scored, front, found.labels, drawn.variant.name)
        title = args.title or f"{found.monitor_id}: {len(found.scored)} variants on {args.scores.name}"
        page = report.render(title, result, as_frame(series), comparison)
    path = report.write(args.out, page)
    print(f"wrote {path}")
    return 0


COMMANDS = {
    "report": cmd_report,
    "replay": cmd_replay,
    "compare": cmd_compare,
    "plot": cmd_plot,
    "simulate": cmd_simulate,
    "status": cmd_status,
    "history": cmd_history,
    "baseline": drift_cmd.cmd_baseline,
    "score": drift_cmd.cmd_score,
    "config": config_cmd.run,
    **approval_cmd.COMMANDS,
    "ingest": ingest_cmd.run,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as error:
        print(f"retrain-trigger {args.command}: error: {error}", file=sys.stderr)
        return 2
    except AwsError as error:
        print(f"retrain-trigger {args.command}: AWS error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `| head`: the reader has seen enough
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
