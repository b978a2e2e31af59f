"""Bad parameter values are rejected and change nothing.

``params[key] = value``, ``params.update({...})``, optimizers and ``taichi_render.torch.render``
reject wrong shapes, non-numeric dtypes, NaN/inf and unknown keys with ``ValueError`` (``TypeError``
for non-numeric values, as API.md documents) or ``KeyError``, naming the key. Afterwards the
parameter map (every value, what is staged, what has gradients enabled) and the scene (a render
with the same seed, bit for bit) are exactly as before.
"""

from __future__ import annotations

import numpy as np
import pytest
import taichi as ti
import torch

import taichi_render as tr
import taichi_render.torch as trt

RED = "red.reflectance.value"
LIGHT = "light.emitter.radiance.value"
FLOOR = "floor.vertex_positions"
FACES = "floor.faces"
TEXTURE = "textured_plane.bsdf.brdf_0.reflectance.data"
SPHERE_IOR = "glass_sphere.bsdf.int_ior"
CAMERA = "sensor.to_world"
FOV = "sensor.x_fov"


@pytest.fixture(scope="module")
def cbox():
    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = 8
    d["integrator"] = {"type": "prb", "max_depth": 3}
    scene = tr.load_dict(d)
    return scene, tr.traverse(scene)


@pytest.fixture(scope="module")
def glass(scenes_dir):
    scene = tr.load_file(scenes_dir / "glass_sphere.xml", res=8, spp=1)
    return scene, tr.traverse(scene)


class Snapshot:
    """Everything observable about a scene and its parameter map."""

    def __init__(self, scene, params):
        self.scene, self.params = scene, params
        self.keys = list(params.keys())
        self.values = {k: params[k].copy() for k in self.keys}
        self.staged = params.staged()
        self.grad_enabled = params.grad_enabled()
        self.image = tr.render(scene, spp=1, seed=3).to_numpy().copy()

    def assert_unchanged(self):
        p = self.params
        assert list(p.keys()) == self.keys
        assert p.staged() == self.staged, "a rejected value was staged"
        assert p.grad_enabled() == self.grad_enabled
        for k in self.keys:
            v = p[k]
            assert v.dtype == self.values[k].dtype and np.array_equal(v, self.values[k]), k
        image = tr.render(self.scene, spp=1, seed=3).to_numpy()
        assert image.tobytes() == self.image.tobytes(), "the scene changed"


def rejects(cls, key, fn, match=None):
    with pytest.raises(cls) as info:
        fn()
    assert key in str(info.value), f"{key!r} not named in {info.value!s}"
    if match:
        assert match in str(info.value)


BAD_COLOR_VALUES = {
    # id: (value, exception)
    "too-long": ([0.1, 0.2, 0.3, 0.4], ValueError),
    "2d": ([[0.1, 0.2, 0.3]], ValueError),
    "empty": ([], ValueError),
    "scalar": (0.5, ValueError),
    "ragged": ([[1.0], [2.0, 3.0]], ValueError),
    "nan": ([np.nan, 0.1, 0.1], ValueError),
    "inf": ([0.1, np.inf, 0.1], ValueError),
    "-inf": (np.array([0.1, 0.1, -np.inf]), ValueError),
    "beyond-float32": ([1e39, 0.1, 0.1], ValueError),
    "float16-nan": (np.array([np.nan, 0, 0], np.float16), ValueError),
    "torch-nan": (torch.tensor([0.1, float("nan"), 0.1]), ValueError),
    "torch-wrong-shape": (torch.zeros(2, 3), ValueError),
    "string": ("red", TypeError),
    "bytes": (b"\x00\x00\x00", TypeError),
    "none": (None, TypeError),
    "bool": (True, TypeError),
    "bool-array": (np.array([True, False, True]), TypeError),
    "complex": (np.array([1j, 0, 0]), TypeError),
    "torch-complex": (torch.zeros(3, dtype=torch.complex64), TypeError),
    "object-array": (np.array([object(), 1, 2], dtype=object), TypeError),
    "dict": ({"r": 1}, TypeError),
}


@pytest.mark.parametrize("case", sorted(BAD_COLOR_VALUES))
def test_bad_color_value_rejected_and_nothing_changes(cbox, case):
    scene, params = cbox
    value, cls = BAD_COLOR_VALUES[case]
    snap = Snapshot(scene, params)
    rejects(cls, RED, lambda: params.__setitem__(RED, value))
    snap.assert_unchanged()
    rejects(cls, RED, lambda: params.update({RED: value}))
    snap.assert_unchanged()


