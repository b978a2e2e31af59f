"""Bad scene input fails loudly and precisely; odd input that Mitsuba renders is rendered.

Every rejection is a `SceneError` (a `ValueError`; `PluginNotFoundError` for unknown plugin
types) whose message names the culprit: ``file.xml:LINE`` for XML, ``dict key 'a.b'`` for dicts,
and the property, plugin type or file name at fault. Where Mitsuba 3 renders odd input (an empty
scene, no emitter, no sensor, degenerate or non-manifold meshes) the scene loads and renders
finite pixels, black where Mitsuba gives black.
"""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest

import taichi_render as tr
from taichi_render.core.errors import PluginNotFoundError, SceneError
from taichi_render.render import layout as L
from taichi_render.render.renderer import scene_data

T = tr.ScalarTransform4f
HEADER = '<scene version="3.0.0">'


def write(folder, name, text):
    path = folder / name
    path.write_text(text)
    return path


def scene_file(folder, body, name="scene.xml"):
    """A scene file whose first line is the <scene> tag: `body` starts on line 2."""
    return write(folder, name, f"{HEADER}\n{body}\n</scene>\n")


def scene_error(fn, *needles, cls=SceneError) -> str:
    """Run `fn`, expect `cls`, check the message names every needle; returns the message."""
    with pytest.raises(cls) as info:
        fn()
    msg = str(info.value)
    assert isinstance(info.value, ValueError)
    for needle in needles:
        assert str(needle) in msg, f"{needle!r} not in {msg!r}"
    return msg


def small_sensor(res=8, spp=1):
    return {
        "type": "perspective",
        "fov": 45,
        "to_world": T.look_at([0, 0, 4], [0, 0, 0], [0, 1, 0]),
        "film": {"type": "hdrfilm", "width": res, "height": res, "rfilter": {"type": "box"}},
        "sampler": {"type": "independent", "sample_count": spp},
    }


SMALL_SENSOR_XML = """<sensor type="perspective">
<transform name="to_world"><lookat origin="0, 0, 4" target="0, 0, 0" up="0, 1, 0"/></transform>
<film type="hdrfilm"><integer name="width" value="8"/><integer name="height" value="8"/></film>
</sensor>"""


def finite_render(scene, spp=2) -> np.ndarray:
    image = tr.render(scene, spp=spp, seed=1).to_numpy()
    assert np.all(np.isfinite(image)), "render produced NaN or inf"
    return image


# ---------------------------------------------------------------------------------------------
# malformed XML: file and line


