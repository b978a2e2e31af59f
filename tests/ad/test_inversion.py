"""The API page's loop: invert the Cornell box's red wall (256x256, spp 1, depth 3, Adam lr 0.05,
100 iterations) ends with a squared parameter error below 1e-3 (Mitsuba 3 reaches 1.1e-4)."""

import numpy as np

from taichi_render.demo import invert_red_wall, save_outputs


def test_invert_red_wall(tmp_path):
    result = invert_red_wall(res=256, iterations=100, spp=1, lr=0.05, ref_spp=64, progress=False)
    errors = result["history"]["error"]
    assert len(errors) == 100
    assert errors[-1] < 1e-3, f"final squared error {errors[-1]:.2e}"
    assert errors[-1] < 0.05 * errors[0]
    assert all(np.isfinite(result["history"]["loss"]))
    save_outputs(result, tmp_path)
    for name in ("ref.png", "init.png", "final.png", "frames.png", "convergence.png"):
        assert (tmp_path / name).stat().st_size > 1000, name
