"""Kernel argument types of the packed scene, and the view object device code reads.

Scene data travel to kernels as ndarrays (not fields), so one compiled kernel serves every
scene of the same plugin families: loading a new scene never recompiles. `SCENE_ARRAYS` lists
them once; every kernel takes them as one argument pack (`SceneArrays`, a ``ti.types.argpack``
of those ndarrays). Inside a kernel they are bundled in a :class:`SceneView` (a compile-time
Python object passed to ``@ti.func`` helpers as a template).

A kernel is compiled for the plugin families its scene uses (`SceneView.features`, a bitmask of
the flags below): the device code of the others is left out by `ti.static` branches. Diffuse
triangles, `rgb` textures and area lights are always in. A Cornell box therefore compiles a
fraction of the path tracer (Taichi's front end takes time quadratic in a kernel's
statements), and a scene with a glass sphere and an environment map compiles all of it.
"""

import taichi as ti

vec2 = ti.math.vec2
vec3 = ti.math.vec3
ivec2 = ti.math.ivec2
ivec4 = ti.math.ivec4

V3_1 = ti.types.ndarray(dtype=vec3, ndim=1)
V3_2 = ti.types.ndarray(dtype=vec3, ndim=2)
V2_1 = ti.types.ndarray(dtype=vec2, ndim=1)
IV2_1 = ti.types.ndarray(dtype=ivec2, ndim=1)
IV4_1 = ti.types.ndarray(dtype=ivec4, ndim=1)
I_1 = ti.types.ndarray(dtype=ti.i32, ndim=1)
I_2 = ti.types.ndarray(dtype=ti.i32, ndim=2)
F_1 = ti.types.ndarray(dtype=ti.f32, ndim=1)
F_2 = ti.types.ndarray(dtype=ti.f32, ndim=2)
IMG = ti.types.ndarray(dtype=vec3, ndim=2)

# (name, annotation) of every scene array: the members of `SceneArrays`.
SCENE_ARRAYS = (
    ("tri_p", V3_2),  # (T, 6): p0, p1 - p0, p2 - p0 (world space), then intersect.TRI_TO_BARY rows
    ("tri_v", IV4_1),  # (T,): vertex indices v0, v1, v2 and the shape index
    ("vtx_n", V3_1),  # (V,): vertex normals (world space; zero when absent)
    ("vtx_uv", V2_1),  # (V,): texture coordinates
    ("prim", IV2_1),  # (P,): BVH leaf order: (PRIM_* type, triangle or shape index)
    ("node_box", V3_2),  # (N, 2): node bounds min, max
    ("node_i", IV2_1),  # (N + P,): leaf (first prim, count > 0) or inner (right child, 0); then (unit code, pair_p row) (quads.py)
    ("pair_p", V3_2),  # (Q, 4): triangle pairs' parallelogram frames: apex, rows to (w_j, w_k, h) (quads.py)
    ("shape_i", I_2),
    ("shape_f", F_2),
    ("bsdf_i", I_2),
    ("bsdf_f", F_2),
    ("tex_i", I_2),
    ("tex_f", F_2),
    ("tex_rgb", V3_1),  # (X,): constant colour of `rgb` textures (differentiable)
    ("texels", V3_1),  # (Q,): texel pool of every bitmap (differentiable)
    ("em_i", I_2),
    ("em_f", F_2),
    ("dist", F_1),  # (D,): CDF pool (area emitters, environment maps)
    ("scene_i", I_1),
    ("cam", F_1),
)
SCENE_ARRAY_NAMES = tuple(name for name, _ in SCENE_ARRAYS)
# The kernel argument that carries them all: `SceneData.arrays()` builds one per set of device arrays.
SceneArrays = ti.types.argpack(**dict(SCENE_ARRAYS))


ANALYTIC_SHAPES = 1  # sphere and disk primitives
TEXTURES = 2  # bitmap and checkerboard textures
MATERIALS = 4  # BSDFs other than diffuse (and twosided of diffuse)
EMITTERS = 8  # point, constant and envmap emitters
ALL_FEATURES = ANALYTIC_SHAPES | TEXTURES | MATERIALS | EMITTERS


class SceneView:
    """Compile-time bundle of the scene arrays of one kernel launch (attribute per array), and
    `features`: the plugin families the kernel is compiled for (a bitmask of the flags above)."""

    # Taichi 1.7 warns when a kernel calls a Python callable that is not a Taichi function; a
    # callable carrying this attribute is exempt (ast_transformer.is_external_func), and False
    # keeps Taichi from treating it as one. The view is plain data, built at compile time.
    _is_taichi_function = False

    def __init__(self, features: int, scene):
        self.features = features
        for name in SCENE_ARRAY_NAMES:
            setattr(self, name, getattr(scene, name))
