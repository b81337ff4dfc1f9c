"""`retrain-trigger config validate FILE` and `config push FILE --stack S`: the evaluator's own checks before a
document reaches a stack, then the write the stack reads (its SSM parameter, or its S3 object with ConfigSource s3)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from retrain_trigger.config import Catalog, config_version, parse_catalog
from retrain_trigger.errors import ConfigError
from retrain_trigger_cli import live
from retrain_trigger_cli.configs import load_document
from retrain_trigger_cli.errors import UsageError

# A Standard SSM parameter's value (the template creates a Standard one); a larger document belongs in S3.
SSM_STANDARD_LIMIT = 4096


class InvalidConfig(UsageError):  # noqa: N818 - a UsageError: one line per problem, exit code 2
    """The document fails the evaluator's checks; `problems` holds every one, each naming its monitor and field."""

    def __init__(self, path: Path, problems: list[ConfigError]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: invalid: {len(problems)} problem(s) (one line each above)")


def add_parser(commands: Any) -> None:
    """The `config` command and its two subcommands, on the CLI's subparsers."""
    p = commands.add_parser(
        "config",
        help="validate a configuration document, or push it to a deployed stack",
        description="validate: the evaluator's own per-monitor checks, every problem reported. push: validate, then "
        "write the document where the stack's functions read it (its ConfigSource output: SSM or S3).",
    )
    actions = p.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    validate = actions.add_parser(
        "validate", help="check a document as the evaluator does; exit 2 on any problem", description=__doc__
    )
    validate.add_argument("file", type=Path, metavar="FILE", help="the configuration document (JSON)")
    push = actions.add_parser(
        "push", help="validate, then write to the stack's SSM parameter or S3 object", description=__doc__
    )
    push.add_argument("file", type=Path, metavar="FILE", help="the configuration document (JSON)")
    push.add_argument("--stack", help=f"the deployed stack (default: ${live.STACK_VARIABLE})")
    push.add_argument("--endpoint-url", help="send every AWS call here (e.g. a moto server)")
    push.add_argument("--region", help="AWS region (default: the environment's)")


def validated(path: Path) -> tuple[dict[str, Any], Catalog]:
    """The document and its catalog, when every monitor passes the evaluator's checks; else InvalidConfig."""
    document = load_document(path)
    try:
        catalog = parse_catalog(document, every_error=True)
    except ConfigError as error:  # the document as a whole: no monitor can be read
        raise InvalidConfig(path, [error]) from error
    if catalog.errors:
        raise InvalidConfig(path, list(catalog.errors))
    return document, catalog


def validate(path: Path) -> int:
    _, catalog = validated(path)
    ids = ", ".join(m.id for m in catalog.monitors)
    print(f"{path}: valid: {len(catalog.monitors)} monitor(s) ({ids}); version {catalog.version}")
    return 0


def push(path: Path, stack_name: str | None, endpoint_url: str | None, region: str | None) -> int:
    document, catalog = validated(path)
    name = live.default_stack_name(stack_name)
    if not name:
        raise UsageError(f"no stack: give --stack or set {live.STACK_VARIABLE}")
    stack = live.Stack(stack_name=name, endpoint_url=endpoint_url, region=region).resolved()
    monitors = f"{len(catalog.monitors)} monitor(s)"
    if stack.config_object:  # ConfigSource s3: the object, whose ETag each decision records as its version
        bucket, _, key = stack.config_object.removeprefix("s3://").partition("/")
        with live.aws_call(f"PutObject {stack.config_object}"):
            written = stack.client("s3").put_object(
                Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType="application/json"
            )
        version = "s3:" + str(written.get("ETag", "")).strip('"')
        print(f"pushed {path} ({monitors}) to {stack.config_object}; version {version}")
        return 0
    if not stack.config_parameter:
        raise UsageError(f"stack {name}: no ConfigParameterName or ConfigObjectUri output to push to")
    # Compact: the parameter holds 4 KiB, and the evaluator's version is a hash of the parsed document, not the text.
    text = json.dumps(document, separators=(",", ":"))
    if len(text.encode()) > SSM_STANDARD_LIMIT:
        raise UsageError(
            f"{path}: {len(text.encode())} bytes compacted, more than the SSM parameter's {SSM_STANDARD_LIMIT}: "
            "deploy the stack with ConfigSource=s3 and push again"
        )
    with live.aws_call(f"PutParameter {stack.config_parameter}"):
        stack.client("ssm").put_parameter(Name=stack.config_parameter, Value=text, Type="String", Overwrite=True)
    print(f"pushed {path} ({monitors}) to parameter {stack.config_parameter}; version {config_version(document)}")
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        if args.config_command == "validate":
            return validate(args.file)
        return push(args.file, args.stack, args.endpoint_url, args.region)
    except InvalidConfig as invalid:
        for problem in invalid.problems:
            print(f"{invalid.path}: {problem}", file=sys.stderr)
        raise
