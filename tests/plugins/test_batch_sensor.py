"""The `batch` sensor (Mitsuba 3's BatchSensor: sub-sensors side by side on one film, rendered in
one launch) and the camera placement helpers of `tr.cameras`.

The random numbers of a pixel are keyed by its index within its sub-image, sub-images one after
the other: sub-image 0 of a batch draws exactly the numbers of its sub-sensor rendered alone, so
it equals that render (same seed, box filter); the other sub-images are compared with rotated
batches (each view first once) and, in distribution, with renders of their own.
"""

import numpy as np
import pytest
import taichi as ti

import taichi_render as tr
from taichi_render.core.errors import SceneError

T = tr.ScalarTransform4f
W, H = 16, 12  # one view
EYES = [[0.0, 0.0, 3.9], [0.9, 0.3, 3.6], [-1.0, 0.4, 3.5]]
KEY = "red.reflectance.value"


def view(eye, **extra):
    return {"type": "perspective", "fov": 39.3077, "fov_axis": "smaller",
            "to_world": T.look_at(eye, [0, 0, 0], [0, 1, 0]),
            "film": {"type": "hdrfilm", "width": W, "height": H, "rfilter": {"type": "box"}}, **extra}


def batch_dict(order=(0, 1, 2), rfilter="box", **extra):
    return {"type": "batch", **{f"v{i}": view(EYES[i]) for i in order},
            "film": {"type": "hdrfilm", "width": W * len(order), "height": H, "rfilter": {"type": rfilter}},
            "sampler": {"type": "independent", "sample_count": 4}, **extra}


def cbox(sensor, hide_emitters=False):
    d = tr.cornell_box()
    d["sensor"] = sensor
    d["integrator"] = {"type": "prb", "max_depth": 3, "hide_emitters": hide_emitters}
    return tr.load_dict(d)


def render(scene, sensor=0, spp=4, seed=5):
    return tr.render(scene, sensor=sensor, spp=spp, seed=seed).to_numpy()


# ---- loading, Mitsuba's semantics ----

def test_batch_splits_the_film_among_its_sub_sensors():
    b = tr.load_dict(batch_dict())
    assert b.sub_width == W and len(b.sub_sensors) == 3 and b.sub_names == ["v0", "v1", "v2"]
    # each sub-sensor's film takes the size of its strip (Mitsuba's set_size) ...
    assert [s.film().size() for s in b.sub_sensors] == [(W, H)] * 3
    assert [s.film().crop_size() for s in b.sub_sensors] == [(W, H)] * 3
    # ... and keeps the horizontal fov it had on its own film
    alone = tr.load_dict(view(EYES[1]))
    assert b.sub_sensors[1].fov_x == pytest.approx(alone.fov_x)
    assert b.film().size() == (3 * W, H) and b.sampler().sample_count == 4


def test_sample_ray_as_mitsuba():
    """Mitsuba's test_batch.py: u = (2 i + 1) / (2 n) is the centre of sub-sensor i's image, and
    u * n - i the position across it."""
    b = tr.load_dict(batch_dict(order=(0, 1)))
    for i in range(2):
        _, d = b.sample_ray([(2 * i + 1) / 4, 0.5])
        forward = np.asarray(b.sub_sensors[i].to_world)[:3, 2]
        np.testing.assert_allclose(d, forward, atol=1e-7)
    o, d = b.sample_ray([[0.1, 0.3], [0.7, 0.9]])
    for k, (i, local) in enumerate([(0, [0.2, 0.3]), (1, [0.4, 0.9])]):
        o_ref, d_ref = b.sub_sensors[i].sample_ray(local)
        np.testing.assert_allclose(o[k], o_ref, atol=1e-12)
        np.testing.assert_allclose(d[k], d_ref, atol=1e-12)


