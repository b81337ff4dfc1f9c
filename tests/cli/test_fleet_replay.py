"""The fleet backtest (issue 14): `replay --all-monitors` over a whole document and a long score file agrees with the
real handlers on moto step by step, monitor by monitor, and groups the same alerts into the same digests."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from retrain_trigger.adapters.clients import aws_client
from tests.cli.conftest import Run, write
from tests.support.world import PIPELINE, World, context, event

START = datetime(2024, 8, 1, tzinfo=UTC)
UNTIL = START + timedelta(days=3)
TICK = timedelta(hours=1)
EVERY = timedelta(hours=6)
PIPELINE_RUNS = timedelta(hours=3)
FLEET = [f"model-{i:02d}" for i in range(12)]
# On-call's filter policy of docs/fleet-alerts.md: what pages, and no per-monitor copy of a digest's alert.
ONCALL = {"severity": ["critical", "error", "escalation", "recovered"], "grouped_in": [{"exists": False}]}


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


UPSTREAM = "feature-store"


def document(rules: str = "") -> dict[str, Any]:
    """The fleet's document; `rules`: "inhibited" (every model suppressed by the upstream feature store, which
    breaks with them) or "budgeted" (at most 5 retrainings an hour)."""
    defaults = {
        "critical": 0.2,
        "reset": 0.15,
        "every": "6h",
        "datapoints_to_recover": 1,
        "actions": {"pipeline": {"name": PIPELINE}},
    }
    monitors: list[dict[str, Any]] = [{"id": m} for m in FLEET]
    if rules == "inhibited":
        monitors = [{"id": UPSTREAM}, *({"id": m, "suppressed_by": [UPSTREAM]} for m in FLEET)]
    out: dict[str, Any] = {"defaults": defaults, "monitors": monitors}
    return out | ({"fleet": {"max_retrains_per_hour": 5}} if rules == "budgeted" else {})


def scores(upstream: bool = False) -> list[tuple[str, datetime, float]]:
    """An upstream breakage on day 1 hits eleven models in the same tick (and the upstream monitor, if any); the
    twelfth drifts on its own later. Each retraining fixes its model: the scores fall back after it."""
    rows = []
    at = START
    while at <= UNTIL:
        broken = START + timedelta(days=1) <= at < START + timedelta(days=1, hours=12)
        if upstream:
            rows.append((UPSTREAM, at, 0.3 if broken else 0.05))
        for index, monitor_id in enumerate(FLEET):
            alone = index == 11 and START + timedelta(days=1, hours=18) <= at < START + timedelta(days=2)
            score = 0.3 if (broken and index < 11) or alone else 0.05
            rows.append((monitor_id, at, score))
        at += EVERY
    return rows


def write_long_file(path: Path, rows: list[tuple[str, datetime, float]]) -> Path:
    if path.suffix == ".parquet":
        frame = pd.DataFrame(rows, columns=["monitor_id", "timestamp", "drift_score"])
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        frame.to_parquet(path, index=False)
        return path
    with path.open("w", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["monitor_id", "timestamp", "drift_score"])
        out.writerows((m, iso(at), f"{score:.4f}") for m, at, score in rows)
    return path


def drive_handlers(world: World, rows: list[tuple[str, datetime, float]]) -> list[dict[str, Any]]:
    """The evaluator ticks hourly while the scores arrive; each pipeline it starts succeeds three hours later.
    Returns every decision the handlers reported (lifecycle first within a tick, as they ran), in order."""
    pending = sorted(rows, key=lambda r: r[1])
    finishing: list[tuple[datetime, str, str]] = []
    decided: list[dict[str, Any]] = []
    now = START
    while now <= UNTIL:
        for ended, monitor_id, arn in sorted(f for f in finishing if f[0] <= now):
            described = aws_client("sagemaker").describe_pipeline_execution(PipelineExecutionArn=arn)
            status = event(
                "pipeline-succeeded.json",
                time=iso(ended),
                detail={
                    "pipelineExecutionArn": arn,
                    "pipelineExecutionDescription": described.get("PipelineExecutionDescription", ""),
                },
            )
            result = world.lifecycle.lambda_handler(status, context())
            assert result["monitor_id"] == monitor_id
            decided.append({"at": iso(ended), **result})
        finishing = [f for f in finishing if f[0] > now]
        while pending and pending[0][1] <= now:
            monitor_id, at, score = pending.pop(0)
            world.score(monitor_id, iso(at), score)
        for monitor in world.tick(iso(now))["monitors"]:
            if "state_after" in monitor:  # a waiting outbox delivered, not a decision
                decided.append({"at": iso(now), **monitor})
            started = [a["result"] for a in monitor["actions"] if a["kind"] == "sagemaker" and a["status"] == "done"]
            finishing += [(now + PIPELINE_RUNS, monitor["monitor_id"], arn) for arn in started]
        now += TICK
    return decided


def replay_against_handlers(
    world: World, cli: Any, tmp_path: Path, rules: str = ""
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The handlers run the fleet on moto, the CLI replays the same document and long file; both must agree on every
    step (time, monitor, state, reason, score) in the same order, and on the digests on-call received. Returns the
    CLI's lines and what on-call received."""
    config = write(tmp_path / "fleet.json", json.dumps(document(rules)))
    world.configure(document(rules))
    oncall = world.subscribe(ONCALL)
    rows = scores(upstream=rules == "inhibited")
    long_file = write_long_file(tmp_path / "scores.csv", rows)

    decided = drive_handlers(world, rows)
    run: Run = cli(
        "replay", "--config", config, "--scores", long_file, "--all-monitors", "--tick", "1h",
        "--retrain-duration", "3h", "--until", iso(UNTIL),
    )  # fmt: skip
    assert run.code == 0, run.err
    lines = run.lines()

    assert len(lines) == len(decided) > 12 * 12
    for line, report in zip(lines, decided, strict=True):
        assert (line["timestamp"], line["monitor_id"], line["state"], line["reason"], line["score"]) == (
            report["at"],
            report["monitor_id"],
            report["state_after"],
            report["reason"],
            report.get("score"),
        ), json.dumps(report)
    assert [line["timestamp"] for line in lines] == sorted(line["timestamp"] for line in lines)
    received = [json.loads(m["Message"]) for m in world.alerts(oncall)]
    digests = {
        m["idempotency_key"]: sorted(x["monitor_id"] for x in m["monitors"]) for m in received if m["event"] == "digest"
    }
    replayed: dict[str, list[str]] = {}
    for line in lines:
        if "grouped_in" in line:
            replayed.setdefault(line["grouped_in"], []).append(line["monitor_id"])
    assert digests == {key: sorted(monitors) for key, monitors in replayed.items()}
    return lines, received


