"""`model_deployed` (policy/lifecycle.py) while a longer grace period already runs: the grace period stays, the
model's age still counts from the deployment. No AWS anywhere in here."""

from __future__ import annotations

from retrain_trigger.model import Status

from .scenario import Replay, day, monitor


def long_grace_running() -> Replay:
    """Deployed on day 0 with a 12-day grace period, which the operator then shortened to one day."""
    replay = Replay(monitor(max_model_age="10d", grace_period="12d"))
    replay.score(0, 0.05)
    replay.lifecycle(0, "deployed")
    replay.config = monitor(max_model_age="10d", grace_period="1d")
    return replay


class TestDeploymentDuringALongerGracePeriod:
    def test_the_age_counts_from_the_deployment_and_the_longer_grace_period_stays(self) -> None:
        replay = long_grace_running()

        deployed = replay.lifecycle(3, "deployed")

        assert deployed.reason == "model deployed; grace period already runs longer; its age counts from now"
        assert (replay.state.model_at, replay.state.grace_until) == (day(3), day(12))
        assert replay.status is Status.OK

    def test_the_same_deployment_told_twice_changes_nothing_the_second_time(self) -> None:
        replay = long_grace_running()
        replay.lifecycle(3, "deployed")

        again = replay.lifecycle(3, "deployed")

        assert again.reason == "model deployed; grace period already runs longer"
        assert not again.changed

    def test_without_max_model_age_it_changes_nothing(self) -> None:
        replay = Replay(monitor(grace_period="12d"))
        replay.lifecycle(0, "deployed")
        replay.config = monitor(grace_period="1d")

        deployed = replay.lifecycle(3, "deployed")

        assert deployed.reason == "model deployed; grace period already runs longer"
        assert (replay.state.model_at, replay.state.grace_until) == (day(0), day(12))
