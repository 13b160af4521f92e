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

.PHONY: demo demo-json test lint typecheck validate unit build bench replay-samples template clean

# A python3.13 for `sam build` (the Lambda runtime's version; the Makefiles under
# functions/ and layer/ compile bytecode with it): on PATH, else under pyenv.
ifeq ($(origin PYTHON313),undefined)
PYTHON313 := $(shell for p in python3.13 "$$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3.13; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null && { command -v "$$p"; break; }; done)
endif
export PYTHON313

$(STAMP): requirements-dev.txt layer/requirements.txt pyproject.toml
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
	$(BIN)/mypy functions local deploy

# template.yaml and forwarder/template.yaml, written from the workflow declarations
# (functions/trailwarden/workflows/) and the hand-written base (deploy/).
template: $(STAMP)
	$(BIN)/python -m trailwarden_deploy.generate

validate: $(SAM_STAMP)
	$(SAM_VENV)/bin/sam validate --lint --region us-east-1 --template template.yaml

unit: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile --cov --cov-report=term:skip-covered

test: lint typecheck validate unit

# Plain `sam build` (what users run): the shared layer and every function, compiled.
build: $(SAM_STAMP)
	@"$(PYTHON313)" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null || { echo "make build: no python3.13 interpreter found on PATH or under pyenv (\$$(pyenv root)/versions/3.13.*); install Python 3.13 or pass PYTHON313=/path/to/python3.13" >&2; exit 1; }
	PATH="$(dir $(PYTHON313)):$$PATH" $(SAM_VENV)/bin/sam build --template template.yaml

# Cold import of each handler from the built artifact (builds it when stale) and the
# zipped package sizes; needs python3.13 like `make build`.
bench: $(STAMP) $(SAM_STAMP)
	$(BIN)/python benchmarks/cold_import.py

replay-samples: $(STAMP)
	$(BIN)/trailwarden replay events/ $$($(BIN)/python -c 'import json;i=json.load(open("events/index.json"));print("--parameter-overrides", *[f"{k}={v}" for k,v in i["parameters"].items()], *[f"--own-role-arn {a}" for a in i["ownRoleArns"]])')

clean:
	rm -rf $(VENV) $(SAM_VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
