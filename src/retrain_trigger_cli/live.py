"""A deployed stack: its outputs from CloudFormation, its configuration parameter, and its state table.

`status` and `history` read the state table through the evaluator's own adapter, so they show exactly what it
committed. `--endpoint-url` points every client at moto (or another endpoint); without flags, boto3's own
environment applies (AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, credentials), and RETRAIN_TRIGGER_STACK names the stack:
what `eval "$(make -s up)"` exports."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from retrain_trigger.adapters.state_table import DynamoDBStateStore
from retrain_trigger.config import Catalog, parse_catalog
from retrain_trigger.errors import ConfigError, RetrainTriggerError
from retrain_trigger.model import HistoryKind, MonitorState
from retrain_trigger_cli.errors import AwsError, UsageError

STACK_VARIABLE = "RETRAIN_TRIGGER_STACK"  # the default --stack-name (`make up` exports it)
NOT_CONFIGURED_HINT = 'for the local stack: eval "$(make -s up)"'


def default_stack_name(given: str | None) -> str | None:
    """The stack a command reads: the flag, else the environment's RETRAIN_TRIGGER_STACK."""
    return given or os.environ.get(STACK_VARIABLE) or None


@contextmanager
def aws_call(what: str) -> Iterator[None]:
    """An AWS call's failure as one line naming the call (AwsError, exit code 1)."""
    try:
        yield
    except ClientError as error:
        problem = error.response.get("Error", {})
        raise AwsError(f"{what}: {problem.get('Code', '?')}: {problem.get('Message', error)}") from error
    except (BotoCoreError, RetrainTriggerError) as error:
        raise AwsError(f"{what}: {error}") from error


@dataclass(frozen=True)
class Stack:
    """Where the resources are: a stack name (its outputs name them), or the names themselves."""

    stack_name: str | None = None
    state_table: str | None = None
    config_parameter: str | None = None
    config_object: str | None = None  # s3://bucket/key, when the stack reads its document from S3
    endpoint_url: str | None = None
    region: str | None = None

    def client(self, service: str) -> Any:
        """A client for the stack's region and endpoint; nothing configured is the user's to fix (exit 2), not an
        AWS error: botocore would only fail on the first call, with a message naming neither variable nor flag."""
        session = boto3.session.Session(region_name=self.region)
        if not session.region_name:
            raise UsageError(f"no AWS region: give --region or set AWS_DEFAULT_REGION ({NOT_CONFIGURED_HINT})")
        if session.get_credentials() is None:
            raise UsageError(
                "no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
                f"({NOT_CONFIGURED_HINT})"
            )
        return session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def outputs(self) -> dict[str, str]:
        if not self.stack_name:
            return {}
        with aws_call(f"DescribeStacks {self.stack_name}"):
            stacks = self.client("cloudformation").describe_stacks(StackName=self.stack_name)["Stacks"]
        return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}

    def resolved(self) -> Stack:
        """Names given as flags win; the others come from the stack's outputs."""
        outputs = self.outputs()
        from_s3 = not self.config_parameter and outputs.get("ConfigSource") == "s3"
        return Stack(
            stack_name=self.stack_name,
            state_table=self.state_table or outputs.get("StateTableName"),
            config_parameter=self.config_parameter or (None if from_s3 else outputs.get("ConfigParameterName")),
            config_object=outputs.get("ConfigObjectUri") if from_s3 else None,
            endpoint_url=self.endpoint_url,
            region=self.region,
        )

    def config_document(self) -> dict[str, Any]:
        """The document the stack's functions read: its SSM parameter, or its S3 object with ConfigSource s3."""
        if self.config_object:
            bucket, _, key = self.config_object.removeprefix("s3://").partition("/")
            where = self.config_object
            with aws_call(f"GetObject {where}"):
                text = self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        elif self.config_parameter:
            where = f"parameter {self.config_parameter}"
            with aws_call(f"GetParameter {self.config_parameter}"):
                text = self.client("ssm").get_parameter(Name=self.config_parameter)["Parameter"]["Value"]
        else:
            raise UsageError(f"no configuration: give --stack-name (or set {STACK_VARIABLE}) or --config-parameter")
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(f"{where}: not JSON: {error}") from error
        if not isinstance(document, dict):
            raise UsageError(f"{where}: not a configuration object")
        return document

    def store(self) -> DynamoDBStateStore:
        if not self.state_table:
            raise UsageError(
                f"no state table: give --stack-name (or set {STACK_VARIABLE}) or --state-table ({NOT_CONFIGURED_HINT})"
            )
        return DynamoDBStateStore(self.state_table, client=self.client("dynamodb"))


