"""`make mutants`: mutmut over the policy engine and the outbox, against the fast unit tests.

mutmut names a mutant after its file's path (only a leading `src/` is dropped), while the tests import
`retrain_trigger.policy`; the layer lives in `layers/retrain_trigger/retrain_trigger`. So the run happens in a
staging directory (`.mutants/`, ignored by git) that holds the package as `src/retrain_trigger`, the tests, and a
pyproject of its own. The package is copied whole; only the engine (`policy.py` or the package `policy/`, whichever
exists) and `outbox.py` are mutated.

Prints the score and the survivors (with their diffs), then one JSON line computed from mutmut's own results:
    {"mutants": N, "killed": K, "survived": S, "score": K/N}
A mutant counts as killed when a test failed (`killed`) or the run hung past mutmut's timeout (`timeout`); every
other status (survived, no tests, suspicious, skipped, ...) counts as survived, so K + S = N.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "layers" / "retrain_trigger" / "retrain_trigger"
STAGE = ROOT / ".mutants"
KILLED = {"killed", "timeout"}

PYPROJECT = """\
[tool.mutmut]
source_paths = ["src"]
also_copy = ["data", "docs", "layers", "template.yaml"]
only_mutate = {only_mutate}
pytest_add_cli_args_test_selection = ["tests/unit"]
# The rules-table test introspects the rule functions, which mutmut's trampolines rename: it checks the docs, not
# the engine's behaviour, and runs in `make test` as always. So does the module-size check: the staged package is
# mutmut's copy, every function written out once per mutant.
pytest_add_cli_args = [
    "-p", "no:cacheprovider", "-q", "--ignore=tests/unit/test_rules_table.py", "--ignore=tests/unit/test_module_size.py"
]

[tool.pytest.ini_options]
testpaths = ["tests/unit"]
pythonpath = ["."]
addopts = "--strict-markers"
markers = ["e2e: unused here", "sam_local: unused here"]
filterwarnings = ["ignore:No application metrics to publish:UserWarning"]
"""


def targets() -> list[str]:
    """The engine as it is today (a module) or after the split (a package), and the outbox."""
    engine = ["src/retrain_trigger/policy/*"] if (PACKAGE / "policy").is_dir() else ["src/retrain_trigger/policy.py"]
    return [*engine, "src/retrain_trigger/outbox.py", "src/retrain_trigger/courier.py"]


def stage() -> None:
    """A fresh staging directory: mutmut would reuse the mutants (and verdicts) of an older copy of the code."""
    if STAGE.exists():
        shutil.rmtree(STAGE)
    copies = {
        PACKAGE: STAGE / "src" / "retrain_trigger",
        ROOT / "tests": STAGE / "tests",
        ROOT / "data": STAGE / "data",
        # read, never imported, by the unit tests that hold the docs, the template and the import graph to the code
        ROOT / "docs": STAGE / "docs",
        ROOT / "layers": STAGE / "layers",
        ROOT / "src" / "retrain_trigger_cli": STAGE / "src" / "retrain_trigger_cli",
    }
    for source, target in copies.items():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
    shutil.copy2(ROOT / "template.yaml", STAGE / "template.yaml")
    (STAGE / "pyproject.toml").write_text(PYPROJECT.format(only_mutate=json.dumps(targets())))


def mutmut(*args: str, capture: bool = False) -> str:
    command = [str(Path(sys.executable).with_name("mutmut")), *args]
    # Hypothesis derandomized with few examples (tests/unit/conftest.py): a verdict does not depend on luck, and a
    # property test costs a fraction of a second per mutant.
    env = {**os.environ, "HYPOTHESIS_PROFILE": "mutants"}
    done = subprocess.run(command, cwd=STAGE, env=env, check=False, text=True, capture_output=capture)
    if done.returncode != 0:
        raise SystemExit(f"mutmut {' '.join(args)} failed with exit code {done.returncode}\n{done.stderr or ''}")
    return done.stdout or ""


def statuses() -> dict[str, str]:
    """Every mutant and its status, as `mutmut results --all true` reports them (`    name: status`)."""
    out: dict[str, str] = {}
    for line in mutmut("results", "--all", "true", capture=True).splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            out[name] = status
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-children", type=int, default=2, help="parallel test processes (default 2)")
    args = parser.parse_args()

    stage()
    print(f"mutating {', '.join(targets())} against tests/unit (staged in {STAGE.relative_to(ROOT)}/)", flush=True)
    mutmut("run", "--max-children", str(args.max_children))

    results = statuses()
    if not results:
        raise SystemExit("mutmut reported no mutants: nothing was measured")
    counts = Counter(results.values())
    killed = sum(n for status, n in counts.items() if status in KILLED)
    survivors = sorted(name for name, status in results.items() if status not in KILLED)
    print(f"\nmutants by status: {dict(sorted(counts.items()))}")
    print(f"score: {killed}/{len(results)} killed = {killed / len(results):.1%}")
    print(f"survivors ({len(survivors)}):")
    for name in survivors:
        print(f"  {name}: {results[name]}")
        print("    " + mutmut("show", name, capture=True).strip().replace("\n", "\n    "))
    summary = {
        "mutants": len(results),
        "killed": killed,
        "survived": len(results) - killed,
        "score": round(killed / len(results), 4),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
