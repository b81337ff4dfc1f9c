"""`retrain-trigger ack MONITOR`, `approve MONITOR EPISODE` and `reject MONITOR EPISODE` against a deployed stack.

The commands call the service's own `handle_command` against the stack's state table, as the lifecycle function
does for the same commands arriving as bus events: one code path, and the operator gets the answer at once (an
event put on the bus would be answered only in the function's log). Exit codes: 0 done (or done before: each
command is idempotent), 3 refused by the state (no open episode, another episode, no approval awaited, the request
expired), 2 a usage error (unknown monitor, nothing configured), 1 AWS could not be reached."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime
from typing import Any

from retrain_trigger.commands import CommandResult, handle_command
from retrain_trigger.config import Catalog, parse_catalog
from retrain_trigger.errors import BadInput, ConfigError
from retrain_trigger.model import CommandKind, OperatorCommand
from retrain_trigger_cli import live
from retrain_trigger_cli.errors import UsageError

REFUSED = 3  # the command was understood and the state said no: a script can tell it from a usage or AWS error


class _StackDocument:
    """The stack's configuration document as the functions read it (the ConfigSource port)."""

    def __init__(self, stack: live.Stack) -> None:
        self.stack = stack

    def load(self) -> Catalog:
        try:
            return parse_catalog(self.stack.config_document())
        except ConfigError as error:
            raise UsageError(f"the stack's configuration is invalid: {error}") from error


def add_parsers(commands: Any) -> None:
    """`ack`, `approve` and `reject` on the CLI's subparsers."""
    helps = {
        "ack": "acknowledge a monitor's open episode: its alert is not repeated until the next transition",
        "approve": "approve the retraining an episode awaits (AWAITING_APPROVAL): it starts on the next tick",
        "reject": "reject the retraining an episode awaits: the episode stays open in ALARM, without retraining",
    }
    for name, text in helps.items():
        p = commands.add_parser(name, help=text, description=f"{text}. {__doc__}")
        p.add_argument("monitor", metavar="MONITOR")
        if name == "ack":
            p.add_argument("--episode", metavar="EPISODE", help="refuse unless this is the open episode")
        else:
            p.add_argument("episode", metavar="EPISODE", help="the episode id the approval request names")
        p.add_argument("--by", default=_user(), help="who answers, recorded in the history (default: $USER)")
        p.add_argument(
            "--stack", "--stack-name", dest="stack_name", help=f"the deployed stack (default: ${live.STACK_VARIABLE})"
        )
        p.add_argument("--state-table", help="the state table's name (instead of the stack output StateTableName)")
        p.add_argument("--config-parameter", help="the SSM parameter holding the configuration document")
        p.add_argument("--endpoint-url", help="send every AWS call here (e.g. a moto server)")
        p.add_argument("--region", help="AWS region (default: the environment's)")
        p.add_argument("--json", action="store_true", help="the answer as one JSON object")


def run(args: argparse.Namespace) -> int:
    kind: CommandKind = {"ack": "acknowledge", "approve": "approve", "reject": "reject"}[args.command]  # type: ignore[assignment]
    stack = live.Stack(
        stack_name=live.default_stack_name(args.stack_name),
        state_table=args.state_table,
        config_parameter=args.config_parameter,
        endpoint_url=args.endpoint_url,
        region=args.region,
    ).resolved()
    command = OperatorCommand(
        kind=kind, monitor_id=args.monitor, at=datetime.now(UTC), episode_id=args.episode, by=args.by
    )
    with live.aws_call(f"{args.command} {args.monitor}"):
        try:
            result = handle_command(command, _StackDocument(stack), stack.store())
        except BadInput as error:  # the only BadInput a command raises: the monitor is not configured
            raise UsageError(f"no monitor {args.monitor!r} in the stack's configuration") from error
    _write(result, args.json)
    return 0 if result.ok else REFUSED


def _write(result: CommandResult, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.as_dict()))
        return
    out = sys.stdout if result.ok else sys.stderr
    answer = result.as_dict()
    print(f"{answer['monitor_id']}: {answer['verdict']}: {answer['message']} (state {answer['state_after']})", file=out)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return ""


COMMANDS = {"ack": run, "approve": run, "reject": run}
