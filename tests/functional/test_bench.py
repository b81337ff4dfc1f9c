"""`make bench` at small N: what it counts is what the evaluator and the naive loop do. Call counts, never timings.

The ticks run as the bench runs them: each variant in a fresh process against the embedded moto server.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator

import pytest

from retrain_trigger_local.bench import cost
from retrain_trigger_local.bench.fanout import measure_fanout
from retrain_trigger_local.bench.floor import floor_calls
from retrain_trigger_local.bench.imports import BASELINE, HANDLER, ImportTiming, probe
from retrain_trigger_local.bench.replay import replay_rate
from retrain_trigger_local.bench.report import BenchReport, json_line
from retrain_trigger_local.bench.scenario import seed
from retrain_trigger_local.bench.ticks import VariantRun, check_steady, run_variant
from retrain_trigger_local.bench.windows import windows_available
from retrain_trigger_local.moto_server import MotoServer

MONITORS = 150  # more than one BatchGetItem of states (100 keys), less than one GetMetricData (500 queries)
CAP = 120.0
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    with MotoServer() as running:
        yield running


@pytest.fixture(scope="module")
def cloudwatch_runs(server: MotoServer) -> dict[str, VariantRun]:
    server.reset()
    world = seed(server.endpoint_url, "cloudwatch", range(MONITORS))
    return {
        "ours": run_variant(world, "ours", ticks=2, cap_seconds=CAP),
        "naive": run_variant(world, "naive", ticks=1, cap_seconds=CAP),
    }


@pytest.fixture(scope="module")
def dynamodb_runs(server: MotoServer) -> dict[str, VariantRun]:
    server.reset()
    world = seed(server.endpoint_url, "dynamodb", range(MONITORS))
    return {
        "ours": run_variant(world, "ours", ticks=1, cap_seconds=CAP),
        "naive": run_variant(world, "naive", ticks=1, cap_seconds=CAP),
    }


def _operation(run: VariantRun, name: str) -> int:
    return run.steady[0].calls.get(name, 0)


def test_floor_is_score_windows_plus_state_batches_plus_one_config_read() -> None:
    assert floor_calls(1000, "cloudwatch") == 2 + 10 + 1
    assert floor_calls(1000, "dynamodb") == 10 + 10 + 1
    assert floor_calls(1, "cloudwatch") == floor_calls(1, "dynamodb") == 3
    assert floor_calls(501, "cloudwatch") == 2 + 6 + 1
    assert floor_calls(100_000, "dynamodb") == 1000 + 1000 + 1
    with pytest.raises(ValueError, match="at least one"):
        floor_calls(0, "cloudwatch")


def test_every_monitor_is_evaluated_by_the_real_handler_and_stays_unchanged(
    cloudwatch_runs: dict[str, VariantRun], dynamodb_runs: dict[str, VariantRun]
) -> None:
    for run in (*cloudwatch_runs.values(), *dynamodb_runs.values()):
        assert run.complete, run.ticks
        check_steady(run)  # raises unless every monitor was evaluated, nothing changed and nothing failed
    assert [t.outcomes for t in cloudwatch_runs["ours"].ticks] == [{"unchanged": MONITORS}] * 2


def test_ours_reads_cloudwatch_scores_500_queries_a_call_and_states_100_keys_a_call(
    cloudwatch_runs: dict[str, VariantRun],
) -> None:
    ours = cloudwatch_runs["ours"]
    assert _operation(ours, "cloudwatch.GetMetricData") == math.ceil(MONITORS / 500)
    assert _operation(ours, "dynamodb.BatchGetItem") == math.ceil(MONITORS / 100)
    assert ours.calls_per_tick is not None
    assert ours.calls_per_tick <= 1.5 * floor_calls(MONITORS, "cloudwatch")


def test_ours_reads_dynamodb_score_windows_100_keys_a_call_where_the_build_has_them(
    dynamodb_runs: dict[str, VariantRun],
) -> None:
    if not windows_available():
        pytest.skip("this checkout has no score window table: the DynamoDB source reads one Query per monitor")
    ours = dynamodb_runs["ours"]
    # windows and states: 100 keys a call each, and no Query per monitor
    assert _operation(ours, "dynamodb.BatchGetItem") == 2 * math.ceil(MONITORS / 100)
    assert _operation(ours, "dynamodb.Query") < MONITORS / 100
    assert ours.calls_per_tick is not None
    assert ours.calls_per_tick <= 1.5 * floor_calls(MONITORS, "dynamodb")


def test_ours_writes_nothing_and_repeats_the_same_calls_when_nothing_changes(
    cloudwatch_runs: dict[str, VariantRun], dynamodb_runs: dict[str, VariantRun]
) -> None:
    for run in (cloudwatch_runs["ours"], dynamodb_runs["ours"]):
        assert not [name for name in run.ticks[0].calls if name.split(".")[1] in WRITES], run.ticks[0].calls
    first, second = cloudwatch_runs["ours"].ticks
    assert first.calls == second.calls


def test_naive_loop_reads_the_score_and_the_state_and_writes_the_state_per_monitor(
    cloudwatch_runs: dict[str, VariantRun], dynamodb_runs: dict[str, VariantRun]
) -> None:
    per_monitor = {"dynamodb.GetItem": MONITORS, "dynamodb.PutItem": MONITORS, "s3.GetObject": 1}
    assert cloudwatch_runs["naive"].steady[0].calls == {**per_monitor, "cloudwatch.GetMetricData": MONITORS}
    assert dynamodb_runs["naive"].steady[0].calls == {**per_monitor, "dynamodb.Query": MONITORS}


def test_ours_makes_fewer_calls_than_the_naive_loop_with_either_source(
    cloudwatch_runs: dict[str, VariantRun], dynamodb_runs: dict[str, VariantRun]
) -> None:
    for runs in (cloudwatch_runs, dynamodb_runs):
        ours, naive = runs["ours"].calls_per_tick, runs["naive"].calls_per_tick
        assert ours is not None and naive is not None
        assert ours < naive


def test_a_run_past_its_cap_is_reported_as_stopped_never_as_done(server: MotoServer) -> None:
    server.reset()
    world = seed(server.endpoint_url, "dynamodb", range(MONITORS))
    run = run_variant(world, "naive", ticks=2, cap_seconds=0.5)  # the naive loop needs seconds for 150 monitors
    assert not run.complete
    assert run.calls_per_tick is None and run.seconds_per_tick is None
    report = BenchReport("bench", "2024-08-09", "test", {}, runs=[run])
    assert "stopped at 0 s" in report.calls_table()
    assert json.loads(json_line(report))["ddb_calls_per_eval_naive"] is None  # not a figure it did not finish


def test_each_run_reports_its_own_peak_rss(cloudwatch_runs: dict[str, VariantRun]) -> None:
    for run in cloudwatch_runs.values():
        assert run.rss is not None
        assert 0 < run.rss.base_mib <= run.rss.imported_mib <= run.rss.peak_mib


def test_naive_loop_imports_the_engine_but_never_the_service() -> None:
    probe = (
        "import sys, json, retrain_trigger_local.bench.naive\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('retrain_trigger.'))))"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(json.loads(completed.stdout))
    assert "retrain_trigger.policy" in loaded  # the same engine: the probe can see what the loop imports
    assert not {m for m in loaded if m.split(".")[1] in {"service", "wiring", "adapters", "outbox", "messages"}}


def test_handler_import_probe_sees_pandas_only_when_it_is_imported() -> None:
    assert not {"pandas", "numpy"} & set(probe(HANDLER).loaded)
    assert "pandas" in probe("import pandas").loaded


def test_fanout_shards_cover_the_fleet_and_each_reads_at_the_floor(server: MotoServer) -> None:
    fanout = measure_fanout(server, monitors=250, shard_size=100, source="cloudwatch", cap_seconds=CAP)
    assert fanout.complete
    assert [s.monitors for s in fanout.shards] == [100, 100, 50]
    for shard in fanout.shards:
        assert shard.calls["cloudwatch.GetMetricData"] == 1
        assert shard.calls["dynamodb.BatchGetItem"] == math.ceil(shard.monitors / 100)
    dispatch = fanout.dispatch
    assert fanout.total_calls == (dispatch.total if dispatch else 0) + sum(s.total for s in fanout.shards)
    if dispatch is not None:  # the evaluator's own fan-out: the scheduled tick sends the shards and reads no score
        assert dispatch.calls.get("sqs.SendMessageBatch") == 1  # three shards, ten a batch
        assert "cloudwatch.GetMetricData" not in dispatch.calls


def test_cost_prices_each_counted_call_and_refuses_an_unpriced_one() -> None:
    tick = cost.per_tick_items(
        {"cloudwatch.GetMetricData": 2, "dynamodb.BatchGetItem": 10, "s3.GetObject": 1}, 1000, 0.0, 0.0
    )
    assert tick["cloudwatch GetMetricData"] == pytest.approx(1000 * cost.PRICE["getmetricdata_metric"])
    assert tick["dynamodb BatchGetItem"] == pytest.approx(10 * 100 * cost.PRICE["dynamodb_read_unit"])
    assert tick["lambda duration"] == pytest.approx(
        13 * cost.CALL_LATENCY_SECONDS * cost.MEMORY_GB * cost.PRICE["lambda_gb_second_arm64"]
    )
    with pytest.raises(ValueError, match="no price"):
        cost.per_tick_items({"kinesis.PutRecord": 1}, 0, 0.0, 0.0)


def test_report_tables_and_json_line_carry_every_required_figure(
    cloudwatch_runs: dict[str, VariantRun], dynamodb_runs: dict[str, VariantRun]
) -> None:
    report = BenchReport(
        command="make bench QUICK=1",
        date="2024-08-09",
        machine="test",
        versions={},
        runs=[*cloudwatch_runs.values(), *dynamodb_runs.values()],
        replay=replay_rate(hours=48, runs=1),
        imports=(
            ImportTiming("evaluator handler", HANDLER, (110.0, 120.0, 130.0), ()),
            ImportTiming("baseline", BASELINE, (90.0, 100.0, 110.0), ()),
        ),
    )
    line = json.loads(json_line(report))
    required = {
        "calls_per_eval_ours",
        "calls_per_eval_naive",
        "calls_per_eval_floor",
        "wall_ratio_naive_over_ours",
        "import_ratio",
        "pandas_loaded",
        "peak_rss_mb_10k",
        "cost_per_model_month_usd",
        "ddb_calls_per_eval_ours",
        "ddb_calls_per_eval_floor",
    }
    assert required <= set(line)
    assert line["monitors"] == MONITORS
    ours_calls = cloudwatch_runs["ours"].calls_per_tick
    assert ours_calls is not None
    assert line["calls_per_eval_ours"] == round(ours_calls / MONITORS, 4)
    assert line["calls_per_eval_floor"] == round(floor_calls(MONITORS, "cloudwatch") / MONITORS, 4)
    assert line["import_ratio"] == 1.2
    cold, warm = cloudwatch_runs["ours"].ticks  # what the first invocation pays on top of the import counts too
    assert line["cold_start_ratio"] == round((120.0 + (cold.seconds - warm.seconds) * 1000) / 100.0, 3)
    assert line["pandas_loaded"] is False
    assert line["peak_rss_mb_10k"] is None  # no 10,000-monitor run here: said, not invented
    text = report.markdown()
    assert f"| cloudwatch | {MONITORS} | {ours_calls} | {cloudwatch_runs['naive'].calls_per_tick} |" in text
    assert "#### Cold import" in text
