"""`model_age` (policy/model_age.py) at its edges: what a waiting age retraining tells the operator, where the grace
period and the cooldown end, and the episode an age retraining opens. No AWS anywhere in here."""

from __future__ import annotations

from retrain_trigger.model import Status

from .scenario import Replay, day, monitor


def aged(**overrides: object) -> Replay:
    """A healthy monitor (scores far below reset) whose model may be 10 days old."""
    return Replay(monitor(max_model_age="10d", **overrides))


def age_started_on(replay: Replay) -> list[float]:
    return [(d.at - day(0)).total_seconds() / 86400 for d in replay.retrains()]


def failed_age_retraining(cooldown: str) -> Replay:
    """The age retraining of day 10 failed; the next age window starts on day 20."""
    replay = aged(cooldown=cooldown)
    replay.scores(0, [0.05] * 11)
    replay.lifecycle(10.5, "failed")
    replay.scores(11, [0.05] * 9)  # days 11..19
    return replay


class TestWaitingAgeRetraining:
    def test_in_the_cooldown_it_waits_and_names_when_the_cooldown_ends(self) -> None:
        replay = failed_age_retraining(cooldown="12d")

        waiting = replay.score(20, 0.05)

        assert "retraining waits: cooldown until 2024-08-23T00:00:00+00:00" in waiting.reason
        assert age_started_on(replay) == [10]

    def test_it_starts_at_the_very_end_of_the_cooldown(self) -> None:
        replay = failed_age_retraining(cooldown="12d")

        replay.scores(20, [0.05] * 3)  # days 20, 21, 22: the cooldown ends on day 22

        assert age_started_on(replay) == [10, 22]

    def test_in_the_grace_period_it_waits_and_names_when_the_grace_period_ends(self) -> None:
        replay = aged(grace_period="12d")
        replay.score(0, 0.05)
        replay.lifecycle(0, "deployed")  # grace period until day 12, the age counts from day 0

        waiting = replay.scores(1, [0.05] * 10)[-1]  # day 10

        assert "retraining waits: grace period until 2024-08-13T00:00:00+00:00" in waiting.reason
        assert age_started_on(replay) == []

    def test_it_starts_at_the_very_end_of_the_grace_period(self) -> None:
        replay = aged(grace_period="12d")
        replay.score(0, 0.05)
        replay.lifecycle(0, "deployed")

        replay.scores(1, [0.05] * 12)  # days 1..12: the grace period ends on day 12

        assert age_started_on(replay) == [12]

    def test_without_on_retrain_actions_it_waits_and_says_none_are_configured(self) -> None:
        replay = aged(actions={"on_retrain": []})

        waiting = replay.scores(0, [0.05] * 11)[-1]

        assert waiting.reason.endswith("retraining waits: no on_retrain actions configured")
        assert replay.status is Status.OK

    def test_every_reason_it_waits_for_is_listed_separated_by_semicolons(self) -> None:
        replay = aged(mode="muted", muted_until="2024-08-13T00:00:00Z", actions={"on_retrain": []})

        waiting = replay.scores(0, [0.05] * 11)[-1]

        assert waiting.reason.endswith(
            "retraining waits: no on_retrain actions configured; muted until 2024-08-13T00:00:00+00:00"
        )

    def test_a_waiting_tick_without_fresh_data_keeps_its_insufficient_data_outcome(self) -> None:
        replay = aged(mode="muted", muted_until="2024-08-13T00:00:00Z", missing_data="missing")
        replay.scores(0, [0.05] * 8)

        waiting = replay.scores(8, [None] * 4)[-1]  # day 11: the newest datapoint is 3 days old

        assert "retraining waits: muted" in waiting.reason
        assert waiting.outcome == "insufficient_data"


class TestAgeEpisode:
    def test_an_active_monitors_age_episode_is_not_a_shadow_episode(self) -> None:
        replay = aged()

        replay.scores(0, [0.05] * 11)

        assert replay.state.episode is not None and replay.state.episode.shadow is False

    def test_a_shadow_monitors_age_episode_is_a_shadow_episode(self) -> None:
        replay = aged(mode="shadow")

        replay.scores(0, [0.05] * 11)

        assert replay.state.episode is not None and replay.state.episode.shadow is True
