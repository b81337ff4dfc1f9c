"""The cells of the bench's tables: numbers, ratios and calls as the tables print them."""

from __future__ import annotations

from collections.abc import Sequence

from retrain_trigger_local.bench.ticks import VariantRun


def size_label(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.1f} KiB"


def tick_calls(run: VariantRun | None) -> int | None:
    return run.calls_per_tick if run is not None and run.complete else None


def calls_cell(run: VariantRun | None) -> str:
    if run is None:
        return "-"
    if run.complete:
        return f"{run.calls_per_tick:,}"
    partial = run.ticks[-1] if run.ticks else None
    if partial is None:
        return "not run"
    done = f" for {partial.evaluated:,} monitors" if partial.evaluated else ""
    return f"stopped at {run.cap_seconds:.0f} s: {partial.total:,}{done}"


def per_monitor(run: VariantRun | None, size: int) -> str:
    if run is None:
        return "-"
    if run.complete and run.calls_per_tick is not None:
        return f"{run.calls_per_tick / size:.4f}"
    partial = run.ticks[-1] if run.ticks else None
    if partial is not None and partial.evaluated:
        return f"({partial.total / partial.evaluated:.4f} over {partial.evaluated:,})"
    return "-"


def ratio_cell(numerator: int | None, denominator: int | None) -> str:
    if numerator is None or not denominator:
        return "-"
    return f"{numerator / denominator:.2f}"


def by_operation(calls: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in calls.items())


def operations_cell(run: VariantRun | None) -> str:
    if run is None:
        return "-"
    if run.complete and run.steady:
        return by_operation(run.steady[0].calls)
    return "so far: " + by_operation(run.ticks[-1].calls) if run.ticks else "-"


def ms_cell(run: VariantRun | None) -> str:
    if run is None:
        return "-"
    if run.complete and run.seconds_per_tick is not None:
        return f"{run.seconds_per_tick * 1000:,.0f}"
    return f"> {run.cap_seconds * 1000:,.0f} (stopped)"


def ratio_text(ratio: float | None, ours: VariantRun | None, naive: VariantRun | None) -> str:
    if ratio is not None:
        return f"{ratio:.1f}x"
    if ours and naive and ours.complete and not naive.complete and ours.seconds_per_tick:
        return f"> {naive.cap_seconds / ours.seconds_per_tick:.1f}x (naive stopped)"  # a bound, not a measure
    return "-"


def cpu_ms_cell(run: VariantRun | None) -> str:
    cpu = None if run is None else run.cpu_seconds_per_tick
    return "-" if cpu is None else f"{cpu * 1000:,.0f}"


def ticks_cell(run: VariantRun | None) -> str:
    if run is None:
        return "-"
    timed = len(run.steady) if run.complete else 0
    return f"{len(run.done)} run, {timed} timed" + ("" if run.complete else ", then stopped")


def markdown_table(header: Sequence[str], align: str, rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table; `align` gives each column's l/r, the last letter repeating for the rest."""
    aligns = [align[min(i, len(align) - 1)] for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in aligns) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
