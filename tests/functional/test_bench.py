"""`make bench`'s measurements on tiny sizes: its counts agree with each other and with the design. No timing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrain_trigger_local import bench

MONITORS = 50


@pytest.fixture(scope="module")
def runs() -> dict[str, bench.VariantRun]:
    return bench.measure_ticks(MONITORS, ticks=3)


def test_batched_evaluator_makes_fewer_calls_than_the_naive_loop_once_states_exist(
    runs: dict[str, bench.VariantRun],
) -> None:
    for evaluator_tick, naive_tick in zip(runs["evaluator"].steady, runs["naive"].steady, strict=True):
        assert evaluator_tick.total < naive_tick.total


def test_unchanged_states_cause_no_writes_and_no_alerts(runs: dict[str, bench.VariantRun]) -> None:
    for tick in runs["evaluator"].steady:
        assert (tick.writes, tick.actions) == (0, 0), tick.calls


def test_naive_loop_writes_every_state_on_every_tick(runs: dict[str, bench.VariantRun]) -> None:
    assert [tick.calls.get("dynamodb.PutItem") for tick in runs["naive"].ticks] == [MONITORS] * 3


def test_both_variants_alert_each_new_monitor_once_and_never_again(runs: dict[str, bench.VariantRun]) -> None:
    for run in runs.values():
        assert run.first.calls.get("sns.Publish") == MONITORS
        assert all("sns.Publish" not in tick.calls for tick in run.steady)


def test_evaluator_commits_each_transition_at_least_once_and_at_most_twice(runs: dict[str, bench.VariantRun]) -> None:
    first = runs["evaluator"].first
    assert first.transitions == MONITORS
    # the transition, then the alert's result (which also gives the lease back): exactly once costs two writes
    assert MONITORS <= first.writes <= 2 * MONITORS


def test_steady_ticks_repeat_the_same_calls(runs: dict[str, bench.VariantRun]) -> None:
    for run in runs.values():
        assert all(tick.calls == run.steady[0].calls for tick in run.steady)


def test_evaluator_reads_states_in_batches_of_100_and_one_score_query_per_monitor() -> None:
    steady = bench.measure_ticks(150, ticks=2)["evaluator"].steady[0]
    # 150 score queries, and one on the ByPendingAction index for outboxes with actions waiting
    assert steady.calls == {"dynamodb.BatchGetItem": 2, "dynamodb.Query": 151, "ssm.GetParameter": 1}


def test_moto_fast_paths_do_not_change_the_calls_made() -> None:
    fast = bench.measure_ticks(12, ticks=2)
    as_is = bench.measure_ticks(12, ticks=2, moto_as_is=True)
    for variant in ("evaluator", "naive"):
        assert [t.calls for t in fast[variant].ticks] == [t.calls for t in as_is[variant].ticks]


def test_evaluator_handler_imports_without_pandas() -> None:
    assert bench.import_timing("evaluator handler", "app", runs=1).pandas_loaded is False
    # The probe does see pandas when it is imported, so the check above can fail.
    assert bench.import_timing("baseline", "pandas", runs=1).pandas_loaded is True


def test_peak_rss_children_import_their_variant_and_run_one_tick() -> None:
    results = bench.peak_rss(("evaluator", "naive"), size=10)
    assert [(r.variant, r.evaluated) for r in results] == [("evaluator", 10), ("naive", 10)]
    assert all(0 < r.base_mib <= r.imported_mib <= r.peak_mib for r in results)


def test_report_has_a_row_per_variant_and_size_and_round_trips_as_json(runs: dict[str, bench.VariantRun]) -> None:
    report = bench.BenchReport(
        command="bench",
        python="3.11",
        date="2024-08-09",
        machine="test",
        versions={},
        moto_fast_paths=True,
        runs=[runs["evaluator"], runs["naive"]],
        imports=[bench.ImportTiming("evaluator handler", "app", (1.0, 2.0, 3.0), pandas_loaded=False)],
        rss=[bench.PeakRss("evaluator", 1000, 50.0, 100.0, 120.0, 1000)],
    )
    text = report.markdown()
    assert f"| {MONITORS} | evaluator | {runs['evaluator'].first.total} |" in text
    assert f"| {MONITORS} | naive | {runs['naive'].first.total} |" in text
    assert "| evaluator handler (`import app`) | 3 | 2 |" in text
    decoded = json.loads(json.dumps(report.as_dict()))
    assert [r["steady"]["writes"] for r in decoded["calls_and_time"]] == [0, MONITORS]


def test_command_line_names_the_module_and_its_arguments() -> None:
    assert bench.command_line(["--sizes", "5"]).endswith("-m retrain_trigger_local.bench --sizes 5")
    assert Path(bench.EVALUATOR_APP).is_file()
