"""Static checks of the scene files in scenes/ (no rendering): well-formed Mitsuba 3 XML, the ids
that scripts rely on, referenced files present, and Cornell box geometry equal to the reference
(tests/reference/cbox/cbox_scene.md, whose numbers are repeated below so that each check reads
plainly; a further test compares them with that file)."""

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
SCENES = ROOT / "scenes"
REFERENCE_MD = ROOT / "tests" / "reference" / "cbox" / "cbox_scene.md"

# ---- reference Cornell box (mi.cornell_box(), Mitsuba 3.9.1) ----

COLORS = {
    "white": [0.885809, 0.698859, 0.666422],
    "green": [0.105421, 0.37798, 0.076425],
    "red": [0.570068, 0.0430135, 0.0443706],
}
LIGHT_RADIANCE = [18.387, 13.9873, 6.75357]

# key: (bsdf id, obj file, world vertices, front normal or None for boxes)
# fmt: off
CBOX = {
    "light": ("white", "cbox_luminaire.obj",
              [[-0.23, 0.99, -0.18], [0.23, 0.99, -0.18], [0.23, 0.99, 0.2], [-0.23, 0.99, 0.2]],
              [0, -1, 0]),
    "floor": ("white", "cbox_floor.obj",
              [[-1, -1, 1], [1, -1, 1], [1, -1, -1], [-1, -1, -1]], [0, 1, 0]),
    "ceiling": ("white", "cbox_ceiling.obj",
                [[-1, 1, -1], [1, 1, -1], [1, 1, 1], [-1, 1, 1]], [0, -1, 0]),
    "back": ("white", "cbox_back.obj",
             [[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1]], [0, 0, 1]),
    "green-wall": ("green", "cbox_greenwall.obj",
                   [[1, -1, -1], [1, -1, 1], [1, 1, 1], [1, 1, -1]], [-1, 0, 0]),
    "red-wall": ("red", "cbox_redwall.obj",
                 [[-1, -1, 1], [-1, -1, -1], [-1, 1, -1], [-1, 1, 1]], [1, 0, 0]),
    "small-box": ("white", "cbox_smallbox.obj",
                  [[0.13582, -1.0, 0.005397], [-0.039603, -1.0, 0.57918],
                   [0.13582, -0.4, 0.005397], [-0.039603, -0.4, 0.57918],
                   [0.709603, -1.0, 0.18082], [0.53418, -1.0, 0.754603],
                   [0.709603, -0.4, 0.18082], [0.53418, -0.4, 0.754603]], None),
    "large-box": ("white", "cbox_largebox.obj",
                  [[-0.708859, -1.01, -0.470961], [-0.520961, -1.01, 0.098859],
                   [-0.708859, 0.21, -0.470961], [-0.520961, 0.21, 0.098859],
                   [-0.139039, -1.01, -0.658859], [0.048859, -1.01, -0.089039],
                   [-0.139039, 0.21, -0.658859], [0.048859, 0.21, -0.089039]], None),
}
# fmt: on
RECTANGLES = [k for k, v in CBOX.items() if v[3] is not None]
BOXES = [k for k, v in CBOX.items() if v[3] is None]


# ---- helpers ----


def parse(name):
    tree = etree.parse(str(SCENES / name))
    root = tree.getroot()
    assert root.tag == "scene" and root.get("version") == "3.0.0"
    return root


def defaults(root):
    return {d.get("name"): d.get("value") for d in root.findall("default")}


def by_id(root):
    """Declared ids (``<ref id=...>`` elements refer to them and are left out)."""
    ids = {}
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag != "ref" and el.get("id") is not None:
            assert el.get("id") not in ids, f"duplicate id {el.get('id')}"
            ids[el.get("id")] = el
    return ids


def prop(el, name):
    """Value of the direct child property `name` of an element."""
    hits = [c for c in el if isinstance(c.tag, str) and c.get("name") == name]
    assert len(hits) == 1, f"{el.tag} {el.get('id')}: property {name!r} found {len(hits)} times"
    return hits[0]


def floats(text):
    return np.array([float(t) for t in re.split(r"[,\s]+", text.strip())])


def read_obj(path):
    """Positions (N, 3) float64 and triangles (F, 3) int (0-based) of a plain `v`/`f` OBJ."""
    verts, faces = [], []
    for line in path.read_text().splitlines():
        tok = line.split()
        if not tok or tok[0].startswith("#"):
            continue
        if tok[0] == "v":
            verts.append([float(t) for t in tok[1:4]])
        elif tok[0] == "f":
            idx = [int(t.split("/")[0]) - 1 for t in tok[1:]]
            assert len(idx) == 3, f"{path.name}: only triangles expected"
            faces.append(idx)
    return np.array(verts), np.array(faces)


