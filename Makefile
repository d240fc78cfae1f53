# ddnsd — `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo screenshot test quick campaigns lint typecheck unit tools bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ddnsd demo

# docs/status.png (the README shows it): the status page of the live demo, headless Chromium.
screenshot: $(STAMP) tools
	$(BIN)/ddnsd demo --screenshot docs/status.png

# Third-party tools the end-to-end and system tests drive (pebble, lego, dehydrated, docker.io,
# systemd-nspawn, debootstrap… from Debian).
tools:
	scripts/install-tools.sh

lint: $(STAMP)
	$(BIN)/ruff check ddnsd tests bench
	$(BIN)/ruff format --check ddnsd tests bench
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy --strict ddnsd/

# Tests wait on sockets and child processes far more than they compute, so more workers
# than cores pays off; PYTEST_WORKERS=0 runs them in this process (for debugging).
PYTEST_WORKERS ?= 4
PYTEST := $(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist worksteal

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

# The edit loop: everything but the end-to-end suites with third-party ACME clients.
quick: $(STAMP) lint typecheck
	$(PYTEST) -m "not e2e" tests/unit tests/client tests/integration

# tests/system (a booted Debian 12 systemd, Docker's engine) run after the rest, in one
# process: their Debian root is built once per run, and Docker must not run beside the
# network-namespace tests (dockerd sets the host's FORWARD policy to DROP).
test: $(STAMP) tools lint typecheck
	$(PYTEST) --ignore=tests/system
	$(BIN)/pytest -q tests/system

# Every campaign (tests/campaigns/) at full size; prints the figures table for the README.
# Runs in one process so the table sees every row.
campaigns: $(STAMP) tools
	$(BIN)/pytest -q tests/campaigns --campaign-size full -rN

bench: $(STAMP)
	$(BIN)/python -m bench

docs: $(STAMP)
	$(BIN)/ddnsd config-schema --markdown > docs/configuration.md

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
