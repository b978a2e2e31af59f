"""What scene_data packs: normals kinds and the diffuse leaves of shapes (for the packet fast path),
and the argument pack that carries the device arrays to every kernel."""

import numpy as np

import taichi_render as tr
from taichi_render.render import layout as L
from taichi_render.render.packing.scene_data import _normals_kind
from taichi_render.render.renderer import scene_data
from taichi_render.render.view import SCENE_ARRAY_NAMES, SceneArrays

SQUARE = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float64)
FACES = np.array([[0, 1, 2], [2, 3, 0]])


def test_normals_equal_to_the_face_normals_are_flat():
    up = np.tile([0.0, 0.0, 1.0], (4, 1))
    assert _normals_kind(SQUARE, FACES, up) == L.NORMALS_FLAT
    assert _normals_kind(SQUARE, FACES, -up) == L.NORMALS_VERTEX  # against the winding
    tilted = up.copy()
    tilted[2] = [0.0, 0.01, 0.99995]
    assert _normals_kind(SQUARE, FACES, tilted) == L.NORMALS_VERTEX
    degenerate = np.vstack([SQUARE, [[2, 0, 0]]])  # a zero-area face does not count
    faces = np.vstack([FACES, [[0, 1, 4]]])
    assert _normals_kind(degenerate, faces, np.tile([0.0, 0.0, 1.0], (5, 1))) == L.NORMALS_FLAT


def test_shapes_pack_their_normals_kind_and_diffuse_leaves(tmp_path):
    # a tetrahedron from a file without normals gets smooth vertex normals: not flat
    (tmp_path / "tet.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n")
    d = tr.cornell_box()
    d["tet"] = {"type": "obj", "filename": str(tmp_path / "tet.obj"), "to_world": tr.ScalarTransform4f().scale(0.1)}
    d["ball"] = {"type": "sphere", "center": [0.0, 0.0, 0.0], "radius": 0.1}
    d["glass"] = {"type": "rectangle", "bsdf": {"type": "dielectric"},
                  "to_world": tr.ScalarTransform4f().translate([0.0, 0.0, 0.5]).scale(0.1)}
    d["two"] = {"type": "cube", "to_world": tr.ScalarTransform4f().scale(0.05),
                "bsdf": {"type": "twosided", "bsdf": {"type": "diffuse"}}}
    scene = tr.load_dict(d)
    data = scene_data(scene)
    shapes = {id(s): k for k, s in enumerate(data.shapes)}
    by_id = {s.id: shapes[id(s)] for s in data.shapes}
    si, bi = data.np["shape_i"], data.np["bsdf_i"]
    for name in ("floor", "light", "large-box", "two"):
        assert si[by_id[name], L.SI_HAS_NORMALS] == L.NORMALS_FLAT, name  # rectangles and cubes
    assert si[by_id["ball"], L.SI_HAS_NORMALS] == L.NORMALS_NONE  # analytic
    assert si[by_id["tet"], L.SI_HAS_NORMALS] == L.NORMALS_VERTEX
    glass = si[by_id["glass"]]
    assert glass[L.SI_DIFFUSE_FRONT] == glass[L.SI_DIFFUSE_BACK] == -1
    floor = si[by_id["floor"]]
    assert floor[L.SI_DIFFUSE_FRONT] == floor[L.SI_DIFFUSE_BACK] == floor[L.SI_BSDF] and floor[L.SI_TWOSIDED] == 0
    two = si[by_id["two"]]
    assert two[L.SI_TWOSIDED] == 1
    assert bi[two[L.SI_BSDF], L.BI_TYPE] == L.BSDF_TWOSIDED
    assert bi[two[L.SI_DIFFUSE_FRONT], L.BI_TYPE] == bi[two[L.SI_DIFFUSE_BACK], L.BI_TYPE] == L.BSDF_DIFFUSE


def test_the_kernels_argument_pack_follows_the_device_arrays():
    """One argument pack per set of device arrays: refills keep it, a replaced array (a new
    shape) gets a new pack that holds the new array."""
    data = scene_data(tr.load_dict(tr.cornell_box()))
    assert tuple(SceneArrays.members) == SCENE_ARRAY_NAMES
    pack = data.arrays()
    assert all(getattr(pack, name) is data.nd[name] for name in SCENE_ARRAY_NAMES)
    data.upload()  # same shapes: the arrays are refilled in place
    assert data.arrays() is pack
    data.np["cam"] = np.concatenate([data.np["cam"], data.np["cam"]])  # two camera rows, as a batch sensor's
    data.upload_one("cam")
    repacked = data.arrays()
    assert repacked is not pack and repacked.cam is data.nd["cam"] and pack.cam is not data.nd["cam"]
    assert repacked.cam.shape == (data.np["cam"].shape[0],)
    assert all(getattr(repacked, name) is data.nd[name] for name in SCENE_ARRAY_NAMES)