@pytest.mark.parametrize(
    "key, value, match",
    [
        (FLOOR, np.zeros(11, np.float32), "shape"),
        (FLOOR, np.full(12, np.nan, np.float32), "NaN"),
        (FACES, np.array([0, 1, 2, 0, 2, 3], np.float32) + 0.5, "integer"),
        (FACES, np.array([0, 1, 2, 0, 2, 99]), "[0, 4)"),
        (FACES, np.array([0, 1, 2, 0, 2, -1]), "[0, 4)"),
        (FACES, np.array([0, 1, 2, 0, 2, 2**40]), "int32"),
        (LIGHT, [1.0, 1.0], "shape"),
        (CAMERA, np.diag([2.0, 2.0, 2.0, 1.0]), "scale"),
        (CAMERA, np.full((4, 4), np.inf), "NaN"),
        (FOV, [0.0], "field of view"),
        (FOV, [180.0], "field of view"),
        (FOV, [np.nan], "NaN"),
    ],
    ids=["vertices-short", "vertices-nan", "faces-fractional", "faces-out-of-range",
         "faces-negative", "faces-int64", "radiance-short", "camera-scaled", "camera-inf",
         "fov-0", "fov-180", "fov-nan"],
)
def test_bad_values_of_other_keys(cbox, key, value, match):
    scene, params = cbox
    snap = Snapshot(scene, params)
    rejects(ValueError, key, lambda: params.__setitem__(key, value), match)
    rejects(ValueError, key, lambda: params.update({key: value}), match)
    snap.assert_unchanged()


@pytest.mark.parametrize(
    "key, value",
    [
        (TEXTURE, np.zeros((4, 4, 2), np.float32)),  # wrong channel count
        (TEXTURE, np.zeros((0, 4, 3), np.float32)),  # empty
        (TEXTURE, np.zeros((16,), np.float32)),
        (TEXTURE, np.full((4, 4, 3), np.inf, np.float32)),
        (SPHERE_IOR, [-1.5]),
        (SPHERE_IOR, [0.0]),
        (SPHERE_IOR, [np.nan]),
        ("glass_sphere.bsdf.eta", [1.0, 1.0]),
    ],
    ids=["bitmap-channels", "bitmap-empty", "bitmap-1d", "bitmap-inf", "ior-negative",
         "ior-zero", "ior-nan", "eta-shape"],
)
def test_bad_texture_and_ior_values(glass, key, value):
    scene, params = glass
    snap = Snapshot(scene, params)
    rejects(ValueError, key, lambda: params.__setitem__(key, value))
    snap.assert_unchanged()


@pytest.mark.parametrize("key", ["nope", "red.reflectance", "red.reflectance.value ", "",
                                 "RED.reflectance.value", 3, None, ("red",)])
def test_unknown_keys_raise_key_error(cbox, key):
    scene, params = cbox
    snap = Snapshot(scene, params)
    for fn in (lambda: params[key],
               lambda: params.__setitem__(key, [0.1, 0.1, 0.1]),
               lambda: params.update({key: [0.1, 0.1, 0.1]}),
               lambda: params.enable_grad([key])):
        with pytest.raises(KeyError) as info:
            fn()
        assert repr(key) in str(info.value) or str(key) in str(info.value)
    assert key not in params
    snap.assert_unchanged()


def test_batch_update_is_all_or_nothing(cbox):
    scene, params = cbox
    original = params[RED].copy()
    params[RED] = [0.3, 0.2, 0.1]  # a valid staged write that must survive the failures below
    snap = Snapshot(scene, params)
    staged = params[RED].copy()
    rejects(ValueError, LIGHT, lambda: params.update({RED: [0.9, 0.9, 0.9], LIGHT: [np.nan, 1, 1]}))
    rejects(KeyError, "nope", lambda: params.update({RED: [0.9, 0.9, 0.9], "nope": [1, 1, 1]}))
    rejects(TypeError, LIGHT, lambda: params.update([(RED, [0.9, 0.9, 0.9]), (LIGHT, "bright")]))
    assert np.array_equal(params[RED], staged)
    snap.assert_unchanged()
    params.update()  # the valid write still goes through
    assert np.allclose(params[RED], [0.3, 0.2, 0.1])
    params.update({RED: original})


def test_non_differentiable_key_for_gradients(cbox):
    scene, params = cbox
    snap = Snapshot(scene, params)
    rejects(ValueError, FACES, lambda: params.enable_grad([RED, FACES]))
    snap.assert_unchanged()  # RED was not enabled either


