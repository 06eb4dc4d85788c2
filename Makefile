# The two commands of a fresh clone: `make run` and `make test`; `make bench` and `make soak`
# measure.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: venv run test lint typecheck docs fuzz memory test-pythons screenshot bench bench-quick \
	profile bench-example soak wrk browser services dist clean deploy-venv chaos

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,example,fuzz,docs]'
	touch $(STAMP)

venv: $(STAMP)

## The scale-out test's venv: only `pip install '.[example]'` (no test tools), rebuilt when the
## package changes.
DEPLOY_VENV := .venv-deploy
DEPLOY_STAMP := $(DEPLOY_VENV)/.installed
$(DEPLOY_STAMP): setup.cfg pyproject.toml $(wildcard flask_friendcb/*.py flask_friendcb/*/*.py example_app/*.py example_app/*/*.py example_app/*/*/*.py example_app/templates/* example_app/static/*)
	test -x $(DEPLOY_VENV)/bin/python || $(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/python -m pip install --quiet --force-reinstall --no-deps .
	$(DEPLOY_VENV)/bin/python -m pip install --quiet '.[example]'
	touch $(DEPLOY_STAMP)

deploy-venv: $(DEPLOY_STAMP)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,example,bench]'
	touch $(BENCH_STAMP)

## Debian's wrk, the load generator of the soak test, `make soak` and `make bench`, when missing.
wrk:
	@command -v wrk >/dev/null || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)

## Debian's redis-server and PostgreSQL 15, which the storage, scale-out and fault tests start
## themselves (a throwaway server on a free loopback port each), and strace, which counts the
## system calls of the LMDB storage's check, when missing.
services:
	@command -v strace >/dev/null || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace)
	@command -v redis-server >/dev/null || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server)
	@test -x /usr/lib/postgresql/15/bin/initdb || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15)

## Debian's Chromium for the browser test and the screenshot, a CJK font and an emoji font so
## that the screenshot draws Chinese remarks and emoji (not boxes), when missing.
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	@fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk" || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei)
	@fc-list 2>/dev/null | grep -qi "noto color emoji" || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji)

## Serve example_app on 127.0.0.1 (EXAMPLE_PORT, default 5000).
run: $(STAMP)
	$(BIN)/python -m example_app

## The whole suite, with the lint and type checks and the documentation build (its small soak
## drives wrk; the browser tests drive Chromium; the storage tests start redis-server and
## PostgreSQL).
test: lint typecheck docs wrk browser services deploy-venv
	$(BIN)/python -m pytest

## The property-based and schemathesis tests at length (3,000 examples each, random seeds;
## about half an hour on 2 cores), then the memory measurement.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest --hypothesis-show-statistics tests/test_fuzz.py tests/test_openapi.py
	$(MAKE) memory

## RSS growth over 100,000 callbacks, hostile ones and failing hooks included.
memory: $(STAMP)
	$(BIN)/python -m bench.rss_growth

## A wheel and an sdist in dist/, built as pip would build them, and twine's check of what an
## index would show (`make test` builds and checks both too, in tests/test_newcomer.py).
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## The documentation site, into docs/_build/html: every warning is an error (a broken link, a
## docstring autodoc cannot read), reported all at once. Reads nothing from the network.
docs: $(STAMP)
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

## The suite under each other supported Python found on this machine (pyenv's or on PATH),
## each in its own .venv-3.X; a version that is not installed is reported and skipped.
OTHER_PYTHONS ?= 3.10 3.12 3.13
test-pythons:
	@for v in $(OTHER_PYTHONS); do \
	  py=$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$$v.*/bin/python$$v 2>/dev/null | tail -n 1); \
	  [ -n "$$py" ] || py=$$(command -v python$$v || true); \
	  if [ -z "$$py" ] || ! $$py -c pass 2>/dev/null; then echo "== Python $$v: not installed here"; continue; fi; \
	  echo "== $$($$py --version)"; \
	  { test -x .venv-$$v/bin/python || $$py -m venv .venv-$$v; } && \
	  .venv-$$v/bin/python -m pip install --quiet -e '.[dev,example,fuzz]' && \
	  .venv-$$v/bin/python -m pytest -q -p no:cacheprovider || exit 1; \
	done

## Retake docs/live-page.png (needs /usr/bin/chromium, and a CJK font such as fonts-wqy-zenhei).
screenshot: $(STAMP) browser
	$(BIN)/python -m scripts.screenshot

## What example_app adds per callback, and how soon the live page shows it (about a minute).
bench-example: $(STAMP)
	$(BIN)/python -m bench.example_app_costs

## In process (a)(b)(c)(d), memory, gunicorn + wrk end to end; draws docs/bench.png.
bench: $(BENCH_STAMP) wrk
	$(BIN)/python -m bench $(BENCH_ARGS)

## example_app as deployed, under 20,000 signed callbacks (10% hostile) at concurrency 32, from
## wrk; every answer and audit row counted; writes docs/soak.json (a smaller run without it:
## SOAK_ARGS="--requests 5000 --no-json"). Then its capacity against the library alone, on the
## embedded default, on PostgreSQL + Redis and as two instances (docs/capacity.json; a smoke
## run: CAPACITY_ARGS=--small). About eight minutes in all.
soak: $(STAMP) wrk services
	$(BIN)/python -m bench.soak $(SOAK_ARGS)
	$(BIN)/python -m bench.capacity $(CAPACITY_ARGS)

## The two-instance deployment under signed load with faults in turn (database down, slow,
## Redis down, a worker killed, an instance restarted): one table of answered against audited.
## About three minutes; CHAOS_ARGS=--small for a run of about a minute.
chaos: $(STAMP) services
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

## A few seconds of the in-process benchmark, no plot, no wrk.
bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick

## Where (c)'s time goes: make profile PROFILE_ARGS="c 10 --pyinstrument" (or "e 1" for example_app).
profile: $(BENCH_STAMP)
	$(BIN)/python -m bench.profile $(PROFILE_ARGS)

clean:
	rm -rf $(VENV) $(DEPLOY_VENV) .venv-3.* build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	rm -rf docs/_build
