# Every target installs what it needs into .venv first: a fresh machine needs only Python 3.11 and pip. What it
# installs is pinned, with hashes, by requirements/dev.lock (`make lock` writes the locks from pyproject.toml).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
UV     := uv==0.13.9
LOCK   := $(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
          --custom-compile-command 'make lock' --quiet

.PHONY: run demo test test-all lint lock worker sandbox record-histories clean bench bench-quick chaos fuzz

$(STAMP): pyproject.toml requirements/dev.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

run: $(STAMP)          ## the embedded stack + demo orders, until Ctrl-C
	$(PY) -m hub.dev.stack run

demo: $(STAMP)         ## the same, non-interactive: exit 0 iff every demo order ends as expected
	$(PY) -m hub.dev.stack demo

# Two workers, whole files each (module fixtures set up once): most tests wait on a server, not on a core. Each worker
# starts its own dev server and sandbox on free ports, in its own temporary directory.
test: $(STAMP)         ## the suite CI runs (short forms of the slow runs)
	$(PY) -m pytest -m 'not slow' -n 2 --dist loadfile

test-all: $(STAMP)     ## everything, including the slow soak runs
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

worker: $(STAMP)
	$(PY) worker.py

sandbox: $(STAMP)
	$(PY) -m sandbox

record-histories: $(STAMP)  ## re-record tests/replay/histories (one per workflow path) from the current code
	$(PY) -m tests.replay.record

bench: $(STAMP)        ## throughput, latency and cost per order vs a reference workflow; rewrites docs/benchmarks.md
	$(PY) -m hub.verify.bench --orders 3000 --concurrency 100 --workers 2 --path-samples 10 --docs docs/benchmarks.md

bench-quick: $(STAMP)  ## the same in about two minutes (figures in .data/bench/bench.json, docs untouched)
	$(PY) -m hub.verify.bench --orders 700 --concurrency 100 --workers 2 --path-samples 3

chaos: $(STAMP)        ## 200 orders under worker kills, upstream faults and a server restart; exit 1 on a violation
	$(PY) -m hub.verify.chaos

fuzz: $(STAMP)         ## generated scenarios over the in-memory upstreams, checked (COUNT=5000; SEED=n: one again; KINDS=all|short|a,b)
	$(PY) -m tests.fuzz --count $(or $(COUNT),5000) $(if $(SEED),--seed $(SEED)) $(if $(KINDS),--kinds $(KINDS))

lock: $(STAMP)          ## re-resolve requirements/*.lock from pyproject.toml (keeps pins that still fit; UPGRADE=1: newest)
	$(PY) -m pip install --quiet $(UV)
	$(LOCK) $(if $(UPGRADE),--upgrade) -o requirements/runtime.lock
	$(LOCK) $(if $(UPGRADE),--upgrade) --extra sandbox -c requirements/runtime.lock -o requirements/sandbox.lock
	$(LOCK) $(if $(UPGRADE),--upgrade) --extra dev -c requirements/runtime.lock -o requirements/dev.lock
	$(PY) -m pip install --quiet --require-hashes -r requirements/dev.lock

clean:
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache
