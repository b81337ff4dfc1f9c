"""The bench's tables for people: one Markdown section per measurement, assembled by `markdown`."""

from __future__ import annotations

import statistics

from retrain_trigger_local.bench import cost
from retrain_trigger_local.bench.cells import (
    by_operation,
    calls_cell,
    cpu_ms_cell,
    markdown_table,
    ms_cell,
    operations_cell,
    per_monitor,
    ratio_cell,
    ratio_text,
    size_label,
    tick_calls,
    ticks_cell,
)
from retrain_trigger_local.bench.coldstart import COLD_START_GOAL
from retrain_trigger_local.bench.fanout import ShardRun
from retrain_trigger_local.bench.figures import (
    cold_start_ratio,
    first_invocation_extra,
    monthly_cost,
    wall_ratio,
)
from retrain_trigger_local.bench.floor import floor_calls
from retrain_trigger_local.bench.results import BenchReport
from retrain_trigger_local.bench.scenario import MAX_AGE, THRESHOLDS
from retrain_trigger_local.bench.ticks import VariantRun


def markdown(report: BenchReport) -> str:
    sections = [
        f"`{report.command}` · {report.date} · {report.machine} · "
        + ", ".join(f"{name} {v}" for name, v in report.versions.items()),
        "Scenario: N monitors, each with one score below its warning level "
        f"({', '.join(f'{k} {v}' for k, v in THRESHOLDS.items())}, max_age {MAX_AGE}), read from CloudWatch "
        "(one metric per monitor) or from the DynamoDB score table: every tick is the steady state, nothing "
        "changes. Each variant runs in its own fresh process against the embedded moto server; the first tick "
        "of a process is its cold start and is left out of the timing when it ran more than one.",
    ]
    if report.cold_start:
        sections.append("#### Cold start: what a user pays (the headline)\n\n" + cold_start_table(report))
    if report.runs:  # `--parts` without ticks: no empty tables
        sections += [
            "#### AWS calls per steady-state tick\n\n" + calls_table(report),
            "#### Wall time per tick (our code + moto on loopback, not AWS latency)\n\n" + time_table(report),
        ]
    if report.replay:
        sections.append("#### Replay (the policy engine alone)\n\n" + replay_table(report))
    if report.imports:
        sections.append("#### Cold import alone (fresh interpreter per run)\n\n" + import_table(report))
    if any(r.rss for r in report.runs):
        sections.append("#### Peak RSS (fresh process per run, against the moto server)\n\n" + rss_table(report))
    if report.fanout:
        sections.append("#### Fan-out\n\n" + fanout_table(report))
    if report.build:
        sections.append("#### Artefacts (`sam build`)\n\n" + build_table(report))
    if report.drift:
        sections.append("#### Drift from data: `score` against scipy.stats\n\n" + drift_table(report))
    cw = report.reference_size("cloudwatch")
    if cw is not None and monthly_cost(report, "ours", "cloudwatch", cw):
        sections.append(f"#### Cost per model-month, hourly checks, N = {cw:,}\n\n" + cost_table(report, cw))
    return "\n\n".join(sections) + "\n"


