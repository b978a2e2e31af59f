"""Counter-based RNG: the same seed gives the same bits; another seed another image."""

import numpy as np

import taichi_render as tr


def test_same_seed_same_bits_other_seed_other_image(scenes_dir):
    scene = tr.load_file(scenes_dir / "cbox.xml", res=32, spp=4)
    a = tr.render(scene, seed=5).to_numpy()
    b = tr.render(scene, seed=5).to_numpy()
    c = tr.render(scene, seed=6).to_numpy()
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_allclose(a.mean(), c.mean(), rtol=0.25)  # noisy at 4 spp


def test_reloaded_scene_same_bits(scenes_dir):
    a = tr.render(tr.load_file(scenes_dir / "cbox.xml", res=32), spp=2, seed=9).to_numpy()
    b = tr.render(tr.load_file(scenes_dir / "cbox.xml", res=32), spp=2, seed=9).to_numpy()
    assert np.array_equal(a, b)


def test_render_returns_the_sensor_field(scenes_dir):
    scene = tr.load_file(scenes_dir / "cbox.xml", res=24)
    img = tr.render(scene, spp=1)
    assert img.shape == (24, 24) and img.n == 3
    assert img.to_numpy().dtype == np.float32
    assert tr.render(scene, spp=1, seed=1) is img  # overwritten by the next render


def test_bad_spp_and_seed_raise(scenes_dir):
    import pytest

    scene = tr.load_file(scenes_dir / "cbox.xml", res=8)
    for bad in (0, -3, 1.5, "4"):
        with pytest.raises(ValueError, match="spp"):
            tr.render(scene, spp=bad)
    with pytest.raises(ValueError, match="seed"):
        tr.render(scene, seed=-1)
