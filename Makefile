# pipeline-platform: every target sets itself up on a fresh machine (Python 3.11+ and make are enough).
#   make run    the main job offline: check the schema registry, the versioning demo, the rendered dev stack
#   make test   lint, types and the whole test suite (it starts and stops its own PostgreSQL and MariaDB)
#   make engine-test   builds the Pulumi engine from the Go module proxy and runs the real-engine scenario

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck pytest airflow-venv test-services render clean engine engine-test

# Installing the project (requirements.txt ends with `-e .`) also compiles RowValidator's plain-value scan
# (setup.py). Setuptools then warns that an editable install's folders shadow the package: here that is the
# point (the tree is the package), so that one warning is silenced.
$(STAMP): requirements.txt pyproject.toml setup.py versioning/validation/_plain.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet -r requirements.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m versioning check
	$(BIN)/python -m versioning demo
	$(BIN)/python -m infra.render --stack dev --out rendered/dev

render: $(STAMP)
	$(BIN)/python -m infra.render --stack dev --out rendered/dev

airflow-venv:
	bash scripts/airflow-venv.sh

engine:
	bash scripts/build-engine.sh

# The real-engine scenario: pulumi up / config set activeColor / up with the engine built above, rendering to files.
engine-test: $(STAMP) engine
	$(BIN)/pytest -m engine tests/engine

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

test-services:
	bash scripts/test-services.sh

pytest: $(STAMP) airflow-venv test-services
	$(BIN)/pytest -m "not engine"

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .venv-airflow rendered .pytest_cache .mypy_cache .ruff_cache build versioning/validation/*.so
