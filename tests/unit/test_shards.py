"""Sharding a tick: every due monitor in exactly one shard of at most SHARD_SIZE, every waiting outbox in exactly one
shard, and the message round-trips."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from retrain_trigger import shards
from retrain_trigger.errors import BadInput
from retrain_trigger.ports import Shard
from retrain_trigger.service import plan_shards

NOW = datetime(2024, 8, 9, tzinfo=UTC)
ids = st.lists(st.text("abcdefgh", min_size=1, max_size=6), unique=True, max_size=60)


@given(due=ids, waiting=ids, size=st.integers(1, 12))
def test_each_due_monitor_and_each_waiting_outbox_is_in_exactly_one_shard(
    due: list[str], waiting: list[str], size: int
) -> None:
    waiting = [w for w in waiting if w not in due]
    planned = plan_shards(due, waiting, NOW, size)

    assert [m for s in planned for m in s.due] == due
    assert all(len(s.due) <= size for s in planned)
    assert Counter(m for s in planned for m in s.waiting) == Counter(waiting)
    assert {s.now for s in planned} == {NOW}
    event(f"shards: {min(len(planned), 4)}")


def test_a_shard_message_round_trips_with_its_time_in_utc() -> None:
    shard = Shard(datetime(2024, 8, 9, 2, tzinfo=timezone(timedelta(hours=2))), ("a", "b"), ("c",))

    decoded = shards.decode(shards.encode(shard))

    assert decoded == Shard(NOW, ("a", "b"), ("c",))
    assert decoded.now.tzinfo == UTC


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"due": ["a"]}', "shard.now"),
        ('{"now": "2024-08-09T00:00:00", "due": []}', "shard.now"),
        ("[", "shard.(message)"),
    ],
)
def test_a_malformed_shard_is_bad_input_naming_the_field(body: str, field: str) -> None:
    with pytest.raises(BadInput) as error:
        shards.decode(body)

    assert error.value.field == field
