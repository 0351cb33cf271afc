# One command to run the app, one to run the tests; both set everything up first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install browser bench eval chat screenshot clean

run: install  ## ingest the bundled corpus (skipped when unchanged), then the web app at http://127.0.0.1:7860
	$(BIN)/qa ingest corpus/
	$(BIN)/qa serve

chat: install  ## the same questions in the terminal instead of the browser
	$(BIN)/qa ingest corpus/
	$(BIN)/qa chat

test: install browser  ## the whole test suite, as CI runs it
	$(BIN)/pytest

# The browser tests drive Debian's Chromium; Playwright's own browser download is never used.
# Installing it needs root; without it the browser tests are skipped (CI makes them required).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q chromium chromium-driver >/dev/null \
	      || { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; }; \
	  else \
	    echo "note: /usr/bin/chromium is missing, browser tests will be skipped (sudo apt-get install chromium chromium-driver)"; \
	  fi; \
	fi

screenshot: install browser  ## retake docs/screenshot.png (the README picture) from the test browser
	QA_SCREENSHOT=docs/screenshot.png QA_SCREENSHOT_DOCUMENTS=docs/screenshot-documents.png \
		$(BIN)/pytest -q tests/test_app_browser.py -k "browser_asks or documents_table"

eval: install  ## the gold set on a fresh index: hybrid, dense, bm25 and plain LlamaIndex side by side
	$(BIN)/qa eval --compare --out eval/out

bench: install  ## ingest, questions (up to ~100k chunks), start-up, serving and memory, as ratios; writes bench/RESULTS.md
	$(BIN)/python bench/run.py

install: $(STAMP)

# torch first, pinned: the machine holds a local CPU build of 2.13.0, while an unpinned
# torch (asked for by sentence-transformers) would pull several GB of CUDA packages.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[ui,dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .qa-index .pytest_cache
