"""The ScoreFunction's ports: the data's object store and the score table. Pure Python (the adapters import it
without numpy)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class DataObject:
    key: str
    modified: datetime
    size: int


class DataStore(Protocol):
    def objects(self, bucket: str, prefix: str) -> list[DataObject]: ...

    def lines(self, bucket: str, key: str) -> Iterator[bytes]: ...

    def read(self, bucket: str, key: str) -> bytes: ...


class ScoreWriter(Protocol):
    def put(self, item: dict[str, Any]) -> None: ...
