"""The fleet's tick order and digests at their edges (policy/fleet.py, policy/digest.py): who goes first when a
retraining already runs or a state could not be read, what a digest lists about each alert, and its key in a
shard and on a host in another time zone. No AWS anywhere in here."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta, timezone

import pytest

from retrain_trigger.errors import RetryableError
from retrain_trigger.model import Decision, MonitorState, Status
from retrain_trigger.policy import evaluate
from retrain_trigger.policy.digest import Listed, digest_key, digests, tick_digests
from retrain_trigger.policy.fleet import tick_order

from .scenario import Replay, day, monitor, obs


def breach(monitor_id: str) -> Decision:
    """A monitor breaching critical on day 0: its retraining starts, announced on the topic."""
    config = monitor(id=monitor_id)
    return evaluate(config, MonitorState(monitor_id=monitor_id), [obs(0, 0.3)], day(0), "v1")


def held(monitor_id: str) -> tuple[object, MonitorState]:
    """A monitor in ALARM whose retraining its guard holds back."""
    replay = Replay(monitor(id=monitor_id, guards=[{"metric": "acc", "below": 0.1}]))
    replay.state = replay.state.model_copy(update={"monitor_id": monitor_id})
    replay.score(0, 0.5)
    assert replay.status is Status.ALARM
    return replay.config, replay.state


class TestTickOrder:
    def test_a_monitor_already_retraining_is_not_ordered_among_the_held_retrainings(self) -> None:
        busy = Replay(monitor(id="busy", priority=9))
        busy.state = busy.state.model_copy(update={"monitor_id": "busy"})
        busy.score(0, 0.5)
        assert busy.status is Status.RETRAINING
        waiting, state = held("waiting")

        order = tick_order([busy.config, waiting], {"busy": busy.state, "waiting": state})  # type: ignore[list-item]

        assert [m.id for m in order] == ["waiting", "busy"]

    def test_a_monitor_whose_state_could_not_be_read_goes_after_the_held_retrainings(self) -> None:
        unread = monitor(id="unread", priority=9)
        waiting, state = held("waiting")
        states = {"unread": RetryableError("dynamodb GetItem failed: Throttling"), "waiting": state}

        order = tick_order([unread, waiting], states)  # type: ignore[list-item]

        assert [m.id for m in order] == ["waiting", "unread"]


class TestDigestListing:
    def test_each_listed_alert_carries_its_monitor_key_score_episode_and_reason(self) -> None:
        decision = breach("m00")
        (sns,) = [a for a in decision.new_actions if a.kind == "sns"]

        (digest,) = digests([decision, breach("m01")], over=1, at=day(0))

        assert digest.alerts[0] == Listed("m00", sns.key, 0.3, sns.notice.episode_id, sns.notice.reason)
        assert sns.notice.episode_id is not None and sns.notice.reason != ""

    def test_a_shards_digest_key_names_the_shard(self) -> None:
        (digest,) = digests([breach("m00"), breach("m01")], over=1, at=day(0), scope="shard-1")

        assert digest.key == "digest:2024-08-01T00:00:00Z:retrain_started:shard-1"

    def test_a_ticks_digest_key_names_the_shard_it_was_grouped_in(self) -> None:
        decided = [(monitor(id=i), breach(i)) for i in ("m00", "m01")]

        (digest,) = tick_digests(decided, over=1, at=day(0), scope="shard-1")

        assert digest.key == "digest:2024-08-01T00:00:00Z:retrain_started:shard-1"

    def test_a_ticks_digest_key_without_a_shard_is_the_ticks_and_events_alone(self) -> None:
        decided = [(monitor(id=i), breach(i)) for i in ("m00", "m01")]

        (digest,) = tick_digests(decided, over=1, at=day(0))

        assert digest.key == "digest:2024-08-01T00:00:00Z:retrain_started"


@pytest.fixture
def host_in_tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_digest_key_is_in_utc_whatever_the_tick_and_the_hosts_time_zone(host_in_tokyo: None) -> None:
    at = day(0).astimezone(timezone(timedelta(hours=2)))

    assert digest_key(at, "retrain_started") == "digest:2024-08-01T00:00:00Z:retrain_started"
