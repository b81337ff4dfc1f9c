"""Calls and wall time per tick, ours and naive, each in a fresh process against one seeded moto server."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from retrain_trigger_local.bench.scenario import EVALUATOR_DIR, Source, World
from retrain_trigger_local.bench.tick_child import Variant
from retrain_trigger_local.runtime import LAYER_DIR, ROOT

VARIANTS: tuple[Variant, ...] = ("ours", "naive")

# On Linux an exec'd process keeps the ru_maxrss of the process it was forked from: here this one, with moto's
# server in it. A shell that runs the child as a second command forks it from its own small image instead.
RSS_LAUNCHER = ("/bin/sh", "-c", '"$@"; exit $?', "sh")


@dataclass(frozen=True)
class TickStats:
    tick: int
    seconds: float
    calls: dict[str, int]
    complete: bool = True
    cpu_seconds: float | None = None
    evaluated: int | None = None
    transitions: int | None = None
    errors: int | None = None
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@dataclass(frozen=True)
class Rss:
    base_mib: float  # the interpreter and the bench's own small modules
    imported_mib: float  # after importing the variant (the handler module, for ours)
    peak_mib: float  # after its ticks


@dataclass(frozen=True)
class VariantRun:
    variant: Variant | Literal["fleet"]  # fleet: ours with the fleet rules configured (scenario.fleet_document)
    source: Source
    size: int
    ticks: tuple[TickStats, ...]
    cap_seconds: float
    rss: Rss | None = None
    stdout_bytes: int = 0  # the handler's logs and EMF metrics over all ticks (CloudWatch Logs ingests them)

    @property
    def complete(self) -> bool:
        return bool(self.ticks) and all(t.complete for t in self.ticks)

    @property
    def done(self) -> tuple[TickStats, ...]:
        return tuple(t for t in self.ticks if t.complete)

    @property
    def steady(self) -> tuple[TickStats, ...]:
        """Every tick is a steady-state tick (see scenario); the first also pays the cold start, so it is left out
        of the timing when there are others."""
        done = self.done
        return done[1:] if len(done) > 1 else done

    @property
    def calls_per_tick(self) -> int | None:
        return self.steady[0].total if self.steady else None

    @property
    def seconds_per_tick(self) -> float | None:
        return statistics.median(t.seconds for t in self.steady) if self.steady else None

    @property
    def cpu_seconds_per_tick(self) -> float | None:
        cpu = [t.cpu_seconds for t in self.steady if t.cpu_seconds is not None]
        return statistics.median(cpu) if cpu else None

    @property
    def log_bytes_per_tick(self) -> float:
        return self.stdout_bytes / len(self.done) if self.done else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "source": self.source,
            "monitors": self.size,
            "complete": self.complete,
            "cap_seconds": self.cap_seconds,
            "steady_calls": self.calls_per_tick,
            "steady_calls_by_operation": self.steady[0].calls if self.steady else None,
            "steady_median_seconds": self.seconds_per_tick,
            "steady_median_cpu_seconds": self.cpu_seconds_per_tick,
            "log_bytes_per_tick": self.log_bytes_per_tick,
            "ticks": [t.__dict__ for t in self.ticks],
            "rss": None if self.rss is None else self.rss.__dict__,
        }


class ScenarioError(RuntimeError):
    """A variant did not do what the scenario needs (every monitor evaluated, nothing changed, no error)."""


def child_command(variant: Variant, size: int, ticks: int, result: Path, event: Path | None = None) -> list[str]:
    return [
        *RSS_LAUNCHER,
        sys.executable,
        "-m",
        "retrain_trigger_local.bench.tick_child",
        "--variant",
        variant,
        "--size",
        str(size),
        "--ticks",
        str(ticks),
        "--result",
        str(result),
        *(["--event", str(event)] if event else []),
    ]


def child_env(world: World, extra: dict[str, str] | None = None) -> dict[str, str]:
    path = os.pathsep.join([str(LAYER_DIR), str(EVALUATOR_DIR), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**os.environ, **world.child_environment(), "PYTHONPATH": path, **(extra or {})}


def run_variant(
    world: World,
    variant: Variant,
    ticks: int,
    cap_seconds: float,
    extra_env: dict[str, str] | None = None,
    event: dict[str, Any] | None = None,
) -> VariantRun:
    """`ticks` ticks of `variant` in one fresh process (or, for ours, one invocation with `event`); past
    `cap_seconds` it is stopped and says how far it got."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        result, logs = Path(tmp) / "ticks.jsonl", Path(tmp) / "stdout.log"
        event_file = None
        if event is not None:
            event_file = Path(tmp) / "event.json"
            event_file.write_text(json.dumps(event))
        with logs.open("wb") as stdout:
            child = subprocess.Popen(
                child_command(variant, world.size, ticks, result, event_file),
                env=child_env(world, extra_env),
                cwd=ROOT,
                stdout=stdout,  # the handler's logs and EMF metrics, as Lambda would ship them
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # the shell and the Python under it, signalled together
            )
            stopped = False
            try:
                _, err = child.communicate(timeout=cap_seconds)
            except subprocess.TimeoutExpired:
                stopped = True
                os.killpg(child.pid, signal.SIGTERM)
                _, err = child.communicate()
        lines = [json.loads(line) for line in result.read_text().splitlines()] if result.exists() else []
        stdout_bytes = logs.stat().st_size
    if stopped and not any(not line.get("complete", True) for line in lines):
        # stopped before its first tick began (or before it could say where it was): nothing counted yet
        lines.append({"tick": len(lines) + 1, "complete": False, "seconds": cap_seconds, "calls": {}})
    if child.returncode and not stopped:
        raise RuntimeError(f"bench: the {variant} child failed ({child.returncode}):\n{err[-4000:]}")
    stats = tuple(TickStats(**line) for line in lines if "tick" in line)
    rss = next((Rss(**line["rss"]) for line in lines if "rss" in line), None)
    return VariantRun(variant, world.source, world.size, stats, cap_seconds, rss, stdout_bytes)


