"""Read template.yaml (with CloudFormation's short-form tags) so tests and the demo build from the template itself."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from retrain_trigger_local.runtime import ROOT

TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns `!Ref X` into {"Ref": "X"}, `!GetAtt A.B` into {"Fn::GetAtt": ["A", "B"]}, etc."""


def _construct(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    name = tag_suffix if tag_suffix in {"Ref", "Condition"} else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open() as handle:
        document = yaml.load(handle, Loader=_CfnLoader)
    assert isinstance(document, dict)
    return document


@cache
def read_template() -> dict[str, Any]:
    """The parsed template.yaml of this checkout (cached: treat it as read-only)."""
    return load_template()


def resource_properties(logical_id: str) -> dict[str, Any]:
    properties = read_template()["Resources"][logical_id]["Properties"]
    assert isinstance(properties, dict)
    return properties