def cold_start_table(report: BenchReport) -> str:
    """Ours and the minimal baseline, each a fresh process importing its handler and running the first tick."""
    assert report.cold_start is not None
    c = report.cold_start
    rows = [
        [
            f"{s.label}: `{s.handler}`",
            str(len(s.runs)),
            f"{s.median_import_ms:.0f}",
            f"{s.median_invoke_ms:.0f}",
            f"{s.median_ms:.0f}",
            f"{min(r.total_ms for r in s.runs):.0f}-{max(r.total_ms for r in s.runs):.0f}",
            f"{s.median_cpu_ms:.0f}",
            by_operation(s.calls),
        ]
        for s in (c.ours, c.baseline)
    ]
    verdict = "meets" if c.ratio <= COLD_START_GOAL else "misses"
    rows.append(
        [
            f"**cold_start_ratio_fair** (ours ÷ baseline, medians; goal ≤ {COLD_START_GOAL})",
            "",
            "",
            "",
            f"**{c.ratio:.2f}**",
            verdict,
            "-" if c.cpu_ratio is None else f"{c.cpu_ratio:.2f}",
            "",
        ]
    )
    intro = (
        f"Each run is a fresh process against the moto server's world of {c.monitors} CloudWatch monitors: it loads "
        "the handler by path (as Lambda does) and runs the first steady tick; the clock starts before the handler's "
        "first import. The baseline (bench/baseline_app.py) imports boto3 and Powertools' Logger and Metrics and "
        "makes the floor's calls only. Tracing off for both (no X-Ray daemon here).\n\n"
    )
    table = markdown_table(
        ["cold start", "runs", "import ms", "first invocation ms", "median ms", "range ms", "CPU ms", "calls"],
        "lrrrrrrl",
        rows,
    )
    if not c.extra_imports:
        return intro + table
    extra = ", ".join(f"{package} {ms:.0f} ms ({count} modules)" for package, ms, count in c.extra_imports)
    return (
        intro
        + table
        + "\n\nWhat ours imports beyond the baseline (`-X importtime`, self time by package, one run each): "
        + extra
        + "."
    )


def calls_table(report: BenchReport) -> str:
    rows = []
    for source in ("cloudwatch", "dynamodb"):
        for size in report.sizes(source):
            ours, naive = report.run("ours", source, size), report.run("naive", source, size)
            floor = floor_calls(size, source)
            rows.append(
                [
                    source,
                    f"{size:,}",
                    calls_cell(ours),
                    calls_cell(naive),
                    str(floor),
                    per_monitor(ours, size),
                    per_monitor(naive, size),
                    f"{floor / size:.4f}",
                    ratio_cell(ours.calls_per_tick if ours and ours.complete else None, floor),
                    ratio_cell(naive.calls_per_tick if naive and naive.complete else None, tick_calls(ours)),
                    operations_cell(ours),
                ]
            )
            fleet = report.run("fleet", source, size)
            if fleet is not None:  # the same tick with inhibition and a budget configured (docs/fleet.md)
                rows.append(_fleet_row(fleet, ours, source, size, floor))
    header = ["source", "N", "ours", "naive", "floor", "ours/eval", "naive/eval", "floor/eval"]
    return markdown_table([*header, "ours ÷ floor", "naive ÷ ours", "ours, by operation"], "lrrrrrrrrrl", rows)


def _fleet_row(fleet: VariantRun, ours: VariantRun | None, source: str, size: int, floor: int) -> list[str]:
    """A "fleet rules configured" row: ours again, its document with `suppressed_by` and a `fleet` budget; the
    naive column holds its ratio to ours without them (the issue's bound: within 1.1x)."""
    calls, plain = tick_calls(fleet), tick_calls(ours)
    versus = f"{calls / plain:.3f}\N{MULTIPLICATION SIGN} ours" if calls is not None and plain else "-"
    ratio = ratio_cell(calls, floor)
    return [
        f"{source}, fleet rules configured",
        f"{size:,}",
        calls_cell(fleet),
        "-",
        str(floor),
        per_monitor(fleet, size),
        "-",
        f"{floor / size:.4f}",
        ratio,
        versus,
        operations_cell(fleet),
    ]


def time_table(report: BenchReport) -> str:
    rows = []
    for source in ("cloudwatch", "dynamodb"):
        for size in report.sizes(source):
            ours, naive = report.run("ours", source, size), report.run("naive", source, size)
            ratio = wall_ratio(report, source, size)
            rows.append(
                [
                    source,
                    f"{size:,}",
                    "-" if ours is None or not ours.done else f"{ours.done[0].seconds * 1000:,.0f}",
                    ms_cell(ours),
                    cpu_ms_cell(ours),
                    ms_cell(naive),
                    ratio_text(ratio, ours, naive),
                    ticks_cell(ours),
                    ticks_cell(naive),
                ]
            )
    header = [
        "source",
        "N",
        "ours tick 1 ms (cold)",
        "ours ms/tick",
        "ours CPU ms",
        "naive ms/tick",
        "naive ÷ ours",
    ]
    return markdown_table([*header, "ours ticks", "naive ticks"], "lrrrrrrl", rows)


