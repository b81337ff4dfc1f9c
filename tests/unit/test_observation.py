"""A datapoint from untrusted values: its time is UTC whatever offset it came with, and bad values name the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from retrain_trigger.errors import BadInput
from retrain_trigger.model import Observation

PARIS_SUMMER = timezone(timedelta(hours=2))


def test_a_datapoint_with_an_offset_is_stored_in_utc() -> None:
    # given a producer that stamps local time with its offset
    at = datetime(2024, 8, 9, 2, 0, tzinfo=PARIS_SUMMER)

    # when it is checked
    observation = Observation.checked("churn-model", at, 0.25)

    # then the same instant is kept, written in UTC: midnight, not 02:00+02:00
    assert observation.at.tzinfo is UTC
    assert observation.at.isoformat() == "2024-08-09T00:00:00+00:00"


def test_a_datapoint_in_utc_keeps_its_time() -> None:
    at = datetime(2024, 8, 9, tzinfo=UTC)

    assert Observation.checked("churn-model", at, 0.25).at.isoformat() == "2024-08-09T00:00:00+00:00"


def test_a_datapoint_without_a_timezone_is_bad_input_naming_the_monitor_and_timestamp() -> None:
    with pytest.raises(BadInput) as caught:
        Observation.checked("churn-model", datetime(2024, 8, 9), 0.25)

    assert (caught.value.monitor_id, caught.value.field) == ("churn-model", "timestamp")


def test_a_guard_metric_that_is_not_a_number_is_bad_input_naming_the_metric() -> None:
    with pytest.raises(BadInput) as caught:
        Observation.checked("churn-model", datetime(2024, 8, 9, tzinfo=UTC), 0.25, {"accuracy": "high"})

    assert (caught.value.monitor_id, caught.value.field) == ("churn-model", "accuracy")
