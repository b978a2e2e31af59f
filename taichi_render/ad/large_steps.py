"""Large Steps in inverse rendering of geometry (Nicolet et al. 2021), Mitsuba 3's
``mi.ad.LargeSteps``.

Optimise a mesh through its *differential* coordinates ``u = (I + lambda L) v`` instead of its
vertex positions ``v`` (L: combinatorial Laplacian of the mesh): the gradient with respect to
``u`` is the gradient with respect to ``v`` diffused over the surface by ``(I + lambda L)^-1``,
so that sparse, noisy gradients move whole regions of the mesh smoothly instead of single
vertices. Pair it with ``tr.ad.Adam(lr, uniform=True)``, as the paper does::

    ls = tr.ad.LargeSteps(params["mesh.vertex_positions"], params["mesh.faces"], lambda_=19)
    u = torch.tensor(ls.to_differential(params["mesh.vertex_positions"]), requires_grad=True)
    ...
    v = ls.from_differential(u)            # differentiable (torch tensor in, torch tensor out)
    image = trt.render(scene, params, **{"mesh.vertex_positions": v})

Vertices at identical positions (duplicated along uv seams, or for face normals) are fused
first, as Mitsuba does: ``u`` holds one row per *distinct* position (``n_verts`` of them, in the
order of ``np.unique`` over the positions) and `LargeSteps.from_differential` writes the same
position into every copy, so seams cannot open during the optimisation.

Values may be numpy arrays (no gradient), torch tensors (differentiable through a
``torch.autograd.Function``) or Taichi fields (differentiable under ``ti.ad.Tape``: the adjoints
are registered with ``ti.ad.grad_replaced``); the output has the kind and layout of the input.

The Cholesky factorisation of ``I + lambda L`` is computed once, by ``cholespy`` (single
precision solves, as in Mitsuba's single-precision variants).
"""

from __future__ import annotations

import atexit
import numbers
import weakref

import numpy as np
import taichi as ti

_TO, _FROM = "to_differential", "from_differential"

# Live LargeSteps objects. Their cholespy solvers are released at exit, before the interpreter
# tears modules down: a solver still referenced then (by a global, or by a torch graph) makes
# nanobind print "leaked instance" warnings.
_INSTANCES: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _release_solvers() -> None:
    for ls in list(_INSTANCES):
        ls.solver = None


def _host_array(value, what: str) -> np.ndarray:
    """A numpy copy of a numpy array, list, torch tensor or Taichi field."""
    if isinstance(value, ti.Field):
        return value.to_numpy()
    if type(value).__module__.startswith("torch"):
        return value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be an array of numbers: {exc}") from None


def _points(value, what: str) -> np.ndarray:
    """(K*3,) or (K, 3) numbers -> (K, 3) float32, checked finite."""
    arr = _host_array(value, what)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.floating)
                                 or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{what} must hold real numbers, got dtype {arr.dtype}")
    if not ((arr.ndim == 1 and arr.size % 3 == 0) or (arr.ndim == 2 and arr.shape[1] == 3)):
        raise ValueError(
            f"{what} must have shape (K*3,) (flat x, y, z per vertex, as params[...] gives it) "
            f"or (K, 3), got shape {arr.shape}"
        )
    arr = arr.reshape(-1, 3).astype(np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} contains NaN or inf")
    return arr


def _faces(value, n_input: int) -> np.ndarray:
    """(F*3,) or (F, 3) integer vertex indices in [0, n_input) -> (F, 3) int64."""
    arr = _host_array(value, "faces")
    if arr.size == 0:
        return np.zeros((0, 3), np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"faces must be integer vertex indices, got dtype {arr.dtype}")
    if not ((arr.ndim == 1 and arr.size % 3 == 0) or (arr.ndim == 2 and arr.shape[1] == 3)):
        raise ValueError(
            f"faces must have shape (F*3,) (three vertex indices per triangle) or (F, 3), "
            f"got shape {arr.shape}"
        )
    arr = arr.reshape(-1, 3).astype(np.int64)
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= n_input:
        bad = lo if lo < 0 else hi
        raise ValueError(
            f"faces index vertex {bad}, out of range: the mesh has {n_input} vertices "
            f"(valid indices 0..{n_input - 1})"
        )
    return arr