def tri_normals(v, f):
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    return n / np.linalg.norm(n, axis=1, keepdims=True)


ALL_SCENES = ["cbox.xml", "cbox_rectangles.xml", "glass_sphere.xml", "furnace.xml"]


# ---- every scene ----


@pytest.mark.parametrize("name", ALL_SCENES)
def test_well_formed_and_files_exist(name):
    root = parse(name)
    filenames = [el.get("value") for el in root.iter("string") if el.get("name") == "filename"]
    for fn in filenames:
        assert not Path(fn).is_absolute()
        assert (SCENES / fn).is_file(), f"{name}: missing {fn}"
    # every $name used has a <default>
    used = set()
    for el in root.iter():
        if isinstance(el.tag, str):
            for value in el.attrib.values():
                used |= set(re.findall(r"\$(\w+)", value))
    assert used <= defaults(root).keys(), f"{name}: no <default> for {used - defaults(root).keys()}"
    # every <ref> names an object declared before it
    declared = set()
    for el in root.iter():
        if el.tag == "ref":
            assert el.get("id") in declared, f"{name}: <ref id={el.get('id')!r}> before its object"
        elif isinstance(el.tag, str) and el.get("id") is not None:
            declared.add(el.get("id"))
    # one sensor with a film and a sampler, one integrator
    assert len(root.findall("sensor")) == 1 and len(root.findall("integrator")) == 1
    sensor = root.find("sensor")
    assert sensor.get("type") == "perspective"
    assert sensor.find("film").get("type") == "hdrfilm"
    assert sensor.find("sampler").get("type") == "independent"


# ---- Cornell box, OBJ version ----


def test_cbox_settings():
    root = parse("cbox.xml")
    assert defaults(root) == {"spp": "64", "res": "256", "max_depth": "3"}
    integrator = root.find("integrator")
    assert integrator.get("type") == "path"
    assert prop(integrator, "max_depth").get("value") == "$max_depth"
    sensor = root.find("sensor")
    assert float(prop(sensor, "fov").get("value")) == 39.3077
    assert prop(sensor, "fov_axis").get("value") == "smaller"
    assert float(prop(sensor, "near_clip").get("value")) == 0.001
    assert float(prop(sensor, "far_clip").get("value")) == 100
    lookat = prop(sensor, "to_world").find("lookat")
    np.testing.assert_array_equal(floats(lookat.get("origin")), [0, 0, 3.9])
    np.testing.assert_array_equal(floats(lookat.get("target")), [0, 0, 0])
    np.testing.assert_array_equal(floats(lookat.get("up")), [0, 1, 0])
    film = sensor.find("film")
    assert (
        prop(film, "width").get("value") == "$res" and prop(film, "height").get("value") == "$res"
    )
    assert film.find("rfilter").get("type") == "box"
    assert prop(sensor.find("sampler"), "sample_count").get("value") == "$spp"


@pytest.mark.parametrize("name", ["cbox.xml", "cbox_rectangles.xml"])
def test_cbox_materials_and_ids(name):
    root = parse(name)
    ids = by_id(root)
    for bsdf_id, rgb in COLORS.items():
        assert ids[bsdf_id].tag == "bsdf" and ids[bsdf_id].get("type") == "diffuse"
        np.testing.assert_array_equal(floats(prop(ids[bsdf_id], "reflectance").get("value")), rgb)
    shapes = root.findall("shape")
    assert sorted(s.get("id") for s in shapes) == sorted(CBOX)
    for key, (bsdf_id, *_rest) in CBOX.items():
        refs = ids[key].findall("ref")
        assert [r.get("id") for r in refs] == [bsdf_id], key
    emitters = root.iter("emitter")
    assert [e.getparent().get("id") for e in emitters] == ["light"]
    emitter = ids["light"].find("emitter")
    assert emitter.get("type") == "area"
    np.testing.assert_array_equal(floats(prop(emitter, "radiance").get("value")), LIGHT_RADIANCE)


def test_cbox_obj_shapes_reference_their_files():
    ids = by_id(parse("cbox.xml"))
    for key, (_, obj, _v, normal) in CBOX.items():
        shape = ids[key]
        assert shape.get("type") == "obj"
        assert prop(shape, "filename").get("value") == f"meshes/{obj}"
        face_normals = [c for c in shape if c.get("name") == "face_normals"]
        if normal is None:
            assert face_normals[0].tag == "boolean" and face_normals[0].get("value") == "true"
        else:
            assert not face_normals


