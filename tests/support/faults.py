"""Fault injection on the real boto3 clients: throttling, 5xx and lost responses, by a seeded plan.

The injector is a botocore `before-send` handler on the process-wide clients (`aws_client(service)`). It takes
moto's place in that event and calls moto itself, so every HTTP attempt (botocore's own retries included) passes
through it exactly once and it decides, by a seeded `random.Random`, whether that attempt:

- is throttled (HTTP 400 ThrottlingException / Throttling, in the service's protocol) and never reaches moto;
- meets a server error (HTTP 500 InternalServerError or 503 ServiceUnavailable) and never reaches moto;
- loses its response: moto executes it, then the connection dies (ReadTimeoutError / ConnectionClosedError).

It can also kill the invocation (`Kill`): a `Killed` (a BaseException, as the runtime ending a process is to the
code in it: no `except Exception` sees it) raised at the first call that carries a chosen action's key, before the
call reaches moto or just after moto executed it, so the try was announced and its outcome is never recorded.

Faults are injected only inside `active()`, so a test's own setup and read-back calls are never faulted.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
from moto.core.botocore_stubber import MockRawResponse
from moto.core.models import botocore_stubber

from retrain_trigger.adapters.clients import aws_client

FaultKind = Literal["throttle", "server_error", "lost_response"]
FAULT_KINDS: tuple[FaultKind, ...] = ("throttle", "server_error", "lost_response")
# Every service the two handlers call, by client name.
SERVICES = ("dynamodb", "ssm", "sns", "sqs", "sagemaker", "events")


class FaultPlan(Protocol):
    """Which kind of fault (if any) the next HTTP attempt meets."""

    def next_fault(self, rng: random.Random, operation: str) -> FaultKind | None: ...


@dataclass(frozen=True)
class Independent:
    """Each attempt fails with probability `p`, the kind drawn uniformly."""

    p: float = 0.2
    name: str = "independent"

    def next_fault(self, rng: random.Random, operation: str) -> FaultKind | None:
        return rng.choice(FAULT_KINDS) if rng.random() < self.p else None


@dataclass
class Bursts:
    """Outages: a run of `shortest`..`longest` consecutive failing attempts (one kind) starts at an attempt with
    probability `start`. Runs longer than botocore's 5 attempts make a call fail after its retries."""

    start: float = 0.04
    shortest: int = 3
    longest: int = 12
    name: str = "bursts"
    _left: int = 0
    _kind: FaultKind = "throttle"

    def next_fault(self, rng: random.Random, operation: str) -> FaultKind | None:
        if self._left == 0 and rng.random() < self.start:
            self._left = rng.randint(self.shortest, self.longest)
            self._kind = rng.choice(FAULT_KINDS)
        if self._left == 0:
            return None
        self._left -= 1
        return self._kind


@dataclass
class Scripted:
    """A fixed story: each step `(operation, kind, times)` fails the next `times` attempts of that operation (kind
    None: lets them pass), in order; other attempts pass. For the named cases the random plans found."""

    steps: list[tuple[str, FaultKind | None, int]]
    name: str = "scripted"

    def next_fault(self, rng: random.Random, operation: str) -> FaultKind | None:
        if not self.steps or self.steps[0][0] != operation:
            return None
        wanted, kind, times = self.steps[0]
        self.steps[0:1] = [(wanted, kind, times - 1)] if times > 1 else []
        return kind


@dataclass
class Storied:
    """A scripted story (`Scripted`) on its operations, and `background` faults on every other attempt."""

    script: Scripted
    background: FaultPlan
    name: str = "storied"

    def next_fault(self, rng: random.Random, operation: str) -> FaultKind | None:
        if self.script.steps and self.script.steps[0][0] == operation:
            return self.script.next_fault(rng, operation)
        return self.background.next_fault(rng, operation)


class Killed(BaseException):  # not an Exception: the code must not catch it
    """The invocation dies here (timeout, out of memory, the sandbox recycled): nothing after this point runs."""


@dataclass
class Kill:
    """Kill the invocation at the first call to `service` (as event names spell it) whose idempotency key ends with
    `key_suffix`: `before` the call reaches AWS, or `after` AWS executed it (its answer and its record never come)."""

    service: str
    when: Literal["before", "after"]
    key_suffix: str = ":retrain_started"
    fired_at: int = 0  # the HTTP attempt it fired at (0: not yet)


@dataclass(frozen=True)
class Injected:
    """One fault: which attempt, on what, and the idempotency key the request carried (if any)."""

    call: int
    service: str
    operation: str
    kind: FaultKind
    key: str | None


