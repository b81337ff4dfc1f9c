"""The configuration document: defaults, per-monitor overrides, and errors that name the monitor and the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from retrain_trigger.config import PipelineConfig, parse_catalog, parse_catalog_json
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
        ({"missing_data": "sometimes"}, "missing_data"),
        ({"cooldown": "soon"}, "cooldown"),
        ({"colour": "blue"}, "colour"),
        # Cross-field rules blame the field that breaks them, never the whole document.
        ({"reset": 0.3}, "reset"),
        ({"warning": 0.2}, "warning"),
        ({"warning": 0.1, "warning_reset": 0.15}, "warning_reset"),
        ({"warning_reset": 0.1}, "warning_reset"),
        ({"datapoints_to_trigger": 3, "evaluation_periods": 2}, "datapoints_to_trigger"),
        ({"mode": "muted"}, "muted_until"),
        ({"guards": [{"metric": "accuracy"}]}, "guards.0"),
        ({"guards": [{"metric": "accuracy", "below": 0.8}, {"metric": "latency", "below": 1, "above": 2}]}, "guards.1"),
        ({"actions": {"on_retrain": ["sagemaker"]}}, "actions.pipeline"),
        ({"source": {"type": "cloudwatch", "namespace": "ns", "period": "90s"}}, "source.period"),
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


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("cooldown", "-7d"),
        ("cooldown", -1),
        ("grace_period", "-1h"),
        ("retraining_timeout", 0),
        ("retraining_timeout", "0s"),
        ("every", 0),
        ("every", "-15m"),
        ("max_age", 0),
    ],
)
def test_a_negative_duration_or_a_zero_one_that_means_nothing_is_refused_naming_the_key(key: str, value: Any) -> None:
    catalog = parse_catalog(document({"id": "good"}, {"id": "bad", key: value}))

    assert [m.id for m in catalog.monitors] == ["good"]
    assert [(e.monitor_id, e.field) for e in catalog.errors] == [("bad", key)]


def test_a_zero_cloudwatch_period_is_refused() -> None:
    source = {"type": "cloudwatch", "namespace": "ns", "period": 0}

    (error,) = parse_catalog(document({"id": "bad", "source": source})).errors

    assert (error.field, error.problem) == ("source.period", "must be longer than zero")


def test_zero_grace_period_means_no_grace_and_zero_cooldown_means_no_spacing() -> None:
    (monitor,) = parse_catalog(document({"id": "m", "grace_period": 0, "cooldown": "0s"})).monitors

    assert (monitor.grace_period, monitor.cooldown) == (timedelta(0), timedelta(0))


@pytest.mark.parametrize(
    "key", ["critical", "reset", "warning", "evaluation_periods", "datapoints_to_trigger", "max_retrains_per_episode"]
)
def test_a_boolean_is_not_a_number(key: str) -> None:
    catalog = parse_catalog(document({"id": "good"}, {"id": "bad", "critical": 0.5, key: True}))

    (error,) = catalog.errors
    assert (error.monitor_id, error.field, error.problem) == ("bad", key, "must be a number, not a boolean")


def test_a_boolean_guard_level_is_not_a_number() -> None:
    (error,) = parse_catalog(document({"id": "bad", "guards": [{"metric": "accuracy", "below": True}]})).errors

    assert error.field == "guards.0.below"


def test_a_boolean_duration_and_a_worded_boolean_are_refused() -> None:
    catalog = parse_catalog(document({"id": "a", "cooldown": True}, {"id": "b", "retrain_on_persisting_drift": "yes"}))

    assert [(e.monitor_id, e.field) for e in catalog.errors] == [
        ("a", "cooldown"),
        ("b", "retrain_on_persisting_drift"),
    ]


def test_muted_until_is_normalized_to_utc() -> None:
    (monitor,) = parse_catalog(
        document({"id": "m", "mode": "muted", "muted_until": "2024-08-19T19:00:00-05:00"})
    ).monitors

    assert monitor.muted_until == datetime(2024, 8, 20, 0, 0, tzinfo=UTC)
    assert monitor.muted_until.utcoffset() == timedelta(0)


def test_muted_until_without_a_timezone_is_refused_naming_it() -> None:
    (error,) = parse_catalog(document({"id": "m", "mode": "muted", "muted_until": "2024-08-20T00:00:00"})).errors

    assert (error.monitor_id, error.field) == ("m", "muted_until")


@pytest.mark.parametrize("depth", [40, 100_000])
def test_a_deeply_nested_document_is_a_config_error_on_the_whole_document(depth: int) -> None:
    # 100,000 levels make the JSON decoder itself recurse out; 40 pass it and are refused by the depth check.
    text = (
        '{"defaults": {"critical": 0.2}, "monitors": [{"id": "m"}], "description": ' + "[" * depth + "]" * depth + "}"
    )

    with pytest.raises(ConfigError) as error:
        parse_catalog_json(text)

    assert (error.value.monitor_id, error.value.field) == ("*", "(document)")
    assert "nested deeper than" in error.value.problem


def test_a_deeply_nested_object_is_refused_without_recursing() -> None:
    nested: Any = {"critical": 0.2}
    for _ in range(50_000):
        nested = {"x": nested}

    with pytest.raises(ConfigError) as error:
        parse_catalog({"defaults": {"critical": 0.2}, "monitors": [{"id": "m", "description": nested}]})

    assert error.value.field == "(document)"


def test_the_schema_s_own_depth_is_accepted() -> None:
    pipeline = {"name": "p", "parameters": {"Region": "eu-west-1"}}

    (monitor,) = parse_catalog(document({"id": "m", "actions": {"pipeline": pipeline}})).monitors

    assert monitor.actions.pipeline == PipelineConfig(name="p", parameters={"Region": "eu-west-1"})