@pytest.mark.parametrize("key", RECTANGLES)
def test_rectangle_obj_vertices_and_winding(key):
    _, obj, world, normal = CBOX[key]
    v, f = read_obj(SCENES / "meshes" / obj)
    np.testing.assert_array_equal(v, world)  # exact, in the reference corner order
    np.testing.assert_array_equal(f, [[0, 1, 2], [2, 3, 0]])
    np.testing.assert_allclose(tri_normals(v, f), [normal, normal], atol=1e-12)


@pytest.mark.parametrize("key", BOXES)
def test_box_obj_vertices_and_winding(key):
    _, obj, world, _ = CBOX[key]
    world = np.array(world, dtype=np.float64)
    v, f = read_obj(SCENES / "meshes" / obj)
    assert v.shape == (24, 3) and f.shape == (12, 3)
    # each of the 24 vertices is exactly one of the 8 reference corners, each corner 3 times
    corner = np.array([np.flatnonzero((world == p).all(axis=1)) for p in v])
    assert corner.shape == (24, 1)
    assert np.bincount(corner[:, 0], minlength=8).tolist() == [3] * 8
    # 6 faces of 4 own vertices and 2 coplanar triangles each, normals flat and outward
    n = tri_normals(v, f)
    center = world.mean(axis=0)
    for face in range(6):
        tris = f[2 * face : 2 * face + 2]
        assert set(tris.ravel()) == set(range(4 * face, 4 * face + 4))
        np.testing.assert_allclose(n[2 * face], n[2 * face + 1], atol=1e-6)
        assert np.dot(n[2 * face], v[tris[0]].mean(axis=0) - center) > 0
    # closed and consistently oriented: every directed edge (between corners) appears once,
    # and its reverse once
    c = corner[:, 0][f]
    edges = [(a, b) for tri in c for a, b in zip(tri, np.roll(tri, -1))]
    assert len(set(edges)) == 36
    assert all((b, a) in set(edges) for a, b in edges)


# ---- Cornell box, rectangle/cube version ----


def to_world(shape):
    matrix = prop(shape, "to_world").find("matrix")
    return floats(matrix.get("value")).reshape(4, 4)


def apply(m, pts):
    pts = np.asarray(pts, dtype=np.float64)
    return pts @ m[:3, :3].T + m[:3, 3]


