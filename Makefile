# Every command here is what CI runs too; see README.md.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
BENCH_ROUNDS ?= 5
# SHARD=i/N: `make integration` runs group i of N (pytest-split, balanced by .test_durations).
SHARD ?=
SHARDS ?=
ifneq ($(SHARD),)
ifneq ($(words $(subst /, ,$(SHARD))),2)
$(error SHARD=$(SHARD): expected i/N, such as SHARD=1/2)
endif
endif
shard_group = $(word 1,$(subst /, ,$(SHARD)))
shard_count = $(word 2,$(subst /, ,$(SHARD)))
COMPOSE_REPORT = $(if $(SHARD),compose-$(shard_group)-of-$(shard_count),compose)
SHARD_ARGS = $(if $(SHARD),--splits $(shard_count) --group $(shard_group) --splitting-algorithm least_duration --durations-path .test_durations)
# The reports coverage-report combines: unit, and compose or (SHARDS=N) every compose shard.
COMPOSE_REPORTS = $(if $(SHARDS),$(foreach i,$(shell seq 1 $(SHARDS)),reports/compose-$(i)-of-$(SHARDS)),reports/compose)

.PHONY: integration test unit lint workflow-check engine podman rootless-docker registry setup image coverage-report release-rehearsal bench
.PHONY: dist wheel-check image-check durations

## integration: set everything up, then run the stack's integration tests through the plugin (SHARD=i/N: one shard)
integration: setup engine
	VENV=$(VENV) bash scripts/run-tests.sh $(COMPOSE_REPORT) tests/integration --compose-log-dir reports/$(COMPOSE_REPORT)/logs $(SHARD_ARGS) $(PYTEST_ARGS)

## durations: run every integration test once and store its duration in .test_durations (what SHARD splits by)
durations: setup engine
	VENV=$(VENV) bash scripts/run-tests.sh compose tests/integration --store-durations --clean-durations --durations-path .test_durations $(PYTEST_ARGS)

## test: set everything up, then run the whole test suite
test: setup engine registry
	VENV=$(VENV) bash scripts/run-tests.sh all $(PYTEST_ARGS)

## unit: the tests that need no Docker engine
unit: setup
	VENV=$(VENV) bash scripts/run-tests.sh unit tests/unit tests/release -m "not integration" $(PYTEST_ARGS)

## coverage-report: combine unit and compose (SHARDS=N: the N compose shards) into one coverage.xml and junit.xml in reports/combined
coverage-report: setup
	VENV=$(VENV) bash scripts/coverage-report.sh reports/combined reports/unit $(COMPOSE_REPORTS)

## registry: Debian's docker-registry, which the release rehearsal starts on loopback
registry:
	bash scripts/bootstrap-registry.sh

## release-rehearsal: rehearse a release against a registry on 127.0.0.1 (RELEASE_VERSION=1.4.2; default: the package version)
release-rehearsal: setup engine registry
	$(BIN)/python -m release.rehearse $(if $(RELEASE_VERSION),--version $(RELEASE_VERSION))

## dist: build the plugin's wheel and sdist once into dist/, twine-check them, install the wheel into a fresh venv and run a stack test with it
dist: setup engine
	rm -rf dist
	$(BIN)/python -m release.dist --outdir dist

## wheel-check: the same as dist, from a fresh git clone of HEAD, keeping nothing
wheel-check: setup engine
	$(BIN)/python -m release.dist --clone

## image-check: the reference stack's integration tests through the plugin against an image pulled by digest, no build (TEL3SIS_IMAGE=REPO@sha256:...)
image-check: setup engine
	$(BIN)/python -m release.image_check "$(TEL3SIS_IMAGE)" --reports reports/image

## image: build the TEL3SIS image the stack runs
image: engine
	DOCKER_BUILDKIT=$${DOCKER_BUILDKIT:-1} docker build -f stack/Dockerfile -t $${TEL3SIS_IMAGE:-tel3sis:dev} .

## lint: ruff and mypy
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy --python-version 3.11 release

## workflow-check: zizmor (offline, medium severity and up) and the GitHub workflow schema
workflow-check: setup
	bash scripts/check-workflows.sh

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

## engine: a running Docker engine with Compose v2 and the stack's base images
engine:
	bash scripts/bootstrap-docker.sh

## podman: Podman's Docker-compatible API service, with the stack's base images (IMAGES=... loads more)
podman: engine
	bash scripts/bootstrap-podman.sh $(IMAGES)

## rootless-docker: a rootless dockerd for a test user, with the stack's base images (IMAGES=... loads more)
rootless-docker: engine
	bash scripts/bootstrap-rootless-docker.sh $(IMAGES)

## bench: the plugin against raw Compose, a hand-tuned script, pytest-docker and testcontainers, on both stacks (BENCH_ROUNDS=5, BENCH_STACK=all)
bench: setup engine
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	$(BIN)/python -m pytest -p no:cacheprovider -q benchmarks/tests
	$(BIN)/python -m benchmarks.run --stack $(or $(BENCH_STACK),all) --rounds $(BENCH_ROUNDS) --json benchmarks/results.json
