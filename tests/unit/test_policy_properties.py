"""Invariants of the engine over arbitrary score series (hypothesis).

Each property also counts, across all its examples, that its interesting case happened (a retraining, a gap, a
retraining after a completed one...), so it cannot pass on an engine that never does the thing it constrains.
"""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from hypothesis import event, example, given, target
from hypothesis import strategies as st

from retrain_trigger.model import ARMED, Status

from .scenario import Replay, day, monitor

MUTED = {"mode": "muted", "muted_until": "2024-09-01T00:00:00Z"}
scores = st.lists(st.one_of(st.none(), st.floats(min_value=0, max_value=0.5)), min_size=1, max_size=40)


def events_of(decision: object) -> list[str]:
    return [a.notice.event for a in getattr(decision, "new_actions", ())]


def test_between_two_retrainings_the_score_fell_below_reset() -> None:
    seen: Counter[str] = Counter()

    @given(series=scores)
    def check(series: list[float | None]) -> None:
        replay = Replay(monitor(reset=0.15, grace_period="0s", cooldown="0s", max_age="1d"))
        retrain_days: list[int] = []
        for n, value in enumerate(series):
            decision = replay.score(n, value)
            if "retrain_started" in events_of(decision):
                retrain_days.append(n)
                replay.lifecycle(n + 0.5, "succeeded")
        for first, second in pairwise(retrain_days):
            between = [v for d, v in enumerate(series) if first < d < second and v is not None]
            assert any(v < 0.15 for v in between)
        seen["second retraining"] += len(retrain_days) >= 2
        target(float(len(retrain_days)), label="retrainings")

    check()
    assert seen["second retraining"] > 0


def test_missing_data_never_triggers_a_retraining() -> None:
    seen: Counter[str] = Counter()

    @given(series=scores)
    def check(series: list[float | None]) -> None:
        replay = Replay(monitor(missing_data="missing", max_age="12h"))
        for n, value in enumerate(series):
            decision = replay.score(n, value)
            seen["retraining"] += "retrain_started" in events_of(decision)
            if value is None:
                seen["missing"] += 1
                assert "retrain_started" not in events_of(decision)
                # the state is kept, except for the gap's own alert and a retraining that never reported timing out
                assert decision.state == decision.before or set(events_of(decision)) <= {"retrain_failed", "no_data"}

    check()
    assert seen["retraining"] > 0 and seen["missing"] > 0


def test_a_retraining_needs_a_real_datapoint_above_critical() -> None:
    seen: Counter[str] = Counter()

    @given(series=scores)
    def check(series: list[float | None]) -> None:
        replay = Replay(monitor(critical=0.2, missing_data="breaching", max_age="12h"))
        for n, value in enumerate(series):
            decision = replay.score(n, value)
            if "retrain_started" in events_of(decision):
                seen["retraining"] += 1
                assert value is not None and value > 0.2
            seen["alarm on missing data"] += value is None and decision.state.status is Status.ALARM

    check()
    assert seen["retraining"] > 0 and seen["alarm on missing data"] > 0


def test_every_episode_key_is_used_by_one_retraining_only() -> None:
    seen: Counter[str] = Counter()

    @given(series=scores)
    def check(series: list[float | None]) -> None:
        replay = Replay(monitor(grace_period="0s", cooldown="0s", retrain_on_persisting_drift=True, max_age="1d"))
        for n, value in enumerate(series):
            replay.score(n, value)
            if replay.status is Status.RETRAINING:
                replay.lifecycle(n + 0.5, "succeeded")
        keys = [d.new_actions[0].key for d in replay.retrains()]
        assert len(keys) == len(set(keys))
        seen["two retrainings in one episode"] += len({k.split("#")[0] for k in keys}) < len(keys)

    check()
    assert seen["two retrainings in one episode"] > 0


def test_a_gap_never_retrains_and_never_closes_an_episode() -> None:
    seen: Counter[str] = Counter()

    @given(series=scores, missing_data=st.sampled_from(["missing", "ignore", "breaching", "not_breaching"]))
    def check(series: list[float | None], missing_data: str) -> None:
        # Old datapoints stay fresh for max_age (5d): only the gap (no datapoint for over 1d) keeps them out.
        config = monitor(grace_period="0s", cooldown="0s", max_age="5d", no_data_after="1d", missing_data=missing_data)
        replay = Replay(config)
        for n, value in enumerate(series):
            decision = replay.score(n, value)
            seen["retraining"] += "retrain_started" in events_of(decision)
            if replay.status is Status.RETRAINING:
                replay.lifecycle(n + 0.5, "succeeded")
            if decision.state.gap_since is not None:
                seen["gap"] += 1
                event("gap with an open episode" if decision.before.episode else "gap while armed")
                seen["gap with an open episode"] += decision.before.episode is not None
                assert "retrain_started" not in events_of(decision)
                assert decision.before.episode is None or decision.state.episode is not None
        target(float(series.count(None)), label="missing days")

    check()
    assert seen["retraining"] > 0 and seen["gap"] > 0 and seen["gap with an open episode"] > 0


