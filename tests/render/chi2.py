"""Chi-square goodness-of-fit testing of direction samplers (after Mitsuba's `mitsuba.chi2`).

A sampler draws N directions; a pdf function claims their density (solid angle measure). A
2D chart (a `Domain`) maps the sphere of directions, or the part of it the density lives on, to a
rectangle of parameters, which is cut into a grid of bins. The observed histogram of the samples
is compared with the expected counts ``N * integral(pdf dw)`` over every bin, computed with a
Gauss-Legendre rule per bin in the chart's parameters (``dw = jacobian * da * db``), by Pearson's
test. Samples the sampler marks invalid (no direction, a direction below the horizon, a delta
lobe that is not part of the density...) and valid samples outside the chart form one more cell,
whose expected count is what the density leaves of N: the total mass is tested too. Cells with
an expected count below 5 are pooled (as Mitsuba does); a sample in a bin whose expected count
is exactly 0 fails the test outright.

Charts: ``SphericalDomain`` (cos theta, phi) in an arbitrary frame, ``EnvmapDomain`` (theta,
phi) in Mitsuba's lat-long convention (bins line up with texels), and the surface charts
``PlanarDomain`` (rectangle or polar disk in a plane) and ``SphereCapDomain`` (the part of a
sphere visible from a point): these parameterise directions by the surface point the ray from
the reference point hits, so that bins line up with the silhouette of an emitter (a density
discontinuity that would spoil the numerical integration).

No scipy here: `chi2_sf` is the regularized upper incomplete gamma function Q(dof/2, x/2)
(series / continued fraction, Numerical Recipes' `gammq`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# ---------------------------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------------------------


def _gamma_p_series(a: float, x: float) -> float:
    """Regularized lower incomplete gamma P(a, x) by its power series (good for x < a + 1)."""
    term = 1.0 / a
    total = term
    n = 0
    while n < 100000:
        n += 1
        term *= x / (a + n)
        total += term
        if abs(term) < abs(total) * 1e-16:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _gamma_q_cf(a: float, x: float) -> float:
    """Regularized upper incomplete gamma Q(a, x) by Lentz's continued fraction (x >= a + 1)."""
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 100000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < tiny:
            d = tiny
        c = b + an / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def gamma_q(a: float, x: float) -> float:
    """Regularized upper incomplete gamma function Q(a, x) = Gamma(a, x) / Gamma(a)."""
    if a <= 0.0:
        raise ValueError(f"gamma_q needs a > 0, got {a}")
    if x <= 0.0:
        return 1.0
    if x < a + 1.0:
        return max(0.0, 1.0 - _gamma_p_series(a, x))
    return _gamma_q_cf(a, x)


def chi2_sf(x: float, dof: float) -> float:
    """Survival function P(X >= x) of the chi-square distribution with `dof` degrees of freedom."""
    if not math.isfinite(x):
        return 0.0
    return gamma_q(0.5 * dof, 0.5 * x)


def chi2_sf_wilson_hilferty(x: float, dof: float) -> float:
    """Wilson-Hilferty normal approximation of `chi2_sf` (a cross-check for large dof)."""
    if x <= 0.0:
        return 1.0
    k = float(dof)
    z = ((x / k) ** (1.0 / 3.0) - (1.0 - 2.0 / (9.0 * k))) / math.sqrt(2.0 / (9.0 * k))
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def binomial_two_sided_p(k: int, n: int, p: float) -> float:
    """Two-sided p-value of k successes in n trials of probability p (normal approximation;
    exact in the degenerate cases p = 0 and p = 1)."""
    if p <= 0.0:
        return 1.0 if k == 0 else 0.0
    if p >= 1.0:
        return 1.0 if k == n else 0.0
    z = (k - n * p) / math.sqrt(n * p * (1.0 - p))
    return math.erfc(abs(z) / math.sqrt(2.0))


@dataclass
class PearsonResult:
    statistic: float
    dof: int
    p_value: float
    pooled_cells: int = 0  # low-expectation cells merged into the pool
    messages: list = field(default_factory=list)


