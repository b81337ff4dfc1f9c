"""The bench's JSON: the summary line for machines (`json_line`) and bench.json (`as_dict`)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from retrain_trigger_local.bench import cost
from retrain_trigger_local.bench.coldstart import ColdStartComparison
from retrain_trigger_local.bench.figures import (
    cold_start_ratio,
    cold_start_ratio_fair,
    import_ratio,
    monthly_cost,
    peak_rss_10k,
    per_eval,
    wall_ratio,
)
from retrain_trigger_local.bench.floor import floor_calls
from retrain_trigger_local.bench.results import BenchReport


def summary(report: BenchReport) -> dict[str, Any]:
    cw, ddb = report.reference_size("cloudwatch"), report.reference_size("dynamodb")
    handler = report.imports[0] if report.imports else None
    monthly = None if cw is None else monthly_cost(report, "ours", "cloudwatch", cw)
    cold = report.cold_start
    return {
        # The headline first: what a cold start costs a user, against a minimal handler making the floor's calls.
        "cold_start_ratio_fair": _round(cold_start_ratio_fair(report), 3),
        "cold_start_ms_ours": _round(None if cold is None else cold.ours.median_ms, 1),
        "cold_start_ms_baseline": _round(None if cold is None else cold.baseline.median_ms, 1),
        "cold_start_runs": None if cold is None else len(cold.ours.runs),
        "cold_start_cpu_ratio": _round(None if cold is None else cold.cpu_ratio, 3),
        "monitors": cw,
        "calls_per_eval_ours": _round(per_eval(report, "ours", "cloudwatch", cw)),
        "calls_per_eval_naive": _round(per_eval(report, "naive", "cloudwatch", cw)),
        "calls_per_eval_floor": _round(None if cw is None else floor_calls(cw, "cloudwatch") / cw),
        "wall_ratio_naive_over_ours": _round(None if cw is None else wall_ratio(report, "cloudwatch", cw), 2),
        "import_ratio": _round(import_ratio(report), 3),
        "pandas_loaded": None if handler is None else handler.pandas_or_numpy,
        "cold_start_ratio": _round(cold_start_ratio(report), 3),
        "peak_rss_mb_10k": _round(peak_rss_10k(report), 1),
        "cost_per_model_month_usd": _round(None if monthly is None else monthly.per_model, 6),
        "alarm_per_model_month_usd": cost.alarm_per_model_month(),
        "ddb_monitors": ddb,
        "ddb_calls_per_eval_ours": _round(per_eval(report, "ours", "dynamodb", ddb)),
        "ddb_calls_per_eval_naive": _round(per_eval(report, "naive", "dynamodb", ddb)),
        "ddb_calls_per_eval_floor": _round(None if ddb is None else floor_calls(ddb, "dynamodb") / ddb),
        "ddb_wall_ratio_naive_over_ours": _round(None if ddb is None else wall_ratio(report, "dynamodb", ddb), 2),
        "replay_evals_per_second": _round(report.replay.per_second if report.replay else None, 0),
        "fanout_monitors_evaluated": None if report.fanout is None else report.fanout.evaluated,
        "fanout_complete": None if report.fanout is None else report.fanout.complete,
        "fanout_calls": None if report.fanout is None else report.fanout.total_calls,
        **_drift(report),
    }


def _drift(report: BenchReport) -> dict[str, Any]:
    drift = report.drift
    return {
        "drift_rows_per_second_ours": None if drift is None else _round(drift.ours_rows_per_second, 0),
        "drift_rows_per_second_scipy": None if drift is None else _round(drift.scipy_rows_per_second, 0),
        "drift_speedup_over_scipy": None if drift is None else _round(drift.speedup, 1),
        "drift_peak_rss_mb": None if drift is None else _round(drift.peak_rss_mb, 1),
    }


def as_dict(report: BenchReport) -> dict[str, Any]:
    return {
        "command": report.command,
        "date": report.date,
        "machine": report.machine,
        "versions": report.versions,
        "summary": summary(report),
        "runs": [r.summary() for r in report.runs],
        "replay": None if report.replay is None else {**asdict(report.replay), "per_second": report.replay.per_second},
        "imports": [{**asdict(t), "median_ms": t.median_ms} for t in report.imports or ()],
        "cold_start": None if report.cold_start is None else _cold_start(report.cold_start),
        "fanout": None if report.fanout is None else asdict(report.fanout),
        "build": None if report.build is None else asdict(report.build),
        "drift": None if report.drift is None else asdict(report.drift),
    }


def _cold_start(comparison: ColdStartComparison) -> dict[str, Any]:
    starts = {
        s.label: {**asdict(s), "median_ms": s.median_ms, "median_import_ms": s.median_import_ms}
        | {"median_invoke_ms": s.median_invoke_ms, "median_cpu_ms": s.median_cpu_ms}
        for s in (comparison.ours, comparison.baseline)
    }
    return {
        "monitors": comparison.monitors,
        "ratio": comparison.ratio,
        "cpu_ratio": comparison.cpu_ratio,
        **starts,
        "extra_imports": comparison.extra_imports,
    }


def json_line(report: BenchReport) -> str:
    return json.dumps(summary(report), sort_keys=False)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)
