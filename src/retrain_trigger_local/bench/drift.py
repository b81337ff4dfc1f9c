"""Drift scoring speed: `score` (retrain_trigger_drift_data, profile + chunks) against scipy.stats per column
(ks_2samp + wasserstein_distance on the full reference and current), on the same data, and the peak memory of a
fresh process scoring many more rows in chunks.

Both sides get the data in memory, so the figure is the arithmetic, not CSV parsing. The profile is built once
before the timing (it is `baseline`'s job, timed apart); scipy gets the full reference, as it needs it.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from retrain_trigger_drift_data.metrics import NumericDrift
from retrain_trigger_drift_data.profile import NumericProfile, numeric_profile
from retrain_trigger_drift_data.tables import Chunk
from retrain_trigger_local.bench.ticks import RSS_LAUNCHER

ROWS = 1_000_000
COLUMNS = 50
CHUNK = 100_000
MEMORY_ROWS = 10_000_000
MEMORY_REFERENCE_ROWS = 200_000
GOAL_SPEEDUP = 10.0
MEMORY_LIMIT_MB = 1024.0

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DriftSpeed:
    rows: int
    columns: int
    baseline_seconds: float  # building the 50 columns' profiles from the reference
    ours_seconds: float  # score: KS and Wasserstein for every column, in chunks
    scipy_seconds: float  # ks_2samp + wasserstein_distance per column on the full data
    max_ks_difference: float  # |ours - scipy| over the columns
    max_wasserstein_difference: float  # normed, as `score` reports it
    memory_rows: int
    memory_seconds: float
    peak_rss_mb: float  # the fresh scoring process's ru_maxrss
    profile_bytes: int  # the JSON profile of all the columns

    @property
    def ours_rows_per_second(self) -> float:
        return self.rows / self.ours_seconds

    @property
    def scipy_rows_per_second(self) -> float:
        return self.rows / self.scipy_seconds

    @property
    def speedup(self) -> float:
        return self.scipy_seconds / self.ours_seconds


def column(seed: int, index: int, rows: int, current: bool) -> FloatArray:
    """Column `index`: a mix of shapes (normal, lognormal, exponential, integer codes), and in the current data
    every third column drifted, so both methods see drift and no drift."""
    rng = np.random.default_rng([seed, index, int(current)])
    shift = 0.3 if current and index % 3 == 0 else 0.0
    kind = index % 4
    if kind == 0:
        return rng.normal(shift, 1.0, rows)
    if kind == 1:
        return rng.lognormal(shift, 0.8, rows)
    if kind == 2:
        return rng.exponential(1.0 + shift, rows)
    return rng.poisson(3.0 + 3 * shift, rows).astype(np.float64)


def _score(profiles: list[NumericProfile], chunks: Iterator[Chunk]) -> list[NumericDrift]:
    drifts = [NumericDrift(p) for p in profiles]
    for chunk in chunks:
        for j, drift in enumerate(drifts):
            drift.add(chunk.numbers(f"c{j}"))
    return drifts


def _chunks_of(current: FloatArray, size: int) -> Iterator[Chunk]:
    columns, rows = current.shape
    for start in range(0, rows, size):
        part: dict[str, FloatArray | list[str | None]] = {
            f"c{j}": current[j, start : start + size] for j in range(columns)
        }
        yield Chunk(part, min(size, rows - start))


def measure_drift(
    rows: int = ROWS, columns: int = COLUMNS, memory_rows: int = MEMORY_ROWS, seed: int = 15
) -> DriftSpeed:
    from scipy import stats  # noqa: PLC0415 - a dev dependency: only the bench and the tests compare with scipy

    began = time.perf_counter()
    profiles = [numeric_profile(column(seed, j, rows, current=False)) for j in range(columns)]
    baseline_seconds = time.perf_counter() - began
    profile_bytes = sum(len(json.dumps(p.as_json())) for p in profiles)
    current = np.stack([column(seed, j, rows, current=True) for j in range(columns)])

    began = time.perf_counter()
    drifts = _score(profiles, _chunks_of(current, CHUNK))
    ours = [(d.ks(), d.value("wasserstein")) for d in drifts]
    ours_seconds = time.perf_counter() - began

    scipy_seconds = 0.0
    exact: list[tuple[float, float]] = []
    for j in range(columns):
        reference = column(seed, j, rows, current=False)  # regenerated outside the timing
        began = time.perf_counter()
        ks = float(stats.ks_2samp(reference, current[j]).statistic)
        wasserstein = float(stats.wasserstein_distance(reference, current[j]))
        scipy_seconds += time.perf_counter() - began
        exact.append((ks, wasserstein / max(float(np.std(reference)), 0.001)))
    del current
    memory = memory_run(memory_rows, columns, seed)
    return DriftSpeed(
        rows=rows,
        columns=columns,
        baseline_seconds=baseline_seconds,
        ours_seconds=ours_seconds,
        scipy_seconds=scipy_seconds,
        max_ks_difference=max(abs(o[0] - e[0]) for o, e in zip(ours, exact, strict=True)),
        max_wasserstein_difference=max(abs(o[1] - e[1]) for o, e in zip(ours, exact, strict=True)),
        memory_rows=memory_rows,
        memory_seconds=memory["seconds"],
        peak_rss_mb=memory["peak_rss_mb"],
        profile_bytes=profile_bytes,
    )


def memory_run(rows: int, columns: int, seed: int) -> dict[str, float]:
    """`rows` x `columns` scored in a fresh process, generated chunk by chunk (never all in memory)."""
    code = f"from retrain_trigger_local.bench.drift import memory_child; memory_child({rows}, {columns}, {seed})"
    # through the small shell: an exec'd process keeps the ru_maxrss of the one it was forked from (this one, which
    # held the 1 M x 50 comparison), so Python is forked from the shell's image instead
    command = [*RSS_LAUNCHER, sys.executable, "-c", code]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=3600)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def memory_child(rows: int, columns: int, seed: int) -> None:
    profiles = [numeric_profile(column(seed, j, MEMORY_REFERENCE_ROWS, current=False)) for j in range(columns)]

    def generated() -> Iterator[Chunk]:
        for number, start in enumerate(range(0, rows, CHUNK)):
            size = min(CHUNK, rows - start)
            part: dict[str, FloatArray | list[str | None]] = {
                f"c{j}": column(seed + 1 + number, j, size, current=True) for j in range(columns)
            }
            yield Chunk(part, size)

    began = time.perf_counter()
    drifts = _score(profiles, generated())
    values = [d.value("wasserstein") for d in drifts]
    seconds = time.perf_counter() - began
    assert all(np.isfinite(values)) and sum(d.count for d in drifts) == rows * columns
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_kib / 1024, "median_value": statistics.median(values)}))
