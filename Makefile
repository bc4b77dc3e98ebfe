# Each target creates .venv with the project installed when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Tests and benches keep Prefect's state inside the project, never in ~/.prefect.
export PREFECT_HOME := $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 60

.PHONY: demo test test-scale bench lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kisdb demo

test: $(STAMP)
	$(BIN)/python -m pytest

# Scale-out suite: PostgreSQL (Debian's package), moto, a Prefect server and workers on loopback.
# With it the fault suite (tests/scale/test_fault_suite.py) and the tests marked slow (the SQL
# attacks, home copies, whole ingests and recorders killed): conftest.py leaves them out of make test.
test-scale: $(STAMP)
	command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ apt-get update -q && apt-get install -y -q postgresql; }
	KISDB_SCALE_TESTS=1 $(BIN)/python -m pytest tests/scale --timeout 900
	KISDB_SCALE_TESTS=1 $(BIN)/python -m pytest tests -m slow --ignore tests/scale

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy connectors schemas warehouse
	$(BIN)/mypy simulator

clean:
	rm -rf $(VENV) .prefect