def test_parameter_keys_as_mitsuba():
    """Sub-sensors are listed under the batch: by their dict key, else `sensor<i>` (anonymous
    XML children); a batch without id is `BatchSensor`."""
    params = tr.traverse(cbox(batch_dict(order=(0, 1))))
    assert {"sensor.v0.to_world", "sensor.v0.x_fov", "sensor.v1.to_world", "sensor.v1.x_fov"} <= set(params.keys())
    scene = tr.load_string("""<scene version="3.0.0">
        <sensor type="batch">
            <sensor type="perspective"><float name="fov" value="40"/></sensor>
            <sensor type="perspective"><float name="fov" value="50"/></sensor>
            <film type="hdrfilm"><integer name="width" value="32"/><integer name="height" value="16"/></film>
        </sensor>
    </scene>""")
    params = tr.traverse(scene)
    assert {"BatchSensor.sensor0.x_fov", "BatchSensor.sensor1.to_world"} <= set(params.keys())
    assert params["BatchSensor.sensor1.x_fov"][0] == pytest.approx(50.0)


@pytest.mark.parametrize("change, culprit, words", [
    (lambda d: d["film"].update(width=47), "dict key 'sensor.film'", ["47", "divisible", "3"]),
    (lambda d: [d.pop(k) for k in ("v0", "v1", "v2")], "dict key 'sensor'", ["at least one sub-sensor"]),
    (lambda d: d.update(oops={"type": "diffuse"}), "dict key 'sensor.oops'", ["'oops'", "bsdf"]),
    (lambda d: d.update(inner=batch_dict(order=(0,))), "dict key 'sensor.inner'", ["another batch"]),
    (lambda d: d["film"].update(crop_width=8), "dict key 'sensor.film'", ["crop window"]),
])
def test_bad_input_names_the_key(change, culprit, words):
    d = batch_dict()
    change(d)
    with pytest.raises(SceneError) as err:
        tr.load_dict({"type": "scene", "sensor": d})
    message = str(err.value)
    assert culprit in message, message
    for word in words:
        assert word in message, message


# ---- rendering ----

@pytest.mark.parametrize("packets", ["1", "0"])
def test_batch_render_equals_the_views_side_by_side(monkeypatch, packets):
    monkeypatch.setenv("TR_PACKETS", packets)
    scene = cbox(batch_dict())
    batch = render(scene)
    assert batch.shape == (H, 3 * W, 3)
    # sub-image 0 is view 0 rendered alone, sample for sample
    np.testing.assert_array_equal(batch[:, :W], render(scene, scene.sensors()[0].sub_sensors[0]))
    # every view is sub-image 0 of some rotation of the batch: the strips hold the right views
    for first in (1, 2):
        order = [(first + k) % 3 for k in range(3)]
        rotated = cbox(batch_dict(order=order))
        alone = render(rotated, rotated.sensors()[0].sub_sensors[0])
        np.testing.assert_array_equal(render(rotated)[:, :W], alone)


@pytest.mark.parametrize("packets", ["1", "0"])
def test_other_strips_agree_in_distribution(monkeypatch, packets):
    """Strips 1 and 2 draw other random numbers than their views alone: equal means."""
    monkeypatch.setenv("TR_PACKETS", packets)
    scene = cbox(batch_dict(), hide_emitters=True)  # no light edges: a low-variance image
    batch = render(scene, spp=256)
    for i in (1, 2):
        alone = render(scene, scene.sensors()[0].sub_sensors[i], spp=256)
        strip = batch[:, i * W:(i + 1) * W]
        assert abs(strip.mean() - alone.mean()) < 0.02 * alone.mean()
        assert np.abs(strip - alone).mean() < 0.1 * alone.mean()


def test_both_drivers_render_the_same_batch(monkeypatch):
    """The packet driver counts each strip's pixels on their own (whole packets per strip):
    both drivers still draw the same numbers per pixel. A strip width that is not a multiple of
    the 4-pixel tiles checks the padding."""
    d = tr.cornell_box()
    d["sensor"] = {"type": "batch", "a": view(EYES[0]), "b": view(EYES[1]),
                   "film": {"type": "hdrfilm", "width": 2 * 13, "height": 7, "rfilter": {"type": "box"}}}
    scene = tr.load_dict(d)
    images = []
    for packets in ("1", "0"):
        monkeypatch.setenv("TR_PACKETS", packets)
        images.append(render(scene, spp=3))
    np.testing.assert_allclose(images[0], images[1], rtol=1e-5, atol=1e-6)


