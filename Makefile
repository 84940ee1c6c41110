# tailgate: the two commands of the quickstart are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_MODEL ?= local:smollm2-135m
# A stratified first 120 of the 336 bundled items, 3 repeats each: about 3 minutes on 2 cores.
# `make demo DEMO_ARGS=` runs the whole suite (both templates, 2,016 samples, about 20 minutes).
DEMO_ARGS ?= --limit 120 --repeats 3 --variants original

.PHONY: install sysdeps demo test lint typecheck unit bench clean

install: $(STAMP)

# llama-cpp-python builds from source the first time (about 4 minutes on 2 cores); pip caches the wheel.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# the CPU build of torch (for the 'semantic' extra) before anything can pull a CUDA build
	$(BIN)/pip install --quiet --disable-pip-version-check 'torch==2.13.0' || \
	  $(BIN)/pip install --quiet --disable-pip-version-check torch --index-url https://download.pytorch.org/whl/cpu
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[local,models,server,semantic,dev]'
	$(BIN)/python -m compileall -q src  # an editable install is not byte-compiled by pip
	# a test oracle: confseq's pure-Python modules from its sdist (its C++ part does not build on 3.11)
	mkdir -p $(VENV)/oracles && $(BIN)/pip download --quiet --disable-pip-version-check --no-deps \
	  --no-binary confseq 'confseq==0.0.11' -d $(VENV)/oracles && tar -xzf $(VENV)/oracles/confseq-0.0.11.tar.gz -C $(VENV)/oracles
	touch $(STAMP)

# Runs the bundled suite on the embedded default model, then reports on it (terminal + HTML).
demo: install
	$(BIN)/tailgate run basic --model $(DEMO_MODEL) $(DEMO_ARGS) --json
	$(BIN)/tailgate report latest --html demo-report.html

lint: install
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

typecheck: install
	$(BIN)/mypy

# Headless Chromium for the HTML tests (Debian's package: a browser download would fail here).
sysdeps:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "warning: no chromium (apt-get install chromium): the HTML-in-a-browser tests will be skipped"; }

# Every test, the slow and the model-backed ones included.
test: install sysdeps lint typecheck
	$(BIN)/pytest -q

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .tailgate .mypy_cache .ruff_cache .pytest_cache
