"""Counting AWS calls with botocore event hooks: every API call of every client, by "service.Operation"."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.handlers import BUILTIN_HANDLERS


class CallCounter:
    """Counts every botocore API call ("service.Operation") of every client created while it is installed.

    The adapters build each client from its own boto3 Session, so a hook on the default session would miss them;
    botocore registers BUILTIN_HANDLERS on every new session (moto's own stub registers itself the same way).
    A `before-call` handler sees each API call once, before its retries: a retried call counts once.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()  # a thread pool reads scores; a signal handler may peek mid-call
        self._counts: Counter[str] = Counter()
        self._active = False

    def _before_call(self, model: Any, **_: Any) -> None:
        if self._active:
            with self._lock:
                self._counts[f"{model.service_model.service_name}.{model.name}"] += 1

    @contextmanager
    def installed(self) -> Iterator[CallCounter]:
        """Count the calls of clients created from here on, until the block ends."""
        spec = ("before-call", self._before_call)
        BUILTIN_HANDLERS.append(spec)
        self._active = True
        try:
            yield self
        finally:
            self._active = False  # clients made meanwhile keep the handler; it no longer counts
            BUILTIN_HANDLERS.remove(spec)

    def peek(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))

    def take(self) -> dict[str, int]:
        """The counts since the last take, sorted by name."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        return dict(sorted(counts.items()))
