"""ListPipelineExecutions as SageMaker documents it, on moto.

moto 5.2.5 answers ListPipelineExecutions with every execution of the pipeline in one page, oldest first, whatever
SortBy, SortOrder, MaxResults and NextToken say. SageMaker sorts (by CreationTime unless SortBy says otherwise,
newest first unless SortOrder says Ascending) and pages (at most MaxResults per page, then NextToken). A lookup
that scans only the newest executions passes on moto's answer and fails on SageMaker's, so the tests that depend
on the order and the paging install this in moto's place. moto still creates, stores and describes every execution;
only its listing's order and paging are replaced (a summary's StartTime is its creation time in moto).
"""

from __future__ import annotations

from typing import Any

import pytest
from moto.core.responses import ActionResult
from moto.sagemaker.responses import SageMakerResponse

MAX_RESULTS = 100  # ListPipelineExecutions' MaxResults: 1 to 100
DEFAULT_RESULTS = 10  # an assumption: the API reference states no default, and our adapter always passes one


def _list_pipeline_executions(self: SageMakerResponse) -> ActionResult:
    everything: list[dict[str, Any]] = self.sagemaker_backend.list_pipeline_executions(self._get_param("PipelineName"))[
        "PipelineExecutionSummaries"
    ]
    by = "StartTime" if self._get_param("SortBy", "CreationTime") == "CreationTime" else "PipelineExecutionArn"
    newest_first = self._get_param("SortOrder", "Descending") == "Descending"
    ordered = sorted(everything, key=lambda summary: summary[by], reverse=newest_first)
    start = int(self._get_param("NextToken") or 0)
    size = min(int(self._get_param("MaxResults") or DEFAULT_RESULTS), MAX_RESULTS)
    page: dict[str, Any] = {"PipelineExecutionSummaries": ordered[start : start + size]}
    if start + size < len(ordered):
        page["NextToken"] = str(start + size)
    return ActionResult(page)


def page_pipeline_executions(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on (for the test), moto lists pipeline executions sorted and paged as SageMaker does."""
    monkeypatch.setattr(SageMakerResponse, "list_pipeline_executions", _list_pipeline_executions)
