"""`make invoke` and the sam_local tests: `sam local invoke` for real, in a Lambda-like container, against moto.

No public image can be pulled here, so the pieces are local: a Docker engine (scripts/docker-up), a python3.12
image built offline (scripts/lambda-image/build), the moto server on the Docker bridge's address with the demo's
stack deployed into it, and an x86_64 copy of the template built with `sam build` (the template's arm64 cannot run
on this machine; deployments stay arm64). `SamLocal` sets all of it up and undoes it on exit.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import fcntl
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import yaml

from retrain_trigger_local.aws_target import AwsTarget
from retrain_trigger_local.deploy import StackInfo, deploy_stack
from retrain_trigger_local.moto_server import MotoServer, detach_event_sources
from retrain_trigger_local.runtime import REGION, ROOT, sandbox_environment
from retrain_trigger_local.template import load_template
from retrain_trigger_local.world import REFERENCE, SCHEDULED_EVENT, STACK_NAME, DemoMonitor, drain, prepare_world

SAM = ROOT / ".venv-sam" / "bin" / "sam"
SCRIPTS = ROOT / "scripts"
BUILD_DIR = ROOT / ".aws-sam-local"
STATE_DIR = Path(
    os.environ.get("RETRAIN_TRIGGER_SAM_LOCAL_STATE") or Path.home() / ".cache" / "retrain-trigger-sam-local"
)
LOCAL_ARCHITECTURE = "x86_64"
ENGINE_UNAVAILABLE = 3  # the exit status scripts/docker-up and scripts/lambda-image/build use for "not here"
INVOKE_TIMEOUT_SECONDS = 600


class SamLocalUnavailableError(RuntimeError):
    """No Docker engine (or no python3.12 to build the image from) can be had on this machine."""


# ---------------------------------------------------------------------------------------------------------------
# The engine, the images and the x86_64 build
# ---------------------------------------------------------------------------------------------------------------
def _script(name: str, *args: str) -> str:
    done = subprocess.run([str(SCRIPTS / name), *args], capture_output=True, text=True, check=False)
    if done.returncode == ENGINE_UNAVAILABLE:
        raise SamLocalUnavailableError(done.stderr.strip())
    if done.returncode != 0:
        raise RuntimeError(f"scripts/{name} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout.strip()


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout.strip()


def bridge_address() -> str:
    """docker0's IPv4 address on this host: what a container on the default bridge reaches the host by."""
    command = ["ip", "-4", "-o", "addr", "show", "dev", "docker0"]
    shown = subprocess.run(command, capture_output=True, text=True, check=False)
    for word, value in zip(shown.stdout.split(), shown.stdout.split()[1:], strict=False):
        if word == "inet":
            return value.split("/", 1)[0]
    raise SamLocalUnavailableError(f"docker0 has no IPv4 address: {shown.stdout or shown.stderr}")


def endpoint_image(base: str, endpoint_url: str) -> str:
    """`base` with AWS_ENDPOINT_URL set: SAM passes a function only the variables its template declares."""
    tag = f"{base.split(':', 1)[0]}-moto:{endpoint_url.rsplit(':', 1)[1]}"
    container = _docker("create", base)
    try:
        _docker("commit", "--change", f"ENV AWS_ENDPOINT_URL={endpoint_url}", container, tag)
    finally:
        _docker("rm", container)
    return tag


def _sam_images() -> list[str]:
    """The ids of the images SAM CLI built (its repositories are samcli/...)."""
    return _docker("images", "--quiet", "--no-trunc", "--filter", "reference=samcli/*").split()


def _remove_images_since(before: set[str]) -> None:
    created = [image for image in _sam_images() if image not in before]
    if created:
        _docker("rmi", "--force", *created)


