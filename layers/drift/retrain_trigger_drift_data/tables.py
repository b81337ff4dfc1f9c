"""Tabular data in chunks: CSV, Parquet (when pyarrow is installed) and SageMaker data capture JSON lines.

numpy only, so the ScoreFunction can read in its numpy layer; pyarrow, when present (the local tools), reads CSV
and Parquet faster and is the only Parquet reader. Every reader yields `Chunk`s of at most `rows` rows, so scoring
10 M rows holds one chunk at a time.
"""

from __future__ import annotations

import base64
import binascii
import csv
import gzip
import io
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

CHUNK_ROWS = 100_000
MISSING_TEXT = frozenset({"", "na", "nan", "null", "none", "n/a"})
FORMATS = ("csv", "parquet", "capture")


class TableError(ValueError):
    """Data that cannot be read; the message names the file (or line) and the field."""


def label_of_number(value: float) -> str | None:
    """The text a categorical column's number reads as: 3.0 -> '3', as the CSV wrote it."""
    if math.isnan(value):
        return None
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


class Chunk:
    """Some rows of a table, column by column: a float64 array (NaN = missing) or a list of texts (None = missing)."""

    def __init__(self, columns: dict[str, npt.NDArray[np.float64] | list[str | None]], rows: int) -> None:
        self._columns = columns
        self.rows = rows
        self._numbers: dict[str, npt.NDArray[np.float64] | None] = {}

    @property
    def names(self) -> list[str]:
        return list(self._columns)

    def __contains__(self, name: object) -> bool:
        return name in self._columns

    def _parsed(self, name: str) -> npt.NDArray[np.float64] | None:
        if name not in self._numbers:
            column = self._columns[name]
            if isinstance(column, np.ndarray):
                self._numbers[name] = column
            else:
                try:
                    self._numbers[name] = np.array(
                        [math.nan if v is None else float(v) for v in column], dtype=np.float64
                    )
                except ValueError:
                    self._numbers[name] = None
        return self._numbers[name]

    def is_numeric(self, name: str) -> bool:
        return self._parsed(name) is not None

    def numbers(self, name: str) -> npt.NDArray[np.float64]:
        parsed = self._parsed(name)
        if parsed is None:
            column = self._columns[name]
            bad = next(v for v in column if v is not None and not _is_float(v))
            raise TableError(f"column {name}: {bad!r} is not a number")
        return parsed

    def labels(self, name: str) -> list[str | None]:
        column = self._columns[name]
        if isinstance(column, np.ndarray):
            return [label_of_number(v) for v in column.tolist()]
        return column


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _cell(text: str) -> str | None:
    stripped = text.strip()
    return None if stripped.lower() in MISSING_TEXT else stripped


def _rows_to_chunks(rows: Iterable[Sequence[str]], names: Sequence[str], where: str, size: int) -> Iterator[Chunk]:
    batch: list[list[str | None]] = [[] for _ in names]
    count = 0
    for line, row in enumerate(rows, start=1):
        if len(row) != len(names):
            raise TableError(f"{where} row {line}: {len(row)} fields, the header has {len(names)}")
        for column, text in zip(batch, row, strict=True):
            column.append(_cell(text))
        count += 1
        if count == size:
            yield Chunk(dict(zip(names, batch, strict=True)), count)
            batch, count = [[] for _ in names], 0
    if count:
        yield Chunk(dict(zip(names, batch, strict=True)), count)


def csv_chunks(lines: Iterable[str], where: str = "CSV", size: int = CHUNK_ROWS) -> Iterator[Chunk]:
    """A CSV with a header row, in the pure-Python csv module (the Lambda has no pyarrow)."""
    reader = csv.reader(line for line in lines if line.strip())
    header = next(reader, None)
    if not header:
        raise TableError(f"{where}: empty, no header row")
    names = [name.strip() for name in header]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated or "" in names:
        raise TableError(f"{where} header: {'duplicated ' + ', '.join(duplicated) if duplicated else 'an empty name'}")
    yield from _rows_to_chunks(reader, names, where, size)


