# The two entry points of a fresh machine: `make demo` and `make test`.
#
# Both install the pinned environment of requirements/lock.txt into .venv: every package at an exact
# version, installed without dependency resolution, so a fresh machine gets the set CI last passed
# with, whatever has been released since. pyproject.toml keeps the ranges a library should have;
# `make drift` shows what the newest releases in those ranges would change, and `make lock`
# re-pins. The lock is for Linux x86_64 and Python 3.11, where torch 2.14.1 and torchvision 0.29.1
# install from this machine's disk.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements/lock.txt
PIP := pip install -q --disable-pip-version-check

$(BIN)/frame-selector: pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/$(PIP) --no-deps -r $(LOCK)
	$(BIN)/$(PIP) --no-deps -e .
	touch $@

install: $(BIN)/frame-selector

# Both test targets run the suite in parallel, one pytest-xdist worker a core up to 4 (a worker peaks
# near 2 GB; PYTEST_XDIST_AUTO_NUM_WORKERS sets another number), each test file whole in one worker so
# its module fixtures (tiny models, a rendered world, a feature cache) are built once. A plain
# `pytest` runs serially.
PYTEST := $(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile

# Everything, the slow tests included (CI runs this).
test: install
	$(PYTEST)

# The inner loop (about 2 minutes on 2 idle cores): everything but the tests marked `slow` (training
# runs, demo runs, the label job with in-process models, the serve soak, inductor compiles).
test-fast: install
	$(PYTEST) -m "not slow"

# Every GPU measurement in one run (about 8 minutes on one H100/H200; random weights, no downloads):
# writes docs/gpu-bench.json and docs/gpu-bench.md. `frame-selector bench gpu --dry-run` checks it on a CPU.
bench-gpu: install
	$(BIN)/frame-selector bench gpu --out docs/gpu-bench.json --markdown docs/gpu-bench.md

demo: install
	$(BIN)/frame-selector demo --out demo-out/needle

# Re-pin: resolve the package with its dev and serve extras and the test inputs afresh, then freeze.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/$(PIP) "torch==2.14.1" "torchvision==0.29.1" -e ".[dev,serve]" -r requirements/test.in
	.venv-lock/bin/$(PIP) --no-deps -r requirements/lmms-eval.in
	{ echo "# The pinned test and demo environment (Linux x86_64, Python 3.11): made by \`make lock\`, installed"; \
	  echo "# with --no-deps by \`make install\`. Inputs: pyproject.toml [dev,serve], requirements/test.in, requirements/lmms-eval.in."; \
	  .venv-lock/bin/pip freeze --exclude-editable; } > $(LOCK)
	rm -rf .venv-lock

# The newest releases pyproject.toml allows, in their own environment: the suite, then what differs
# from the lock (printed whether or not the suite passes).
drift:
	rm -rf .venv-latest && $(PYTHON) -m venv .venv-latest
	.venv-latest/bin/$(PIP) "torch==2.14.1" "torchvision==0.29.1" -e ".[dev,serve]" -r requirements/test.in
	.venv-latest/bin/$(PIP) --no-deps -r requirements/lmms-eval.in
	.venv-latest/bin/pip freeze --exclude-editable > .venv-latest/freeze.txt
	.venv-latest/bin/python -m pytest -q -p no:cacheprovider; status=$$?; \
	  .venv-latest/bin/python requirements/drift.py $(LOCK) .venv-latest/freeze.txt; exit $$status

.PHONY: install test test-fast demo bench-gpu lock drift
