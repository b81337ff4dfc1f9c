"""`retrain-trigger config validate FILE` and `config push FILE --stack S`: the evaluator's checks, every problem named,
then the document written where the stack's functions read it (the stack of template.yaml, created in moto)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from retrain_trigger.adapters.s3_config import S3ConfigSource
from retrain_trigger.adapters.ssm_config import SsmConfigSource
from retrain_trigger.config import parse_catalog
from retrain_trigger_cli.config_cmd import SSM_STANDARD_LIMIT
from tests.cli.conftest import ROOT, Run, write
from tests.support.stacks import Deploy, client

EXAMPLE = ROOT / "examples" / "monitors.json"
BROKEN = ROOT / "examples" / "broken-monitors.json"


def test_a_valid_document_is_reported_with_its_monitors_and_the_version_the_evaluator_records(cli: Any) -> None:
    run: Run = cli("config", "validate", EXAMPLE)

    document = json.loads(EXAMPLE.read_text())
    assert run.code == 0, run.err
    assert run.out == (
        f"{EXAMPLE}: valid: 2 monitor(s) (churn-model, fraud-model); version {parse_catalog(document).version}\n"
    )
    assert run.err == ""


def test_validate_reports_every_problem_each_naming_its_monitor_and_field_and_exits_2(cli: Any) -> None:
    run: Run = cli("config", "validate", BROKEN)

    assert run.code == 2
    assert run.out == ""
    *problems, summary = run.err.splitlines()
    named = [line.removeprefix(f"{BROKEN}: ").split(": ", 2) for line in problems]
    assert [(monitor, field) for monitor, field, _ in named] == [
        ("monitor 'churn-model'", "field 'warning'"),
        ("monitor 'fraud-model'", "field 'critical'"),
        ("monitor 'fraud-model'", "field 'cooldown'"),
        ("monitor 'fraud-model'", "field 'critcal'"),  # the typo, besides the key it leaves missing
        ("monitor 'ranker'", "field 'reset'"),  # a rule across fields, in a monitor whose fields parse
    ]
    assert named[2][2] == "must not be negative" and named[4][2] == "must not be above critical"
    assert summary == f"retrain-trigger config: error: {BROKEN}: invalid: 5 problem(s) (one line each above)"


def test_validate_rejects_exactly_the_monitors_the_evaluator_rejects() -> None:
    document = json.loads(BROKEN.read_text())

    evaluator = parse_catalog(document)
    every = parse_catalog(document, every_error=True)

    assert [m.id for m in every.monitors] == [m.id for m in evaluator.monitors]
    assert {e.monitor_id for e in every.errors} == {e.monitor_id for e in evaluator.errors}
    for reported in evaluator.errors:  # the evaluator's one line per monitor is one of validate's, word for word
        assert reported.as_dict() in [e.as_dict() for e in every.errors]


def test_a_document_level_problem_is_one_line_and_exit_2(cli: Any, tmp_path: Path) -> None:
    path = write(tmp_path / "m.json", json.dumps({"monitors": [{"id": "a", "critical": 0.2}], "defautls": {}}))

    run: Run = cli("config", "validate", path)

    assert run.code == 2
    assert run.err.splitlines()[0] == f"{path}: monitor '*': field 'defautls': unknown top-level key"


def test_a_missing_or_unreadable_file_is_one_line_and_exit_2(cli: Any, tmp_path: Path) -> None:
    missing = cli("config", "validate", tmp_path / "nope.json")
    garbage = cli("config", "validate", write(tmp_path / "bad.json", "{not json"))

    assert (missing.code, garbage.code) == (2, 2)
    assert missing.err == f"retrain-trigger config: error: {tmp_path / 'nope.json'}: no such file\n"
    assert len(garbage.err.splitlines()) == 1 and "not a JSON configuration document" in garbage.err


def test_push_writes_the_ssm_parameter_the_stack_s_functions_read(cli: Any, deploy: Deploy) -> None:
    stack = deploy()

    run: Run = cli("config", "push", EXAMPLE, "--stack", stack.stack_name)

    parameter = stack.outputs["ConfigParameterName"]
    loaded = SsmConfigSource(parameter, max_age_seconds=0, client=client("ssm")).load()  # the evaluator's reader
    assert run.code == 0, run.err
    assert [m.id for m in loaded.monitors] == ["churn-model", "fraud-model"] and loaded.errors == ()
    assert run.out == f"pushed {EXAMPLE} (2 monitor(s)) to parameter {parameter}; version {loaded.version}\n"


def test_push_follows_config_source_s3_to_the_stack_s_object(cli: Any, deploy: Deploy) -> None:
    stack = deploy(ConfigSource="s3")
    before = client("ssm").get_parameter(Name=stack.outputs["ConfigParameterName"])["Parameter"]["Value"]

    run: Run = cli("config", "push", EXAMPLE, "--stack", stack.stack_name)

    bucket, key = stack.outputs["ConfigObjectUri"].removeprefix("s3://").split("/", 1)
    loaded = S3ConfigSource(bucket, key, client=client("s3")).load()
    assert run.code == 0, run.err
    assert [m.id for m in loaded.monitors] == ["churn-model", "fraud-model"]
    assert (
        run.out == f"pushed {EXAMPLE} (2 monitor(s)) to {stack.outputs['ConfigObjectUri']}; version {loaded.version}\n"
    )
    assert client("ssm").get_parameter(Name=stack.outputs["ConfigParameterName"])["Parameter"]["Value"] == before


def test_push_of_an_invalid_document_writes_nothing(cli: Any, deploy: Deploy) -> None:
    stack = deploy()
    parameter = stack.outputs["ConfigParameterName"]
    before = client("ssm").get_parameter(Name=parameter)["Parameter"]

    run: Run = cli("config", "push", BROKEN, "--stack", stack.stack_name)

    assert run.code == 2
    assert len(run.err.splitlines()) == 6  # five problems and the summary
    assert client("ssm").get_parameter(Name=parameter)["Parameter"]["Version"] == before["Version"]


def test_push_takes_the_stack_from_retrain_trigger_stack(
    cli: Any, deploy: Deploy, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = deploy()
    monkeypatch.setenv("RETRAIN_TRIGGER_STACK", stack.stack_name)

    run: Run = cli("config", "push", EXAMPLE)

    assert run.code == 0, run.err
    assert f"to parameter {stack.outputs['ConfigParameterName']};" in run.out


def test_push_without_a_stack_says_how_to_name_one(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETRAIN_TRIGGER_STACK", raising=False)

    run: Run = cli("config", "push", EXAMPLE)

    assert run.code == 2
    assert run.err == "retrain-trigger config: error: no stack: give --stack or set RETRAIN_TRIGGER_STACK\n"


def test_push_refuses_a_document_too_large_for_the_parameter_and_names_config_source_s3(
    cli: Any, deploy: Deploy, tmp_path: Path
) -> None:
    stack = deploy()
    monitors = [{"id": f"model-{i:03d}", "critical": 0.2} for i in range(200)]
    path = write(tmp_path / "fleet.json", json.dumps({"monitors": monitors}))
    assert len(json.dumps({"monitors": monitors}, separators=(",", ":"))) > SSM_STANDARD_LIMIT

    run: Run = cli("config", "push", path, "--stack", stack.stack_name)

    assert run.code == 2
    assert "ConfigSource=s3" in run.err and len(run.err.splitlines()) == 1


def test_push_to_a_stack_that_does_not_exist_is_an_aws_error(cli: Any, aws: None) -> None:
    run: Run = cli("config", "push", EXAMPLE, "--stack", "no-such-stack")

    assert run.code == 1
    assert run.err.startswith("retrain-trigger config: AWS error: DescribeStacks no-such-stack: ValidationError")
