"""One variant's ticks in a fresh process pointed at the moto server (AWS_ENDPOINT_URL): what one Lambda container
does, so its imports, clients and peak RSS are its own. Writes one JSON line per tick, then its RSS, to --result.

`ours` loads functions/evaluator/app.py by path, as Lambda does, and calls its `lambda_handler` with
events/scheduled.json at each tick's time. `naive` runs bench/naive.py's loop. On SIGTERM (the parent's time cap)
the tick in progress is written as incomplete, with the calls it had made so far.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, Literal, TextIO

from retrain_trigger_local.bench.counters import CallCounter
from retrain_trigger_local.bench.scenario import scheduled_event, tick_time
from retrain_trigger_local.runtime import LambdaContext, load_handler

Variant = Literal["ours", "naive"]


def max_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


class _Writer:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def line(self, record: dict[str, Any]) -> None:
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()


Tick = Callable[[int, "dict[str, Any] | None"], dict[str, Any]]


def _ours(size: int) -> Tick:
    app = load_handler("evaluator", module_name="app")  # one handler in this process: Lambda's module name

    def tick(k: int, event: dict[str, Any] | None) -> dict[str, Any]:
        context = LambdaContext("retrain-trigger-evaluator", f"bench-{size}-tick-{k}")
        answer: dict[str, Any] = app.lambda_handler(event or scheduled_event(tick_time(k)), context)
        if "batchItemFailures" in answer:  # a queue's batch: the handler answers with what failed, no report
            return {"errors": len(answer["batchItemFailures"]), "outcomes": {"batch": 1}}
        outcomes = Counter(str(m.get("outcome")) for m in answer.get("monitors", []))
        return {
            "evaluated": answer.get("evaluated"),
            "transitions": answer.get("transitions"),
            "errors": answer.get("errors"),
            "outcomes": dict(sorted(outcomes.items())),
        }

    return tick


def run(
    variant: Variant, size: int, ticks: int, out: TextIO, event: dict[str, Any] | None = None, serve: bool = False
) -> None:
    """`ticks` scheduled ticks; or (ours only) one invocation with `event`; or, serving, one invocation per event
    file named on stdin, in this one warm process, until stdin closes."""
    writer = _Writer(out)
    counter = CallCounter()
    progress: dict[str, Any] = {"tick": 0, "start": time.perf_counter(), "evaluated": None}

    def stop(signum: int, frame: FrameType | None) -> None:
        writer.line(
            {
                "tick": progress["tick"],
                "complete": False,
                "seconds": time.perf_counter() - progress["start"],
                "calls": counter.peek(),
                "evaluated": progress["evaluated"],
            }
        )
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    base = max_rss_mib()
    with counter.installed():
        tick: Tick
        if variant == "ours":
            tick = _ours(size)
        else:
            from retrain_trigger_local.bench.naive import NaiveLoop  # noqa: PLC0415 - only the naive child needs it

            loop = NaiveLoop(os.environ["ALERT_TOPIC_ARN"])

            def tick(k: int, event: dict[str, Any] | None) -> dict[str, Any]:
                done = loop.tick(tick_time(k), on_monitor=lambda n: progress.__setitem__("evaluated", n))
                return {"evaluated": done.evaluated, "transitions": done.transitions, "errors": 0}

        imported = max_rss_mib()
        invocations = (
            ((k, json.loads(Path(line.strip()).read_text())) for k, line in enumerate(sys.stdin, start=1))
            if serve
            else ((k, event) for k in range(1, ticks + 1))
        )
        for k, invocation in invocations:
            counter.take()
            progress.update(tick=k, start=time.perf_counter(), evaluated=None)
            cpu = time.process_time()  # every thread of this process: our code's compute, not moto's (elsewhere)
            outcome = tick(k, invocation)
            seconds = time.perf_counter() - progress["start"]
            record = {"tick": k, "complete": True, "seconds": seconds, "cpu_seconds": time.process_time() - cpu}
            writer.line({**record, "calls": counter.take(), **outcome})
    writer.line({"rss": {"base_mib": base, "imported_mib": imported, "peak_mib": max_rss_mib()}})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="retrain_trigger_local.bench.tick_child")
    parser.add_argument("--variant", choices=("ours", "naive"), required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--ticks", type=int, required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--event", help="a JSON file: the event of the one invocation (default: scheduled ticks)")
    parser.add_argument("--serve", action="store_true", help="one invocation per event file named on stdin")
    args = parser.parse_args(argv)
    event = json.loads(Path(args.event).read_text()) if args.event else None
    with Path(args.result).open("a") as out:
        run(args.variant, args.size, args.ticks, out, event, args.serve)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
