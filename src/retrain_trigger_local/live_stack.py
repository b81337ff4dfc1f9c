"""`make up` / `make down`: a live local stack that outlives the command, for `retrain-trigger status`, `history`,
`config push` and `aws --endpoint-url ...` to talk to.

`up` starts a detached server process (moto on loopback, the demo's stack created from template.yaml, the user's
pipeline and queues, and the score history replayed through the real evaluator and lifecycle handlers), waits until
it says it is ready, and prints `export` lines, so `eval "$(make -s up)"` points the shell at it. The process id and
the stack's address live in `.local-stack/` (git-ignored); `down` stops exactly that process.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from retrain_trigger_local.runtime import REGION, ROOT, SANDBOX_ENV, LambdaContext, enter_sandbox, load_handler
from retrain_trigger_local.world import (
    PIPELINE_STATUS_EVENT,
    REFERENCE,
    SCHEDULED_EVENT,
    STACK_NAME,
    DemoMonitor,
    prepare_world,
)

STATE_DIR = ROOT / ".local-stack"
STACK_VARIABLE = "RETRAIN_TRIGGER_STACK"  # the CLI's default --stack-name (retrain_trigger_cli reads it)
READY_TIMEOUT_SECONDS = 300.0  # deploy + replay take seconds; a loaded 2-core machine can take a minute
STOP_TIMEOUT_SECONDS = 15.0
PIPELINE_DURATION = timedelta(hours=3)  # as the demo: a started retraining succeeds three hours later
SERVER_MARK = "retrain_trigger_local.live_stack"  # in the server's command line: `down` checks it before a signal
# The variables `up` exports: the endpoint, the sandbox's region and dummy credentials, the stack.
EXPORTED = ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


class LiveStackError(Exception):
    """`up` or `down` cannot do what was asked; the message says why and what to do. Exit code 2."""


@dataclass(frozen=True)
class LiveStack:
    """What `up` leaves in the state folder once the server is ready (stack.json)."""

    pid: int
    endpoint_url: str
    stack_name: str
    region: str
    outputs: dict[str, str]
    seeded: int
    scores: str | None

    def exports(self) -> list[str]:
        """The shell lines that point boto3, the AWS CLI and retrain-trigger at this stack."""
        values = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": SANDBOX_ENV["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": SANDBOX_ENV["AWS_SECRET_ACCESS_KEY"],
            STACK_VARIABLE: self.stack_name,
        }
        return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]


@dataclass(frozen=True)
class StateFiles:
    """The state folder: the server's pid (written by `up` at once), its readiness (stack.json) and its log."""

    folder: Path

    @property
    def pid(self) -> Path:
        return self.folder / "server.pid"

    @property
    def ready(self) -> Path:
        return self.folder / "stack.json"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def read_pid(self) -> int | None:
        try:
            return int(self.pid.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def read_ready(self) -> LiveStack | None:
        try:
            return LiveStack(**json.loads(self.ready.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def write_ready(self, stack: LiveStack) -> None:
        partial = self.ready.with_suffix(".tmp")  # a reader sees the whole file or none of it
        partial.write_text(json.dumps(asdict(stack), indent=2))
        partial.replace(self.ready)

    def clear(self) -> None:
        for path in (self.pid, self.ready, self.ready.with_suffix(".tmp")):
            path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------------------------
# The server process
# ---------------------------------------------------------------------------------------------------------------
def is_our_server(pid: int) -> bool:
    """Whether `pid` is a live-stack server: a pid file can outlive its process, and the pid be reused."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return SERVER_MARK.encode() in command and b"serve" in command


def read_scores(path: Path) -> list[tuple[datetime, Decimal]]:
    """(timestamp, drift score) of a CSV with those two columns; rows without a score are left out, as gaps."""
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"timestamp", "drift_score"} - set(reader.fieldnames or [])
            if missing:
                raise LiveStackError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise LiveStackError(f"{path}: cannot read the scores: {error}") from error
    scores = []
    for line, row in enumerate(rows, start=2):
        if not (row.get("drift_score") or "").strip():
            continue
        try:
            at = datetime.fromisoformat(row["timestamp"].strip().replace("Z", "+00:00"))
            score = Decimal(row["drift_score"].strip())
        except (ValueError, InvalidOperation) as error:
            raise LiveStackError(f"{path}: line {line}: not a timestamp and a score: {error}") from error
        scores.append((at if at.tzinfo else at.replace(tzinfo=UTC), score))
    return sorted(scores)


class Seeder:
    """The score history replayed through the real handlers, one scheduled tick per datapoint, as `make demo` does,
    so the stack's state table holds real decisions when `up` returns."""

    def __init__(self, client: Callable[[str], Any], outputs: Mapping[str, str], monitor: DemoMonitor) -> None:
        self.client = client
        self.outputs = outputs
        self.monitor = monitor
        self.evaluator: ModuleType = load_handler("evaluator", "live_stack_evaluator")
        self.lifecycle: ModuleType = load_handler("lifecycle", "live_stack_lifecycle")

    def run(self, scores: list[tuple[datetime, Decimal]]) -> int:
        tick = json.loads(SCHEDULED_EVENT.read_text())
        dynamodb = self.client("dynamodb")
        for at, score in scores:
            stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
            dynamodb.put_item(
                TableName=self.outputs["ScoreTableName"],
                Item={
                    "monitor_id": {"S": self.monitor.monitor_id},
                    "timestamp": {"S": stamp},
                    "drift_score": {"N": str(score)},
                },
            )
            report = self._invoke(self.evaluator, {**tick, "id": str(uuid.uuid4()), "time": stamp})
            for decided in report["monitors"]:
                for action in decided["actions"]:
                    if action["kind"] == "sagemaker" and action["status"] == "done":
                        self._finish_pipeline(action["result"], at + PIPELINE_DURATION)
        return len(scores)

    def _finish_pipeline(self, execution_arn: str, ended: datetime) -> None:
        """SageMaker's status-change event at the simulated end (moto never finishes an execution on its own)."""
        described = self.client("sagemaker").describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        event = json.loads(PIPELINE_STATUS_EVENT.read_text())
        event |= {"id": str(uuid.uuid4()), "time": ended.strftime("%Y-%m-%dT%H:%M:%SZ")}
        event["detail"] |= {
            "pipelineArn": described["PipelineArn"],
            "pipelineExecutionArn": execution_arn,
            "currentPipelineExecutionStatus": "Succeeded",
            "pipelineExecutionDescription": described.get("PipelineExecutionDescription", ""),
        }
        self._invoke(self.lifecycle, event)

    @staticmethod
    def _invoke(handler: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
        context = LambdaContext(function_name="retrain-trigger-live-stack", aws_request_id=str(uuid.uuid4()))
        result: dict[str, Any] = handler.lambda_handler(event, context)
        return result


def serve(files: StateFiles, scores: Path | None, say: TextIO) -> int:
    """The server process: moto, the stack, the seeded history; ready in stack.json; stopped by SIGTERM."""
    # Imported here: `up` and `down` run in a shell's hot path and need none of moto, boto3 or the template.
    import boto3  # noqa: PLC0415

    from retrain_trigger_local.deploy import deploy_stack  # noqa: PLC0415
    from retrain_trigger_local.moto_server import detach_event_sources, start_moto_server  # noqa: PLC0415

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    enter_sandbox()
    history = read_scores(scores) if scores else []
    with start_moto_server() as server:
        enter_sandbox(server.endpoint_url)
        # moto would run a function itself in a container (there is no engine here, and it must not try).
        server.configure({"lambda": {"use_docker": False}})
        monitor = DemoMonitor()
        stack = deploy_stack(server.endpoint_url, STACK_NAME, monitor.stack_parameters())
        print(f"stack {STACK_NAME} created in moto from template.yaml ({len(stack.physical_ids)} resources)", file=say)
        # Writing a score would make moto run the score-window function from the table's stream: the seeder runs the
        # handlers itself, as Lambda would.
        print(f"event-source mappings detached from {detach_event_sources()}", file=say)
        session = boto3.session.Session(region_name=REGION)

        def client(service: str) -> Any:
            return session.client(service, endpoint_url=server.endpoint_url)  # type: ignore[call-overload]

        prepare_world(client, stack.outputs, monitor.pipeline, lambda text: print(text, file=say))
        os.environ.update(stack.environments.get("EvaluatorFunction", {}))
        os.environ.update({"POWERTOOLS_TRACE_DISABLED": "true", "CONFIG_MAX_AGE_SECONDS": "0"})
        seeded = Seeder(client, stack.outputs, monitor).run(history) if history else 0
        print(f"seeded {seeded} scores{f' of {scores}' if scores else ''} through the evaluator", file=say, flush=True)
        files.write_ready(
            LiveStack(
                pid=os.getpid(),
                endpoint_url=server.endpoint_url,
                stack_name=STACK_NAME,
                region=REGION,
                outputs=stack.outputs,
                seeded=seeded,
                scores=str(scores) if scores else None,
            )
        )
        while not stop.wait(1.0):
            pass
    files.clear()
    print("stopped", file=say, flush=True)
    return 0


# ---------------------------------------------------------------------------------------------------------------
# up and down
# ---------------------------------------------------------------------------------------------------------------
def up(files: StateFiles, scores: Path | None, say: TextIO) -> LiveStack:
    """Start the server (or find the one running) and wait until it is ready."""
    running = files.read_pid()
    if running is not None and is_our_server(running):
        ready = files.read_ready()
        if ready is not None:
            print(f"the live stack is already up (pid {running}); `make down` stops it", file=say)
            return ready
        raise LiveStackError(f"a live-stack server (pid {running}) is starting or stuck: see {files.log}, or make down")
    files.clear()  # a pid file of a process that is gone
    if scores is not None:
        read_scores(scores)  # a bad file is the user's mistake: say so here, not in the detached process's log
    files.folder.mkdir(parents=True, exist_ok=True)
    scores_flag = str(scores) if scores else ""  # always given: serve's own default is the reference scores
    command = [sys.executable, "-m", SERVER_MARK, "--state-dir", str(files.folder), "serve", "--scores", scores_flag]
    with files.log.open("w") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own session: the shell's Ctrl-C and hang-up do not reach it
            cwd=ROOT,
        )
    files.pid.write_text(f"{process.pid}\n")
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while (ready := files.read_ready()) is None:
        if process.poll() is not None:
            files.clear()
            tail = files.log.read_text().strip().splitlines()[-1:] or ["(no output)"]
            raise LiveStackError(
                f"the live-stack server exited with {process.returncode}: {tail[0]} (log: {files.log})"
            )
        if time.monotonic() > deadline:
            stop_server(files, process.pid)
            raise LiveStackError(f"the live stack was not ready after {READY_TIMEOUT_SECONDS:.0f}s (log: {files.log})")
        time.sleep(0.2)
    return ready


def stop_server(files: StateFiles, pid: int) -> bool:
    """SIGTERM to the server, then SIGKILL if it has not exited in time. Whether it had to be killed."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while is_our_server(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # our own child (after a timed-out `up`): reap it, or it stays a zombie
        time.sleep(0.1)
    killed = is_our_server(pid)
    if killed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    files.clear()
    return killed


def down(files: StateFiles, say: TextIO) -> None:
    """Stop the server `up` started (by the pid it recorded, after checking the process is still that server)."""
    pid = files.read_pid()
    if pid is None or not is_our_server(pid):
        files.clear()
        print("no live stack is running", file=say)
        return
    killed = stop_server(files, pid)
    print(f"live stack stopped (pid {pid}{', killed after SIGTERM timed out' if killed else ''})", file=say)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make up|down", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR, help="the pid file, stack.json and the log")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "serve"):
        command = commands.add_parser(name)
        command.add_argument(
            "--scores",
            type=lambda text: Path(text).resolve() if text else None,
            default=REFERENCE,
            help="CSV timestamp,drift_score replayed through the evaluator before `up` returns ('' for none)",
        )
    commands.add_parser("down")
    args = parser.parse_args(argv)
    files = StateFiles(args.state_dir.resolve())
    try:
        if args.command == "serve":
            return serve(files, args.scores, sys.stdout)
        if args.command == "down":
            down(files, sys.stderr)
            print("\n".join(f"unset {name}" for name in (*EXPORTED, STACK_VARIABLE)))
            return 0
        stack = up(files, args.scores, sys.stderr)
    except LiveStackError as error:
        print(f"make {args.command}: error: {error}", file=sys.stderr)
        return 2
    print(
        f"live stack {stack.stack_name} on {stack.endpoint_url} (pid {stack.pid}, {stack.seeded} scores replayed); "
        f"log {files.log}; stop it with `make down`",
        file=sys.stderr,
    )
    print("\n".join(stack.exports()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
