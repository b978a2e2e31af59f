"""Shared test set-up: one Taichi runtime per session, one kernel cache for the whole run."""

import os
import pathlib

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


@pytest.fixture(scope="session")
def scenes_dir() -> pathlib.Path:
    return SCENES


@pytest.fixture(scope="session")
def reference_dir() -> pathlib.Path:
    if not REFERENCE.is_dir():
        raise FileNotFoundError(f"reference data not found at {REFERENCE}")
    return REFERENCE
