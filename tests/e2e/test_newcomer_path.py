"""A new user's path, from a clean clone: exactly the commands docs/first-deployment.md shows for the live local stack,
read from the page, run in one shell in a fresh `git clone` of this checkout's HEAD, and their output compared with
the output the page shows (ports, pids, paths and generated ids masked).

`make demo` is not run again here (tests/e2e/test_demo.py runs it), and no new venv is built: `make` gets this
test's venv (VENV=..., and -o so it does not reinstall into it), and PYTHONPATH puts the clone's code first, so the
commands run the clone's files with the tools already installed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from retrain_trigger_local.live_stack import is_our_server

ROOT = Path(__file__).resolve().parents[2]
PAGE = Path("docs") / "first-deployment.md"
SECTION = "## Try it first: a live local stack"
MARK = "@@step"


def documented_session(page: Path) -> list[tuple[str, list[str]]]:
    """(command, the output the page shows for it) for every `$ ` line of the section's console blocks, in order."""
    text = page.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end != -1 else len(text)]
    session: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                session.append((line[2:], []))
            else:
                session[-1][1].append(line)
    return session


# What differs from run to run: masked on both sides before they are compared.
VARIABLE = [
    (re.compile(r"http://127\.0\.0\.1:\d+"), "http://127.0.0.1:PORT"),
    (re.compile(r"\(pid \d+"), "(pid PID"),
    (re.compile(r"log \S+/\.local-stack/server\.log"), "log LOG"),
    (re.compile(r"execution/[a-z0-9]+"), "execution/ID"),
    (re.compile(r"(sqs|eventbridge|sns):done:[0-9a-f]{8}-[0-9a-f.-]+"), r"\1:done:ID"),
]


def masked(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        text = line
        for pattern, replacement in VARIABLE:
            text = pattern.sub(replacement, text)
        out.append(text.rstrip())
    return out


def shell_script(commands: list[str], venv: Path) -> str:
    """The commands as one bash session (the `eval`s must reach the later commands), each between markers."""
    lines = [
        # `make` with this test's venv: VENV points the Makefile's BIN there, -o keeps it from reinstalling.
        f"make() {{ command make -o {shlex.quote(str(venv / 'bin' / '.installed'))} VENV={shlex.quote(str(venv))} "
        '"$@"; }',
    ]
    for index, command in enumerate(commands):
        lines += [f"printf '{MARK} {index}\\n'", command]
    lines.append(f"printf '{MARK} end %s\\n' \"${{AWS_ENDPOINT_URL-unset}} ${{RETRAIN_TRIGGER_STACK-unset}}\"")
    return "\n".join(lines) + "\n"


def split_output(output: str, count: int) -> tuple[list[list[str]], str]:
    """Each command's output lines, and what the session's last line said about the variables."""
    steps: list[list[str]] = [[] for _ in range(count)]
    current: list[str] | None = None
    end = ""
    for line in output.splitlines():
        if line.startswith(f"{MARK} end "):
            end = line.removeprefix(f"{MARK} end ")
            current = None
        elif line.startswith(f"{MARK} "):
            current = steps[int(line.split()[1])]
        elif current is not None:
            current.append(line)
    return steps, end


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    target = tmp_path / "retrain-trigger"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True, timeout=120)
    return target


def clean_environment(clone: Path, home: Path) -> dict[str, str]:
    """A newcomer's shell: no AWS variables or profiles, the venv's tools on the PATH, the clone's code first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "RETRAIN_TRIGGER_STACK"}
    env |= {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join(str(clone / part) for part in ("src", "layers/retrain_trigger")),
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return env


@pytest.mark.e2e
def test_the_live_stack_walk_of_the_docs_runs_as_shown_from_a_clean_clone(clone: Path, tmp_path: Path) -> None:
    session = documented_session(clone / PAGE)
    commands = [command for command, _ in session]
    assert commands[0] == 'eval "$(make -s up)"' and commands[-1] == 'eval "$(make -s down)"'
    assert {"retrain-trigger status", "retrain-trigger config push examples/monitors.json"} <= set(commands)
    aws_steps = [i for i, command in enumerate(commands) if command.startswith("aws ")]
    has_aws = shutil.which("aws") is not None
    venv = Path(sys.prefix)
    try:
        completed = subprocess.run(
            [
                "bash",
                "-c",
                shell_script(commands if has_aws else [c for c in commands if not c.startswith("aws ")], venv),
            ],
            cwd=clone,
            env=clean_environment(clone, tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # one stream, in the order a terminal shows it
            text=True,
            timeout=600,
            check=False,
        )
    finally:  # whatever happened, the clone's server does not outlive the test
        subprocess.run(
            [
                sys.executable,
                "-m",
                "retrain_trigger_local.live_stack",
                "--state-dir",
                str(clone / ".local-stack"),
                "down",
            ],
            env=clean_environment(clone, tmp_path),
            capture_output=True,
            check=False,
            timeout=120,
        )

    shown = [(command, expected) for i, (command, expected) in enumerate(session) if has_aws or i not in aws_steps]
    outputs, end = split_output(completed.stdout, len(shown))
    assert completed.returncode == 0, completed.stdout[-3000:]
    for (command, expected), actual in zip(shown, outputs, strict=True):
        assert masked(actual) == masked(expected), f"$ {command}"
    # The clone's own code ran (its .local-stack), and `eval "$(make -s down)"` stopped it and unset the variables.
    assert f"log {clone}/.local-stack/server.log" in outputs[0][0]
    pid = int(re.search(r"\(pid (\d+)", outputs[0][0]).group(1))  # type: ignore[union-attr]
    assert not is_our_server(pid)
    assert not (clone / ".local-stack" / "server.pid").exists()
    assert end == "unset unset"
    if not has_aws:
        pytest.skip(
            f"every other step ran as documented; the AWS CLI is not installed: {len(aws_steps)} aws lines not run"
        )