def system_matrix(n_verts: int, faces: np.ndarray, lambda_: float):
    """COO entries (rows, cols, values) of ``M = I + lambda_ * L``, duplicates summed.

    Args:
        n_verts: number of vertices (the matrix is n_verts x n_verts).
        faces: (F, 3) integer vertex indices.
        lambda_: weight of the Laplacian (float >= 0).

    Returns:
        rows, cols: (nnz,) int32, sorted by row then column, no duplicate (row, col);
        values: (nnz,) float64.

    L is the combinatorial (uniform) Laplacian of the edge graph of the faces: L[i, j] = -1 for
    every edge (i, j), L[i, i] = number of neighbours of i (Mitsuba's ``mesh_laplacian``).
    An edge shared by several faces counts once; a degenerate edge (i, i) is ignored.
    """
    ii = faces[:, [1, 2, 0]].reshape(-1)
    jj = faces[:, [2, 0, 1]].reshape(-1)
    keep = ii != jj
    ii, jj = ii[keep], jj[keep]
    # the undirected edges once each, both directions
    edges = np.unique(np.concatenate([ii, jj]) * n_verts + np.concatenate([jj, ii]))
    er, ec = edges // n_verts, edges % n_verts
    degree = np.bincount(er, minlength=n_verts).astype(np.float64)
    diag = np.arange(n_verts, dtype=np.int64)
    rows = np.concatenate([er, diag])
    cols = np.concatenate([ec, diag])
    values = np.concatenate([np.full(er.size, -float(lambda_)), 1.0 + float(lambda_) * degree])
    order = np.lexsort((cols, rows))
    return rows[order].astype(np.int32), cols[order].astype(np.int32), values[order]


