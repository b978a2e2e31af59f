import numpy as np
import pytest

from taichi_render.core import registry
from taichi_render.core.errors import PluginNotFoundError, SceneError
from taichi_render.core.properties import Properties
from taichi_render.core.registry import Plugin, create, register
from taichi_render.core.transform import ScalarTransform4f


@register("bsdf", "tcore_bsdf")
class CoreBsdf(Plugin):
    def __init__(self, props):
        super().__init__(props)
        self.alpha = props.get_float("alpha", 0.1)


@register("texture", "tcore_tex")
class CoreTex(Plugin):
    def __init__(self, props):
        super().__init__(props)


class CoreRGB(Plugin):
    def __init__(self, props):
        super().__init__(props)
        self.value = props.get_color("value")


@pytest.fixture
def rgb_plugin(monkeypatch):
    """The registered ``rgb`` texture: the real one if it exists, else a stand-in."""
    try:
        registry.ensure_plugins_loaded()
        yield registry.lookup("texture", "rgb")
        return
    except ModuleNotFoundError:
        pass
    monkeypatch.setattr(registry, "_plugins_loaded", True)
    register("texture", "rgb")(CoreRGB)
    try:
        yield CoreRGB
    finally:
        registry.unregister("texture", "rgb")


def bag(**values):
    p = Properties("diffuse", location="scene.xml:14", kind="bsdf")
    for k, v in values.items():
        p.set(k, v, f"scene.xml:{20 + len(p.names())}")
    return p


def test_attributes():
    p = Properties("diffuse", id="red", location="cbox.xml:12", kind="bsdf")
    assert (p.type_name, p.id, p.location, p.kind) == ("diffuse", "red", "cbox.xml:12", "bsdf")


def test_typed_getters():
    p = bag(i=3, f=0.5, b=True, s="abc", v=[1, 2, 3], t=ScalarTransform4f.translate([1, 2, 3]))
    assert p.get_int("i") == 3 and isinstance(p.get_int("i"), int)
    assert p.get_float("f") == 0.5
    assert p.get_float("i") == 3.0 and isinstance(p.get_float("i"), float)  # int -> float
    assert p.get_bool("b") is True
    assert p.get_string("s") == "abc"
    v = p.get_vector3("v")
    assert v.dtype == np.float64 and v.shape == (3,) and list(v) == [1, 2, 3]
    assert list(p.get_point3("v")) == [1, 2, 3]
    t = p.get_transform("t")
    assert t.shape == (4, 4) and list(t[:3, 3]) == [1, 2, 3]
    p.check_unused()


def test_defaults_and_required():
    p = bag()
    assert p.get_int("n", 7) == 7
    assert p.get_float("x", 1.5) == 1.5
    assert p.get_string("s", None) is None
    assert np.array_equal(p.get_transform("to_world"), np.eye(4))
    np.testing.assert_array_equal(p.get_color("c", 0.5), [0.5, 0.5, 0.5])
    assert p.get_color("c2", 0.5).dtype == np.float32
    with pytest.raises(SceneError, match=r"diffuse plugin at scene.xml:14: .*'alpha'.*missing"):
        p.get_float("alpha")


def test_ill_typed_value_message():
    p = Properties("diffuse", location="scene.xml:14", kind="bsdf")
    p.set("alpha", "abc", "scene.xml:14")
    with pytest.raises(SceneError) as e:
        p.get_float("alpha")
    assert str(e.value) == (
        "diffuse plugin at scene.xml:14: property 'alpha' expects a float, got string 'abc'"
    )


@pytest.mark.parametrize(
    "getter,value",
    [
        ("get_int", 1.5),
        ("get_int", True),
        ("get_float", True),
        ("get_bool", 1),
        ("get_string", 3),
        ("get_vector3", 2.0),
        ("get_transform", [1, 2, 3]),
        ("get_color", "red"),
    ],
)
def test_wrong_types_raise(getter, value):
    p = bag(x=value)
    with pytest.raises(SceneError, match="property 'x' expects"):
        getattr(p, getter)("x")


def test_error_points_at_property_location():
    p = Properties("diffuse", location="a.xml:3", kind="bsdf")
    p.set("alpha", "x", "a.xml:5")
    with pytest.raises(SceneError, match="a.xml:5"):
        p.get_float("alpha")
    with pytest.raises(SceneError, match=r"^diffuse plugin at a.xml:5: boom$"):
        p.error("boom", "alpha")
    with pytest.raises(SceneError, match=r"^diffuse plugin at a.xml:3: boom$"):
        p.error("boom")


