"""The command line renders a scene with a progress bar and writes the image."""

import os
import subprocess
import sys

import numpy as np
import pytest

import taichi_render as tr
from taichi_render.cli import main

pytestmark = pytest.mark.spawns  # run after the in-process tests (Makefile)


def test_cli_render_writes_image(tmp_path, scenes_dir):
    out = tmp_path / "cbox.exr"
    proc = subprocess.run(
        [sys.executable, "-m", "taichi_render", "render", str(scenes_dir / "cbox.xml"), "-o", str(out),
         "--spp", "4", "--res", "40", "24", "--arch", "cpu"],
        capture_output=True, text=True, env=dict(os.environ), timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "4/4" in proc.stderr  # tqdm progress bar
    img = tr.read_bitmap(out)
    assert img.shape == (24, 40, 3)
    assert 0.05 < img.mean() < 0.5


def test_cli_chunked_render_equals_single_render(scenes_dir):
    """The progress bar renders in chunks of samples; the image is the same as one launch."""
    from taichi_render.cli import _progress_render

    scene = tr.load_file(scenes_dir / "cbox.xml", res=16)
    whole = tr.render(scene, spp=6, seed=3).to_numpy()
    chunked = _progress_render(scene, 6, 3, "test", chunk=4).to_numpy()  # chunks of 4 + 2 spp
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-6)


def test_cli_missing_scene_is_an_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "taichi_render", "render", str(tmp_path / "nope.xml"), "-o", str(tmp_path / "x.png"),
         "--arch", "cpu"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 2
    assert "nope.xml" in proc.stderr


@pytest.mark.parametrize("option", ["--iterations", "--spp", "--res"])
def test_cli_demo_rejects_counts_below_one(capsys, option):
    with pytest.raises(SystemExit) as exc:
        main(["demo", option, "0"])
    assert exc.value.code == 2
    assert f"{option}: must be at least 1, got 0" in capsys.readouterr().err
