# Valhalla Ops. `make run` and `make test` install what they need by themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INFRA_STAMP := $(VENV)/.infra-installed
CHECKOV_VENV := $(VENV)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
PORT ?= 8000
STAGE ?= dev

.PHONY: run test tests lint typecheck unit shape fuzz soak bench synth deploy clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The project itself is installed too (editable, no dependencies of its own): that puts the
# `valhalla` command (pyproject's [project.scripts]) into $(BIN).
$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt pyproject.toml
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The CDK app's dependencies, in the same venv but never in the Lambda package.
$(INFRA_STAMP): $(STAMP) infra/requirements.txt
	$(BIN)/python -m pip install --quiet -r infra/requirements.txt
	touch $(INFRA_STAMP)

# checkov in a venv of its own: its pinned dependencies conflict with the app's.
$(CHECKOV_STAMP): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $(CHECKOV_STAMP)

install: $(STAMP)

run: $(STAMP)
	PORT=$(PORT) $(BIN)/python -m chalicelib.local

lint: $(STAMP)
	$(BIN)/ruff check chalicelib valhalla_cli app.py tests bench infra
	$(BIN)/ruff format --check chalicelib valhalla_cli app.py

typecheck: $(STAMP)
	$(BIN)/mypy chalicelib valhalla_cli

# Every test: unit, integration (moto), e2e (the local stack), security, reliability, infra.
tests: $(STAMP) $(INFRA_STAMP) $(CHECKOV_STAMP)
	$(BIN)/python -m pytest -n 2 -q

test: lint typecheck tests

# Only the tests that need no I/O: seconds.
unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

# Module sizes (none over 400 lines), the import-cycle check and no Chalice below the HTTP edge.
shape: $(STAMP)
	$(BIN)/python -m bench.shape

# A longer fuzzing pass than the one in `make test` (FUZZ_MAX_EXAMPLES examples per operation).
FUZZ_MAX_EXAMPLES ?= 200
fuzz: $(STAMP)
	FUZZ_MAX_EXAMPLES=$(FUZZ_MAX_EXAMPLES) $(BIN)/python -m pytest -n 2 -q tests/security/test_fuzz.py

bench: $(STAMP)
	$(BIN)/python -m bench.run

# The local stack, a receiver failing every 5th request, 2,000 notifications; SOAK_ARGS="--count 5000" etc.
# Against a deployed stage: SOAK_ARGS="--url https://... --token vk_... --stage dev --receiver-url https://..."
soak: $(STAMP)
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

synth: $(INFRA_STAMP)
	rm -rf infra/cdk.out
	STAGE=$(STAGE) CDK_OUTDIR=infra/cdk.out $(BIN)/python infra/app.py
	@echo "template: infra/cdk.out/$(STAGE).template.json"

infra/node_modules/.installed: infra/package.json infra/package-lock.json
	cd infra && npm ci --no-audit --no-fund
	touch $@

deploy: $(INFRA_STAMP) infra/node_modules/.installed
	cd infra && npx --no-install cdk deploy $(STAGE) -c stage=$(STAGE) --require-approval broadening $(CDK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache infra/cdk.out
