# Every target creates/updates the local virtual environment (.venv) itself; only Python >= 3.10 is needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-all lint format bench up console-player clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("autotranscode needs Python >= 3.10, found " + sys.version.split()[0]) if sys.version_info < (3, 10) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -e .
	@touch $(STAMP)

## demo: the end-to-end demo (upload a clip, watch it transcode, print the results)
demo: $(STAMP)
	$(VENV)/bin/autotranscode demo $(DEMO_ARGS)

## test: the test suite (unit + integration; db tests run when AUTOTRANSCODE_TEST_*_URL are set)
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

## test-all: also the long reliability cases
test-all: $(STAMP)
	$(PY) -m pytest -m "slow or not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## bench: benchmarks, JSON into bench/results/
bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

## up: run localcloud (BOS + MCT + CFC) in the foreground
up: $(STAMP)
	$(VENV)/bin/autotranscode up

## console-player: hls.js (the console's HLS player) from npm; optional: without it the console plays MP4 renditions
HLS_JS_VERSION ?= 1.7.4
HLS_JS_DIR := autotranscode/console/static/vendor
console-player:
	@command -v npm >/dev/null || { echo "console-player needs npm (Node.js); without hls.js the console plays the MP4 renditions"; exit 1; }
	@tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent hls.js@$(HLS_JS_VERSION) >/dev/null && tar -xzf hls.js-$(HLS_JS_VERSION).tgz) \
	  && mkdir -p $(HLS_JS_DIR) && cp $$tmp/package/dist/hls.min.js $$tmp/package/LICENSE $(HLS_JS_DIR)/ && rm -rf $$tmp \
	  && echo "installed hls.js $(HLS_JS_VERSION) into $(HLS_JS_DIR)/"

clean:
	rm -rf $(VENV) dist .pytest_cache .ruff_cache
