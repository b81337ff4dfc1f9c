"""The bench's report: Markdown tables for people, then one JSON line for machines."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from retrain_trigger_local.bench import cost
from retrain_trigger_local.bench.artefacts import BuildSizes
from retrain_trigger_local.bench.fanout import Fanout, ShardRun
from retrain_trigger_local.bench.floor import floor_calls
from retrain_trigger_local.bench.imports import ImportTiming
from retrain_trigger_local.bench.replay import ReplayRate
from retrain_trigger_local.bench.scenario import MAX_AGE, THRESHOLDS, Source
from retrain_trigger_local.bench.ticks import VariantRun

REFERENCE_SIZE = 1000  # the JSON line's figures are at this N (or the largest measured below it)
RSS_SIZE = 10_000


@dataclass
class BenchReport:
    command: str
    date: str
    machine: str
    versions: dict[str, str]
    runs: list[VariantRun] = field(default_factory=list)  # ours and naive, per source and size
    replay: ReplayRate | None = None
    imports: tuple[ImportTiming, ImportTiming] | None = None  # (handler, baseline)
    fanout: Fanout | None = None
    build: BuildSizes | None = None

    # -- lookups -------------------------------------------------------------------------------------------------

    def run(self, variant: str, source: Source, size: int) -> VariantRun | None:
        return next((r for r in self.runs if (r.variant, r.source, r.size) == (variant, source, size)), None)

    def sizes(self, source: Source) -> list[int]:
        return sorted({r.size for r in self.runs if r.source == source})

    def reference_size(self, source: Source = "cloudwatch") -> int | None:
        sizes = [n for n in self.sizes(source) if n <= REFERENCE_SIZE]
        return max(sizes) if sizes else None

    def _per_eval(self, variant: str, source: Source, size: int | None) -> float | None:
        run = None if size is None else self.run(variant, source, size)
        if run is None or run.calls_per_tick is None or not run.complete:
            return None
        return run.calls_per_tick / run.size

    def wall_ratio(self, source: Source, size: int) -> float | None:
        ours, naive = self.run("ours", source, size), self.run("naive", source, size)
        if ours is None or naive is None or not (ours.complete and naive.complete):
            return None
        if ours.seconds_per_tick is None or naive.seconds_per_tick is None:
            return None
        return naive.seconds_per_tick / ours.seconds_per_tick

    def cost(self, variant: str, source: Source, size: int) -> cost.MonthlyCost | None:
        run = self.run(variant, source, size)
        if run is None or not run.complete or not run.steady:
            return None
        tick = run.steady[0]
        metrics = size if source == "cloudwatch" else 0  # one score metric per monitor, no guards
        return cost.monthly(size, tick.calls, metrics, run.cpu_seconds_per_tick or 0.0, run.log_bytes_per_tick)

    def first_invocation_extra(self) -> tuple[int, float] | None:
        """(N, ms) by which ours' first tick outlasts a warm one, at the smallest CloudWatch N: what a cold start
        pays after the import (modules the handler imports lazily, clients, first connections)."""
        for size in self.sizes("cloudwatch"):
            run = self.run("ours", "cloudwatch", size)
            if run is not None and run.complete and len(run.done) > 1 and run.seconds_per_tick is not None:
                return size, (run.done[0].seconds - run.seconds_per_tick) * 1000
        return None

    def cold_start_ratio(self) -> float | None:
        extra = self.first_invocation_extra()
        if self.imports is None or extra is None:
            return None
        handler, baseline = self.imports
        return (handler.median_ms + extra[1]) / baseline.median_ms

    def peak_rss_10k(self) -> float | None:
        peaks = [r.rss.peak_mib for r in self.runs if r.variant == "ours" and r.size == RSS_SIZE and r.rss]
        return max(peaks) if peaks else None

    # -- the JSON line -------------------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        cw, ddb = self.reference_size("cloudwatch"), self.reference_size("dynamodb")
        handler, baseline = self.imports if self.imports else (None, None)
        monthly = None if cw is None else self.cost("ours", "cloudwatch", cw)
        return {
            "monitors": cw,
            "calls_per_eval_ours": _round(self._per_eval("ours", "cloudwatch", cw)),
            "calls_per_eval_naive": _round(self._per_eval("naive", "cloudwatch", cw)),
            "calls_per_eval_floor": _round(None if cw is None else floor_calls(cw, "cloudwatch") / cw),
            "wall_ratio_naive_over_ours": _round(None if cw is None else self.wall_ratio("cloudwatch", cw), 2),
            "import_ratio": _round(handler.median_ms / baseline.median_ms if handler and baseline else None, 3),
            "pandas_loaded": None if handler is None else handler.pandas_or_numpy,
            "cold_start_ratio": _round(self.cold_start_ratio(), 3),
            "peak_rss_mb_10k": _round(self.peak_rss_10k(), 1),
            "cost_per_model_month_usd": _round(None if monthly is None else monthly.per_model, 6),
            "alarm_per_model_month_usd": cost.alarm_per_model_month(),
            "ddb_monitors": ddb,
            "ddb_calls_per_eval_ours": _round(self._per_eval("ours", "dynamodb", ddb)),
            "ddb_calls_per_eval_naive": _round(self._per_eval("naive", "dynamodb", ddb)),
            "ddb_calls_per_eval_floor": _round(None if ddb is None else floor_calls(ddb, "dynamodb") / ddb),
            "ddb_wall_ratio_naive_over_ours": _round(None if ddb is None else self.wall_ratio("dynamodb", ddb), 2),
            "replay_evals_per_second": _round(self.replay.per_second if self.replay else None, 0),
            "fanout_monitors_evaluated": None if self.fanout is None else self.fanout.evaluated,
            "fanout_complete": None if self.fanout is None else self.fanout.complete,
            "fanout_calls": None if self.fanout is None else self.fanout.total_calls,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "date": self.date,
            "machine": self.machine,
            "versions": self.versions,
            "summary": self.summary(),
            "runs": [r.summary() for r in self.runs],
            "replay": None if self.replay is None else {**asdict(self.replay), "per_second": self.replay.per_second},
            "imports": [{**asdict(t), "median_ms": t.median_ms} for t in self.imports or ()],
            "fanout": None if self.fanout is None else asdict(self.fanout),
            "build": None if self.build is None else asdict(self.build),
        }

    # -- the tables ----------------------------------------------------------------------------------------------

    def markdown(self) -> str:
        sections = [
            f"`{self.command}` · {self.date} · {self.machine} · "
            + ", ".join(f"{name} {v}" for name, v in self.versions.items()),
            "Scenario: N monitors, each with one score below its warning level "
            f"({', '.join(f'{k} {v}' for k, v in THRESHOLDS.items())}, max_age {MAX_AGE}), read from CloudWatch "
            "(one metric per monitor) or from the DynamoDB score table: every tick is the steady state, nothing "
            "changes. Each variant runs in its own fresh process against the embedded moto server; the first tick "
            "of a process is its cold start and is left out of the timing when it ran more than one.",
            "#### AWS calls per steady-state tick\n\n" + self.calls_table(),
            "#### Wall time per tick (our code + moto on loopback, not AWS latency)\n\n" + self.time_table(),
        ]
        if self.replay:
            sections.append("#### Replay (the policy engine alone)\n\n" + self.replay_table())
        if self.imports:
            sections.append("#### Cold import (fresh interpreter per run)\n\n" + self.import_table())
        if any(r.rss for r in self.runs):
            sections.append("#### Peak RSS (fresh process per run, against the moto server)\n\n" + self.rss_table())
        if self.fanout:
            sections.append("#### Fan-out\n\n" + self.fanout_table())
        if self.build:
            sections.append("#### Artefacts (`sam build`)\n\n" + self.build_table())
        cw = self.reference_size("cloudwatch")
        if cw is not None and self.cost("ours", "cloudwatch", cw):
            sections.append(f"#### Cost per model-month, hourly checks, N = {cw:,}\n\n" + self.cost_table(cw))
        return "\n\n".join(sections) + "\n"

    def calls_table(self) -> str:
        rows = []
        for source in ("cloudwatch", "dynamodb"):
            for size in self.sizes(source):
                ours, naive = self.run("ours", source, size), self.run("naive", source, size)
                floor = floor_calls(size, source)
                rows.append(
                    [
                        source,
                        f"{size:,}",
                        _calls(ours),
                        _calls(naive),
                        str(floor),
                        _per(ours, size),
                        _per(naive, size),
                        f"{floor / size:.4f}",
                        _ratio(ours.calls_per_tick if ours and ours.complete else None, floor),
                        _ratio(naive.calls_per_tick if naive and naive.complete else None, _tick_calls(ours)),
                        _operations(ours),
                    ]
                )
        header = ["source", "N", "ours", "naive", "floor", "ours/eval", "naive/eval", "floor/eval"]
        return _table([*header, "ours ÷ floor", "naive ÷ ours", "ours, by operation"], "lrrrrrrrrrl", rows)

    def time_table(self) -> str:
        rows = []
        for source in ("cloudwatch", "dynamodb"):
            for size in self.sizes(source):
                ours, naive = self.run("ours", source, size), self.run("naive", source, size)
                ratio = self.wall_ratio(source, size)
                rows.append(
                    [
                        source,
                        f"{size:,}",
                        "-" if ours is None or not ours.done else f"{ours.done[0].seconds * 1000:,.0f}",
                        _ms(ours),
                        _cpu_ms(ours),
                        _ms(naive),
                        _ratio_text(ratio, ours, naive),
                        _ticks(ours),
                        _ticks(naive),
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
        return _table([*header, "ours ticks", "naive ticks"], "lrrrrrrl", rows)

    def replay_table(self) -> str:
        assert self.replay is not None
        r = self.replay
        row = [f"{r.evaluations:,}", str(r.transitions), f"{r.seconds * 1000:.0f}", f"{r.per_second:,.0f}"]
        return _table(["hourly evaluations (a year)", "transitions", "ms (median of 3)", "evaluations/s"], "r", [row])

    def import_table(self) -> str:
        assert self.imports is not None
        handler, baseline = self.imports
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
        rows.append(
            ["ratio (handler ÷ baseline, medians)", "", f"{handler.median_ms / baseline.median_ms:.2f}", "", ""]
        )
        extra = self.first_invocation_extra()
        ratio = self.cold_start_ratio()
        if extra is not None and ratio is not None:
            size, ms = extra
            what = f"first invocation's extra (ours' cold tick minus a warm tick, CloudWatch, N = {size:,})"
            rows.append([what, "1", f"{ms:.0f}", "", "lazy imports, clients, first connections"])
            rows.append(
                ["cold start ratio ((import + first invocation's extra) ÷ baseline)", "", f"{ratio:.2f}", "", ""]
            )
        return _table(
            ["import", "runs", "median ms", "range ms", "of pandas, numpy, matplotlib, aws_xray_sdk: loaded"],
            "lrrrl",
            rows,
        )

    def rss_table(self) -> str:
        rows = [
            [
                r.source,
                f"{r.size:,}",
                r.variant,
                f"{r.rss.base_mib:.1f}",
                f"{r.rss.imported_mib:.1f}",
                f"{r.rss.peak_mib:.1f}",
            ]
            for r in self.runs
            if r.rss is not None and r.size == max(self.sizes(r.source))
        ]
        return _table(["source", "N", "variant", "start MiB", "after import MiB", "peak MiB"], "lrlr", rows)

    def fanout_table(self) -> str:
        assert self.fanout is not None
        f = self.fanout

        def row(s: ShardRun) -> list[str]:
            return [str(s.shard), f"{s.monitors:,}", str(s.total), f"{s.seconds * 1000:,.0f}", _by_operation(s.calls)]

        shown = f.shards if len(f.shards) <= 12 else [*f.shards[:3], None, *f.shards[-2:]]
        rows = [row(s) if s is not None else ["…", "", "", "", "(every shard: bench.json)"] for s in shown]
        if f.dispatch is not None:
            d = f.dispatch
            dispatch = ["scheduled tick", f"{f.monitors:,}", str(d.total), f"{d.seconds * 1000:,.0f}"]
            rows.insert(0, [*dispatch, _by_operation(d.calls)])
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
        return intro + _table(["shard", "monitors", "calls", "ms", "calls by operation"], "lrrrl", rows)

    def build_table(self) -> str:
        assert self.build is not None
        b = self.build
        if not b.built:
            return f"not built: no {b.directory}/template.yaml (run `make sam-build` first)"
        rows = [[a.name, str(a.files), _size(a.bytes_on_disk), _size(a.zipped_bytes)] for a in b.artefacts]
        total = [sum(a.bytes_on_disk for a in b.artefacts), sum(a.zipped_bytes for a in b.artefacts)]
        rows.append(["**total**", str(sum(a.files for a in b.artefacts)), _size(total[0]), _size(total[1])])
        header = ["artefact", "files", "on disk", "zipped"]
        return f"{b.directory}, built {b.built_at}\n\n" + _table(header, "lr", rows)

    def cost_table(self, size: int) -> str:
        ours, naive = self.cost("ours", "cloudwatch", size), self.cost("naive", "cloudwatch", size)
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
        rows.append(
            ["**per model-month**", f"{ours.per_model:.5f}", "-" if naive is None else f"{naive.per_model:.5f}"]
        )
        rows.append(["one CloudWatch alarm per model, per model-month", f"{cost.alarm_per_model_month():.2f}", ""])
        note = (
            f"USD, us-east-1 list prices as of {cost.PRICES_AS_OF} (in bench/cost.py), no free tier; CloudWatch "
            f"source, {cost.HOURS_PER_MONTH} ticks a month, each as the measured steady-state tick. Lambda duration: "
            f"the tick's measured CPU time + {cost.CALL_LATENCY_SECONDS * 1000:.0f} ms per call (assumed AWS latency), "
            "512 MB arm64. Logs: the bytes the handler wrote per tick. Transitions (rare) are not counted.\n\n"
        )
        return note + _table(["item", "ours USD/month", "naive USD/month"], "lr", rows)


def _size(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.1f} KiB"


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _tick_calls(run: VariantRun | None) -> int | None:
    return run.calls_per_tick if run is not None and run.complete else None


def _calls(run: VariantRun | None) -> str:
    if run is None:
        return "-"
    if run.complete:
        return f"{run.calls_per_tick:,}"
    partial = run.ticks[-1] if run.ticks else None
    if partial is None:
        return "not run"
    done = f" for {partial.evaluated:,} monitors" if partial.evaluated else ""
    return f"stopped at {run.cap_seconds:.0f} s: {partial.total:,}{done}"


def _per(run: VariantRun | None, size: int) -> str:
    if run is None:
        return "-"
    if run.complete and run.calls_per_tick is not None:
        return f"{run.calls_per_tick / size:.4f}"
    partial = run.ticks[-1] if run.ticks else None
    if partial is not None and partial.evaluated:
        return f"({partial.total / partial.evaluated:.4f} over {partial.evaluated:,})"
    return "-"


def _ratio(numerator: int | None, denominator: int | None) -> str:
    if numerator is None or not denominator:
        return "-"
    return f"{numerator / denominator:.2f}"


def _by_operation(calls: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in calls.items())


def _operations(run: VariantRun | None) -> str:
    if run is None:
        return "-"
    if run.complete and run.steady:
        return _by_operation(run.steady[0].calls)
    return "so far: " + _by_operation(run.ticks[-1].calls) if run.ticks else "-"


def _ms(run: VariantRun | None) -> str:
    if run is None:
        return "-"
    if run.complete and run.seconds_per_tick is not None:
        return f"{run.seconds_per_tick * 1000:,.0f}"
    return f"> {run.cap_seconds * 1000:,.0f} (stopped)"


def _ratio_text(ratio: float | None, ours: VariantRun | None, naive: VariantRun | None) -> str:
    if ratio is not None:
        return f"{ratio:.1f}x"
    if ours and naive and ours.complete and not naive.complete and ours.seconds_per_tick:
        return f"> {naive.cap_seconds / ours.seconds_per_tick:.1f}x (naive stopped)"  # a bound, not a measure
    return "-"


def _cpu_ms(run: VariantRun | None) -> str:
    cpu = None if run is None else run.cpu_seconds_per_tick
    return "-" if cpu is None else f"{cpu * 1000:,.0f}"


def _ticks(run: VariantRun | None) -> str:
    if run is None:
        return "-"
    timed = len(run.steady) if run.complete else 0
    return f"{len(run.done)} run, {timed} timed" + ("" if run.complete else ", then stopped")


def _table(header: Sequence[str], align: str, rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table; `align` gives each column's l/r, the last letter repeating for the rest."""
    aligns = [align[min(i, len(align) - 1)] for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in aligns) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def json_line(report: BenchReport) -> str:
    return json.dumps(report.summary(), sort_keys=False)