SPHERE = '<shape type="sphere">'
MALFORMED = {
    # name: (text, line the parser reports)
    "unclosed element": (f'{HEADER}\n{SPHERE}\n<float name="radius" value="1"/>\n</scene>\n', 4),
    "unquoted attribute": (f'{HEADER}\n{SPHERE}\n<float name=radius value="1"/>\n</shape>', 3),
    "bare ampersand": (f'{HEADER}\n<bsdf type="diffuse" id="a&b"/>\n</scene>\n', 2),
    "text after the root": (f'{HEADER}\n</scene>\n\n\n<scene version="3.0.0"/>\n', 5),
    "truncated": (f'{HEADER}\n<shape type="sphere">\n<float name="radius" val', 3),
    "empty file": ("", 1),
    "binary junk": (bytes(range(256)).decode("latin-1"), 1),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_xml_names_file_and_line(tmp_path, case):
    text, line = MALFORMED[case]
    path = tmp_path / "broken.xml"
    path.write_bytes(text.encode("latin-1"))
    msg = scene_error(lambda: tr.load_file(path), f"{path}:{line}:")
    assert "malformed XML" in msg


@pytest.mark.parametrize(
    "text, needle",
    [
        ('<scene>\n</scene>', ":1: missing attribute 'version'"),
        ('<scene version="three">\n</scene>', ":1: could not parse version number"),
        ('<shape type="sphere"/>', ":1: root element <shape> must be <scene>"),
        (f'{HEADER}\n<shpae type="sphere"/>\n</scene>', ":2: unknown element <shpae>"),
        (f'{HEADER}\n<shape type="sphere">\n<float name="radius"/>\n</shape></scene>', ":3:"),
    ],
)
def test_structural_errors_name_file_and_line(tmp_path, text, needle):
    path = write(tmp_path, "s.xml", text)
    scene_error(lambda: tr.load_file(path), f"{path}{needle}")


def test_missing_scene_file_or_folder(tmp_path):
    missing = tmp_path / "nope.xml"
    scene_error(lambda: tr.load_file(missing), str(missing), "not found")
    scene_error(lambda: tr.load_file(tmp_path), str(tmp_path), "not found")


# ---------------------------------------------------------------------------------------------
# unknown plugin types, unknown and ill-typed properties


def test_unknown_plugin_type_xml(tmp_path):
    path = scene_file(tmp_path, '<shape type="sphere">\n<bsdf type="principled"/>\n</shape>')
    msg = scene_error(lambda: tr.load_file(path), f"{path}:3:", "'principled'", "bsdf",
                      cls=PluginNotFoundError)
    assert "diffuse" in msg  # lists what exists


def test_unknown_plugin_type_dict():
    d = {"type": "scene", "teapot": {"type": "utah_teapot"}}
    scene_error(lambda: tr.load_dict(d), "dict key 'teapot'", "'utah_teapot'",
                cls=PluginNotFoundError)
    d = {"type": "scene", "ball": {"type": "sphere", "bsdf": {"type": "principled"}}}
    scene_error(lambda: tr.load_dict(d), "dict key 'ball.bsdf'", "'principled'",
                cls=PluginNotFoundError)


def test_unknown_property_xml_and_dict(tmp_path):
    path = scene_file(tmp_path, '<shape type="sphere">\n<float name="raduis" value="1"/>\n</shape>')
    scene_error(lambda: tr.load_file(path), f"{path}:3", "'raduis'", "sphere")
    d = {"type": "scene", "ball": {"type": "sphere",
                                   "bsdf": {"type": "diffuse", "reflectanse": [0.5, 0.5, 0.5]}}}
    scene_error(lambda: tr.load_dict(d), "dict key 'ball.bsdf.reflectanse'", "'reflectanse'",
                "diffuse")


@pytest.mark.parametrize(
    "body, needles",
    [
        ('<shape type="sphere">\n<string name="radius" value="big"/></shape>',
         [":3", "'radius'", "float"]),
        ('<integrator type="path">\n<integer name="max_depth" value="3.5"/></integrator>',
         [":3", "integer", "'3.5'"]),
        ('<shape type="sphere">\n<float name="radius" value="1.0.0"/></shape>', [":3", "'1.0.0'"]),
        ('<shape type="sphere">\n<boolean name="flip_normals" value="maybe"/></shape>',
         [":3", "'maybe'"]),
        (('<shape type="sphere"><bsdf type="diffuse">\n<rgb name="reflectance" value="1, 2"/>'
          "</bsdf></shape>"), [":3", "<rgb>"]),
        ('<shape type="sphere">\n<rgb name="to_world" value="1, 2, 3"/></shape>',
         [":3", "'to_world'", "transform"]),
        ('<shape type="sphere">\n<float name="radius" value="-1"/></shape>', [":3", "'radius'"]),
        ('<shape type="sphere">\n<float name="radius" value="nan"/></shape>', [":3", "'radius'"]),
        (('<shape type="sphere"><emitter type="area">\n<rgb name="radiance" value="inf"/>'
          "</emitter></shape>"), [":3", "finite"]),
    ],
    ids=["string-for-float", "float-for-int", "bad-float", "bad-bool", "rgb-2-values",
         "rgb-for-transform", "negative-radius", "nan-radius", "inf-radiance"],
)
def test_ill_typed_property_xml(tmp_path, body, needles):
    path = scene_file(tmp_path, body)
    scene_error(lambda: tr.load_file(path), *[f"{path}{n}" if n.startswith(":") else n
                                              for n in needles])


@pytest.mark.parametrize(
    "plugin, key, needles",
    [
        ({"type": "sphere", "radius": "big"}, "radius", ["float"]),
        ({"type": "sphere", "flip_normals": "yes"}, "flip_normals", ["boolean"]),
        ({"type": "sphere", "center": [0, 0]}, "center", []),
        ({"type": "sphere", "to_world": [1, 2, 3]}, "to_world", ["transform"]),
        ({"type": "sphere", "bsdf": {"type": "diffuse", "reflectance": {
            "type": "rgb", "value": [0.5, float("nan"), 0]}}}, "bsdf.reflectance", ["finite"]),
        ({"type": "sphere", "bsdf": {"type": "diffuse", "reflectance": {
            "type": "rgb", "value": "red"}}}, "bsdf.reflectance", ["rgb"]),
        ({"type": "sphere", "radius": None}, "radius", ["None"]),
    ],
    ids=["string-for-float", "string-for-bool", "2-vector", "3-vector-for-transform", "nan-rgb",
         "string-rgb", "none"],
)
def test_ill_typed_property_dict(plugin, key, needles):
    d = {"type": "scene", "ball": plugin}
    scene_error(lambda: tr.load_dict(d), f"dict key 'ball.{key}'", *needles)


def test_ill_typed_integrator_and_sampler_dict():
    d = {"type": "scene", "integrator": {"type": "path", "max_depth": 3.5}}
    scene_error(lambda: tr.load_dict(d), "dict key 'integrator.max_depth'", "'max_depth'")
    d = {"type": "scene", "cam": {**small_sensor(), "sampler": {"type": "independent",
                                                               "sample_count": "4"}}}
    scene_error(lambda: tr.load_dict(d), "dict key 'cam.sampler.sample_count'", "'sample_count'")


@pytest.mark.parametrize("op", [
    '<translate value="inf, 0, 0"/>',
    '<scale value="nan"/>',
    '<rotate y="1" angle="inf"/>',
    '<matrix value="nan 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1"/>',
])
def test_non_finite_transform_op_names_file_and_line(tmp_path, op):
    path = scene_file(tmp_path, f'<shape type="sphere">\n<transform name="to_world">\n{op}\n'
                                "</transform></shape>")
    scene_error(lambda: tr.load_file(path), f"{path}:4:")


# ---------------------------------------------------------------------------------------------
# missing files


@pytest.mark.parametrize(
    "body, culprit",
    [
        ('<shape type="obj">\n<string name="filename" value="meshes/nope.obj"/></shape>',
         "nope.obj"),
        ('<shape type="ply">\n<string name="filename" value="nope.ply"/></shape>', "nope.ply"),
        (('<shape type="sphere"><bsdf type="diffuse">\n<texture type="bitmap" '
          'name="reflectance"><string name="filename" value="textures/nope.png"/></texture>'
          "</bsdf></shape>"), "nope.png"),
        ('<emitter type="envmap">\n<string name="filename" value="sky.exr"/></emitter>', "sky.exr"),
        (('<shape type="sphere"><emitter type="area">\n<spectrum name="radiance" '
          'filename="nope.spd"/></emitter></shape>'), "nope.spd"),
        ('<include filename="parts/nope.xml"/>', "nope.xml"),
    ],
    ids=["obj", "ply", "bitmap", "envmap", "spectrum", "include"],
)
def test_missing_file_names_file_and_line(tmp_path, body, culprit):
    path = scene_file(tmp_path, body)
    msg = scene_error(lambda: tr.load_file(path), f"{path}:", culprit)
    assert f"{path}:1:" not in msg  # the line of the element, not of <scene>


def test_missing_files_in_dicts(tmp_path):
    for key, plugin, culprit in [
        ("mesh", {"type": "obj", "filename": str(tmp_path / "nope.obj")}, "nope.obj"),
        ("mesh", {"type": "ply", "filename": str(tmp_path / "nope.ply")}, "nope.ply"),
        ("ball", {"type": "sphere", "bsdf": {"type": "diffuse", "reflectance": {
            "type": "bitmap", "filename": str(tmp_path / "nope.png")}}}, "nope.png"),
    ]:
        d = {"type": "scene", key: plugin}
        scene_error(lambda d=d: tr.load_dict(d), f"dict key '{key}", culprit)


# ---------------------------------------------------------------------------------------------
# <include> loops


def test_include_loop_is_reported_with_the_chain(tmp_path):
    write(tmp_path, "a.xml", f'{HEADER}\n<include filename="b.xml"/>\n</scene>')
    write(tmp_path, "b.xml", f'{HEADER}\n\n<include filename="a.xml"/>\n</scene>')
    msg = scene_error(lambda: tr.load_file(tmp_path / "a.xml"), "include cycle",
                      f"{tmp_path / 'b.xml'}:3:")
    assert msg.count("a.xml") >= 2 and "b.xml" in msg


def test_self_include_and_three_cycle(tmp_path):
    write(tmp_path, "self.xml", f'{HEADER}\n<include filename="self.xml"/>\n</scene>')
    scene_error(lambda: tr.load_file(tmp_path / "self.xml"), "include cycle",
                f"{tmp_path / 'self.xml'}:2:")
    (tmp_path / "sub").mkdir()
    write(tmp_path, "x.xml", f'{HEADER}\n<include filename="sub/y.xml"/>\n</scene>')
    write(tmp_path / "sub", "y.xml", f'{HEADER}\n<include filename="../z.xml"/>\n</scene>')
    write(tmp_path, "z.xml", f'{HEADER}\n<include filename="x.xml"/>\n</scene>')
    msg = scene_error(lambda: tr.load_file(tmp_path / "x.xml"), "include cycle")
    assert all(n in msg for n in ("x.xml", "y.xml", "z.xml"))


# ---------------------------------------------------------------------------------------------
# meshes: NaN vertices are rejected; degenerate and non-manifold meshes render (as in Mitsuba)


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_non_finite_vertices_rejected(tmp_path, bad):
    write(tmp_path, "bad.obj", f"v 0 0 0\nv 1 0 {bad}\nv 0 1 0\nf 1 2 3\n")
    path = scene_file(tmp_path, '<shape type="obj">\n<string name="filename" value="bad.obj"/>'
                                "</shape>")
    scene_error(lambda: tr.load_file(path), "bad.obj", "non-finite", f"{path}:2")
    d = {"type": "scene", "mesh": {"type": "obj", "filename": str(tmp_path / "bad.obj")}}
    scene_error(lambda: tr.load_dict(d), "dict key 'mesh", "non-finite")


def test_out_of_range_face_and_empty_mesh(tmp_path):
    write(tmp_path, "oob.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf 1 2 9\n")
    path = scene_file(tmp_path, '<shape type="obj">\n<string name="filename" value="oob.obj"/>'
                                "</shape>")
    scene_error(lambda: tr.load_file(path), "oob.obj:5", "9")
    write(tmp_path, "empty.obj", "v 0 0 0\nv 1 0 0\n")
    path = scene_file(tmp_path, '<shape type="obj">\n<string name="filename" value="empty.obj"/>'
                                "</shape>", name="empty.xml")
    scene_error(lambda: tr.load_file(path), "empty.obj", "no faces")


def _mesh_scene(tmp_path, obj_text, as_emitter):
    (tmp_path / "m.obj").write_text(obj_text)
    d = {
        "type": "scene",
        "integrator": {"type": "path", "max_depth": 4},
        "sensor": small_sensor(16),
        "floor": {"type": "rectangle", "to_world": T.translate([0, 0, -1]).scale(3)},
        "mesh": {"type": "obj", "filename": str(tmp_path / "m.obj"),
                 "to_world": T.translate([0, 0, 1]).rotate([1, 0, 0], 180)},
        "env": {"type": "constant", "radiance": {"type": "rgb", "value": [0.2, 0.2, 0.2]}},
    }
    if as_emitter:
        d["mesh"]["emitter"] = {"type": "area", "radiance": {"type": "rgb", "value": [5, 5, 5]}}
    return tr.load_dict(d)


MIXED_DEGENERATE = ("v -1 -1 0\nv 1 -1 0\nv 1 1 0\nv -1 1 0\nv 0 0 0\nv 2 2 0\n"
                    "f 1 2 3\nf 1 3 4\nf 1 1 2\nf 5 5 5\nf 1 3 5\nf 1 3 6\n")
# 4 zero-area faces: repeated corners and the collinear slivers (1, 3, 5), (1, 3, 6)
ALL_DEGENERATE = "v -1 -1 0\nv 1 -1 0\nv 2 -1 0\nf 1 2 3\nf 1 1 1\nf 2 2 3\n"
NON_MANIFOLD = (  # an edge shared by 4 faces, a duplicated face, mixed winding, lone vertex
    "v -1 -1 0\nv 1 -1 0\nv 0 1 0\nv 0 0 1\nv 0 0 -1\nv 5 5 5\n"
    "f 1 2 3\nf 1 2 4\nf 1 2 5\nf 2 1 3\nf 1 2 3\n"
)


@pytest.mark.parametrize("as_emitter", [False, True], ids=["surface", "emitter"])
@pytest.mark.parametrize("obj, degenerate", [(MIXED_DEGENERATE, 4), (ALL_DEGENERATE, 3),
                                              (NON_MANIFOLD, 0)],
                         ids=["mixed-degenerate", "all-degenerate", "non-manifold"])
def test_degenerate_and_non_manifold_meshes_render(tmp_path, obj, degenerate, as_emitter):
    scene = _mesh_scene(tmp_path, obj, as_emitter)
    mesh = scene.ids["mesh"]
    assert mesh.degenerate_face_count == degenerate
    image = finite_render(scene)
    assert image.max() > 0  # the environment lights the floor
    if obj is ALL_DEGENERATE and as_emitter:
        # a zero-area light adds nothing: same mean as without it (the noise differs, since
        # emitter sampling now picks it half of the time)
        lit = tr.render(scene, spp=64, seed=2).to_numpy().mean()
        unlit = tr.render(_mesh_scene(tmp_path, obj, as_emitter=False), spp=64, seed=2)
        np.testing.assert_allclose(lit, unlit.to_numpy().mean(), rtol=0.05)


# ---------------------------------------------------------------------------------------------
# empty scenes, no emitter, no sensor: what Mitsuba does


def test_empty_scene_renders_black(tmp_path):
    for scene in (tr.load_dict({"type": "scene"}),
                  tr.load_file(write(tmp_path, "empty.xml", f"{HEADER}</scene>"))):
        assert scene.shapes() == [] and scene.emitters() == []
        (sensor,) = scene.sensors()
        assert sensor.type_name == "perspective"
        assert tuple(sensor.film().crop_size()) == (768, 576)  # Mitsuba's default film
        image = tr.render(scene, spp=1).to_numpy()
        assert image.shape == (576, 768, 3)
        assert not image.any(), "an empty scene renders black"


def test_scene_without_emitter_renders_black():
    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = 16
    del d["light"]["emitter"]
    scene = tr.load_dict(d)
    assert scene.emitters() == []
    # no emitter is sampled: the emitter table's placeholder row is not an emitter (it was
    # counted once, and sampling it read the CDF array at index -1: a rare segmentation fault)
    assert scene_data(scene).np["scene_i"][L.SC_NUM_EMITTERS] == 0
    image = tr.render(scene, spp=2).to_numpy()
    assert image.shape == (16, 16, 3) and not image.any()


def test_xml_scene_without_emitter_renders_black(tmp_path):
    path = scene_file(tmp_path, SMALL_SENSOR_XML + '\n<shape type="sphere"/>')
    image = tr.render(tr.load_file(path), spp=2).to_numpy()
    assert image.shape == (8, 8, 3) and not image.any()


def test_scene_without_sensor_gets_mitsubas_default_sensor():
    scene = tr.load_dict({
        "type": "scene",
        "ball": {"type": "sphere", "center": [0, 0, 5], "radius": 1.0,
                 "bsdf": {"type": "diffuse", "reflectance": {"type": "rgb", "value": [0.2] * 3}}},
        "env": {"type": "constant", "radiance": {"type": "rgb", "value": [1.0, 1.0, 1.0]}},
    })
    (sensor,) = scene.sensors()
    assert sensor.type_name == "perspective" and sensor.film().crop_size() == (768, 576)
    image = finite_render(scene, spp=1)
    h, w = image.shape[:2]
    center = image[h // 2 - 8: h // 2 + 8, w // 2 - 8: w // 2 + 8]
    assert center.mean() < 0.5, "the default camera looks at the scene's bounding box"
    np.testing.assert_allclose(image[0, 0], 1.0, rtol=1e-6)  # the environment in the corner


# ---------------------------------------------------------------------------------------------
# absurd sizes


@pytest.mark.parametrize(
    "film, sampler, culprit",
    [
        ({"width": -4}, {}, "width"),
        ({"width": 0}, {}, "width"),
        ({"height": -1}, {}, "height"),
        ({}, {"sample_count": -4}, "sample_count"),
        ({}, {"sample_count": 0}, "sample_count"),
    ],
)
def test_negative_or_zero_sizes_rejected(tmp_path, film, sampler, culprit):
    sensor = small_sensor()
    sensor["film"].update(film)
    sensor["sampler"].update(sampler)
    scene_error(lambda: tr.load_dict({"type": "scene", "cam": sensor}), culprit, "dict key 'cam.")
    props = "".join(f'<integer name="{k}" value="{v}"/>' for k, v in {**film, **sampler}.items())
    tag = "film" if film else "sampler"
    kind = "hdrfilm" if film else "independent"
    path = scene_file(tmp_path, f'<sensor type="perspective">\n<{tag} type="{kind}">\n{props}\n'
                                f"</{tag}></sensor>")
    scene_error(lambda: tr.load_file(path), culprit, f"{path}:")


@pytest.mark.parametrize("spp", [0, -1, 1.5, "4", True])
def test_bad_spp_at_render_time(spp):
    scene = tr.load_dict({"type": "scene", "cam": small_sensor(4)})
    with pytest.raises(ValueError, match="spp"):
        tr.render(scene, spp=spp)


@pytest.mark.parametrize(
    "film, sampler",
    [({}, {"sample_count": 2**32}), ({"width": 2**31}, {}), ({"height": 10**23}, {}),
     ({"width": 50_000, "height": 50_000}, {})],
    ids=["sample_count-2^32", "width-2^31", "height-1e23", "50000x50000"],
)
def test_sizes_beyond_32_bits_rejected_at_load(film, sampler):
    sensor = small_sensor()
    sensor["film"].update(film)
    sensor["sampler"].update(sampler)
    culprit = next(iter({**film, **sampler}))
    scene_error(lambda: tr.load_dict({"type": "scene", "cam": sensor}), culprit)


def test_spp_beyond_32_bits_rejected_at_render_time():
    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = 4
    scene = tr.load_dict(d)
    with pytest.raises(ValueError, match="spp"):
        image = tr.render(scene, spp=2**32).to_numpy()
        pytest.fail(f"rendered with spp=2**32: image mean {image.mean()}")


# ---------------------------------------------------------------------------------------------
# entities, DTDs and XInclude: rejected, nothing fetched or expanded


class CountingServer:
    """A TCP listener on 127.0.0.1 counting the connections anything makes to it."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def server():
    s = CountingServer()
    yield s
    s.close()


SECRET = "TOP-SECRET-0xC0FFEE"


def _entity_documents(url: str, secret_path) -> dict:
    use = '<shape type="sphere" id="&x;"/>'
    return {
        "external general entity (file)":
            f'<?xml version="1.0"?>\n<!DOCTYPE scene [\n<!ENTITY x SYSTEM "file://{secret_path}">'
            f"\n]>\n{HEADER}{use}</scene>",
        "external general entity (http)":
            f'<!DOCTYPE scene [<!ENTITY x SYSTEM "{url}/x">]>\n{HEADER}{use}</scene>',
        "external DTD": f'<!DOCTYPE scene SYSTEM "{url}/evil.dtd">\n{HEADER}</scene>',
        "public DTD": f'<!DOCTYPE scene PUBLIC "-//X//EN" "{url}/p.dtd">\n{HEADER}</scene>',
        "parameter entity":
            f'<!DOCTYPE scene [<!ENTITY % p SYSTEM "{url}/p.ent"> %p;]>\n{HEADER}</scene>',
        "internal entity": f'<!DOCTYPE scene [<!ENTITY x "boom">]>\n{HEADER}{use}</scene>',
        "billion laughs":
            "<!DOCTYPE scene [<!ENTITY a \"aaaaaaaaaa\">"
            + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'
                      for i in range(9))
            + f']>\n{HEADER}<shape type="sphere" id="&j;"/></scene>',
    }


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
@pytest.mark.parametrize("case", sorted(_entity_documents("http://x", "/x")))
def test_entity_and_dtd_declarations_rejected_without_fetching(tmp_path, server, case, encoding):
    secret = write(tmp_path, "secret.txt", SECRET)
    url = f"http://127.0.0.1:{server.port}"
    text = _entity_documents(url, secret)[case]
    if encoding == "utf-16":
        text = text.replace('<?xml version="1.0"?>', "")
        text = f'<?xml version="1.0" encoding="utf-16"?>\n{text}'
    path = tmp_path / "evil.xml"
    path.write_bytes(text.encode(encoding))
    t0 = time.perf_counter()
    msg = scene_error(lambda: tr.load_file(path), str(path), "not allowed")
    assert time.perf_counter() - t0 < 5.0  # nothing expanded
    assert SECRET not in msg
    for loader in (lambda: tr.load_string(text), ):  # the string loader too (utf-8 source)
        with pytest.raises(SceneError, match="not allowed"):
            loader()
    time.sleep(0.05)
    assert server.connections == 0, "the loader connected to the network"


def test_xinclude_is_not_processed(tmp_path):
    secret = write(tmp_path, "secret.txt", SECRET)
    path = scene_file(
        tmp_path,
        f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{secret}" parse="text"/>',
    )
    msg = scene_error(lambda: tr.load_file(path), f"{path}:2:", "unknown element")
    assert SECRET not in msg
