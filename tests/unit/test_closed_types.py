"""The closed types that replace strings travelling between modules: one source each, stored as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from retrain_trigger.config import DEFAULT_TICK
from retrain_trigger.errors import BadInput
from retrain_trigger.events import lifecycle_event
from retrain_trigger.model import HistoryKind, PipelineStatus, Status
from retrain_trigger.ports import HistoryEntry
from retrain_trigger.settings import Settings
from retrain_trigger_cli.engine import Simulation

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2024, 8, 9, tzinfo=UTC)


class _CloudFormation(yaml.SafeLoader):
    """Reads template.yaml's values, leaving its intrinsic functions (!Ref, !Sub...) unresolved."""


_CloudFormation.add_multi_constructor("!", lambda loader, suffix, node: None)


def envelope(detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "e-1",
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": "2024-08-09T03:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail-type": detail_type,
        "detail": detail,
    }


def sagemaker_status(status: str) -> dict[str, Any]:
    return envelope(
        "SageMaker Model Building Pipeline Execution Status Change",
        {
            "pipelineArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p",
            "pipelineExecutionArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/x",
            "currentPipelineExecutionStatus": status,
        },
    )


def finished(status: object) -> dict[str, Any]:
    return envelope("Retraining Finished", {"monitor_id": "churn-model", "status": status})


# -- PipelineStatus: the one mapping from a pipeline's status to what it means -------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [("Executing", "executing"), ("Succeeded", "succeeded"), ("Failed", "failed"), ("Stopped", "stopped")],
)
def test_a_sagemaker_status_change_means_the_same_lifecycle_kind_as_the_pipeline_status(status: str, kind: str) -> None:
    event = lifecycle_event(sagemaker_status(status), received_at=AT)

    assert event is not None
    assert (event.kind, event.detail) == (kind, f"pipeline execution {status}")
    assert PipelineStatus(status).lifecycle == kind


def test_a_stopping_pipeline_is_nothing_to_do_yet() -> None:
    assert lifecycle_event(sagemaker_status("Stopping"), received_at=AT) is None
    assert not PipelineStatus.STOPPING.final


@pytest.mark.parametrize(("status", "kind"), [("Succeeded", "succeeded"), ("Failed", "failed"), ("Stopped", "stopped")])
def test_a_ci_reports_a_finished_status_with_the_same_meaning(status: str, kind: str) -> None:
    event = lifecycle_event(finished(status), received_at=AT)

    assert event is not None and event.kind == kind


@pytest.mark.parametrize("status", ["Executing", "Stopping", "Done", 3])
def test_a_ci_status_that_is_not_a_finished_pipelines_is_bad_input_naming_the_field(status: object) -> None:
    with pytest.raises(BadInput) as error:
        lifecycle_event(finished(status), received_at=AT)

    assert (error.value.monitor_id, error.value.field) == ("churn-model", "event.detail.status")
    assert "a finished pipeline ('Stopped', 'Failed', 'Succeeded')" in str(error.value)


def test_only_succeeded_failed_and_stopped_are_final() -> None:
    assert {s for s in PipelineStatus if s.final} == {"Succeeded", "Failed", "Stopped"}


@pytest.mark.parametrize("text", ["", "Paused", None, 7])
def test_a_status_this_version_does_not_know_reads_as_none(text: object) -> None:
    assert PipelineStatus.read(text) is None


# -- HistoryEntry: a state's name, and its kind, are closed ------------------------------------------------------


def test_a_history_entry_holds_statuses_and_reads_their_stored_names() -> None:
    entry = HistoryEntry("churn-model", AT, "OK", "ALARM", "drift 0.31 > 0.2", "sha256:x")  # type: ignore[arg-type]

    assert (entry.before, entry.after, entry.kind) == (Status.OK, Status.ALARM, HistoryKind.TRANSITION)
    assert (entry.before.value, entry.kind.value) == ("OK", "transition")  # what the table stores, as before


def test_a_history_entry_refuses_a_state_that_does_not_exist() -> None:
    with pytest.raises(ValueError, match="RETRYING"):
        HistoryEntry("churn-model", AT, Status.OK, "RETRYING", "?", "sha256:x")  # type: ignore[arg-type]


# -- DEFAULT_TICK: the one default of the evaluator's tick ----------------------------------------------------


def test_the_default_tick_is_the_templates_tick_minutes_default_and_every_default_follows_it() -> None:
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CloudFormation)
    minutes = int(template["Parameters"]["TickMinutes"]["Default"])

    assert timedelta(minutes=minutes) == DEFAULT_TICK
    assert Settings.model_validate({"STATE_TABLE_NAME": "t"}).tick_minutes == minutes
    assert Simulation().tick == DEFAULT_TICK
