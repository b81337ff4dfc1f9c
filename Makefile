# retrain-trigger: every target sets up what it needs. `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
BIN := $(VENV)/bin
SAM := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30
# The detectors whose output files tests/data/detectors/ holds, each in its own venv: Evidently 0.7 does not import
# with pandas 3 (the project's), and NannyML pins its own stack.
EVIDENTLY_VENV := .venv-evidently
EVIDENTLY_VERSION := 0.7.23
NANNYML_VENV := .venv-nannyml
NANNYML_VERSION := 0.13.1
SCORES ?= data/reference_drift_scores.csv
SOURCE ?= dynamodb
OUT ?= demo-output
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv sam-cli demo up down test lint typecheck pytest unit functional e2e docs sam-validate sam-build cfn-lint checkov bench clean mutants

help:
	@echo "make demo [SCORES=file.csv] [SOURCE=dynamodb|cloudwatch]   replay a score series through the real evaluator on moto"
	@echo "make test                                                  ruff, mypy, pytest, docs, sam validate --lint, sam build, sam local invoke tier, cfn-lint, checkov"
	@echo "eval \"\$$(make -s up)\" [SCORES=file.csv]                   a live local stack (moto + the stack), left running; exports its variables"
	@echo "make down                                                  stop the live stack make up started"
	@echo "make docs                                                  the docs/ site, mkdocs build --strict into site/ (a broken link fails)"
	@echo "make invoke [FN=EvaluatorFunction] [EVENT=events/scheduled.json]   sam local invoke in a local Lambda-like container, against moto"
	@echo "make bench [QUICK=1]                                       calls, wall time, imports, RSS, fan-out, cost vs naive and floor"
	@echo "make mutants [MAX_CHILDREN=2]                              mutmut over the engine and the outbox vs tests/unit: score, survivors, JSON"

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

# SAM CLI lives in its own venv: it pins boto3 and pulls awscrt.
$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

sam-cli: $(SAM_VENV)/.installed

demo: venv
	$(BIN)/python -m retrain_trigger_local.demo --scores $(SCORES) --source $(SOURCE) --out $(OUT) $(ARGS)

# A live local stack: moto on loopback with the demo's stack and SCORES replayed through the real handlers, left
# running in a detached process (.local-stack/: its pid, address and log). It prints `export` lines for the shell.
up: venv
	@$(BIN)/python -m retrain_trigger_local.live_stack up --scores "$(SCORES)"

down: venv
	@$(BIN)/python -m retrain_trigger_local.live_stack down

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The handlers are all called app.py, so mypy checks them one at a time.
typecheck: venv
	$(BIN)/mypy
	$(BIN)/mypy functions/evaluator/app.py
	$(BIN)/mypy functions/lifecycle/app.py
	$(BIN)/mypy functions/score_windows/app.py
	$(BIN)/mypy functions/score/app.py
	$(BIN)/mypy functions/ingest/app.py

# The sam_local tier runs in its own step (sam-local): it needs a Docker engine and minutes, not seconds.
pytest: venv
	$(BIN)/pytest -m "not sam_local"

unit: venv
	$(BIN)/pytest tests/unit

functional: venv
	$(BIN)/pytest tests/functional

e2e: venv
	$(BIN)/pytest tests/e2e

# The reference in docs/ as an MkDocs (Material) site. --strict turns every warning (a broken link or anchor, a page
# missing from the nav) into a failure; nothing is fetched at build time. NO_MKDOCS_2_WARNING: the theme's banner.
docs: venv
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

sam-validate: sam-cli
	$(SAM) validate --lint

# sam build needs a real python3.12 (the Lambda runtime); scripts/python312 finds one or says there is none.
sam-build: sam-cli
	@py312=$$(scripts/python312); \
	if [ -z "$$py312" ]; then echo "SKIPPED: sam build: no python3.12 on this machine (install one to build)"; exit 0; fi; \
	PATH="$$py312:$$PATH" $(SAM) build --cached --parallel

# `sam local invoke` for real: Docker engine (installed and started if need be, stopped after), a Lambda-like image
# built offline, moto on the Docker bridge with the demo's stack. SAM_LOCAL_REQUIRED=1: fail rather than skip.
.PHONY: invoke sam-local
SAM_LOCAL_REQUIRED ?= 1
FN ?= EvaluatorFunction
EVENT ?= events/scheduled.json

sam-local: venv sam-cli
	SAM_LOCAL_REQUIRED=$(SAM_LOCAL_REQUIRED) $(BIN)/pytest -m sam_local tests/sam_local

invoke: venv sam-cli
	$(BIN)/python -m retrain_trigger_local.local_invoke $(FN) $(EVENT)

cfn-lint: venv
	$(BIN)/cfn-lint template.yaml

# checkov pins many packages of its own, so it gets its own venv as SAM CLI does. --skip-download: no call to the
# vendor's platform (the checks ship with the package). Skipped checks carry their reason in template.yaml.
$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q checkov==$(CHECKOV_VERSION)
	touch $@

# make detector-fixtures: tests/data/detectors/'s Evidently and NannyML files, written by the libraries themselves
# (by hand, not in `make test`: the files are committed; see tests/data/detectors/README.md).
$(EVIDENTLY_VENV)/.installed:
	$(PYTHON) -m venv $(EVIDENTLY_VENV)
	$(EVIDENTLY_VENV)/bin/pip install -q evidently==$(EVIDENTLY_VERSION) "pandas<3"
	touch $@

# nannyml 0.13.1 imports statsmodels without declaring it, and predates pandas 3.
$(NANNYML_VENV)/.installed:
	$(PYTHON) -m venv $(NANNYML_VENV)
	$(NANNYML_VENV)/bin/pip install -q nannyml==$(NANNYML_VERSION) statsmodels "pandas<3"
	touch $@

.PHONY: detector-fixtures
detector-fixtures: $(EVIDENTLY_VENV)/.installed $(NANNYML_VENV)/.installed
	scripts/make-detector-fixtures

checkov: $(CHECKOV_VENV)/.installed
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --skip-download --compact --quiet

test: lint typecheck pytest docs sam-validate sam-build sam-local cfn-lint checkov

# make bench: the full run (about 10 minutes on 2 cores, plus about 3 for the 200 cold-start processes), after
# sam build (cached) for the artefact sizes;
# make bench QUICK=1: small sizes, about a minute and a half on 2 cores, no build.
bench: venv $(if $(QUICK),,sam-build)
	BENCH_COMMAND="make bench$(if $(QUICK), QUICK=1)" $(BIN)/python -m retrain_trigger_local.bench $(if $(QUICK),--quick,--docs docs/benchmark.md) --out $(OUT)

# By hand, not in `make test`: about 6 minutes on 2 idle cores. docs/mutants.md holds the last measured run.
MAX_CHILDREN ?= 2
mutants: venv
	$(BIN)/python scripts/mutants.py --max-children $(MAX_CHILDREN)

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(EVIDENTLY_VENV) $(NANNYML_VENV) .aws-sam $(OUT) site .local-stack .pytest_cache .mypy_cache .ruff_cache .mutants
