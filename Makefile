# rmf_spark: the two set-up commands are `make demo` and `make test`.
# Each creates .venv if absent, installs the package with its dev extras, fills the JAR cache
# (Maven Central, once), then runs the demo / the test suite.

SHELL := /bin/bash
SRC := $(wildcard rmf_spark jobs tests bench conftest.py)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export SPARK_LOCAL_IP ?= 127.0.0.1

.PHONY: install jars demo test test-fast test-integration test-reliability test-cluster lint format doctor clean bench

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

jars: $(STAMP)
	$(PY) -m rmf_spark.jvm resolve

# The demo: a synthetic country (profile "small"), the whole chain, summary and HTML report.
# DEMO_DEVICE_DAYS: days the device stage runs on (empty: all). It is 0 for now: on the small
# world one day costs about an hour on 2 cores (docs/device-inference.md section 8).
DEMO_PROFILE ?= small
DEMO_DEVICE_DAYS ?= 0
demo: install jars
	$(VENV)/bin/rmf doctor
	$(VENV)/bin/rmf demo --profile $(DEMO_PROFILE) --out demo-out $(if $(DEMO_DEVICE_DAYS),--device-days $(DEMO_DEVICE_DAYS))
	@echo "demo summary: demo-out/summary.json"

test: install jars
	$(VENV)/bin/ruff check $(SRC)
	$(VENV)/bin/pytest --durations=25

# The inner loop: every test but the slow ones (the synthetic world and the demo chain on it,
# spark-submit, the notebook); `make test` runs them all but the integration, reliability and
# cluster suites.
test-fast: install jars
	$(VENV)/bin/ruff check $(SRC)
	$(VENV)/bin/pytest -m "not slow"

# Every stage killed after each of its writes and rerun (tests/reliability; CI runs it too).
test-reliability: install jars
	$(VENV)/bin/pytest -m reliability tests/reliability

# The demo chain with the device stage on the tiny world's day, and the synthetic world
# generated twice (determinism): about 18 minutes on 2 cores; CI runs it too.
test-integration: install jars
	$(VENV)/bin/pytest -m integration tests

# Spark in local-cluster mode, executors in JVMs of their own with 1 GB (spark-submit, a
# device with a million events a day); CI runs it too.
test-cluster: install jars
	$(VENV)/bin/pytest -m cluster tests

# Benchmarks (bench/*.py print one JSON object each; see README "Benchmarks"). BENCH_SCALE
# shrinks the bench profile for synth and pipeline (1 = the full profile: hours on 2 cores).
BENCH_SCALE ?= 0.1
BENCH_PP_SCALE ?= 0.05
BENCH_DEVICE_SCALE ?= 0.02
BENCH_UE_SCALE ?= 0.02
BENCH_OD_SCALE ?= 0.05
bench: install jars
	SPARK_LOCAL_IP=127.0.0.1 $(PY) bench/ingest.py --rows 1000000
	SPARK_LOCAL_IP=127.0.0.1 $(PY) bench/synth.py --scale $(BENCH_SCALE)
	SPARK_LOCAL_IP=127.0.0.1 $(PY) bench/pipeline.py --scale $(BENCH_SCALE)
	SPARK_LOCAL_IP=127.0.0.1 $(PY) bench/present_population.py --scale $(BENCH_PP_SCALE)
	SPARK_LOCAL_IP=127.0.0.1 $(PY) bench/device.py --scale $(BENCH_DEVICE_SCALE)
	SPARK_LOCAL_IP=127.0.0.1 $(PY) bench/release.py --scale $(BENCH_PP_SCALE)
	$(PY) bench/fusion_secure.py --zones 10000
	$(PY) bench/fusion.py --devices 200000
	SPARK_LOCAL_IP=127.0.0.1 $(PY) bench/usual_environment.py --scale $(BENCH_UE_SCALE)
	SPARK_LOCAL_IP=127.0.0.1 $(PY) bench/mobility.py --scale $(BENCH_OD_SCALE)

lint: install
	$(VENV)/bin/ruff check $(SRC)
	$(VENV)/bin/ruff format --check $(SRC)

format: install
	$(VENV)/bin/ruff format $(SRC)
	$(VENV)/bin/ruff check --fix $(SRC)

doctor: install jars
	$(VENV)/bin/rmf doctor

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache spark-warehouse lake demo-out
