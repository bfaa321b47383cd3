# Entry points for people and CI. Everything builds out of tree under build/ (Release)
# or build-asan/ (Debug with AddressSanitizer + UndefinedBehaviorSanitizer).
BUILD      ?= build
ASAN_BUILD ?= build-asan
CONFIG     ?= kv.toml
JOBS       ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps build test run test-asan bench clean

all: build

deps:
	@./cmake/install-deps.sh

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DKV_WERROR=ON

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure --timeout 900 $(CTEST_ARGS)

run: build
	./$(BUILD)/bin/kvnode --config $(CONFIG)

$(ASAN_BUILD)/build.ninja: | deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKV_SANITIZE=ON -DKV_WERROR=ON

test-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ctest --test-dir $(ASAN_BUILD) --output-on-failure --timeout 1800 $(CTEST_ARGS)

bench: build
	./$(BUILD)/bin/storage_bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
