"""The `fleet` section and `suppressed_by`: what a user writes, what is refused and how the error names it."""

from __future__ import annotations

from typing import Any

import pytest

from retrain_trigger.config import parse_catalog
from retrain_trigger.errors import ConfigError
from retrain_trigger.fleet_config import alarm_causes, causes_first, monitor_causes


def _document(*monitors: dict[str, Any], fleet: Any = None) -> dict[str, Any]:
    document: dict[str, Any] = {"defaults": {"critical": 0.3}, "monitors": list(monitors)}
    if fleet is not None:
        document["fleet"] = fleet
    return document


def test_without_a_fleet_section_every_limit_is_unlimited_and_alerts_group_over_ten() -> None:
    fleet = parse_catalog(_document({"id": "a"})).fleet
    assert (fleet.max_retrains_per_hour, fleet.max_retrains_per_day, fleet.max_concurrent_retrains) == (None,) * 3
    assert fleet.group_alerts_over == 10
    assert not fleet.budgeted


def test_the_fleet_section_sets_the_budget_and_the_grouping() -> None:
    section = {"max_retrains_per_hour": 5, "max_retrains_per_day": 20, "max_concurrent_retrains": 10}
    fleet = parse_catalog(_document({"id": "a"}, fleet={**section, "group_alerts_over": 3})).fleet
    assert (fleet.max_retrains_per_hour, fleet.max_retrains_per_day, fleet.max_concurrent_retrains) == (5, 20, 10)
    assert fleet.group_alerts_over == 3
    assert fleet.budgeted


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({"max_retrains_per_hour": -1}, "fleet.max_retrains_per_hour"),
        ({"max_retrains_per_day": True}, "fleet.max_retrains_per_day"),
        ({"max_concurrent_retrains": "ten"}, "fleet.max_concurrent_retrains"),
        ({"group_alerts_over": 0}, "fleet.group_alerts_over"),
        ({"max_retrains_per_houre": 5}, "fleet.max_retrains_per_houre"),
        ([5], "fleet"),
    ],
)
def test_a_broken_fleet_section_is_a_document_error_naming_the_field(section: Any, field: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_catalog(_document({"id": "a"}, fleet=section))
    assert (error.value.monitor_id, error.value.field) == ("*", field)


def test_suppressed_by_takes_monitor_ids_and_cloudwatch_alarms() -> None:
    catalog = parse_catalog(_document({"id": "etl"}, {"id": "m", "suppressed_by": ["etl", "alarm:ETL job failed"]}))
    causes = catalog.by_id["m"].suppressed_by
    assert monitor_causes(causes) == ("etl",)
    assert alarm_causes(causes) == ("ETL job failed",)
    assert catalog.errors == ()


def test_an_unknown_cause_refuses_the_dependent_naming_it_and_the_others_still_load() -> None:
    catalog = parse_catalog(_document({"id": "a"}, {"id": "m", "suppressed_by": ["etl"]}))
    assert [m.id for m in catalog.monitors] == ["a"]
    (error,) = catalog.errors
    assert (error.monitor_id, error.field) == ("m", "suppressed_by")
    assert "'etl'" in error.problem


def test_a_cause_that_failed_to_parse_is_unknown_to_its_dependents() -> None:
    catalog = parse_catalog(_document({"id": "etl", "critical": "high"}, {"id": "m", "suppressed_by": ["etl"]}))
    assert catalog.monitors == ()
    assert {(e.monitor_id, e.field) for e in catalog.errors} == {("etl", "critical"), ("m", "suppressed_by")}


def test_a_cycle_of_causes_is_refused_for_every_monitor_on_it_and_its_dependents() -> None:
    catalog = parse_catalog(
        _document(
            {"id": "a", "suppressed_by": ["b"]},
            {"id": "b", "suppressed_by": ["a"]},
            {"id": "c", "suppressed_by": ["a"]},
            {"id": "d"},
        )
    )
    assert [m.id for m in catalog.monitors] == ["d"]
    problems = {e.monitor_id: e.problem for e in catalog.errors}
    assert problems["a"] == "forms a cycle: a -> b -> a"
    assert problems["b"] == "forms a cycle: b -> a -> b"
    assert "refused" in problems["c"]


def test_a_monitor_suppressed_by_itself_is_a_cycle() -> None:
    catalog = parse_catalog(_document({"id": "a", "suppressed_by": ["a"]}))
    assert [(e.monitor_id, e.field, e.problem) for e in catalog.errors] == [
        ("a", "suppressed_by", "forms a cycle: a -> a")
    ]


@pytest.mark.parametrize("cause", ["alarm:", "", "not an id"])
def test_a_malformed_cause_is_refused_naming_the_field(cause: str) -> None:
    catalog = parse_catalog(_document({"id": "a", "suppressed_by": [cause]}))
    (error,) = catalog.errors
    assert (error.monitor_id, error.field) == ("a", "suppressed_by.0")


def test_priority_defaults_to_zero_and_is_a_whole_number() -> None:
    catalog = parse_catalog(_document({"id": "a"}, {"id": "b", "priority": 5}, {"id": "c", "priority": True}))
    assert (catalog.by_id["a"].priority, catalog.by_id["b"].priority) == (0, 5)
    assert [(e.monitor_id, e.field) for e in catalog.errors] == [("c", "priority")]


def test_causes_come_before_their_dependents_and_the_rest_keeps_its_order() -> None:
    causes_of = {"m1": ["etl"], "m2": ["feature-store", "alarm:x"], "etl": [], "feature-store": ["etl"], "z": []}
    ordered = causes_first(["m1", "z", "m2", "feature-store", "etl"], causes_of)
    assert ordered == ["etl", "m1", "z", "feature-store", "m2"]


def test_a_cause_not_due_this_tick_does_not_join_the_order() -> None:
    assert causes_first(["m1"], {"m1": ["etl"], "etl": []}) == ["m1"]