def test_the_fleet_replay_and_the_handlers_make_the_same_decisions_and_the_same_digests(
    world: World, cli: Any, tmp_path: Path
) -> None:
    lines, received = replay_against_handlers(world, cli, tmp_path)

    # The eleven models the breakage hit reached on-call as one digest when they retrained, one when they recovered
    grouped = {
        m["idempotency_key"]: [x["monitor_id"] for x in m["monitors"]] for m in received if m["event"] == "digest"
    }
    assert grouped == {
        "digest:2024-08-02T00:00:00Z:retrain_started": FLEET[:11],
        "digest:2024-08-02T12:00:00Z:recovered": FLEET[:11],
    }
    # And model-11, which drifted alone, paged on-call on its own: once when it started, once when it recovered
    own = [(m["monitor_id"], m["event"]) for m in received if m.get("monitor_id") == "model-11"]
    assert own == [("model-11", "retrain_started"), ("model-11", "recovered")]
    retrained = [line["monitor_id"] for line in lines if "retrain" in line["actions"]]
    assert sorted(retrained) == FLEET and len(world.executions()) == 12


def test_the_fleet_replay_applies_inhibition_as_the_handlers_do(world: World, cli: Any, tmp_path: Path) -> None:
    lines, received = replay_against_handlers(world, cli, tmp_path, "inhibited")

    # Only the upstream feature store and the model that drifted alone later retrain; the eleven others are held
    retrained = [line["monitor_id"] for line in lines if "retrain" in line["actions"]]
    assert retrained == [UPSTREAM, "model-11"]
    held = {line["monitor_id"] for line in lines if "inhibited by feature-store" in line["reason"]}
    assert held == set(FLEET[:11])
    # and their eleven critical alerts reached on-call as one digest, as did the twelve recoveries when it was over
    digests = [m for m in received if m["event"] == "digest"]
    assert [(d["grouped_event"], d["count"]) for d in digests] == [("critical", 11), ("recovered", 12)]


def test_the_fleet_replay_spends_the_retraining_budget_as_the_handlers_do(
    world: World, cli: Any, tmp_path: Path
) -> None:
    lines, _ = replay_against_handlers(world, cli, tmp_path, "budgeted")

    starts = [(line["timestamp"], line["monitor_id"]) for line in lines if "retrain" in line["actions"]]
    per_hour = Counter(at[:13] for at, _ in starts)
    assert max(per_hour.values()) == 5  # the budget binds, and is never overspent
    assert len({m for _, m in starts}) == len(starts)  # none started twice
    assert any("held by the fleet budget" in line["reason"] for line in lines)
