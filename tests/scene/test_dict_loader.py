import numpy as np
import pytest
from fake_scene_plugins import FakeDiffuse, FakeMesh, plugins  # noqa: F401

from taichi_render.core.errors import PluginNotFoundError, SceneError
from taichi_render.core.transform import ScalarTransform4f as T
from taichi_render.scene import Scene, load_dict

pytestmark = pytest.mark.usefixtures("plugins")


def base(**entries):
    d = {
        "type": "scene",
        "sensor": {
            "type": "tfake_camera",
            "film": {"type": "tfake_film", "width": 8},
            "sampler": {"type": "tfake_sampler", "sample_count": 2},
        },
        "integrator": {"type": "tfake_integrator", "max_depth": 4},
    }
    d.update(entries)
    return d


def bag(**values):
    """Load a scene with one `tfake_bag` bsdf holding ``values``; return the bag."""
    return load_dict(base(bag={"type": "tfake_bag", **values})).ids["bag"]


def test_basic_scene():
    scene = load_dict(
        base(
            red={"type": "tfake_diffuse", "reflectance": {"type": "rgb", "value": [0.5, 0.1, 0.1]}},
            wall={
                "type": "tfake_mesh",
                "to_world": T.translate([1, 0, 0]),
                "bsdf": {"type": "ref", "id": "red"},
            },
            light={
                "type": "tfake_mesh",
                "bsdf": {"type": "tfake_diffuse", "alpha": 0.2},
                "emitter": {"type": "tfake_area", "radiance": {"type": "rgb", "value": 5}},
            },
            lamp={"type": "tfake_point", "position": [1, 2, 3], "id": "my-lamp"},
        )
    )
    assert isinstance(scene, Scene)
    red, wall, light = scene.ids["red"], scene.ids["wall"], scene.ids["light"]
    assert isinstance(red, FakeDiffuse) and isinstance(wall, FakeMesh)
    assert red.id == "red" and wall.bsdf is red
    np.testing.assert_allclose(red.reflectance.value, [0.5, 0.1, 0.1], rtol=1e-6)
    assert light.bsdf.alpha == 0.2 and light.bsdf.id is None  # nested keys are not ids
    np.testing.assert_allclose(light.emitter.radiance, [5, 5, 5])
    # an explicit id wins over the key
    assert "lamp" not in scene.ids and scene.ids["my-lamp"].type_name == "tfake_point"
    assert [s.id for s in scene.shapes()] == ["wall", "light"]
    assert scene.emitters() == [light.emitter, scene.ids["my-lamp"]]
    assert scene.sensors()[0].film.width == 8 and scene.sensors()[0].sampler.sample_count == 2
    assert scene.integrator().max_depth == 4
    assert red.props_location == "dict key 'red'"
    assert light.bsdf.props_location == "dict key 'light.bsdf'"
    lo, hi = scene.bbox()
    np.testing.assert_allclose(lo, [-1, -1, 0])
    np.testing.assert_allclose(hi, [2, 1, 0])


def test_plain_values():
    b = bag(
        i=3,
        f=0.5,
        flag=False,
        s="x",
        v=[1, 2, 3],
        t=(1.0, 2.0, 3.0),
        npf=np.float32(0.25),
        npi=np.int64(7),
        arr=np.ones((2, 2, 3)),
        m=np.eye(4).tolist(),
        tr=T.scale(2),
    )
    v = b.values
    assert v["i"] == 3 and isinstance(v["i"], int)
    assert v["f"] == 0.5 and v["flag"] is False and v["s"] == "x"
    np.testing.assert_array_equal(v["v"], [1, 2, 3])
    np.testing.assert_array_equal(v["t"], [1, 2, 3])
    assert v["npf"] == 0.25 and isinstance(v["npf"], float)
    assert v["npi"] == 7 and isinstance(v["npi"], int)
    assert v["arr"].shape == (2, 2, 3)
    assert v["m"].shape == (4, 4)
    np.testing.assert_array_equal(v["tr"], np.diag([2.0, 2, 2, 1]))


def test_colors():
    b = bag(
        c1={"type": "rgb", "value": [0.1, 0.2, 0.3]},
        c2={"type": "rgb", "value": 0.5},
        s1={"type": "spectrum", "value": 0.3},
        s2={"type": "spectrum", "value": [(360, 1.0), (830, 1.0)]},
    )
    v = b.values
    np.testing.assert_allclose(v["c1"], [0.1, 0.2, 0.3], rtol=1e-6)
    assert v["c1"].dtype == np.float32
    np.testing.assert_allclose(v["c2"], [0.5] * 3)
    np.testing.assert_allclose(v["s1"], [0.3] * 3, rtol=1e-6)
    np.testing.assert_allclose(v["s2"], [1.0, 0.948, 0.909], atol=3e-3)  # clamped reflectance


def test_spectrum_in_emitter_is_unbounded(tmp_path):
    spd = tmp_path / "e.spd"
    spd.write_text("360 1\n830 1\n")
    scene = load_dict(
        base(a={"type": "tfake_point", "intensity": {"type": "spectrum", "filename": str(spd)}})
    )
    np.testing.assert_allclose(scene.ids["a"].intensity, [1.205, 0.948, 0.909], atol=3e-3)


def test_bare_values_for_textures():
    scene = load_dict(
        base(
            d={"type": "tfake_diffuse", "reflectance": [0.2, 0.3, 0.4]},
            e={"type": "tfake_diffuse", "reflectance": 0.7},
        )
    )
    np.testing.assert_allclose(scene.ids["d"].reflectance.value, [0.2, 0.3, 0.4], rtol=1e-6)
    np.testing.assert_allclose(scene.ids["e"].reflectance.value, [0.7] * 3, rtol=1e-6)
    assert scene.ids["d"].reflectance.type_name == "rgb"


