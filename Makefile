# Two commands matter: `make serve` and `make test`. Both work on a fresh machine
# with Python >= 3.11: they create .venv and install pinned dependencies first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# LocalStack (an S3 server for the integration tests) needs Python 3.13 in a venv of its own.
# (pyenv's python3.13 shim exists even when it cannot run: only a candidate that runs counts)
LS_PY ?= $(shell for p in $(HOME)/.pyenv/versions/3.13*/bin/python3.13 $$(command -v python3.13); do \
	"$$p" -c "import sys; assert sys.version_info[:2] == (3, 13)" 2>/dev/null && { echo "$$p"; break; }; done)
LS_VENV := .venv-localstack
LS_STAMP := $(LS_VENV)/.installed
TEST_DEPS := $(STAMP) $(if $(LS_PY),$(LS_STAMP))
# The two venvs install side by side (each recipe itself runs in order).
MAKEFLAGS += --jobs=2

.PHONY: serve test lint unit e2e browser bench bench-http bench-s3 bench-s3-threads bench-pool bench-list bench-cpu bench-layers bench-instructions bench-cpu-split bench-cold localstack clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip<26.3"  # chalice 1.34 requires pip<26.3
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

$(LS_STAMP): requirements-localstack.txt
	@test -n "$(LS_PY)" || { echo "LocalStack needs a Python 3.13 interpreter (python3.13 or pyenv)"; exit 1; }
	test -x $(LS_VENV)/bin/python || $(LS_PY) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install -q -r requirements-localstack.txt
	touch $(LS_STAMP)

localstack: $(LS_STAMP)

serve: $(STAMP)
	$(BIN)/deltadb serve $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(TEST_DEPS) lint
	$(BIN)/pytest -ra --timeout=600 $(ARGS)

unit: $(STAMP)
	$(BIN)/pytest -ra tests/unit $(ARGS)

e2e: $(STAMP)
	$(BIN)/pytest -ra tests/e2e $(ARGS)

browser: $(STAMP)  # the web console in chromium (apt-get install chromium)
	$(BIN)/pytest -ra tests/browser $(ARGS)

bench: $(STAMP)
	$(BIN)/python bench/compare.py $(ARGS)

bench-http: $(STAMP)
	$(BIN)/python bench/http_bench.py $(ARGS)

bench-s3: $(STAMP)
	$(BIN)/python bench/s3_bench.py $(ARGS)

bench-s3-threads: $(STAMP)
	$(BIN)/python bench/s3_thread_cost.py $(ARGS)

bench-pool: $(STAMP)
	$(BIN)/python bench/pool_bench.py $(ARGS)

bench-list: $(STAMP)
	$(BIN)/python bench/list_bench.py $(ARGS)

clean:
	rm -rf $(VENV) $(LS_VENV) .pytest_cache .mypy_cache .ruff_cache

bench-cpu: $(STAMP)
	$(BIN)/python bench/request_cpu.py $(ARGS)

bench-layers: $(STAMP)
	$(BIN)/python bench/request_layers.py $(ARGS)

# Instructions per request (valgrind's callgrind), ours beside the reference: figures that hold still.
bench-instructions: $(STAMP)
	@command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)"; exit 1; }
	$(BIN)/python bench/request_instructions.py $(ARGS)

bench-cpu-split: $(STAMP)
	@command -v perf >/dev/null || { echo "needs perf (apt-get install linux-perf)"; exit 1; }
	$(BIN)/python bench/cpu_split.py --server reference $(ARGS)
	$(BIN)/python bench/cpu_split.py --server ours $(ARGS)

bench-cold: $(STAMP)
	$(BIN)/python bench/coldstart.py $(ARGS)
