import os
import textwrap

import numpy as np
import pytest
from fake_scene_plugins import (  # noqa: F401  (plugins is a fixture)
    FakeBag,
    FakeCamera,
    FakeDiffuse,
    FakeMesh,
    plugins,
)

from taichi_render.core.errors import PluginNotFoundError, SceneError
from taichi_render.core.transform import ScalarTransform4f as T
from taichi_render.render.state import render_state
from taichi_render.scene import load_file, load_string

pytestmark = pytest.mark.usefixtures("plugins")

CAMERA = """
    <sensor type="tfake_camera" id="cam">
        <float name="fov" value="30"/>
        <film type="tfake_film"><integer name="width" value="$res"/></film>
        <sampler type="tfake_sampler"><integer name="sample_count" value="$spp"/></sampler>
    </sensor>
    <integrator type="tfake_integrator"><integer name="max_depth" value="3"/></integrator>
"""


def write(tmp_path, name, body):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def scene_xml(inner, defaults='<default name="spp" value="4"/><default name="res" value="16"/>'):
    return f'<scene version="3.0.0">\n{defaults}\n{CAMERA}\n{textwrap.dedent(inner)}</scene>\n'


def load(tmp_path, inner, name="scene.xml", **kw):
    return load_file(write(tmp_path, name, scene_xml(inner)), **kw)


def line_of(path, needle):
    """1-based line of the first line of ``path`` containing ``needle``."""
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def bag_scene(tmp_path, inner, **kw):
    """Load a scene whose only bsdf is a `tfake_bag` holding ``inner``; return the bag."""
    scene = load(tmp_path, f'<bsdf type="tfake_bag" id="bag">{inner}</bsdf>', **kw)
    return scene.ids["bag"]


def test_basic_scene(tmp_path):
    scene = load(
        tmp_path,
        """
        <bsdf type="tfake_diffuse" id="red">
            <rgb name="reflectance" value="0.5, 0.1, 0.1"/>
            <float name="alpha" value="0.3"/>
        </bsdf>
        <shape type="tfake_mesh" id="wall">
            <transform name="to_world"><translate x="1"/></transform>
            <ref id="red"/>
        </shape>
        <shape type="tfake_mesh" id="light">
            <bsdf type="tfake_diffuse"/>
            <emitter type="tfake_area"><rgb name="radiance" value="10"/></emitter>
        </shape>
        <emitter type="tfake_point"><point name="position" x="1" y="2" z="3"/></emitter>
    """,
    )
    red, wall, light = scene.ids["red"], scene.ids["wall"], scene.ids["light"]
    assert isinstance(red, FakeDiffuse) and red.alpha == pytest.approx(0.3)
    np.testing.assert_allclose(red.reflectance.value, [0.5, 0.1, 0.1], rtol=1e-6)
    assert red.reflectance.type_name == "rgb"
    assert wall.bsdf is red and red.id == "red" and wall.id == "wall"
    line = line_of(tmp_path / "scene.xml", 'id="red"')
    assert red.props_location == f"{tmp_path / 'scene.xml'}:{line}"
    assert [s.id for s in scene.shapes()] == ["wall", "light"]
    em = scene.emitters()
    assert em[0] is light.emitter and em[1].type_name == "tfake_point"
    np.testing.assert_allclose(em[1].position, [1, 2, 3])
    np.testing.assert_allclose(light.emitter.radiance, [10, 10, 10])
    cam = scene.sensors()[0]
    assert isinstance(cam, FakeCamera) and cam.fov == 30
    assert cam.film.width == 16 and cam.sampler.sample_count == 4
    assert scene.integrator().max_depth == 3
    assert set(scene.ids) == {"cam", "red", "wall", "light"}
    lo, hi = scene.bbox()
    np.testing.assert_allclose(lo, [-1, -1, 0])
    np.testing.assert_allclose(hi, [2, 1, 0])
    assert render_state(scene).data is None


def test_scalar_properties(tmp_path):
    bag = bag_scene(
        tmp_path,
        """
        <integer name="i" value=" 42 "/><float name="f" value="1e-2"/>
        <boolean name="b" value="TRUE"/><string name="s" value="hello world"/>
        <float name="g" value="7"/>
    """,
    )
    assert bag.values == {"i": 42, "f": 0.01, "b": True, "s": "hello world", "g": 7.0}
    assert isinstance(bag.values["g"], float)