def pearson_test(observed, expected, min_expected: float = 5.0) -> PearsonResult:
    """Pearson's chi-square test of observed cell counts against expected counts.

    Cells expected to be empty and observed empty are dropped. A cell expected empty but
    observed non-empty makes the statistic infinite (p = 0). Cells with expected < min_expected
    are pooled, the smallest first, into one cell that also absorbs the next smallest cells
    until it reaches min_expected. dof = number of cells - 1 (the totals are equal by
    construction of the caller, see `ChiSquareTest`)."""
    obs = np.asarray(observed, np.float64).ravel()
    exp = np.asarray(expected, np.float64).ravel()
    messages = []
    impossible = (exp <= 0.0) & (obs > 0.0)
    if impossible.any():
        messages.append(
            f"{int(obs[impossible].sum())} samples in {int(impossible.sum())} cells whose "
            "expected count is 0"
        )
        return PearsonResult(math.inf, 0, 0.0, 0, messages)
    keep = exp > 0.0
    obs, exp = obs[keep], exp[keep]
    order = np.argsort(exp, kind="stable")
    obs, exp = obs[order], exp[order]
    n_low = int(np.searchsorted(exp, min_expected, side="left"))  # cells with exp < min_expected
    pool_obs = float(obs[:n_low].sum())
    pool_exp = float(exp[:n_low].sum())
    k = n_low
    while 0 < n_low and pool_exp < min_expected and k < len(exp):
        pool_obs += obs[k]
        pool_exp += exp[k]
        k += 1
    stat = float(((obs[k:] - exp[k:]) ** 2 / exp[k:]).sum())
    cells = len(exp) - k
    if k > 0:
        stat += (pool_obs - pool_exp) ** 2 / pool_exp
        cells += 1
        messages.append(f"pooled {k} low-expectation cells into one")
    dof = cells - 1
    if dof < 1:
        messages.append("fewer than 2 cells: the test has no power")
        return PearsonResult(stat, dof, 1.0, k, messages)
    return PearsonResult(stat, dof, chi2_sf(stat, dof), k, messages)


# ---------------------------------------------------------------------------------------------
# charts of (parts of) the sphere of directions
# ---------------------------------------------------------------------------------------------


def _normalize(v):
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def frame_from_axis(axis) -> np.ndarray:
    """A rotation matrix whose third column is the unit vector `axis` (columns s, t, n)."""
    n = _normalize(axis)
    helper = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    s = _normalize(np.cross(helper, n))
    t = np.cross(n, s)
    return np.stack([s, t, n], axis=1)


class Domain:
    """A chart: parameters (a, b) in `bounds` <-> directions.

    `to_params(d)`: parameters of unit directions d (M, 3) and a mask of those the chart covers.
    `from_params(a, b)`: directions and the Jacobian |dw / (da db)| (solid angle per unit area of
    parameters)."""

    bounds: tuple = ((0.0, 1.0), (0.0, 1.0))

    def to_params(self, d):  # pragma: no cover - interface
        raise NotImplementedError

    def from_params(self, a, b):  # pragma: no cover - interface
        raise NotImplementedError


class SphericalDomain(Domain):
    """(cos theta, phi) around the third column of `frame` (default: world z), as Mitsuba's
    `SphericalDomain`. `z_min` > -1 restricts the chart to a cone around the axis."""

    def __init__(self, frame=None, z_min: float = -1.0):
        self.frame = np.eye(3) if frame is None else np.asarray(frame, np.float64)
        self.bounds = ((float(z_min), 1.0), (-math.pi, math.pi))

    def to_params(self, d):
        local = np.asarray(d, np.float64) @ self.frame
        z = np.clip(local[:, 2], -1.0, 1.0)
        phi = np.arctan2(local[:, 1], local[:, 0])
        return np.stack([z, phi], axis=1), z >= self.bounds[0][0]

    def from_params(self, a, b):
        r = np.sqrt(np.maximum(0.0, 1.0 - a * a))
        local = np.stack([r * np.cos(b), r * np.sin(b), a], axis=-1)
        return local @ self.frame.T, np.ones_like(a)


class EnvmapDomain(Domain):
    """(theta, phi) of Mitsuba's lat-long environment maps: the local direction of (theta, phi)
    is (sin phi sin theta, cos theta, -cos phi sin theta), y up, mapped to the world by the
    rotation `rot` (the emitter's to_world). Jacobian sin(theta)."""

    def __init__(self, rot=None):
        self.rot = np.eye(3) if rot is None else np.asarray(rot, np.float64)
        self.bounds = ((0.0, math.pi), (0.0, 2.0 * math.pi))

    def to_params(self, d):
        local = np.asarray(d, np.float64) @ self.rot  # = rot^T d (rows)
        local = _normalize(local)
        theta = np.arccos(np.clip(local[:, 1], -1.0, 1.0))
        phi = np.mod(np.arctan2(local[:, 0], -local[:, 2]), 2.0 * math.pi)
        return np.stack([theta, phi], axis=1), np.ones(len(local), bool)

    def from_params(self, a, b):
        st = np.sin(a)
        local = np.stack([np.sin(b) * st, np.cos(a), -np.cos(b) * st], axis=-1)
        return local @ self.rot.T, st


