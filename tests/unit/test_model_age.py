"""`model_age` (policy/model_age.py): past `max_model_age` a retraining starts without drift, once per age window.
No AWS anywhere in here."""

from __future__ import annotations

from retrain_trigger.model import Status
from retrain_trigger.policy import evaluate

from .scenario import Replay, day, monitor


def aged(**overrides: object) -> Replay:
    """A healthy monitor (scores far below reset) whose model may be 10 days old."""
    return Replay(monitor(max_model_age="10d", **overrides))


def starts(replay: Replay) -> list[tuple[float, str, str]]:
    """(day, key, reason) of every retraining start."""
    return [
        ((d.at - day(0)).total_seconds() / 86400, a.key, a.notice.reason)
        for d in replay.retrains()
        for a in d.new_actions
        if a.kind == "sagemaker"
    ]


class TestModelAge:
    def test_the_first_evaluation_records_when_the_age_starts_counting(self) -> None:
        replay = aged()

        first = replay.score(0, 0.05)

        assert first.outcome == "transition"
        assert "model age counted from 2024-08-01T00:00:00+00:00" in first.reason
        assert replay.state.model_at == day(0)

    def test_past_max_model_age_a_retraining_starts_without_drift_with_the_reason_model_age(self) -> None:
        replay = aged()

        replay.scores(0, [0.05] * 11)

        assert [(n, key) for n, key, _ in starts(replay)] == [
            (10, "churn-model@20240811T000000Z~age#1:retrain_started")
        ]
        assert starts(replay)[0][2].startswith("model age: 10 days, 0:00:00 since 2024-08-01T00:00:00+00:00")
        assert replay.status is Status.RETRAINING

    def test_a_model_one_tick_younger_than_max_model_age_does_not_retrain(self) -> None:
        replay = aged()

        replay.scores(0, [0.05] * 10)  # days 0..9

        assert starts(replay) == []

    def test_a_retry_of_the_tick_derives_the_same_idempotency_keys(self) -> None:
        replay = aged()
        replay.scores(0, [0.05] * 10)

        first = evaluate(replay.config, replay.state, [], day(10), "v1")
        again = evaluate(replay.config, replay.state, [], day(10), "v1")

        assert [a.key for a in first.new_actions] == [a.key for a in again.new_actions] != []

    def test_a_failed_age_retraining_is_not_tried_again_in_the_same_age_window_but_in_the_next(self) -> None:
        replay = aged(cooldown="1d")
        replay.scores(0, [0.05] * 11)
        replay.lifecycle(10.5, "failed")

        replay.scores(11, [0.05] * 10)  # days 11..20: the episode closes below reset, the window is spent

        assert [(n, key) for n, key, _ in starts(replay)] == [
            (10, "churn-model@20240811T000000Z~age#1:retrain_started"),
            (20, "churn-model@20240821T000000Z~age#1:retrain_started"),
        ]

    def test_a_successful_retraining_restarts_the_age(self) -> None:
        replay = aged()
        replay.scores(0, [0.05] * 11)
        replay.lifecycle(10.5, "succeeded")

        replay.scores(11, [0.05] * 11)  # days 11..21

        assert replay.state.model_at == day(10.5)  # the second age retraining's own success is not in yet
        assert [n for n, _, _ in starts(replay)] == [10, 21]  # 10.5 + 10 days: the first tick after it is day 21

    def test_a_model_deployed_event_restarts_the_age(self) -> None:
        replay = aged(grace_period="1h")
        replay.scores(0, [0.05] * 5)
        replay.lifecycle(4.5, "deployed")

        replay.scores(5, [0.05] * 10)  # days 5..14

        assert replay.state.model_at == day(4.5)
        assert starts(replay) == []
        replay.score(15, 0.05)  # the first tick at least 10 days after the deployment
        assert [n for n, _, _ in starts(replay)] == [15]

    def test_an_open_drift_episode_keeps_its_own_rules_and_the_age_retraining_waits_until_it_closes(self) -> None:
        replay = aged(guards=[{"metric": "accuracy", "below": 0.85}])  # drift alerts, never retrains
        replay.scores(0, [0.05] * 8)
        for n in (8, 9, 10, 11):
            replay.score(n, 0.3, accuracy=0.95)  # ALARM from day 8: the age passes on day 10

        assert starts(replay) == []
        replay.score(12, 0.05)  # the drift episode closes

        assert replay.status is Status.OK
        replay.score(13, 0.05)
        assert [n for n, _, _ in starts(replay)] == [13]

    def test_muted_the_age_retraining_waits_without_spending_its_window(self) -> None:
        replay = aged(mode="muted", muted_until="2024-08-13T00:00:00Z")

        waiting = replay.scores(0, [0.05] * 12)[-2:]  # days 10, 11: the mute ends on day 12

        assert starts(replay) == []
        assert all("retraining waits: muted until 2024-08-13T00:00:00+00:00" in d.reason for d in waiting)
        replay.score(12, 0.05)
        assert [n for n, _, _ in starts(replay)] == [12]

    def test_in_shadow_mode_the_age_retraining_is_taken_as_succeeded_at_once_and_the_age_restarts(self) -> None:
        replay = aged(mode="shadow")

        replay.scores(0, [0.05] * 11)

        assert replay.status is Status.RETRAINED
        assert replay.state.model_at == day(10)
        assert replay.decisions[-1].new_actions == () and replay.decisions[-1].suppressed

    def test_without_max_model_age_nothing_is_recorded_and_nothing_starts(self) -> None:
        replay = Replay(monitor())

        replay.scores(0, [0.05] * 30)

        assert replay.state.model_at is None and starts(replay) == []