def replay_table(report: BenchReport) -> str:
    assert report.replay is not None
    r = report.replay
    row = [f"{r.evaluations:,}", str(r.transitions), f"{r.seconds * 1000:.0f}", f"{r.per_second:,.0f}"]
    return markdown_table(
        ["hourly evaluations (a year)", "transitions", "ms (median of 3)", "evaluations/s"], "r", [row]
    )


def import_table(report: BenchReport) -> str:
    assert report.imports is not None
    handler, baseline = report.imports
    rows = [
        [
            f"{t.label}: `{t.statement}`",
            str(len(t.runs_ms)),
            f"{t.median_ms:.0f}",
            f"{min(t.runs_ms):.0f}-{max(t.runs_ms):.0f}",
            ", ".join(t.loaded) or "none",
        ]
        for t in (handler, baseline)
    ]
    rows.append(["ratio (handler ÷ baseline, medians)", "", f"{handler.median_ms / baseline.median_ms:.2f}", "", ""])
    extra = first_invocation_extra(report)
    ratio = cold_start_ratio(report)
    if extra is not None and ratio is not None:
        size, ms = extra
        what = f"first invocation's extra (ours' cold tick minus a warm tick, CloudWatch, N = {size:,})"
        rows.append([what, "1", f"{ms:.0f}", "", "lazy imports, clients, first connections"])
        rows.append(["cold start ratio ((import + first invocation's extra) ÷ baseline)", "", f"{ratio:.2f}", "", ""])
    return markdown_table(
        ["import", "runs", "median ms", "range ms", "of pandas, numpy, matplotlib, aws_xray_sdk: loaded"],
        "lrrrl",
        rows,
    )


def rss_table(report: BenchReport) -> str:
    rows = [
        [
            r.source,
            f"{r.size:,}",
            r.variant,
            f"{r.rss.base_mib:.1f}",
            f"{r.rss.imported_mib:.1f}",
            f"{r.rss.peak_mib:.1f}",
        ]
        for r in report.runs
        if r.rss is not None and r.size == max(report.sizes(r.source))
    ]
    return markdown_table(["source", "N", "variant", "start MiB", "after import MiB", "peak MiB"], "lrlr", rows)


def fanout_table(report: BenchReport) -> str:
    assert report.fanout is not None
    f = report.fanout

    def row(s: ShardRun) -> list[str]:
        return [str(s.shard), f"{s.monitors:,}", str(s.total), f"{s.seconds * 1000:,.0f}", by_operation(s.calls)]

    shown = f.shards if len(f.shards) <= 12 else [*f.shards[:3], None, *f.shards[-2:]]
    rows = [row(s) if s is not None else ["…", "", "", "", "(every shard: bench.json)"] for s in shown]
    if f.dispatch is not None:
        d = f.dispatch
        dispatch = ["scheduled tick", f"{f.monitors:,}", str(d.total), f"{d.seconds * 1000:,.0f}"]
        rows.insert(0, [*dispatch, by_operation(d.calls)])
    if f.shards:
        ms = sorted(s.seconds * 1000 for s in f.shards)
        calls = sorted(s.total for s in f.shards)
        rows.append(
            [
                "per shard",
                "",
                f"{calls[0]}-{calls[-1]}",
                f"{ms[0]:,.0f} / {statistics.median(ms):,.0f} / {ms[-1]:,.0f}",
                "calls min-max; ms min / median / max",
            ]
        )
    rows.append(
        [
            f"**total** ({len(f.shards)} of {f.planned} shards)",
            f"{f.evaluated:,}",
            f"{f.total_calls:,}",
            f"{f.total_seconds * 1000:,.0f}",
            f"floor {sum(floor_calls(s.monitors, f.source) for s in f.shards):,}"
            + ("" if f.complete else f"; stopped by the {f.cap_seconds:.0f} s cap"),
        ]
    )
    how = (
        "a warm process takes one shard an invocation, as a warm container consuming the queue (shard 0 is its "
        "cold start)"
        if f.dispatch is not None
        else "one fresh process (one invocation) per shard"
    )
    intro = (
        f"{f.monitors:,} monitors ({f.source}), shards of {f.shard_size:,}: {f.entry_point}; {how}. Each shard "
        "runs against a moto account holding the configuration and only that shard's scores; ms is the "
        "invocation's own time.\n\n"
    )
    return intro + markdown_table(["shard", "monitors", "calls", "ms", "calls by operation"], "lrrrl", rows)


