"""Grouped alerts (issue 14, capability 3) in the pure engine: which alerts of a tick one digest lists, and its key."""

from __future__ import annotations

from datetime import timedelta

from retrain_trigger.digest_alerts import digest_alert, publish_digests
from retrain_trigger.errors import DependencyError
from retrain_trigger.model import Decision, MonitorState
from retrain_trigger.policy import evaluate
from retrain_trigger.policy.digest import DEFAULT_GROUP_ALERTS_OVER, digest_key, digests
from tests.shared.fakes import FakeGateway

from .scenario import day, monitor, obs


def breach(monitor_id: str, score: float = 0.3, at: float = 0) -> Decision:
    """A monitor of the fleet breaching critical on day `at`: its retraining starts, announced on the topic."""
    config = monitor(id=monitor_id)
    return evaluate(config, MonitorState(monitor_id=monitor_id), [obs(at, score)], day(at), "v1")


def warn(monitor_id: str) -> Decision:
    config = monitor(id=monitor_id, warning=0.1)
    return evaluate(config, MonitorState(monitor_id=monitor_id), [obs(0, 0.12)], day(0), "v1")


def fleet(count: int, prefix: str = "m") -> list[Decision]:
    return [breach(f"{prefix}{i:02d}") for i in range(count)]


class TestGroupedAlerts:
    def test_more_alerts_of_one_event_than_the_limit_make_one_digest_listing_each_monitor_and_key(self) -> None:
        decisions = fleet(11)

        (digest,) = digests(decisions, over=10, at=day(0))

        assert digest.event == "retrain_started" and digest.severity == "critical"
        assert [a.monitor_id for a in digest.alerts] == [f"m{i:02d}" for i in range(11)]
        sns_keys = [a.key for d in decisions for a in d.new_actions if a.kind == "sns"]
        assert [a.key for a in digest.alerts] == sns_keys
        assert digest.grouped() == dict.fromkeys(sns_keys, digest.key)

    def test_exactly_the_limit_is_not_grouped(self) -> None:
        assert digests(fleet(10), over=10, at=day(0)) == ()

    def test_the_default_limit_is_ten(self) -> None:
        assert DEFAULT_GROUP_ALERTS_OVER == 10

    def test_events_are_counted_apart_and_only_the_one_over_the_limit_is_grouped(self) -> None:
        decisions = fleet(3) + [warn(f"w{i}") for i in range(4)]

        found = digests(decisions, over=3, at=day(0))

        assert [(d.event, len(d.alerts)) for d in found] == [("warning", 4)]

    def test_a_decision_without_an_alert_is_not_listed(self) -> None:
        config = monitor(id="quiet", actions={"pipeline": {"name": "p"}, "on_retrain": ["sagemaker"]})
        silent = evaluate(config, MonitorState(monitor_id="quiet"), [obs(0, 0.3)], day(0), "v1")

        found = digests([*fleet(2), silent], over=1, at=day(0))

        assert [a.monitor_id for d in found for a in d.alerts] == ["m00", "m01"]

    def test_the_key_is_derived_from_the_tick_and_the_event_so_a_retried_tick_names_the_same_digest(self) -> None:
        first = digests(fleet(3), over=2, at=day(0))
        again = digests(fleet(3), over=2, at=day(0))
        later = digests(fleet(3), over=2, at=day(0) + timedelta(hours=1))

        assert first[0].key == again[0].key == digest_key(day(0), "retrain_started")
        assert first[0].key == "digest:2024-08-01T00:00:00Z:retrain_started"
        assert later[0].key != first[0].key

    def test_the_shards_of_one_tick_send_digests_under_keys_of_their_own(self) -> None:
        assert digest_key(day(0), "critical", "m00") != digest_key(day(0), "critical", "m50")


class TestDigestMessage:
    def test_the_digest_carries_each_monitors_key_in_its_body_and_no_monitor_id_attribute(self) -> None:
        (digest,) = digests(fleet(12), over=10, at=day(0))

        alert = digest_alert(digest)

        assert [m["idempotency_key"] for m in alert.payload["monitors"]] == [a.key for a in digest.alerts]
        assert alert.payload["idempotency_key"] == digest.key
        assert "monitor_id" not in alert.attributes and "grouped_in" not in alert.attributes
        assert alert.attributes["event"] == "digest" and alert.attributes["severity"] == "critical"
        assert all(a.key in alert.text for a in digest.alerts)

    def test_only_the_alerts_of_a_digest_that_went_out_are_marked_grouped(self) -> None:
        found = digests(fleet(12) + [warn(f"w{i:02d}") for i in range(12)], over=10, at=day(0))
        gateway = FakeGateway()

        sent = publish_digests(found, gateway)

        assert [s.status for s in sent.log] == ["done", "done"]
        assert set(sent.grouped) == {a.key for d in found for a in d.alerts}
        failing = publish_digests(found, FakeGateway(fail={"sns": DependencyError("topic gone")}))
        assert failing.grouped == {} and [s.status for s in failing.log] == ["failed", "failed"]
