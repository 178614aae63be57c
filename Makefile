# Two commands do all the set-up on a fresh machine:
#   make run   - a full run of the daily DAG for today on the embedded defaults
#   make test  - the test suite
# Both create .venv and install requirements.txt on first use.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test ui venv bench clean-state month

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
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

clean-state:
	$(BIN)/jobreqs stop-embedded || true
	rm -rf .state
