# A fresh machine needs Python 3.11+ and make; every target below creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check browser screenshots bench soak lint fuzz mutate clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ocpp-station run $(ARGS)

# The gate: style, types, then every test side by side: two workers per core (at most 16),
# as most tests wait on timers, sockets and other processes rather than compute (on 2 cores:
# 342 s with 4 workers against 538 s with 2, measured).
WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n * 2 > 16 ? 16 : n * 2 )))
test: check browser
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist worksteal $(PYTEST_ARGS)

# The web page's tests drive a real Chromium: Debian's, installed here where apt-get can (as
# root, or with sudo). Elsewhere install Chromium and set OCPP_STATION_CHROMIUM to its path.
browser:
	@if [ -n "$$OCPP_STATION_CHROMIUM" ] || command -v chromium >/dev/null \
		|| command -v chromium-browser >/dev/null; then :; \
	elif command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the web page's tests"; \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			$$sudo apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "no Chromium for the web page's tests: install it and set OCPP_STATION_CHROMIUM"; \
		exit 1; \
	fi

# The README's pictures of the web page (docs/screenshots/), taken in the same Chromium.
screenshots: $(STAMP) browser
	$(BIN)/python -m docs.screenshots docs/screenshots

check: lint
	$(BIN)/mypy

# Coverage-guided fuzzing of the frame parser and dispatcher (not part of `make test`, which
# replays the corpus): FUZZ_SECONDS of atheris from the kept corpus; the inputs that reached
# new code join tests/fuzz/corpus. An input that breaks a rule is written to .fuzz/crash-*.
FUZZ_SECONDS ?= 600
fuzz: $(STAMP)
	$(BIN)/pip install --quiet 'atheris>=2.3'
	rm -rf .fuzz && mkdir -p .fuzz/work && cp tests/fuzz/corpus/* .fuzz/work/
	PYTHONPATH=. $(BIN)/python tests/fuzz/fuzz_frames.py .fuzz/work -dict=tests/fuzz/ocpp.dict \
		-max_total_time=$(FUZZ_SECONDS) -artifact_prefix=.fuzz/
	cp -n .fuzz/work/* tests/fuzz/corpus/

# Mutation testing of the behaviour core against the fast unit tests (not part of `make test`):
# the score per module and the mutants that lived. Results stay in mutants/ and only what
# changed is tested again. MUTATE=--changed: the modules changed since main; MUTATE='NAME*':
# those mutants (`$(BIN)/mutmut show NAME` shows one).
MUTATE ?=
mutate: $(STAMP)
	$(BIN)/pip install --quiet 'mutmut>=3.8'
	$(BIN)/python -m tests.mutation.mutate $(MUTATE)

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# An hour of one station and a 1,000-station fleet behind a fault-injecting network: memory,
# open files and tasks must stay flat, and nothing may be lost (SOAK_SECONDS, SOAK_FLEET).
soak: $(STAMP)
	$(BIN)/python bench/soak.py

lint: $(STAMP)
	$(BIN)/ruff check ocpp_station tests bench docs
	$(BIN)/ruff format --check ocpp_station tests bench docs

clean:
	rm -rf $(VENV) .pytest_cache .fuzz mutants