def test_no_retraining_is_justified_by_a_datapoint_older_than_the_last_completed_retraining() -> None:
    seen: Counter[str] = Counter()

    @given(series=scores, m_of_n=st.sampled_from([(1, 1), (1, 3), (2, 3)]))
    def check(series: list[float | None], m_of_n: tuple[int, int]) -> None:
        m, n_periods = m_of_n
        config = monitor(
            grace_period="0s",
            cooldown="0s",
            retrain_on_persisting_drift=True,
            max_retrains_per_episode=10,
            max_age="10d",
            no_data_after=None,
            datapoints_to_trigger=m,
            evaluation_periods=n_periods,
        )
        replay = Replay(config)
        completed = None
        for n, value in enumerate(series):
            decision = replay.score(n, value)
            if "retrain_started" in events_of(decision):
                justified_by = decision.new_actions[0].notice.datapoint_at
                assert justified_by is not None
                if completed is not None:
                    seen["retraining after a completed one"] += 1
                    assert justified_by > completed
                replay.lifecycle(n + 0.5, "succeeded")
                completed = day(n + 0.5)

    check()
    assert seen["retraining after a completed one"] > 0


def test_shadow_and_active_visit_the_same_states_on_the_same_series() -> None:
    seen: Counter[str] = Counter()

    @given(
        series=scores,
        cooldown=st.sampled_from(["0s", "3d"]),
        grace=st.sampled_from(["0s", "2d"]),
        persisting=st.booleans(),
    )
    def check(series: list[float | None], cooldown: str, grace: str, persisting: bool) -> None:
        settings = {
            "warning": 0.1,
            "cooldown": cooldown,
            "grace_period": grace,
            "retrain_on_persisting_drift": persisting,
            "max_age": "2d",
        }
        active, shadow = Replay(monitor(**settings)), Replay(monitor(mode="shadow", **settings))
        for n, value in enumerate(series):
            acted, logged = active.score(n, value), shadow.score(n, value)
            if active.status is Status.RETRAINING:
                active.lifecycle(n, "succeeded")  # what shadow assumes: the retraining succeeds at once
            assert shadow.status is active.status
            # The same episode, field for field, but for the execution ARN: shadow mode starts no pipeline.
            episode = active.state.episode
            # the episode records the mode it opened in (issue 13 item 6)
            expected = episode.model_copy(update={"execution_arn": None, "shadow": True}) if episode else None
            assert shadow.state.episode == expected
            assert logged.new_actions == ()
            assert sorted(logged.suppressed) == sorted(f"{a.kind}:{a.notice.event}" for a in acted.new_actions)
            seen["would-be retraining"] += "retrain_started" in events_of(acted)
            seen["blocked by cooldown"] += "cooldown" in acted.reason and "cooldown" in logged.reason

    check()
    assert seen["would-be retraining"] > 0 and seen["blocked by cooldown"] > 0


def test_an_episode_is_open_exactly_outside_the_armed_states_and_a_request_exactly_while_awaiting_approval() -> None:
    """The two invariants the fleet's `cause_open` and the approval rules rely on, over ticks, retraining outcomes,
    deployments and operator answers in any order, with approval required or not and the mode switched between
    active, muted and shadow."""
    seen: Counter[str] = Counter()
    scored = [None, 0.05, 0.12, 0.3, 0.3, 0.4]  # None: no datapoint that day
    other = ["succeeded", "failed", "executing", "deployed", "approve", "reject", "acknowledge"]
    steps = st.lists(st.sampled_from([*scored, *other, "active", "shadow", "muted", "no approval"]), max_size=40)

    @given(steps=steps)
    @example(steps=[0.05, 0.3, "acknowledge", "approve", "executing", "succeeded", 0.3, 0.3, 0.3, "reject", 0.1])
    @example(steps=[0.3, "deployed", "no approval", 0.3, "shadow", "approve", 0.3, "active", 0.3, "muted", 0.4])
    def check(steps: list[float | str | None]) -> None:
        base = {"approval": "required", "grace_period": "1d", "cooldown": "2d", "approval_timeout": "3d"}
        modes = {"active": {}, "shadow": {"mode": "shadow"}, "muted": MUTED, "no approval": {"approval": "none"}}
        replay = Replay(monitor(**base))
        for n, step in enumerate(steps):
            if not isinstance(step, str):
                replay.score(n, step)
            elif step in modes:
                replay.config = monitor(**(base | modes[step]))
            elif step in ("approve", "reject", "acknowledge"):
                replay.command(step, day(n + 0.5))
            else:
                replay.lifecycle(n + 0.5, step)
            state = replay.state
            assert (state.episode is None) == (state.status in ARMED)
            requested = state.episode is not None and state.episode.approval == "requested"
            assert requested == (state.status is Status.AWAITING_APPROVAL)
            seen["awaiting approval"] += state.status is Status.AWAITING_APPROVAL
            seen["answered"] += state.episode is not None and state.episode.approval in ("approved", "rejected")

    check()
    assert seen["awaiting approval"] > 0 and seen["answered"] > 0
