"""boto3 clients, created on first use and reused by warm starts, and the one place botocore errors become ours."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from retrain_trigger.errors import DependencyError, RetrainTriggerError, RetryableError

# botocore's standard retry mode already retried these (max_attempts); reaching us means "try on the next tick".
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "Throttling",
        "ThrottledException",
        "Throttled",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "InternalException",
        "RequestTimeout",
        "RequestTimeoutException",
        "TransactionConflict",
        "TransactionConflictException",
        "TransactionInProgressException",
        "ThrottlingError",
    }
)

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},  # 5 retries: 6 attempts in all
    connect_timeout=5,
    read_timeout=20,
)


_creating = threading.Lock()


@functools.cache
def _session() -> boto3.session.Session:
    # One session per process: each new session parses botocore's endpoint data again (~0.15 s a client).
    return boto3.session.Session()


@functools.cache
def aws_client(service: str) -> Any:
    """The process-wide client for `service` (thread-safe once created). Never call at import time."""
    with _creating:  # a boto3 session is not safe to create clients from in parallel
        return _session().client(service, config=CLIENT_CONFIG)  # type: ignore[call-overload]


def forget_clients() -> None:
    """Drop the process's clients and session (tests and the demo change the environment between runs)."""
    aws_client.cache_clear()
    _session.cache_clear()


def is_retryable_code(code: str) -> bool:
    return code in THROTTLING_CODES


def translate_error(error: ClientError | BotoCoreError, *, what: str) -> RetrainTriggerError:
    """Throttling, 5xx and connection timeouts -> RetryableError; anything else -> DependencyError."""
    if isinstance(error, BotoConnectionError | HTTPClientError):
        # EndpointConnectionError and ConnectTimeoutError; ReadTimeoutError and ConnectionClosedError
        return RetryableError(f"{what} failed: {type(error).__name__}: {error}")
    if not isinstance(error, ClientError):
        return DependencyError(f"{what} failed: {type(error).__name__}: {error}")
    details = error.response.get("Error", {})
    code = str(details.get("Code", "Unknown"))
    message = str(details.get("Message", ""))
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    text = f"{what} failed: {code}: {message}" if message else f"{what} failed: {code}"
    if is_retryable_code(code) or status >= 500:
        return RetryableError(text)
    return DependencyError(text)


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Re-raise any botocore error inside the block as the project's exception, chained to the original."""
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise translate_error(error, what=what) from error