def test_check_unused():
    p = bag(a=1, b=2.0)
    p.get_int("a")
    with pytest.raises(SceneError, match=r"scene.xml:21: unused property 'b'"):
        p.check_unused()
    p.get_float("b")
    p.check_unused()
    p2 = bag(a=1, b=2)
    with pytest.raises(SceneError, match="unused properties 'a', 'b'"):
        p2.check_unused()


def test_duplicate_property():
    p = bag(a=1)
    with pytest.raises(SceneError, match="'a' was specified multiple times"):
        p.set("a", 2, "scene.xml:30")


def test_get_color_variants():
    p = bag(f=0.25, i=1, v=[0.1, 0.2, 0.3])
    p.set("c", np.array([1, 2, 3]), tag="color")
    np.testing.assert_allclose(p.get_color("f"), [0.25] * 3)
    np.testing.assert_allclose(p.get_color("i"), [1, 1, 1])
    np.testing.assert_allclose(p.get_color("v"), [0.1, 0.2, 0.3])
    c = p.get_color("c")
    assert c.dtype == np.float32 and c.shape == (3,)
    np.testing.assert_array_equal(c, [1, 2, 3])


def test_children_and_get_plugin():
    p = Properties("twosided", location="x.xml:1", kind="bsdf")
    b1 = create("bsdf", "tcore_bsdf", Properties("tcore_bsdf", location="x.xml:2"))
    t1 = create("texture", "tcore_tex", Properties("tcore_tex", location="x.xml:3"))
    b2 = create("bsdf", "tcore_bsdf", Properties("tcore_bsdf", id="b2", location="x.xml:4"))
    p.set("_arg_0", b1, "x.xml:2")
    p.set("tex", t1, "x.xml:3")
    p.set("_arg_1", b2, "x.xml:4")
    assert b2.id == "b2" and b2.props_location == "x.xml:4" and b1.id is None
    assert p.children("bsdf") == [("_arg_0", b1), ("_arg_1", b2)]
    assert p.get_plugin("tex", "texture") is t1
    assert p.get_plugin("nothing", "texture") is None
    with pytest.raises(SceneError, match="x.xml:4: several anonymous bsdf children"):
        p.get_plugin("bsdf", "bsdf")
    with pytest.raises(SceneError, match="expects a bsdf plugin, got texture plugin"):
        p.get_plugin("tex", "bsdf")
    p.check_unused()


def test_get_plugin_takes_the_single_anonymous_child():
    """XML ``<sensor><film .../></sensor>``: the film has a generated name but is 'film'."""
    p = Properties("perspective", location="x.xml:1", kind="sensor")
    film = create("bsdf", "tcore_bsdf", Properties("tcore_bsdf", location="x.xml:2"))
    p.set("_arg_0", film, "x.xml:2")
    assert p.get_plugin("bsdf", "bsdf") is film
    assert p.get_plugin("film", "film") is None  # kinds must match
    p.check_unused()


def test_unused_child_object():
    p = Properties("diffuse", location="x.xml:1", kind="bsdf")
    p.set("extra", create("texture", "tcore_tex", Properties("tcore_tex")), "x.xml:2")
    with pytest.raises(SceneError, match="x.xml:2: unused child object 'extra'"):
        p.check_unused()


def test_get_texture_wraps_colors(rgb_plugin):
    p = bag(f=0.5, v=[0.1, 0.2, 0.3])
    p.set("c", [0.7, 0.8, 0.9], tag="color")
    tf, tv, tc = p.get_texture("f"), p.get_texture("v"), p.get_texture("c")
    for tex, expected in ((tf, [0.5] * 3), (tv, [0.1, 0.2, 0.3]), (tc, [0.7, 0.8, 0.9])):
        assert isinstance(tex, rgb_plugin)
        assert tex.kind == "texture" and tex.type_name == "rgb"
        np.testing.assert_allclose(tex.value, expected, rtol=1e-6)
        assert tex.value.dtype == np.float32
    assert p.get_texture("f") is tf  # cached
    np.testing.assert_allclose(p.get_texture("missing", 0.3).value, [0.3] * 3, rtol=1e-6)
    assert p.get_texture("missing2", None) is None
    assert p.get_texture("missing3", tf) is tf  # a texture as the default
    # an rgb texture also answers get_color
    np.testing.assert_allclose(p.get_color("c"), [0.7, 0.8, 0.9], rtol=1e-6)
    p.check_unused()


