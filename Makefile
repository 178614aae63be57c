# Two commands do all the set-up on a fresh machine:
#   make run   - a full run of the daily DAG for today on the embedded defaults
#   make test  - the test suite
# Both create .venv and install requirements.txt on first use.

# The first interpreter found that Airflow 3.3 and the pinned requirements support (3.11-3.13);
# `make run PYTHON=/path/to/python` picks another.
SUPPORTED := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
PYTHON ?= $(firstword $(foreach p,python3.11 python3.12 python3.13 python3,$(shell command -v $(p) >/dev/null 2>&1 && $(p) -c '$(SUPPORTED)' 2>/dev/null && echo $(p))))
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test ui venv bench clean-state month

$(STAMP): requirements.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11, 3.12 or 3.13 is required: none found on PATH (python3.11 ... python3); give one with PYTHON=/path/to/python"; exit 1; }
	@$(PYTHON) -c '$(SUPPORTED)' 2>/dev/null || { echo "$(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())' 2>/dev/null || echo '?'): Python 3.11, 3.12 or 3.13 is required; give one with PYTHON=/path/to/python"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/jobreqs run $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

ui: $(STAMP)
	$(BIN)/jobreqs ui

# 30 dates of the daily DAG on the sandboxes, then the month's trends page as a PNG
month: $(STAMP)
	$(BIN)/jobreqs sandbox-month --screenshot test-artifacts/sandbox_month_trends.png $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# Stops the embedded Postgres first (a failure to stop it keeps .state: never delete the data
# folder of a running server); without .venv nothing of ours can be running.
clean-state:
	if [ -x $(BIN)/jobreqs ]; then $(BIN)/jobreqs stop-embedded; fi
	rm -rf .state
