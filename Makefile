# The two commands of a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv run test lint typecheck fuzz memory clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,fuzz]'
	touch $(STAMP)

venv: $(STAMP)

## Serve example_app on 127.0.0.1 (EXAMPLE_PORT, default 5000).
run: $(STAMP)
	$(BIN)/python -m example_app

## The whole suite, with the lint and type checks.
test: lint typecheck
	$(BIN)/python -m pytest

## The property-based and schemathesis tests at length (3,000 examples each, random seeds;
## about half an hour on 2 cores), then the memory measurement.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest --hypothesis-show-statistics tests/test_fuzz.py tests/test_openapi.py
	$(MAKE) memory

## RSS growth over 100,000 callbacks, hostile ones and failing hooks included.
memory: $(STAMP)
	$(BIN)/python -m bench.rss_growth

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
