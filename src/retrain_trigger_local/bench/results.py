"""What one bench run measured, and where to find a run in it: the report that figures, tables and JSON read."""

from __future__ import annotations

from dataclasses import dataclass, field

from retrain_trigger_local.bench.artefacts import BuildSizes
from retrain_trigger_local.bench.coldstart import ColdStartComparison
from retrain_trigger_local.bench.drift import DriftSpeed
from retrain_trigger_local.bench.fanout import Fanout
from retrain_trigger_local.bench.imports import ImportTiming
from retrain_trigger_local.bench.replay import ReplayRate
from retrain_trigger_local.bench.scenario import Source
from retrain_trigger_local.bench.ticks import VariantRun

REFERENCE_SIZE = 1000  # the JSON line's figures are at this N (or the largest measured below it)


@dataclass
class BenchReport:
    command: str
    date: str
    machine: str
    versions: dict[str, str]
    runs: list[VariantRun] = field(default_factory=list)  # ours and naive, per source and size
    replay: ReplayRate | None = None
    imports: tuple[ImportTiming, ImportTiming] | None = None  # (handler, baseline)
    cold_start: ColdStartComparison | None = None  # the headline: ours vs a minimal handler, import + first tick
    fanout: Fanout | None = None
    build: BuildSizes | None = None
    drift: DriftSpeed | None = None  # score (profile + chunks) against scipy.stats per column

    def run(self, variant: str, source: Source, size: int) -> VariantRun | None:
        return next((r for r in self.runs if (r.variant, r.source, r.size) == (variant, source, size)), None)

    def sizes(self, source: Source) -> list[int]:
        return sorted({r.size for r in self.runs if r.source == source})

    def reference_size(self, source: Source = "cloudwatch") -> int | None:
        sizes = [n for n in self.sizes(source) if n <= REFERENCE_SIZE]
        return max(sizes) if sizes else None