def test_gaussian_filter_spreads_across_strips_as_mitsuba():
    """One film, one filter: a gaussian (radius 2 pixels) spreads the samples of a strip's edge
    into the next strip's edge pixels; pixels further in are those of the view alone."""
    d = batch_dict(order=(0, 1), rfilter="gaussian")
    for key in ("v0", "v1"):
        d[key]["film"]["rfilter"] = {"type": "gaussian"}
        d[key]["fov"] = 20.0  # the walls up to the edges
    scene = cbox(d)
    batch = render(scene, spp=16)
    alone = render(scene, scene.sensors()[0].sub_sensors[0], spp=16)
    np.testing.assert_allclose(batch[:, : W - 2], alone[:, : W - 2], rtol=1e-5, atol=1e-6)
    assert alone[:, W - 1].sum(-1).min() > 0.01
    assert np.abs(batch[:, W - 1] - alone[:, W - 1]).max() > 0.01 * alone[:, W - 1].max()


def test_camera_parameters_update_the_strip():
    """`params[<batch>.<view>.to_world]` moves that view only."""
    scene = cbox(batch_dict())
    params = tr.traverse(scene)
    before = render(scene)
    params["sensor.v2.to_world"] = params["sensor.v0.to_world"]
    params.update()
    after = render(scene)
    np.testing.assert_array_equal(after[:, :2 * W], before[:, :2 * W])
    assert np.abs(after[:, 2 * W:] - before[:, 2 * W:]).mean() > 1e-3


# ---- derivatives ----

def masked_gradient(scene, params, target, seed=5, seed_grad=6):
    """Gradient of KEY of mse(render, target) under ti.ad.Tape."""
    params.enable_grad([KEY])
    loss = tr.ad.loss_field()
    with ti.ad.Tape(loss=loss):
        image = tr.render(scene, params, spp=4, seed=seed, seed_grad=seed_grad)
        tr.ad.mse(image, target, out=loss)
    return params.grad(KEY).astype(np.float64)


