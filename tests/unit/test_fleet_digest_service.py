"""Grouped alerts in the service, against the in-memory fakes of the ports: the digest never delays or loses a
per-monitor alert, and is sent once per (tick, event)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from retrain_trigger.errors import DependencyError
from retrain_trigger.ports import Alert
from tests.shared.fakes import FakeGateway
from tests.unit.test_outbox import T0, Rig, hour

FLEET = tuple(f"model-{i:02d}" for i in range(12))


@dataclass
class DigestsFail(FakeGateway):
    """The topic refuses the digest only (too large, a policy): every per-monitor alert still goes through."""

    def publish_alert(self, alert: Alert) -> str:
        if str(alert.attributes.get("idempotency_key", "")).startswith("digest:"):
            raise DependencyError("Publish refused the digest")
        return super().publish_alert(alert)


def upstream_breaks(rig: Rig, ids: tuple[str, ...] = FLEET) -> dict[str, object]:
    for monitor_id in ids:
        rig.score(T0, 0.3, monitor_id)
    report: dict[str, object] = rig.tick(T0).as_dict()
    return report


def alerts(rig: Rig) -> list[Alert]:
    return [c.payload for c in rig.gateway.calls if c.kind == "sns" and isinstance(c.payload, Alert)]


def test_the_digest_goes_out_before_the_alerts_it_lists_and_each_of_them_goes_out_marked_in_the_same_tick() -> None:
    rig = Rig(*FLEET)

    upstream_breaks(rig)

    sent = alerts(rig)
    assert sent[0].attributes["event"] == "digest"
    own = sent[1:]
    assert sorted(a.attributes["monitor_id"] for a in own) == list(FLEET)
    assert {a.attributes["grouped_in"] for a in own} == {sent[0].attributes["idempotency_key"]}


def test_a_digest_that_cannot_be_published_leaves_every_alert_unmarked_so_on_call_still_gets_each() -> None:
    rig = Rig(*FLEET)
    rig.gateway = DigestsFail()
    rig.deps = rig.deps.__class__(**{**rig.deps.__dict__, "actions": rig.gateway})

    report = upstream_breaks(rig)

    own = alerts(rig)
    assert sorted(a.attributes["monitor_id"] for a in own) == list(FLEET)
    assert all("grouped_in" not in a.attributes for a in own)
    assert [d["status"] for d in report["digests"]] == ["failed"]  # type: ignore[index]


def test_a_retried_tick_sends_no_second_digest() -> None:
    rig = Rig(*FLEET)
    upstream_breaks(rig)
    before = len(rig.gateway.calls)

    again = rig.tick(T0).as_dict()

    assert len(rig.gateway.calls) == before
    assert "digests" not in again


def test_the_next_event_of_the_fleet_is_a_digest_of_its_own_under_its_own_tick() -> None:
    rig = Rig(*FLEET)
    upstream_breaks(rig)

    for monitor_id in FLEET:  # every retraining ends: the lifecycle queues nothing on the topic by default
        rig.score(hour(30), 0.05, monitor_id)
    rig.tick(hour(30))

    digest_keys = [a.attributes["idempotency_key"] for a in alerts(rig) if a.attributes["event"] == "digest"]
    assert digest_keys[0] == "digest:2024-08-09T00:00:00Z:retrain_started"
    assert len(digest_keys) == len(set(digest_keys))


def test_a_muted_monitors_held_alert_is_not_listed_and_goes_out_on_its_own_when_the_mute_ends() -> None:
    rig = Rig(*FLEET)
    muted_until = (T0 + timedelta(hours=2)).isoformat()
    rig.config.document["monitors"][0]["muted_until"] = muted_until

    report = upstream_breaks(rig)

    (digest,) = [a for a in alerts(rig) if a.attributes["event"] == "digest"]
    assert [m["monitor_id"] for m in digest.payload["monitors"]] == list(FLEET[1:])
    assert len(report["digests"]) == 1  # type: ignore[arg-type]
    rig.tick(hour(2))
    held = [a for a in alerts(rig) if a.attributes.get("monitor_id") == FLEET[0]]
    assert len(held) == 1 and "grouped_in" not in held[0].attributes


def test_an_alert_whose_first_try_failed_is_retried_and_never_lost() -> None:
    rig = Rig(*FLEET)
    rig.gateway.fail["sns"] = DependencyError("throttled")

    upstream_breaks(rig)
    del rig.gateway.fail["sns"]
    rig.tick(hour(1))

    own = [a for a in alerts(rig) if a.attributes["event"] == "retrain_started"]
    assert sorted(a.attributes["monitor_id"] for a in own) == list(FLEET)
