"""Shape plugins: Mitsuba's rectangle/cube layouts, OBJ/PLY readers, sphere, disk, children."""

import json
import pathlib
import re

import numpy as np
import pytest
from plyfile import PlyData, PlyElement

import taichi_render as tr
from taichi_render.shapes.mesh import Mesh, smooth_vertex_normals

T = tr.ScalarTransform4f
CBOX = pathlib.Path(__file__).resolve().parents[1] / "reference" / "cbox"


def _cbox_shapes():
    """The "Shapes" JSON block of cbox_scene.md (Mitsuba 3.9.1's own numbers)."""
    text = (CBOX / "cbox_scene.md").read_text()
    block = re.search(r"## Shapes.*?```json\n(.*?)```", text, re.DOTALL).group(1)
    return json.loads(block)


def _face_normals(mesh):
    v = mesh.vertex_positions.astype(np.float64)[mesh.faces]
    n = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    return n / np.linalg.norm(n, axis=1, keepdims=True)


# ---- rectangle ----
def test_rectangle_is_mitsubas_layout():
    r = tr.load_dict({"type": "rectangle"})
    assert isinstance(r, Mesh)
    np.testing.assert_array_equal(
        r.vertex_positions, [[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]]
    )
    np.testing.assert_array_equal(r.vertex_texcoords, [[0, 0], [1, 0], [1, 1], [0, 1]])
    np.testing.assert_array_equal(r.vertex_normals, [[0, 0, 1]] * 4)
    np.testing.assert_array_equal(r.faces, [[0, 1, 2], [2, 3, 0]])
    assert r.faces.dtype == np.int32 and r.vertex_positions.dtype == np.float32
    assert r.vertex_normals.dtype == np.float32 and r.vertex_texcoords.dtype == np.float32
    # texcoords are Mitsuba's uv = local.xy / 2 + 1/2; winding agrees with the normal
    np.testing.assert_allclose(r.vertex_texcoords, r.vertex_positions[:, :2] / 2 + 0.5)
    np.testing.assert_allclose(_face_normals(r), [[0, 0, 1]] * 2)
    assert r.surface_area() == pytest.approx(4.0)
    assert r.flip_normals is False and r.face_normals is False and r.emitter is None


@pytest.mark.parametrize("name", ["light", "floor", "ceiling", "back", "green-wall", "red-wall"])
def test_rectangle_cbox_world_geometry(name):
    ref = _cbox_shapes()[name]
    r = tr.load_dict({"type": "rectangle", "to_world": ref["to_world"]})
    np.testing.assert_allclose(r.vertex_positions, ref["world_vertices"], atol=1e-6)
    n = ref["world_normal (emitting/front side)"]
    np.testing.assert_allclose(r.vertex_normals, [n] * 4, atol=1e-6)
    np.testing.assert_allclose(_face_normals(r), [n] * 2, atol=1e-6)
    np.testing.assert_array_equal(r.to_world, np.array(ref["to_world"]))


def test_rectangle_flip_normals_is_a_flag():
    r = tr.load_dict({"type": "rectangle", "flip_normals": True})
    assert r.flip_normals is True
    np.testing.assert_array_equal(r.vertex_normals, [[0, 0, 1]] * 4)  # the renderer negates


# ---- cube ----
def test_cube_is_mitsubas_layout():
    c = tr.load_dict({"type": "cube"})
    assert c.vertex_positions.shape == (24, 3) and c.faces.shape == (12, 3)
    assert c.vertex_normals.shape == (24, 3) and c.vertex_texcoords.shape == (24, 2)
    np.testing.assert_array_equal(c.faces[:2], [[0, 1, 2], [3, 0, 2]])
    np.testing.assert_array_equal(c.faces[-2:], [[20, 21, 22], [23, 20, 22]])
    np.testing.assert_array_equal(
        c.vertex_positions[:4], [[1, -1, -1], [1, -1, 1], [-1, -1, 1], [-1, -1, -1]]
    )
    np.testing.assert_array_equal(c.vertex_texcoords[:4], [[0, 1], [1, 1], [1, 0], [0, 0]])
    order = [[0, -1, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1], [-1, 0, 0], [0, 0, -1]]
    np.testing.assert_array_equal(c.vertex_normals[::4], order)
    # flat, outward, consistent with the winding; each face covers [0, 1]^2 in uv
    fn = _face_normals(c)
    np.testing.assert_allclose(fn, np.repeat(order, 2, axis=0), atol=1e-7)
    for f in range(12):
        np.testing.assert_array_equal(c.vertex_normals[c.faces[f]], [fn[f]] * 3)
    for side in range(6):
        uv = c.vertex_texcoords[4 * side : 4 * side + 4]
        assert sorted(map(tuple, uv.tolist())) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert c.surface_area() == pytest.approx(24.0)


