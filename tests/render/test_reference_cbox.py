"""The Cornell box against Mitsuba 3 references (tests/reference/cbox)."""

import numpy as np
import pytest

import taichi_render as tr

RES = 256
BLOCK = 16


def render_np(scene, spp, seed):
    return tr.render(scene, spp=spp, seed=seed).to_numpy().astype(np.float64)


def block_means(img: np.ndarray) -> np.ndarray:
    h, w, c = img.shape
    return img.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK, c).mean(axis=(1, 3))


def block_z_scores(a: np.ndarray, b: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """z-scores of the block means of the average of two independent renders (a, b) against
    the reference; the per-block variance is estimated from a - b (Var(a - b) = 2 Var(a))."""
    mean = 0.5 * (a + b)
    diff = a - b
    n = BLOCK * BLOCK
    var_pixel = block_means(diff**2) / 2.0  # per-pixel variance of one render, block average
    var_block_mean = var_pixel / n / 2.0  # variance of the block mean of the average of two renders
    return (block_means(mean) - block_means(ref)) / np.sqrt(var_block_mean + 1e-12)


@pytest.fixture(scope="module")
def cbox_d3(scenes_dir):
    return tr.load_file(scenes_dir / "cbox.xml", res=RES, max_depth=3)


@pytest.mark.parametrize(
    "max_depth, ref_name, spp",
    [(3, "cbox_path_d3_spp8192_256.npy", 32), (-1, "cbox_path_dinf_spp1024_256.npy", 32)],
)
def test_cbox_matches_mitsuba(scenes_dir, reference_dir, max_depth, ref_name, spp):
    scene = tr.load_file(scenes_dir / "cbox.xml", res=RES, max_depth=max_depth)
    ref = np.load(reference_dir / "cbox" / ref_name).astype(np.float64)
    a = render_np(scene, spp, seed=1)
    b = render_np(scene, spp, seed=2)
    assert np.isfinite(a).all() and np.isfinite(b).all()
    mean = 0.5 * (a + b)
    rel = mean.mean((0, 1)) / ref.mean((0, 1)) - 1.0
    assert np.all(np.abs(rel) < 0.005), f"channel means differ by {rel}"
    z = block_z_scores(a, b, ref)
    # reference noise (1024 spp for the unbounded one) is small against ours; allow it a little
    assert np.abs(z).max() < 5.5, f"block z-scores up to {np.abs(z).max():.2f}"
    assert 0.3 < np.mean(z**2) < 2.0, f"mean z^2 = {np.mean(z**2):.2f}, expected about 1"


def test_rmse_falls_as_inverse_sqrt_spp(cbox_d3, reference_dir):
    ref = np.load(reference_dir / "cbox" / "cbox_path_d3_spp8192_256.npy").astype(np.float64)
    rmse = [np.sqrt(np.mean((render_np(cbox_d3, spp, seed=7) - ref) ** 2)) for spp in (4, 16, 64)]
    ratios = rmse[0] / rmse[1], rmse[1] / rmse[2]
    for r in ratios:
        assert 1.7 < r < 2.3, f"RMSE ratios per 4x spp {ratios}, expected about 2"


def test_xml_obj_scene_equals_dict_and_rectangles(scenes_dir):
    """cbox.xml (OBJ meshes), cbox_rectangles.xml and tr.cornell_box() are the same scene."""
    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = 64
    images = [
        tr.render(tr.load_file(scenes_dir / "cbox.xml", res=64), spp=8, seed=3).to_numpy(),
        tr.render(tr.load_file(scenes_dir / "cbox_rectangles.xml", res=64), spp=8, seed=3).to_numpy(),
        tr.render(tr.load_dict(d), spp=8, seed=3).to_numpy(),
    ]
    for img in images[1:]:
        np.testing.assert_allclose(img.mean((0, 1)), images[0].mean((0, 1)), rtol=1e-3)
        assert np.abs(img - images[0]).max() < 1e-2 * max(1.0, images[0].max())


def test_red_wall_on_the_left(cbox_d3):
    img = tr.render(cbox_d3, spp=4).to_numpy()
    left, right = img[100:150, 5:20].mean((0, 1)), img[100:150, -20:-5].mean((0, 1))
    assert left[0] > 2 * left[1] and right[1] > 2 * right[0]
