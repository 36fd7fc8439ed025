# Tessera's entry points. `make demo` and `make test` install missing packages, configure and
# build, so they work on a fresh Debian/Ubuntu machine.
BUILD ?= build
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
CTEST_FLAGS ?=

ifdef CI
CMAKE_FLAGS += -DTESSERA_WERROR=ON
endif

.PHONY: all setup configure build demo test test-all bench install fuzz clean python

all: build

setup:
	@bash scripts/setup.sh

configure: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)
	@/usr/bin/python3 scripts/register_python.py $(BUILD)/python || echo "python: registration skipped"

# Shakespeare-like dialogue from the model Tessera trained itself (models/shakespeare/TRAINING.md),
# streamed after the prompt, then tokens/s. `make demo PROMPT="..."` starts from your own text; the
# prompt goes through the environment so quotes and apostrophes in it need no escaping. The
# command's stderr (load line, statistics, errors) is held until the text is out, so it does not
# land between the prompt and its continuation.
PROMPT ?= ROMEO:
demo: export PROMPT := $(PROMPT)
demo: build
	@log=$$(mktemp); printf '%s' "$$PROMPT"; \
	  $(BUILD)/tools/tessera/tessera generate --model models/shakespeare --prompt "$$PROMPT" \
	    --temp 0.8 --top-p 0.95 --max-tokens 200 --seed 0 2>"$$log"; \
	  rc=$$?; cat "$$log" >&2; rm -f "$$log"; exit $$rc

# tessera.core in place: python/tessera gets the built extension, so PYTHONPATH=python or
# `pip install --no-build-isolation ./python` picks it up.
python: configure
	cmake --build $(BUILD) -j $(JOBS) --target tessera_python
	cp -f $(BUILD)/python/tessera/_core*.so python/tessera/

test: build
	cd $(BUILD) && ctest --output-on-failure -L fast $(CTEST_FLAGS)

test-all: build
	cd $(BUILD) && ctest --output-on-failure $(CTEST_FLAGS)

bench: build
	@bash scripts/setup.sh bench
	/usr/bin/python3 benchmarks/run_all.py --build $(BUILD)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

fuzz: setup
	cmake -S . -B $(BUILD)-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DCMAKE_C_COMPILER=clang -DTESSERA_BUILD_FUZZERS=ON -DTESSERA_BUILD_TESTS=OFF -DTESSERA_BUILD_BENCHMARKS=OFF
	cmake --build $(BUILD)-fuzz -j $(JOBS)
	bash fuzz/run_all.sh $(BUILD)-fuzz

clean:
	rm -rf $(BUILD) $(BUILD)-fuzz
