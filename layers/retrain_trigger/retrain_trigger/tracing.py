"""X-Ray tracing that costs nothing when it is off.

Powertools' Tracer imports the X-Ray SDK when it is created (about 130 ms), even when tracing is disabled. Here the
Tracer is created on the first invocation, and only when it would trace: in Lambda (AWS_LAMBDA_FUNCTION_NAME), not
under `sam local`, and without POWERTOOLS_TRACE_DISABLED. With the template's `Tracing: Active`, the SDK is then
loaded once per container, on its first invocation; with tracing off, never.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

Handler = TypeVar("Handler", bound=Callable[..., Any])
_OFF = {"1", "true", "yes", "on"}


def tracing_enabled() -> bool:
    environ = os.environ
    return (
        bool(environ.get("AWS_LAMBDA_FUNCTION_NAME"))
        and not environ.get("AWS_SAM_LOCAL")
        and environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() not in _OFF
    )


@functools.cache
def tracer() -> Tracer:
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - creating it imports the X-Ray SDK

    return Tracer()


def traced(handler: Handler) -> Handler:
    """Powertools' capture_lambda_handler, decided per invocation (after the module was imported)."""

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        if not tracing_enabled():
            return handler(event, context)
        return tracer().capture_lambda_handler(handler)(event, context)

    return wrapper  # type: ignore[return-value]
