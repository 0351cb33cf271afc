# One command to run the app, one to run the tests; both set everything up first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install bench chat clean

run: install  ## ingest the bundled corpus (skipped when unchanged) and start asking
	$(BIN)/qa ingest corpus/
	$(BIN)/qa chat

test: install  ## the whole test suite, as CI runs it
	$(BIN)/pytest

bench: install  ## latency of ask against its floor (embed + one Chroma query)
	$(BIN)/python bench/latency.py

install: $(STAMP)

# torch first, pinned: the machine holds a local CPU build of 2.13.0, while an unpinned
# torch (asked for by sentence-transformers) would pull several GB of CUDA packages.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .qa-index .pytest_cache
