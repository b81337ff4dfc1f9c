"""The detectors' readers on the files in tests/data/detectors/ (see its README for who wrote each): what items they
give, and how a malformed file is refused, naming the file and the field. No AWS here."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from retrain_trigger.detectors import DetectorFileError, read_items

DATA = Path(__file__).resolve().parents[1] / "data" / "detectors"
AT = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def read(name: str, fmt: str, monitor: str | None = "churn-model", at: datetime | None = None) -> list[dict]:  # type: ignore[type-arg]
    return [i.as_item() for i in read_items(fmt, (DATA / name).read_bytes(), name, monitor, at)]


class TestModelMonitor:
    def test_each_drift_violation_gives_its_feature_the_distance_and_the_score_is_the_largest(self) -> None:
        [item] = read("constraint_violations.json", "model-monitor", at=AT)
        assert item["monitor_id"] == "churn-model"
        assert item["timestamp"] == "2026-12-07T03:00:00Z"
        assert item["Account Length"] == Decimal("0.3826979472")
        assert item["Day Mins"] == Decimal("0.1452112676")
        assert item["drift_score"] == Decimal("0.3826979472")

    def test_a_data_type_violation_counts_the_share_of_values_not_of_the_baseline_type(self) -> None:
        [item] = read("constraint_violations.json", "model-monitor", at=AT)
        assert item["Intl Calls"] == Decimal("0.04")  # "Only 96.0% of data is Integral"

    def test_completeness_is_data_quality_not_drift_and_gives_no_feature(self) -> None:
        [item] = read("constraint_violations.json", "model-monitor", at=AT)
        assert "State" not in item
        assert item["drifted"] == ["Account Length", "Day Mins", "Intl Calls"]

    def test_no_drift_violation_scores_zero(self) -> None:
        [item] = read_items("model-monitor", b'{"violations": []}', "cv.json", "m", AT)
        assert item.drift_score == 0.0 and dict(item.features) == {}

    def test_the_file_holds_no_time_so_one_must_be_given(self) -> None:
        with pytest.raises(DetectorFileError, match=r"constraint_violations\.json: field '\(time\)'"):
            read("constraint_violations.json", "model-monitor", at=None)

    def test_a_drift_description_without_a_distance_is_refused_naming_the_violation(self) -> None:
        violation = {"feature_name": "a", "constraint_check_type": "baseline_drift_check", "description": "too big"}
        document = {"violations": [violation]}
        with pytest.raises(DetectorFileError) as refused:
            read_items("model-monitor", json.dumps(document).encode(), "cv.json", "m", AT)
        assert (refused.value.source, refused.value.field) == ("cv.json", "violations[0].description")


class TestLong:
    @pytest.mark.parametrize("name", ["long.csv", "long.jsonl"])
    def test_the_rows_of_one_monitor_and_time_make_one_item(self, name: str) -> None:
        items = read(name, "long", monitor=None)
        assert [(i["monitor_id"], i["timestamp"]) for i in items] == [
            ("churn-model", "2026-12-07T01:00:00Z"),
            ("churn-model", "2026-12-07T02:00:00Z"),
            ("fraud-model", "2026-12-07T01:00:00Z"),
        ]
        first, second, fraud = items
        assert first == {
            "monitor_id": "churn-model",
            "timestamp": "2026-12-07T01:00:00Z",
            "drift_score": Decimal("0.21"),
            "sample_count": 1200,
            "age": Decimal("0.31"),
            "income": Decimal("0.04"),
        }
        assert second["drift_score"] == Decimal("0.12")  # no drift_score row: the largest feature
        assert "sample_count" not in second
        assert fraud["amount"] == Decimal("0.4")

    def test_csv_and_json_lines_give_the_same_items(self) -> None:
        assert read("long.csv", "long", None) == read("long.jsonl", "long", None)

    def test_a_named_monitor_refuses_rows_of_another(self) -> None:
        with pytest.raises(DetectorFileError, match=r"long\.csv: field 'row 7\.monitor_id'"):
            read("long.csv", "long", monitor="churn-model")

    def test_a_time_without_a_zone_is_refused_naming_the_row(self) -> None:
        data = b"monitor_id,timestamp,metric,value\nm,2026-12-07T01:00:00,age,0.3\n"
        with pytest.raises(DetectorFileError, match=r"field 'row 1\.timestamp': .* has no timezone"):
            read_items("long", data, "x.csv", None, None)

    def test_the_same_metric_twice_for_one_datapoint_is_refused(self) -> None:
        data = b"monitor_id,timestamp,metric,value\nm,2026-12-07T01:00:00Z,age,0.3\nm,2026-12-07T01:00:00Z,age,0.4\n"
        with pytest.raises(DetectorFileError, match=r"field 'row 2\.metric'"):
            read_items("long", data, "x.csv", None, None)

    def test_an_item_attribute_is_not_a_metric(self) -> None:
        data = b"monitor_id,timestamp,metric,value\nm,2026-12-07T01:00:00Z,timestamp,3\n"
        with pytest.raises(DetectorFileError, match=r"field 'row 1\.metric'"):
            read_items("long", data, "x.csv", None, None)

    def test_a_sample_count_that_is_not_a_whole_number_is_refused(self) -> None:
        header, stamp = "monitor_id,timestamp,metric,value", "m,2026-12-07T01:00:00Z"
        data = f"{header}\n{stamp},age,0.2\n{stamp},sample_count,1.5\n".encode()
        with pytest.raises(DetectorFileError, match=r"field 'sample_count': .* not a count"):
            read_items("long", data, "x.csv", None, None)


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(DetectorFileError, match=r"field '\(format\)'"):
        read_items("whylogs", b"", "x.json", "m", None)


def test_a_format_whose_file_names_no_monitor_needs_one() -> None:
    with pytest.raises(DetectorFileError, match=r"field '\(monitor\)'"):
        read_items("model-monitor", b"{}", "x.json", None, AT)


def metric_values(name: str) -> dict[str, object]:
    """What Evidently wrote, read plainly: {metric_name: value}."""
    document = json.loads((DATA / name).read_text())
    return {m["metric_name"]: m["value"] for m in document["metrics"]}


class TestEvidently:
    def test_the_drifted_share_is_the_score_and_each_value_drift_a_feature(self) -> None:
        [item] = read("evidently_0_7_data_drift.json", "evidently", at=AT)
        written = metric_values("evidently_0_7_data_drift.json")
        share = written["DriftedColumnsCount(drift_share=0.5)"]["share"]  # type: ignore[index]
        assert item["drift_score"] == Decimal(repr(round(share, 10)))
        assert item["drift_score"] == Decimal("0.6666666667")  # 2 of the 3 columns
        wasserstein, jensen_shannon = "Wasserstein distance (normed)", "Jensen-Shannon distance"
        for column, method in (("age", wasserstein), ("income", wasserstein), ("region", jensen_shannon)):
            value = written[f"ValueDrift(column={column},method={method},threshold=0.1)"]
            assert item[column] == Decimal(repr(round(value, 10))), column  # type: ignore[call-overload]
        assert item["timestamp"] == "2026-12-07T03:00:00Z"
        assert item["drift_method"] == "evidently"

    def test_drifted_is_evidentlys_own_verdict_per_column(self) -> None:
        [item] = read("evidently_0_7_data_drift.json", "evidently", at=AT)
        assert item["drifted"] == ["age", "region"]  # the shifted and the reweighted column; income kept its shape

    def test_a_0_7_report_holds_no_time_so_one_must_be_given(self) -> None:
        with pytest.raises(DetectorFileError, match=r"evidently_0_7_data_drift\.json: field '\(time\)'"):
            read("evidently_0_7_data_drift.json", "evidently", at=None)

    def test_the_legacy_data_drift_table_reads_as_the_same_item_with_its_own_time(self) -> None:
        [legacy] = read("evidently_legacy_data_drift.json", "evidently", at=None)
        [current] = read("evidently_0_7_data_drift.json", "evidently", at=AT)
        assert legacy == current  # the same data, the same report, in the two layouts

    def test_a_p_value_test_drifts_below_its_threshold_not_above(self) -> None:
        def value_drift(column: str, p_value: float) -> dict[str, object]:
            config = {"type": "evidently:metric_v2:ValueDrift", "column": column, "method": "K-S p_value"}
            return {"config": config | {"threshold": 0.05}, "value": p_value}

        count = {"config": {"type": "evidently:metric_v2:DriftedColumnsCount"}, "value": {"count": 1.0, "share": 0.5}}
        snapshot = {"metrics": [count, value_drift("a", 0.01), value_drift("b", 0.5)]}
        [item] = read_items("evidently", json.dumps(snapshot).encode(), "s.json", "m", AT)
        assert item.drifted == ("a",)


class TestNannyML:
    def test_each_analysis_chunk_is_one_item_at_its_end(self) -> None:
        items = read("nannyml_results.csv", "nannyml")
        assert [i["timestamp"] for i in items] == [f"2026-12-{day:02d}T00:00:00Z" for day in range(2, 8)]
        assert {i["sample_count"] for i in items} == {24}  # daily chunks of hourly rows

    def test_univariate_drift_values_are_the_features_and_the_largest_is_the_score(self) -> None:
        rows = list(csv.DictReader((DATA / "nannyml_results.csv").open()))
        for row, item in zip(rows, read("nannyml_results.csv", "nannyml"), strict=True):
            age, region = float(row["age_jensen_shannon_value"]), float(row["region_jensen_shannon_value"])
            assert (item["age"], item["region"]) == (Decimal(repr(round(age, 10))), Decimal(repr(round(region, 10))))
            assert item["drift_score"] == max(item["age"], item["region"])

    def test_estimated_performance_is_kept_apart_from_drift(self) -> None:
        items = read("nannyml_results.csv", "nannyml")
        assert all(0.5 < i["estimated_roc_auc"] < 1 for i in items)
        assert all(i["drift_score"] < i["estimated_roc_auc"] for i in items)  # never taken as the score

    def test_the_shifted_days_score_above_nannymls_own_threshold(self) -> None:
        rows = list(csv.DictReader((DATA / "nannyml_results.csv").open()))
        alerted = [r["chunk_key"] for r in rows if r["age_jensen_shannon_alert"] == "True"]
        threshold = Decimal(rows[0]["age_jensen_shannon_upper_threshold"])
        items = {i["timestamp"][:10]: i for i in read("nannyml_results.csv", "nannyml")}
        over = sorted(f"2026-12-{int(day[8:]) - 1:02d}" for day, i in items.items() if i["age"] > threshold)
        assert over == alerted == ["2026-12-04", "2026-12-05"]

    def test_parquet_and_csv_give_the_same_items(self) -> None:
        assert read("nannyml_results.parquet", "nannyml") == read("nannyml_results.csv", "nannyml")

    def test_a_table_without_chunk_dates_is_refused_naming_the_column(self) -> None:
        data = b"chunk_key,age_jensen_shannon_value\n0,0.3\n"
        with pytest.raises(DetectorFileError, match=r"r\.csv: field 'chunk_end_date'"):
            read_items("nannyml", data, "r.csv", "m", None)
