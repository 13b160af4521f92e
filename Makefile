# Two commands for a fresh machine: `make demo` and `make test`.
# Both create the virtualenvs they need (.venv; .venv-sam for the SAM CLI, which pins
# its own boto3/cfn-lint) from the pinned requirements files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
STAMP := $(VENV)/.installed
SAM_STAMP := $(SAM_VENV)/.installed
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo demo-json test lint typecheck validate unit bench replay-samples clean

$(STAMP): requirements-dev.txt functions/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(SAM_STAMP): requirements-sam.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt
	touch $@

demo: $(STAMP)
	$(BIN)/trailwarden demo

demo-json: $(STAMP)
	$(BIN)/trailwarden demo --json

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy functions local

validate: $(SAM_STAMP)
	$(SAM_VENV)/bin/sam validate --lint --region us-east-1 --template template.yaml

unit: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile --cov --cov-report=term:skip-covered

test: lint typecheck validate unit

bench: $(STAMP)
	$(BIN)/python benchmarks/cold_import.py
	$(BIN)/python benchmarks/package_size.py

replay-samples: $(STAMP)
	$(BIN)/trailwarden replay events/ $$($(BIN)/python -c 'import json;i=json.load(open("events/index.json"));print("--parameter-overrides", *[f"{k}={v}" for k,v in i["parameters"].items()], *[f"--own-role-arn {a}" for a in i["ownRoleArns"]])')

clean:
	rm -rf $(VENV) $(SAM_VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
