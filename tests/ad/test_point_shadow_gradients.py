"""Point-light shadows (render/boundary/point_shadow_edges.py): a box out of view, lit by a point light,
casts a hard shadow on a diffuse floor in view; the box slides and spins, and every derivative
of the image comes from the moving shadow boundary. Criteria of test_visibility_gradients.py
(the shape-optimization issue) against central finite differences, in forward and reverse mode.
"""

import numpy as np
import pytest
import taichi as ti
from test_visibility_gradients import (
    KEY,
    RES,
    T,
    assert_matches_finite_differences,
    assert_torch_gradient_equals_native,
    blocks,
    finite_differences,
    forward_mean,
    tangents,
)

import taichi_render as tr

FD_SPP = 4096


def point_shadow_scene(integrator):
    """A floor seen from above and a small box between it and a point light, out of view."""
    return tr.load_dict(scene_dict(integrator))


def scene_dict(integrator=None, light_at=(1.5, 3.0, 0.0)):
    return {
        "type": "scene",
        "integrator": integrator or {"type": "direct_projective"},
        "sensor": {"type": "perspective", "fov": 30, "to_world": T.look_at([0, 2, 0.01], [0, 0, 0], [0, 0, 1]),
                   "film": {"type": "hdrfilm", "width": RES, "height": RES, "rfilter": {"type": "box"}}},
        "floor": {"type": "rectangle", "to_world": T.rotate([1, 0, 0], -90).scale(3),
                  "bsdf": {"type": "diffuse", "reflectance": 0.7}},
        "box": {"type": "cube", "to_world": T.translate([0.7, 1.2, 0.0]).scale(0.15),
                "bsdf": {"type": "diffuse", "reflectance": 0.5}},
        "light": {"type": "point", "position": list(light_at), "intensity": 60.0},
    }


def reverse_directional(scene, params, t, w, spp, seed, seed_grad=None, key=KEY):
    """grad(sum(w * image)) . t by reverse mode, along the tangent t of `key`."""
    params.enable_grad([key])
    loss = tr.ad.loss_field()
    with ti.ad.Tape(loss=loss):
        image = tr.render(scene, params, spp=spp, seed=seed, seed_grad=seed_grad)
        # mse against image - w / 2: the gradient of the loss is w / n
        tr.ad.mse(image, image.to_numpy() - 0.5 * w, out=loss)
    return float(np.sum(params.grad(key) * t)) * w.size


def assert_reverse_equals_forward_along(scene, params, t, seed, w_seed, key=KEY):
    """With seed_grad = seed, reverse mode replays forward mode's samples: grad(sum(w * image)) . t
    equals sum(w * d image / d t) along the tangent t of `key` (w drawn with `w_seed`), and the
    derivative is not negligible."""
    w = np.random.default_rng(w_seed).uniform(0.5, 1.5, (RES, RES, 3)).astype(np.float32)
    reverse = reverse_directional(scene, params, t, w, 16, seed, seed_grad=seed, key=key)
    forward = float(np.sum(w * tr.render_forward(scene, params, key, tangent=t, spp=16, seed=seed).to_numpy()))
    assert abs(forward) > 1.0
    np.testing.assert_allclose(reverse, forward, rtol=2e-3)


@pytest.fixture(scope="module")
def finite_difference_images():
    scene = point_shadow_scene({"type": "direct_projective"})
    params = tr.traverse(scene)
    return {motion: finite_differences(scene, params, tangents(params)[motion], spp=FD_SPP)
            for motion in ("slide", "spin")}


@pytest.mark.parametrize("motion", ["slide", "spin"])
@pytest.mark.parametrize("integrator", [{"type": "direct_projective"}, {"type": "prb_projective", "max_depth": 3}])
def test_forward_mode_matches_finite_differences(finite_difference_images, motion, integrator):
    """direct_projective's finite differences serve prb_projective too: the shadow's edge
    moves the same, and light bouncing off the box adds a smooth, small part."""
    scene = point_shadow_scene(integrator)
    params = tr.traverse(scene)
    fd = finite_difference_images[motion]
    derivative = forward_mean(scene, params, tangents(params)[motion], 64, range(4))
    assert_matches_finite_differences(derivative, fd)