@pytest.mark.parametrize("name", ["small-box", "large-box"])
def test_cube_cbox_world_vertices(name):
    ref = _cbox_shapes()[name]
    c = tr.load_dict({"type": "cube", "to_world": ref["to_world"]})
    corners = np.unique(np.round(c.vertex_positions.astype(np.float64), 5), axis=0)
    expected = np.unique(np.round(np.array(ref["world_vertices"]), 5), axis=0)
    assert corners.shape == (8, 3)
    np.testing.assert_allclose(corners, expected, atol=2e-5)
    centroid = c.vertex_positions.mean(axis=0)
    v = c.vertex_positions[c.faces].mean(axis=1)
    assert np.all(np.sum((v - centroid) * _face_normals(c), axis=1) > 0)  # outward


def test_normals_use_inverse_transpose():
    m = T.rotate([0, 0, 1], 30.0) @ T.scale([3.0, 1.0, 0.5])
    c = tr.load_dict({"type": "cube", "to_world": m})
    np.testing.assert_allclose(np.linalg.norm(c.vertex_normals, axis=1), 1.0, atol=1e-6)
    fn = _face_normals(c)
    for f in range(12):
        np.testing.assert_allclose(c.vertex_normals[c.faces[f]], [fn[f]] * 3, atol=1e-6)


def test_face_normals_drops_vertex_normals():
    c = tr.load_dict({"type": "cube", "face_normals": True})
    assert c.face_normals is True and c.vertex_normals is None


# ---- children: bsdf and emitter ----
def test_default_bsdf_is_diffuse_half():
    r = tr.load_dict({"type": "rectangle"})
    assert r.bsdf.type_name == "diffuse"
    np.testing.assert_allclose(r.bsdf.reflectance.value, [0.5] * 3)


def test_area_emitter_attached():
    r = tr.load_dict(
        {
            "type": "rectangle",
            "bsdf": {"type": "conductor"},
            "emitter": {"type": "area", "radiance": [1.0, 2.0, 3.0]},
        }
    )
    assert r.bsdf.type_name == "conductor"
    assert r.emitter.type_name == "area" and r.emitter.shape is r


def test_shape_children_errors():
    with pytest.raises(tr.SceneError, match="only an 'area' emitter.*'point'"):
        tr.load_dict({"type": "rectangle", "emitter": {"type": "point"}})
    with pytest.raises(tr.SceneError, match="at most one bsdf"):
        tr.load_dict({"type": "cube", "a": {"type": "diffuse"}, "b": {"type": "diffuse"}})
    em = tr.load_dict({"type": "area"})
    tr.load_dict({"type": "rectangle", "emitter": em})
    with pytest.raises(tr.SceneError, match="already attached"):
        tr.load_dict({"type": "rectangle", "emitter": em})
    with pytest.raises(tr.SceneError, match="unused property 'radius'"):
        tr.load_dict({"type": "rectangle", "radius": 2.0})
    with pytest.raises(tr.SceneError, match="'flip_normals' expects a boolean"):
        tr.load_dict({"type": "rectangle", "flip_normals": "yes"})


# ---- OBJ ----
OBJ_QUAD = """# a quad, a triangle with negative indices, a shared corner
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0
vt 0 0
vt 1 0
vt 1 1
vt 0 1
vn 0 0 1
o quad
usemtl whatever
f 1/1/1 2/2/1 3/3/1 4/4/1
f -4/-4/-1 -2/-2/-1 -1/-1/-1
"""


