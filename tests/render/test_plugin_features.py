"""Kernels compiled for a scene's plugin families (view.py's feature flags): the flags each scene
gets, and the same images and gradients from a kernel compiled for every family."""

import numpy as np
import pytest
import taichi as ti

import taichi_render as tr
from taichi_render.render import view
from taichi_render.render.renderer import scene_data


def cornell(**extra):
    d = tr.cornell_box()
    d["sensor"]["film"].update(width=16, height=16)
    d.update(extra)
    return d


SCENES = {
    "cornell box": (cornell(), 0),
    "twosided diffuse": (cornell(red={"type": "twosided", "bsdf": {"type": "diffuse"}}), 0),
    "sphere": (cornell(ball={"type": "sphere", "radius": 0.2, "bsdf": {"type": "ref", "id": "white"}}),
               view.ANALYTIC_SHAPES),
    "disk light": (cornell(lamp={"type": "disk", "emitter": {"type": "area", "radiance": 2.0}}),
                   view.ANALYTIC_SHAPES),
    "bitmap": (cornell(red={"type": "diffuse", "reflectance": {"type": "bitmap", "data": np.full((2, 2, 3), 0.5,
                                                                                                  np.float32)}}),
               view.TEXTURES),
    "checkerboard": (cornell(red={"type": "diffuse", "reflectance": {"type": "checkerboard"}}), view.TEXTURES),
    "dielectric": (cornell(red={"type": "dielectric"}), view.MATERIALS),
    "twosided conductor": (cornell(red={"type": "twosided", "bsdf": {"type": "conductor"}}), view.MATERIALS),
    "point light": (cornell(bulb={"type": "point", "position": [0, 0.5, 0], "intensity": 1.0}), view.EMITTERS),
    "constant sky": (cornell(sky={"type": "constant"}), view.EMITTERS),
}


@pytest.mark.parametrize("name", SCENES)
def test_each_plugin_family_gets_its_flag(name):
    d, flags = SCENES[name]
    assert scene_data(tr.load_dict(d)).features == flags


def test_a_scene_of_every_family_gets_every_flag(scenes_dir):
    # the glass sphere scene: a sphere, a bitmap, a dielectric, a constant emitter
    assert scene_data(tr.load_file(scenes_dir / "glass_sphere.xml", res=8)).features == view.ALL_FEATURES


def _image_and_gradient(scene, params, key):
    loss = tr.ad.loss_field()
    with ti.ad.Tape(loss=loss):
        image = tr.render(scene, params, spp=4, seed=3, seed_grad=4)
        tr.ad.mse(image, np.zeros(tuple(image.shape) + (3,), np.float32), loss)
    return image.to_numpy(), params.grad(key).copy()


@pytest.mark.parametrize("packets", ["0", "1"])
def test_the_cornell_box_kernel_equals_the_kernel_of_every_family(monkeypatch, packets):
    """The Cornell box compiles without the code of the families it does not use; a kernel with
    all of it computes the same image and gradient (the branches left out are never taken), up
    to rounding: LLVM fuses and orders the arithmetic of different code differently."""
    monkeypatch.setenv("TR_PACKETS", packets)
    scene = tr.load_dict(cornell())
    params = tr.traverse(scene)
    params.enable_grad(["red.reflectance.value"])
    data = scene_data(scene)
    assert data.features == 0
    image, grad = _image_and_gradient(scene, params, "red.reflectance.value")
    monkeypatch.setattr(data, "features", view.ALL_FEATURES)
    image_all, grad_all = _image_and_gradient(scene, params, "red.reflectance.value")
    assert image.mean() > 0 and np.abs(grad).max() > 0
    np.testing.assert_allclose(image, image_all, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grad, grad_all, rtol=1e-5)
