# idphoto — the two commands of the README, and a few more.
#   make run    set up, build (release), fetch the model, clean the sample photo, then start
#               the server (SQLite + local store under data/, dev token printed; Ctrl-C stops)
#   make test   set up, build, run the whole suite (ci preset, then ASan+UBSan unit tests, then
#               the threaded code's tests under ThreadSanitizer)
#   make bench  set up, build (release), measure against the peers (writes docs/performance.md)
#   make build  set up, build (release)
#   make format clang-format every C++ file (developers; needs the clang-format package)
#   make fuzz   build the libFuzzer targets (fuzz preset, clang, ASan + UBSan) and run each for
#               FUZZ_SECONDS (default 60); FUZZ_TARGETS="jwt url_policy" picks some. Not in make
#               test, which replays their seeds and regression inputs instead (fuzz/README.md)
SHELL := /bin/bash
JOBS ?= $(shell nproc)
SAMPLE ?= /usr/lib/python3/dist-packages/skimage/data/astronaut.png
OUT ?= out

.PHONY: setup models build build-ci build-dev build-tsan build-fuzz run test test-ci test-dev test-tsan fuzz bench format clean

setup:
	scripts/setup

models: setup
	scripts/fetch-models

# The binary only: make run and make bench need nothing else (the tests build in the ci/dev presets).
build: setup
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS) --target idphoto

build-ci: setup
	cmake --preset ci >/dev/null
	cmake --build --preset ci -j $(JOBS)

build-dev: setup
	cmake --preset dev >/dev/null
	cmake --build --preset dev -j $(JOBS)

# Only the tests labelled tsan and what they link (the preset's targets; docs/development.md).
build-tsan: setup
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan -j $(JOBS)

# Only the fuzz targets and what they link (the preset's fuzz_all target; fuzz/CMakeLists.txt).
build-fuzz: setup
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS)

PORT ?= 8080
run: build models
	@mkdir -p "$(OUT)"
	build/release/idphoto clean "$(SAMPLE)" -o "$(OUT)/astronaut-id.png" --json
	@echo "make run: ID photo written to $(OUT)/astronaut-id.png"
	@echo "make run: starting the server (dev mode: SQLite and files under data/, 127.0.0.1:$(PORT)); Ctrl-C stops it"
	PORT=$(PORT) IDPHOTO_MODELS_DIR=$(CURDIR)/models build/release/idphoto serve --dev

test-ci: build-ci models
	ctest --preset ci -j 2 --timeout 3000

# Under ASan + UBSan: everything except the whole-model tests (too slow there) and the cluster
# tests (they start RabbitMQ and Swift; run them under ASan by hand: ctest --preset dev -L cluster).
test-dev: build-dev
	ctest --preset dev -j 2 -LE 'model|slow|cluster'

# Under ThreadSanitizer: the worker pool, dispatcher, server (stub engine) and db tests.
test-tsan: build-tsan
	ctest --preset tsan -j 2

test: test-ci test-dev test-tsan

# Each target for FUZZ_SECONDS, one at a time; exits non-zero when one leaves a crash (fuzz/run.sh).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
fuzz: build-fuzz
	fuzz/run.sh build/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

bench: build models
	bench/infer/run.sh build/release/idphoto
	bench/clean/run.sh build/release/idphoto
	bench/serve/run.sh build/release/idphoto
	bench/batch/run.sh build/release/idphoto
	bench/face/run.sh build/release/idphoto
	bench/spec/run.sh build/release/idphoto

# Developers only (apt-get install clang-format): every tracked C++ file in src/ and tests/ (docs/development.md).
format:
	git ls-files -z 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp' | xargs -0 clang-format -i

clean:
	rm -rf build