class LargeSteps:
    """The system ``M = I + lambda_ L`` of a mesh, its Cholesky factorisation, and the maps
    between vertex positions and their differential form (Mitsuba's ``mi.ad.LargeSteps``).

    Args:
        vertex_positions: the mesh's vertex positions, (N*3,) float32 as
            ``params["<mesh>.vertex_positions"]`` returns them (or (N, 3)); numpy, torch or a
            Taichi field.
        faces: (F*3,) (or (F, 3)) integer vertex indices, ``params["<mesh>.faces"]``.
        lambda_: weight of the Laplacian (default 19, as in Mitsuba). Larger values diffuse
            gradients further; it should grow with the tessellation of the mesh.

    Attributes:
        n_verts: number of distinct positions (the fused vertices): ``u`` has n_verts * 3
            values.
        n_input_verts: N, the number of vertices of the mesh (``v`` has N * 3 values).
        index: (n_verts,) int64, for each fused vertex the first mesh vertex at its position.
        inverse: (N,) int64, for each mesh vertex its fused vertex.
        rows, cols, data: the COO entries of M (int32, int32, float64; `system_matrix`).

    Raises:
        ValueError: shapes that are not (K*3,) or (K, 3), non-finite positions, non-integer or
            out-of-range face indices, or a negative ``lambda_``.
        ImportError: ``cholespy`` is not installed.
    """

    def __init__(self, vertex_positions, faces, lambda_: float = 19.0):
        if (isinstance(lambda_, bool) or not isinstance(lambda_, numbers.Real)
                or not np.isfinite(lambda_) or lambda_ < 0):
            raise ValueError(f"lambda_ must be a finite number >= 0, got {lambda_!r}")
        try:
            from cholespy import CholeskySolverF, MatrixType
        except ImportError as exc:  # a core dependency (pyproject.toml); say what is missing
            raise ImportError(
                "tr.ad.LargeSteps needs the 'cholespy' package: pip install cholespy==2.2.0"
            ) from exc

        v = _points(vertex_positions, "vertex_positions")
        if len(v) == 0:
            raise ValueError("vertex_positions is empty: the mesh has no vertices")
        f = _faces(faces, len(v))

        # fuse the vertices at identical positions (uv seams, face normals), as Mitsuba does
        _, index, inverse = np.unique(v, axis=0, return_index=True, return_inverse=True)
        self.index = index.astype(np.int64)
        self.inverse = inverse.reshape(-1).astype(np.int64)
        self.n_verts = len(index)
        self.n_input_verts = len(v)
        self.lambda_ = float(lambda_)

        self.rows, self.cols, self.data = system_matrix(self.n_verts, self.inverse[f], lambda_)
        self.solver = CholeskySolverF(self.n_verts, self.rows, self.cols, self.data,
                                      MatrixType.COO)
        self._out_fields: dict = {}
        _INSTANCES.add(self)

    # ---- public maps ----
    def to_differential(self, v):
        """Differential form of vertex positions: ``u = (I + lambda_ L) v`` over the fused
        vertices (each fused vertex takes the position of its first copy, ``index``).

        Args:
            v: (N*3,) or (N, 3) vertex positions: numpy (float32 result, no gradient), a torch
                tensor (a tensor of v's dtype and device, differentiable) or a Taichi field
                (scalar field of shape (N*3,) or (N, 3), or a 3-vector field of shape (N,);
                differentiable under ``ti.ad.Tape``).

        Returns:
            u with n_verts rows, in v's kind and layout ((n_verts*3,) for a flat v). A Taichi
            field result is a field owned by this object, overwritten by the next call of the
            same kind and layout.
        """
        return self._apply(_TO, v)

    def from_differential(self, u):
        """Vertex positions of a differential form: solves ``(I + lambda_ L) v = u`` and writes
        each fused vertex's position into all its copies (``inverse``).

        Args:
            u: (n_verts*3,) or (n_verts, 3) differential coordinates, in any kind that
                `to_differential` takes (numpy, torch, Taichi field).

        Returns:
            v with N rows (every mesh vertex), in u's kind and layout; float32 for numpy.
            Differentiable for torch tensors and, under ``ti.ad.Tape``, for Taichi fields: the
            adjoint sums the gradients of the copies of a vertex and solves with M (symmetric).
        """
        return self._apply(_FROM, u)

    # ---- numerics on (K, 3) arrays ----
    def _multiply(self, x: np.ndarray) -> np.ndarray:
        """M @ x for x (n_verts, 3), in float64."""
        x = np.asarray(x, np.float64)
        prod = self.data[:, None] * x[self.cols]
        return np.stack(
            [np.bincount(self.rows, weights=prod[:, k], minlength=self.n_verts) for k in range(3)],
            axis=1,
        )

    def _solve(self, b: np.ndarray) -> np.ndarray:
        """M^-1 b for b (n_verts, 3) (cholespy, float32)."""
        b = np.ascontiguousarray(b, dtype=np.float32)
        x = np.empty_like(b)
        self.solver.solve(b, x)
        return x

    def _sum_copies(self, g: np.ndarray) -> np.ndarray:
        """(N, 3) per mesh vertex -> (n_verts, 3) summed over the copies of each fused vertex."""
        g = np.asarray(g, np.float64)
        return np.stack(
            [np.bincount(self.inverse, weights=g[:, k], minlength=self.n_verts) for k in range(3)],
            axis=1,
        )

    def _forward(self, op: str, x: np.ndarray) -> np.ndarray:
        if op == _TO:
            return self._multiply(x[self.index]).astype(np.float32)
        return self._solve(x)[self.inverse]

    def _adjoint(self, op: str, g: np.ndarray) -> np.ndarray:
        """The transpose of `_forward(op, .)` applied to an output gradient g."""
        if op == _TO:  # gather by index, then M: adjoint is M^T = M, then scatter to index
            out = np.zeros((self.n_input_verts, 3), np.float32)
            out[self.index] = self._multiply(g)
            return out
        return self._solve(self._sum_copies(g))  # scatter by inverse, then M^-1 (symmetric)

    def _sizes(self, op: str) -> tuple[int, int, str]:
        """Rows expected in, rows out, and the name of the input for messages."""
        if op == _TO:
            return self.n_input_verts, self.n_verts, "v"
        return self.n_verts, self.n_input_verts, "u"

    def _check_rows(self, op: str, rows: int) -> None:
        expected, _, name = self._sizes(op)
        if rows == expected:
            return
        if op == _TO:
            detail = f"the mesh has {expected} vertices"
        else:
            detail = (f"the mesh has {expected} distinct vertex positions (its "
                      f"{self.n_input_verts} vertices, copies at equal positions fused)")
        raise ValueError(
            f"{op}: {name} must hold {expected * 3} values ({expected} x 3) since {detail}, "
            f"got {rows * 3}"
        )

    # ---- dispatch on the kind of value ----
    def _apply(self, op: str, value):
        if isinstance(value, ti.Field):
            return self._apply_field(op, value)
        if type(value).__module__.startswith("torch"):
            return self._apply_torch(op, value)
        x = _points(value, self._sizes(op)[2])
        self._check_rows(op, len(x))
        flat = np.ndim(value) == 1
        y = self._forward(op, x)
        return y.reshape(-1) if flat else y

    def _apply_torch(self, op: str, t):
        if not (t.dtype.is_floating_point and t.dim() in (1, 2)) or (
            t.dim() == 1 and t.numel() % 3 or t.dim() == 2 and t.shape[1] != 3
        ):
            raise ValueError(
                f"{op}: expected a floating-point tensor of shape (K*3,) or (K, 3), "
                f"got {tuple(t.shape)} {t.dtype}"
            )
        self._check_rows(op, t.numel() // 3)
        y = _torch_function().apply(t.reshape(-1, 3), self, op)
        return y.reshape(-1) if t.dim() == 1 else y

    def _apply_field(self, op: str, field):
        layout = _field_layout(field, op)
        self._check_rows(op, _field_rows(field))
        out = self._out_field(op, layout, field.dtype)
        _apply_recorded(self, op, field, out)
        return out

    def _out_field(self, op: str, layout: str, dtype):
        """The output field of one (op, layout, dtype), allocated once with needs_grad."""
        key = (op, layout, str(dtype))
        out = self._out_fields.get(key)
        if out is None:
            rows = self._sizes(op)[1]
            if layout == "vector":
                out = ti.Vector.field(3, dtype, shape=(rows,), needs_grad=True)
            elif layout == "matrix":
                out = ti.field(dtype, shape=(rows, 3), needs_grad=True)
            else:
                out = ti.field(dtype, shape=(rows * 3,), needs_grad=True)
            self._out_fields[key] = out
        return out

    def __repr__(self):
        return (f"LargeSteps(n_verts={self.n_verts}, n_input_verts={self.n_input_verts}, "
                f"lambda_={self.lambda_:g})")


# ---- Taichi fields: forward and adjoint registered with the Tape ----
def _field_layout(field, op: str) -> str:
    if isinstance(field, ti.MatrixField):
        if field.n == 3 and field.m == 1 and len(field.shape) == 1:
            return "vector"
    elif len(field.shape) == 1 and field.shape[0] % 3 == 0:
        return "flat"
    elif len(field.shape) == 2 and field.shape[1] == 3:
        return "matrix"
    raise ValueError(
        f"{op}: a Taichi field must be a scalar field of shape (K*3,) or (K, 3), or a 3-vector "
        f"field of shape (K,); got shape {field.shape}"
        + (f" with elements {field.n}x{field.m}" if isinstance(field, ti.MatrixField) else "")
    )


def _field_rows(field) -> int:
    if isinstance(field, ti.MatrixField):
        return field.shape[0]
    return field.shape[0] if len(field.shape) == 2 else field.shape[0] // 3


def _has_grad(field) -> bool:
    return bool(field.snode.ptr.has_adjoint())


def _read_points(field) -> np.ndarray:
    return np.asarray(field.to_numpy(), np.float32).reshape(-1, 3)


def _write_points(field, values: np.ndarray) -> None:
    dtype = np.float64 if field.dtype == ti.f64 else np.float32
    shape = tuple(field.shape) + ((3,) if isinstance(field, ti.MatrixField) else ())
    field.from_numpy(np.ascontiguousarray(values, dtype=dtype).reshape(shape))


@ti.ad.grad_replaced
def _apply_recorded(ls: LargeSteps, op: str, src, dst):
    x = _read_points(src)
    if not np.isfinite(x).all():
        raise ValueError(f"{op}: the input field contains NaN or inf")
    _write_points(dst, ls._forward(op, x))


@ti.ad.grad_for(_apply_recorded)
def _apply_adjoint(ls: LargeSteps, op: str, src, dst):
    """src.grad += adjoint(dst.grad); dst.grad is consumed (set to 0), so that a second use of
    the same output field in one Tape does not count the first one's gradient twice."""
    if not (_has_grad(src) and _has_grad(dst)):
        return
    g = ls._adjoint(op, _read_points(dst.grad))
    _write_points(src.grad, _read_points(src.grad).astype(np.float64) + g)
    dst.grad.fill(0)


# ---- torch tensors: an autograd.Function, defined on first use (torch is optional) ----
_TORCH_FUNCTION = []


def _torch_function():
    if _TORCH_FUNCTION:
        return _TORCH_FUNCTION[0]
    import torch

    class LargeStepsFunction(torch.autograd.Function):
        """(K, 3) tensor -> (K', 3) tensor through `LargeSteps._forward`; backward through
        `LargeSteps._adjoint`. The numerics run in numpy on the host."""

        @staticmethod
        def forward(ctx, x, ls, op):
            ctx.ls, ctx.op = ls, op
            ctx.dtype, ctx.device = x.dtype, x.device
            y = ls._forward(op, x.detach().cpu().numpy().astype(np.float32))
            return torch.from_numpy(np.ascontiguousarray(y)).to(device=x.device, dtype=x.dtype)

        @staticmethod
        def backward(ctx, grad):
            g = ctx.ls._adjoint(ctx.op, grad.detach().cpu().numpy().astype(np.float64))
            g = torch.from_numpy(np.ascontiguousarray(g)).to(device=ctx.device, dtype=ctx.dtype)
            return g, None, None

    _TORCH_FUNCTION.append(LargeStepsFunction)
    return LargeStepsFunction
