# The two entry points of a fresh machine: `make demo` and `make test`.
# Both create .venv when it is missing. torch 2.14.1 / torchvision 0.29.1 install from local wheels
# where the machine has them (pip on Python 3.11), otherwise from PyPI.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/frame-selector: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "torch==2.14.1" "torchvision==0.29.1"
	$(BIN)/pip install -q -e ".[dev]"
	# lmms-eval's code only (its full dependency set pins av<16), so the lmms-eval integration
	# tests run against the real harness; lmms-eval itself is not a dependency of the package.
	$(BIN)/pip install -q --no-deps "lmms-eval==0.7.3" "evaluate==0.4.6"
	$(BIN)/pip install -q loguru pytz tenacity requests sacrebleu qwen-vl-utils aiohttp
	touch $@

install: $(BIN)/frame-selector

test: install
	$(BIN)/python -m pytest -q

demo: install
	$(BIN)/frame-selector demo --out demo-out/needle

.PHONY: install test demo