def test_obj_round_trip(tmp_path):
    path = tmp_path / "quad.obj"
    path.write_text(OBJ_QUAD)
    m = tr.load_dict({"type": "obj", "filename": str(path), "to_world": T.translate([0, 0, 2])})
    # corners (1,1,1), (2,2,1), (3,3,1), (4,4,1) are unique; the 2nd face reuses 1, 3, 4
    assert m.vertex_count == 4 and m.face_count == 3
    np.testing.assert_array_equal(m.faces, [[0, 1, 2], [0, 2, 3], [0, 2, 3]])
    np.testing.assert_allclose(m.vertex_positions, [[0, 0, 2], [1, 0, 2], [1, 1, 2], [0, 1, 2]])
    # Mitsuba flips v of OBJ texcoords by default
    np.testing.assert_allclose(m.vertex_texcoords, [[0, 1], [1, 1], [1, 0], [0, 0]])
    np.testing.assert_allclose(m.vertex_normals, [[0, 0, 1]] * 4)
    assert m.filename == str(path)
    m2 = tr.load_dict({"type": "obj", "filename": str(path), "flip_tex_coords": False})
    np.testing.assert_allclose(m2.vertex_texcoords, [[0, 0], [1, 0], [1, 1], [0, 1]])


def test_obj_dedup_by_corner_triple(tmp_path):
    # one position used with two normals -> two vertices (as Mitsuba)
    path = tmp_path / "split.obj"
    path.write_text(
        "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nvn 0 0 1\nvn 0 1 0\n"
        "f 1//1 2//1 3//1\nf 1//2 4//2 2//2\n"
    )
    m = tr.load_dict({"type": "obj", "filename": str(path)})
    assert m.vertex_count == 6
    assert m.vertex_texcoords is None
    np.testing.assert_allclose(m.vertex_normals[:3], [[0, 0, 1]] * 3)
    np.testing.assert_allclose(m.vertex_normals[3:], [[0, 1, 0]] * 3)


