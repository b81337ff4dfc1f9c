"""Invariants of the engine over arbitrary score series (hypothesis)."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from retrain_trigger.model import Status

from .scenario import Replay, monitor

scores = st.lists(st.one_of(st.none(), st.floats(min_value=0, max_value=0.5)), min_size=1, max_size=40)


@given(series=scores)
def test_between_two_retrainings_the_score_fell_below_reset(series: list[float | None]) -> None:
    replay = Replay(monitor(reset=0.15, grace_period="0s", cooldown="0s", max_age="1d"))
    retrain_days: list[int] = []
    for n, value in enumerate(series):
        decision = replay.score(n, value)
        if any(a.notice.event == "retrain_started" for a in decision.new_actions):
            retrain_days.append(n)
            replay.lifecycle(n + 0.5, "succeeded")
    for first, second in pairwise(retrain_days):
        between = [v for d, v in enumerate(series) if first < d < second and v is not None]
        assert any(v < 0.15 for v in between)


@given(series=scores)
def test_missing_data_never_triggers_a_retraining(series: list[float | None]) -> None:
    replay = Replay(monitor(missing_data="missing", max_age="12h"))
    for n, value in enumerate(series):
        decision = replay.score(n, value)
        if value is None:
            assert "retrain_started" not in [a.notice.event for a in decision.new_actions]
            # the state is kept, except that a retraining that never reported still times out
            assert decision.state == decision.before or [a.notice.event for a in decision.new_actions] == [
                "retrain_failed"
            ]


@given(series=scores)
def test_a_retraining_needs_a_real_datapoint_above_critical(series: list[float | None]) -> None:
    replay = Replay(monitor(critical=0.2, missing_data="breaching", max_age="12h"))
    for n, value in enumerate(series):
        decision = replay.score(n, value)
        if any(a.notice.event == "retrain_started" for a in decision.new_actions):
            assert value is not None and value > 0.2


@given(series=scores)
def test_every_episode_key_is_used_by_one_retraining_only(series: list[float | None]) -> None:
    replay = Replay(monitor(grace_period="0s", cooldown="0s", retrain_on_persisting_drift=True, max_age="1d"))
    for n, value in enumerate(series):
        replay.score(n, value)
        if replay.status is Status.RETRAINING:
            replay.lifecycle(n + 0.5, "succeeded")
    keys = [d.new_actions[0].key for d in replay.retrains()]
    assert len(keys) == len(set(keys))
