"""Stacks of template.yaml created in moto (under mock_aws) for the template's specifications, and plain clients."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import boto3

from retrain_trigger_local.deploy import StackInfo, deploy_stack
from tests.support.resources import REGION

Deploy = Callable[..., StackInfo]
_names = itertools.count()


def deployer() -> Deploy:
    """deploy(**parameters): the stack of template.yaml created in moto with those parameter overrides."""

    def create(**parameters: str) -> StackInfo:
        return deploy_stack(None, f"rt-{next(_names)}", parameters)

    return create


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]