def local_template(build_dir: Path = BUILD_DIR, root: Path = ROOT) -> Path:
    """An x86_64 copy of template.yaml for local builds only; the path of the copy.

    Its code paths point at snapshots of the code without bytecode caches: `sam build --cached` hashes every file
    under a CodeUri, and the caches that each test run rewrites would make every build a full one.
    """
    template = load_template(root / "template.yaml")
    template["Globals"]["Function"]["Architectures"] = [LOCAL_ARCHITECTURE]
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            if "Architectures" in props:
                props["Architectures"] = [LOCAL_ARCHITECTURE]
            props["CodeUri"] = str(_snapshot(root / props["CodeUri"], build_dir / "src" / logical_id))
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            props["CompatibleArchitectures"] = [LOCAL_ARCHITECTURE]
            props["ContentUri"] = str(_snapshot(root / props["ContentUri"], build_dir / "src" / logical_id))
            resource.setdefault("Metadata", {})["BuildArchitecture"] = LOCAL_ARCHITECTURE
    build_dir.mkdir(parents=True, exist_ok=True)
    path = build_dir / "template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False))
    return path


def _snapshot(source: Path, destination: Path) -> Path:
    shutil.rmtree(destination, ignore_errors=True)
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*_cache"))
    return destination


def sam_build(build_dir: Path = BUILD_DIR) -> Path:
    """`sam build --cached` of the x86_64 copy, with the machine's python3.12; the built template's path."""
    template = local_template(build_dir)
    python312 = subprocess.run([str(SCRIPTS / "python312")], capture_output=True, text=True, check=True).stdout
    if not python312.strip():
        raise SamLocalUnavailableError("no python3.12 on this machine for sam build")
    command = [str(SAM), "build", "--template-file", str(template), "--build-dir", str(build_dir / "build")]
    command += ["--cache-dir", str(build_dir / "cache"), "--cached"]
    env = {**os.environ, "PATH": f"{python312.strip()}:{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0"}
    # cwd: the build folder, so SAM neither reads the repository's samconfig.toml nor writes next to it.
    done = subprocess.run(command, cwd=build_dir, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"sam build failed:\n{done.stdout}\n{done.stderr}")
    return build_dir / "build" / "template.yaml"


# ---------------------------------------------------------------------------------------------------------------
# One invocation
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Invocation:
    """What `sam local invoke` reported: the function's result (or error document) and its log."""

    function: str
    payload: Any
    log: str
    seconds: float

    @property
    def error_type(self) -> str | None:
        """The error's type when the function raised (`sam local invoke` exits 0 either way)."""
        if isinstance(self.payload, dict) and "errorType" in self.payload:
            return str(self.payload["errorType"])
        return None


def _payload(stdout: str) -> Any:
    """The function's response: the last line of SAM's stdout that is JSON."""
    for line in reversed(stdout.strip().splitlines()):
        with contextlib.suppress(ValueError):
            return json.loads(line)
    raise ValueError(f"no JSON response in sam local invoke's output: {stdout!r}")


