"""tr.traverse / SceneParameters: Mitsuba key names, reads, validated writes, and updates that
render exactly like a freshly loaded scene with the new values."""

import numpy as np
import pytest

import taichi_render as tr
from taichi_render.ad import traverse
from taichi_render.core.transform import ScalarTransform4f
from taichi_render.render.state import render_state
from taichi_render.shapes.cube import POSITIONS as CUBE_POSITIONS
from taichi_render.shapes.mesh import transform_points

TEXTURE_KEY = "textured_plane.bsdf.brdf_0.reflectance.data"


def cbox_dict(res=16):
    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = res
    return d


def cbox(res=16):
    return tr.load_dict(cbox_dict(res))


def glass_sphere(scenes_dir, text=None):
    if text is not None:
        return tr.load_string(text, base_dir=scenes_dir, res=16)
    return tr.load_file(scenes_dir / "glass_sphere.xml", res=16)


def render(scene, params=None):
    return tr.render(scene, params=params, spp=2, seed=0).to_numpy().copy()


def left_green(img):
    """Mean green of the left columns (the red wall of the Cornell box)."""
    return float(img[:, : img.shape[1] // 4, 1].mean())


# ---- key names ----
def test_cornell_box_keys():
    params = traverse(cbox())
    for key in (
        "red.reflectance.value",
        "green.reflectance.value",
        "white.reflectance.value",
        "light.emitter.radiance.value",
        "light.vertex_positions",
        "light.vertex_normals",
        "light.vertex_texcoords",
        "light.faces",
        "floor.vertex_positions",
        "small-box.vertex_positions",
        "sensor.to_world",
        "sensor.x_fov",
    ):
        assert key in params, key
    # a BSDF referenced by id from several shapes is listed once, under its id
    assert not any(k.startswith(("floor.bsdf", "light.bsdf")) for k in params)
    assert sum(k.endswith("reflectance.value") for k in params) == 3
    assert params["small-box.vertex_positions"].shape == (24 * 3,)
    assert params["small-box.vertex_texcoords"].shape == (24 * 2,)
    assert params["small-box.faces"].shape == (12 * 3,)
    assert params["small-box.faces"].dtype == np.int32
    assert params["red.reflectance.value"].dtype == np.float32
    np.testing.assert_allclose(
        params["red.reflectance.value"], [0.570068, 0.0430135, 0.0443706], rtol=1e-6
    )
    np.testing.assert_allclose(
        params["light.emitter.radiance.value"], [18.387, 13.9873, 6.75357], rtol=1e-6
    )
    assert params["sensor.to_world"].shape == (4, 4)


def test_glass_sphere_keys(scenes_dir):
    params = traverse(glass_sphere(scenes_dir))
    tex = params[TEXTURE_KEY]
    assert tex.shape == (64, 64, 3) and tex.dtype == np.float32
    assert params.is_differentiable(TEXTURE_KEY)
    np.testing.assert_allclose(params["glass_sphere.bsdf.int_ior"], [1.06], rtol=1e-6)
    assert not params.is_differentiable("glass_sphere.bsdf.int_ior")
    assert "glass_sphere.bsdf.ext_ior" in params and "glass_sphere.bsdf.eta" in params
    assert "light.radiance.value" in params  # constant emitter
    # the sensor has no id: Mitsuba names it by its class
    np.testing.assert_allclose(params["PerspectiveCamera.x_fov"], [60.0], rtol=1e-6)


def test_str_marks_differentiable_keys():
    params = traverse(cbox())
    text = str(params)
    assert text == repr(params)
    lines = {}
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "*":
            lines[fields[1]] = True
        elif fields and fields[0] in params:
            lines[fields[0]] = False
    assert set(lines) == set(params.keys())
    for key, starred in lines.items():
        assert starred == params.is_differentiable(key), key
    assert lines["red.reflectance.value"] and lines["floor.vertex_positions"]
    assert (
        not lines["floor.faces"] and not lines["sensor.x_fov"] and not lines["floor.vertex_normals"]
    )


def test_mapping_protocol():
    params = traverse(cbox())
    keys = list(params)
    assert len(params) == len(keys) == len(set(keys)) > 0
    assert list(params.keys()) == keys
    items = dict(params.items())
    assert list(items) == keys
    np.testing.assert_array_equal(items["red.reflectance.value"], params["red.reflectance.value"])
    assert "red.reflectance.value" in params and "nope.value" not in params
    with pytest.raises(KeyError, match="nope.value"):
        params["nope.value"]
    with pytest.raises(KeyError, match="nope.value"):
        params.is_differentiable("nope.value")


# ---- reads are copies ----
def test_getitem_returns_a_copy(scenes_dir):
    scene = cbox()
    params = traverse(scene)
    before = render(scene)
    for key in ("red.reflectance.value", "small-box.vertex_positions", "small-box.faces"):
        original = params[key]
        value = params[key]
        value[...] = 0
        np.testing.assert_array_equal(params[key], original)
    assert params.update() == set()
    np.testing.assert_array_equal(render(scene), before)

    params = traverse(glass_sphere(scenes_dir))
    original = params[TEXTURE_KEY]
    params[TEXTURE_KEY][...] = 5.0
    np.testing.assert_array_equal(params[TEXTURE_KEY], original)


# ---- validation: every failure leaves the value, the staging and the image unchanged ----
ERROR_CASES = [
    ("nope.reflectance.value", [0.1, 0.2, 0.3], KeyError),
    ("red.reflectance.value", [0.1, 0.2], ValueError),  # wrong shape
    ("red.reflectance.value", [[0.1, 0.2, 0.3]], ValueError),  # wrong shape
    ("red.reflectance.value", [0.1, np.nan, 0.3], ValueError),
    ("red.reflectance.value", [0.1, np.inf, 0.3], ValueError),
    ("red.reflectance.value", [0.1, 1e300, 0.3], ValueError),  # inf once cast to float32
    ("red.reflectance.value", [[0.1, 0.2], [0.3]], ValueError),  # ragged
    ("red.reflectance.value", "red", TypeError),
    ("red.reflectance.value", ["a", "b", "c"], TypeError),
    ("red.reflectance.value", [object(), object(), object()], TypeError),
    ("red.reflectance.value", np.array([1 + 1j, 0, 0]), TypeError),
    ("red.reflectance.value", None, TypeError),
    ("small-box.vertex_positions", np.zeros(70, np.float32), ValueError),
    ("small-box.faces", np.full(36, 99), ValueError),  # index out of range
    ("small-box.faces", np.full(36, 0.5), ValueError),  # not integral
    ("sensor.to_world", np.eye(4) * 2.0, ValueError),  # scale in a camera transform
    ("sensor.x_fov", 190.0, ValueError),
]


@pytest.mark.parametrize(
    "key,value,error", ERROR_CASES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(ERROR_CASES)]
)
def test_invalid_writes_change_nothing(key, value, error):
    scene = cbox()
    params = traverse(scene)
    before = render(scene)
    data = render_state(scene).data
    old = params.get(key, None)
    with pytest.raises(error) as info:
        params[key] = value
    assert key in str(info.value)
    assert params.staged() == set()
    if old is not None:
        np.testing.assert_array_equal(params[key], old)
    assert params.update() == set()
    assert render_state(scene).data is data
    np.testing.assert_array_equal(render(scene, params), before)


def test_invalid_write_keeps_the_earlier_staged_value():
    scene = cbox()
    params = traverse(scene)
    params["red.reflectance.value"] = [0.2, 0.3, 0.4]
    with pytest.raises(ValueError):
        params["red.reflectance.value"] = [0.2, np.nan, 0.4]
    np.testing.assert_array_equal(params["red.reflectance.value"], np.float32([0.2, 0.3, 0.4]))
    with pytest.raises(ValueError):  # update(values) is all or nothing
        params.update(
            {"green.reflectance.value": [0.5, 0.5, 0.5], "white.reflectance.value": [1, 2]}
        )
    assert params.staged() == {"red.reflectance.value"}
    assert params.update() == {"red.reflectance.value"}


def test_bitmap_rejects_other_channel_counts(scenes_dir):
    scene = glass_sphere(scenes_dir)
    params = traverse(scene)
    for bad in (
        np.zeros((64, 64, 1)),
        np.zeros((64, 64)),
        np.zeros((0, 64, 3)),
        np.zeros((64, 64, 4)),
    ):
        with pytest.raises(ValueError, match="reflectance.data"):
            params[TEXTURE_KEY] = bad
    with pytest.raises(ValueError, match="int_ior"):
        params["glass_sphere.bsdf.int_ior"] = -1.0
    assert params.staged() == set()


# ---- accepted inputs ----
def test_torch_tensor_input():
    torch = pytest.importorskip("torch")
    params = traverse(cbox())
    t = torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64, requires_grad=True)
    params["red.reflectance.value"] = t * 1.0  # a non-leaf tensor with a grad_fn
    value = params["red.reflectance.value"]
    assert value.dtype == np.float32
    np.testing.assert_array_equal(value, np.float32([0.25, 0.5, 0.75]))
    params["small-box.vertex_positions"] = torch.from_numpy(
        params["small-box.vertex_positions"]
    ).reshape(-1, 3)
    with pytest.raises(TypeError, match="red.reflectance.value"):
        params["red.reflectance.value"] = torch.zeros(3, dtype=torch.complex64)
    assert params.update() == {"red.reflectance.value"}


