"""The sam_local tier: one `SamLocal` (engine, image, moto with the demo's stack, x86_64 build) per module.

Skipped only where no Docker engine can be installed or started; with SAM_LOCAL_REQUIRED=1 (as `make test` sets)
that is a failure instead, so a green run cannot hide a missing tier.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from retrain_trigger_local.local_invoke import SamLocal, SamLocalUnavailableError

_TIMINGS: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The tier's cost, in every run's output: it is budgeted (README, "Running it with SAM")."""
    for line in _TIMINGS:
        terminalreporter.write_line(f"sam-local timings: {line}")


@pytest.fixture(scope="module")
def sam_local() -> Iterator[SamLocal]:
    local = SamLocal()
    try:
        local.__enter__()
    except SamLocalUnavailableError as error:
        if os.environ.get("SAM_LOCAL_REQUIRED") == "1":
            pytest.fail(f"SAM_LOCAL_REQUIRED=1 but sam local cannot run here: {error}", pytrace=False)
        pytest.skip(f"no Docker engine can be installed or started here: {error}")
    try:
        yield local
    finally:
        local.__exit__(None, None, None)
        _TIMINGS.append(", ".join(f"{step} {seconds:.1f}s" for step, seconds in local.timings.items()))
