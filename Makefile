# Set-up and checks. `make demo` and `make test` are the README's two commands.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# ALFWorld's game archives (one <split>.tar.xz per split); without them, ALFWorld's download runs.
ALFWORLD_ARCHIVES ?= ../shared/alfworld
FROM := $(if $(wildcard $(ALFWORLD_ARCHIVES)/valid_seen.tar.xz),--from $(ALFWORLD_ARCHIVES),)

.PHONY: install data demo test lint bench

install: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

data: install
	$(BIN)/implement data install $(FROM) --splits valid_seen

demo: data
	$(BIN)/implement evaluate --agent expert --games 20 --trials 1

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: data lint
	$(BIN)/pytest

bench: data
	$(BIN)/python bench/env_speed.py