@pytest.mark.parametrize("motion", ["slide", "spin"])
def test_reverse_mode_matches_finite_differences(finite_difference_images, motion):
    scene = point_shadow_scene({"type": "direct_projective"})
    params = tr.traverse(scene)
    t = tangents(params)[motion]
    fd = finite_difference_images[motion]
    rng = np.random.default_rng(4)
    for w in (np.ones((RES, RES, 3), np.float32), rng.uniform(0.2, 1.8, (RES, RES, 3)).astype(np.float32)):
        reverse = np.mean([reverse_directional(scene, params, t, w, 64, s) for s in range(2)])
        expected = float(np.sum(w * fd))
        assert abs(reverse - expected) < 0.03 * np.abs(w * fd).sum(), (reverse, expected, np.abs(w * fd).sum())


@pytest.mark.parametrize("packets", ["1", "0"])
def test_reverse_mode_equals_forward_mode(monkeypatch, packets):
    """With seed_grad = seed, reverse mode replays the forward pass's samples (both drivers)."""
    monkeypatch.setenv("TR_PACKETS", packets)
    scene = point_shadow_scene({"type": "prb_projective", "max_depth": 3})
    params = tr.traverse(scene)
    t = tangents(params)["spin"]
    assert_reverse_equals_forward_along(scene, params, t, seed=4, w_seed=2, key=KEY)


def test_each_light_counts_once():
    """The box standing still (zero tangent) moves nothing; under a point light and a rectangle
    light together, the point light's shadow is this term's and the rectangle's the indirect
    term's: the sum matches finite differences (counting either twice would not)."""
    scene = point_shadow_scene({"type": "direct_projective"})
    params = tr.traverse(scene)
    still = np.zeros_like(params[KEY])
    assert np.abs(tr.render_forward(scene, params, KEY, tangent=still, spp=8).to_numpy()).max() == 0.0
    # test_visibility_gradients.shadow_scene's rectangle light, and the point light beside it
    area = {"type": "rectangle", "to_world": T.translate([1.5, 3, 0]).rotate([1, 0, 0], 90).scale(0.3),
            "emitter": {"type": "area", "radiance": 30.0}}
    point_only = tr.load_dict(scene_dict(light_at=(1.75, 3.0, 0.45)))
    both = tr.load_dict({**scene_dict(light_at=(1.75, 3.0, 0.45)), "area": area})
    both_params = tr.traverse(both)
    t = tangents(both_params)["slide"]
    fd = finite_differences(both, both_params, t, spp=FD_SPP)
    fd_point = finite_differences(point_only, tr.traverse(point_only), t, spp=FD_SPP)
    assert np.abs(fd - fd_point).sum() > 0.1 * np.abs(fd_point).sum()  # the second shadow counts
    assert_matches_finite_differences(forward_mean(both, both_params, t, 256, range(8)), fd)


# ---- a static occluder's shadow on a moving receiver ----

FLOOR = "floor.vertex_positions"


def lifted_floor_scene(integrator):
    """The floor is the moving mesh (lifted along its normal, its edges out of view) and a static
    pole casts the shadow: the boundary moves only because the receiver does."""
    return tr.load_dict({
        **scene_dict(integrator, light_at=(0.6, 2.4, 0.0)),
        "box": {"type": "cube", "to_world": T.translate([0.27, 0.8, 0.05]).scale([0.08, 0.08, 0.4]),
                "bsdf": {"type": "diffuse", "reflectance": 0.5}},
    })