def test_float64_and_int_inputs_are_cast_to_float32():
    params = traverse(cbox())
    value = np.array([0.1, 0.2, 0.3], dtype=np.float64)
    params["red.reflectance.value"] = value
    got = params["red.reflectance.value"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, value.astype(np.float32))
    params["green.reflectance.value"] = (1, 0, 0)
    np.testing.assert_array_equal(params["green.reflectance.value"], np.float32([1, 0, 0]))
    params["sensor.x_fov"] = 30  # a python number for a (1,) key
    np.testing.assert_array_equal(params["sensor.x_fov"], np.float32([30.0]))
    # flat Mitsuba shapes accept (N, 3) as well
    params["floor.vertex_positions"] = (
        params["floor.vertex_positions"].reshape(-1, 3).astype(np.float64)
    )
    assert params["floor.vertex_positions"].shape == (12,)


# ---- keep ----
def test_keep_list():
    params = traverse(cbox())
    params.keep(["red.reflectance.value", "floor.vertex_positions"])
    assert list(params.keys()) == ["red.reflectance.value", "floor.vertex_positions"]
    with pytest.raises(KeyError, match="missing.key"):
        params.keep(["red.reflectance.value", "missing.key"])
    assert len(params) == 2  # a failed keep removes nothing


def test_keep_regex():
    params = traverse(cbox())
    params.keep(r".*\.reflectance\.value$")
    assert sorted(params.keys()) == [
        "green.reflectance.value",
        "red.reflectance.value",
        "white.reflectance.value",
    ]
    params = traverse(cbox())
    params.keep("red")  # re.match, as Mitsuba: a prefix
    assert "red.reflectance.value" in params and "red-wall.vertex_positions" in params
    assert "green.reflectance.value" not in params and "floor.faces" not in params