@pytest.mark.parametrize("packets", ["1", "0"])
def test_reverse_mode_gradient_is_the_sum_over_views(monkeypatch, packets):
    monkeypatch.setenv("TR_PACKETS", packets)
    scene = cbox(batch_dict())
    params = tr.traverse(scene)
    image = render(scene)
    target = np.zeros_like(image)
    full = masked_gradient(scene, params, target)
    # the loss of one strip (the others match their target exactly, so add nothing)
    parts = []
    for i in range(3):
        t = image.copy()
        t[:, i * W:(i + 1) * W] = 0.0
        parts.append(masked_gradient(scene, params, t))
    assert np.abs(full).max() > 1e-3
    np.testing.assert_allclose(sum(parts), full, rtol=1e-4, atol=1e-7)
    # strip 0's part is view 0's gradient alone (mse averages over 3x fewer pixels there)
    sub = scene.sensors()[0].sub_sensors[0]
    loss = tr.ad.loss_field()
    with ti.ad.Tape(loss=loss):
        alone = tr.render(scene, params, sensor=sub, spp=4, seed=5, seed_grad=6)
        tr.ad.mse(alone, np.zeros((H, W, 3), np.float32), out=loss)
    np.testing.assert_allclose(3.0 * parts[0], params.grad(KEY), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("packets", ["1", "0"])
def test_forward_mode_image_is_the_views_side_by_side(monkeypatch, packets):
    monkeypatch.setenv("TR_PACKETS", packets)
    scene = cbox(batch_dict())
    params = tr.traverse(scene)
    batch = tr.render_forward(scene, params, KEY, spp=4, seed=5).to_numpy()
    assert batch.shape == (H, 3 * W, 3) and np.abs(batch).max() > 0.0
    sub = scene.sensors()[0].sub_sensors[0]
    alone = tr.render_forward(scene, params, KEY, spp=4, seed=5, sensor=sub).to_numpy()
    np.testing.assert_array_equal(batch[:, :W], alone)
    rotated = cbox(batch_dict(order=(2, 0, 1)))
    rparams = tr.traverse(rotated)
    first = tr.render_forward(rotated, rparams, KEY, spp=4, seed=5).to_numpy()[:, :W]
    alone = tr.render_forward(rotated, rparams, KEY, spp=4, seed=5,
                              sensor=rotated.sensors()[0].sub_sensors[0]).to_numpy()
    np.testing.assert_array_equal(first, alone)


RES = 20  # one view of the box scene


def box_scene():
    """A box before a wall under a constant environment, seen from the front and the side."""
    return tr.load_dict({
        "type": "scene",
        "integrator": {"type": "prb_projective", "max_depth": 2},
        "sensor": {"type": "batch",
                   "front": {"type": "perspective", "fov": 40, "to_world": T.look_at([0, 0, 4], [0, 0, 0], [0, 1, 0])},
                   "side": {"type": "perspective", "fov": 40,
                            "to_world": T.look_at([2.0, 1.0, 3.3], [0, 0, 0], [0, 1, 0])},
                   "film": {"type": "hdrfilm", "width": 2 * RES, "height": RES, "rfilter": {"type": "box"}}},
        "back": {"type": "rectangle", "to_world": T.translate([0, 0, -1]).scale(4),
                 "bsdf": {"type": "diffuse", "reflectance": 0.2}},
        "box": {"type": "cube", "to_world": T.rotate([0, 1, 0], 20).rotate([1, 0, 0], 15).scale(0.5),
                "bsdf": {"type": "diffuse", "reflectance": 0.8}},
        "light": {"type": "constant", "radiance": 1.0},
    })


BOX = "box.vertex_positions"


def slide(params):
    return np.tile([1.0, 0.3, 0.0], len(params[BOX]) // 3).astype(np.float32)


def test_shape_derivatives_across_silhouettes_of_every_view():
    """prb_projective with a batch: each view's boundary terms (its silhouettes, projected by its
    camera and clipped to its strip, and the shadows its paths see) give the derivative image
    of the view rendered alone, in distribution (the edge samples are spread over all views)."""
    scene = box_scene()
    params = tr.traverse(scene)
    t = slide(params)

    def derivative(sensor):
        return np.mean([tr.render_forward(scene, params, BOX, tangent=t, spp=64, seed=s, sensor=sensor).to_numpy()
                        for s in range(2)], axis=0).astype(np.float64)

    def blocks(image):
        return image.sum(-1).reshape(RES // 4, 4, RES // 4, 4).sum((1, 3))

    batch = derivative(0)
    for i, sub in enumerate(scene.sensors()[0].sub_sensors):
        alone, strip = derivative(sub), batch[:, i * RES:(i + 1) * RES]
        total = np.abs(alone).sum()
        assert total > 50.0  # the silhouettes move
        assert abs(strip.sum() - alone.sum()) < 0.03 * total, (i, strip.sum(), alone.sum(), total)
        error = np.abs(blocks(strip) - blocks(alone)).sum() / np.abs(blocks(alone)).sum()
        assert error < 0.12, (i, error)


@pytest.mark.parametrize("packets", ["1", "0"])
def test_shape_reverse_mode_equals_forward_mode(monkeypatch, packets):
    """With seed_grad = seed the adjoint replays the forward samples, edge samples included
    (tests/ad/test_visibility_gradients.py, here on a batch)."""
    monkeypatch.setenv("TR_PACKETS", packets)
    scene = box_scene()
    params = tr.traverse(scene)
    t = slide(params)
    w = np.random.default_rng(1).uniform(0.5, 1.5, (RES, 2 * RES, 3)).astype(np.float32)
    params.enable_grad([BOX])
    loss = tr.ad.loss_field()
    with ti.ad.Tape(loss=loss):
        image = tr.render(scene, params, spp=16, seed=3, seed_grad=3)
        tr.ad.mse(image, image.to_numpy() - 0.5 * w, out=loss)  # d loss / d image = w / n
    reverse = float(np.sum(params.grad(BOX) * t))
    derivative = tr.render_forward(scene, params, BOX, tangent=t, spp=16, seed=3).to_numpy()
    forward = float(np.sum(w * derivative) / w.size)
    assert abs(forward) > 1e-3
    np.testing.assert_allclose(reverse, forward, rtol=2e-3)


# ---- torch ----

def test_torch_render_and_render_layer_take_the_sensor():
    torch = pytest.importorskip("torch")
    import taichi_render.torch as trt

    d = tr.cornell_box()
    d["sensor"] = batch_dict()
    d["alone"] = view(EYES[1])  # a second sensor of the scene
    d["integrator"] = {"type": "prb", "max_depth": 3}
    scene = tr.load_dict(d)
    params = tr.traverse(scene)
    value = torch.tensor(params[KEY], requires_grad=True)
    image = trt.render(scene, params, spp=4, seed=5, sensor=0, **{KEY: value})
    assert image.shape == (H, 3 * W, 3)
    np.testing.assert_array_equal(image.detach().numpy(), render(scene))
    loss = (image ** 2).mean()
    loss.backward()
    params.enable_grad([KEY])
    native = tr.ad.loss_field()
    with ti.ad.Tape(loss=native):
        tr.ad.mse(tr.render(scene, params, spp=4, seed=5), np.zeros((H, 3 * W, 3), np.float32), out=native)
    np.testing.assert_allclose(value.grad.numpy(), params.grad(KEY), rtol=1e-4, atol=1e-7)

    layer = trt.RenderLayer(scene, [KEY], spp=4, seed=5)
    assert layer(**{KEY: value}).shape == (H, 3 * W, 3)
    single = layer(**{KEY: value}, sensor=1)
    assert single.shape == (H, W, 3)
    np.testing.assert_array_equal(single.detach().numpy(), render(scene, 1))


# ---- tr.cameras ----

def test_fibonacci_sphere_places_cameras_around_the_center():
    center = np.array([0.3, -0.2, 1.0])
    views = tr.cameras.fibonacci_sphere(8, center=center, radius=2.5, fov=30, res=(12, 10), spp=3)
    assert len(views) == 8
    eyes, dirs = [], []
    for v in views:
        sensor = tr.load_dict(v)
        m = np.asarray(sensor.to_world)
        eye, forward = m[:3, 3], m[:3, 2]
        assert np.linalg.norm(eye - center) == pytest.approx(2.5)
        np.testing.assert_allclose(forward, (center - eye) / 2.5, atol=1e-9)  # looks at the center
        assert sensor.fov_x == 30 and sensor.film().size() == (12, 10) and sensor.sampler().sample_count == 3
        eyes.append(eye)
        dirs.append((eye - center) / 2.5)
    dirs = np.array(dirs)
    assert np.linalg.norm(dirs.mean(axis=0)) < 0.1  # spread around the sphere
    cos = dirs @ dirs.T
    assert np.max(cos[~np.eye(8, dtype=bool)]) < 0.9  # distinct, none close to another
    assert abs(dirs[:, 1].mean()) < 1e-12  # heights along `up` average to zero
    many = np.array([np.asarray(tr.load_dict(v).to_world)[:3, 3] for v in tr.cameras.fibonacci_sphere(200)])
    assert np.linalg.norm(many.mean(axis=0)) < 0.02
    with pytest.raises(ValueError):
        tr.cameras.fibonacci_sphere(0)


def test_cameras_batch_renders_every_view():
    views = tr.cameras.fibonacci_sphere(4, center=[0, 0, 0], radius=3.5, fov=45, res=(W, H), spp=2)
    sensor = tr.cameras.batch(views)
    assert sensor["film"]["width"] == 4 * W and sensor["sampler"]["sample_count"] == 2
    d = tr.cornell_box()
    d["sensor"] = sensor
    scene = tr.load_dict(d)
    image = tr.render(scene).to_numpy()
    assert image.shape == (H, 4 * W, 3)
    # strip 0 is the first view alone
    np.testing.assert_array_equal(image[:, :W], tr.render(scene, sensor=scene.sensors()[0].sub_sensors[0],
                                                           spp=2).to_numpy())
    assert {f"sensor.sensor_{i}.to_world" for i in range(4)} <= set(tr.traverse(scene).keys())
