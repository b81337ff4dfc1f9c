"""Issue 16, CLI messages: a configuration mistake is named as the user wrote it, by the evaluator and the CLI alike."""

from __future__ import annotations

from typing import Any

import pytest

from retrain_trigger.config import parse_catalog


def only_error(monitor: dict[str, Any]) -> tuple[str, str]:
    (error,) = parse_catalog({"monitors": [{"id": "churn", **monitor}]}).errors
    return error.field, error.problem


def test_a_typoed_key_is_named_with_the_key_it_probably_meant() -> None:
    assert only_error({"critcal": 0.2}) == ("critcal", "unknown key 'critcal' (did you mean 'critical'?)")


def test_a_typoed_nested_key_is_named_with_its_path_and_the_nearest_key_there() -> None:
    field, problem = only_error({"critical": 0.2, "actions": {"on_retrian": ["sqs"]}})

    assert (field, problem) == ("actions.on_retrian", "unknown key 'on_retrian' (did you mean 'on_retrain'?)")


def test_an_unknown_key_like_no_other_is_named_without_a_guess() -> None:
    assert only_error({"critical": 0.2, "colour": "blue"}) == ("colour", "unknown key 'colour'")


@pytest.mark.parametrize("written", ["-1h", "-6h", "-15m", "-2w", "-7d", "-90s", "-1.5d"])
@pytest.mark.parametrize("key", ["cooldown", "grace_period", "every", "retraining_timeout"])
def test_every_negative_compact_duration_is_refused_as_negative(key: str, written: str) -> None:
    assert only_error({"critical": 0.2, key: written}) == (key, "must not be negative")


def test_a_zero_duration_where_one_must_be_positive_is_still_refused_as_zero() -> None:
    assert only_error({"critical": 0.2, "every": "0h"}) == ("every", "must be longer than zero")