def test_obj_without_normals_gets_smooth_normals(tmp_path):
    path = tmp_path / "tent.obj"
    path.write_text("v -1 0 0\nv 0 0 1\nv 1 0 0\nv 0 1 0\nf 1 2 4\nf 2 3 4\n")
    m = tr.load_dict({"type": "obj", "filename": str(path)})
    np.testing.assert_allclose(np.linalg.norm(m.vertex_normals, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(
        m.vertex_normals, smooth_vertex_normals(m.vertex_positions, m.faces), atol=1e-6
    )
    # the shared edge gets the (angle-weighted) average of the two face normals
    fn = _face_normals(m)
    avg = (fn[0] + fn[1]) / np.linalg.norm(fn[0] + fn[1])
    np.testing.assert_allclose(m.vertex_normals[1], avg, atol=1e-6)
    flat = tr.load_dict({"type": "obj", "filename": str(path), "face_normals": True})
    assert flat.vertex_normals is None


def test_obj_degenerate_faces_are_counted(tmp_path):
    path = tmp_path / "degenerate.obj"
    path.write_text("v 0 0 0\nv 1 0 0\nv 2 0 0\nv 0 1 0\nf 1 2 3\nf 1 2 4\n")
    m = tr.load_dict({"type": "obj", "filename": str(path), "face_normals": True})
    assert m.degenerate_face_count == 1 and m.face_count == 2


@pytest.mark.parametrize(
    "text, line, what",
    [
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 5\n", 4, "vertex index 5 out of range"),
        ("v 0 0 0\nv 1 0 x\n", 2, "could not parse 'v'"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\n\nf 1/1 2/1 3/1\n", 5, "texcoord index 1 out of range"),
        ("v 0 0 0\nv 1 0 0\nf 1 2\n", 3, "at least 3 corners"),
        ("v 0 0 0\nvn 0 0\n", 2, "'vn' needs 3 numbers"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 0 2\n", 4, "vertex index 0 out of range"),
    ],
)
def test_obj_errors_name_file_and_line(tmp_path, text, line, what):
    path = tmp_path / "bad.obj"
    path.write_text(text)
    with pytest.raises(tr.SceneError, match=re.escape(f"bad.obj:{line}: ") + ".*" + what):
        tr.load_dict({"type": "obj", "filename": str(path)})


def test_obj_file_errors(tmp_path):
    with pytest.raises(tr.SceneError, match="could not read OBJ file.*missing.obj"):
        tr.load_dict({"type": "obj", "filename": str(tmp_path / "missing.obj")})
    path = tmp_path / "empty.obj"
    path.write_text("v 0 0 0\n")
    with pytest.raises(tr.SceneError, match="no faces"):
        tr.load_dict({"type": "obj", "filename": str(path)})
    with pytest.raises(tr.SceneError, match="'filename'.*missing"):
        tr.load_dict({"type": "obj"})


# ---- PLY ----
def _write_ply(path, text, uv=("u", "v"), face_key="vertex_indices", normals=True):
    fields = [("x", "f4"), ("y", "f4"), ("z", "f4")]
    if normals:
        fields += [("nx", "f4"), ("ny", "f4"), ("nz", "f4")]
    if uv:
        fields += [(uv[0], "f4"), (uv[1], "f4")]
    rows = [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0)]
    uvs = [(0, 0), (1, 0), (1, 1), (0, 1)]
    data = [r + ((0, 0, 1) if normals else ()) + (uvs[i] if uv else ()) for i, r in enumerate(rows)]
    vertex = np.array(data, dtype=fields)
    faces = np.empty(2, dtype=[(face_key, "i4", (3,))])
    faces[face_key] = [[0, 1, 2], [0, 2, 3]]
    PlyData(
        [PlyElement.describe(vertex, "vertex"), PlyElement.describe(faces, "face")], text=text
    ).write(str(path))


@pytest.mark.parametrize("text", [True, False])
def test_ply_round_trip(tmp_path, text):
    path = tmp_path / "quad.ply"
    _write_ply(path, text)
    m = tr.load_dict({"type": "ply", "filename": str(path), "to_world": T.scale(2.0)})
    np.testing.assert_allclose(m.vertex_positions, [[0, 0, 0], [2, 0, 0], [2, 2, 0], [0, 2, 0]])
    np.testing.assert_allclose(m.vertex_normals, [[0, 0, 1]] * 4)
    np.testing.assert_allclose(m.vertex_texcoords, [[0, 0], [1, 0], [1, 1], [0, 1]])  # no flip
    np.testing.assert_array_equal(m.faces, [[0, 1, 2], [0, 2, 3]])
    assert m.surface_area() == pytest.approx(4.0)


@pytest.mark.parametrize("uv", [("s", "t"), ("texture_u", "texture_v"), None])
def test_ply_texcoord_names_and_vertex_index(tmp_path, uv):
    path = tmp_path / "quad.ply"
    _write_ply(path, True, uv=uv, face_key="vertex_index", normals=False)
    m = tr.load_dict({"type": "ply", "filename": str(path)})
    if uv is None:
        assert m.vertex_texcoords is None
    else:
        np.testing.assert_allclose(m.vertex_texcoords[2], [1, 1])
    np.testing.assert_allclose(m.vertex_normals, [[0, 0, 1]] * 4, atol=1e-7)  # computed


def test_ply_polygons_are_fan_triangulated(tmp_path):
    path = tmp_path / "poly.ply"
    vertex = np.array(
        [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0), (0.5, 2, 0)],
        dtype=[("x", "f4"), ("y", "f4"), ("z", "f4")],
    )
    faces = np.empty(1, dtype=[("vertex_indices", "O")])
    faces["vertex_indices"][0] = np.array([0, 1, 2, 4, 3], dtype=np.int32)
    PlyData(
        [PlyElement.describe(vertex, "vertex"), PlyElement.describe(faces, "face")], text=True
    ).write(str(path))
    m = tr.load_dict({"type": "ply", "filename": str(path)})
    np.testing.assert_array_equal(m.faces, [[0, 1, 2], [0, 2, 4], [0, 4, 3]])


def test_ply_errors(tmp_path):
    path = tmp_path / "bad.ply"
    _write_ply(path, True)
    text = path.read_text().replace("3 0 2 3", "3 0 2 9")
    path.write_text(text)
    with pytest.raises(tr.SceneError, match="bad.ply: face 1 references vertex 9.*4 vertices"):
        tr.load_dict({"type": "ply", "filename": str(path)})
    path.write_text("ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n0\n")
    with pytest.raises(tr.SceneError, match="bad.ply: needs 'vertex' and 'face'"):
        tr.load_dict({"type": "ply", "filename": str(path)})
    path.write_text("not a ply file\n")
    with pytest.raises(tr.SceneError, match="bad.ply"):
        tr.load_dict({"type": "ply", "filename": str(path)})


def test_mesh_rejects_non_finite_positions(tmp_path):
    path = tmp_path / "nan.obj"
    path.write_text("v 0 0 0\nv 1 0 nan\nv 0 1 0\nf 1 2 3\n")
    with pytest.raises(tr.SceneError, match="non-finite vertex positions"):
        tr.load_dict({"type": "obj", "filename": str(path)})


# ---- sphere ----
def test_sphere_center_radius():
    s = tr.load_dict({"type": "sphere", "center": [1, 2, 3], "radius": 0.5})
    np.testing.assert_allclose(s.center, [1, 2, 3])
    assert s.radius == 0.5 and s.flip_normals is False
    np.testing.assert_allclose(s.to_world, T.translate([1, 2, 3]).scale(0.5).matrix)
    assert s.surface_area() == pytest.approx(np.pi)
    assert s.bsdf.type_name == "diffuse"


def test_sphere_to_world_composes_with_center_and_radius():
    m = T.translate([0, 1, 0]) @ T.rotate([0, 0, 1], 40) @ T.scale(2.0)
    s = tr.load_dict({"type": "sphere", "to_world": m, "center": [1, 0, 0], "radius": 1.5})
    expected_center = m.transform_affine([1, 0, 0])
    np.testing.assert_allclose(s.center, expected_center, atol=1e-12)
    assert s.radius == pytest.approx(3.0)
    # the rebuilt to_world keeps the rotation (for the uv parameterization)
    np.testing.assert_allclose(s.to_world[:3, :3], m.matrix[:3, :3] * 1.5, atol=1e-12)


def test_sphere_mirror_flips_normals():
    s = tr.load_dict({"type": "sphere", "to_world": T.scale([-1.0, -1.0, -1.0])})
    assert s.radius == pytest.approx(1.0) and s.flip_normals is True


@pytest.mark.parametrize(
    "d, what",
    [
        ({"radius": -1.0}, "'radius' must be a finite value > 0"),
        ({"radius": 0.0}, "'radius' must be a finite value > 0"),
        ({"radius": float("nan")}, "'radius' must be a finite value > 0"),
        ({"to_world": T.scale([1.0, 2.0, 1.0])}, "'to_world'.*uniform scale"),
        ({"to_world": T.scale([1.0, 1.0, 0.0])}, "'to_world'.*uniform scale"),
        ({"center": [0, 0, np.inf]}, "'center' must be finite"),
    ],
)
def test_sphere_errors(d, what):
    with pytest.raises(tr.SceneError, match=what):
        tr.load_dict({"type": "sphere", **d})


# ---- disk ----
def test_disk():
    m = T.translate([0, 1, 0]) @ T.rotate([1, 0, 0], 90) @ T.scale([2.0, 0.5, 1.0])
    d = tr.load_dict({"type": "disk", "to_world": m, "flip_normals": True})
    np.testing.assert_allclose(d.to_world, m.matrix)
    np.testing.assert_allclose(d.center, [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(d.normal, [0, -1, 0], atol=1e-12)  # local +z rotated by 90 deg
    assert d.flip_normals is True
    assert d.surface_area() == pytest.approx(np.pi * 1.0)
    plain = tr.load_dict({"type": "disk"})
    np.testing.assert_allclose(plain.normal, [0, 0, 1])
    with pytest.raises(tr.SceneError, match="'to_world' collapses the disk"):
        tr.load_dict({"type": "disk", "to_world": T.scale([1.0, 0.0, 1.0])})
