# The two commands of a fresh clone: `make run` and `make test`; `make bench` measures.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: venv run test lint typecheck bench bench-quick profile clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	touch $(BENCH_STAMP)

## Serve example_app on 127.0.0.1 (EXAMPLE_PORT, default 5000).
run: $(STAMP)
	$(BIN)/python -m example_app

## The whole suite, with the lint and type checks.
test: lint typecheck
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## In process (a)(b)(c)(d), memory, gunicorn + wrk end to end; draws docs/bench.png.
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

## A few seconds of the in-process benchmark, no plot, no wrk.
bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick

## Where (c)'s time goes: make profile PROFILE_ARGS="c 10 --pyinstrument".
profile: $(BENCH_STAMP)
	$(BIN)/python -m bench.profile $(PROFILE_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
