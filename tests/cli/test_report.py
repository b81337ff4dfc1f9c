"""`retrain-trigger report`: one self-contained HTML page, checked in a real headless Chromium (file://, no
network): it loads with no console error, the plot and the tables are there, and a screenshot is kept under
test-artefacts/ (git-ignored) for a person to look at.

Chromium and its driver are Debian's (`apt-get install -y chromium chromium-driver`); .ci/run installs them, so CI
runs these tests. Without them locally, the browser tests skip and say why; the HTML tests still run.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

from tests.cli.conftest import REFERENCE, ROOT, seeded_config, write

ARTEFACTS = ROOT / "test-artefacts"
DAILY = ("--tick", "1d")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    document = seeded_config()
    document["defaults"]["every"] = "1d"
    return write(tmp_path / "daily.json", json.dumps(document))


@pytest.fixture
def year(cli: Any, tmp_path: Path) -> tuple[Path, Path]:
    scores, labels = tmp_path / "year.csv", tmp_path / "episodes.csv"
    cli(
        "simulate", "--preset", "gradual", "--days", "365", "--episodes", "4", "--duration", "30",
        "--baseline", "0.06", "--noise", "0.035", "--seed", "11", "--out", scores, "--labels", labels,
    )  # fmt: skip
    return scores, labels


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        pytest.skip("no chromium/chromedriver on PATH: apt-get install -y chromium chromium-driver (.ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="rt-chromium-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1400,1800",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def opened(browser: Any, page: Path, name: str) -> list[dict[str, Any]]:
    """Load the page from disk, wait for Plotly to draw, keep a screenshot; the browser's console messages."""
    browser.get_log("browser")  # what an earlier page logged is not this page's
    browser.get(page.resolve().as_uri())
    WebDriverWait(browser, 60).until(lambda d: d.find_elements("css selector", "#score-plot .main-svg"))
    ARTEFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTEFACTS / f"{name}.png"))
    logs: list[dict[str, Any]] = browser.get_log("browser")
    return logs


class _References(HTMLParser):
    """Every attribute of the page's own tags that would load something (script text is not parsed as tags)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [f"{tag} {name}={value}" for name, value in attrs if name in ("src", "href") and value]


def external_references(page: str) -> list[str]:
    parser = _References()
    parser.feed(page)
    return parser.found


# --- the page itself ----------------------------------------------------------------------------------------------


def test_a_replay_report_is_one_file_with_the_plot_and_the_decisions(cli: Any, config: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"

    run = cli("report", "--config", config, "--scores", REFERENCE, *DAILY, "--out", out)

    assert (run.code, run.out) == (0, f"wrote {out}\n")
    page = out.read_text()
    assert external_references(page) == []  # self-contained: nothing fetched
    assert len(page) > 3_000_000  # Plotly's JavaScript is in the page
    assert 'id="score-plot"' in page and 'id="decisions"' in page and 'id="variants"' not in page
    rows = re.findall(r"<tr><td>([^<]*)</td>", page.split('id="decisions"')[1])
    replayed = cli("replay", "--config", config, "--scores", REFERENCE, *DAILY).lines()
    acted = [r["timestamp"] for r in replayed if r["transition"] or r["actions"] or "event" in r]
    assert rows == acted and len(rows) >= 2
    assert any("retrain" in r["actions"] for r in replayed if r["timestamp"] in rows)
    assert '"name":"retraining"' in page  # the retraining marker trace


def test_a_compare_report_has_the_variants_and_their_pareto_front(
    cli: Any, config: Path, year: tuple[Path, Path], tmp_path: Path
) -> None:
    scores, labels = year
    out = tmp_path / "compare.html"
    sweep = ("--sweep", "critical=0.14:0.30:0.04", "--labels", labels, "--workers", "1")

    run = cli("report", "--config", config, "--scores", scores, *DAILY, *sweep, "--out", out)

    assert run.code == 0, run.err
    page = out.read_text()
    table = page.split('id="variants"')[1].split("</table>")[0]
    names = re.findall(r"<tr><td>([^<]*)</td><td>(yes)?</td>", table)
    best = ("--best", "--json", "--best-out", tmp_path / "best.json")
    front = cli("compare", "--config", config, "--scores", scores, *DAILY, *sweep, *best).lines()
    assert {name for name, on in names if on} == {row["variant"] for row in front if "variant" in row}
    assert len(names) == 5
    chosen = front[-1]["chosen"]
    assert f"Replay of {chosen}" in page and 'id="pareto-plot"' in page


def test_report_without_a_config_is_a_one_line_usage_error(cli: Any, tmp_path: Path) -> None:
    run = cli("report", "--scores", REFERENCE, "--out", tmp_path / "r.html")

    assert run.code == 2 and run.err.count("\n") == 1 and "--config" in run.err
    assert not (tmp_path / "r.html").exists()


# --- in a real browser --------------------------------------------------------------------------------------------


def test_the_replay_report_loads_in_chromium_without_a_console_error(
    cli: Any, config: Path, tmp_path: Path, browser: Any
) -> None:
    out = tmp_path / "report.html"
    cli("report", "--config", config, "--scores", REFERENCE, *DAILY, "--out", out)

    logs = opened(browser, out, "report-replay")

    assert [entry for entry in logs if entry["level"] in ("SEVERE", "ERROR")] == []
    traces = browser.execute_script("return document.getElementById('score-plot').data.map(t => [t.name, t.x.length])")
    names = {name for name, _ in traces}
    assert {"drift score", "retraining"} <= names, traces
    datapoints = len(REFERENCE.read_text().splitlines()) - 1  # the reference has no gaps: no break is inserted
    assert dict(traces)["drift score"] == datapoints
    assert len(browser.find_elements("css selector", "#decisions tbody tr")) >= 2


def test_the_compare_report_loads_in_chromium_with_its_front(
    cli: Any, config: Path, year: tuple[Path, Path], tmp_path: Path, browser: Any
) -> None:
    scores, labels = year
    out = tmp_path / "compare.html"
    cli(
        "report", "--config", config, "--scores", scores, *DAILY, "--sweep", "critical=0.14:0.30:0.04",
        "--labels", labels, "--workers", "1", "--out", out,
    )  # fmt: skip

    logs = opened(browser, out, "report-compare")

    assert [entry for entry in logs if entry["level"] in ("SEVERE", "ERROR")] == []
    front = browser.execute_script(
        "return document.getElementById('pareto-plot').data.find(t => t.name === 'Pareto front').x.length"
    )
    assert front >= 1
    assert len(browser.find_elements("css selector", "#variants tbody tr")) == 5