def test_vectors_and_colors(tmp_path):
    bag = bag_scene(
        tmp_path,
        """
        <point name="p" value="1, 2, 3"/><vector name="v" x="4" z="6"/>
        <vector name="u" value="2"/>
        <rgb name="c1" value="0.1 0.2 0.3"/><rgb name="c2" value="0.1,0.2,0.3"/>
        <rgb name="c3" value="0.5"/>
    """,
    )
    v = bag.values
    np.testing.assert_array_equal(v["p"], [1, 2, 3])
    np.testing.assert_array_equal(v["v"], [4, 0, 6])
    np.testing.assert_array_equal(v["u"], [2, 2, 2])
    np.testing.assert_allclose(v["c1"], [0.1, 0.2, 0.3], rtol=1e-6)
    np.testing.assert_allclose(v["c2"], [0.1, 0.2, 0.3], rtol=1e-6)
    np.testing.assert_allclose(v["c3"], [0.5] * 3)
    assert v["c1"].dtype == np.float32


def test_spectra(tmp_path):
    write(tmp_path, "spd/white.spd", "360 1\n830 1\n")
    scene = load(
        tmp_path,
        """
        <bsdf type="tfake_bag" id="bag">
            <spectrum name="const" value="0.25"/>
            <spectrum name="refl" value="360:1, 830:1"/>
            <spectrum name="eta" value="360:2, 830:2"/>
            <spectrum name="file" filename="spd/white.spd"/>
        </bsdf>
        <shape type="tfake_mesh">
            <emitter type="tfake_area"><spectrum name="radiance" value="360:1, 830:1"/></emitter>
        </shape>
    """,
    )
    v = scene.ids["bag"].values
    np.testing.assert_array_equal(v["const"], [0.25] * 3)
    # a reflectance is clamped to [0, 1]; emitters and eta are not
    np.testing.assert_allclose(v["refl"], [1.0, 0.948, 0.909], atol=3e-3)
    np.testing.assert_allclose(v["file"], v["refl"])
    assert v["eta"][0] > 2.0
    radiance = scene.emitters()[0].radiance
    np.testing.assert_allclose(radiance, [1.205, 0.948, 0.909], atol=3e-3)


