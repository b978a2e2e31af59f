"""`tr.ad.LargeSteps` (Nicolet et al. 2021, Mitsuba's `mi.ad.LargeSteps`): the system matrix
against a dense reference, round trips, seam fusing, gradients (torch and `ti.ad.Tape`) against
the dense M^-1, the smoothing it is for, and errors on bad input.

No rendering: meshes are a generated icosphere and the Cornell box's large box (an OBJ whose 8
corners are repeated per face: 24 vertices, 8 distinct positions)."""

import numpy as np
import pytest
import taichi as ti

import taichi_render as tr

torch = pytest.importorskip("torch")

LARGEBOX_KEY = "box.vertex_positions"


def icosphere(subdivisions: int):
    """Unit icosphere: (V, 3) float32 positions, (F, 3) int32 faces (counter-clockwise)."""
    t = (1.0 + 5.0**0.5) / 2.0
    verts = [[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t],
             [0, -1, -t], [0, 1, -t], [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]]
    faces = [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4],
             [11, 10, 2], [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8],
             [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]]
    verts = [np.array(v, np.float64) / np.linalg.norm(v) for v in verts]

    def midpoint(cache, a, b):
        key = (min(a, b), max(a, b))
        if key not in cache:
            m = verts[a] + verts[b]
            verts.append(m / np.linalg.norm(m))
            cache[key] = len(verts) - 1
        return cache[key]

    for _ in range(subdivisions):
        cache, new_faces = {}, []
        for a, b, c in faces:
            ab, bc, ca = midpoint(cache, a, b), midpoint(cache, b, c), midpoint(cache, c, a)
            new_faces += [[a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]]
        faces = new_faces
    return np.array(verts, np.float32), np.array(faces, np.int32)