# ---------------------------------------------------------------------------------------------------------------
# The whole setup
# ---------------------------------------------------------------------------------------------------------------
class SamLocal:
    """Engine, image, moto with the demo's stack and world, and the x86_64 build; undone on exit, in reverse.

    One at a time per machine (a lock in the state folder): two sessions would share one dockerd and one bridge.
    """

    def __init__(self, state_dir: Path = STATE_DIR, build_dir: Path = BUILD_DIR, say: IO[str] = sys.stderr) -> None:
        self.state_dir = state_dir
        self.build_dir = build_dir
        self._say = say
        self._cleanup = contextlib.ExitStack()
        self.timings: dict[str, float] = {}
        self.invocations = 0

    def say(self, text: str) -> None:
        print(text, file=self._say, flush=True)

    @contextlib.contextmanager
    def _timed(self, step: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        self.timings[step] = time.monotonic() - started
        self.say(f"sam-local: {step}: {self.timings[step]:.1f}s")

    def __enter__(self) -> Self:
        try:
            self._set_up()
        except BaseException:
            self._cleanup.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._timed("teardown"):
            self._cleanup.close()

    def _set_up(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        lock = self._cleanup.enter_context((self.state_dir / "lock").open("w"))
        fcntl.flock(lock, fcntl.LOCK_EX)
        with self._timed("docker engine"):
            self._cleanup.callback(_script, "docker-down", str(self.state_dir))
            _script("docker-up", str(self.state_dir))
        with self._timed("base image"):
            self.base_image = _script("lambda-image/build", str(self.state_dir))
        with self._timed("sam build (x86_64 copy)"):
            self.template = sam_build(self.build_dir)
        with self._timed("moto server and stack"):
            self.server = MotoServer(bridge_address())
            self._cleanup.callback(self.server.stop)
            self.server.reset()  # moto's backends are per process: start from an empty account
            # With an engine answering, moto would run an invoked function itself (see detach_event_sources).
            before = self.server.configure({"lambda": {"use_docker": False}})
            self._cleanup.callback(self.server.configure, {"lambda": before["lambda"]})
            self.target = AwsTarget.of(self.server.endpoint_url)
            self.monitor = DemoMonitor()
            self.stack: StackInfo = deploy_stack(self.server.endpoint_url, STACK_NAME, self.monitor.stack_parameters())
            self.detached = detach_event_sources()
            self.queues = prepare_world(self.client, self.stack.outputs, self.monitor.pipeline, self.say)
        with self._timed("endpoint image"):
            self.image = endpoint_image(self.base_image, self.server.endpoint_url)
            # SAM builds its own image on top of ours (its emulator, the layer): this session's port is in it, so
            # it is of no use afterwards. Images that were there before are left alone.
            self._cleanup.callback(_remove_images_since, set(_sam_images()))
            self._cleanup.callback(_docker, "rmi", "--force", self.image)
        self.env_vars = self.build_dir / "env.json"
        self.env_vars.write_text(json.dumps(self.stack.environments, indent=2))

    def client(self, service: str) -> Any:
        return self.target.session.client(service, region_name=REGION, endpoint_url=self.server.endpoint_url)  # type: ignore[call-overload]

    def seed_reference_scores(self, until: str) -> int:
        """The reference scenario's scores up to `until` (ISO, Z) in the ScoreTable, as the demo writes them."""
        table = self.target.session.resource("dynamodb", endpoint_url=self.server.endpoint_url).Table(
            self.stack.outputs["ScoreTableName"]
        )
        with REFERENCE.open() as handle:
            rows = [row for row in csv.DictReader(handle) if row["timestamp"] <= until]
        with table.batch_writer() as batch:
            for row in rows:
                item = {"monitor_id": self.monitor.monitor_id, "timestamp": row["timestamp"]}
                batch.put_item(Item=item | {"drift_score": Decimal(row["drift_score"])})
        return len(rows)

    def sam_environment(self) -> dict[str, str]:
        """SAM's own environment: moto's endpoint (else ~10 s of STS retries) and credentials it hands on."""
        return sandbox_environment(self.server.endpoint_url) | {"SAM_CLI_TELEMETRY": "0"}

    def invoke(self, function: str, event: Path | Mapping[str, Any]) -> Invocation:
        """`sam local invoke FUNCTION -e EVENT` in the Lambda-like container, against moto."""
        with contextlib.ExitStack() as stack:
            if isinstance(event, Path):
                event_path = event.resolve()  # SAM runs in the build folder
            else:
                handle = stack.enter_context(
                    tempfile.NamedTemporaryFile("w", suffix=".json", dir=self.build_dir, delete=True)
                )
                json.dump(event, handle)
                handle.flush()
                event_path = Path(handle.name)
            command = [str(SAM), "local", "invoke", function, "--template-file", str(self.template)]
            command += ["--event", str(event_path), "--env-vars", str(self.env_vars)]
            command += ["--invoke-image", self.image, "--skip-pull-image"]
            started = time.monotonic()
            done = subprocess.run(
                command,
                cwd=self.build_dir,
                env=self.sam_environment(),
                capture_output=True,
                text=True,
                timeout=INVOKE_TIMEOUT_SECONDS,
                check=False,
            )
        seconds = time.monotonic() - started
        self.invocations += 1
        self.timings[f"invoke {self.invocations} ({function})"] = seconds
        if done.returncode != 0:
            raise RuntimeError(f"sam local invoke {function} failed ({done.returncode}):\n{done.stderr}")
        return Invocation(function, _payload(done.stdout), done.stderr, seconds)


# ---------------------------------------------------------------------------------------------------------------
# `make invoke`
# ---------------------------------------------------------------------------------------------------------------
def read_back(local: SamLocal) -> Iterator[str]:
    """What the invocation left in moto, as lines: pipeline executions, the state and its history, and the
    messages on the retrain queue, the on-call queue (alerts) and the bus-capture queue (consumed here)."""
    outputs, sagemaker, sqs = local.stack.outputs, local.client("sagemaker"), local.client("sqs")
    pipeline = local.monitor.pipeline
    executions = sagemaker.list_pipeline_executions(PipelineName=pipeline)["PipelineExecutionSummaries"]
    yield f"SageMaker executions of {pipeline!r}: {len(executions)}"
    for execution in executions:
        arn = execution["PipelineExecutionArn"]
        parameters = sagemaker.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"]
        yield f"  {arn} {execution.get('PipelineExecutionStatus', '?')}"
        yield "    " + ", ".join(f"{p['Name']}={p['Value']}" for p in parameters)
    items = local.client("dynamodb").scan(TableName=outputs["StateTableName"])["Items"]
    states = [item for item in items if item["sk"]["S"] == "state"]
    history = sorted((item for item in items if item["sk"]["S"].startswith("history#")), key=lambda i: i["sk"]["S"])
    for state in states:
        yield f"State item {_text(state, 'pk')}: {_text(state, 'status')} (version {_text(state, 'version')})"
    if not states:
        yield "State item: none"
    for item in history:
        change = f"{_text(item, 'before')} -> {_text(item, 'after')}"
        yield f"  history {_text(item, 'at')}  {change}: {_text(item, 'reason')}"
    for title, url in (
        ("Retrain queue", outputs["RetrainQueueUrl"]),
        ("Alerts (on-call queue)", local.queues["oncall"]),
        ("Bus events (capture queue)", local.queues["capture"]),
    ):
        bodies = [json.loads(m["Body"]) for m in drain(sqs, url)]
        yield f"{title}: {len(bodies)}"
        for body in bodies:
            yield f"  {_summary(body)}"


def _text(item: Mapping[str, Any], key: str) -> str:
    """A DynamoDB item's string or number attribute as text ("?" when absent)."""
    value = item.get(key, {})
    return str(value.get("S", value.get("N", "?")))


def _summary(body: dict[str, Any]) -> str:
    if "detail-type" in body:
        return f"{body['detail-type']}: {body['detail'].get('event')} ({body['detail'].get('idempotency_key')})"
    if "Subject" in body:
        attributes = {k: v["Value"] for k, v in body.get("MessageAttributes", {}).items()}
        return f"{body['Subject']} [severity={attributes.get('severity')}, event={attributes.get('event')}]"
    return f"{body.get('monitor_id')} episode {body.get('episode_id')} key {body.get('idempotency_key')}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make invoke", description=__doc__.splitlines()[0])
    parser.add_argument("function", nargs="?", default="EvaluatorFunction")
    parser.add_argument("event", nargs="?", type=Path, default=SCHEDULED_EVENT)
    args = parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # in step with the setup's lines on stderr
    with SamLocal() as local:
        if local.detached:
            print(f"moto runs no function in this session: event-source mappings detached from {local.detached}")
        tick = json.loads(SCHEDULED_EVENT.read_text())["time"]
        seeded = local.seed_reference_scores(until=tick)
        print(f"seeded {seeded} reference scores up to {tick} into {local.stack.outputs['ScoreTableName']}")
        invocation = local.invoke(args.function, args.event)
        print(f"\n--- {args.function} log ---\n{invocation.log}")
        print(f"--- {args.function} result ({invocation.seconds:.1f}s) ---\n{json.dumps(invocation.payload, indent=2)}")
        print("\n--- what reached moto ---")
        for line in read_back(local):
            print(line)
    return 1 if invocation.error_type else 0


if __name__ == "__main__":
    raise SystemExit(main())
