# Zentra's front door. `make demo` and `make test` set everything up on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck serve worker bench bench-ledger clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,bench]'
	touch $(STAMP)

## demo: reconcile a realistic demo data set on the embedded SQLite store
demo: $(STAMP)
	$(BIN)/zentra demo

## test: lint, type-check and run the whole suite on SQLite and PostgreSQL
test: $(STAMP) lint typecheck
	$(BIN)/pytest -n 2

lint: $(STAMP)
	$(BIN)/ruff check src tests migrations bench
	$(BIN)/ruff format --check src tests migrations bench

typecheck: $(STAMP)
	$(BIN)/mypy src

## bench: ReconBench (SIZE=10k|100k|1m|10m): Zentra against pandas and row-by-row, JSON out
bench: $(STAMP)
	$(BIN)/python -m bench.recon.run --size $(or $(SIZE),100k) --seed 42

## bench-ledger: LedgerBench on PostgreSQL (ENTRIES=50000): batches of 8,000 against one per transaction
bench-ledger: $(STAMP)
	$(BIN)/python -m bench.ledger.run --entries $(or $(ENTRIES),50000)

serve: $(STAMP)
	$(BIN)/zentra serve

worker: $(STAMP)
	$(BIN)/zentra worker

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache zentra.db
