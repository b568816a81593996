# idphoto — the two commands of the README, and a few more.
#   make run    set up, build (release), fetch the model, clean the sample photo
#   make test   set up, build, run the whole suite (ci preset, then ASan+UBSan unit tests)
#   make bench  set up, build (release), measure against the peers (writes docs/performance.md)
#   make build  set up, build (release)
SHELL := /bin/bash
JOBS ?= $(shell nproc)
SAMPLE ?= /usr/lib/python3/dist-packages/skimage/data/astronaut.png
OUT ?= out

.PHONY: setup models build build-ci build-dev run test test-ci test-dev bench clean

setup:
	scripts/setup

models: setup
	scripts/fetch-models

build: setup
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

build-ci: setup
	cmake --preset ci >/dev/null
	cmake --build --preset ci -j $(JOBS)

build-dev: setup
	cmake --preset dev >/dev/null
	cmake --build --preset dev -j $(JOBS)

run: build models
	@mkdir -p "$(OUT)"
	build/release/idphoto clean "$(SAMPLE)" -o "$(OUT)/astronaut-id.png" --json
	@echo "make run: ID photo written to $(OUT)/astronaut-id.png"

test-ci: build-ci models
	ctest --preset ci -j 2 --timeout 3000

# Under ASan + UBSan: everything except the whole-model tests (too slow there).
test-dev: build-dev
	ctest --preset dev -j 2 -LE 'model|slow'

test: test-ci test-dev

bench: build models
	bench/infer/run.sh build/release/idphoto
	bench/clean/run.sh build/release/idphoto

clean:
	rm -rf build
