# Entry points for people and CI. Everything builds out of tree under build/ (Release),
# build-asan/ (Debug with AddressSanitizer + UndefinedBehaviorSanitizer) or build-tsan/ (Debug
# with ThreadSanitizer, the threaded tests only).
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
CONFIG     ?= kv.toml
JOBS       ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps build test run test-asan test-tsan bench clean

all: build

deps:
	@./cmake/install-deps.sh

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DKV_WERROR=ON

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Every test: the suite, then the index's threaded parts under ThreadSanitizer.
test: build
	ctest --test-dir $(BUILD) --output-on-failure --timeout 900 $(CTEST_ARGS)
	$(MAKE) test-tsan

run: build
	./$(BUILD)/bin/kvnode --config $(CONFIG)

$(ASAN_BUILD)/build.ninja: | deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKV_SANITIZE=ON -DKV_WERROR=ON

test-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ctest --test-dir $(ASAN_BUILD) --output-on-failure --timeout 1800 $(CTEST_ARGS)

$(TSAN_BUILD)/build.ninja: | deps
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKV_TSAN=ON -DKV_WERROR=ON

# The code that runs on several threads at once: the node index's queries beside its changes
# (node_index_queries), the index's two build threads (maintenance), connections' output beside
# the send threads (send_thread_tests), the snapshot thread reading the state beside the
# writes (snapshot_thread_tests), and the trash's thread (trash_tests). About 2 minutes to build,
# about a minute to run.
test-tsan: deps $(TSAN_BUILD)/build.ninja
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target index_tests send_thread_tests snapshot_thread_tests trash_tests
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ./$(TSAN_BUILD)/bin/index_tests --run_test=node_index_queries,maintenance
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ./$(TSAN_BUILD)/bin/send_thread_tests
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ./$(TSAN_BUILD)/bin/snapshot_thread_tests
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ./$(TSAN_BUILD)/bin/trash_tests

bench: build
	./$(BUILD)/bin/storage_bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