def test_cbox_rectangles_transforms():
    root = parse("cbox_rectangles.xml")
    assert defaults(root) == defaults(parse("cbox.xml"))
    ids = by_id(root)
    square = [[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]]
    cube = [[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]  # x slowest
    for key, (_, _, world, normal) in CBOX.items():
        shape = ids[key]
        m = to_world(shape)
        np.testing.assert_array_equal(m[3], [0, 0, 0, 1])
        if normal is not None:
            assert shape.get("type") == "rectangle"
            np.testing.assert_allclose(apply(m, square), world, atol=1e-6)
            n = np.linalg.inv(m[:3, :3]).T @ [0, 0, 1]
            np.testing.assert_allclose(n / np.linalg.norm(n), normal, atol=1e-6)
        else:
            assert shape.get("type") == "cube"
            np.testing.assert_allclose(apply(m, cube), world, atol=1e-6)


def test_cbox_sensor_identical_in_both_versions():
    a, b = parse("cbox.xml"), parse("cbox_rectangles.xml")
    for tag in ("sensor", "integrator"):
        assert etree.tostring(a.find(tag)) == etree.tostring(b.find(tag))


def test_expected_values_match_reference_md():
    text = REFERENCE_MD.read_text()
    shapes = json.loads(
        re.search(r"```json\n(.*?)```", text.split("## Shapes")[1], re.DOTALL).group(1)
    )
    bsdfs = json.loads(
        re.search(r"```json\n(.*?)```", text.split("## BSDFs")[1], re.DOTALL).group(1)
    )
    assert sorted(shapes) == sorted(CBOX)
    for key, (bsdf_id, _, world, normal) in CBOX.items():
        assert shapes[key]["bsdf"] == bsdf_id
        assert shapes[key]["world_vertices"] == world
        if normal is not None:
            assert shapes[key]["world_normal (emitting/front side)"] == normal
    for bsdf_id, rgb in COLORS.items():
        assert bsdfs[bsdf_id]["reflectance"]["value"] == rgb
    assert shapes["light"]["emitter"]["radiance"]["value"] == LIGHT_RADIANCE
    for key in CBOX:
        m = to_world(by_id(parse("cbox_rectangles.xml"))[key])
        np.testing.assert_array_equal(m, shapes[key]["to_world"])


# ---- glass sphere (PyTorch interop tutorial) ----


def test_glass_sphere_scene():
    root = parse("glass_sphere.xml")
    assert {"res", "spp"} <= defaults(root).keys()
    assert root.find("integrator").get("type") == "prb"
    ids = by_id(root)
    assert {"textured_plane", "glass_sphere", "light"} <= ids.keys()
    sensor = root.find("sensor")
    assert float(prop(sensor, "fov").get("value")) == 60
    lookat = prop(sensor, "to_world").find("lookat")
    np.testing.assert_array_equal(floats(lookat.get("origin")), [0, 0, -2])
    np.testing.assert_array_equal(floats(lookat.get("up")), [0, -1, 0])
    film = sensor.find("film")
    assert (
        prop(film, "width").get("value") == "$res" and prop(film, "height").get("value") == "$res"
    )

    plane = ids["textured_plane"]
    assert plane.get("type") == "rectangle"
    assert float(prop(plane, "to_world").find("scale").get("value")) == 1.2
    # key textured_plane.bsdf.brdf_0.reflectance.data: twosided > diffuse > bitmap reflectance
    twosided = plane.find("bsdf")
    assert twosided.get("type") == "twosided"
    (diffuse,) = twosided.findall("bsdf")
    assert diffuse.get("type") == "diffuse"
    bitmap = prop(diffuse, "reflectance")
    assert bitmap.tag == "texture" and bitmap.get("type") == "bitmap"
    assert prop(bitmap, "filename").get("value") == "textures/image_001.png"

    sphere = ids["glass_sphere"]
    assert sphere.get("type") == "sphere"
    ops = list(prop(sphere, "to_world"))
    assert [op.tag for op in ops] == ["scale", "translate"]  # scale first, as T.translate().scale()
    assert float(ops[0].get("value")) == 0.45
    np.testing.assert_array_equal(floats(ops[1].get("value")), [0, 0, -1])
    glass = sphere.find("bsdf")
    assert glass.get("type") == "dielectric" and float(prop(glass, "int_ior").get("value")) == 1.06
    assert ids["light"].tag == "emitter" and ids["light"].get("type") == "constant"


def test_textures_present_and_reproducible(tmp_path):
    import imageio.v3 as iio

    spec = importlib.util.spec_from_file_location(
        "make_textures", SCENES / "textures" / "make_textures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for i in range(1, 5):
        name = f"image_{i:03d}.png"
        committed = iio.imread(SCENES / "textures" / name)
        assert committed.shape == (64, 64, 3) and committed.dtype == np.uint8
        assert committed.std() > 10  # not blank
        np.testing.assert_array_equal(iio.imread(tmp_path / name), committed)


# ---- white furnace ----


def test_furnace_scene():
    root = parse("furnace.xml")
    d = defaults(root)
    assert float(d["albedo"]) == 0.8 and float(d["radiance"]) == 1
    assert int(d["res"]) == 64 and int(d["max_depth"]) == -1
    integrator = root.find("integrator")
    assert integrator.get("type") == "path"
    assert prop(integrator, "max_depth").get("value") == "$max_depth"
    film = root.find("sensor").find("film")
    assert film.find("rfilter").get("type") == "box"
    ids = by_id(root)
    sphere = ids["sphere"]
    assert sphere.get("type") == "sphere"
    np.testing.assert_array_equal(floats(prop(sphere, "center").get("value")), [0, 0, 0])
    assert float(prop(sphere, "radius").get("value")) == 1
    bsdf = sphere.find("bsdf")
    assert bsdf.get("type") == "diffuse" and prop(bsdf, "reflectance").get("value") == "$albedo"
    (emitter,) = root.findall("emitter")
    assert emitter.get("type") == "constant"
    assert prop(emitter, "radiance").get("value") == "$radiance"
    # the camera sees the whole sphere with background around it
    sensor = root.find("sensor")
    origin = floats(prop(sensor, "to_world").find("lookat").get("origin"))
    half_fov = np.radians(float(prop(sensor, "fov").get("value")) / 2)
    assert np.arcsin(1 / np.linalg.norm(origin)) < 0.9 * half_fov
