"""`announce_after_mute` (policy/rules.py): an episode opened while muted and still open when the mute ends is
announced once, under its own key. No AWS anywhere in here."""

from __future__ import annotations

from retrain_trigger.model import Status

from .scenario import Replay, monitor

EPISODE = "churn-model@20240802T000000Z"


def opened_while_muted() -> Replay:
    """Muted until day 3; critical from day 1 while the guard holds the retraining back (ALARM)."""
    replay = Replay(
        monitor(mode="muted", muted_until="2024-08-04T00:00:00Z", guards=[{"metric": "accuracy", "below": 0.85}])
    )
    replay.score(0, 0.1, accuracy=0.95)
    replay.score(1, 0.3, accuracy=0.95)
    replay.score(2, 0.3, accuracy=0.95)
    assert replay.status is Status.ALARM
    return replay


class TestAnnouncedAfterTheMute:
    def test_the_critical_alert_goes_out_under_the_episodes_own_key_when_the_mute_ends(self) -> None:
        replay = opened_while_muted()

        announced = replay.score(3, 0.3, accuracy=0.95)

        assert [(a.kind, a.key, a.notice.event) for a in announced.new_actions] == [
            ("sns", f"{EPISODE}#0:critical", "critical")
        ]
        assert announced.reason == (
            f"episode {EPISODE} opened while muted and is still open: announced now the mute has ended"
        )

    def test_it_is_announced_once(self) -> None:
        replay = opened_while_muted()
        replay.score(3, 0.3, accuracy=0.95)

        later = replay.score(4, 0.3, accuracy=0.95)

        assert later.new_actions == ()