class _SurfaceDomain(Domain):
    """Directions from `ref` parameterised by the point they hit on a surface: the Jacobian is
    |dA / (da db)| * |cos| / dist^2 (subclasses: `_point`, `_hit`)."""

    ref: np.ndarray

    def _point(self, a, b):
        """Surface points (M, 3), normals (M, 3) and |dA / (da db)| (M,)."""
        raise NotImplementedError

    def _hit(self, d):
        """Parameters (M, 2) of the first surface point along rays ref + t d, and a hit mask."""
        raise NotImplementedError

    def to_params(self, d):
        return self._hit(np.asarray(d, np.float64))

    def from_params(self, a, b):
        p, n, area_jac = self._point(a, b)
        v = p - self.ref
        dist2 = (v * v).sum(-1)
        d = v / np.sqrt(dist2)[..., None]
        cos = np.abs((n * d).sum(-1))
        return d, area_jac * cos / dist2


class PlanarDomain(_SurfaceDomain):
    """Points origin + x U + y V of a plane seen from `ref`: cartesian (x, y) in [-1, 1]^2, or
    polar (r in [0, 1], phi in [0, 2 pi]) with x = r cos phi, y = r sin phi."""

    def __init__(self, ref, origin, u_axis, v_axis, polar: bool = False):
        self.ref = np.asarray(ref, np.float64)
        self.origin = np.asarray(origin, np.float64)
        self.u = np.asarray(u_axis, np.float64)
        self.v = np.asarray(v_axis, np.float64)
        self.polar = polar
        cross = np.cross(self.u, self.v)
        self.area_scale = float(np.linalg.norm(cross))
        self.normal = cross / self.area_scale
        self.bounds = ((0.0, 1.0), (0.0, 2.0 * math.pi)) if polar else ((-1.0, 1.0), (-1.0, 1.0))

    def _point(self, a, b):
        if self.polar:
            x, y, jac = a * np.cos(b), a * np.sin(b), a * self.area_scale
        else:
            x, y, jac = a, b, np.full_like(a, self.area_scale)
        p = self.origin + x[..., None] * self.u + y[..., None] * self.v
        return p, np.broadcast_to(self.normal, p.shape), jac

    def _hit(self, d):
        denom = d @ self.normal
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((self.origin - self.ref) @ self.normal) / denom
        ok = np.isfinite(t) & (t > 0.0)
        p = self.ref + np.where(ok, t, 0.0)[:, None] * d - self.origin
        # solve p = x U + y V in the plane (least squares on the 3x2 system)
        basis = np.stack([self.u, self.v], axis=1)
        xy = p @ np.linalg.pinv(basis).T
        x, y = xy[:, 0], xy[:, 1]
        if self.polar:
            r = np.hypot(x, y)
            params = np.stack([r, np.mod(np.arctan2(y, x), 2.0 * math.pi)], axis=1)
            ok &= r <= 1.0
        else:
            params = np.stack([x, y], axis=1)
            ok &= (np.abs(x) <= 1.0) & (np.abs(y) <= 1.0)
        return params, ok


class SphereCapDomain(_SurfaceDomain):
    """The cap of a sphere visible from `ref` (outside it): (z, phi) with z = cos of the angle
    between a surface point's normal and the axis from the centre to `ref`, z in [r / D, 1]."""

    def __init__(self, ref, center, radius):
        self.ref = np.asarray(ref, np.float64)
        self.center = np.asarray(center, np.float64)
        self.radius = float(radius)
        axis = self.ref - self.center
        dist = float(np.linalg.norm(axis))
        assert dist > self.radius
        self.frame = frame_from_axis(axis)
        self.bounds = ((self.radius / dist, 1.0), (-math.pi, math.pi))

    def _point(self, a, b):
        r = np.sqrt(np.maximum(0.0, 1.0 - a * a))
        n = np.stack([r * np.cos(b), r * np.sin(b), a], axis=-1) @ self.frame.T
        return self.center + self.radius * n, n, np.full_like(a, self.radius**2)

    def _hit(self, d):
        f = self.ref - self.center
        bq = (f * d).sum(-1)
        disc = bq * bq - ((f * f).sum() - self.radius**2)
        # f32 directions grazing the silhouette may miss by rounding: snap them onto it (a
        # direction error e moves a tangent hit point by ~sqrt(e), hence the z tolerance). The
        # rounding of a tangent f32 sample reaches disc = -1.1e-6 r^2 (measured, 3 samples of
        # 290k with fused multiply-adds; -1e-6 before them): 2e-6 r^2 is allowed
        ok = disc >= -2e-6 * self.radius**2
        t = -bq - np.sqrt(np.maximum(disc, 0.0))
        ok &= t > 0.0
        n = _normalize(self.ref + t[:, None] * d - self.center) @ self.frame
        z_min = self.bounds[0][0]
        z = np.clip(n[:, 2], -1.0, 1.0)
        z = np.where((z < z_min) & (z > z_min - 2e-3), z_min, z)
        params = np.stack([z, np.arctan2(n[:, 1], n[:, 0])], axis=1)
        return params, ok


