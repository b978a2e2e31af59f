"""Vertex-position gradients across visibility (`prb_projective`, `direct_projective`):
silhouettes and creases seen by the camera (primary), shadows (indirect), and both, against
central finite differences.

Criteria of the shape-optimization issue: the image sum of the derivative within 3 % of the
derivative's total absolute value (edges brighten one side and darken the other, so the plain
sum cancels), and 4x4-block derivative images within 30 % relative L1. Finite differences use
a small step (silhouettes move a fiftieth of a pixel) and many samples with the same seed on
both sides, so that only the moving edges differ.
"""

import numpy as np
import pytest
import taichi as ti

import taichi_render as tr

T = tr.ScalarTransform4f
RES = 24
KEY = "box.vertex_positions"


def box_scene(integrator):
    return tr.load_dict({
        "type": "scene",
        "integrator": integrator,
        "sensor": {"type": "perspective", "fov": 40, "to_world": T.look_at([0, 0, 4], [0, 0, 0], [0, 1, 0]),
                   "film": {"type": "hdrfilm", "width": RES, "height": RES, "rfilter": {"type": "box"}}},
        "back": {"type": "rectangle", "to_world": T.translate([0, 0, -1]).scale(3),
                 "bsdf": {"type": "diffuse", "reflectance": 0.2}},
        "box": {"type": "cube", "to_world": T.rotate([0, 1, 0], 20).rotate([1, 0, 0], 15).scale(0.5),
                "bsdf": {"type": "diffuse", "reflectance": 0.8}},
        # a point light at the camera: the box's shadow on the wall is hidden behind the box, so
        # the point-shadow term must add nothing (the camera does not see the shadowed side)
        "light": {"type": "point", "position": [0, 0, 4], "intensity": 30.0},
    })


def tangents(params):
    p = params[KEY].reshape(-1, 3)
    slide = np.tile([1.0, 0.3, 0.0], len(p)).astype(np.float32)
    spin = np.cross([0.0, 1.0, 0.0], p).reshape(-1).astype(np.float32)  # rotation about y
    return {"slide": slide, "spin": spin}


def finite_differences(scene, params, t, h=0.004, spp=2048, key=KEY):
    x0 = params[key].copy()
    images = []
    for sign in (1.0, -1.0):
        params[key] = x0 + sign * h * t
        params.update()
        images.append(tr.render(scene, params, spp=spp, seed=11).to_numpy().astype(np.float64))
    params[key] = x0
    params.update()
    return (images[0] - images[1]) / (2 * h)