def _iso(at: datetime | None) -> str | None:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ") if at else None


def configured_monitors(stack: Stack) -> list[str] | None:
    """The ids of the monitors the stack's configuration declares; None when there is no readable configuration."""
    catalog = _catalog(stack)
    if catalog is None:
        return None
    return sorted({m.id for m in catalog.monitors} | {e.monitor_id for e in catalog.errors})


def _catalog(stack: Stack) -> Catalog | None:
    if not (stack.config_parameter or stack.config_object):
        return None
    try:
        return parse_catalog(stack.config_document())
    except ConfigError:
        return None  # status still shows the states; the mode column says "?"


def status_rows(stack: Stack) -> list[dict[str, Any]]:
    """One row per monitor (in the state table or the configuration), sorted by id."""
    with aws_call(f"Scan {stack.state_table}"):
        states = {s.monitor_id: s for s in stack.store().scan_states()}
    catalog = _catalog(stack)
    configured = {m.id: m for m in catalog.monitors} if catalog else {}
    rows = []
    for monitor_id in sorted(set(states) | set(configured)):
        state = states.get(monitor_id) or MonitorState(monitor_id=monitor_id)
        monitor = configured.get(monitor_id)
        rows.append(
            {
                "monitor_id": monitor_id,
                "state": state.status.value if state.version else "never evaluated",
                "last_score": state.last_score,
                "last_datapoint": _iso(state.last_datapoint_at),
                "last_transition": _iso(state.updated_at),  # unchanged evaluations are not written
                "episode": state.episode.id if state.episode else None,
                "retrains_in_episode": state.episode.retrains if state.episode else 0,
                "pending_actions": [f"{a.kind}:{a.notice.event}" for a in state.pending],
                "mode": (monitor.mode if monitor else "not configured") if catalog else "?",
                "version": state.version,
            }
        )
    return rows


def history_rows(stack: Stack, monitor_id: str, limit: int) -> list[dict[str, Any]]:
    """The monitor's transitions, newest first, with what the decision saw."""
    with aws_call(f"Query {stack.state_table}"):
        entries = stack.store().history(monitor_id, limit)
    return [
        {
            "at": entry.get("at"),
            "kind": entry.get("kind"),
            "before": entry.get("before"),
            "after": entry.get("after"),
            "score": entry.get("score"),
            "reason": entry.get("reason"),
            "episode": entry.get("episode_id"),
            "actions": entry.get("actions", []),
            "config_version": entry.get("config_version"),
            "version": entry.get("version"),
        }
        for entry in reversed(entries)
    ]


def write_status(rows: list[dict[str, Any]], out: TextIO) -> None:
    header = f"{'monitor':<20}{'state':<17}{'last score':>11}  {'last transition':<21}{'mode':<8}{'episode':<34}pending"
    out.write(header + "\n")
    for row in rows:
        score = f"{row['last_score']:.4f}" if row["last_score"] is not None else "-"
        out.write(
            f"{row['monitor_id']:<20}{row['state']:<17}{score:>11}  {row['last_transition'] or '-':<21}"
            f"{row['mode']:<8}{row['episode'] or '-':<34}{' '.join(row['pending_actions']) or '-'}\n"
        )


def write_history(rows: list[dict[str, Any]], out: TextIO) -> None:
    out.write(f"{'at':<22}{'transition':<26}{'score':>8}  reason\n")
    for row in rows:
        score = f"{row['score']:.4f}" if isinstance(row["score"], int | float) else "-"
        change = f"{row['before']} -> {row['after']}"
        out.write(f"{row['at']:<22}{change:<26}{score:>8}  {row['reason']}\n")
        if row["actions"]:
            label = "results" if row["kind"] == HistoryKind.DELIVERY else "actions"
            out.write(f"{'':<22}{'':<26}{'':>8}  {label}: {', '.join(row['actions'])}\n")


def write_json_lines(rows: Sequence[Mapping[str, Any]], out: TextIO) -> None:
    for row in rows:
        out.write(json.dumps(row) + "\n")
