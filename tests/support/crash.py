"""An invocation killed mid-call (a Lambda timeout, out of memory), on the real boto3 clients under moto.

A botocore hook on the process-wide client raises `InvocationKilled` around one operation: before the request
leaves (the call never happened) or after it took effect (its answer never used). Nothing of ours catches a
BaseException, so the handler dies there with whatever it had announced, as a killed invocation does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from retrain_trigger.adapters.clients import aws_client


class InvocationKilled(BaseException):
    """The invocation died mid-call."""


@contextmanager
def killed(service: str, operation: str, after_the_call: bool) -> Iterator[None]:
    """Inside: the next `operation` of `service` kills the invocation, before its request is sent or after it
    took effect."""
    client = aws_client(service)
    event = f"{'after' if after_the_call else 'before'}-call.{client.meta.service_model.service_id.hyphenize()}"
    event += f".{operation}"
    unique_id = f"killed-{operation}"

    def die(**_: Any) -> None:
        raise InvocationKilled(operation)

    client.meta.events.register(event, die, unique_id=unique_id)
    try:
        yield
    finally:
        client.meta.events.unregister(event, unique_id=unique_id)


class Clock:
    """The functions' wall clock (patched over `wiring.wall_clock` before the first invocation): moved past a dead
    invocation's lease by the test."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta = timedelta(hours=1)) -> None:
        self.now += by
