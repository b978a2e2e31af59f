"""Vertex normals follow the vertex positions (Mitsuba's `Mesh::parameters_changed`), and the
gradients with respect to the positions flow through that recomputation.

The gradient scene has no visibility change under the perturbation: a gently bumpy height
field with smooth normals (an OBJ without normals, bumps too low to shadow each other) fills
the view from above, lit by a point light behind the camera (an area light's edges make the
fixed-seed finite differences jump where BSDF-sampled rays cross them); the perturbation moves
heights a little. Its shading depends on the interpolated vertex
normals, so a gradient that misses their part disagrees with finite differences.
"""

import numpy as np
import pytest
import taichi as ti

import taichi_render as tr
from taichi_render.shapes.vertex_normals import (
    smooth_vertex_normals,
    smooth_vertex_normals_jvp,
    smooth_vertex_normals_vjp,
)

T = tr.ScalarTransform4f
RES = 12
SPP = 8
SEEDS = range(6)


def octahedron(rng):
    v = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
    f = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]])
    return v + 0.1 * rng.normal(size=v.shape), f


def test_normal_derivatives_match_finite_differences():
    rng = np.random.default_rng(0)
    p, f = octahedron(rng)
    t, g = rng.normal(size=p.shape), rng.normal(size=p.shape)
    h = 1e-6
    fd = (smooth_vertex_normals(p + h * t, f) - smooth_vertex_normals(p - h * t, f)) / (2 * h)
    np.testing.assert_allclose(smooth_vertex_normals_jvp(p, f, t), fd, atol=1e-7)
    # reverse mode is the transpose of forward mode
    np.testing.assert_allclose(np.sum(smooth_vertex_normals_vjp(p, f, g) * t), np.sum(g * fd), rtol=1e-7)


def height_field(tmp_path, n=7, seed=1):
    """An n x n grid over [-1, 1]^2 in the xz plane with random heights, as an OBJ file without
    normals (so the mesh gets smooth vertex normals)."""
    rng = np.random.default_rng(seed)
    xs = np.linspace(-1, 1, n)
    lines = [f"v {x} {0.03 * rng.normal()} {z}" for z in xs for x in xs]
    for r in range(n - 1):
        for c in range(n - 1):
            a, b, d, e = r * n + c + 1, r * n + c + 2, (r + 1) * n + c + 1, (r + 1) * n + c + 2
            lines += [f"f {a} {d} {b}", f"f {b} {d} {e}"]
    path = tmp_path / "height_field.obj"
    path.write_text("\n".join(lines) + "\n")
    return path


def bumpy_scene(path, max_depth=2, ceiling=False):
    d = {
        "type": "scene",
        "integrator": {"type": "prb", "max_depth": max_depth},
        "sensor": {"type": "perspective", "fov": 40, "to_world": T.look_at([0, 1.6, 0.01], [0, 0, 0], [0, 0, 1]),
                   "film": {"type": "hdrfilm", "width": RES, "height": RES, "rfilter": {"type": "box"}}},
        "ground": {"type": "obj", "filename": str(path), "bsdf": {"type": "diffuse", "reflectance": 0.7}},
        "light": {"type": "point", "position": [0.6, 2.5, 0.3], "intensity": 20.0},
    }
    if ceiling:  # light comes back from a ceiling: the indirect term of the ground's normals
        d["ceiling"] = {"type": "rectangle", "to_world": T.translate([0, 3.0, 0]).rotate([1, 0, 0], 90).scale(10),
                        "bsdf": {"type": "diffuse", "reflectance": 0.8}}
    return tr.load_dict(d)


def test_normals_follow_positions_after_update(tmp_path):
    scene = bumpy_scene(height_field(tmp_path))
    params = tr.traverse(scene)
    key = "ground.vertex_positions"
    p = params[key].reshape(-1, 3).copy()
    faces = params["ground.faces"].reshape(-1, 3)
    moved = p.copy()
    moved[:, 1] += 0.2 * np.sin(3 * p[:, 0])
    params[key] = moved.reshape(-1)
    params.update()
    np.testing.assert_allclose(params["ground.vertex_normals"].reshape(-1, 3),
                               smooth_vertex_normals(moved, faces), atol=1e-6)
    # and the render uses them: the same image as a mesh loaded at the moved positions
    path2 = tmp_path / "moved.obj"
    lines = [f"v {x} {y} {z}" for x, y, z in moved] + [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    path2.write_text("\n".join(lines) + "\n")
    a = tr.render(scene, spp=4, seed=3).to_numpy()
    b = tr.render(bumpy_scene(path2), spp=4, seed=3).to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_rotated_cube_is_shaded_as_turned():
    """A cube rotated through its vertex positions has the normals of a cube loaded rotated."""
    def scene(rotation):
        return tr.load_dict({"type": "scene", "box": {"type": "cube", "to_world": T.rotate([0, 1, 0], rotation)}})
    turned = tr.traverse(scene(0.0))
    reference = tr.traverse(scene(30.0))
    turned["box.vertex_positions"] = reference["box.vertex_positions"]
    turned.update()
    np.testing.assert_allclose(turned["box.vertex_normals"], reference["box.vertex_normals"], atol=1e-5)


@pytest.mark.parametrize("packets", ["1", "0"])
@pytest.mark.parametrize("indirect", [False, True])
def test_gradients_through_the_normals_match_finite_differences(tmp_path, monkeypatch, packets, indirect):
    """Direct light (max_depth 2): reverse mode equals finite differences of the same samples
    seed by seed (seed_grad = seed), forward mode equals reverse mode. With a ceiling that
    reflects light back (max_depth 3) forward and reverse mode still agree sample by sample,
    but finite differences of fixed samples jump (a cosine-sampled direction that the moving
    shading frame tilts below a neighbouring bump hits it), so they are not compared."""
    monkeypatch.setenv("TR_PACKETS", packets)
    scene = bumpy_scene(height_field(tmp_path), max_depth=3 if indirect else 2, ceiling=indirect)
    params = tr.traverse(scene)
    key = "ground.vertex_positions"
    x0 = params[key].copy()
    t = np.zeros_like(x0).reshape(-1, 3)
    t[:, 1] = np.random.default_rng(4).normal(size=len(t))  # heights only: no silhouette
    t = (0.05 * t).reshape(-1).astype(np.float32)
    params.enable_grad([key])
    loss = tr.ad.loss_field()
    zeros = np.zeros((RES, RES, 3), np.float32)
    reverse, forward, fd = [], [], []
    for seed in SEEDS:
        with ti.ad.Tape(loss=loss):
            tr.ad.mse(tr.render(scene, params, spp=SPP, seed=seed, seed_grad=seed), zeros, out=loss)
        reverse.append(float(np.sum(params.grad(key) * t)))
        img = tr.render(scene, params, spp=SPP, seed=seed).to_numpy().astype(np.float64)
        dimg = tr.render_forward(scene, params, key, tangent=t, spp=SPP, seed=seed).to_numpy().astype(np.float64)
        forward.append(float(np.mean(2.0 * img * dimg)))
        values = []
        for sign in (1.0, -1.0):
            params[key] = x0 + sign * 1e-2 * t
            params.update()
            values.append(float(np.mean(tr.render(scene, params, spp=SPP, seed=seed).to_numpy().astype(np.float64) ** 2)))
        params[key] = x0
        params.update()
        fd.append((values[0] - values[1]) / 2e-2)
    np.testing.assert_allclose(forward, reverse, rtol=1e-3)
    if not indirect:
        assert abs(np.mean(fd)) > 1e-4
        np.testing.assert_allclose(reverse, fd, rtol=1e-3)