def test_get_texture_errors(rgb_plugin):
    p = bag(s="abc")
    p.set("b", create("bsdf", "tcore_bsdf", Properties("tcore_bsdf")), "scene.xml:40")
    with pytest.raises(SceneError, match="'s' expects a texture or color, got string"):
        p.get_texture("s")
    with pytest.raises(SceneError, match="scene.xml:40: property 'b' expects a texture"):
        p.get_texture("b")
    with pytest.raises(SceneError, match="required property 'r'"):
        p.get_texture("r")


# ---- registry ----
def test_registry_create_and_names(monkeypatch):
    monkeypatch.setattr(registry, "_plugins_loaded", True)
    assert "tcore_bsdf" in registry._registry["bsdf"]
    assert CoreBsdf.kind == "bsdf" and CoreBsdf.type_name == "tcore_bsdf"
    b = create("bsdf", "tcore_bsdf", Properties("tcore_bsdf", location="y.xml:9"))
    assert isinstance(b, CoreBsdf) and b.alpha == 0.1
    assert "tcore_bsdf" in registry.plugin_names("bsdf")
    assert registry.kind_of("tcore_tex") == "texture"


def test_registry_unknown_type(monkeypatch):
    monkeypatch.setattr(registry, "_plugins_loaded", True)
    with pytest.raises(PluginNotFoundError) as e:
        create("bsdf", "no_such_bsdf", Properties("no_such_bsdf", location="y.xml:9"))
    msg = str(e.value)
    assert "no_such_bsdf" in msg and "bsdf" in msg and "y.xml:9" in msg
    assert isinstance(e.value, SceneError) and isinstance(e.value, ValueError)
    with pytest.raises(PluginNotFoundError, match="dict key 'a'.*'nope'"):
        registry.kind_of("nope", "dict key 'a'")


def test_registry_checks_unused_after_constructor(monkeypatch):
    monkeypatch.setattr(registry, "_plugins_loaded", True)
    props = Properties("tcore_bsdf", location="y.xml:9")
    props.set("alpah", 0.2, "y.xml:10")
    with pytest.raises(SceneError, match=r"tcore_bsdf plugin at y.xml:10: unused property 'alpah'"):
        create("bsdf", "tcore_bsdf", props)


def test_registry_wraps_value_errors_with_location(monkeypatch):
    @register("bsdf", "tcore_raises")
    class Raises(Plugin):
        def __init__(self, props):
            raise FileNotFoundError("mesh.obj not found")

    try:
        with pytest.raises(SceneError, match="y.xml:3: mesh.obj not found"):
            create("bsdf", "tcore_raises", Properties("tcore_raises", location="y.xml:3"))
    finally:
        registry.unregister("bsdf", "tcore_raises")


def test_register_validation():
    with pytest.raises(ValueError, match="unknown plugin kind"):
        register("widget", "x")

    class Other(Plugin):
        pass

    with pytest.raises(ValueError, match="already registered"):
        register("bsdf", "tcore_bsdf")(Other)
    assert registry._registry["bsdf"]["tcore_bsdf"] is CoreBsdf
    with pytest.raises(ValueError):
        registry.plugin_names("widget")


def test_ensure_plugins_loaded_imports_packages(monkeypatch):
    imported = []
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    monkeypatch.setattr(registry.importlib, "import_module", lambda n: imported.append(n))
    registry.ensure_plugins_loaded()
    assert imported == list(registry.PLUGIN_PACKAGES)
    registry.ensure_plugins_loaded()  # only once
    assert len(imported) == len(registry.PLUGIN_PACKAGES)


def test_ensure_plugins_loaded_propagates_import_errors(monkeypatch):
    def broken(name):
        raise ImportError(f"broken plugin module in {name}")

    monkeypatch.setattr(registry, "_plugins_loaded", False)
    monkeypatch.setattr(registry.importlib, "import_module", broken)
    with pytest.raises(ImportError, match="broken plugin module"):
        registry.ensure_plugins_loaded()
    assert registry._plugins_loaded is False
