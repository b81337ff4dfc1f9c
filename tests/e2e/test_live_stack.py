"""`make up` / `make down` (retrain_trigger_local.live_stack): a detached server that outlives the command, the
shell's variables for it, and a `down` that stops exactly what `up` started."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from retrain_trigger_local.live_stack import StateFiles, is_our_server

ROOT = Path(__file__).resolve().parents[2]


def live_stack(state: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "retrain_trigger_local.live_stack", "--state-dir", str(state), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )


def exported(stdout: str) -> dict[str, str]:
    """What `eval "$(make -s up)"` sets: every stdout line is `export NAME=VALUE`."""
    variables = {}
    for line in stdout.splitlines():
        keyword, assignment = line.split(" ", 1)
        assert keyword == "export", line
        name, value = assignment.split("=", 1)
        variables[name] = shlex.split(value)[0]
    return variables


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "local-stack"
    yield folder
    live_stack(folder, "down")  # a failed test leaves no server behind


@pytest.fixture
def scores(tmp_path: Path) -> Path:
    path = tmp_path / "scores.csv"
    path.write_text(
        "timestamp,drift_score\n2024-08-01T00:00:00Z,0.05\n2024-08-02T00:00:00Z,\n2024-08-03T00:00:00Z,0.12\n"
    )
    return path


@pytest.mark.e2e
def test_up_leaves_a_loopback_stack_running_and_down_stops_exactly_that_process(state: Path, scores: Path) -> None:
    started = live_stack(state, "up", "--scores", str(scores))

    assert started.returncode == 0, started.stderr
    variables = exported(started.stdout)
    assert set(variables) == {
        "AWS_ENDPOINT_URL",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "RETRAIN_TRIGGER_STACK",
    }
    assert urlsplit(variables["AWS_ENDPOINT_URL"]).hostname == "127.0.0.1"
    pid = StateFiles(state).read_pid()
    assert pid is not None and is_our_server(pid)
    assert "2 scores replayed" in started.stderr  # the empty score is a gap, not a datapoint

    # The command returned; the stack did not go with it. A plain `status` reads it with the exported variables.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | variables
    status = subprocess.run(
        [sys.executable, "-m", "retrain_trigger_cli", "status"], capture_output=True, text=True, env=env, check=False
    )
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[1].split()[:3] == ["churn-model", "WARNING", "0.1200"]

    again = live_stack(state, "up", "--scores", str(scores))
    assert again.returncode == 0 and exported(again.stdout) == variables  # the same server, not a second one
    assert "already up" in again.stderr

    stopped = live_stack(state, "down")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stderr == f"live stack stopped (pid {pid})\n"
    assert not is_our_server(pid)
    assert not StateFiles(state).pid.exists() and not StateFiles(state).ready.exists()
    assert "unset AWS_ENDPOINT_URL" in stopped.stdout.splitlines()


@pytest.mark.e2e
def test_down_never_signals_a_process_that_is_not_the_server(state: Path) -> None:
    state.mkdir()
    StateFiles(state).pid.write_text(f"{os.getpid()}\n")  # a stale pid file whose pid is now someone else's

    stopped = live_stack(state, "down")

    assert stopped.returncode == 0
    assert stopped.stderr == "no live stack is running\n"
    assert not StateFiles(state).pid.exists()  # and this test's process is still here to assert it


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("when,score\n2024-08-01T00:00:00Z,0.1\n", "missing column(s) drift_score, timestamp"),
        ("timestamp,drift_score\nyesterday,0.1\n", "line 2: not a timestamp and a score"),
    ],
)
def test_up_with_a_bad_score_file_is_one_line_exit_2_and_starts_nothing(
    state: Path, tmp_path: Path, text: str, problem: str
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(text)

    started = live_stack(state, "up", "--scores", str(bad))

    assert (started.returncode, started.stdout) == (2, "")
    assert len(started.stderr.splitlines()) == 1
    assert started.stderr.startswith(f"make up: error: {bad}: {problem}")
    assert StateFiles(state).read_pid() is None


@pytest.mark.e2e
def test_up_with_a_missing_score_file_names_it(state: Path, tmp_path: Path) -> None:
    started = live_stack(state, "up", "--scores", str(tmp_path / "nope.csv"))

    assert started.returncode == 2
    assert started.stderr.startswith(f"make up: error: {tmp_path / 'nope.csv'}: cannot read the scores")


@pytest.mark.e2e
def test_up_without_scores_starts_an_empty_stack(state: Path) -> None:
    started = live_stack(state, "up", "--scores", "")  # what `make up SCORES=` runs

    assert started.returncode == 0, started.stderr
    assert "0 scores replayed" in started.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | exported(started.stdout)
    status = subprocess.run(
        [sys.executable, "-m", "retrain_trigger_cli", "status"], capture_output=True, text=True, env=env, check=False
    )
    assert status.stdout.splitlines()[1].split()[:3] == ["churn-model", "never", "evaluated"]