# ---- gradients API (values: tests/ad/test_gradients.py) ----
def test_enable_grad_and_grad():
    params = traverse(cbox())
    params.enable_grad(["red.reflectance.value", "floor.vertex_positions"])
    assert params.grad_enabled() == ["red.reflectance.value", "floor.vertex_positions"]
    with pytest.raises(ValueError, match="floor.faces"):
        params.enable_grad(["green.reflectance.value", "floor.faces"])
    with pytest.raises(KeyError, match="nope"):
        params.enable_grad("nope")
    assert params.grad_enabled() == ["red.reflectance.value", "floor.vertex_positions"]
    np.testing.assert_array_equal(params.grad("red.reflectance.value"), np.zeros(3))  # no Tape yet
    assert params.grad("floor.vertex_positions").shape == params["floor.vertex_positions"].shape
    with pytest.raises(ValueError, match="floor.faces"):
        params.grad("floor.faces")


# ---- updates render like freshly loaded scenes ----
def test_rgb_update_matches_fresh_scene():
    scene = cbox(32)
    params = traverse(scene)
    before = render(scene)
    data = render_state(scene).data
    params["red.reflectance.value"] = [0.1, 0.9, 0.1]
    assert params.update() == {"red.reflectance.value"}
    assert render_state(scene).data is data  # in-place update, no re-pack
    after = render(scene)
    assert left_green(after) > 2 * left_green(before) + 0.01

    d = cbox_dict(32)
    d["red"]["reflectance"]["value"] = [0.1, 0.9, 0.1]
    np.testing.assert_array_equal(after, render(tr.load_dict(d)))


def test_render_flushes_staged_values_and_same_values_are_no_ops():
    scene = cbox()
    params = traverse(scene)
    before = render(scene)
    data = render_state(scene).data
    params["red.reflectance.value"] = params["red.reflectance.value"]
    assert params.update() == set()
    assert render_state(scene).data is data
    params["light.emitter.radiance.value"] = [1.0, 1.0, 1.0]
    dimmer = render(scene, params)  # render() flushes
    assert params.staged() == set()
    assert dimmer.mean() < 0.5 * before.mean()
    d = cbox_dict()
    d["light"]["emitter"]["radiance"]["value"] = [1.0, 1.0, 1.0]
    np.testing.assert_array_equal(dimmer, render(tr.load_dict(d)))


def _fresh_glass_sphere_with_texture(scenes_dir, texture):
    """A freshly loaded glass sphere scene whose bitmap holds `texture` before its first packing."""
    scene = glass_sphere(scenes_dir)
    bitmap = traverse(scene).node(TEXTURE_KEY)
    bitmap.data = np.ascontiguousarray(texture, dtype=np.float32)
    return scene