def test_transforms(tmp_path):
    bag = bag_scene(
        tmp_path,
        """
        <transform name="a">
            <scale value="2"/>
            <rotate y="1" angle="90"/>
            <translate value="1 2 3"/>
        </transform>
        <transform name="b"><scale x="2" y="3"/><rotate value="0, 0, 1" angle="45"/></transform>
        <transform name="m"><matrix value="1 0 0 5  0 1 0 6  0 0 1 7  0 0 0 1"/></transform>
        <transform name="l"><lookat origin="0, 0, 3.9" target="0, 0, 0" up="0, 1, 0"/></transform>
        <transform name="n"><lookat origin="1 1 1" target="1 1 5"/></transform>
    """,
    )
    v = bag.values
    expected_a = T.translate([1, 2, 3]) @ T.rotate([0, 1, 0], 90) @ T.scale(2)
    np.testing.assert_allclose(v["a"], expected_a.matrix, atol=1e-12)
    np.testing.assert_allclose(v["b"], (T.rotate([0, 0, 1], 45) @ T.scale([2, 3, 1])).matrix)
    np.testing.assert_allclose(v["m"][:3, 3], [5, 6, 7])
    np.testing.assert_allclose(v["l"], T.look_at([0, 0, 3.9], [0, 0, 0], [0, 1, 0]).matrix)
    # no 'up': Mitsuba picks one orthogonal to the view direction
    n = v["n"]
    np.testing.assert_allclose(n[:3, 2], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(n[:3, :3] @ n[:3, :3].T, np.eye(3), atol=1e-12)


def test_generated_names_and_children(tmp_path):
    bag = bag_scene(
        tmp_path,
        """
        <bsdf type="tfake_diffuse"/><bsdf type="tfake_diffuse" name="named"/>
        <texture type="tfake_tex"/>
    """,
    )
    names = [n for n, _ in bag.children]
    assert names == ["_arg_0", "named", "_arg_1"]


def test_substitution_and_defaults(tmp_path):
    inner = '<bsdf type="tfake_diffuse" id="d"><float name="alpha" value="$alpha"/></bsdf>'
    scene = load(tmp_path, '<default name="alpha" value="0.25"/>' + inner)
    assert scene.ids["d"].alpha == 0.25
    assert scene.sensors()[0].sampler.sample_count == 4
    scene = load(tmp_path, '<default name="alpha" value="0.25"/>' + inner, spp=9, alpha=0.75, res=8)
    assert scene.ids["d"].alpha == 0.75
    assert scene.sensors()[0].sampler.sample_count == 9
    assert scene.sensors()[0].film.width == 8
    # a keyword with no <default> is fine when the scene uses $name
    scene = load(tmp_path, inner, alpha=0.5)
    assert scene.ids["d"].alpha == 0.5


def test_longest_parameter_name_wins(tmp_path):
    bag = bag_scene(tmp_path, '<string name="s" value="$a-$ab"/>', a="X", ab="Y")
    assert bag.values["s"] == "X-Y"


def test_unused_keyword_is_an_error(tmp_path):
    with pytest.raises(SceneError, match="parameter 'sppp'"):
        load(tmp_path, "", sppp=4)


def test_undefined_parameter(tmp_path):
    path = write(
        tmp_path,
        "s.xml",
        scene_xml('<bsdf type="tfake_diffuse">\n<float name="alpha" value="$nope"/></bsdf>'),
    )
    with pytest.raises(SceneError, match=r"s.xml:\d+: undefined parameter.*\$nope"):
        load_file(path)


def test_relative_filenames_become_absolute(tmp_path):
    scene = load(
        tmp_path,
        """
        <shape type="tfake_mesh" id="m"><string name="filename" value="meshes/a.obj"/></shape>
    """,
        name="sub/scene.xml",
    )
    fname = scene.ids["m"].filename
    assert os.path.isabs(fname)
    assert fname == str(tmp_path / "sub" / "meshes" / "a.obj")


def test_include(tmp_path):
    write(
        tmp_path,
        "parts/materials.xml",
        """
        <scene version="3.0.0">
            <bsdf type="tfake_diffuse" id="white"><float name="alpha" value="$alpha"/></bsdf>
            <include filename="wall.xml"/>
        </scene>""",
    )
    write(
        tmp_path,
        "parts/wall.xml",
        """
        <shape type="tfake_mesh" id="wall"><ref id="white"/>
            <string name="filename" value="wall.obj"/></shape>""",
    )
    scene = load(
        tmp_path,
        """
        <default name="alpha" value="0.4"/>
        <include filename="parts/materials.xml"/>
        <shape type="tfake_mesh" id="floor"><ref id="white" name="bsdf"/></shape>
    """,
    )
    white = scene.ids["white"]
    assert white.alpha == 0.4
    assert scene.ids["wall"].bsdf is white and scene.ids["floor"].bsdf is white
    assert [s.id for s in scene.shapes()] == ["wall", "floor"]
    # names inside an included file resolve against that file's folder
    assert scene.ids["wall"].filename == str(tmp_path / "parts" / "wall.obj")


def test_include_missing(tmp_path):
    with pytest.raises(SceneError, match=r"scene.xml:\d+: included file 'nope.xml' not found"):
        load(tmp_path, '<include filename="nope.xml"/>')


def test_include_cycle(tmp_path):
    write(tmp_path, "a.xml", '<scene version="3.0.0"><include filename="b.xml"/></scene>')
    write(tmp_path, "b.xml", '<scene version="3.0.0"><include filename="a.xml"/></scene>')
    with pytest.raises(
        SceneError,
        match=r"b.xml:1: include cycle: \S*scene.xml -> \S*a.xml -> \S*b.xml -> \S*a.xml$",
    ):
        load(tmp_path, '<include filename="a.xml"/>')


def test_self_include(tmp_path):
    with pytest.raises(SceneError, match="include cycle"):
        load(tmp_path, '<include filename="scene.xml"/>')


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE scene [<!ENTITY secret SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE scene [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>',
        '<!DOCTYPE scene SYSTEM "http://example.com/evil.dtd">',
    ],
)
def test_entity_declarations_rejected(tmp_path, doctype):
    path = write(
        tmp_path,
        "evil.xml",
        f"""<?xml version="1.0"?>
{doctype}
<scene version="3.0.0"><bsdf type="tfake_bag"><string name="s" value="&secret;"/></bsdf></scene>
""",
    )
    with pytest.raises(
        SceneError, match="evil.xml:2: external/entity declarations are not allowed"
    ):
        load_file(path)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_entity_declarations_rejected_in_wide_encodings(tmp_path, encoding):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET_MARKER")
    doc = (
        f'<?xml version="1.0" encoding="{encoding.upper()}"?>\n'
        f'<!DOCTYPE scene [<!ENTITY a "xx"><!ENTITY s SYSTEM "file://{secret}">]>\n'
        '<scene version="3.0.0"><bsdf type="tfake_bag"><string name="s" value="&a;"/></bsdf>'
        "</scene>\n"
    )
    path = tmp_path / "wide.xml"
    path.write_bytes(doc.encode(encoding))
    with pytest.raises(SceneError, match="wide.xml:2: external/entity declarations") as e:
        load_file(path)
    assert "SECRET_MARKER" not in str(e.value)


def test_plain_doctype_is_fine(tmp_path):
    path = write(tmp_path, "ok.xml", "<!DOCTYPE scene>\n" + scene_xml(""))
    assert len(load_file(path).sensors()) == 1


def test_malformed_xml_reports_line(tmp_path):
    path = write(
        tmp_path,
        "bad.xml",
        """
        <scene version="3.0.0">
            <bsdf type="tfake_diffuse">
                <float name="alpha" value="0.1">
            </bsdf>
        </scene>""",
    )
    with pytest.raises(SceneError, match=r"bad.xml:4: malformed XML"):
        load_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(SceneError, match="not found"):
        load_file(tmp_path / "nope.xml")


@pytest.mark.parametrize(
    "inner,pattern",
    [
        (
            '<bsdf type="tfake_diffuse"><flaot name="alpha" value="1"/></bsdf>',
            r":\d+: unknown element <flaot>",
        ),
        (
            '<bsdf type="tfake_diffuse" colour="red"/>',
            r":\d+: unexpected attribute 'colour' in element <bsdf>",
        ),
        (
            '<bsdf type="tfake_diffuse"><float name="alpha"/></bsdf>',
            r":\d+: missing attribute 'value' in element <float>",
        ),
        ("<bsdf/>", r"missing attribute 'type' in element <bsdf>"),
        (
            '<shape type="tfake_mesh"><ref id="ghost"/></shape>',
            r":\d+: reference to unknown id 'ghost'",
        ),
        (
            '<bsdf type="tfake_bag"><integer name="i" value="1.5"/></bsdf>',
            r"could not parse integer value '1.5'",
        ),
        (
            '<bsdf type="tfake_bag"><float name="f" value="35.f"/></bsdf>',
            r"could not parse floating point value '35.f'",
        ),
        (
            '<bsdf type="tfake_bag"><boolean name="b" value="yes"/></bsdf>',
            r"could not parse boolean value 'yes'",
        ),
        (
            '<bsdf type="tfake_bag"><vector name="v" value="1, 2"/></bsdf>',
            r"exactly 1 or 3 elements",
        ),
        ('<bsdf type="tfake_bag"><vector name="v" value="1, 2, 3" x="4"/></bsdf>', r"can't mix"),
        ('<bsdf type="tfake_bag"><rgb name="c" value="1 2"/></bsdf>', r"one or three values"),
        (
            '<bsdf type="tfake_bag"><spectrum name="c" value="400:1, 500"/></bsdf>',
            r"invalid spectrum",
        ),
        (
            '<bsdf type="tfake_bag"><spectrum name="c" value="1" filename="x.spd"/></bsdf>',
            r"exactly one of 'value' or 'filename'",
        ),
        (
            '<bsdf type="tfake_bag"><spectrum name="c" filename="x.spd"/></bsdf>',
            r"spectrum file 'x.spd' not found",
        ),
        (
            '<bsdf type="tfake_bag"><integer name="a" value="1"/><integer name="a" value="2"/></bsdf>',
            r"'a' was specified multiple times",
        ),
        (
            '<bsdf type="tfake_bag"><translate x="1"/></bsdf>',
            r"can only occur inside a <transform>",
        ),
        (
            '<bsdf type="tfake_bag"><transform name="t"><float name="x" value="1"/></transform></bsdf>',
            r"can only contain transform operations",
        ),
        (
            (
                '<bsdf type="tfake_bag"><integer name="a" value="1"><float name="b" value="1"/>'
                "</integer></bsdf>"
            ),
            r"cannot occur inside a property",
        ),
        (
            '<bsdf type="tfake_bag"><transform name="t"><rotate angle="3"/></transform></bsdf>',
            r"non-zero axis",
        ),
        (
            '<bsdf type="tfake_bag"><transform name="t"><matrix value="1 2 3"/></transform></bsdf>',
            r"expects 16 \(or 9\) values",
        ),
        (
            (
                '<bsdf type="tfake_bag"><transform name="t"><lookat origin="0 0 0" target="0 0 0"/>'
                "</transform></bsdf>"
            ),
            r"invalid <lookat>",
        ),
        ('<bsdf type="tfake_bag" id="_x"/>', r"leading underscores are reserved"),
        ('<bsdf type="tfake_bag"><integer name="_x" value="1"/></bsdf>', r"leading underscores"),
        (
            '<bsdf type="tfake_diffuse" id="a"/><bsdf type="tfake_diffuse" id="a"/>',
            r":\d+: duplicate id 'a' \(previous at .*scene.xml:\d+\)",
        ),
        ('<bsdf type="tfake_bag">hello</bsdf>', r"unexpected text 'hello'"),
        ('<scene version="3.0.0"/>', r"unknown element <scene>"),
    ],
)
def test_error_cases(tmp_path, inner, pattern):
    with pytest.raises(SceneError, match=pattern) as e:
        load(tmp_path, inner)
    assert "scene.xml:" in str(e.value)


def test_unknown_plugin_type(tmp_path):
    with pytest.raises(PluginNotFoundError) as e:
        load(tmp_path, '\n<bsdf type="no_such_bsdf"/>')
    line = line_of(tmp_path / "scene.xml", "no_such_bsdf")
    msg = str(e.value)
    assert f"scene.xml:{line}: unknown bsdf plugin type 'no_such_bsdf'" in msg


def test_bad_property_type_names_plugin_and_line(tmp_path):
    path = write(
        tmp_path,
        "scene.xml",
        scene_xml('<bsdf type="tfake_diffuse">\n<string name="alpha" value="abc"/>\n</bsdf>'),
    )
    line = path.read_text().splitlines().index('<string name="alpha" value="abc"/>') + 1
    with pytest.raises(SceneError) as e:
        load_file(path)
    assert str(e.value).endswith(
        f"tfake_diffuse plugin at {path}:{line}: property 'alpha' expects a float, got string 'abc'"
    )


def test_unknown_property(tmp_path):
    with pytest.raises(
        SceneError,
        match=r"tfake_diffuse plugin at .*scene.xml:\d+: unused "
        r"property 'alhpa'",
    ):
        load(tmp_path, '<bsdf type="tfake_diffuse"><float name="alhpa" value="1"/></bsdf>')


def test_nested_error_reported_first(tmp_path):
    # the scene-level float is also an error, but the nested bad property comes first
    inner = """
        <float name="stray" value="1"/>
        <shape type="tfake_mesh"><bsdf type="tfake_diffuse">
            <float name="oops" value="1"/></bsdf></shape>"""
    with pytest.raises(SceneError, match="unused property 'oops'"):
        load(tmp_path, inner)
    with pytest.raises(SceneError, match="unexpected float property 'stray' at scene level"):
        load(tmp_path, '<float name="stray" value="1"/>')


def test_scene_level_rules(tmp_path):
    with pytest.raises(SceneError, match="only one integrator"):
        load(tmp_path, '<integrator type="tfake_integrator"/>')
    with pytest.raises(SceneError, match="only one environment emitter"):
        load(tmp_path, '<emitter type="tfake_env"/><emitter type="tfake_env"/>')
    scene = load(tmp_path, '<emitter type="tfake_env" id="env"/>')
    assert scene.environment() is scene.ids["env"] and scene.emitters() == [scene.ids["env"]]


def test_root_must_be_scene_with_version(tmp_path):
    with pytest.raises(SceneError, match="root element <bsdf> must be <scene>"):
        load_file(write(tmp_path, "b.xml", '<bsdf type="tfake_diffuse"/>'))
    with pytest.raises(SceneError, match="b.xml:1: missing attribute 'version'"):
        load_file(write(tmp_path, "b.xml", "<scene></scene>"))
    with pytest.raises(SceneError, match="could not parse version number"):
        load_file(write(tmp_path, "b.xml", '<scene version="three"></scene>'))


def test_comments_and_alias(tmp_path):
    scene = load(
        tmp_path,
        """
        <!-- a comment -->
        <bsdf type="tfake_diffuse" id="a"/>
        <alias id="a" as="b"/>
        <shape type="tfake_mesh" id="s"><ref id="b"/></shape>
    """,
    )
    assert scene.ids["s"].bsdf is scene.ids["a"] is scene.ids["b"]


def test_load_string(tmp_path):
    scene = load_string(
        scene_xml(
            '<shape type="tfake_mesh" id="m"><string name="filename" value="x.obj"/></shape>'
        ),
        base_dir=tmp_path,
        spp=2,
    )
    assert scene.sensors()[0].sampler.sample_count == 2
    assert scene.ids["m"].filename == str(tmp_path / "x.obj")
    with pytest.raises(SceneError, match=r"<string>:3: malformed XML"):
        load_string('<scene version="3.0.0">\n\n<bsdf></scene>')