# ---------------------------------------------------------------------------------------------
# the test
# ---------------------------------------------------------------------------------------------


@dataclass
class ChiSquareResult(PearsonResult):
    n_samples: int = 0
    n_valid: int = 0
    n_outside: int = 0  # valid samples the chart does not cover
    pdf_integral: float = 0.0  # integral of the density over the chart
    observed: np.ndarray | None = None  # (res_a, res_b) histogram
    expected: np.ndarray | None = None


class ChiSquareTest:
    """Mitsuba-style chi-square test of a direction sampler against a claimed density.

    Args:
        domain: a `Domain` chart.
        sample_fn: ``n -> (d (n, 3), valid (n,) bool)``; the n samples of one run.
        pdf_fn: ``d (M, 3) -> pdf (M,)`` in solid angle measure.
        n_samples: sample count N.
        res: grid resolution (along a, along b).
        quad: Gauss-Legendre points per bin and dimension (quad^2 pdf evaluations per bin).
    """

    def __init__(self, domain, sample_fn, pdf_fn, n_samples: int, res=(40, 80), quad: int = 4):
        self.domain = domain
        self.sample_fn = sample_fn
        self.pdf_fn = pdf_fn
        self.n = int(n_samples)
        self.res = (int(res[0]), int(res[1]))
        self.quad = int(quad)

    def edges(self):
        (a0, a1), (b0, b1) = self.domain.bounds
        return np.linspace(a0, a1, self.res[0] + 1), np.linspace(b0, b1, self.res[1] + 1)

    def histogram(self, d, valid):
        params, inside = self.domain.to_params(np.asarray(d, np.float64)[valid])
        (a0, a1), (b0, b1) = self.domain.bounds
        inside &= (params[:, 0] >= a0) & (params[:, 0] <= a1)
        inside &= (params[:, 1] >= b0) & (params[:, 1] <= b1)
        pa, pb = params[inside, 0], params[inside, 1]
        ia = np.clip(((pa - a0) / (a1 - a0) * self.res[0]).astype(np.int64), 0, self.res[0] - 1)
        ib = np.clip(((pb - b0) / (b1 - b0) * self.res[1]).astype(np.int64), 0, self.res[1] - 1)
        hist = np.zeros(self.res, np.float64)
        np.add.at(hist, (ia, ib), 1.0)
        return hist, int((~inside).sum())

    def integrate(self):
        """Integral of the density over every bin: (res_a, res_b) array."""
        ea, eb = self.edges()
        x, w = np.polynomial.legendre.leggauss(self.quad)
        x, w = 0.5 * (x + 1.0), 0.5 * w  # on [0, 1]
        ha, hb = np.diff(ea)[0], np.diff(eb)[0]
        a = (ea[:-1, None] + ha * x[None, :]).ravel()  # (res_a * q)
        b = (eb[:-1, None] + hb * x[None, :]).ravel()
        A, B = np.meshgrid(a, b, indexing="ij")
        d, jac = self.domain.from_params(A.ravel(), B.ravel())
        pdf = np.asarray(self.pdf_fn(np.ascontiguousarray(d)), np.float64) * jac
        q = self.quad
        pdf = pdf.reshape(self.res[0], q, self.res[1], q)
        return np.einsum("iajb,a,b->ij", pdf, w, w) * (ha * hb)

    def run(self, max_pdf_integral: float = 1.0 + 1e-3) -> ChiSquareResult:
        d, valid = self.sample_fn(self.n)
        valid = np.asarray(valid, bool)
        hist, outside = self.histogram(d, valid)
        integral = self.integrate()
        total = float(integral.sum())
        expected = integral * self.n
        rest_obs = self.n - float(hist.sum())  # invalid samples + valid ones off the chart
        # The rest cell's expectation is a difference of two nearly equal numbers when the
        # density has (almost) all the mass: never 'impossible', only pooled (a tiny floor), so
        # that rare f32 rim events (e.g. a cosine sample with wo.z == 0) do not fail the test;
        # a real excess in it still does, through the pooled cell's statistic.
        rest_exp = max(self.n - float(expected.sum()), 1e-6)
        res = pearson_test(np.append(hist.ravel(), rest_obs), np.append(expected.ravel(), rest_exp))
        out = ChiSquareResult(
            res.statistic, res.dof, res.p_value, res.pooled_cells, list(res.messages),
            n_samples=self.n, n_valid=int(valid.sum()), n_outside=outside, pdf_integral=total,
            observed=hist, expected=expected,
        )
        if total > max_pdf_integral:
            out.messages.append(f"the density integrates to {total:.6f} > 1 over the chart")
            out.p_value = 0.0
        return out
