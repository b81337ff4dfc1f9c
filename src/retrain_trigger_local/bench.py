"""`make bench`: the evaluator against a naive per-model loop, side by side in one run.

Measures AWS calls per evaluation tick, wall time per tick, cold-start import time and peak RSS. The ticks run on
moto in-process: the times are our code plus moto, never AWS latency. The naive loop is what a hand-wired evaluator
does: for each monitor GetItem its state, Query its latest score, decide with the same `policy.evaluate`, act, and
PutItem the state on every evaluation.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import logging
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib.metadata import version as package_version
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import boto3
from botocore.handlers import BUILTIN_HANDLERS

from retrain_trigger import messages
from retrain_trigger.adapters.actions import AwsActionGateway
from retrain_trigger.config import MonitorConfig, parse_catalog_json
from retrain_trigger.model import ActionRecord, MonitorState, Observation
from retrain_trigger.policy import evaluate, is_due

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, WriteRequestTypeDef
    from mypy_boto3_ssm import SSMClient

# Neither moto, unittest.mock nor the template reader is imported at the top: the RSS child imports this module and
# must hold only what its variant needs. Same root as retrain_trigger_local.template.ROOT.
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SIZES = (100, 1000)
RSS_SIZE = 1000
TICKS = 4  # tick 1: every monitor new; ticks 2..4: nothing changes (the steady state, timed as a median of 3)
IMPORT_RUNS = 5
TICK = timedelta(hours=1)
SCORES_AT = datetime(2024, 8, 9, tzinfo=UTC)  # every monitor's one datapoint; tick k runs k hours later
EVALUATOR_APP = ROOT / "functions" / "evaluator" / "app.py"
MODULE_PATH = (ROOT / "layers" / "retrain_trigger", ROOT / "functions" / "evaluator")

STATE_TABLE = "bench-state"
NAIVE_STATE_TABLE = "bench-naive-state"
SCORE_TABLE = "bench-scores"
CONFIG_PARAMETER = "/bench/monitors"
SSM_ADVANCED_LIMIT = 8192  # bytes of an Advanced-tier parameter's value

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
ACTIONS = frozenset({"Publish", "SendMessage", "PutEvents", "StartPipelineExecution"})

SANDBOX_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_SERVICE_NAME": "retrain-trigger",
    "POWERTOOLS_METRICS_NAMESPACE": "RetrainTrigger",
}


# -- the scenario ----------------------------------------------------------------------------------------------


def monitor_id(index: int) -> str:
    return f"m{index:04d}"


def score(index: int) -> float:
    """Between warning (0.1) and critical (0.2): tick 1 moves every monitor OK -> WARNING with one alert."""
    return round(0.11 + 0.01 * (index % 9), 2)


def catalog_document(size: int) -> dict[str, Any]:
    return {
        # The scores are written once: a week's max_age keeps them fresh (and no no-data alert) for every tick.
        "defaults": {"source": {"type": "dynamodb"}, "critical": 0.2, "reset": 0.15, "warning": 0.1, "max_age": "7d"},
        "monitors": [{"id": monitor_id(i)} for i in range(size)],
    }


@dataclass(frozen=True)
class Stack:
    """The moto resources both variants run against (each keeps its own state table)."""

    size: int
    topic_arn: str
    queue_url: str
    bus_name: str

    @classmethod
    def from_environment(cls, size: int) -> Stack:
        return cls(size, os.environ["ALERT_TOPIC_ARN"], os.environ["RETRAIN_QUEUE_URL"], os.environ["EVENT_BUS_NAME"])

    def environment(self) -> dict[str, str]:
        """The evaluator's settings, as template.yaml's Globals set them."""
        return {
            "STATE_TABLE_NAME": STATE_TABLE,
            "SCORE_TABLE_NAME": SCORE_TABLE,
            "ALERT_TOPIC_ARN": self.topic_arn,
            "RETRAIN_QUEUE_URL": self.queue_url,
            "EVENT_BUS_NAME": self.bus_name,
            "CONFIG_PARAMETER_NAME": CONFIG_PARAMETER,
            # Ticks are an hour apart in production, so each one reads the parameter once.
            "CONFIG_MAX_AGE_SECONDS": "0",
            "TICK_MINUTES": str(int(TICK.total_seconds() // 60)),
        }


def _create_table(dynamodb: DynamoDBClient, name: str, logical_id: str) -> None:
    from retrain_trigger_local.template import resource_properties  # noqa: PLC0415 - see ROOT

    props = resource_properties(logical_id)
    extra: dict[str, Any] = {}
    if "GlobalSecondaryIndexes" in props:
        extra["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    dynamodb.create_table(
        TableName=name,
        KeySchema=props["KeySchema"],
        AttributeDefinitions=props["AttributeDefinitions"],
        BillingMode=props["BillingMode"],
        **extra,
    )


def build_stack(size: int) -> Stack:
    """Tables from template.yaml's own properties, the topic, queue, bus and config, and one score per monitor."""
    session = boto3.session.Session()
    dynamodb = session.client("dynamodb")
    _create_table(dynamodb, STATE_TABLE, "StateTable")
    _create_table(dynamodb, NAIVE_STATE_TABLE, "StateTable")
    _create_table(dynamodb, SCORE_TABLE, "ScoreTable")
    stamp = SCORES_AT.strftime("%Y-%m-%dT%H:%M:%SZ")
    requests: list[WriteRequestTypeDef] = [
        {
            "PutRequest": {
                "Item": {
                    "monitor_id": {"S": monitor_id(i)},
                    "timestamp": {"S": stamp},
                    "drift_score": {"N": str(score(i))},
                }
            }
        }
        for i in range(size)
    ]
    for start in range(0, len(requests), 25):  # BatchWriteItem's limit
        dynamodb.batch_write_item(RequestItems={SCORE_TABLE: requests[start : start + 25]})
    # Over ~500 monitors this document exceeds SSM's 8 KB (Advanced tier) limit; moto does not enforce it.
    session.client("ssm").put_parameter(
        Name=CONFIG_PARAMETER, Value=json.dumps(catalog_document(size)), Type="String", Tier="Advanced"
    )
    topic_arn = session.client("sns").create_topic(Name="bench-alerts")["TopicArn"]
    queue_url = session.client("sqs").create_queue(QueueName="bench-retrain.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    session.client("events").create_event_bus(Name="bench-bus")
    return Stack(size=size, topic_arn=topic_arn, queue_url=queue_url, bus_name="bench-bus")


# -- counting AWS calls ----------------------------------------------------------------------------------------


class CallCounter:
    """Counts every botocore API call ("service.Operation") of every client created while it is installed.

    The adapters build each client from its own boto3 Session (clients.aws_client), so a hook on the default
    session would miss them; botocore registers BUILTIN_HANDLERS on every new session, as moto's own stub does.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the DynamoDB score source queries from a thread pool
        self._counts: Counter[str] = Counter()
        self._active = False

    def _before_call(self, model: Any, **_: Any) -> None:
        if self._active:
            with self._lock:
                self._counts[f"{model.service_model.service_name}.{model.name}"] += 1

    @contextmanager
    def installed(self) -> Iterator[CallCounter]:
        spec = ("before-call", self._before_call)
        BUILTIN_HANDLERS.append(spec)
        self._active = True
        try:
            yield self
        finally:
            self._active = False  # clients made meanwhile keep the handler; it no longer counts
            BUILTIN_HANDLERS.remove(spec)

    def take(self) -> dict[str, int]:
        """The counts since the last take, sorted by name."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        return dict(sorted(counts.items()))


# -- the two variants ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TickOutcome:
    evaluated: int
    transitions: int
    errors: int = 0
    conflicts: int = 0


class Variant(Protocol):
    name: str

    def __call__(self, now: datetime, tick: int) -> TickOutcome: ...


class Evaluator:
    """The real evaluator: the production wiring (settings from the environment) and `evaluate_due_monitors`."""

    name = "evaluator"

    def __init__(self) -> None:
        from retrain_trigger import wiring  # noqa: PLC0415 - the naive loop's process must not import Powertools
        from retrain_trigger.adapters.clients import aws_client  # noqa: PLC0415
        from retrain_trigger.service import evaluate_due_monitors  # noqa: PLC0415

        aws_client.cache_clear()
        wiring.reset()
        for service in ("dynamodb", "ssm", "sns"):
            aws_client(service)  # created before any timing, as the naive loop's are
        self._evaluate = evaluate_due_monitors
        self._deps = wiring.default_deps

    def __call__(self, now: datetime, tick: int) -> TickOutcome:
        report = self._evaluate(now=now, deps=self._deps(owner=f"bench-tick-{tick}"))
        return TickOutcome(
            len(report.results), report.count("transition"), report.count("error"), report.count("conflict")
        )


class NaiveLoop:
    """A hand-wired per-model loop: GetItem, Query, the same `policy.evaluate`, act, PutItem on every evaluation."""

    name = "naive"

    def __init__(self, stack: Stack) -> None:
        session = boto3.session.Session()
        self.dynamodb: DynamoDBClient = session.client("dynamodb")
        self.ssm: SSMClient = session.client("ssm")
        self.actions = AwsActionGateway(
            topic_arn=stack.topic_arn, queue_url=stack.queue_url, bus_name=stack.bus_name, sns=session.client("sns")
        )

    def __call__(self, now: datetime, tick: int) -> TickOutcome:
        catalog = parse_catalog_json(self.ssm.get_parameter(Name=CONFIG_PARAMETER)["Parameter"]["Value"])
        evaluated = transitions = 0
        for monitor in catalog.monitors:
            if not is_due(monitor.every, now, TICK):
                continue
            key: dict[str, AttributeValueTypeDef] = {"pk": {"S": f"monitor#{monitor.id}"}, "sk": {"S": "state"}}
            item = self.dynamodb.get_item(TableName=NAIVE_STATE_TABLE, Key=key, ConsistentRead=True).get("Item")
            state = (
                MonitorState.model_validate_json(str(item["state"]["S"]))
                if item
                else MonitorState(monitor_id=monitor.id)
            )
            decision = evaluate(monitor, state, self._window(monitor), now, catalog.version)
            for action in decision.new_actions:
                self._perform(monitor, decision.state, action, catalog.version)
            self.dynamodb.put_item(
                TableName=NAIVE_STATE_TABLE, Item={**key, "state": {"S": decision.state.model_dump_json()}}
            )
            evaluated += 1
            transitions += decision.outcome == "transition"
        return TickOutcome(evaluated, transitions)

    def _window(self, monitor: MonitorConfig) -> list[Observation]:
        items = self.dynamodb.query(
            TableName=SCORE_TABLE,
            KeyConditionExpression="monitor_id = :id",
            ExpressionAttributeValues={":id": {"S": monitor.id}},
            ScanIndexForward=False,
            Limit=monitor.evaluation_periods,
        )["Items"]
        return [
            Observation.checked(
                monitor.id, datetime.fromisoformat(str(i["timestamp"]["S"])), Decimal(str(i["drift_score"]["N"]))
            )
            for i in items
        ]

    def _perform(self, monitor: MonitorConfig, state: MonitorState, action: ActionRecord, version: str) -> str:
        match action.kind:
            case "sagemaker":
                return self.actions.start_pipeline(messages.pipeline_start(monitor, action))
            case "sqs":
                return self.actions.send_retrain_request(messages.retrain_request(monitor, state, action, version))
            case "eventbridge":
                return self.actions.put_event(messages.bus_event(monitor, state, action, version))
            case "sns":
                return self.actions.publish_alert(messages.alert(monitor, state, action, version))
        raise AssertionError(action.kind)


# -- sandbox ---------------------------------------------------------------------------------------------------


@contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def moto_fast_paths() -> Iterator[None]:
    """Take out two costs moto has and DynamoDB does not, both O(table size) per call, so O(N^2) per tick.

    - Query sorts every item of the table to find one partition; here it reads the partition directly.
    - TransactWriteItems deep-copies every table it touches, to roll back on failure. No transaction may fail in
      the bench's scenario, so the copy is skipped and a failing transaction stops the bench instead. Transactions
      with an Update keep moto's own path.
    The calls made and their results are unchanged: `--moto-as-is` runs without these, slower.
    """
    from unittest.mock import patch  # noqa: PLC0415 - see ROOT

    import moto.dynamodb.models as dynamodb_models  # noqa: PLC0415 - moto internals, only while measuring
    from moto.dynamodb.models.table import Table  # noqa: PLC0415

    backend = dynamodb_models.DynamoDBBackend
    original_transact, original_query, original_all_items = backend.transact_write_items, Table.query, Table.all_items
    local = threading.local()  # moto's server and the score source's pool run calls in threads

    def deepcopy(value: Any, memo: Any = None) -> Any:
        if getattr(local, "transaction", False) and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if any("Update" in item for item in transact_items):
            original_transact(self, transact_items)
            return
        local.transaction = True
        try:
            original_transact(self, transact_items)
        except Exception as error:
            raise RuntimeError("bench: a transaction failed, and its rollback copy was skipped") from error
        finally:
            local.transaction = False

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        local.partition = hash_key if index_name is None and self.range_key_attr else None
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            local.partition = None

    def all_items(self: Any) -> Any:
        partition = getattr(local, "partition", None)
        if partition is None:
            return original_all_items(self)
        return sorted(self.items.get(partition, {}).values(), key=lambda item: item.range_key)

    with (
        patch.object(dynamodb_models, "copy", SimpleNamespace(deepcopy=deepcopy)),
        patch.object(backend, "transact_write_items", transact_write_items),
        patch.object(Table, "query", query),
        patch.object(Table, "all_items", all_items),
    ):
        yield


@contextmanager
def sandbox(size: int, moto_as_is: bool = False) -> Iterator[Stack]:
    """Dummy credentials, moto in-process, a fresh stack of `size` monitors, and the evaluator's settings."""
    from moto import mock_aws  # noqa: PLC0415 - see ROOT

    with patched_environ(SANDBOX_ENV), mock_aws(), nullcontext() if moto_as_is else moto_fast_paths():
        stack = build_stack(size)
        with patched_environ(stack.environment()):
            try:
                yield stack
            finally:
                _forget_clients()


def _forget_clients() -> None:
    """Drop the cached settings and clients, which belong to this sandbox's moto account."""
    from retrain_trigger import wiring  # noqa: PLC0415
    from retrain_trigger.adapters.clients import aws_client  # noqa: PLC0415

    wiring.reset()
    aws_client.cache_clear()


# -- 1 and 2: calls and wall time per tick ---------------------------------------------------------------------


@dataclass(frozen=True)
class TickStats:
    tick: int
    seconds: float
    outcome: TickOutcome
    calls: dict[str, int]

    @property
    def evaluated(self) -> int:
        return self.outcome.evaluated

    @property
    def transitions(self) -> int:
        return self.outcome.transitions

    @property
    def errors(self) -> int:
        return self.outcome.errors

    @property
    def conflicts(self) -> int:
        return self.outcome.conflicts

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def count(self, operations: frozenset[str]) -> int:
        return sum(n for name, n in self.calls.items() if name.split(".", 1)[1] in operations)

    @property
    def writes(self) -> int:
        return self.count(WRITES)

    @property
    def actions(self) -> int:
        return self.count(ACTIONS)


@dataclass(frozen=True)
class VariantRun:
    variant: str
    size: int
    ticks: tuple[TickStats, ...]

    @property
    def first(self) -> TickStats:
        return self.ticks[0]

    @property
    def steady(self) -> tuple[TickStats, ...]:
        return self.ticks[1:]

    @property
    def steady_seconds(self) -> float:
        return statistics.median(t.seconds for t in self.steady)

    def summary(self) -> dict[str, Any]:
        steady = self.steady[0]
        return {
            "variant": self.variant,
            "monitors": self.size,
            "tick1": {"calls": self.first.total, "writes": self.first.writes, "actions": self.first.actions},
            "tick1_calls_by_operation": self.first.calls,
            "steady": {"calls": steady.total, "writes": steady.writes, "actions": steady.actions},
            "steady_calls_by_operation": steady.calls,
            "steady_calls_per_monitor": steady.total / self.size,
            "tick1_ms": self.first.seconds * 1000,
            "steady_median_ms": self.steady_seconds * 1000,
            "ticks": [asdict(t) for t in self.ticks],
        }


def measure_ticks(size: int, ticks: int = TICKS, moto_as_is: bool = False) -> dict[str, VariantRun]:
    """Both variants on one moto account, tick by tick: tick 1 finds every monitor new, later ticks change nothing."""
    if ticks < 2:
        raise ValueError("at least two ticks: one where every monitor is new, one where nothing changes")
    counter = CallCounter()
    results: dict[str, list[TickStats]] = {"evaluator": [], "naive": []}
    with counter.installed(), sandbox(size, moto_as_is) as stack:
        variants: list[Variant] = [Evaluator(), NaiveLoop(stack)]
        for tick in range(1, ticks + 1):
            now = SCORES_AT + tick * TICK
            # Alternate who goes first, so neither always runs on the warmer process.
            for variant in variants if tick % 2 else variants[::-1]:
                counter.take()
                start = time.perf_counter()
                outcome = variant(now, tick)
                seconds = time.perf_counter() - start
                results[variant.name].append(TickStats(tick, seconds, outcome, counter.take()))
    runs = {name: VariantRun(name, size, tuple(stats)) for name, stats in results.items()}
    for run in runs.values():
        _check_scenario(run)
    return runs


def _check_scenario(run: VariantRun) -> None:
    """The numbers mean something only if the scenario ran as designed: every monitor moved once, then never."""
    problems = [
        f"tick {t.tick}: {t.errors} errors, {t.conflicts} conflicts" for t in run.ticks if t.errors or t.conflicts
    ]
    problems += [f"tick {t.tick}: evaluated {t.evaluated} of {run.size}" for t in run.ticks if t.evaluated != run.size]
    if run.first.transitions != run.size:
        problems.append(f"tick 1: {run.first.transitions} transitions, expected {run.size}")
    problems += [f"tick {t.tick}: {t.transitions} transitions, expected 0" for t in run.steady if t.transitions]
    if problems:
        raise RuntimeError(f"bench scenario broken for the {run.variant}: " + "; ".join(problems))


# -- 3: cold-start import time ---------------------------------------------------------------------------------

IMPORT_PROBE = (
    "import time; t = time.perf_counter(); import {module}; s = time.perf_counter() - t; "
    "import sys, json; print(json.dumps({{'seconds': s, 'pandas_loaded': 'pandas' in sys.modules}}))"
)


@dataclass(frozen=True)
class ImportTiming:
    label: str
    module: str
    runs_ms: tuple[float, ...]
    pandas_loaded: bool

    @property
    def median_ms(self) -> float:
        return statistics.median(self.runs_ms)


def _child_env() -> dict[str, str]:
    env = {**os.environ, **SANDBOX_ENV, "PYTHONPATH": os.pathsep.join(str(p) for p in MODULE_PATH)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the warm-up run writes the bytecode the measured runs load
    return env


def import_timing(label: str, module: str, runs: int = IMPORT_RUNS) -> ImportTiming:
    """Median over fresh interpreters, after one discarded run that warms the bytecode and file caches."""
    samples: list[dict[str, Any]] = []
    for _ in range(runs + 1):
        completed = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE.format(module=module)],
            env=_child_env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    measured = samples[1:]
    return ImportTiming(
        label=label,
        module=module,
        runs_ms=tuple(s["seconds"] * 1000 for s in measured),
        pandas_loaded=any(s["pandas_loaded"] for s in measured),
    )


# -- 4: peak RSS ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeakRss:
    variant: str
    size: int
    base_mib: float  # the interpreter, boto3, pydantic and the domain: what both variants import
    imported_mib: float  # after importing the variant (the handler module for the evaluator) and making its clients
    peak_mib: float  # after one tick
    evaluated: int


def _max_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def _load_evaluator_app() -> ModuleType:
    """functions/evaluator/app.py by path, as Lambda loads the handler at a cold start."""
    spec = importlib.util.spec_from_file_location("app", EVALUATOR_APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)
    return module


def rss_child(variant: str, size: int) -> PeakRss:
    """In a fresh process pointed at the moto server (AWS_ENDPOINT_URL): import the variant, then run tick 1."""
    base = _max_rss_mib()
    runner: Variant
    if variant == "evaluator":
        _load_evaluator_app()
        runner = Evaluator()
    else:
        runner = NaiveLoop(Stack.from_environment(size))
    imported = _max_rss_mib()
    outcome = runner(SCORES_AT + TICK, 1)
    peak = _max_rss_mib()
    if (outcome.evaluated, outcome.transitions, outcome.errors, outcome.conflicts) != (size, size, 0, 0):
        raise RuntimeError(f"bench: the {variant}'s tick 1 did not move every monitor once: {outcome}")
    return PeakRss(variant, size, base, imported, peak, outcome.evaluated)


# On Linux an exec'd process keeps the ru_maxrss of the process it was forked from, here this one with moto in it.
# A shell that runs the child as a second command must fork it from its own small image, so the child's peak is its own.
RSS_LAUNCHER = ("/bin/sh", "-c", '"$@"; exit $?', "sh")


@contextmanager
def moto_server(moto_as_is: bool = False) -> Iterator[str]:
    """moto as a server on loopback, in this process, so that the measured child holds no moto of its own."""
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - see ROOT

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    requests_log = logging.getLogger("werkzeug")
    level = requests_log.level
    requests_log.setLevel(logging.WARNING)  # one line per request otherwise
    server.start()
    try:
        with nullcontext() if moto_as_is else moto_fast_paths():
            host, port = server.get_host_and_port()
            yield f"http://{host}:{port}"
    finally:
        server.stop()
        requests_log.setLevel(level)


def peak_rss(variants: Sequence[str], size: int = RSS_SIZE, moto_as_is: bool = False) -> list[PeakRss]:
    """Each variant in its own fresh process, side by side against one seeded moto server."""
    with moto_server(moto_as_is) as endpoint, patched_environ({**SANDBOX_ENV, "AWS_ENDPOINT_URL": endpoint}):
        stack = build_stack(size)
        env = {**_child_env(), **stack.environment(), "AWS_ENDPOINT_URL": endpoint}
        children = [
            subprocess.Popen(
                [
                    *RSS_LAUNCHER,
                    sys.executable,
                    "-m",
                    "retrain_trigger_local.bench",
                    "--rss-child",
                    variant,
                    "--sizes",
                    str(size),
                ],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for variant in variants
        ]
        results = []
        for child in children:
            out, err = child.communicate()
            if child.returncode:
                raise RuntimeError(f"bench: RSS child failed ({child.returncode}):\n{err}")
            results.append(PeakRss(**json.loads(out.strip().splitlines()[-1])))
    return results


# -- report ----------------------------------------------------------------------------------------------------


@dataclass
class BenchReport:
    command: str
    python: str
    date: str
    machine: str
    versions: dict[str, str]
    moto_fast_paths: bool
    runs: list[VariantRun] = field(default_factory=list)
    imports: list[ImportTiming] = field(default_factory=list)
    rss: list[PeakRss] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "python": self.python,
            "date": self.date,
            "machine": self.machine,
            "versions": self.versions,
            "moto_fast_paths": self.moto_fast_paths,
            "calls_and_time": [r.summary() for r in self.runs],
            "imports": [{**asdict(i), "median_ms": i.median_ms} for i in self.imports],
            "peak_rss": [asdict(r) for r in self.rss],
        }

    def markdown(self) -> str:
        steady_ticks = len(self.runs[0].steady) if self.runs else 0
        sections = [
            "## Benchmark: the evaluator vs. a naive per-model loop",
            f"`{self.command}` · Python {self.python} · {self.machine} · {self.date} · "
            + ", ".join(f"{name} {v}" for name, v in self.versions.items()),
            "Scenario: N monitors `m0000`... (`critical 0.2, reset 0.15, warning 0.1`, `every` unset, DynamoDB "
            "scores), each with one score between warning and critical. Tick 1: every monitor is new and moves "
            f"OK -> WARNING with one alert. Ticks 2-{steady_ticks + 1}: nothing changes (steady state).",
            "### AWS calls per evaluation tick\n\n" + self._calls_table(),
            f"### Wall time per tick, on moto in-process (our code + moto, not AWS latency)\n\n{self._time_table()}",
            "### Cold-start import (fresh interpreter per run)\n\n" + self._import_table(),
            "### Peak RSS (fresh process per variant, against a moto server on loopback)\n\n" + self._rss_table(),
            "Notes:\n\n" + "\n".join(f"- {note}" for note in self._notes()),
        ]
        return "\n\n".join(sections) + "\n"

    def _calls_table(self) -> str:
        rows = []
        for run in self.runs:
            first, steady = run.first, run.steady[0]
            rows.append(
                [
                    str(run.size),
                    run.variant,
                    str(first.total),
                    f"{first.total / run.size:.2f}",
                    str(first.writes),
                    str(first.actions),
                    str(steady.total),
                    f"{steady.total / run.size:.2f}",
                    str(steady.writes),
                    ", ".join(f"{name} {n}" for name, n in steady.calls.items()),
                ]
            )
        header = ["N", "variant", "tick 1 calls", "/monitor", "writes", "actions", "steady calls", "/monitor"]
        return _table([*header, "writes", "steady calls by operation"], "rl" + "r" * 7 + "l", rows)

    def _time_table(self) -> str:
        rows = [
            [
                str(run.size),
                run.variant,
                f"{run.first.seconds * 1000:.0f}",
                f"{run.steady_seconds * 1000:.0f}",
                f"{run.steady_seconds * 1e6 / run.size:.0f}",
            ]
            for run in self.runs
        ]
        steady = len(self.runs[0].steady) if self.runs else 0
        return _table(
            ["N", "variant", "tick 1 ms", f"steady ms (median of {steady})", "steady µs/monitor"], "rlr", rows
        )

    def _import_table(self) -> str:
        rows = [
            [
                f"{t.label} (`import {t.module}`)",
                str(len(t.runs_ms)),
                f"{t.median_ms:.0f}",
                f"{min(t.runs_ms):.0f}-{max(t.runs_ms):.0f}",
                "yes" if t.pandas_loaded else "no",
            ]
            for t in self.imports
        ]
        return _table(["module", "runs", "median ms", "range ms", "`pandas` in sys.modules after"], "lrrrl", rows)

    def _rss_table(self) -> str:
        rows = [
            [
                str(r.size),
                r.variant,
                f"{r.base_mib:.1f}",
                f"{r.imported_mib:.1f}",
                f"{r.peak_mib:.1f}",
                f"{r.peak_mib - r.base_mib:.1f}",
            ]
            for r in self.rss
        ]
        header = ["N", "variant", "base MiB", "after import MiB", "after tick 1 MiB (peak)", "variant's own MiB"]
        return _table(header, "rlr", rows)

    def _notes(self) -> list[str]:
        notes = [
            "Calls: every botocore API call during the tick, counted by a `before-call` hook on every session. "
            "Writes: PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems. Actions: Publish, "
            "SendMessage, PutEvents, StartPipelineExecution (here one SNS alert per monitor on tick 1).",
            "Evaluator, tick 1: one conditional TransactWriteItems (state + history) per transition, and one more "
            "that records the alert as sent and releases the action lease. Steady ticks read and write nothing else.",
            "Both variants read the config once per tick (the evaluator's Powertools cache is set to 0 s: ticks are an "
            "hour apart in production). The naive loop reads states with consistent GetItem, the evaluator with "
            "BatchGetItem (100 keys a call); both Query each monitor's latest score.",
            "Import: the median of fresh interpreters after one discarded warm-up run; interpreter start-up excluded. "
            "The evaluator is functions/evaluator/app.py with PYTHONPATH=layers/retrain_trigger:functions/evaluator.",
            "RSS: ru_maxrss of a fresh process that talks to a moto server on loopback, so it holds no moto. Base: "
            "the interpreter, boto3, pydantic and the domain, which both variants import; then the variant's import "
            "(for the evaluator, its handler module with Powertools) and clients; then tick 1, every monitor new.",
        ]
        if self.moto_fast_paths:
            notes.append(
                "moto fast paths on: its Query reads one partition instead of sorting the whole table, and its "
                "TransactWriteItems skips the deep copy of the table it keeps for rollback (both O(table) per call "
                "on moto only). Call counts are the same with `--moto-as-is`."
            )
        for size in sorted({r.size for r in self.runs} | {r.size for r in self.rss}):
            length = len(json.dumps(catalog_document(size)))
            if length > SSM_ADVANCED_LIMIT:
                notes.append(
                    f"The config of N={size} is {length / 1024:.1f} KiB of JSON: more than an SSM parameter holds "
                    f"(4 KiB Standard, 8 KiB Advanced). moto does not enforce the limit."
                )
                break
        return notes


def _table(header: Sequence[str], align: str, rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table; `align` gives each column's l/r, the last letter repeating for the rest."""
    aligns = [align[min(i, len(align) - 1)] for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in aligns) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def command_line(argv: Sequence[str]) -> str:
    executable = Path(sys.executable)
    shown = os.path.relpath(executable, Path.cwd()) if executable.is_relative_to(Path.cwd()) else str(executable)
    return shlex.join([shown, "-m", "retrain_trigger_local.bench", *argv])


def _versions() -> dict[str, str]:
    return {name: package_version(name) for name in ("moto", "boto3", "pydantic", "aws-lambda-powertools")}


@dataclass(frozen=True)
class Options:
    sizes: tuple[int, ...] = DEFAULT_SIZES
    ticks: int = TICKS
    import_runs: int = IMPORT_RUNS
    rss_size: int = RSS_SIZE
    moto_as_is: bool = False


def run(options: Options, argv: Sequence[str], log: TextIO = sys.stderr) -> BenchReport:
    report = BenchReport(
        command=command_line(argv),
        python=platform.python_version(),
        date=datetime.now(UTC).date().isoformat(),
        machine=f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        versions=_versions(),
        moto_fast_paths=not options.moto_as_is,
    )
    for size in options.sizes:
        print(f"bench: AWS calls and wall time, N={size}", file=log, flush=True)
        runs = measure_ticks(size, options.ticks, options.moto_as_is)
        report.runs += [runs["evaluator"], runs["naive"]]
    print("bench: cold-start imports", file=log, flush=True)
    report.imports = [
        import_timing("evaluator handler", "app", options.import_runs),
        import_timing("baseline: pandas", "pandas", options.import_runs),
        import_timing("evaluator handler, were it to import pandas", "app, pandas", options.import_runs),
    ]
    print(f"bench: peak RSS, N={options.rss_size}", file=log, flush=True)
    report.rss = peak_rss(("evaluator", "naive"), options.rss_size, options.moto_as_is)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="retrain_trigger_local.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="monitor counts")
    parser.add_argument("--ticks", type=int, default=TICKS, help="ticks per size: 1 all new, the rest unchanged")
    parser.add_argument("--import-runs", type=int, default=IMPORT_RUNS, help="fresh interpreters per import")
    parser.add_argument("--rss-size", type=int, default=RSS_SIZE, help="monitors in the peak RSS tick")
    parser.add_argument("--moto-as-is", action="store_true", help="keep moto's O(table) Query and transaction copy")
    parser.add_argument("--out", type=Path, default=Path("demo-output"), help="directory of bench.json")
    parser.add_argument("--rss-child", choices=("evaluator", "naive"), help=argparse.SUPPRESS)
    args = parser.parse_args(args_list)
    if args.ticks < 2 or min(args.sizes) < 1:
        parser.error("--ticks must be at least 2 and every size at least 1")

    if args.rss_child:
        print(json.dumps(asdict(rss_child(args.rss_child, args.sizes[0]))))
        return 0
    options = Options(tuple(args.sizes), args.ticks, args.import_runs, args.rss_size, args.moto_as_is)
    report = run(options, args_list)
    print(report.markdown())
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
