PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIPELINE ?= pipelines/sample.yaml

.PHONY: run test install lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first and pinned: the CPU build on this machine's disk. Anything else pulls a CUDA build.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/kcorpus rebuild $(PIPELINE)
	$(BIN)/kcorpus status

test: $(STAMP)
	$(BIN)/ruff check kcorpus flows tests
	$(BIN)/python -m pytest -q -ra

lint: $(STAMP)
	$(BIN)/ruff check kcorpus flows tests

clean:
	rm -rf .kcorpus
