"""Shared test set-up: one Taichi runtime per session, one kernel cache for the whole run."""

import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCENES = ROOT / "scenes"
# Mitsuba 3 reference renders, kept in the repository (tests/reference/README.md says what they
# are); TR_REFERENCE_DIR points the tests at another copy
REFERENCE = pathlib.Path(os.environ.get("TR_REFERENCE_DIR", ROOT / "tests" / "reference"))

os.environ.setdefault("TI_OFFLINE_CACHE_FILE_PATH", str(ROOT / ".cache" / "taichi"))
os.environ.setdefault("TI_LOG_LEVEL", "warn")
os.environ.setdefault("ENABLE_TAICHI_HEADER_PRINT", "0")
os.environ.setdefault("TI_SKIP_VERSION_CHECK", "ON")


@pytest.fixture(scope="session", autouse=True)
def taichi_runtime():
    """Initialise taichi_render once; TR_TEST_ARCH picks the arch (default cpu)."""
    import taichi_render as tr

    runtime = tr.init(os.environ.get("TR_TEST_ARCH", "cpu"))
    if os.environ.get("TR_EXPECT_PORTABLE") == "1":  # set by `make test-portable`
        from taichi_render import backend

        effects = backend.process_effects()
        on = [name for name, active in effects.items() if active]
        assert not on, f"make test-portable: these process effects are still on: {on}"
    return runtime


def pytest_sessionfinish(session, exitstatus):
    """In a pytest-xdist worker, store the kernels this process compiled in Taichi's offline
    cache now (ti.reset finalises the program, which writes them). Taichi otherwise writes them
    when the process exits, under the cache's lock file, and pytest-xdist kills a worker that
    takes over 10 s to exit: killed while writing, the worker left the lock behind, and every
    later process of the run failed to lock the cache and compiled its kernels again."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import taichi as ti

        try:
            ti.reset()
        except RuntimeError as error:  # the cache saves time only: report it, pass the run
            print(f"conftest: Taichi's kernel cache was not written: {error!r}", file=sys.stderr)


@pytest.fixture(scope="session")
def scenes_dir() -> pathlib.Path:
    return SCENES


@pytest.fixture(scope="session")
def reference_dir() -> pathlib.Path:
    if not REFERENCE.is_dir():
        raise FileNotFoundError(f"reference data not found at {REFERENCE}")
    return REFERENCE
