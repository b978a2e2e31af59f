# Two entry points for a fresh machine:
#   make demo   runs the main job (installs what it needs on first use)
#   make test   runs every test (installs what it needs on first use)
SHELL := /bin/bash
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export TI_OFFLINE_CACHE_FILE_PATH ?= $(CURDIR)/.cache/taichi
export TI_LOG_LEVEL ?= warn
export ENABLE_TAICHI_HEADER_PRINT ?= 0
export TI_SKIP_VERSION_CHECK ?= ON
export NO_MKDOCS_2_WARNING ?= 1

.PHONY: demo test test-portable lint venv sysdeps docs bench clean tutorials

$(STAMP): pyproject.toml
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU build of this version is on local disk
	$(VPY) -m pip install --quiet torch==2.13.0
	$(VPY) -m pip install --quiet -e ".[torch,docs,dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VPY) -m taichi_render demo

# Debian packages for the GGUI preview tests (software Vulkan, Xvfb); installs only what is missing
sysdeps:
	bash .ci/install_system_deps.sh

# two pytest runs: Taichi writes the kernels a process compiled to its offline cache only when
# the process ends, so the tests whose child processes compile kernels (marked `spawns`) run
# after the rest has stored its kernels, and their children load them instead of compiling.
# The first run is spread over TEST_WORKERS processes (pytest-xdist, a test file per worker):
# Taichi compiles a kernel on one thread, and most of that run's time is compilation.
# Between runs no process uses the kernel cache, so a lock file left in it is stale (a process
# killed while writing the cache; tests/conftest.py has the workers write theirs before
# pytest-xdist stops them): removed, or the next run could not read the cache
TEST_WORKERS ?= 2
STALE_CACHE_LOCKS := find "$(TI_OFFLINE_CACHE_FILE_PATH)" -name ticache.lock -delete 2>/dev/null || true
test: $(STAMP) sysdeps lint
	$(VPY) -m pytest -q --durations=15 -n $(TEST_WORKERS) --dist loadfile -m "not spawns" tests
	$(STALE_CACHE_LOCKS)
	$(VPY) -m pytest -q --durations=15 -m spawns tests
	$(STALE_CACHE_LOCKS)
	$(MAKE) --no-print-directory test-portable

# the tests marked `portable` again, in a process where taichi_render changes nothing it can
# switch off (docs/host_process.md): no LLVM rewrite, no thread pinning, Taichi's own frontend
PORTABLE_SWITCHES := TR_HOST_CPU=0 TR_WIDE_VECTORS=0 TR_FMA=0 TR_PIN_THREADS=0 TR_FAST_FRONTEND=0 TR_TORCH_OMP_PAUSE=0
test-portable: $(STAMP)
	$(PORTABLE_SWITCHES) TR_EXPECT_PORTABLE=1 $(VPY) -m pytest -q -m portable tests

# style and lint rules of pyproject.toml (ruff pinned there, so its default rules stay put)
lint: $(STAMP)
	$(VENV)/bin/ruff check taichi_render tests benchmarks examples

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict

bench: $(STAMP)
	$(VPY) benchmarks/run_all.py

# re-execute every tutorial notebook in place at full scale: the outputs the site shows and
# tests/notebooks checks (one at a time; minutes each with a cold kernel cache)
# (without a display, under a virtual X server when there is one, so that the live preview
# tutorial shows its GGUI window: `make sysdeps` installs Xvfb)
TUTORIAL_NOTEBOOKS := $(sort $(wildcard tutorials/*.ipynb))
X_SERVER := $(if $(DISPLAY),,$(if $(shell command -v xvfb-run),xvfb-run -a))
tutorials: $(STAMP)
	cd tutorials && for nb in $(notdir $(TUTORIAL_NOTEBOOKS)); do \
		echo "tutorials: $$nb"; \
		TR_TUTORIAL_SCALE=full PYTHONDONTWRITEBYTECODE=1 $(X_SERVER) ../$(VENV)/bin/jupyter nbconvert \
			--to notebook --execute --inplace "$$nb" || exit 1; \
	done

clean:
	rm -rf $(VENV) .cache site build *.egg-info
