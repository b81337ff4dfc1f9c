"""The benchmark page is written by `make bench`: a run's report replaces the block between the page's markers."""

from __future__ import annotations

import pytest

from retrain_trigger_local.bench.docs_page import with_run

PAGE = "# Benchmark\nintro\n<!-- bench:start -->\nold table\n<!-- bench:end -->\nWhat it says\n"


def test_a_run_replaces_only_the_block_between_the_markers() -> None:
    page = with_run(PAGE, "| a | b |\n", '{"monitors": 1000}\n')

    assert page == (
        "# Benchmark\nintro\n<!-- bench:start -->\n| a | b |\n\nIts final JSON line:\n\n"
        '```json\n{"monitors": 1000}\n```\n<!-- bench:end -->\nWhat it says\n'
    )


def test_writing_twice_gives_the_same_page() -> None:
    once = with_run(PAGE, "t", "{}")

    assert with_run(once, "t", "{}") == once


@pytest.mark.parametrize(
    "page",
    [
        "no markers at all\n",
        "<!-- bench:end -->\n<!-- bench:start -->\n",
        "<!-- bench:start -->\n<!-- bench:start -->\n<!-- bench:end -->\n",
    ],
)
def test_a_page_without_one_ordered_pair_of_markers_is_refused(page: str) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        with_run(page, "t", "{}")
