"""The project's own exceptions: adapters translate botocore errors into these, the domain raises BadInput."""

from __future__ import annotations


class RetrainTriggerError(Exception):
    """Base of every error this package raises on purpose."""


class BadInput(RetrainTriggerError):  # noqa: N818 - the domain's word for it
    """A datapoint, event or config field that cannot be trusted. Names the monitor and the field."""

    def __init__(self, monitor_id: str, field: str, problem: str) -> None:
        self.monitor_id = monitor_id
        self.field = field
        self.problem = problem
        super().__init__(f"monitor {monitor_id!r}: field {field!r}: {problem}")

    def as_dict(self) -> dict[str, str]:
        return {"monitor_id": self.monitor_id, "field": self.field, "problem": self.problem}


class ConfigError(BadInput):
    """The monitor configuration document is invalid for one monitor (or for the defaults, monitor '*')."""


class StaleState(RetrainTriggerError):  # noqa: N818
    """A conditional write lost: someone else moved the monitor's state first."""

    def __init__(self, monitor_id: str, expected_version: int) -> None:
        self.monitor_id = monitor_id
        self.expected_version = expected_version
        super().__init__(f"monitor {monitor_id!r}: state is no longer at version {expected_version}")


class RetryableError(RetrainTriggerError):
    """Throttling, 5xx or a timeout after botocore's own retries: try again on the next tick."""


class DependencyError(RetrainTriggerError):
    """An AWS call failed for a reason retrying will not fix (validation, missing resource, access)."""