@pytest.mark.parametrize("res", [64, 24])
def test_bitmap_update_matches_fresh_scene(scenes_dir, res):
    scene = glass_sphere(scenes_dir)
    params = traverse(scene)
    before = render(scene)
    data = render_state(scene).data
    rng = np.random.default_rng(1)
    texture = np.empty((res, res, 3), np.float32)
    texture[...] = [0.05, 0.9, 0.05]
    texture += 0.05 * rng.random((res, res, 3), dtype=np.float32)
    params[TEXTURE_KEY] = texture
    assert params.update() == {TEXTURE_KEY}
    assert params[TEXTURE_KEY].shape == (res, res, 3)
    # same resolution: texels rewritten in place; a new resolution re-packs the scene
    assert (render_state(scene).data is data) == (res == 64)
    after = render(scene)
    assert after[..., 1].mean() > before[..., 1].mean() + 0.05
    np.testing.assert_array_equal(
        after, render(_fresh_glass_sphere_with_texture(scenes_dir, texture))
    )


def test_vertex_positions_update_matches_fresh_scene():
    scene = cbox(32)
    params = traverse(scene)
    before = render(scene)
    d = cbox_dict(32)
    moved = ScalarTransform4f.translate([0.25, 0.0, 0.15]) @ d["small-box"]["to_world"]
    d["small-box"]["to_world"] = moved
    positions = transform_points(moved.matrix, CUBE_POSITIONS).astype(np.float32)
    params["small-box.vertex_positions"] = positions.ravel()
    assert params.update() == {"small-box.vertex_positions"}
    assert render_state(scene).data is None  # geometry changed: re-pack (new BVH) at the next render
    after = render(scene)
    assert not np.array_equal(after, before)
    np.testing.assert_array_equal(params["small-box.vertex_positions"], positions.ravel())
    np.testing.assert_array_equal(after, render(tr.load_dict(d)))


def test_ior_update_matches_fresh_scene(scenes_dir):
    scene = glass_sphere(scenes_dir)
    params = traverse(scene)
    before = render(scene)
    params["glass_sphere.bsdf.int_ior"] = 1.25
    assert params.update() == {"glass_sphere.bsdf.int_ior"}
    np.testing.assert_allclose(params["glass_sphere.bsdf.eta"], [1.25 / 1.000277], rtol=1e-6)
    after = render(scene)
    assert not np.array_equal(after, before)
    text = (scenes_dir / "glass_sphere.xml").read_text()
    assert text.count('value="1.06"') == 1
    fresh = glass_sphere(scenes_dir, text.replace('value="1.06"', 'value="1.25"'))
    np.testing.assert_array_equal(after, render(fresh))


def test_sensor_fov_update_matches_fresh_scene():
    scene = cbox()
    params = traverse(scene)
    before = render(scene)
    data = render_state(scene).data
    params["sensor.x_fov"] = 30.0
    assert params.update() == {"sensor.x_fov"}
    assert render_state(scene).data is data  # the camera is set up per render
    after = render(scene)
    assert not np.array_equal(after, before)
    d = cbox_dict()
    d["sensor"]["fov"], d["sensor"]["fov_axis"] = 30.0, "x"
    np.testing.assert_array_equal(after, render(tr.load_dict(d)))


# ---- other plugins ----
UNNAMED_XML = """<scene version="3.0.0">
    <bsdf type="roughconductor" id="rough"><float name="alpha" value="0.2"/></bsdf>
    <shape type="rectangle"><ref id="rough"/></shape>
    <shape type="rectangle">
        <bsdf type="twosided"><bsdf type="conductor" id="metal"/></bsdf>
    </shape>
    <shape type="sphere">
        <bsdf type="plastic">
            <texture type="checkerboard" name="diffuse_reflectance">
                <rgb name="color0" value="0.1, 0.2, 0.3"/>
            </texture>
        </bsdf>
    </shape>
    <emitter type="point"><point name="position" x="0" y="2" z="0"/></emitter>
</scene>"""


