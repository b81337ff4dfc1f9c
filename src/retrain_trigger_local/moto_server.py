"""The embedded moto server: one address, a free port, stopped on exit.

moto's backends are per process: every server in a process (and `mock_aws`) shares one account, so a caller that
needs an empty account resets it (`reset()`).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import urllib.request
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

from moto.server import ThreadedMotoServer

from retrain_trigger_local.runtime import ACCOUNT_ID, REGION

LOOPBACK = "127.0.0.1"


class MotoServer:
    """moto's threaded server on `host` (loopback unless told; never the unspecified address) and a free port."""

    def __init__(self, host: str = LOOPBACK) -> None:
        if not host or ipaddress.ip_address(host).is_unspecified:
            raise ValueError("the moto server binds one address, never every interface")
        # Port 0: the OS picks a free port at bind time, so parallel servers (or a leftover one) never collide.
        # werkzeug logs every request to stderr; a demo's output should show the demo, not moto's HTTP traffic.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
        self._server.start()
        bound_host, port = self._server.get_host_and_port()
        self.host = bound_host
        self.port = port
        self.endpoint_url = f"http://{bound_host}:{port}"

    def reset(self) -> None:
        """Empty every moto backend of this process (moto's own reset API)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def configure(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Set moto's own configuration (its /moto-api/config: "lambda", "batch", ...); returns the one before.

        The configuration is per process, as the backends are: a caller restores what it changed.
        """
        with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/config", timeout=30) as response:
            before: dict[str, Any] = json.load(response)
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/config",
            data=json.dumps(dict(config)).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30):
            pass
        return before

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_moto_server(host: str = LOOPBACK) -> MotoServer:
    """Start moto on one address (loopback by default); use `.endpoint_url`, then `.stop()` (or a `with` block)."""
    return MotoServer(host)


def detach_event_sources(account_id: str = ACCOUNT_ID, region: str = REGION) -> list[str]:
    """Stop moto delivering SQS messages and DynamoDB stream records to the stack's functions; the queues and tables
    that had a mapping.

    moto runs a mapped function itself, in a container of an image it pulls from a public registry, whenever an
    engine answers (its "simple" Lambda backend covers Invoke only); without one it logs "error running docker" for
    each record. Locally the functions run only under `sam local invoke` or in-process (the demo), so the messages
    and records stay where a test, `make invoke` or the demo can read them. The moto server runs in this process:
    the mappings are dropped from its backends directly (moto ignores Enabled=false on a stream, and
    DeleteEventSourceMapping leaves the queue's and the table's own links in place).
    """
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415 - moto's internals, only for this
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    detached = []
    sources: list[Any] = [
        *sqs_backends[account_id][region].queues.values(),
        *dynamodb_backends[account_id][region].tables.values(),
    ]
    for source in sources:
        if source.lambda_event_source_mappings:
            source.lambda_event_source_mappings.clear()
            detached.append(source.name)
    return sorted(detached)