def dense_system(positions, faces, lambda_):
    """Dense I + lambda_ L of the mesh with equal positions fused (plain Python loops, as an
    independent reference), and the fused index of every vertex (np.unique order)."""
    _, inverse = np.unique(positions.reshape(-1, 3), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    n = int(inverse.max()) + 1
    neighbours = [set() for _ in range(n)]
    for face in faces.reshape(-1, 3):
        for i in range(3):
            a, b = inverse[face[i]], inverse[face[(i + 1) % 3]]
            if a != b:
                neighbours[a].add(b)
                neighbours[b].add(a)
    lap = np.zeros((n, n))
    for i, nb in enumerate(neighbours):
        lap[i, i] = len(nb)
        for j in nb:
            lap[i, j] = -1.0
    return np.eye(n) + lambda_ * lap, inverse


def scatter_matrix(inverse):
    """S (N x n): S[i, inverse[i]] = 1, v = S v_fused; S^T sums the copies of a vertex."""
    s = np.zeros((len(inverse), int(inverse.max()) + 1))
    s[np.arange(len(inverse)), inverse] = 1.0
    return s


@pytest.fixture(scope="module")
def sphere():
    v, f = icosphere(2)  # 162 vertices
    return v.reshape(-1), f.reshape(-1)


@pytest.fixture(scope="module")
def largebox(scenes_dir):
    scene = tr.load_dict({
        "type": "scene",
        "box": {"type": "obj", "filename": str(scenes_dir / "meshes" / "cbox_largebox.obj")},
    })
    params = tr.traverse(scene)
    return params[LARGEBOX_KEY], params["box.faces"]


# ---- the matrix and the round trip ----


@pytest.mark.parametrize("lambda_", [0.0, 1.0, 19.0])
def test_system_matrix_is_identity_plus_lambda_laplacian(sphere, lambda_):
    v, f = sphere
    ls = tr.ad.LargeSteps(v, f, lambda_=lambda_)
    dense, _ = dense_system(v, f, lambda_)
    m = np.zeros_like(dense)
    np.add.at(m, (ls.rows, ls.cols), ls.data)
    np.testing.assert_allclose(m, dense, atol=1e-12)
    assert len(set(zip(ls.rows.tolist(), ls.cols.tolist()))) == len(ls.rows)  # no duplicates
    assert ls.n_verts == ls.n_input_verts == 162


def test_round_trip_on_an_icosphere(sphere):
    v, f = sphere
    ls = tr.ad.LargeSteps(v, f)
    assert repr(ls) == "LargeSteps(n_verts=162, n_input_verts=162, lambda_=19)"
    u = ls.to_differential(v)
    assert u.shape == v.shape and u.dtype == np.float32
    dense, _ = dense_system(v, f, 19.0)  # rows in the fused (np.unique) order, as u
    fused = v.reshape(-1, 3)[ls.index].astype(np.float64)
    np.testing.assert_allclose(u, (dense @ fused).reshape(-1), atol=1e-4)
    back = ls.from_differential(u)
    assert back.shape == v.shape and back.dtype == np.float32
    np.testing.assert_allclose(back, v, atol=2e-5)
    # (K, 3) in, (K', 3) out; lists are taken too
    np.testing.assert_array_equal(ls.to_differential(v.reshape(-1, 3)), u.reshape(-1, 3))
    np.testing.assert_allclose(ls.from_differential(u.reshape(-1, 3).tolist()), v.reshape(-1, 3),
                               atol=2e-5)


def test_round_trip_and_fusing_on_an_obj_mesh_with_seams(largebox):
    v, f = largebox
    assert v.shape == (72,) and v.dtype == np.float32 and f.dtype == np.int32
    ls = tr.ad.LargeSteps(v, f)
    assert (ls.n_input_verts, ls.n_verts) == (24, 8)  # the 8 corners of the box, fused
    u = ls.to_differential(v)
    assert u.shape == (24,)  # 8 fused vertices x 3
    dense, inverse = dense_system(v, f, 19.0)
    np.testing.assert_array_equal(ls.inverse, inverse)
    # each corner has its 3 box edges and the face diagonals drawn from it: degree 3 to 6
    degrees = np.diag(dense - np.eye(8)) / 19.0
    assert degrees.min() >= 3 and degrees.max() <= 6
    np.testing.assert_allclose(ls.from_differential(u), v, atol=1e-5)


def test_seam_copies_stay_equal_and_match_the_mesh_without_seams(sphere):
    """Duplicate a band of vertices (a seam: the faces on one side use the copies): the result
    is the LargeSteps of the mesh without the seam, written into every copy."""
    v, f = sphere
    v3, f3 = v.reshape(-1, 3), f.reshape(-1, 3).copy()
    seam = np.flatnonzero(np.abs(v3[:, 0]) < 0.35)  # vertices near the x = 0 plane
    copies = {int(i): len(v3) + k for k, i in enumerate(seam)}
    v_seam = np.concatenate([v3, v3[seam]])
    positive = v3[f3].mean(axis=1)[:, 0] > 0  # faces on the +x side use the copies
    f_seam = f3.copy()
    for face in np.flatnonzero(positive):
        f_seam[face] = [copies.get(int(i), int(i)) for i in f3[face]]
    assert (f_seam >= len(v3)).any()

    plain = tr.ad.LargeSteps(v, f)
    seamed = tr.ad.LargeSteps(v_seam.reshape(-1), f_seam.reshape(-1))
    assert seamed.n_input_verts == len(v3) + len(seam) and seamed.n_verts == plain.n_verts
    np.testing.assert_array_equal(seamed.to_differential(v_seam.reshape(-1)),
                                  plain.to_differential(v))
    u = np.random.default_rng(1).normal(size=plain.n_verts * 3).astype(np.float32)
    out = seamed.from_differential(u).reshape(-1, 3)
    np.testing.assert_array_equal(out[len(v3):], out[seam])  # each copy equals its original
    np.testing.assert_allclose(out[: len(v3)], plain.from_differential(u).reshape(-1, 3),
                               rtol=1e-5, atol=1e-5)


def test_lambda_zero_is_the_identity_up_to_fusing(largebox):
    v, f = largebox
    ls = tr.ad.LargeSteps(v, f, lambda_=0)
    u = np.arange(24, dtype=np.float32)
    np.testing.assert_allclose(ls.from_differential(u).reshape(-1, 3),
                               u.reshape(-1, 3)[ls.inverse], rtol=1e-6)


# ---- smoothing ----


def laplacian_energy(x, ls, dense_m):
    """x^T L x summed over the 3 coordinates (L = (M - I) / lambda_), x per mesh vertex."""
    lap = (dense_m - np.eye(len(dense_m))) / ls.lambda_
    x = x.reshape(-1, 3)[ls.index].astype(np.float64)  # the fused order of dense_m
    return float(np.einsum("ik,ij,jk->", x, lap, x))


def test_high_frequency_perturbations_of_u_become_smooth():
    v, f = icosphere(3)  # 642 vertices
    v, f = v.reshape(-1), f.reshape(-1)
    ls = tr.ad.LargeSteps(v, f)
    dense, _ = dense_system(v, f, 19.0)
    noise = np.random.default_rng(3).normal(scale=0.01, size=v.shape).astype(np.float32)
    smooth = ls.from_differential(ls.to_differential(v) + noise)
    rough = v + noise
    base = laplacian_energy(v, ls, dense)
    assert laplacian_energy(smooth, ls, dense) - base < 0.05 * (laplacian_energy(rough, ls, dense) - base)
    # the perturbation itself: M^-1 noise has a small fraction of the energy of the noise
    assert laplacian_energy(smooth - v, ls, dense) < 0.01 * laplacian_energy(noise, ls, dense)


def test_optimising_in_u_with_uniform_adam_reaches_a_smooth_target(sphere):
    """The paper's loop on a toy loss ||v(u) - target||^2 (gradient through the torch path)."""
    v, f = sphere
    target = v.reshape(-1, 3) * np.array([1.5, 0.8, 1.0], np.float32)
    ls = tr.ad.LargeSteps(v, f, lambda_=10)
    opt = tr.ad.Adam(lr=0.02, uniform=True)
    opt["u"] = ls.to_differential(v)

    class Grads:
        def grad(self, key):
            return self.g

    opt.params = Grads()
    losses = []
    for _ in range(150):
        u = torch.tensor(opt["u"], requires_grad=True)
        loss = ((ls.from_differential(u).reshape(-1, 3) - torch.from_numpy(target)) ** 2).sum()
        loss.backward()
        opt.params.g = u.grad.numpy()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.01 * losses[0]


# ---- gradients ----


@pytest.mark.parametrize("mesh", ["sphere", "largebox"])
def test_torch_gradients_match_the_dense_inverse(mesh, request):
    v, f = request.getfixturevalue(mesh)
    ls = tr.ad.LargeSteps(v, f)
    dense, inverse = dense_system(v, f, 19.0)
    s = scatter_matrix(inverse)
    rng = np.random.default_rng(4)

    # from_differential: v = S M^-1 u, so d(sum(w * v))/du = M^-1 S^T w
    u = torch.tensor(ls.to_differential(v), requires_grad=True)
    out = ls.from_differential(u)
    assert out.shape == (ls.n_input_verts * 3,) and out.dtype == torch.float32
    np.testing.assert_allclose(out.detach().numpy(), ls.from_differential(u.detach().numpy()))
    w = rng.normal(size=(ls.n_input_verts, 3))
    (out.reshape(-1, 3) * torch.from_numpy(w).float()).sum().backward()
    expected = np.linalg.solve(dense, s.T @ w)
    np.testing.assert_allclose(u.grad.numpy().reshape(-1, 3), expected, rtol=1e-4, atol=1e-5)

    # to_differential: u = M G v (G gathers the first copy, ls.index): grad = G^T M w_u
    vt = torch.tensor(v, requires_grad=True)
    w_u = rng.normal(size=(ls.n_verts, 3))
    (ls.to_differential(vt).reshape(-1, 3) * torch.from_numpy(w_u).float()).sum().backward()
    expected = np.zeros((ls.n_input_verts, 3))
    expected[ls.index] = dense @ w_u
    np.testing.assert_allclose(vt.grad.numpy().reshape(-1, 3), expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(ls.inverse[ls.index], np.arange(ls.n_verts))


def test_torch_keeps_dtype_and_layout(largebox):
    v, f = largebox
    ls = tr.ad.LargeSteps(v, f)
    u = torch.tensor(ls.to_differential(v), dtype=torch.float64).reshape(-1, 3).requires_grad_()
    out = ls.from_differential(u)
    assert out.shape == (24, 3) and out.dtype == torch.float64
    out.sum().backward()
    assert u.grad.dtype == torch.float64 and u.grad.shape == (8, 3)
    # a finite difference along a random direction, in the float64 tensors (linear map)
    d = torch.from_numpy(np.random.default_rng(5).normal(size=(8, 3)))
    with torch.no_grad():
        fd = (ls.from_differential(u + 1e-2 * d).sum() - ls.from_differential(u - 1e-2 * d).sum()) / 2e-2
    assert float((u.grad * d).sum()) == pytest.approx(float(fd), rel=1e-3)


@ti.kernel
def weighted_sum(x: ti.template(), w: ti.template(), loss: ti.template()):
    for i in x:
        loss[None] += w[i] * x[i]


@ti.kernel
def weighted_sum_vec(x: ti.template(), w: ti.template(), loss: ti.template()):
    for i in x:
        loss[None] += x[i].dot(w[i])


@pytest.mark.parametrize("layout", ["flat", "vector"])
def test_tape_gradients_match_the_dense_inverse(largebox, layout):
    v, f = largebox
    ls = tr.ad.LargeSteps(v, f)
    dense, inverse = dense_system(v, f, 19.0)
    s = scatter_matrix(inverse)
    rng = np.random.default_rng(6)
    u_np = ls.to_differential(v).reshape(-1, 3)
    w_np = rng.normal(size=(ls.n_input_verts, 3)).astype(np.float32)
    w_u_np = rng.normal(size=(ls.n_verts, 3)).astype(np.float32)
    if layout == "flat":
        u = ti.field(ti.f32, shape=ls.n_verts * 3, needs_grad=True)
        vf = ti.field(ti.f32, shape=ls.n_input_verts * 3, needs_grad=True)
        w = ti.field(ti.f32, shape=ls.n_input_verts * 3)
        w_u = ti.field(ti.f32, shape=ls.n_verts * 3)
        kernel, shape = weighted_sum, (-1,)
    else:
        u = ti.Vector.field(3, ti.f32, shape=ls.n_verts, needs_grad=True)
        vf = ti.Vector.field(3, ti.f32, shape=ls.n_input_verts, needs_grad=True)
        w = ti.Vector.field(3, ti.f32, shape=ls.n_input_verts)
        w_u = ti.Vector.field(3, ti.f32, shape=ls.n_verts)
        kernel, shape = weighted_sum_vec, (-1, 3)
    u.from_numpy(u_np.reshape(shape))
    vf.from_numpy(v.reshape(shape))
    w.from_numpy(w_np.reshape(shape))
    w_u.from_numpy(w_u_np.reshape(shape))
    loss = tr.ad.loss_field()

    with ti.ad.Tape(loss=loss):
        out = ls.from_differential(u)
        kernel(out, w, loss)
    assert type(out) is type(u) and out.shape == vf.shape
    np.testing.assert_allclose(out.to_numpy().reshape(-1, 3), v.reshape(-1, 3), atol=1e-5)
    assert float(loss[None]) == pytest.approx(float(np.sum(w_np * v.reshape(-1, 3))), rel=1e-4)
    expected = np.linalg.solve(dense, s.T @ w_np)
    np.testing.assert_allclose(u.grad.to_numpy().reshape(-1, 3), expected, rtol=1e-4, atol=1e-5)

    # a second Tape starts from zero gradients (the Tape clears them, the output field is reused)
    with ti.ad.Tape(loss=loss):
        out2 = ls.from_differential(u)
        kernel(out2, w, loss)
    assert out2 is out
    np.testing.assert_allclose(u.grad.to_numpy().reshape(-1, 3), expected, rtol=1e-4, atol=1e-5)

    with ti.ad.Tape(loss=loss):
        kernel(ls.to_differential(vf), w_u, loss)
    expected = np.zeros((ls.n_input_verts, 3))
    expected[ls.index] = dense @ w_u_np
    np.testing.assert_allclose(vf.grad.to_numpy().reshape(-1, 3), expected, rtol=1e-5, atol=1e-4)


def test_fields_without_gradients_work_outside_a_tape(largebox):
    v, f = largebox
    ls = tr.ad.LargeSteps(v, f)
    u = ti.field(ti.f32, shape=(ls.n_verts, 3))
    u.from_numpy(ls.to_differential(v).reshape(-1, 3))
    out = ls.from_differential(u)
    assert out.shape == (24, 3)
    np.testing.assert_allclose(out.to_numpy(), v.reshape(-1, 3), atol=1e-5)


# ---- errors ----


def test_bad_input_raises_value_error_naming_the_problem(largebox):
    v, f = largebox
    with pytest.raises(ValueError, match=r"faces index vertex 24, out of range: the mesh has 24"):
        tr.ad.LargeSteps(v, np.where(f == 3, 24, f))
    with pytest.raises(ValueError, match=r"faces index vertex -1"):
        tr.ad.LargeSteps(v, np.where(f == 3, -1, f))
    with pytest.raises(ValueError, match=r"faces must have shape \(F\*3,\)"):
        tr.ad.LargeSteps(v, f[:-1])
    with pytest.raises(ValueError, match=r"faces must be integer"):
        tr.ad.LargeSteps(v, f.astype(np.float32))
    with pytest.raises(ValueError, match=r"vertex_positions must have shape \(K\*3,\).*\(71,\)"):
        tr.ad.LargeSteps(v[:-1], f)
    with pytest.raises(ValueError, match=r"vertex_positions must have shape.*\(36, 2\)"):
        tr.ad.LargeSteps(v.reshape(36, 2), f)
    with pytest.raises(ValueError, match="NaN or inf"):
        tr.ad.LargeSteps(np.where(np.arange(72) == 5, np.nan, v), f)
    with pytest.raises(ValueError, match="lambda_ must be a finite number >= 0"):
        tr.ad.LargeSteps(v, f, lambda_=-1.0)

    ls = tr.ad.LargeSteps(v, f)
    # u lives on the 8 fused vertices: passing 24 vertices' worth says why
    with pytest.raises(ValueError, match=r"from_differential: u must hold 24 values \(8 x 3\).*"
                                         r"8 distinct vertex positions.*got 72"):
        ls.from_differential(v)
    with pytest.raises(ValueError, match=r"to_differential: v must hold 72 values.*got 24"):
        ls.to_differential(v[:24])
    with pytest.raises(ValueError, match=r"shape \(K\*3,\) or \(K, 3\)"):
        ls.to_differential(torch.zeros(71))
    with pytest.raises(ValueError, match="floating-point tensor"):
        ls.to_differential(torch.zeros(72, dtype=torch.int32))
    with pytest.raises(ValueError, match=r"Taichi field must be .* got shape \(8, 4\)"):
        ls.from_differential(ti.field(ti.f32, shape=(8, 4)))