def test_optimizer_rejects_nan_and_bad_links(cbox):
    scene, params = cbox
    snap = Snapshot(scene, params)
    opt = tr.ad.Adam(lr=0.05)
    rejects(ValueError, RED, lambda: opt.__setitem__(RED, [np.nan, 0.1, 0.1]))
    rejects(ValueError, RED, lambda: opt.__setitem__(RED, [0.1, np.inf, 0.1]))
    assert RED not in opt
    unknown = tr.ad.Adam(lr=0.05)
    unknown["nope"] = [0.1, 0.1, 0.1]
    rejects(KeyError, "nope", lambda: params.update(unknown))
    for lr in (0.0, -1.0, float("nan"), "fast", True):
        with pytest.raises(ValueError):
            tr.ad.Adam(lr=lr)
    snap.assert_unchanged()


def test_rejected_optimizer_update_changes_nothing(cbox):
    scene, params = cbox
    snap = Snapshot(scene, params)
    opt = tr.ad.Adam(lr=0.05)
    opt[RED] = [0.1, 0.2, 0.3, 0.4]  # wrong shape for the key
    rejects(ValueError, RED, lambda: params.update(opt))
    try:
        snap.assert_unchanged()  # fails today: RED now has gradients enabled
        assert opt.params is None, "a rejected optimizer was linked to the parameters"
    finally:
        params._grad_keys[:] = snap.grad_enabled  # leave the module's parameters clean


def test_mse_rejects_nan_reference(cbox):
    scene, _ = cbox
    image = tr.render(scene, spp=1)
    loss = tr.ad.loss_field()
    bad = np.zeros((8, 8, 3), np.float32)
    bad[2, 3, 1] = np.nan
    for ref in (bad, torch.from_numpy(bad), np.zeros((8, 7, 3), np.float32)):
        with pytest.raises(ValueError):
            tr.ad.mse(image, ref, out=loss)


# ---- torch -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tensor, cls",
    [
        (torch.tensor([np.nan, 0.1, 0.1]), ValueError),
        (torch.tensor([0.1, np.inf, 0.1], requires_grad=True), ValueError),
        (torch.zeros(4), ValueError),
        (torch.zeros(3, dtype=torch.bool), TypeError),
        (torch.zeros(3, dtype=torch.complex64), TypeError),
        (np.zeros(3, np.float32), TypeError),
        ([0.1, 0.1, 0.1], TypeError),
    ],
    ids=["nan", "inf", "shape", "bool", "complex", "numpy", "list"],
)
def test_torch_render_rejects_bad_tensors(cbox, tensor, cls):
    scene, params = cbox
    snap = Snapshot(scene, params)
    rejects(cls, RED, lambda: trt.render(scene, params, spp=1, **{RED: tensor}))
    snap.assert_unchanged()


def test_torch_render_rejects_unknown_keys(cbox):
    scene, params = cbox
    snap = Snapshot(scene, params)
    rejects(KeyError, "nope", lambda: trt.render(scene, params, spp=1, nope=torch.zeros(3)))
    rejects(KeyError, "nope",
            lambda: trt.RenderLayer(scene, [RED], spp=1, params=params)(nope=torch.zeros(3)))
    with pytest.raises(KeyError):
        trt.RenderLayer(scene, ["nope"], params=params)
    snap.assert_unchanged()


def test_torch_render_with_one_bad_tensor_changes_nothing(cbox):
    scene, params = cbox
    snap = Snapshot(scene, params)
    tensors = {RED: torch.tensor([0.9, 0.9, 0.9]), LIGHT: torch.tensor([np.nan, 1.0, 1.0])}
    rejects(ValueError, LIGHT, lambda: trt.render(scene, params, spp=1, **tensors))
    try:
        snap.assert_unchanged()
    finally:  # leave the module's scene clean for the other tests
        params._staged.pop(RED, None)


def test_failed_torch_backward_leaves_no_gradient_state(cbox):
    """A NaN upstream gradient is not the library's to reject, but it must not stick: the next
    backward with a finite loss gives finite gradients."""
    scene, params = cbox
    original = params[RED].copy()
    color = torch.tensor([0.5, 0.5, 0.5], requires_grad=True)
    image = trt.render(scene, params, spp=1, seed=1, **{RED: color})
    (image.sum() * float("nan")).backward()
    color.grad = None
    image = trt.render(scene, params, spp=1, seed=1, **{RED: color})
    image.mean().backward()
    assert torch.isfinite(color.grad).all()
    params.update({RED: original})  # the torch render wrote 0.5 into the scene


def test_native_tape_after_rejections_still_works(cbox):
    scene, params = cbox
    for bad in ([np.nan] * 3, "x", [1, 2]):
        with pytest.raises((ValueError, TypeError)):
            params[RED] = bad
    params.enable_grad([RED])
    loss = tr.ad.loss_field()
    with ti.ad.Tape(loss=loss):
        image = tr.render(scene, params, spp=1, seed=0)
        tr.ad.mse(image, np.zeros((8, 8, 3), np.float32), out=loss)
    assert np.isfinite(loss[None]) and np.all(np.isfinite(params.grad(RED)))
