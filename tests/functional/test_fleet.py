"""The fleet scenario (docs/fleet.md) through the real evaluator and lifecycle handlers, on the template's resources:
an upstream monitor and 50 monitors downstream of it break in the same tick."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from retrain_trigger import wiring
from retrain_trigger.adapters.clients import aws_client
from retrain_trigger.adapters.fleet_budget import BUDGET_PK
from retrain_trigger_local.world import drain
from tests.support.world import World, context, event

UPSTREAM = "feature-store"
DOWNSTREAM = [f"model-{i:02d}" for i in range(50)]
START = datetime(2024, 8, 9, tzinfo=UTC)


def hour(n: int) -> str:
    return (START + timedelta(hours=n)).isoformat().replace("+00:00", "Z")


def fleet_document(*, inhibited: bool, fleet: dict[str, Any] | None = None) -> dict[str, Any]:
    # No pipeline: a retraining is the SQS request (one per start, counted below), the bus event and the alert.
    downstream: list[dict[str, Any]] = [
        {"id": m, **({"suppressed_by": [UPSTREAM]} if inhibited else {})} for m in DOWNSTREAM
    ]
    for late in downstream[-5:]:
        late["priority"] = 1  # the last five of the document are released first
    document: dict[str, Any] = {
        "defaults": {"critical": 0.2, "reset": 0.15, "cooldown": "0s"},
        "monitors": [{"id": UPSTREAM}, *downstream],
    }
    return document | ({"fleet": fleet} if fleet else {})


def scores(world: World, at: str, value: float, monitors: list[str] | None = None) -> None:
    for monitor_id in monitors if monitors is not None else [UPSTREAM, *DOWNSTREAM]:
        world.score(monitor_id, at, value)


def retrain_requests(world: World) -> list[str]:
    """The monitor of each retraining request sent on this tick's way (the RetrainQueue, drained)."""
    return [json.loads(m["Body"])["monitor_id"] for m in drain(aws_client("sqs"), world.queue)]


def started(report: dict[str, Any]) -> list[str]:
    return [m["monitor_id"] for m in report["monitors"] if m.get("state_after") == "RETRAINING" != m["state_before"]]


@pytest.fixture
def everything(world: World) -> str:
    """A subscriber to every alert of every monitor (the on-call queue filters on severity)."""
    return world.subscribe({"monitor_id": [UPSTREAM, *DOWNSTREAM]})


def test_with_inhibition_the_fifty_hold_their_retraining_and_alert_once_each(world: World, everything: str) -> None:
    world.configure(fleet_document(inhibited=True))
    alerts: list[dict[str, Any]] = []
    requests: list[str] = []
    for n in range(4):  # the breakage lasts four ticks
        scores(world, hour(n), 0.5)
        report = world.tick(hour(n))
        requests += retrain_requests(world)
        alerts += [json.loads(a["Message"]) for a in world.alerts(everything)]
        held = [m for m in report["monitors"] if m["monitor_id"] in DOWNSTREAM]
        assert {m["state_after"] for m in held} == {"ALARM"}
        assert all("inhibited by feature-store" in m["reason"] for m in held)

    assert requests == [UPSTREAM]
    critical = Counter(a["monitor_id"] for a in alerts if a["event"] == "critical")
    assert critical == dict.fromkeys(DOWNSTREAM, 1)
    assert all("inhibited by feature-store" in a["reason"] for a in alerts if a["event"] == "critical")


