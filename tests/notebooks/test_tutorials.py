"""The tutorial notebooks (tutorials/*.ipynb) run top to bottom, and their committed versions
carry real outputs.

Each notebook is executed with nbclient at ``TR_TUTORIAL_SCALE=ci`` (tiny images, few
iterations: well under a minute each with a warm kernel cache) from a temporary copy, so the
committed notebook and its outputs are never modified. The kernel's working directory is the
real ``tutorials/`` folder, because notebooks find the repository (``../scenes``, the kernel
cache) through ``..``; they write their files to temporary folders, which the test checks by
comparing the folder's listing before and after. A cell that raises fails the test, with the
cell's traceback in the message.

The committed notebooks must hold PNG outputs (the documentation site shows them as they are)
from a ``full`` scale run without errors: re-run them with
``cd tutorials && jupyter nbconvert --to notebook --execute --inplace <notebook>`` after a change.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import time

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = pathlib.Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))
CELL_TIMEOUT = int(os.environ.get("TR_NOTEBOOK_CELL_TIMEOUT", "600"))  # seconds, per cell
KERNEL = os.environ.get("TR_NOTEBOOK_KERNEL", "python3")

pytestmark = pytest.mark.slow


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _outputs(nb):
    return [o for c in _code_cells(nb) for o in c.get("outputs", [])]


def test_tutorials_exist():
    assert len(NOTEBOOKS) == 7, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_at_ci_scale(path, tmp_path, monkeypatch):
    copy = tmp_path / path.name
    shutil.copyfile(path, copy)
    nb = nbformat.read(copy, as_version=4)
    before = sorted(p.name for p in TUTORIALS.iterdir())

    monkeypatch.setenv("TR_TUTORIAL_SCALE", "ci")  # the kernel inherits this environment
    monkeypatch.setenv("TI_OFFLINE_CACHE_FILE_PATH", str(ROOT / ".cache" / "taichi"))
    monkeypatch.setenv("MPLBACKEND", "agg")  # %matplotlib inline still takes over in the kernel
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(TUTORIALS)}},  # the kernel's working directory
        allow_errors=False,
    )
    t0 = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell failed at TR_TUTORIAL_SCALE=ci:\n{exc}", pytrace=False)
    finally:
        nbformat.write(nb, copy)  # the executed copy, for inspection (tmp_path only)
    seconds = time.perf_counter() - t0

    errors = [o for o in _outputs(nb) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: error outputs {[e.get('ename') for e in errors]}"
    first = "".join(o.get("text", "") for o in _code_cells(nb)[0].get("outputs", []))
    assert "scale: ci" in first, f"{path.name}: the first cell must read TR_TUTORIAL_SCALE and print it"
    assert sorted(p.name for p in TUTORIALS.iterdir()) == before, (
        f"{path.name} wrote files into tutorials/ (write to a temporary folder instead)"
    )
    print(f"{path.name}: {seconds:.1f} s at ci scale")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_has_full_scale_png_outputs(path):
    nb = nbformat.read(path, as_version=4)
    cells = _code_cells(nb)
    assert cells and all(c.get("execution_count") for c in cells), (
        f"{path.name}: commit the notebook executed, every code cell with its outputs"
    )
    pngs = [o for o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert pngs, f"{path.name}: no image/png output; execute it at full scale before committing"
    errors = [o for o in _outputs(nb) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: committed with error outputs"
    first = "".join(o.get("text", "") for o in cells[0].get("outputs", []))
    assert "scale: full" in first, f"{path.name}: committed outputs must come from a full-scale run"
    size = path.stat().st_size
    assert size < 2_500_000, f"{path.name} is {size / 1e6:.1f} MB: fewer or smaller images, please"
