# Two commands matter: `make serve` and `make test`. Both work on a fresh machine
# with Python >= 3.11: they create .venv and install pinned dependencies first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint unit e2e bench clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/deltadb serve $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(STAMP) lint
	$(BIN)/pytest -ra --timeout=300 $(ARGS)

unit: $(STAMP)
	$(BIN)/pytest -ra tests/unit $(ARGS)

e2e: $(STAMP)
	$(BIN)/pytest -ra tests/e2e $(ARGS)

bench: $(STAMP)
	$(BIN)/python bench/http_bench.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
