"""Issue 16: a user's mistake (a bad file, a bad column, a bad configuration, a bad flag) is one line on stderr that
names it, and exit code 2; never a traceback. Each runs as a user types it, in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import REFERENCE, run_process, seeded_config, write


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    document = seeded_config()
    typo = seeded_config()
    typo["monitors"][0]["critcal"] = typo["monitors"][0].pop("critical", 0.2)
    typo["defaults"].pop("critical", None)
    guarded = seeded_config()
    guarded["monitors"][0]["guards"] = [{"metric": "accuracy", "below": 0.85}]
    return {
        "config": write(tmp_path / "monitors.json", json.dumps(document)),
        "typo": write(tmp_path / "typo.json", json.dumps(typo)),
        "guarded": write(tmp_path / "guarded.json", json.dumps(guarded)),
        "notjson": write(tmp_path / "monitors.yaml", "monitors:\n  - id: churn-model\n"),
        "header": write(tmp_path / "header.csv", "timestamp,drift_score\n"),
        "badcol": write(tmp_path / "badcol.csv", "timestamp,score\n2024-08-01T00:00:00Z,0.05\n"),
        "backwards": write(tmp_path / "labels.csv", "start,end\n2024-08-10T00:00:00Z,2024-08-06T00:00:00Z\n"),
        "nope": tmp_path / "nope.csv",
    }


REPLAY = ("replay", "--config", "{config}", "--scores", str(REFERENCE))
MISTAKES = [
    pytest.param(("replay", "--config", "{config}", "--scores", "{nope}"), "nope.csv: no such file", id="no file"),
    pytest.param(("replay", "--config", "{config}", "--scores", "{header}"), "no datapoints", id="header only"),
    pytest.param(
        ("replay", "--config", "{config}", "--scores", "{badcol}"), "missing column(s) drift_score", id="bad column"
    ),
    pytest.param(
        ("replay", "--config", "{typo}", "--scores", str(REFERENCE)), "unknown key 'critcal'", id="typo'd key"
    ),
    pytest.param(
        ("replay", "--config", "{notjson}", "--scores", str(REFERENCE)), "not a JSON configuration", id="not JSON"
    ),
    pytest.param(
        ("plot", "--config", "{guarded}", "--scores", str(REFERENCE)),
        "guard metric 'accuracy' is not a column",
        id="guard column missing",
    ),
    pytest.param((*REPLAY, "--tick", "-1h"), "argument --tick: '-1h': must not be negative", id="negative tick"),
    pytest.param((*REPLAY, "--tick", "soon"), "argument --tick: not a duration: 'soon'", id="tick is a word"),
    pytest.param((*REPLAY, "--colour", "blue"), "unrecognized arguments: --colour blue", id="unknown flag"),
    pytest.param(("replay", "--config", "{config}"), "the following arguments are required: --scores", id="no scores"),
    pytest.param((), "the following arguments are required: COMMAND", id="no command"),
    pytest.param(
        ("compare", "--config", "{config}", "--scores", str(REFERENCE), "--sweep", "critical=0.2,0.3", "--best"),
        "--best needs --labels",
        id="best without labels",
    ),
    pytest.param(
        ("compare", "--config", "{config}", "--scores", str(REFERENCE), "--labels", "{backwards}"),
        "labels.csv:2: the episode ends",
        id="labels backwards",
    ),
    pytest.param(("simulate", "--days", "-5", "--out", "{nope}"), "--days -5: must be more than 0", id="negative days"),
    pytest.param(("simulate", "--gaps", "2", "--out", "{nope}"), "--gaps 2: must be a share", id="gaps above 1"),
]


@pytest.mark.parametrize(("args", "words"), MISTAKES)
def test_a_users_mistake_is_one_line_on_stderr_and_exit_code_2(
    files: dict[str, Path], args: tuple[str, ...], words: str
) -> None:
    completed = run_process(*(a.format(**files) for a in args))

    assert completed.returncode == 2, completed.stderr
    assert len(completed.stderr.splitlines()) == 1, completed.stderr
    assert words in completed.stderr
    assert "Traceback" not in completed.stderr