def test_when_the_cause_closes_the_recovered_close_and_one_still_breaching_retrains(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.configure(fleet_document(inhibited=True))
    scores(world, hour(0), 0.5)
    world.tick(hour(0))
    retrain_requests(world)
    finished = event(
        "retraining-finished.json",
        time=hour(1),
        detail={"monitor_id": UPSTREAM, "episode_id": f"{UPSTREAM}@20240809T000000Z", "attempt": 1},
    )
    # A CI's event is dated when the function receives it: the clock says when that was.
    real_clock = wiring.wall_clock
    monkeypatch.setattr(wiring, "wall_clock", lambda: START + timedelta(hours=1))
    wiring.reset()
    assert world.lifecycle.lambda_handler(finished, context())["state_after"] == "RETRAINED"
    monkeypatch.setattr(wiring, "wall_clock", real_clock)
    wiring.reset()

    scores(world, hour(2), 0.01)
    scores(world, hour(2), 0.5, [DOWNSTREAM[0]])  # this one's drift was its own
    report = world.tick(hour(2))

    after = {m["monitor_id"]: m["state_after"] for m in report["monitors"]}
    assert after[UPSTREAM] == "OK"
    assert after[DOWNSTREAM[0]] == "RETRAINING"
    assert {after[m] for m in DOWNSTREAM[1:]} == {"OK"}
    assert retrain_requests(world) == [DOWNSTREAM[0]]


def test_without_inhibition_a_budget_of_five_an_hour_releases_the_held_in_order_none_lost_none_twice(
    world: World,
) -> None:
    world.configure(fleet_document(inhibited=False, fleet={"max_retrains_per_hour": 5}))
    per_hour: list[list[str]] = []
    requests: list[str] = []
    for n in range(12):
        scores(world, hour(n), 0.5)
        report = world.tick(hour(n))
        per_hour.append(started(report))
        requests += retrain_requests(world)
        held = [m for m in report["monitors"] if m["state_after"] == "ALARM"]
        assert all("held by the fleet budget" in m["reason"] for m in held)

    assert [len(s) for s in per_hour] == [5] * 10 + [1, 0]
    assert per_hour[0] == [UPSTREAM, *DOWNSTREAM[:4]]  # all opened together: in the document's order
    assert sorted(per_hour[1]) == DOWNSTREAM[-5:]  # priority 1 first
    assert per_hour[2] == DOWNSTREAM[4:9]  # then the oldest held, ties by id
    assert sorted(requests) == sorted([UPSTREAM, *DOWNSTREAM])  # none lost, none twice
    taken = aws_client("dynamodb").get_item(
        TableName=world.state_table, Key={"pk": {"S": BUDGET_PK}, "sk": {"S": "hour#2024-08-09T01"}}
    )["Item"]["taken"]["SS"]
    assert len(taken) == 5


def test_a_steady_tick_with_fleet_rules_configured_makes_no_budget_or_alarm_call(
    world: World, record_calls: Any
) -> None:
    document = fleet_document(inhibited=True, fleet={"max_retrains_per_hour": 5, "max_concurrent_retrains": 3})
    world.configure(document)
    scores(world, hour(0), 0.01)
    world.tick(hour(0))
    wiring.reset()  # fresh clients, so the hooks below see every call
    transactions = record_calls(aws_client("dynamodb"), "TransactWriteItems")
    updates = record_calls(aws_client("dynamodb"), "UpdateItem")
    alarms = record_calls(aws_client("cloudwatch"), "DescribeAlarms")

    scores(world, hour(1), 0.01)
    report = world.tick(hour(1))

    assert {m["state_after"] for m in report["monitors"]} == {"OK"}
    assert (transactions, updates, alarms) == ([], [], [])


def test_a_cloudwatch_alarm_in_alarm_inhibits_its_dependents_read_in_batches(world: World, record_calls: Any) -> None:
    cloudwatch = aws_client("cloudwatch")
    names = [f"etl-{i:03d}" for i in range(150)]
    for name in names:
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="Errors",
            Namespace="ETL",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
    cloudwatch.set_alarm_state(AlarmName="etl-149", StateValue="ALARM", StateReason="the nightly job failed")
    world.configure(
        {
            "defaults": {"critical": 0.2},
            "monitors": [
                {"id": "inhibited", "suppressed_by": [f"alarm:{n}" for n in names]},
                {"id": "free", "suppressed_by": ["alarm:etl-000"]},
            ],
        }
    )
    scores(world, hour(0), 0.5, ["inhibited", "free"])
    calls = record_calls(aws_client("cloudwatch"), "DescribeAlarms")

    report = world.tick(hour(0))

    after = {m["monitor_id"]: (m["state_after"], m["reason"]) for m in report["monitors"]}
    assert after["inhibited"][0] == "ALARM" and "inhibited by alarm:etl-149" in after["inhibited"][1]
    assert after["free"][0] == "RETRAINING"
    assert sorted(len(c["AlarmNames"]) for c in calls) == [50, 100]


def test_a_refused_suppressed_by_is_reported_naming_the_monitor_and_the_field_and_the_others_run(
    world: World,
) -> None:
    world.configure({"defaults": {"critical": 0.2}, "monitors": [{"id": "a", "suppressed_by": ["nope"]}, {"id": "b"}]})
    scores(world, hour(0), 0.5, ["a", "b"])

    report = world.tick(hour(0))

    by_id = {m["monitor_id"]: m for m in report["monitors"]}
    assert by_id["a"]["error"]["field"] == "suppressed_by"
    assert by_id["b"]["state_after"] == "RETRAINING"
