"""Grouped alerts (issue 14, capability 3) through the real evaluator on moto, read from SQS queues subscribed to the
alert topic with the filter policies docs/fleet-alerts.md shows: on-call gets one digest per event of a tick, a team
filtering on its monitor still gets its monitor's own message, and no alert is lost or sent twice."""

from __future__ import annotations

import json
from typing import Any

from tests.support.world import PIPELINE, World

TICK = "2024-08-09T00:00:00Z"
# On-call: what pages, and of the per-monitor messages only those no published digest lists (fleet-alerts.md).
ONCALL = {"severity": ["critical", "error", "escalation"], "grouped_in": [{"exists": False}]}


def fleet(count: int) -> dict[str, Any]:
    defaults = {"critical": 0.2, "reset": 0.15, "every": "1d", "actions": {"pipeline": {"name": PIPELINE}}}
    return {"defaults": defaults, "monitors": [{"id": f"model-{i:02d}"} for i in range(count)]}


def attributes(message: dict[str, Any]) -> dict[str, str]:
    return {name: value["Value"] for name, value in message["MessageAttributes"].items()}


def breaks(world: World, count: int) -> None:
    """An upstream breakage: every monitor of the fleet breaches critical in the same tick."""
    world.configure(fleet(count))
    for i in range(count):
        world.score(f"model-{i:02d}", TICK, 0.3)


def test_more_than_ten_alerts_of_one_event_reach_on_call_as_one_digest_and_each_team_its_own(world: World) -> None:
    oncall = world.subscribe(ONCALL)
    team = world.subscribe({"monitor_id": ["model-03"]})
    breaks(world, 12)

    report = world.tick(TICK)
    world.tick(TICK)  # the tick retried: nothing goes out twice

    (digest,) = world.alerts(oncall)
    body = json.loads(digest["Message"])
    assert attributes(digest) == {
        "severity": "critical",
        "event": "digest",
        "grouped_event": "retrain_started",
        "idempotency_key": "digest:2024-08-09T00:00:00Z:retrain_started",
    }
    assert digest["Subject"] == "[CRITICAL] 12 monitors: retrain_started (digest of 2024-08-09T00:00:00Z)"
    assert [m["monitor_id"] for m in body["monitors"]] == [f"model-{i:02d}" for i in range(12)]
    # Each monitor's own alert went out too, under the key the digest lists, marked with the digest's key
    sent = {
        m["monitor_id"]: a["key"]
        for m in report["monitors"]
        for a in m["actions"]
        if a["kind"] == "sns" and a["status"] == "done"
    }
    assert {m["monitor_id"]: m["idempotency_key"] for m in body["monitors"]} == sent
    (own,) = world.alerts(team)
    assert attributes(own)["grouped_in"] == "digest:2024-08-09T00:00:00Z:retrain_started"
    assert attributes(own)["idempotency_key"] == sent["model-03"]
    assert json.loads(own["Message"])["grouped_in"] == attributes(own)["grouped_in"]
    assert len(world.executions()) == 12  # grouping changes what on-call reads, never what is done
    (published,) = report["digests"]
    assert (published["key"], published["status"]) == ("digest:2024-08-09T00:00:00Z:retrain_started", "done")


def test_ten_alerts_of_one_event_are_not_grouped_and_on_call_gets_each(world: World) -> None:
    oncall = world.subscribe(ONCALL)
    breaks(world, 10)

    report = world.tick(TICK)

    alerts = world.alerts(oncall)
    assert sorted(attributes(a)["monitor_id"] for a in alerts) == [f"model-{i:02d}" for i in range(10)]
    assert all("grouped_in" not in attributes(a) for a in alerts)
    assert "digests" not in report


def test_a_subscriber_without_the_grouped_in_filter_gets_both_the_digest_and_every_alert(world: World) -> None:
    plain = world.subscribe({"severity": ["critical"]})  # a policy written before digests: nothing is lost
    breaks(world, 11)

    world.tick(TICK)

    events = sorted(attributes(a)["event"] for a in world.alerts(plain))
    assert events == ["digest"] + ["retrain_started"] * 11
