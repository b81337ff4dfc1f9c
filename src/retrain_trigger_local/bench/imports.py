"""Cold import: the evaluator's handler module against `import boto3` and Powertools' Logger, Metrics and Tracer,
each in fresh interpreters, with what the import left in sys.modules."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass

from retrain_trigger_local.bench.scenario import EVALUATOR_DIR, FUNCTION_ENV
from retrain_trigger_local.runtime import LAYER_DIR, SANDBOX_ENV

HANDLER = "import app"
BASELINE = "import boto3; from aws_lambda_powertools import Logger, Metrics, Tracer"
HEAVY = ("pandas", "numpy", "matplotlib", "aws_xray_sdk")
IMPORT_RUNS = 7

PROBE = (
    "import time; t = time.perf_counter()\n{statement}\ns = time.perf_counter() - t\n"
    "import sys, json; print(json.dumps({{'seconds': s, 'loaded': [m for m in {heavy!r} if m in sys.modules]}}))"
)


@dataclass(frozen=True)
class ImportTiming:
    label: str
    statement: str
    runs_ms: tuple[float, ...]
    loaded: tuple[str, ...]  # which of HEAVY any measured run had in sys.modules afterwards

    @property
    def median_ms(self) -> float:
        return statistics.median(self.runs_ms)

    @property
    def pandas_or_numpy(self) -> bool:
        return bool({"pandas", "numpy"} & set(self.loaded))


def probe_env() -> dict[str, str]:
    """Lambda's view: the layer and the function directory on the path, the function's environment; no bench code."""
    env = {
        **os.environ,
        **SANDBOX_ENV,
        **FUNCTION_ENV,
        "PYTHONPATH": os.pathsep.join([str(LAYER_DIR), str(EVALUATOR_DIR)]),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the warm-up run writes the bytecode the measured runs load
    return env


@dataclass(frozen=True)
class Probe:
    seconds: float
    loaded: tuple[str, ...]


def probe(statement: str) -> Probe:
    """Run `statement` in a fresh interpreter: how long it took, and which of HEAVY it left in sys.modules."""
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(statement=statement, heavy=HEAVY)],
        env=probe_env(),
        cwd=EVALUATOR_DIR,  # Lambda's task root
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode:
        raise RuntimeError(f"bench: import probe failed: {statement}\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return Probe(float(result["seconds"]), tuple(result["loaded"]))


def compare_imports(runs: int = IMPORT_RUNS) -> tuple[ImportTiming, ImportTiming]:
    """(handler, baseline): one discarded warm-up each (bytecode, file cache), then `runs` fresh interpreters each,
    alternating, so that a busy moment of this shared machine falls on both alike."""
    statements = {"evaluator handler": HANDLER, "baseline": BASELINE}
    samples: dict[str, list[Probe]] = {label: [] for label in statements}
    for statement in statements.values():
        probe(statement)
    for _ in range(runs):
        for label, statement in statements.items():
            samples[label].append(probe(statement))
    timings = [
        ImportTiming(
            label,
            statement,
            tuple(s.seconds * 1000 for s in samples[label]),
            tuple(sorted({m for s in samples[label] for m in s.loaded})),
        )
        for label, statement in statements.items()
    ]
    return timings[0], timings[1]