def lift(params):
    return np.tile([0.0, 1.0, 0.0], len(params[FLOOR]) // 3).astype(np.float32)


def test_static_shadow_on_moving_receiver_matches_finite_differences():
    """Without the receiver's motion (static edges, -σN · y'/λ) the 4x4 blocks were 65 % off."""
    scene = lifted_floor_scene({"type": "direct_projective"})
    params = tr.traverse(scene)
    t = lift(params)
    fd = finite_differences(scene, params, t, spp=FD_SPP, key=FLOOR)
    derivative = forward_mean(scene, params, t, 256, range(8), key=FLOOR)
    assert_matches_finite_differences(derivative, fd)


def test_moving_receiver_reverse_mode_equals_forward_mode():
    scene = lifted_floor_scene({"type": "direct_projective"})
    params = tr.traverse(scene)
    t = lift(params)
    assert_reverse_equals_forward_along(scene, params, t, seed=6, w_seed=5, key=FLOOR)


# ---- point-light shadows seen after a bounce ----


def plate_scene(max_depth=3):
    """A moving plate ("box") under a point light shadows the wall the camera sees and the floor,
    which the wall reflects: the floor's shadow reaches the image after a bounce. The camera
    sees neither the plate nor the floor, and from the wall the plate's dark underside stands
    against the dark sky (its silhouette adds nothing)."""
    return tr.load_dict(plate_dict(max_depth))


def plate_dict(max_depth=3):
    """plate_scene's description."""
    return {
        "type": "scene",
        "integrator": {"type": "prb_projective", "max_depth": max_depth},
        "sensor": {"type": "perspective", "fov": 12, "to_world": T.look_at([0, 0.5, 3], [0, 0.5, -1], [0, 1, 0]),
                   "film": {"type": "hdrfilm", "width": RES, "height": RES, "rfilter": {"type": "box"}}},
        "floor": {"type": "rectangle", "to_world": T.rotate([1, 0, 0], -90).scale(3),
                  "bsdf": {"type": "diffuse", "reflectance": 0.8}},
        "back": {"type": "rectangle", "to_world": T.translate([0, 1.5, -1]).scale(1.5),
                 "bsdf": {"type": "diffuse", "reflectance": 0.8}},
        "box": {"type": "rectangle", "to_world": T.translate([0.1, 1.2, -0.5]).rotate([1, 0, 0], 90).scale(0.3),
                "bsdf": {"type": "diffuse", "reflectance": 0.5}},
        "light": {"type": "point", "position": [0.0, 3.0, 0.0], "intensity": 60.0},
    }


@pytest.mark.parametrize("motion", ["slide", "spin"])
def test_shadow_seen_after_a_bounce_matches_finite_differences(motion):
    """Without the bounced term the image sum was 13.3 % (slide) and 6.3 % (spin) of the total off."""
    scene = plate_scene()
    params = tr.traverse(scene)
    t = tangents(params)[motion]
    fd = finite_differences(scene, params, t, spp=FD_SPP)
    assert_matches_finite_differences(forward_mean(scene, params, t, 256, range(8)), fd)


def test_shadow_seen_after_a_bounce_reverse_mode_equals_forward_mode():
    scene = plate_scene(max_depth=4)
    params = tr.traverse(scene)
    t = tangents(params)["spin"]
    assert_reverse_equals_forward_along(scene, params, t, seed=8, w_seed=7, key=KEY)


# ---- a static occluder's shadow seen after a bounce ----

# the receiver (the floor) lifts: the static plate's shadow on it moves; the wall, where the camera
# paths' first vertices lie, comes closer: the static shadow moves as seen from it
WALL = "back.vertex_positions"
STATIC_SHADOW_MOTIONS = {FLOOR: [0.0, 1.0, 0.0], WALL: [0.0, 0.0, 1.0]}


def along(params, key):
    return np.tile(STATIC_SHADOW_MOTIONS[key], len(params[key]) // 3).astype(np.float32)


@pytest.mark.parametrize("key", list(STATIC_SHADOW_MOTIONS))
def test_static_shadow_seen_after_a_bounce_matches_finite_differences(key):
    """The plate stays put and so does the light. Without the static edges' bounced term the
    image sum was 160 % (floor) and 6.5 % (wall) of the total off. The floor's derivative is
    mostly the shadow's (finite differences at 4096 spp varied by 2 % of the total between
    seeds): more samples on both sides."""
    scene = plate_scene()
    params = tr.traverse(scene)
    t = along(params, key)
    fd = finite_differences(scene, params, t, spp=2 * FD_SPP, key=key)
    derivative = forward_mean(scene, params, t, 256, range(24), key=key)
    assert_matches_finite_differences(derivative, fd)


def test_static_shadow_seen_after_a_bounce_reverse_mode_equals_forward_mode():
    scene = plate_scene()
    params = tr.traverse(scene)
    t = along(params, FLOOR)
    assert_reverse_equals_forward_along(scene, params, t, seed=10, w_seed=9, key=FLOOR)


# ---- the light moves ----

LIGHT = "light.position"
LIGHT_MOTION = np.array([1.0, 0.0, 0.5], np.float32)


@pytest.mark.parametrize("receiver", ["rectangle", "sphere"])
def test_light_position_interior_term_matches_finite_differences(receiver):
    """No occluder: the image changes smoothly as the light moves, and prb's interior term (the
    next-event factor cos_x / r² through p - x) is the whole derivative, on a triangle mesh and
    on an analytic sphere (where the term was missing: a zero derivative)."""
    plain = scene_dict({"type": "prb"})
    del plain["box"]
    if receiver == "sphere":
        plain["floor"] = {"type": "sphere", "center": [0.0, 0.0, 0.0], "radius": 0.4,
                          "bsdf": {"type": "diffuse", "reflectance": 0.7}}
    scene = tr.load_dict(plain)
    params = tr.traverse(scene)
    fd = finite_differences(scene, params, LIGHT_MOTION, spp=64, key=LIGHT)
    derivative = tr.render_forward(scene, params, LIGHT, tangent=LIGHT_MOTION, spp=64).to_numpy()
    assert np.abs(fd).sum() > 100.0
    np.testing.assert_allclose(derivative.sum(), fd.sum(), rtol=1e-3)
    np.testing.assert_allclose(blocks(derivative), blocks(fd), rtol=0.01, atol=0.01 * np.abs(blocks(fd)).max())
    # reverse mode: the same samples (seed_grad = seed) give the same directional derivative
    w = np.random.default_rng(3).uniform(0.5, 1.5, (RES, RES, 3)).astype(np.float32)
    reverse = reverse_directional(scene, params, LIGHT_MOTION, w, 16, 4, seed_grad=4, key=LIGHT)
    forward = float(np.sum(w * tr.render_forward(scene, params, LIGHT, tangent=LIGHT_MOTION, spp=16,
                                                 seed=4).to_numpy()))
    np.testing.assert_allclose(reverse, forward, rtol=2e-3)


@pytest.mark.parametrize("scene_of", ["camera_sees_shadow", "shadow_after_a_bounce"])
def test_moving_light_matches_finite_differences(scene_of):
    """The box's (static) shadow moves with the light: where the camera sees it
    (direct_projective; prb's interior term alone was 31 % of the total off as the light rose)
    and on the floor the wall reflects (prb_projective, the bounced term under a moving light)."""
    if scene_of == "camera_sees_shadow":
        scene = point_shadow_scene({"type": "direct_projective"})
    else:
        scene = plate_scene()
    params = tr.traverse(scene)
    fd = finite_differences(scene, params, LIGHT_MOTION, spp=FD_SPP, key=LIGHT)
    derivative = forward_mean(scene, params, LIGHT_MOTION, 256, range(8), key=LIGHT)
    assert_matches_finite_differences(derivative, fd)


def test_moving_light_reverse_mode_equals_forward_mode():
    """The light's gradient by reverse mode replays forward mode's samples; with the floor's
    vertices differentiated too, the static pole's shadow is drawn in the second stream (all
    edges), and the light's gradient still agrees within the two sample sets' noise."""
    scene = lifted_floor_scene({"type": "prb_projective", "max_depth": 3})
    params = tr.traverse(scene)
    w = np.random.default_rng(5).uniform(0.5, 1.5, (RES, RES, 3)).astype(np.float32)
    forward = float(np.sum(w * tr.render_forward(scene, params, LIGHT, tangent=LIGHT_MOTION, spp=16,
                                                 seed=6).to_numpy()))
    assert abs(forward) > 100.0
    reverse = reverse_directional(scene, params, LIGHT_MOTION, w, 16, 6, seed_grad=6, key=LIGHT)
    np.testing.assert_allclose(reverse, forward, rtol=2e-3)
    params.enable_grad([FLOOR])
    both = reverse_directional(scene, params, LIGHT_MOTION, w, 16, 6, seed_grad=6, key=LIGHT)
    np.testing.assert_allclose(both, forward, rtol=0.02)


def test_light_position_through_the_torch_bridge():
    assert_torch_gradient_equals_native(point_shadow_scene({"type": "direct_projective"}), LIGHT)


# ---- the shadows of spheres and disks ----

OCCLUDERS = {
    # out of view, between the light and the floor the camera sees (as the box above)
    "sphere": {"type": "sphere", "center": [0.7, 1.2, 0.0], "radius": 0.15},
    "disk": {"type": "disk", "to_world": T.translate([0.7, 1.2, 0.0]).rotate([1, 0, 0], 70).scale(0.18)},
}


def analytic_occluder_scene(kind, integrator=None):
    """point_shadow_scene with a static sphere or disk in place of the box."""
    return tr.load_dict({**scene_dict(integrator),
                         "box": {**OCCLUDERS[kind], "bsdf": {"type": "diffuse", "reflectance": 0.5}}})


def sphere_over_wall_scene():
    """plate_scene with a static sphere in place of the plate: its shadow falls on the wall the
    camera sees and on the floor the wall reflects."""
    sphere = {"type": "sphere", "center": [0.1, 1.2, -0.5], "radius": 0.25,
              "bsdf": {"type": "diffuse", "reflectance": 0.5}}
    return tr.load_dict({**plate_dict(), "box": sphere})


@pytest.mark.parametrize("kind, key, tangent", [
    ("sphere", FLOOR, "lift"),  # the receiver moves: its image sum was 12.3 % of the total off
    ("sphere", LIGHT, "light"),  # the grazing circle moves with the light: blocks 74 % off
    ("disk", LIGHT, "light"),  # the light moves: 7.3 % off, the 4x4 blocks 80 %
])
def test_analytic_occluder_shadow_matches_finite_differences(kind, key, tangent):
    """The shadow of a static sphere or disk under a point light moves on the floor as the floor
    rises or the light moves: the outline stream of point_shadow_edges.py."""
    scene = analytic_occluder_scene(kind)
    params = tr.traverse(scene)
    t = lift(params) if tangent == "lift" else LIGHT_MOTION
    fd = finite_differences(scene, params, t, spp=FD_SPP, key=key)
    derivative = forward_mean(scene, params, t, 256, range(8), key=key)
    assert_matches_finite_differences(derivative, fd)


@pytest.mark.parametrize("key", [WALL, LIGHT])
def test_analytic_occluder_shadow_seen_after_a_bounce_matches_finite_differences(key):
    """The wall comes closer: the sphere's static shadow moves on it (the camera sees it) and as
    seen from it on the floor (after a bounce); or the light moves, and the shadows with it.
    Without the outline streams the image sum was 74 % (wall) and 66 % (light) of the total off."""
    scene = sphere_over_wall_scene()
    params = tr.traverse(scene)
    t = along(params, WALL) if key == WALL else LIGHT_MOTION
    fd = finite_differences(scene, params, t, spp=FD_SPP, key=key)
    derivative = forward_mean(scene, params, t, 256, range(8), key=key)
    assert_matches_finite_differences(derivative, fd)


def test_analytic_occluder_shadow_reverse_mode_equals_forward_mode():
    """Both outline streams' adjoints (the shadow on the moving wall, and the floor's seen from it)
    replay forward mode's samples."""
    scene = sphere_over_wall_scene()
    params = tr.traverse(scene)
    t = along(params, WALL)
    assert_reverse_equals_forward_along(scene, params, t, seed=12, w_seed=11, key=WALL)


def test_analytic_occluder_shadow_in_a_scene_without_meshes():
    """A sphere's shadow on a disk floor under a moving light: no triangle at all, so no edge
    table (the point-shadow launches were skipped with it: the 4x4 blocks were 74 % off)."""
    floor = {"type": "disk", "to_world": T.rotate([1, 0, 0], -90).scale(3),
             "bsdf": {"type": "diffuse", "reflectance": 0.7}}
    scene = tr.load_dict({**scene_dict(), "floor": floor,
                          "box": {**OCCLUDERS["sphere"], "bsdf": {"type": "diffuse", "reflectance": 0.5}}})
    params = tr.traverse(scene)
    fd = finite_differences(scene, params, LIGHT_MOTION, spp=FD_SPP, key=LIGHT)
    derivative = forward_mean(scene, params, LIGHT_MOTION, 256, range(8), key=LIGHT)
    assert_matches_finite_differences(derivative, fd)
