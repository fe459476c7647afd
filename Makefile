# A fresh machine needs Python 3.11+ and make; every target below creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ocpp-station run $(ARGS)

# The gate: style, types, then every test, side by side on every core.
test: check
	$(BIN)/python -m pytest -q -n auto --dist worksteal $(PYTEST_ARGS)

check: lint
	$(BIN)/mypy

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check ocpp_station tests bench
	$(BIN)/ruff format --check ocpp_station tests bench

clean:
	rm -rf $(VENV) .pytest_cache