def capture_rows(lines: Iterable[str | bytes], where: str) -> Iterator[list[str]]:
    """The CSV rows in SageMaker data capture JSON lines: captureData.endpointInput.data, encoding CSV or BASE64."""
    for number, raw in enumerate(lines, start=1):
        text = raw.decode() if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        try:
            record = json.loads(text)
            captured = record["captureData"]["endpointInput"]
            data, encoding = captured["data"], captured.get("encoding", "CSV")
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            message = f"{where} line {number}: not a data capture record (captureData.endpointInput.data)"
            raise TableError(message) from error
        if encoding == "BASE64":
            try:
                data = base64.b64decode(data, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError) as error:
                raise TableError(f"{where} line {number}: captureData.endpointInput.data is not base64") from error
        elif encoding != "CSV":
            raise TableError(f"{where} line {number}: captureData.endpointInput.encoding {encoding!r}, expected CSV")
        content = captured.get("observedContentType", "text/csv")
        if not str(content).startswith("text/csv"):
            raise TableError(f"{where} line {number}: observedContentType {content!r}, only text/csv is read")
        # one record may hold a batch of requests, one CSV row a line
        yield from csv.reader(line for line in str(data).splitlines() if line.strip())


def capture_chunks(
    lines: Iterable[str | bytes], names: Sequence[str] | None = None, where: str = "capture", size: int = CHUNK_ROWS
) -> Iterator[Chunk]:
    """Data capture rows have no header: columns take `names` in order (a profile's columns), else _c0, _c1, ...
    (as Model Monitor names them)."""
    rows = capture_rows(lines, where)
    first = next(rows, None)
    if first is None:
        raise TableError(f"{where}: no captured request")
    header = list(names) if names is not None else [f"_c{i}" for i in range(len(first))]
    yield from _rows_to_chunks(_chain([first], rows), header, where, size)


def _chain(head: list[list[str]], rest: Iterator[list[str]]) -> Iterator[list[str]]:
    yield from head
    yield from rest


def _arrow_chunks(batches: Iterable[Any], where: str) -> Iterator[Chunk]:
    import pyarrow as pa  # noqa: PLC0415 - optional: the local tools have it, the Lambda does not

    for batch in batches:
        columns: dict[str, npt.NDArray[np.float64] | list[str | None]] = {}
        for name, array in zip(batch.schema.names, batch.columns, strict=True):
            if pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or pa.types.is_boolean(array.type):
                columns[name] = array.cast(pa.float64()).to_numpy(zero_copy_only=False)
            else:
                columns[name] = [None if v is None else _cell(str(v)) for v in array.to_pylist()]
        yield Chunk(columns, batch.num_rows)


def parquet_chunks(path: Path, size: int = CHUNK_ROWS) -> Iterator[Chunk]:
    try:
        import pyarrow.parquet as pq  # noqa: PLC0415 - optional
    except ImportError as error:
        raise TableError(f"{path}: reading Parquet needs pyarrow, which is not installed here") from error
    try:
        yield from _arrow_chunks(pq.ParquetFile(path).iter_batches(batch_size=size), str(path))
    except OSError as error:
        raise TableError(f"{path}: not a Parquet file ({error})") from error


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def format_of(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    last = suffixes[-1] if suffixes else ""
    if last == ".parquet":
        return "parquet"
    if last in {".jsonl", ".json"}:
        return "capture"
    if last in {".csv", ".txt"}:
        return "csv"
    raise TableError(f"{path}: cannot tell the format from the name; give --format {'|'.join(FORMATS)}")


def read_chunks(
    path: Path, data_format: str | None = None, names: Sequence[str] | None = None, size: int = CHUNK_ROWS
) -> Iterator[Chunk]:
    """A file's rows in chunks, its format from `data_format` or its name."""
    kind = data_format or format_of(path)
    if not path.exists():
        raise TableError(f"{path}: no such file")
    if kind == "parquet":
        yield from parquet_chunks(path, size)
    elif kind == "capture":
        with _open_text(path) as stream:
            yield from capture_chunks(stream, names, str(path), size)
    elif kind == "csv":
        yield from _csv_file_chunks(path, size)
    else:
        raise TableError(f"--format: {kind!r} is not one of {', '.join(FORMATS)}")


def _csv_file_chunks(path: Path, size: int) -> Iterator[Chunk]:
    try:
        from pyarrow import csv as pa_csv  # noqa: PLC0415 - optional: ten times the csv module's speed
    except ImportError:
        with _open_text(path) as stream:
            yield from csv_chunks(stream, str(path), size)
        return
    options = pa_csv.ReadOptions(block_size=1 << 24)
    convert = pa_csv.ConvertOptions(null_values=sorted(MISSING_TEXT | {t.upper() for t in MISSING_TEXT} | {"NaN"}))
    try:
        reader = pa_csv.open_csv(path, read_options=options, convert_options=convert)
        yield from _arrow_chunks(reader, str(path))
    except Exception as error:  # pyarrow raises its own ArrowInvalid for a malformed row
        if isinstance(error, TableError):
            raise
        raise TableError(f"{path}: not a readable CSV ({error})") from error
