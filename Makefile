# Parley: `make run` starts the app on embedded defaults, `make test` runs everything.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)

.PHONY: install run test lint typecheck unit browser-deps bench bench-transcription bench-qa lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the lock or the project metadata changes.
$(STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/parley serve --demo

# Debian's Chromium (Playwright's own browser download cannot work offline) and a
# CJK font so Chinese renders in screenshots; sox and espeak-ng build test audio.
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "noto.*cjk" || ! command -v sox >/dev/null; then \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-noto-cjk sox espeak-ng >/dev/null; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest

test: install browser-deps lint typecheck
	$(BIN)/pytest

bench: install bench-transcription
	$(BIN)/python benchmarks/live_call_latency.py

# Streaming latency, accuracy and capacity (several minutes; see docs/transcription-service.md).
bench-transcription: install
	$(BIN)/python -m benchmarks.streaming_transcription

bench-qa: install
	$(BIN)/python -m benchmarks.qa_scan
	$(BIN)/python -m benchmarks.qa_redaction

# Regenerate the pinned lock after editing dependencies in pyproject.toml.
lock:
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache artifacts
