"""samconfig.toml: a `default` from `sam init` (with lint on validate) and `dev` and `prod` environments, each with its
own stack and parameter overrides the template accepts, and each creating a stack whose seeded configuration the
evaluator reads without an error."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from retrain_trigger.config import parse_catalog_json
from retrain_trigger_local.template import read_template
from tests.support.stacks import Deploy, client

ROOT = Path(__file__).resolve().parents[2]
SAMCONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text())
ENVIRONMENTS = ("dev", "prod")


def overrides(environment: str, command: str = "deploy") -> dict[str, str]:
    """The environment's `parameter_overrides` for `sam <command> --config-env <environment>`, as Key -> Value."""
    entries = SAMCONFIG[environment][command]["parameters"].get("parameter_overrides", [])
    return dict(entry.split("=", 1) for entry in entries)


def accepted(spec: dict[str, Any], value: str) -> bool:
    """Whether CloudFormation takes `value` for a parameter declared as `spec`."""
    if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
        return False
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
        return False
    return spec["Type"] != "Number" or re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value) is not None


def test_the_file_is_sam_s_version_with_lint_on_validate_for_every_environment() -> None:
    assert SAMCONFIG["version"] == 0.1
    for environment in ("default", *ENVIRONMENTS):
        assert SAMCONFIG[environment]["validate"]["parameters"]["lint"] is True, environment


def test_each_environment_deploys_its_own_stack() -> None:
    names = [SAMCONFIG[env]["global"]["parameters"]["stack_name"] for env in ("default", *ENVIRONMENTS)]

    assert names == ["retrain-trigger", "retrain-trigger-dev", "retrain-trigger-prod"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_an_environment_repeats_what_deploy_needs_as_it_inherits_nothing_from_default(environment: str) -> None:
    deploy = SAMCONFIG[environment]["deploy"]["parameters"]

    assert deploy["capabilities"] == SAMCONFIG["default"]["deploy"]["parameters"]["capabilities"]
    assert deploy["resolve_s3"] is True
    assert f"Stage={environment}" in deploy["parameter_overrides"]


def test_prod_reviews_every_change_set_and_dev_does_not_stop_to_ask() -> None:
    assert SAMCONFIG["prod"]["deploy"]["parameters"]["confirm_changeset"] is True
    assert SAMCONFIG["dev"]["deploy"]["parameters"]["confirm_changeset"] is False


@pytest.mark.parametrize(("environment", "command"), [("dev", "deploy"), ("dev", "sync"), ("prod", "deploy")])
def test_every_override_names_a_template_parameter_with_a_value_it_accepts(environment: str, command: str) -> None:
    parameters = read_template()["Parameters"]

    given = overrides(environment, command)

    assert given
    assert set(given) <= set(parameters), set(given) - set(parameters)
    refused = {key: value for key, value in given.items() if not accepted(parameters[key], value)}
    assert not refused


def test_the_checker_refuses_what_cloudformation_would() -> None:
    parameters = read_template()["Parameters"]

    assert not accepted(parameters["TickMinutes"], "7")
    assert not accepted(parameters["LogRetentionDays"], "8")
    assert not accepted(parameters["MonitorEvery"], "hourly")
    assert accepted(parameters["LogRetentionDays"], "365")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_an_environment_s_overrides_create_a_stack_whose_seeded_configuration_is_valid(
    environment: str, deploy: Deploy
) -> None:
    stack = deploy(**overrides(environment))

    document = client("ssm").get_parameter(Name=stack.outputs["ConfigParameterName"])["Parameter"]["Value"]
    catalog = parse_catalog_json(document)
    assert stack.parameters["Stage"] == environment
    assert catalog.errors == ()
    assert [m.id for m in catalog.monitors] == ["churn-model"]
