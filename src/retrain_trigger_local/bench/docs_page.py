"""Writes a run's report into the benchmark page of the docs, between its markers, so the page is what a run said."""

from __future__ import annotations

from pathlib import Path

START = "<!-- bench:start -->"
END = "<!-- bench:end -->"


def with_run(page: str, tables: str, json_line: str) -> str:
    """`page` with the block between the markers replaced by `tables` and the run's final JSON line."""
    if page.count(START) != 1 or page.count(END) != 1 or page.index(START) > page.index(END):
        raise ValueError(f"the page needs exactly one {START} before one {END}")
    head, rest = page.split(START)
    tail = rest.split(END)[1]
    block = f"{tables.rstrip()}\n\nIts final JSON line:\n\n```json\n{json_line.strip()}\n```\n"
    return f"{head}{START}\n{block}{END}{tail}"


def write(path: Path, tables: str, json_line: str) -> None:
    path.write_text(with_run(path.read_text(), tables, json_line))
