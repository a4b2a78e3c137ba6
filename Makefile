# Threadline — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint types unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Threadline needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup ## serve the demo shop on http://127.0.0.1:8080 (SQLite, offline responder)
	$(BIN)/threadline demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest

test: lint types unit ## lint, types and the whole test suite

bench: setup
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/reply_path.py
	$(BIN)/python bench/pipeline_cost.py
	$(BIN)/python bench/context.py
	$(BIN)/python bench/policy.py
	$(BIN)/python bench/staff_cards.py
	$(BIN)/python bench/reply.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
