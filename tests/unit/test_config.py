"""The configuration document: defaults, per-monitor overrides, and errors that name the monitor and the field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from retrain_trigger.config import parse_catalog, parse_catalog_json
from retrain_trigger.errors import ConfigError


def document(*monitors: dict[str, Any], **defaults: Any) -> dict[str, Any]:
    return {"defaults": {"critical": 0.2, **defaults}, "monitors": list(monitors)}


def test_a_monitor_overrides_any_default() -> None:
    catalog = parse_catalog(document({"id": "churn"}, {"id": "fraud", "critical": 0.4}, cooldown="3d"))

    churn, fraud = catalog.monitors
    assert (churn.critical, fraud.critical) == (0.2, 0.4)
    assert fraud.cooldown == timedelta(days=3)


def test_reset_defaults_to_critical_and_warning_reset_to_warning() -> None:
    (monitor,) = parse_catalog(document({"id": "churn", "warning": 0.1})).monitors

    assert monitor.reset_level == 0.2
    assert monitor.warning_reset_level == 0.1


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"critical": "high"}, "critical"),
        ({"critical": float("nan")}, "critical"),
        ({"reset": 0.3}, "(document)"),
        ({"datapoints_to_trigger": 3, "evaluation_periods": 2}, "(document)"),
        ({"missing_data": "sometimes"}, "missing_data"),
        ({"cooldown": "soon"}, "cooldown"),
        ({"guards": [{"metric": "accuracy"}]}, "guards.0"),
        ({"actions": {"on_retrain": ["sagemaker"]}}, "actions"),
        ({"mode": "muted"}, "(document)"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_bad_monitor_is_reported_by_id_and_field_and_the_others_still_load(
    override: dict[str, Any], field: str
) -> None:
    catalog = parse_catalog(document({"id": "good"}, {"id": "bad", **override}))

    assert [m.id for m in catalog.monitors] == ["good"]
    (error,) = catalog.errors
    assert error.monitor_id == "bad"
    assert error.field == field


def test_a_duplicate_monitor_id_is_an_error() -> None:
    catalog = parse_catalog(document({"id": "churn"}, {"id": "churn"}))

    assert [e.problem for e in catalog.errors] == ["duplicate monitor id"]


@pytest.mark.parametrize(
    ("text", "field"),
    [("not json", "(document)"), ('{"monitors": []}', "monitors"), ('{"defaults": 1, "monitors": [{}]}', "defaults")],
)
def test_a_broken_document_fails_as_a_whole(text: str, field: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_catalog_json(text)

    assert error.value.field == field


def test_the_config_version_changes_with_the_content_and_not_with_key_order() -> None:
    a = parse_catalog({"defaults": {"critical": 0.2}, "monitors": [{"id": "m"}]})
    b = parse_catalog({"monitors": [{"id": "m"}], "defaults": {"critical": 0.2}})
    c = parse_catalog({"defaults": {"critical": 0.3}, "monitors": [{"id": "m"}]})

    assert a.version == b.version != c.version


def test_durations_accept_compact_iso_and_seconds() -> None:
    (m,) = parse_catalog(document({"id": "m", "grace_period": "PT6H", "cooldown": 90, "every": "15m"})).monitors

    assert (m.grace_period, m.cooldown, m.every) == (timedelta(hours=6), timedelta(seconds=90), timedelta(minutes=15))