def check_steady(run: VariantRun) -> None:
    """The numbers mean something only if the scenario ran as designed: every monitor evaluated, none changed."""
    problems = []
    for t in run.done:
        if t.evaluated != run.size:
            problems.append(f"tick {t.tick}: evaluated {t.evaluated} of {run.size}")
        if t.transitions or t.errors:
            problems.append(f"tick {t.tick}: {t.transitions} transitions, {t.errors} errors ({t.outcomes})")
    if problems:
        raise ScenarioError(f"bench scenario broken for {run.variant} ({run.source}, N={run.size}): {problems}")


def measure(world: World, ticks: int, cap_seconds: float) -> dict[Variant, VariantRun]:
    """Ours, then naive, on the same seeded world (neither writes anything the other reads)."""
    runs = {variant: run_variant(world, variant, ticks, cap_seconds) for variant in VARIANTS}
    for run in runs.values():
        check_steady(run)
    return runs


class WarmContainer:
    """One `ours` process serving one invocation per event, as a warm Lambda container does for a queue: its
    imports, clients and cached configuration carry over from one invocation to the next."""

    def __init__(self, world: World, extra_env: dict[str, str] | None = None) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-warm-")
        directory = Path(self._tmp.name)
        self._result = directory / "invocations.jsonl"
        self._result.touch()
        self._logs = (directory / "stdout.log").open("wb")
        self._count = 0
        self._child = subprocess.Popen(
            [*child_command("ours", world.size, 1, self._result), "--serve"],
            env=child_env(world, extra_env),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=self._logs,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def invoke(self, event: dict[str, Any], timeout: float) -> TickStats:
        """One invocation; raises TimeoutError past `timeout` seconds (the process is then stopped)."""
        assert self._child.stdin is not None
        self._count += 1
        path = Path(self._tmp.name) / f"event-{self._count}.json"
        path.write_text(json.dumps(event))
        self._child.stdin.write(f"{path}\n")
        self._child.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            lines = [json.loads(line) for line in self._result.read_text().splitlines()]
            done = [line for line in lines if "tick" in line]
            if len(done) >= self._count:
                return TickStats(**done[self._count - 1])
            if self._child.poll() is not None:
                raise RuntimeError(f"bench: the warm process ended ({self._child.returncode})")
            if time.monotonic() > deadline:
                self.close(force=True)
                raise TimeoutError(f"invocation {self._count} took more than {timeout:.0f} s")
            time.sleep(0.02)

    def close(self, force: bool = False) -> None:
        if self._child.poll() is None:
            if force:
                os.killpg(self._child.pid, signal.SIGKILL)
            elif self._child.stdin is not None:
                self._child.stdin.close()
            self._child.wait(timeout=60)
        self._logs.close()
        self._tmp.cleanup()
