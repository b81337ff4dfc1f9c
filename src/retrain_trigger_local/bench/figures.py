"""The figures derived from a bench run: calls per evaluation, ratios, cost and the cold-start comparisons."""

from __future__ import annotations

from retrain_trigger_local.bench import cost
from retrain_trigger_local.bench.results import BenchReport
from retrain_trigger_local.bench.scenario import Source

RSS_SIZE = 10_000


def per_eval(report: BenchReport, variant: str, source: Source, size: int | None) -> float | None:
    run = None if size is None else report.run(variant, source, size)
    if run is None or run.calls_per_tick is None or not run.complete:
        return None
    return run.calls_per_tick / run.size


def wall_ratio(report: BenchReport, source: Source, size: int) -> float | None:
    ours, naive = report.run("ours", source, size), report.run("naive", source, size)
    if ours is None or naive is None or not (ours.complete and naive.complete):
        return None
    if ours.seconds_per_tick is None or naive.seconds_per_tick is None:
        return None
    return naive.seconds_per_tick / ours.seconds_per_tick


def monthly_cost(report: BenchReport, variant: str, source: Source, size: int) -> cost.MonthlyCost | None:
    run = report.run(variant, source, size)
    if run is None or not run.complete or not run.steady:
        return None
    tick = run.steady[0]
    metrics = size if source == "cloudwatch" else 0  # one score metric per monitor, no guards
    return cost.monthly(size, tick.calls, metrics, run.cpu_seconds_per_tick or 0.0, run.log_bytes_per_tick)


def first_invocation_extra(report: BenchReport) -> tuple[int, float] | None:
    """(N, ms) by which ours' first tick outlasts a warm one, at the smallest CloudWatch N: what a cold start
    pays after the import (modules the handler imports lazily, clients, first connections)."""
    for size in report.sizes("cloudwatch"):
        run = report.run("ours", "cloudwatch", size)
        if run is not None and run.complete and len(run.done) > 1 and run.seconds_per_tick is not None:
            return size, (run.done[0].seconds - run.seconds_per_tick) * 1000
    return None


def cold_start_ratio(report: BenchReport) -> float | None:
    """The former, unfair figure: our import + first invocation's extra over a baseline that only imports."""
    extra = first_invocation_extra(report)
    if report.imports is None or extra is None:
        return None
    handler, baseline = report.imports
    return (handler.median_ms + extra[1]) / baseline.median_ms


def peak_rss_10k(report: BenchReport) -> float | None:
    peaks = [r.rss.peak_mib for r in report.runs if r.variant == "ours" and r.size == RSS_SIZE and r.rss]
    return max(peaks) if peaks else None


def import_ratio(report: BenchReport) -> float | None:
    """Our handler module's cold import over `import boto3` and Powertools' (medians): the import alone."""
    if report.imports is None:
        return None
    handler, baseline = report.imports
    return handler.median_ms / baseline.median_ms


def cold_start_ratio_fair(report: BenchReport) -> float | None:
    """The headline: what a cold start costs a user, ours over a minimal handler making the floor's calls (medians
    over fresh processes, each importing its handler and running the first tick)."""
    return None if report.cold_start is None else report.cold_start.ratio
