"""`make bench`'s drift section at small sizes: what it reports is what it measured (agreement, peak memory, tables).
Never timings: the speed-up is a figure of the run, not a test."""

from __future__ import annotations

import json

import numpy as np
import pytest

from retrain_trigger_local.bench.drift import DriftSpeed, measure_drift, memory_run
from retrain_trigger_local.bench.results import BenchReport
from retrain_trigger_local.bench.summary import as_dict, json_line
from retrain_trigger_local.bench.tables import markdown


@pytest.fixture(scope="module")
def measured() -> DriftSpeed:
    return measure_drift(rows=20_000, columns=8, memory_rows=300_000)


def test_the_scores_agree_with_scipy_within_0_005_on_every_column(measured: DriftSpeed) -> None:
    assert measured.max_ks_difference <= 0.005
    assert measured.max_wasserstein_difference <= 0.005


def test_the_fresh_process_scores_every_row_within_1_gib(measured: DriftSpeed) -> None:
    assert measured.memory_rows == 300_000
    assert 0 < measured.peak_rss_mb < 1024


def test_the_report_shows_both_throughputs_the_speedup_and_the_memory(measured: DriftSpeed) -> None:
    report = BenchReport(command="make bench", date="2026-12-07", machine="test", versions={}, drift=measured)

    text = markdown(report)
    summary = json.loads(json_line(report))

    assert "#### Drift from data: `score` against scipy.stats" in text
    assert f"{measured.ours_rows_per_second:,.0f}" in text and f"{measured.scipy_rows_per_second:,.0f}" in text
    assert summary["drift_speedup_over_scipy"] == round(measured.scipy_seconds / measured.ours_seconds, 1)
    assert summary["drift_peak_rss_mb"] == round(measured.peak_rss_mb, 1)
    assert as_dict(report)["drift"]["rows"] == 20_000


def test_the_peak_memory_is_the_scoring_process_own_not_the_bench_process() -> None:
    held = np.ones(50_000_000)  # 400 MB resident here, which an exec'd child would otherwise report as its own
    peak = memory_run(100_000, 4, seed=1)["peak_rss_mb"]
    assert held.sum() == 50_000_000
    assert peak < 200
