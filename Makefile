# Front door. `make run` and `make test` work on a fresh Debian 12 machine: both install what
# they need first (scripts/install-deps.sh is idempotent).
#   make run     install, build Release, serve the embedded demo model on 127.0.0.1:$(PORT)
#   make test    install, build, run every test (CTest)
#   make build   build only;  make clean  remove build/
# PRESET picks the CMake preset; by default cuda-release when nvcc is found (so GPU code is
# always compiled), else cpu-release.

NVCC ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
ifeq ($(strip $(NVCC)),)
PRESET ?= cpu-release
else
PRESET ?= cuda-release
export CUDACXX := $(NVCC)
endif
BUILD_DIR := build/$(PRESET)
JOBS ?= $(shell nproc)
PORT ?= 8080

.PHONY: deps configure build run test clean

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@$(BUILD_DIR)/brisk serve --port $(PORT)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf build