def blocks(image):
    return image.sum(-1).reshape(RES // 4, 4, RES // 4, 4).sum((1, 3))


def assert_matches_finite_differences(derivative, fd):
    total = np.abs(fd).sum()
    assert total > 10.0  # the edges move: a large derivative
    assert abs(derivative.sum() - fd.sum()) < 0.03 * total, (derivative.sum(), fd.sum(), total)
    b, bf = blocks(derivative), blocks(fd)
    assert np.abs(b - bf).sum() < 0.3 * np.abs(bf).sum(), (np.abs(b - bf).sum(), np.abs(bf).sum())


def assert_reverse_equals_forward(scene, t, w, seed):
    """With seed_grad = seed the adjoint replays the forward pass's samples, edge samples
    included: grad(sum(w * image)) . t equals sum(w * d image / d t)."""
    params = tr.traverse(scene)
    params.enable_grad([KEY])
    loss = tr.ad.loss_field()
    with ti.ad.Tape(loss=loss):
        image = tr.render(scene, params, spp=16, seed=seed, seed_grad=seed)
        # mse against image - w / 2: the gradient of the loss is w / n
        tr.ad.mse(image, image.to_numpy() - 0.5 * w, out=loss)
    reverse = float(np.sum(params.grad(KEY) * t))
    derivative = tr.render_forward(scene, params, KEY, tangent=t, spp=16, seed=seed).to_numpy()
    forward = float(np.sum(w * derivative) / w.size)
    assert abs(forward) > 1e-3
    np.testing.assert_allclose(reverse, forward, rtol=2e-3)


@pytest.mark.parametrize("motion", ["slide", "spin"])
@pytest.mark.parametrize("integrator", [{"type": "prb_projective", "max_depth": 3}, {"type": "direct_projective"}])
def test_forward_mode_matches_finite_differences(motion, integrator):
    scene = box_scene(integrator)
    params = tr.traverse(scene)
    t = tangents(params)[motion]
    derivative = np.mean([tr.render_forward(scene, params, KEY, tangent=t, spp=64, seed=s).to_numpy()
                          for s in range(2)], axis=0).astype(np.float64)
    assert_matches_finite_differences(derivative, finite_differences(scene, params, t))


def test_prb_misses_the_boundary_term():
    """`prb` differentiates on fixed rays: its derivative image has no edges."""
    scene = box_scene({"type": "prb", "max_depth": 3})
    params = tr.traverse(scene)
    t = tangents(params)["slide"]
    derivative = tr.render_forward(scene, params, KEY, tangent=t, spp=64, seed=0).to_numpy().astype(np.float64)
    fd = finite_differences(scene, params, t)
    assert np.abs(blocks(derivative) - blocks(fd)).sum() > 0.8 * np.abs(blocks(fd)).sum()


@pytest.mark.parametrize("packets", ["1", "0"])
def test_reverse_mode_equals_forward_mode(monkeypatch, packets):
    monkeypatch.setenv("TR_PACKETS", packets)
    scene = box_scene({"type": "prb_projective", "max_depth": 3})
    t = tangents(tr.traverse(scene))["spin"]
    w = np.random.default_rng(1).uniform(0.5, 1.5, (RES, RES, 3)).astype(np.float32)
    assert_reverse_equals_forward(scene, t, w, seed=3)


def assert_torch_gradient_equals_native(scene, key):
    """The torch bridge's gradient of an mse loss with respect to `key` equals the Tape's (same
    samples: seed 2, seed_grad 5)."""
    torch = pytest.importorskip("torch")
    import taichi_render.torch as trt

    params = tr.traverse(scene)
    target = np.full((RES, RES, 3), 0.1, np.float32)
    params.enable_grad([key])
    loss = tr.ad.loss_field()
    with ti.ad.Tape(loss=loss):
        tr.ad.mse(tr.render(scene, params, spp=8, seed=2, seed_grad=5), target, out=loss)
    native = params.grad(key).copy()
    value = torch.tensor(params[key], requires_grad=True)
    image = trt.render(scene, params, spp=8, seed=2, seed_grad=5, **{key: value})
    torch.nn.functional.mse_loss(image, torch.from_numpy(target)).backward()
    assert np.abs(native).max() > 0
    np.testing.assert_allclose(value.grad.numpy(), native, rtol=1e-4, atol=1e-6 * np.abs(native).max())


def test_torch_bridge_gradient_equals_native():
    assert_torch_gradient_equals_native(box_scene({"type": "prb_projective", "max_depth": 2}), KEY)


def test_projective_options_are_read_and_checked():
    integrator = tr.load_dict({"type": "prb_projective", "sppp": 4, "guiding": "none", "max_depth": 4})
    assert (integrator.sppp, integrator.sppc, integrator.guiding, integrator.max_depth) == (4, None, "none", 4)
    assert tr.load_dict({"type": "direct_projective"}).max_depth == 2
    with pytest.raises(ValueError, match="guiding"):
        tr.load_dict({"type": "prb_projective", "guiding": "kd"})
    with pytest.raises(ValueError, match="sppp"):
        tr.load_dict({"type": "direct_projective", "sppp": 0})


# ---- indirect visibility: shadows ----


def shadow_scene(integrator, box_in_view=False):
    """A floor seen from above, a small box between it and a rectangle light: the box casts a
    shadow with a penumbra into the view; it is itself out of the view unless `box_in_view`."""
    box_at = [0.25, 0.6, 0.1] if box_in_view else [0.7, 1.2, 0.0]
    return tr.load_dict({
        "type": "scene",
        "integrator": integrator,
        "sensor": {"type": "perspective", "fov": 30, "to_world": T.look_at([0, 2, 0.01], [0, 0, 0], [0, 0, 1]),
                   "film": {"type": "hdrfilm", "width": RES, "height": RES, "rfilter": {"type": "box"}}},
        "floor": {"type": "rectangle", "to_world": T.rotate([1, 0, 0], -90).scale(3),
                  "bsdf": {"type": "diffuse", "reflectance": 0.7}},
        "box": {"type": "cube", "to_world": T.translate(box_at).scale(0.15),
                "bsdf": {"type": "diffuse", "reflectance": 0.5}},
        "light": {"type": "rectangle", "to_world": T.translate([1.5, 3, 0]).rotate([1, 0, 0], 90).scale(0.3),
                  "emitter": {"type": "area", "radiance": 30.0}},
    })


def forward_mean(scene, params, t, spp, seeds, key=KEY):
    return np.mean([tr.render_forward(scene, params, key, tangent=t, spp=spp, seed=s).to_numpy()
                    for s in seeds], axis=0).astype(np.float64)


@pytest.mark.parametrize("motion", ["slide", "spin"])
def test_shadow_only_forward_mode_matches_finite_differences(motion):
    """The box is out of view: every derivative comes from its moving shadow."""
    scene = shadow_scene({"type": "direct_projective"})
    params = tr.traverse(scene)
    t = tangents(params)[motion]
    fd = finite_differences(scene, params, t, spp=4096)
    assert_matches_finite_differences(forward_mean(scene, params, t, 256, range(8)), fd)
    # prb has no term for it: its derivative image is zero
    prb = shadow_scene({"type": "prb", "max_depth": 2})
    prb_params = tr.traverse(prb)
    assert np.abs(tr.render_forward(prb, prb_params, KEY, tangent=t, spp=16).to_numpy()).max() == 0.0


def test_shadow_and_silhouette_forward_mode_matches_finite_differences():
    """The box in view casts its shadow in view, with light bouncing (max_depth 3)."""
    scene = shadow_scene({"type": "prb_projective", "max_depth": 3}, box_in_view=True)
    params = tr.traverse(scene)
    t = tangents(params)["slide"]
    fd = finite_differences(scene, params, t, spp=4096)
    assert_matches_finite_differences(forward_mean(scene, params, t, 256, range(8)), fd)


@pytest.mark.parametrize("packets", ["1", "0"])
def test_shadow_reverse_mode_equals_forward_mode(monkeypatch, packets):
    monkeypatch.setenv("TR_PACKETS", packets)
    scene = shadow_scene({"type": "prb_projective", "max_depth": 3}, box_in_view=True)
    t = tangents(tr.traverse(scene))["spin"]
    w = np.random.default_rng(2).uniform(0.5, 1.5, (RES, RES, 3)).astype(np.float32)
    assert_reverse_equals_forward(scene, t, w, seed=4)


# ---- indirect visibility: a moving receiver under an environment ----


def sky_scene(integrator):
    """The box of `box_scene` in front of its wall, seen from the side under a constant
    environment: the box's faces see the sky around the wall's edges, which do not move but
    turn as seen from a face that does (the receiver's own motion)."""
    return tr.load_dict({
        "type": "scene",
        "integrator": integrator,
        "sensor": {"type": "perspective", "fov": 40, "to_world": T.look_at([3.2, 0.5, 2.5], [0, 0, -0.3], [0, 1, 0]),
                   "film": {"type": "hdrfilm", "width": RES, "height": RES, "rfilter": {"type": "box"}}},
        "back": {"type": "rectangle", "to_world": T.translate([0, 0, -1]).scale(3),
                 "bsdf": {"type": "diffuse", "reflectance": 0.2}},
        "box": {"type": "cube", "to_world": T.rotate([0, 1, 0], 20).rotate([1, 0, 0], 15).scale(0.5),
                "bsdf": {"type": "diffuse", "reflectance": 0.8}},
        "sky": {"type": "constant", "radiance": 1.0},
    })


@pytest.mark.parametrize("motion", ["slide", "spin"])
def test_moving_receiver_under_environment_matches_finite_differences(motion):
    """Without the static wall's edges as seen from the moving faces, the slide's image sum was
    16 % of the total off."""
    scene = sky_scene({"type": "prb_projective", "max_depth": 3})
    params = tr.traverse(scene)
    t = tangents(params)[motion]
    fd = finite_differences(scene, params, t, spp=4096)
    assert_matches_finite_differences(forward_mean(scene, params, t, 256, range(8)), fd)


def test_moving_receiver_reverse_mode_equals_forward_mode():
    scene = sky_scene({"type": "direct_projective"})
    t = tangents(tr.traverse(scene))["slide"]
    w = np.random.default_rng(3).uniform(0.5, 1.5, (RES, RES, 3)).astype(np.float32)
    assert_reverse_equals_forward(scene, t, w, seed=5)


# ---- an area light's own outline ----


def slab_under_light(light_moves, large=False):
    """The camera sees the middle of a slab's top face only, lit by a rectangle light; the slab
    or the light rises. The light's outline moves as seen from the slab, but the change of the
    light it sends is the emitter sample's (area measure, over the light's fixed surface):
    counting the outline's jump in full had doubled the derivative. `large`: a 1x1 light 1 above
    the slab and a sky sharing the light samples, where the MIS weights change with the
    geometry (held fixed, the derivative was 0.96x and 0.86x finite differences)."""
    size, radiance = (0.5, 8.0) if large else (0.1, 200.0)
    scene = {
        "type": "scene",
        "integrator": {"type": "direct_projective"},
        "sensor": {"type": "perspective", "fov": 10, "to_world": T.look_at([0, 2.0, 0.01], [0, 0, 0], [0, 0, 1]),
                   "film": {"type": "hdrfilm", "width": RES, "height": RES, "rfilter": {"type": "box"}}},
        "box": {"type": "cube", "to_world": T.scale([1.0, 0.2, 1.0]), "bsdf": {"type": "diffuse", "reflectance": 0.5}},
        "light": {"type": "rectangle", "to_world": T.translate([0.5, 1.2, 0]).rotate([1, 0, 0], 90).scale(size),
                  "emitter": {"type": "area", "radiance": radiance}},
    }
    if large:
        scene["sky"] = {"type": "constant", "radiance": 1.0}
    key = "light.vertex_positions" if light_moves else KEY
    return tr.load_dict(scene), key


@pytest.mark.parametrize("large", [False, True])
@pytest.mark.parametrize("light_moves", [False, True])
def test_area_light_outline_counts_once(light_moves, large):
    scene, key = slab_under_light(light_moves, large)
    params = tr.traverse(scene)
    t = np.tile([0.0, 1.0, 0.0], len(params[key]) // 3).astype(np.float32)
    fd = finite_differences(scene, params, t, spp=4096, key=key)
    derivative = np.mean([tr.render_forward(scene, params, key, tangent=t, spp=256, seed=s).to_numpy()
                          for s in range(8)], axis=0).astype(np.float64)
    assert_matches_finite_differences(derivative, fd)
    if large:  # the MIS weights' derivative: within 1 % (the 3 % criterion passed 0.96x)
        assert abs(derivative.sum() - fd.sum()) < 0.01 * np.abs(fd).sum(), (derivative.sum(), fd.sum())


def slab_under_analytic_light(kind, emits=True, sky=False):
    """The slab of `slab_under_light`, rising under a large, close analytic light sampled
    uniformly by area: a sphere of radius 0.3 whose bottom is 0.3 above the slab, or a disk of
    radius 0.5 one above it; or under a square plate of side 0.6, 0.4 above it. `emits`: the
    shape is an area light (radiance 8); `sky`: a constant sky (radiance 1) lights the scene."""
    shapes = {
        "sphere": {"type": "sphere", "center": [0.3, 0.8, 0.0], "radius": 0.3},
        "disk": {"type": "disk", "to_world": T.translate([0.5, 1.2, 0]).rotate([1, 0, 0], 90).scale(0.5)},
        "plate": {"type": "rectangle", "to_world": T.translate([0.3, 0.6, 0]).rotate([1, 0, 0], 90).scale(0.3)},
    }
    scene = {
        "type": "scene",
        "integrator": {"type": "direct_projective"},
        "sensor": {"type": "perspective", "fov": 10, "to_world": T.look_at([0, 2.0, 0.01], [0, 0, 0], [0, 0, 1]),
                   "film": {"type": "hdrfilm", "width": RES, "height": RES, "rfilter": {"type": "box"}}},
        "box": {"type": "cube", "to_world": T.scale([1.0, 0.2, 1.0]), "bsdf": {"type": "diffuse", "reflectance": 0.5}},
        "light": dict(shapes[kind]),
    }
    if emits:
        scene["light"]["emitter"] = {"type": "area", "radiance": 8.0}
    if sky:
        scene["sky"] = {"type": "constant", "radiance": 1.0}
    return tr.load_dict(scene)


def rising_slab_derivatives(scene):
    """Forward mode (8 x 256 spp) and central finite differences (4,096 spp) of the image as the
    slab rises."""
    params = tr.traverse(scene)
    t = np.tile([0.0, 1.0, 0.0], len(params[KEY]) // 3).astype(np.float32)
    fd = finite_differences(scene, params, t, spp=4096)
    derivative = np.mean([tr.render_forward(scene, params, KEY, tangent=t, spp=256, seed=s).to_numpy()
                          for s in range(8)], axis=0).astype(np.float64)
    return derivative, fd


@pytest.mark.parametrize("kind", ["sphere", "disk"])
def test_mis_weight_derivative_under_an_analytic_light(kind):
    """The MIS weights between a sphere's or disk's light samples and the BSDF's samples move
    with the geometry as under a mesh light, and where a BSDF sample hits the sphere its normal
    turns as the hit point slides. Held fixed, the weights gave 0.47x finite differences under
    the sphere and 0.97x under the disk; with them (and the sphere's shadow rays aimed from
    their offset origin, test_closed_forms) 1.004x and 0.99x."""
    derivative, fd = rising_slab_derivatives(slab_under_analytic_light(kind))
    assert_matches_finite_differences(derivative, fd)
    assert abs(derivative.sum() - fd.sum()) < 0.015 * np.abs(fd).sum(), (derivative.sum(), fd.sum())


@pytest.mark.parametrize("kind, emits", [("sphere", True), ("disk", True), ("sphere", False)])
def test_analytic_outline_in_front_of_a_sky(kind, emits):
    """The slab sees the outline of the sphere or disk above it move across the sky behind it
    (analytic_outlines.py): without that term 1.18x and 1.11x finite differences under the
    lights, 0.13x under the sphere that does not emit; with it 1.002x, 1.006x, 1.01x."""
    derivative, fd = rising_slab_derivatives(slab_under_analytic_light(kind, emits, sky=True))
    assert_matches_finite_differences(derivative, fd)
    assert abs(derivative.sum() - fd.sum()) < 0.02 * np.abs(fd).sum(), (derivative.sum(), fd.sum())


def test_close_edges_in_front_of_a_sky():
    """The slab sees the edges of a plate 0.4 above it move across the sky. The continuation
    rays on either side of an edge are aimed from the slab point's offset origin: aimed from the
    point itself, both passed on the same side of edges this close, and the derivative was
    0.009x finite differences (now 0.98x)."""
    derivative, fd = rising_slab_derivatives(slab_under_analytic_light("plate", emits=False, sky=True))
    assert_matches_finite_differences(derivative, fd)


def test_analytic_light_reverse_mode_equals_forward_mode():
    """The terms of the tests above under the sphere light in front of the sky (its MIS
    weights, its turning normal, its outline) replay exactly in reverse mode."""
    scene = slab_under_analytic_light("sphere", sky=True)
    t = tangents(tr.traverse(scene))["slide"]
    w = np.random.default_rng(3).uniform(0.5, 1.5, (RES, RES, 3)).astype(np.float32)
    assert_reverse_equals_forward(scene, t, w, seed=3)


def test_mis_weight_derivative_on_a_twosided_back_face():
    """A twosided plate seen and lit from its back (the BSDF's flip -1) tilts under a large light
    and a sky: the MIS weights' normal term is taken with respect to the plate's normal, not the
    flipped one (with the flip dropped the derivative was 0.70x finite differences)."""
    scene = tr.load_dict({
        "type": "scene",
        "integrator": {"type": "direct_projective"},
        "sensor": {"type": "perspective", "fov": 10, "to_world": T.look_at([0, 2.0, 0.01], [0, 0, 0], [0, 0, 1]),
                   "film": {"type": "hdrfilm", "width": RES, "height": RES, "rfilter": {"type": "box"}}},
        "plate": {"type": "rectangle", "to_world": T.rotate([1, 0, 0], 90),
                  "bsdf": {"type": "twosided", "bsdf": {"type": "diffuse", "reflectance": 0.5}}},
        "light": {"type": "rectangle", "to_world": T.translate([0.5, 1.0, 0]).rotate([1, 0, 0], 90).scale(0.5),
                  "emitter": {"type": "area", "radiance": 8.0}},
        "sky": {"type": "constant", "radiance": 1.0},
    })
    key = "plate.vertex_positions"
    params = tr.traverse(scene)
    t = np.cross([0.0, 0.0, 1.0], params[key].reshape(-1, 3)).reshape(-1).astype(np.float32)  # tilt
    fd = finite_differences(scene, params, t, spp=4096, key=key)
    derivative = np.mean([tr.render_forward(scene, params, key, tangent=t, spp=256, seed=s).to_numpy()
                          for s in range(8)], axis=0).astype(np.float64)
    assert_matches_finite_differences(derivative, fd)


def test_mis_weight_derivative_reverse_mode_equals_forward_mode():
    """The MIS weights' derivative terms (of the emitter samples and of the emission that BSDF
    samples find, light and sky) replay exactly in reverse mode."""
    scene, _ = slab_under_light(False, large=True)
    t = tangents(tr.traverse(scene))["slide"]
    w = np.random.default_rng(3).uniform(0.5, 1.5, (RES, RES, 3)).astype(np.float32)
    assert_reverse_equals_forward(scene, t, w, seed=3)