def test_generated_names_and_other_plugin_keys():
    params = traverse(tr.load_string(UNNAMED_XML))
    keys = set(params.keys())
    for key in (
        "rough.alpha.value",  # isotropic roughness: Mitsuba's 'alpha' texture
        "rough.eta.value",
        "rough.k.value",
        "metal.eta.value",  # a nested plugin with an id is named by its id
        "Rectangle.vertex_positions",
        "Rectangle_1.vertex_positions",  # unnamed plugins: class name, made unique
        "Sphere.bsdf.diffuse_reflectance.color0.value",
        "Sphere.bsdf.diffuse_reflectance.color1.value",
        "Sphere.bsdf.int_ior",
        "PointLight.intensity.value",
        "PointLight.position",
        "PerspectiveCamera.to_world",  # the default sensor
    ):
        assert key in keys, key
    assert not any(k.startswith("Rectangle_1.bsdf.brdf_0.") for k in keys)
    assert not any(k.startswith("Rectangle.bsdf") for k in keys)
    assert params.is_differentiable("Sphere.bsdf.diffuse_reflectance.color0.value")
    assert not params.is_differentiable("metal.eta.value")
    assert not params.is_differentiable("rough.alpha.value")
    np.testing.assert_allclose(params["rough.alpha.value"], [0.2], rtol=1e-6)
    np.testing.assert_allclose(params["PointLight.position"], [0, 2, 0])

    env = traverse(
        tr.load_dict({"type": "scene", "env": {"type": "envmap", "data": np.ones((4, 8, 3))}})
    )
    assert env["env.data"].shape == (4, 8, 3) and env.is_differentiable("env.data")
    assert not env.is_differentiable("env.scale")
    with pytest.raises(ValueError, match="env.data"):
        env["env.data"] = np.ones((4, 9, 3))  # only bitmap textures change resolution
    with pytest.raises(ValueError, match="env.scale"):
        env["env.scale"] = -1.0


def _plastic_cbox(color0):
    d = cbox_dict()
    d["red"] = {
        "type": "plastic",
        "diffuse_reflectance": {
            "type": "checkerboard",
            "color0": color0,
            "to_uv": ScalarTransform4f.scale([4, 4, 1]),
        },
    }
    return d


def test_plastic_texture_update_repacks_and_matches_fresh_scene():
    # a plastic's sampling weight depends on its texture means: its textures re-pack the scene
    scene = tr.load_dict(_plastic_cbox([0.5, 0.05, 0.05]))
    params = traverse(scene)
    key = "red.diffuse_reflectance.color0.value"
    before = render(scene)
    params[key] = [0.05, 0.9, 0.05]
    assert params.update() == {key}
    assert render_state(scene).data is None
    after = render(scene)
    assert not np.array_equal(after, before)
    assert left_green(after) > left_green(before)
    np.testing.assert_array_equal(after, render(tr.load_dict(_plastic_cbox([0.05, 0.9, 0.05]))))


def test_checkerboard_color_update_in_place_matches_fresh_scene():
    def scene_dict(color0):
        d = cbox_dict()
        d["red"]["reflectance"] = {
            "type": "checkerboard",
            "color0": color0,
            "to_uv": ScalarTransform4f.scale([4, 4, 1]),
        }
        return d

    scene = tr.load_dict(scene_dict([0.5, 0.05, 0.05]))
    params = traverse(scene)
    before = render(scene)
    data = render_state(scene).data
    color0 = params.node("red.reflectance.color0.value")
    # guards a fixed packing bug: checkerboard colour rows used to be shifted by one
    assert np.array_equal(data.np["tex_rgb"][data.texture_row(color0)], color0.value)
    params["red.reflectance.color0.value"] = [0.05, 0.9, 0.05]
    params.update()
    assert render_state(scene).data is data
    after = render(scene)
    assert left_green(after) > left_green(before) + 0.005
    np.testing.assert_array_equal(after, render(tr.load_dict(scene_dict([0.05, 0.9, 0.05]))))


def test_envmap_update_matches_fresh_scene():
    def scene(env, scale):
        return tr.load_dict(
            {
                "type": "scene",
                "env": {"type": "envmap", "data": env, "scale": scale},
                "ball": {"type": "sphere", "bsdf": {"type": "diffuse"}},
                "sensor": {
                    "type": "perspective",
                    "fov": 60,
                    "to_world": ScalarTransform4f.look_at(
                        origin=[0, 0, -4], target=[0, 0, 0], up=[0, 1, 0]
                    ),
                    "film": {"type": "hdrfilm", "width": 16, "height": 16},
                },
            }
        )

    rng = np.random.default_rng(0)
    old, new = (
        rng.random((8, 16, 3), dtype=np.float32),
        2 * rng.random((8, 16, 3), dtype=np.float32),
    )
    s = scene(old, 1.0)
    params = traverse(s)
    before = render(s)
    params.update({"env.data": new, "env.scale": 0.5})
    after = render(s)
    assert not np.array_equal(after, before)
    np.testing.assert_array_equal(after, render(scene(new, 0.5)))
