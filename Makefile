# The two commands: `make book` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= quick
# A local mirror of the rating datasets; used when it exists (see data/README.md).
PLURALIGN_DATA_MIRROR ?= $(abspath $(wildcard ../shared/datasets))
export PLURALIGN_DATA_MIRROR
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: book test test-fast lint venv clean

venv: $(STAMP)

# torch first: the pinned CPU build, so nothing later pulls a CUDA build.
$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$$(grep -E '^torch==' requirements.txt)"
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/pluralign book --profile $(PROFILE)

test: $(STAMP)
	$(BIN)/ruff check src tests chapters
	$(BIN)/python -m pytest -m "slow or not slow"

test-fast: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests chapters

clean:
	rm -rf _build
