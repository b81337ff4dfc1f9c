"""The local Lambda runtime every local tool shares: the context, handler loading and the sandbox's environment.

Imported by the demo, the bench (in its fresh child processes too), sam-local and the tests, so it imports nothing
but the standard library: a child process timed from its first line must not pay for anything else here.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]  # the checkout: template.yaml, functions/, layers/, events/
FUNCTIONS_DIR = ROOT / "functions"
LAYER_DIR = ROOT / "layers" / "retrain_trigger"

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account

# Dummy credentials: every process that talks to a moto server needs some, and never real ones.
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
SANDBOX_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
    "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
    "AWS_SESSION_TOKEN": "testing",
}
# Variables that would point boto3 at a real account instead of the sandbox's dummy credentials.
REAL_ACCOUNT_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")


@dataclass(frozen=True)
class LambdaContext:
    """What Powertools reads from the Lambda context."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:local"


def handler_path(name: str) -> Path:
    """functions/<name>/app.py: where template.yaml's CodeUri puts each function's handler."""
    path = FUNCTIONS_DIR / name / "app.py"
    if not path.is_file():
        raise FileNotFoundError(f"no handler {path} (functions: {sorted(p.name for p in FUNCTIONS_DIR.iterdir())})")
    return path


def load_handler(name: str, module_name: str | None = None) -> ModuleType:
    """Import functions/<name>/app.py by path, as Lambda loads a handler at a cold start.

    Every handler file is called app.py, so each is registered under its own module name (`<name>_app` unless
    `module_name` says otherwise: a process that holds one handler only may call it `app`, as Lambda does).
    """
    return load_handler_file(handler_path(name), module_name or f"{name}_app")


def load_handler_file(path: Path, module_name: str) -> ModuleType:
    """Import the handler file at `path` as module `module_name` (registered in sys.modules, as an import is)."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def sandbox_environment(endpoint_url: str | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) with the sandbox's region and dummy credentials, without any
    profile that would reach a real account, and with `endpoint_url` as every client's endpoint when given."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in REAL_ACCOUNT_VARIABLES}
    env |= SANDBOX_ENV
    if endpoint_url is not None:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    return env


def enter_sandbox(endpoint_url: str | None = None) -> None:
    """Point this process at the sandbox: region, dummy credentials and (when given) the moto server's endpoint."""
    for name in REAL_ACCOUNT_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(sandbox_environment(endpoint_url, base={}))
