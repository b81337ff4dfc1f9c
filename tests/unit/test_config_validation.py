"""Config validation at its boundaries: each cross-field rule refuses one past the limit and accepts the limit."""

from __future__ import annotations

from typing import Any

import pytest

from retrain_trigger.config import parse_catalog


def document(**monitor: Any) -> dict[str, Any]:
    return {"defaults": {"critical": 0.2}, "monitors": [{"id": "good"}, {"id": "churn-model", **monitor}]}


def test_datapoints_to_recover_above_evaluation_periods_is_refused_naming_the_monitor_and_the_field() -> None:
    # given recovery evidence that cannot fit in the window the sources read
    catalog = parse_catalog(document(evaluation_periods=3, datapoints_to_recover=4))

    # then that monitor alone is refused, and the error names it and the field
    assert [m.id for m in catalog.monitors] == ["good"]
    (error,) = catalog.errors
    assert error.monitor_id == "churn-model"
    assert error.field == "datapoints_to_recover"
    assert "must not exceed evaluation_periods" in str(error)


def test_datapoints_to_recover_equal_to_evaluation_periods_is_accepted() -> None:
    catalog = parse_catalog(document(evaluation_periods=3, datapoints_to_recover=3))

    assert catalog.errors == ()
    assert [(m.id, m.datapoints_to_recover) for m in catalog.monitors] == [("good", 1), ("churn-model", 3)]


def test_datapoints_to_trigger_equal_to_evaluation_periods_is_accepted() -> None:
    catalog = parse_catalog(document(evaluation_periods=3, datapoints_to_trigger=3))

    assert catalog.errors == ()
    assert catalog.monitors[1].datapoints_to_trigger == 3


@pytest.mark.parametrize(
    ("levels", "field"),
    [
        ({"reset": 0.2000001}, "reset"),  # reset just above critical
        ({"warning": 0.2}, "warning"),  # warning at critical
        ({"warning": 0.1, "warning_reset": 0.1000001}, "warning_reset"),
    ],
)
def test_a_level_just_past_its_limit_is_refused(levels: dict[str, float], field: str) -> None:
    (error,) = parse_catalog(document(**levels)).errors

    assert (error.monitor_id, error.field) == ("churn-model", field)


@pytest.mark.parametrize("levels", [{"reset": 0.2}, {"warning": 0.19}, {"warning": 0.1, "warning_reset": 0.1}])
def test_a_level_at_its_limit_is_accepted(levels: dict[str, float]) -> None:
    catalog = parse_catalog(document(**levels))

    assert catalog.errors == ()
    assert len(catalog.monitors) == 2