@dataclass
class FaultInjector:
    """Installs itself on the clients in `services`; injects only while `active()`."""

    plan: FaultPlan
    seed: int
    services: tuple[str, ...] = SERVICES
    injected: list[Injected] = field(default_factory=list)
    calls: int = 0  # HTTP attempts seen while active
    kill: Kill | None = None
    _active: bool = False
    _rng: random.Random = field(init=False)
    _clients: dict[str, Any] = field(default_factory=dict)  # by service id as event names spell it ("eventbridge")

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def install(self) -> FaultInjector:
        for service in self.services:
            client = aws_client(service)
            # moto answers `before-send` too, and botocore runs every handler of an event: the injector replaces
            # moto's handler on these clients and calls it itself, so a faulted attempt never reaches moto.
            client.meta.events.unregister("before-send", botocore_stubber)
            client.meta.events.register_first("before-send", self, unique_id=f"fault-injector-{id(self)}")
            self._clients[client.meta.service_model.service_id.hyphenize()] = client
        return self

    def uninstall(self) -> None:
        for client in self._clients.values():
            client.meta.events.unregister("before-send", unique_id=f"fault-injector-{id(self)}")
            client.meta.events.register("before-send", botocore_stubber)
        self._clients.clear()

    @contextmanager
    def active(self) -> Iterator[None]:
        self._active = True
        try:
            yield
        finally:
            self._active = False

    def count(self, kind: FaultKind | None = None, service: str | None = None) -> int:
        return sum(1 for f in self.injected if kind in (None, f.kind) and service in (None, f.service))

    def by_kind(self) -> Counter[str]:
        return Counter(f.kind for f in self.injected)

    def lost_keys(self) -> Counter[tuple[str, str]]:
        """(service id, idempotency key) of every request whose response was lost after it took effect."""
        return Counter((f.service, f.key) for f in self.injected if f.kind == "lost_response" and f.key)

    def __call__(self, request: AWSPreparedRequest, event_name: str, **_: Any) -> AWSResponse | None:
        if not self._active:
            return botocore_stubber(event_name, request)
        self.calls += 1
        service, operation = event_name.split(".", 2)[1:]
        self._maybe_kill(service, request, event_name)
        kind = self.plan.next_fault(self._rng, operation)
        if kind is None:
            return botocore_stubber(event_name, request)
        self.injected.append(Injected(self.calls, service, operation, kind, idempotency_key(service, request)))
        if kind == "lost_response":
            botocore_stubber(event_name, request)  # it happened; the answer never comes back
            if self._rng.random() < 0.5:
                raise ReadTimeoutError(endpoint_url=request.url)
            raise ConnectionClosedError(endpoint_url=request.url)
        status, code = (400, "ThrottlingException") if kind == "throttle" else self._rng.choice(SERVER_ERRORS)
        return error_response(request, self._clients[service].meta.service_model.protocol, status, code)

    def _maybe_kill(self, service: str, request: AWSPreparedRequest, event_name: str) -> None:
        kill = self.kill
        if kill is None or kill.fired_at or service != kill.service:
            return
        key = idempotency_key(service, request)
        if key is None or not key.endswith(kill.key_suffix):
            return
        kill.fired_at = self.calls
        if kill.when == "after":
            botocore_stubber(event_name, request)  # it landed; the invocation dies before it hears so
        raise Killed(f"killed {kill.when} {event_name} {key}")


SERVER_ERRORS: tuple[tuple[int, str], ...] = ((500, "InternalServerError"), (503, "ServiceUnavailable"))


def error_response(request: AWSPreparedRequest, protocol: str, status: int, code: str) -> AWSResponse:
    """An error as the service would send it: JSON `__type` for the JSON protocols, an XML ErrorResponse for query."""
    message = f"injected {code}"
    if protocol == "query":
        query_code = {"ThrottlingException": "Throttling", "InternalServerError": "InternalFailure"}.get(code, code)
        sender = "Sender" if status < 500 else "Receiver"
        body = (
            f'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>{sender}</Type>'
            f"<Code>{query_code}</Code><Message>{message}</Message></Error>"
            "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
        ).encode()
        headers = {"Content-Type": "text/xml"}
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "injected"}
    return AWSResponse(request.url, status, headers, MockRawResponse(body))  # type: ignore[arg-type]


def idempotency_key(service: str, request: AWSPreparedRequest) -> str | None:
    """The project's idempotency key in an action's request body (Publish, SendMessage, PutEvents,
    StartPipelineExecution), `service` as event names spell it; None for other calls."""
    raw = request.body
    text = raw.decode() if isinstance(raw, bytes) else (raw or "")
    if not isinstance(text, str) or not text:
        return None
    try:
        if service == "sns":
            form = {name: values[0] for name, values in parse_qs(text).items()}
            for name, value in form.items():
                if (
                    name.startswith("MessageAttributes.entry.")
                    and name.endswith(".Name")
                    and value == "idempotency_key"
                ):
                    return form.get(name.removesuffix(".Name") + ".Value.StringValue")
            return None
        body = json.loads(text)
        if service == "sqs":
            return str(body["MessageAttributes"]["idempotency_key"]["StringValue"])
        if service == "eventbridge":
            return str(json.loads(body["Entries"][0]["Detail"])["idempotency_key"])
        if service == "sagemaker":
            return str(json.loads(body["PipelineExecutionDescription"])["idempotency_key"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return None
