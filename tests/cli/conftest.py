"""The CLI's tests: run `retrain-trigger` in-process (its `main`) or as a user does (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from retrain_trigger_cli.__main__ import main
from retrain_trigger_local.template import resource_properties
from tests.functional.conftest import aws, aws_credentials, deploy, world  # noqa: F401 - the functional tests' fixtures
from tests.support.resources import resolve

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "data" / "reference_drift_scores.csv"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines() if line.startswith("{")]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """cli("replay", "--config", ...) runs the command in this process and returns its exit code and output."""

    def run(*args: str | Path) -> Run:
        capsys.readouterr()  # what ran before (a handler's EMF metrics) is not the command's output
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def run_process(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The command as a user types it: `python -m retrain_trigger_cli ...`."""
    return subprocess.run(
        [sys.executable, "-m", "retrain_trigger_cli", *(str(a) for a in args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def seeded_config() -> dict[str, Any]:
    """The configuration document template.yaml seeds into its parameter, with the parameters' defaults."""
    document: dict[str, Any] = json.loads(resolve(resource_properties("MonitorConfigParameter")["Value"]))
    return document


@pytest.fixture
def seeded_config_file(tmp_path: Path) -> Path:
    path = tmp_path / "monitors.json"
    path.write_text(json.dumps(seeded_config()))
    return path


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
