"""Fan-out: a fleet too big for one invocation, split into shards, each shard's calls and time, and the total.

The evaluator has no fan-out entry point yet (issue 9's SQS shards are being built), so the bench splits the
catalog itself: shard k is a configuration holding only its monitors, evaluated by the real handler in a fresh
process, one invocation per shard. Each shard runs against a moto account that holds only its own monitors (the
server is reset between shards): moto's GetMetricData and Query scan everything they hold, per query, which AWS does
not, so a shared 100,000-monitor account would measure moto, not the evaluator. The calls are the handler's own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from retrain_trigger_local.bench.scenario import Source, seed
from retrain_trigger_local.bench.ticks import check_steady, run_variant
from retrain_trigger_local.moto_server import MotoServer

FANOUT_MONITORS = 100_000
FANOUT_CAP_SECONDS = 240.0


def default_shard_size() -> int:
    """The evaluator's own SHARD_SIZE default where its settings have one."""
    from retrain_trigger.settings import Settings  # noqa: PLC0415

    shard = Settings.model_fields.get("shard_size")
    return int(shard.default) if shard is not None and isinstance(shard.default, int) else 2000


@dataclass(frozen=True)
class ShardRun:
    shard: int
    monitors: int
    calls: dict[str, int]
    seconds: float

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@dataclass
class Fanout:
    monitors: int
    shard_size: int
    source: Source
    cap_seconds: float
    entry_point: str  # how the shards were made
    shards: list[ShardRun] = field(default_factory=list)

    @property
    def planned(self) -> int:
        return -(-self.monitors // self.shard_size)

    @property
    def complete(self) -> bool:
        return len(self.shards) == self.planned

    @property
    def total_calls(self) -> int:
        return sum(s.total for s in self.shards)

    @property
    def total_seconds(self) -> float:
        return sum(s.seconds for s in self.shards)

    @property
    def evaluated(self) -> int:
        return sum(s.monitors for s in self.shards)


def measure_fanout(
    server: MotoServer,
    monitors: int = FANOUT_MONITORS,
    shard_size: int | None = None,
    source: Source = "cloudwatch",
    cap_seconds: float = FANOUT_CAP_SECONDS,
) -> Fanout:
    """Shards in order until every one ran or the cap passed (the report says which)."""
    size = shard_size or default_shard_size()
    result = Fanout(monitors, size, source, cap_seconds, "catalog split by the bench (no fan-out entry point yet)")
    began = time.perf_counter()
    for shard, first in enumerate(range(0, monitors, size)):
        remaining = cap_seconds - (time.perf_counter() - began)
        if remaining <= 0:
            break
        server.reset()
        world = seed(server.endpoint_url, source, range(first, min(first + size, monitors)))
        run = run_variant(world, "ours", ticks=1, cap_seconds=remaining)
        if not run.complete:
            break
        check_steady(run)
        tick = run.ticks[0]
        result.shards.append(ShardRun(shard, world.size, tick.calls, tick.seconds))
    return result
