"""Fan-out: a fleet too big for one invocation, split into shards, each shard's calls and time, and the total.

Where the evaluator has its fan-out (SHARD_QUEUE_URL, issue 9): the scheduled invocation, configured with the whole
fleet, sends its shards to the queue; the bench reads them back and gives each to the handler as the queue's event
source would (one shard an invocation). Without it, the bench splits the catalog itself: shard k is a configuration
holding only its monitors, given to the handler as a scheduled tick.

Either way each shard runs in a fresh process against a moto account holding the configuration and only that
shard's scores (the server is reset between shards): moto's GetMetricData and Query scan everything they hold, per
query, which AWS does not, so a shared 100,000-monitor account would measure moto, not the evaluator.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from retrain_trigger_local.bench.scenario import Source, World
from retrain_trigger_local.bench.seeding import seed
from retrain_trigger_local.bench.ticks import VariantRun, WarmContainer, check_steady, run_variant
from retrain_trigger_local.moto_server import MotoServer
from retrain_trigger_local.runtime import ACCOUNT_ID, REGION, SANDBOX_ENV

FANOUT_MONITORS = 100_000
FANOUT_CAP_SECONDS = 360.0  # the whole 100,000 takes about 4 minutes on moto, on 2 cores


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
    dispatch: ShardRun | None = None  # the scheduled invocation that sent the shards (the evaluator's fan-out)

    @property
    def planned(self) -> int:
        return -(-self.monitors // self.shard_size)

    @property
    def complete(self) -> bool:
        return len(self.shards) == self.planned

    @property
    def total_calls(self) -> int:
        return sum(s.total for s in self.shards) + (self.dispatch.total if self.dispatch else 0)

    @property
    def total_seconds(self) -> float:
        return sum(s.seconds for s in self.shards) + (self.dispatch.seconds if self.dispatch else 0.0)

    @property
    def evaluated(self) -> int:
        return sum(s.monitors for s in self.shards)


def has_fanout_entry_point() -> bool:
    """The evaluator's own fan-out: its settings take a shard queue and its layer encodes shards."""
    import importlib.util  # noqa: PLC0415

    from retrain_trigger.settings import Settings  # noqa: PLC0415

    return "shard_queue_url" in Settings.model_fields and importlib.util.find_spec("retrain_trigger.shards") is not None


def measure_fanout(
    server: MotoServer,
    monitors: int = FANOUT_MONITORS,
    shard_size: int | None = None,
    source: Source = "cloudwatch",
    cap_seconds: float = FANOUT_CAP_SECONDS,
    say: Callable[[str], None] = lambda _: None,
) -> Fanout:
    """Shards in order until every one ran or the cap passed (the report says which)."""
    size = shard_size or default_shard_size()
    if has_fanout_entry_point():
        return _through_the_queue(server, monitors, size, source, cap_seconds, say)
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
        say(f"fan-out: shard {shard}: {tick.total} calls, {tick.seconds:.1f} s")
    return result


def _through_the_queue(
    server: MotoServer, monitors: int, size: int, source: Source, cap_seconds: float, say: Callable[[str], None]
) -> Fanout:
    entry = "the evaluator's own fan-out (the scheduled tick sends the shards to the queue)"
    result = Fanout(monitors, size, source, cap_seconds, entry)
    began = time.perf_counter()
    fleet = range(monitors)
    server.reset()
    world = seed(server.endpoint_url, source, (), configured=fleet, shard_queue=True)
    env = {"SHARD_SIZE": str(size)}
    dispatch = _one(run_variant(world, "ours", 1, cap_seconds, extra_env=env), "the scheduled tick")
    result.dispatch = ShardRun(-1, 0, dispatch.calls, dispatch.seconds)
    messages = _drain(world)
    say(f"fan-out: the scheduled tick sent {len(messages)} shards ({dispatch.total} calls, {dispatch.seconds:.1f} s)")
    container: WarmContainer | None = None
    try:
        for shard, message in enumerate(sorted(messages, key=lambda m: json.loads(m["Body"])["due"][:1])):
            remaining = cap_seconds - (time.perf_counter() - began)
            if remaining <= 0:
                break
            due = json.loads(message["Body"])["due"]
            server.reset()
            indexes = [int(i[1:]) for i in due]
            shard_world = seed(server.endpoint_url, source, indexes, configured=fleet, shard_queue=True)
            container = container or WarmContainer(shard_world, env)
            try:
                tick = container.invoke(_sqs_event(message), remaining)
            except TimeoutError:
                container = None  # stopped by invoke
                break
            if tick.errors:
                raise RuntimeError(f"bench: fan-out, shard {shard} failed: {tick}")
            result.shards.append(ShardRun(shard, len(due), tick.calls, tick.seconds))
            say(f"fan-out: shard {shard}: {tick.total} calls, {tick.seconds:.1f} s")
    finally:
        if container is not None:
            container.close()
    return result


def _one(run: VariantRun, what: str) -> Any:
    if not run.complete or run.ticks[0].errors:
        raise RuntimeError(f"bench: fan-out, {what}: {run.ticks}")
    return run.ticks[0]


def _drain(world: World) -> list[dict[str, Any]]:
    sqs = boto3.session.Session(
        aws_access_key_id=SANDBOX_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=SANDBOX_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    ).client("sqs", endpoint_url=world.endpoint)
    messages: list[dict[str, Any]] = []
    while True:
        page = sqs.receive_message(
            QueueUrl=world.shard_queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
        )
        if not page.get("Messages"):
            return messages
        messages += [dict(m) for m in page["Messages"]]


def _sqs_event(message: dict[str, Any]) -> dict[str, Any]:
    """One message as Lambda's SQS event source delivers it."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:bench-shards",
                "awsRegion": REGION,
            }
        ]
    }
