"""Maintenance windows and model age (issue 14, capabilities 4 and 6) through the real handlers on moto, with the
resources built from template.yaml: the evaluator starts no pipeline and sends nothing in a window and acts once it
ends; past `max_model_age` it starts one pipeline, with the reason "model age", once per age window."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from retrain_trigger import wiring
from tests.support.world import PIPELINE, TICK, World, context, event

T0 = datetime.fromisoformat(TICK)  # Friday 2024-08-09 00:00 UTC: 02:00 in Berlin
FRIDAY_2AM_BERLIN = {"cron": "0 2 * * FRI", "duration": "3h", "timezone": "Europe/Berlin"}


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def document(**monitor: Any) -> dict[str, Any]:
    return {
        "defaults": {"critical": 0.2, "reset": 0.15, "grace_period": "1h", "cooldown": "0s"},
        "monitors": [{"id": "churn-model", "actions": {"pipeline": {"name": PIPELINE}}, **monitor}],
    }


@pytest.fixture
def clock(world: World, monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """The Lambda's wall clock, set by the test (the handlers read it through wiring, the domain never)."""
    now = [T0]
    monkeypatch.setattr(wiring, "wall_clock", lambda: now[0])
    wiring.reset()

    def set_to(at: datetime) -> None:
        now[0] = at

    return set_to


def tick(world: World, clock: Callable[[datetime], None], at: datetime, score: float) -> dict[str, Any]:
    clock(at)
    world.score("churn-model", iso(at), score)
    return world.tick(iso(at))


def state(world: World) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(world.state_item()["state"]["S"])
    return loaded


def test_in_a_maintenance_window_a_breach_starts_no_pipeline_and_alerts_nobody_until_the_window_ends(
    world: World, clock: Callable[[datetime], None]
) -> None:
    world.configure(document(maintenance=[FRIDAY_2AM_BERLIN]))

    during = [tick(world, clock, T0 + timedelta(hours=h), 0.5) for h in (0, 1, 2)]

    assert world.executions() == [] and world.alerts() == []
    assert state(world)["status"] == "ALARM"
    assert "maintenance window until 2024-08-09T03:00:00+00:00" in during[0]["monitors"][0]["reason"]

    tick(world, clock, T0 + timedelta(hours=3), 0.5)  # the window is over: the episode's retraining starts
    tick(world, clock, T0 + timedelta(hours=4), 0.5)

    assert len(world.executions()) == 1
    assert [a["MessageAttributes"]["event"]["Value"] for a in world.alerts()] == ["retrain_started"]


def test_an_episode_whose_retraining_stays_blocked_is_announced_once_when_the_window_ends(
    world: World, clock: Callable[[datetime], None]
) -> None:
    world.configure(document(maintenance=[FRIDAY_2AM_BERLIN], guards=[{"metric": "accuracy", "below": 0.85}]))
    for h in (0, 1, 2, 3, 4):
        clock(T0 + timedelta(hours=h))
        world.score("churn-model", iso(T0 + timedelta(hours=h)), 0.5, accuracy=0.95)
        world.tick(iso(T0 + timedelta(hours=h)))

    alerts = world.alerts()
    assert [a["MessageAttributes"]["event"]["Value"] for a in alerts] == ["critical"]
    assert json.loads(alerts[0]["Message"])["idempotency_key"] == "churn-model@20240809T000000Z#0:critical"
    assert world.executions() == []


def test_past_max_model_age_one_pipeline_starts_with_the_reason_model_age_and_a_retried_tick_starts_none(
    world: World, clock: Callable[[datetime], None]
) -> None:
    world.configure(document(max_model_age="2d"))
    tick(world, clock, T0, 0.05)  # the age starts counting
    tick(world, clock, T0 + timedelta(days=1), 0.05)
    assert world.executions() == []

    aged = tick(world, clock, T0 + timedelta(days=2), 0.05)
    world.tick(iso(T0 + timedelta(days=2)))  # the same tick again (a retry)

    assert len(world.executions()) == 1
    assert aged["monitors"][0]["reason"].startswith("model age: 2 days")
    (alert,) = world.alerts()
    body = json.loads(alert["Message"])
    assert body["idempotency_key"] == "churn-model@20240811T000000Z~age#1:retrain_started"
    assert "model age" in body["reason"]


def test_a_model_deployed_event_restarts_the_model_age(world: World, clock: Callable[[datetime], None]) -> None:
    world.configure(document(max_model_age="2d"))
    tick(world, clock, T0, 0.05)
    clock(T0 + timedelta(days=1))
    world.lifecycle.lambda_handler(event("model-deployed.json", time=iso(T0 + timedelta(days=1))), context())

    tick(world, clock, T0 + timedelta(days=2), 0.05)
    assert world.executions() == []
    tick(world, clock, T0 + timedelta(days=3), 0.05)

    assert len(world.executions()) == 1
    assert state(world)["model_at"] == "2024-08-10T00:00:00Z"