def build_table(report: BenchReport) -> str:
    assert report.build is not None
    b = report.build
    if not b.built:
        return f"not built: no {b.directory}/template.yaml (run `make sam-build` first)"
    rows = [[a.name, str(a.files), size_label(a.bytes_on_disk), size_label(a.zipped_bytes)] for a in b.artefacts]
    total = [sum(a.bytes_on_disk for a in b.artefacts), sum(a.zipped_bytes for a in b.artefacts)]
    rows.append(["**total**", str(sum(a.files for a in b.artefacts)), size_label(total[0]), size_label(total[1])])
    header = ["artefact", "files", "on disk", "zipped"]
    return f"{b.directory}, built {b.built_at}\n\n" + markdown_table(header, "lr", rows)


def drift_table(report: BenchReport) -> str:
    """Rows per second for KS + Wasserstein on every column, ours from the profile in chunks, scipy on full data."""
    assert report.drift is not None
    d = report.drift
    shape = f"{d.rows:,} rows x {d.columns} numeric columns"
    rows = [
        [f"`score` (profile, {shape}, chunks)", f"{d.ours_rows_per_second:,.0f}", f"{d.ours_seconds:.2f}", "-"],
        [f"scipy.stats per column ({shape})", f"{d.scipy_rows_per_second:,.0f}", f"{d.scipy_seconds:.2f}", "-"],
        ["speed-up (goal >= 10x)", f"{d.speedup:.1f}x", "", ""],
        ["largest difference from scipy, KS / Wasserstein (normed)", "", "",
         f"{d.max_ks_difference:.5f} / {d.max_wasserstein_difference:.5f}"],
        [f"`baseline` ({d.columns} profiles, {d.profile_bytes / 1e6:.1f} MB JSON)", "", f"{d.baseline_seconds:.2f}",
         ""],
        [f"fresh process, {d.memory_rows:,} rows x {d.columns} in chunks", f"{d.memory_rows / d.memory_seconds:,.0f}",
         f"{d.memory_seconds:.2f}", f"peak RSS {d.peak_rss_mb:,.0f} MB"],
    ]  # fmt: skip
    return markdown_table(["", "rows/s", "seconds", "agreement / memory"], "lrrr", rows)


def cost_table(report: BenchReport, size: int) -> str:
    ours, naive = monthly_cost(report, "ours", "cloudwatch", size), monthly_cost(report, "naive", "cloudwatch", size)
    assert ours is not None
    items = sorted(set(ours.by_item) | set(naive.by_item if naive else {}))
    rows = [
        [
            item,
            f"{ours.by_item.get(item, 0.0):.4f}",
            "-" if naive is None else f"{naive.by_item.get(item, 0.0):.4f}",
        ]
        for item in items
    ]
    rows.append(["**fleet per month**", f"{ours.total:.2f}", "-" if naive is None else f"{naive.total:.2f}"])
    rows.append(["**per model-month**", f"{ours.per_model:.5f}", "-" if naive is None else f"{naive.per_model:.5f}"])
    rows.append(["one CloudWatch alarm per model, per model-month", f"{cost.alarm_per_model_month():.2f}", ""])
    note = (
        f"USD, us-east-1 list prices as of {cost.PRICES_AS_OF} (in bench/cost.py), no free tier; CloudWatch "
        f"source, {cost.HOURS_PER_MONTH} ticks a month, each as the measured steady-state tick. Lambda duration: "
        f"the tick's measured CPU time + {cost.CALL_LATENCY_SECONDS * 1000:.0f} ms per call (assumed AWS latency), "
        "512 MB arm64. Logs: the bytes the handler wrote per tick. Transitions (rare) are not counted.\n\n"
    )
    return note + markdown_table(["item", "ours USD/month", "naive USD/month"], "lr", rows)
