"""Bad score items (issue 13 item 12), on the fakes: a read names the items it skipped; the service reports each
once, remembers it in the monitor's state only on the tick that reports it, and decides on the valid datapoints."""

from __future__ import annotations

from retrain_trigger.errors import BadInput, DependencyError
from retrain_trigger.model import RefusedItem
from tests.unit.test_outbox import Rig, hour

YESTERDAY = RefusedItem("yesterday", BadInput("churn-model", "timestamp", "not an ISO-8601 time: 'yesterday'"))
NAN = RefusedItem("2024-08-09T00:30:00Z", BadInput("churn-model", "drift_score", "not a finite number: nan"))


def bad_item_keys(rig: Rig) -> list[str]:
    return [c.key for c in rig.gateway.of("sns") if c.key.startswith("churn-model:bad_score_item:")]


def test_a_bad_item_is_reported_once_and_the_monitor_is_decided_on_the_valid_datapoints() -> None:
    rig = Rig()
    rig.scores.refused["churn-model"] = [YESTERDAY]
    rig.score(hour(0), 0.2186)

    report = rig.tick(hour(0))

    (result,) = report.results
    assert (result.outcome, result.decision.state.status.value) == ("transition", "RETRAINING")
    assert result.refused == [{"item_key": "yesterday", **YESTERDAY.error.as_dict()}]
    assert bad_item_keys(rig) == ["churn-model:bad_score_item:yesterday"]
    assert rig.state().refused_items == ("yesterday",)


def test_a_steady_tick_with_an_already_reported_item_writes_and_sends_nothing_for_it() -> None:
    rig = Rig()
    rig.scores.refused["churn-model"] = [YESTERDAY]
    rig.score(hour(0), 0.05)
    rig.tick(hour(0))
    commits, calls = rig.states.commits, len(rig.gateway.calls)

    rig.score(hour(1), 0.05)
    report = rig.tick(hour(1))

    assert (report.results[0].outcome, report.results[0].refused) == ("unchanged", [])
    assert (rig.states.commits, len(rig.gateway.calls)) == (commits, calls)


def test_an_alert_that_failed_is_not_remembered_and_is_tried_again_on_the_next_tick() -> None:
    rig = Rig()
    rig.scores.refused["churn-model"] = [YESTERDAY]
    rig.score(hour(0), 0.05)
    rig.gateway.fail["sns"] = DependencyError("SNS down")

    first = rig.tick(hour(0))

    assert [a["status"] for a in first.results[0].actions] == ["failed"]
    assert rig.state().refused_items == ()
    del rig.gateway.fail["sns"]
    rig.tick(hour(1))
    assert bad_item_keys(rig) == ["churn-model:bad_score_item:yesterday"]


def test_the_state_remembers_only_the_items_the_read_still_skips() -> None:
    rig = Rig()
    rig.scores.refused["churn-model"] = [YESTERDAY]
    rig.score(hour(0), 0.05)
    rig.tick(hour(0))

    rig.scores.refused["churn-model"] = [NAN]  # `yesterday` was deleted by its producer; a new bad item came
    rig.tick(hour(1))

    assert rig.state().refused_items == (NAN.key,)
    assert bad_item_keys(rig) == ["churn-model:bad_score_item:yesterday", f"churn-model:bad_score_item:{NAN.key}"]


def test_a_muted_monitor_reports_no_bad_item_until_the_mute_ends() -> None:
    rig = Rig(mode="muted", muted_until="2024-08-09T02:00:00Z")
    rig.scores.refused["churn-model"] = [YESTERDAY]
    rig.score(hour(0), 0.05)

    rig.tick(hour(0))

    assert bad_item_keys(rig) == []
    rig.tick(hour(3))  # the mute has ended
    assert bad_item_keys(rig) == ["churn-model:bad_score_item:yesterday"]
