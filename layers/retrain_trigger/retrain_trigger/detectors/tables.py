"""A detector's table as rows of cells: CSV and JSON lines with the standard library (the Lambda stays light),
Parquet through pyarrow, imported only when a Parquet file is read (the CLI's path; the layer does not ship it)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from retrain_trigger.detectors.items import DetectorFileError

Row = dict[str, Any]


def table_rows(data: bytes, source: str) -> list[Row]:
    """Every row of the file, by its name's suffix (.csv, .jsonl/.json, .parquet; .gz is not read here)."""
    name = source.lower()
    if name.endswith(".parquet"):
        return _parquet_rows(data, source)
    text = _text(data, source)
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return _json_lines(text, source)
    if name.endswith(".csv"):
        return _csv_rows(text, source)
    raise DetectorFileError(source, "(file name)", "expected a .csv, .jsonl (JSON lines) or .parquet file")


def _text(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DetectorFileError(source, "(file)", f"not UTF-8 text at byte {error.start}") from None


def _csv_rows(text: str, source: str) -> list[Row]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise DetectorFileError(source, "(header)", "the file is empty: expected a header row")
    rows: list[Row] = []
    for row in reader:
        if None in row or any(v is None for v in row.values()):
            raise DetectorFileError(
                source, f"row {reader.line_num}", f"expected {len(reader.fieldnames)} cells as the header has"
            )
        # an empty cell is a missing value, as pandas writes NaN to CSV
        rows.append({k: (None if v == "" else v) for k, v in row.items()})
    return rows


def _json_lines(text: str, source: str) -> list[Row]:
    rows: list[Row] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise DetectorFileError(source, f"line {number}", f"not JSON: {error.msg}") from None
        if not isinstance(value, dict):
            raise DetectorFileError(source, f"line {number}", f"expected a JSON object, got {type(value).__name__}")
        rows.append(value)
    return rows


def _parquet_rows(data: bytes, source: str) -> list[Row]:
    try:
        import pyarrow.parquet as pq  # noqa: PLC0415 - only a Parquet file needs it, and the Lambda never ships it
    except ImportError:
        raise DetectorFileError(
            source,
            "(file name)",
            "reading Parquet needs pyarrow (pip install pyarrow); the IngestFunction reads CSV and JSON lines only",
        ) from None
    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as error:
        raise DetectorFileError(source, "(file)", f"not a Parquet file: {error}") from None
    rows: list[Row] = table.to_pylist()
    return rows
