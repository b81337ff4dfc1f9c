"""Alerts users of CloudWatch, Datadog and Alertmanager expect, through the real evaluator handler on moto, read from
a queue subscribed to the alert topic: no-data and data-resumed once per gap, and an open episode's repeated alert."""

from __future__ import annotations

import json
from typing import Any

from tests.support.world import PIPELINE, World


def document(**overrides: Any) -> dict[str, Any]:
    monitor = {
        "id": "churn-model",
        "critical": 0.2,
        "reset": 0.15,
        "every": "1d",
        "actions": {"on_alert": ["sns"], "pipeline": {"name": PIPELINE}},
        **overrides,
    }
    return {"defaults": {}, "monitors": [monitor]}


def attributes(alert: dict[str, Any]) -> dict[str, str]:
    return {name: value["Value"] for name, value in alert["MessageAttributes"].items()}


def test_a_monitor_whose_scores_stop_alerts_no_data_once_and_data_resumed_when_they_return(world: World) -> None:
    everything = world.subscribe({"monitor_id": ["churn-model"]})
    world.configure(document())  # one datapoint a day: max_age, and so no_data_after, is 2 days
    world.score("churn-model", "2024-08-01T00:00:00Z", 0.05)
    world.tick("2024-08-01T00:00:00Z")
    world.tick("2024-08-02T00:00:00Z")
    world.tick("2024-08-03T00:00:00Z")  # the newest datapoint is exactly 2 days old: not older yet
    assert world.alerts(everything) == []

    world.tick("2024-08-04T00:00:00Z")
    world.tick("2024-08-04T00:00:00Z")  # a retried tick
    world.tick("2024-08-05T00:00:00Z")  # the same gap

    (gap,) = world.alerts(everything)
    assert gap["Subject"] == "[WARNING] churn-model no data: the newest datapoint is 3d old"
    assert attributes(gap) | {"idempotency_key": "?"} == {
        "monitor_id": "churn-model",
        "severity": "warning",
        "event": "no_data",
        "idempotency_key": "?",
        "renotification": "0",
    }
    assert json.loads(gap["Message"])["datapoint_at"] == "2024-08-01T00:00:00+00:00"

    world.score("churn-model", "2024-08-06T00:00:00Z", 0.05)
    world.tick("2024-08-06T00:00:00Z")

    (resumed,) = world.alerts(everything)
    assert (attributes(resumed)["event"], attributes(resumed)["severity"]) == ("data_resumed", "recovered")
    assert world.executions() == []


def test_an_episode_blocked_for_days_repeats_its_critical_alert_with_a_count(world: World) -> None:
    world.configure(document(guards=[{"metric": "accuracy", "below": 0.85}], renotify_every="2d"))
    for day in range(1, 6):
        at = f"2024-08-0{day}T00:00:00Z"
        world.score("churn-model", at, 0.3, accuracy=0.95)
        world.tick(at)
        world.tick(at)  # every tick retried: nothing goes out twice

    alerts = world.alerts()  # the on-call queue: critical, error and escalation only
    sent = [(attributes(a)["event"], attributes(a)["renotification"], attributes(a)["idempotency_key"]) for a in alerts]
    assert sent == [
        ("critical", "0", "churn-model@20240801T000000Z#0:critical"),
        ("critical", "1", "churn-model@20240801T000000Z#0:critical#r1"),
        ("critical", "2", "churn-model@20240801T000000Z#0:critical#r2"),
    ]
    assert [json.loads(a["Message"])["renotification"] for a in alerts] == [0, 1, 2]
    assert alerts[-1]["Subject"].endswith("alert only, retraining blocked (repeat 2)")
    assert world.executions() == []