def test_loaded_plugin_as_value():
    tex = load_dict({"type": "tfake_tex", "value": 0.2})
    assert tex.type_name == "tfake_tex" and tex.id is None
    np.testing.assert_allclose(tex.value, [0.2] * 3)
    scene = load_dict(base(d={"type": "tfake_diffuse", "reflectance": tex}))
    assert scene.ids["d"].reflectance is tex


def test_non_scene_root_returns_plugin():
    b = load_dict({"type": "tfake_diffuse", "id": "x", "alpha": 0.3})
    assert isinstance(b, FakeDiffuse) and b.id == "x" and b.alpha == 0.3


def test_input_is_not_mutated():
    d = base(red={"type": "tfake_diffuse", "reflectance": [0.5, 0.5, 0.5]})
    before = repr(d)
    load_dict(d)
    load_dict(d)  # loading twice works (fresh ids each time)
    assert repr(d) == before


@pytest.mark.parametrize(
    "d,pattern",
    [
        ([1, 2], r"expects a dict, got list"),
        ({"sensor": {}}, r"dict key '<root>': missing 'type'"),
        (base(wall={"type": "tfake_mesh", "bsdf": {"alpha": 1}}), r"dict key 'wall.bsdf': missing"),
        (
            base(wall={"type": "tfake_mesh", "bsdf": {"type": "ref", "id": "nope"}}),
            r"dict key 'wall.bsdf': reference to unknown id 'nope'",
        ),
        (
            base(wall={"type": "tfake_mesh", "bsdf": {"type": "ref", "id": "x", "extra": 1}}),
            r"unexpected key",
        ),
        (
            base(r={"type": "ref", "id": "sensor"}),
            r"dict key 'r': a reference cannot appear at scene",
        ),
        (base(spp=16), r"dict key 'spp': unexpected int at scene level"),
        (base(c={"type": "rgb", "value": [1, 2, 3]}), r"'rgb' cannot appear at scene level"),
        (base(**{"a.b": {"type": "tfake_diffuse"}}), r"contains '.'"),
        (
            base(d={"type": "tfake_diffuse", "alpha": "abc"}),
            (
                r"^tfake_diffuse plugin at dict key 'd.alpha': property 'alpha' expects a float, "
                r"got string 'abc'$"
            ),
        ),
        (
            base(d={"type": "tfake_diffuse", "alhpa": 0.1}),
            r"tfake_diffuse plugin at dict key 'd.alhpa': unused property 'alhpa'",
        ),
        (
            base(d={"type": "tfake_diffuse", "reflectance": {"type": "rgb", "value": [1, 2]}}),
            r"dict key 'd.reflectance': 'rgb' value must be 1 or 3",
        ),
        (
            base(d={"type": "tfake_diffuse", "reflectance": {"type": "rgb", "value": 1, "x": 2}}),
            r"exactly the keys 'type' and 'value'",
        ),
        (
            base(d={"type": "tfake_diffuse", "reflectance": {"type": "spectrum", "value": "abc"}}),
            r"dict key 'd.reflectance': invalid spectrum",
        ),
        (
            base(d={"type": "tfake_diffuse", "reflectance": {"type": "spectrum"}}),
            r"one of 'value'/'filename'",
        ),
        (base(d={"type": "tfake_bag", "x": None}), r"dict key 'd.x': None is not a valid"),
        (base(d={"type": "tfake_bag", "x": object()}), r"dict key 'd.x': unsupported value"),
        (base(d={"type": "tfake_bag", "x": {"type": "scene"}}), r"scene cannot be nested"),
        (base(d={"type": "tfake_bag", 3: 1}), r"keys must be strings"),
        (base(d={"type": 5}), r"'type' must be a string"),
        (base(d={"type": "tfake_diffuse", "id": 5}), r"'id' must be a string"),
        (
            base(d={"type": "tfake_diffuse"}, e={"type": "tfake_diffuse", "id": "d"}),
            r"dict key 'e': duplicate id 'd'",
        ),
        (base(i2={"type": "tfake_integrator"}), r"only one integrator"),
    ],
)
def test_errors(d, pattern):
    with pytest.raises(SceneError, match=pattern):
        load_dict(d)


def test_unknown_type():
    with pytest.raises(
        PluginNotFoundError,
        match=r"dict key 'wall.bsdf': unknown plugin type "
        r"'difuse'",
    ):
        load_dict(base(wall={"type": "tfake_mesh", "bsdf": {"type": "difuse"}}))


def test_nested_error_reported_first():
    # both the scene-level int and the nested property are errors; the nested one comes first
    d = base(w={"type": "tfake_mesh", "bsdf": {"type": "tfake_diffuse", "oops": 1}}, spp=3)
    with pytest.raises(SceneError, match="dict key 'w.bsdf.oops'"):
        load_dict(d)


def test_refs_to_later_entries_fail_like_mitsuba():
    d = base(
        wall={"type": "tfake_mesh", "bsdf": {"type": "ref", "id": "red"}},
        red={"type": "tfake_diffuse"},
    )
    with pytest.raises(SceneError, match="unknown id 'red'"):
        load_dict(d)


def test_environment_and_default_ids():
    scene = load_dict(base(env={"type": "tfake_env"}))
    assert scene.environment() is scene.ids["env"]
    assert set(scene.ids) == {"sensor", "integrator", "env"}
    with pytest.raises(SceneError, match="only one environment emitter"):
        load_dict(base(e1={"type": "tfake_env"}, e2={"type": "tfake_env"}))
