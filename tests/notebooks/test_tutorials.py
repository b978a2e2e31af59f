"""The tutorial notebooks (tutorials/*.ipynb) run top to bottom, read like Mitsuba's tutorials,
and their committed versions carry real, clean outputs.

Layout of a notebook: its first code cell is the hidden set-up cell (tag ``remove_cell``, which
the documentation site drops; source collapsed in Jupyter), ``from tutorial_setup import *``
plus one printed line, ``tutorial scale: <scale>``. ``tutorials/tutorial_setup.py`` holds the
plumbing: the scale switch (``TR_TUTORIAL_SCALE``, ``pick(full=..., ci=...)``), the kernel
cache folder, Taichi's quiet start-up, a temporary output folder and the plotting helpers. The
next code cell is what a reader would write first: a few imports and ``tr.init("auto")``.
No output may hold a Taichi log line (start-up banner, info or warning lines).

Each notebook is executed with nbclient at ``TR_TUTORIAL_SCALE=ci`` (tiny images, few
iterations: well under a minute each with a warm kernel cache) from a temporary copy, so the
committed notebook and its outputs are never modified. The variables that quiet Taichi are
removed from the kernel's environment, so the run shows that the set-up module quiets it on its
own. The kernel's working directory is the real ``tutorials/`` folder (the notebooks import
``tutorial_setup`` from there and find ``../scenes``); they write their files to temporary
folders, which the test checks by comparing the folder's listing before and after. A cell that
raises fails the test, with the cell's traceback in the message.

The committed notebooks must hold PNG outputs (the documentation site shows them as they are)
from a ``full`` scale run without errors: re-run them all with ``make tutorials``, or one with
``cd tutorials && TR_TUTORIAL_SCALE=full jupyter nbconvert --to notebook --execute --inplace
<notebook>``, after a change.
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

SETUP_TAG = "remove_cell"  # mkdocs.yml: mkdocs-jupyter's remove_tag_config drops these cells
SETUP_IMPORT = "from tutorial_setup import *"
MAX_FIRST_CELL_LINES = 6  # non-blank lines of the first visible code cell
# Taichi's start-up banner and tr.init's line ("[Taichi] ..."), its C++ log lines
# ("[I 11/22/26 01:36:37.458 7919] [shell.py:...] Graphical python shell detected, ...")
# and its warnings about the package's own kernels ("Calling non-taichi function ...")
TAICHI_LOG_MARKERS = ("[Taichi]", "[I ", "[W ", "[E ", "Graphical python shell", "non-taichi function")

pytestmark = [pytest.mark.slow, pytest.mark.spawns]


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _outputs(nb):
    return [o for c in _code_cells(nb) for o in c.get("outputs", [])]


def _text(output) -> str:
    """What a reader sees of an output as text: a stream, a result's text/plain, a traceback."""
    text = output.get("text", "")
    text += output.get("data", {}).get("text/plain", "")
    text += "\n".join(output.get("traceback", []))
    return "".join(text) if isinstance(text, list) else text


def _is_setup_cell(cell) -> bool:
    return SETUP_TAG in cell.get("metadata", {}).get("tags", [])


def _taichi_log_lines(nb) -> list[str]:
    return [
        line
        for o in _outputs(nb)
        for line in _text(o).splitlines()
        if any(marker in line for marker in TAICHI_LOG_MARKERS)
    ]


def _setup_output(nb) -> str:
    return "".join(_text(o) for o in _code_cells(nb)[0].get("outputs", []))


def test_tutorials_exist():
    assert len(NOTEBOOKS) == 9, [p.name for p in NOTEBOOKS]
    assert (TUTORIALS / "tutorial_setup.py").is_file()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_opens_like_a_tutorial(path):
    """A hidden set-up cell, then a short first cell of imports and tr.init."""
    cells = _code_cells(nbformat.read(path, as_version=4))
    setup = cells[0]
    assert _is_setup_cell(setup), (
        f"{path.name}: the first code cell must carry the tag {SETUP_TAG!r}"
    )
    assert setup.metadata.get("jupyter", {}).get("source_hidden") is True, (
        f"{path.name}: the set-up cell's source must be hidden (metadata jupyter.source_hidden)"
    )
    assert SETUP_IMPORT in setup.source, f"{path.name}: the set-up cell must run {SETUP_IMPORT!r}"
    assert len(setup.source.splitlines()) <= 3, (
        f"{path.name}: plumbing belongs in tutorial_setup.py"
    )
    hidden = [i for i, c in enumerate(cells) if _is_setup_cell(c)]
    assert hidden == [0], (
        f"{path.name}: only the set-up cell may be hidden, not code cells {hidden[1:]}"
    )

    first = cells[1].source
    lines = [line for line in first.splitlines() if line.strip()]
    assert len(lines) <= MAX_FIRST_CELL_LINES, (
        f"{path.name}: the first visible cell has {len(lines)} lines (at most {MAX_FIRST_CELL_LINES}):\n{first}"
    )
    assert "import taichi_render as tr" in first and "tr.init(" in first, (
        f"{path.name}: the first visible cell imports taichi_render and calls tr.init:\n{first}"
    )
    assert "TR_TUTORIAL_SCALE" not in first and "os.environ" not in first, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_at_ci_scale(path, tmp_path, monkeypatch):
    copy = tmp_path / path.name
    shutil.copyfile(path, copy)
    nb = nbformat.read(copy, as_version=4)
    before = sorted(p.name for p in TUTORIALS.iterdir())

    monkeypatch.setenv("TR_TUTORIAL_SCALE", "ci")  # the kernel inherits this environment
    monkeypatch.setenv("TI_OFFLINE_CACHE_FILE_PATH", str(ROOT / ".cache" / "taichi"))
    monkeypatch.setenv("MPLBACKEND", "agg")  # tutorial_setup still switches the kernel to inline
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")  # no tutorials/__pycache__ from the import
    for name in ("ENABLE_TAICHI_HEADER_PRINT", "TI_LOG_LEVEL", "TI_SKIP_VERSION_CHECK"):
        monkeypatch.delenv(name, raising=False)  # tutorial_setup must quiet Taichi by itself
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
    assert _setup_output(nb).strip() == "tutorial scale: ci", (
        f"{path.name}: the set-up cell must print 'tutorial scale: ci' (TR_TUTORIAL_SCALE=ci), "
        f"got {_setup_output(nb)!r}"
    )
    logs = _taichi_log_lines(nb)
    assert not logs, f"{path.name}: Taichi log lines in the outputs: {logs}"
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
    assert _setup_output(nb).strip() == "tutorial scale: full", (
        f"{path.name}: committed outputs must come from a full-scale run (`make tutorials`), "
        f"the set-up cell printed {_setup_output(nb)!r}"
    )
    logs = _taichi_log_lines(nb)
    assert not logs, f"{path.name}: committed with Taichi log lines in its outputs: {logs}"
    size = path.stat().st_size
    assert size < 2_500_000, f"{path.name} is {size / 1e6:.1f} MB: fewer or smaller images, please"
