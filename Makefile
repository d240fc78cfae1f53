# ddnsd — `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit tools bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ddnsd demo

# Third-party tools the end-to-end tests drive (pebble, lego, dehydrated from Debian).
tools:
	scripts/install-tools.sh

lint: $(STAMP)
	$(BIN)/ruff check ddnsd tests bench
	$(BIN)/ruff format --check ddnsd tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict ddnsd/

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

test: $(STAMP) tools lint typecheck
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

docs: $(STAMP)
	$(BIN)/ddnsd config-schema --markdown > docs/configuration.md

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
