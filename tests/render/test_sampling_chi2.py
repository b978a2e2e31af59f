"""Chi-square goodness-of-fit tests of the renderer's samplers (as Mitsuba's `chi2` tests).

For BSDFs: the directions `bsdf.sample` draws, for a fixed wi, against the density `eval_pdf`
claims. For emitters: the directions `sample_emitter` draws from a reference point, against the
density of the independent pdf functions the path tracer uses for MIS (`pdf_area` at the point a
traced ray hits, `pdf_environment`), plus a per-sample check that the pdf `sample_emitter`
reports equals that density. For the dielectric (delta lobes): a binomial test of the reflected
fraction against the Fresnel reflectance, and Snell's law.

Statistics (binning, integration, pooling, p-values) live in chi2.py. Every test rejects at
significance 0.01 / N_TESTS (Bonferroni over the tests of this module); negative controls show
that a wrong density is rejected at that level.

Random numbers are numpy uniforms handed to the kernels, independent of the renderer's RNG.
Two kernels serve every test (one compile each). Seeds are fixed: the tests are deterministic.

`test_envmap_samples_near_the_poles` guards a fixed bug: envmap samples within ~2.4e-4 rad of
the poles used to get pdf 0 (float32 sin(theta) from 1 - cos^2).
"""


import math
import os
import zlib

import numpy as np
import pytest
import taichi as ti
from chi2 import (
    ChiSquareTest,
    EnvmapDomain,
    PlanarDomain,
    SphereCapDomain,
    SphericalDomain,
    binomial_two_sided_p,
    chi2_sf,
    chi2_sf_wilson_hilferty,
    pearson_test,
)

import taichi_render as tr
from taichi_render.render import layout as L
from taichi_render.render.device.bsdf import eval_pdf, sample, slot_textures
from taichi_render.render.device.emitters import pdf_area, pdf_environment, sample_emitter
from taichi_render.render.device.intersect import INF, interaction_at, trace
from taichi_render.render.renderer import scene_data
from taichi_render.render.view import (
    ALL_FEATURES,
    F_1,
    F_2,
    I_1,
    V3_1,
    SceneArrays,
    SceneView,
)

T = tr.ScalarTransform4f
vec2 = ti.math.vec2
vec3 = ti.math.vec3

N_BSDF = 1_000_000  # samples per BSDF test
N_EMITTER = 1_000_000  # samples per emitter test
N_PDF_CHECK = 4_000  # samples whose reported pdf is compared with the pdf functions

# ---- the tested configurations (N_TESTS counts them for the Bonferroni correction) ----
WI_ANGLES = (0.0, 45.0, 80.0)  # polar angle of wi, degrees
ROUGH = [
    (dist, au, av)
    for dist in ("ggx", "beckmann")
    for (au, av) in ((0.2, 0.2), (0.5, 0.5), (0.2, 0.5))
]
EMITTERS = ("rectangle", "obj_fan", "sphere", "disk", "constant", "envmap", "obj_fan+sphere")
DIELECTRIC_CASES = (0.0, 45.0, 80.0, 180.0 - 30.0, 180.0 - 60.0)  # > 90: wi inside the medium
ROUGH_PLASTIC = (('beckmann', 0.1), ('ggx', 0.3))
ROUGH_DIELECTRIC = (('beckmann', 0.2), ('ggx', 0.2), ('ggx', 0.5))
N_TESTS = ((1 + len(ROUGH) + 1 + len(ROUGH_PLASTIC)) * len(WI_ANGLES) + len(EMITTERS)
           + (1 + len(ROUGH_DIELECTRIC)) * len(DIELECTRIC_CASES))
ALPHA = 0.01 / N_TESTS


# ---------------------------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------------------------


@ti.func
def _bsdf_one(sc: ti.template(), b: ti.i32, wi: vec3, mode: ti.i32, u: ti.template(),
              wo: ti.template(), pdf: ti.template(), spdf: ti.template(), flags: ti.template(),
              eta: ti.template(), weight: ti.template(), i: ti.i32):
    tex0, tex1 = slot_textures(sc, b, vec2(0.5, 0.5))
    w = wo[i]
    if mode == 0:
        bs = sample(sc, b, tex0, tex1, wi, u[i, 0], vec2(u[i, 1], u[i, 2]))
        w = bs.wo
        wo[i] = w
        spdf[i] = bs.pdf
        flags[i] = bs.valid + 2 * bs.delta
        eta[i] = bs.eta
        weight[i] = bs.weight
    _, p = eval_pdf(sc, b, tex0, tex1, wi, w)
    pdf[i] = p


@ti.kernel
def bsdf_kernel(
    scene: SceneArrays,
    b: ti.i32, wi: vec3, mode: ti.i32, u: F_2, wo: V3_1, pdf: F_1, spdf: F_1, flags: I_1, eta: F_1,
    weight: V3_1,
):
    """mode 0: sample wo (u: (N, 3) uniforms) and evaluate eval_pdf there; mode 1: eval_pdf at
    the given wo."""
    for i in range(wo.shape[0]):
        _bsdf_one(
            SceneView(ALL_FEATURES, scene),
            b, wi, mode, u, wo, pdf, spdf, flags, eta, weight, i,
        )


@ti.func
def _emitter_one(sc: ti.template(), ref_p: vec3, mode: ti.i32, u: ti.template(),
                 d: ti.template(), spdf: ti.template(), pdf: ti.template(), flags: ti.template(),
                 cos_hit: ti.template(), i: ti.i32):
    dir = d[i]
    ok = 1
    if mode == 0:
        es = sample_emitter(sc, ref_p, u[i, 0], vec2(u[i, 1], u[i, 2]))
        dir = es.d
        d[i] = dir
        spdf[i] = es.pdf
        ok = ti.i32(es.pdf > 0.0)
        flags[i] = ok + 2 * es.delta
    p = 0.0
    c = 1.0
    if ok:
        # the density the path tracer's MIS uses for a ray leaving ref_p along dir
        si = interaction_at(sc, trace(sc, ref_p, dir, INF, False), ref_p, dir)
        if si.valid:
            p = pdf_area(sc, si.shape, ref_p, si.p, si.n)
            c = ti.abs(si.n.dot(dir))
        else:
            p = pdf_environment(sc, dir)
    pdf[i] = p
    cos_hit[i] = c


@ti.kernel
def emitter_kernel(
    scene: SceneArrays,
    ref_p: vec3, mode: ti.i32, u: F_2, d: V3_1, spdf: F_1, pdf: F_1, flags: I_1, cos_hit: F_1,
):
    """mode 0: sample_emitter from ref_p, then the pdf functions along the sampled direction;
    mode 1: the pdf functions along the given directions d. cos_hit: |cos| at the surface the
    ray hits (1 when it escapes)."""
    for i in range(d.shape[0]):
        _emitter_one(
            SceneView(ALL_FEATURES, scene),
            ref_p, mode, u, d, spdf, pdf, flags, cos_hit, i,
        )


# ---------------------------------------------------------------------------------------------
# host wrappers
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _taichi():
    tr.init(os.environ.get("TR_TEST_ARCH", "cpu"))


def _f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


class BSDFProbe:
    """A one-shape scene holding `bsdf`; samples and pdfs of that BSDF for a fixed local wi."""

    def __init__(self, bsdf: dict, wi):
        self.scene = tr.load_dict({"type": "scene", "shape": {"type": "rectangle", "bsdf": bsdf}})
        self.data = scene_data(self.scene)
        self.b = int(self.data.np["shape_i"][0, L.SI_BSDF])
        self.wi = np.asarray(wi, np.float64)

    def _run(self, mode, u, wo):
        n = len(wo)
        out = {"wo": _f32(wo), "pdf": np.zeros(n, np.float32), "spdf": np.zeros(n, np.float32),
               "flags": np.zeros(n, np.int32), "eta": np.zeros(n, np.float32),
               "weight": np.zeros((n, 3), np.float32)}
        bsdf_kernel(self.data.arrays(), self.b, vec3(*self.wi.tolist()), mode, _f32(u),
                    out["wo"], out["pdf"], out["spdf"], out["flags"], out["eta"], out["weight"])
        return out

    def sample(self, n, rng):
        return self._run(0, rng.random((n, 3), dtype=np.float32), np.zeros((n, 3)))

    def pdf(self, wo):
        return self._run(1, np.zeros((1, 3)), wo)["pdf"]


class EmitterProbe:
    """Emitter sampling from `ref_p` in a scene given as a dict."""

    def __init__(self, scene: dict, ref_p):
        self.scene = tr.load_dict(scene)
        self.data = scene_data(self.scene)
        self.ref = np.asarray(ref_p, np.float64)

    def _run(self, mode, u, d):
        n = len(d)
        out = {"d": _f32(d), "spdf": np.zeros(n, np.float32), "pdf": np.zeros(n, np.float32),
               "flags": np.zeros(n, np.int32), "cos_hit": np.zeros(n, np.float32)}
        emitter_kernel(self.data.arrays(), vec3(*self.ref.tolist()), mode, _f32(u),
                       out["d"], out["spdf"], out["pdf"], out["flags"], out["cos_hit"])
        return out

    def sample(self, n, rng):
        return self._run(0, rng.random((n, 3), dtype=np.float32), np.zeros((n, 3)))

    def pdf(self, d):
        return self._run(1, np.zeros((1, 3)), d)["pdf"]


def _seed(*key) -> int:
    """A seed that is stable across processes (str hashes are salted)."""
    return zlib.crc32(repr(key).encode())


def spherical_dir(theta_deg, phi_deg=0.0):
    t, p = math.radians(theta_deg), math.radians(phi_deg)
    return np.array([math.sin(t) * math.cos(p), math.sin(t) * math.sin(p), math.cos(t)])


def report(name, res):
    print(f"\n[chi2] {name}: p = {res.p_value:.4g} (chi2 = {res.statistic:.1f}, dof = {res.dof}, "
          f"valid {res.n_valid}/{res.n_samples}, pdf integral {res.pdf_integral:.5f}) "
          f"{res.messages}")


def assert_accepted(name, res):
    report(name, res)
    assert res.p_value > ALPHA, (
        f"{name}: rejected, p = {res.p_value:.3g} <= {ALPHA:.3g}: {res.messages}")


# ---------------------------------------------------------------------------------------------
# the statistics helper itself
# ---------------------------------------------------------------------------------------------


def _chi2_sf_even(x, dof):
    """Closed form for even dof: exp(-x/2) sum_{k < dof/2} (x/2)^k / k! (in log space)."""
    h = 0.5 * x
    terms = [math.exp(-h + k * math.log(h) - math.lgamma(k + 1)) for k in range(dof // 2)]
    return math.fsum(terms)


@pytest.mark.parametrize("dof", [2, 4, 10, 100, 1000, 4000])
@pytest.mark.parametrize("q", [0.5, 1.0, 1.2, 2.0])
def test_chi2_sf_matches_closed_form(dof, q):
    x = q * dof
    ref = _chi2_sf_even(x, dof)
    assert chi2_sf(x, dof) == pytest.approx(ref, rel=1e-9, abs=1e-300)


def test_chi2_sf_known_values():
    assert chi2_sf(3.841458820694124, 1) == pytest.approx(0.05, rel=1e-9)
    assert chi2_sf(6.634896601021214, 1) == pytest.approx(0.01, rel=1e-9)
    assert chi2_sf(18.307038053275146, 10) == pytest.approx(0.05, rel=1e-9)
    assert chi2_sf(124.34211340400407, 100) == pytest.approx(0.05, rel=1e-8)
    for x in (0.1, 1.0, 5.0, 20.0):
        assert chi2_sf(x, 1) == pytest.approx(math.erfc(math.sqrt(x / 2)), rel=1e-9)
    for dof in (500, 3000):
        for x in (0.95 * dof, 1.05 * dof, 1.1 * dof):
            assert chi2_sf(x, dof) == pytest.approx(chi2_sf_wilson_hilferty(x, dof), abs=2e-3)
    assert chi2_sf(0.0, 5) == 1.0 and chi2_sf(math.inf, 5) == 0.0


def test_pearson_pooling_and_impossible_cells():
    res = pearson_test([10, 0, 8], [10.0, 0.0, 8.0])  # the 0/0 cell is dropped
    assert res.dof == 1 and res.statistic == pytest.approx(0.0)
    res = pearson_test([10, 2, 3], [10.0, 0.0, 5.0])  # samples where nothing is expected
    assert res.p_value == 0.0 and math.isinf(res.statistic)
    res = pearson_test([1, 2, 3, 50], [1.5, 1.5, 3.0, 50.0])  # three low cells pooled into one
    assert res.pooled_cells == 3 and res.dof == 1


def test_chi2_helper_on_numpy_samples():
    """Positive and negative control of the helper alone (numpy sampler, no renderer)."""
    rng = np.random.default_rng(1)

    def cosine_samples(n):
        r, phi = np.sqrt(rng.random(n)), 2 * np.pi * rng.random(n)
        d = np.stack([r * np.cos(phi), r * np.sin(phi), np.sqrt(1 - r * r)], axis=1)
        return d, np.ones(n, bool)

    good = ChiSquareTest(SphericalDomain(), cosine_samples,
                         lambda d: np.maximum(d[:, 2], 0) / np.pi, 200_000, res=(20, 40)).run()
    bad = ChiSquareTest(SphericalDomain(), cosine_samples,
                        lambda d: np.where(d[:, 2] > 0, 1 / (2 * np.pi), 0.0), 200_000,
                        res=(20, 40)).run()
    assert good.p_value > ALPHA and bad.p_value < 1e-30


# ---------------------------------------------------------------------------------------------
# BSDFs
# ---------------------------------------------------------------------------------------------


def bsdf_chi2(bsdf: dict, wi, seed, pdf_override=None, n=N_BSDF, quad=4):
    """Chi-square test of the non-delta samples of `bsdf` against eval_pdf (or pdf_override).

    Delta samples and invalid samples fall in the 'rest' cell, whose expected count is N minus
    the integral of the smooth density: the lobe selection probability is tested too. A smooth
    sample whose eval_pdf is 0 is invalid, as the path tracer's `evaluate_both` makes it (e.g.
    a cosine sample on the rim of the hemisphere, wo.z == 0 in f32); those must be rare."""
    probe = BSDFProbe(bsdf, wi)
    rng = np.random.default_rng(seed)
    state = {}

    def sample_fn(n):
        s = probe.sample(n, rng)
        smooth = (s["flags"] & 1).astype(bool) & ((s["flags"] & 2) == 0) & (s["pdf"] > 0.0)
        state["s"], state["smooth"] = s, smooth
        return s["wo"].astype(np.float64), smooth

    res = ChiSquareTest(SphericalDomain(), sample_fn, pdf_override or probe.pdf, n, quad=quad).run()
    s, smooth = state["s"], state["smooth"]
    zero = int((((s["flags"] & 3) == 1) & (s["pdf"] <= 0.0)).sum())
    assert zero <= 1e-5 * n, f"{zero} smooth samples where eval_pdf is 0"
    return res, s, smooth


def wi_dir(theta, phi=30.0):
    # an azimuth off the tangent axes, so that anisotropic roughness matters
    return spherical_dir(theta, phi if theta > 0 else 0.0)


@pytest.mark.parametrize("theta", WI_ANGLES)
def test_diffuse(theta):
    diffuse = {"type": "diffuse", "reflectance": 0.7}
    res, _, smooth = bsdf_chi2(diffuse, wi_dir(theta), seed=_seed("diffuse", theta))
    assert smooth.mean() > 1 - 1e-5
    assert_accepted(f"diffuse wi={theta}", res)


@pytest.mark.parametrize("theta", WI_ANGLES)
@pytest.mark.parametrize("dist,au,av", ROUGH)
def test_roughconductor(dist, au, av, theta):
    bsdf = {"type": "roughconductor", "distribution": dist, "material": "Cu"}
    if au == av:
        bsdf["alpha"] = au
    else:
        bsdf.update(alpha_u=au, alpha_v=av)
    res, s, _ = bsdf_chi2(bsdf, wi_dir(theta), seed=_seed(dist, au, av, theta))
    assert not (s["flags"] & 2).any()
    assert_accepted(f"roughconductor {dist} alpha=({au}, {av}) wi={theta}", res)


@pytest.mark.parametrize("theta", WI_ANGLES)
def test_plastic_smooth_lobe(theta):
    """Non-delta samples of plastic against eval_pdf (which includes the probability of picking
    the diffuse lobe); the delta samples must be the mirror direction."""
    wi = wi_dir(theta)
    bsdf = {"type": "plastic", "diffuse_reflectance": [0.6, 0.3, 0.2], "int_ior": 1.9}
    res, s, smooth = bsdf_chi2(bsdf, wi, seed=_seed("plastic", theta))
    delta = (s["flags"] & 2).astype(bool)
    assert delta.any() and smooth.any() and (delta | smooth).mean() > 1 - 1e-5
    mirror = np.array([-wi[0], -wi[1], wi[2]])
    np.testing.assert_allclose(s["wo"][delta], np.broadcast_to(mirror, s["wo"][delta].shape),
                               atol=1e-6)
    assert_accepted(f"plastic (smooth lobe) wi={theta}", res)


@pytest.mark.parametrize("theta", WI_ANGLES)
@pytest.mark.parametrize("dist,alpha", ROUGH_PLASTIC)
def test_roughplastic(dist, alpha, theta):
    """Both lobes are smooth: the mixture of microfacet and cosine samples against eval_pdf."""
    bsdf = {"type": "roughplastic", "distribution": dist, "alpha": alpha,
            "diffuse_reflectance": [0.6, 0.3, 0.2], "int_ior": 1.7}
    res, s, smooth = bsdf_chi2(bsdf, wi_dir(theta), seed=_seed("roughplastic", dist, alpha, theta))
    assert not (s["flags"] & 2).any() and smooth.mean() > 0.5
    assert_accepted(f"roughplastic {dist} alpha={alpha} wi={theta}", res)


@pytest.mark.parametrize("theta", DIELECTRIC_CASES)
@pytest.mark.parametrize("dist,alpha", ROUGH_DIELECTRIC)
def test_roughdielectric(dist, alpha, theta):
    """Reflected and refracted samples, from outside and from inside the medium, against
    eval_pdf over the whole sphere; refracted samples carry the relative IOR."""
    wi = wi_dir(theta)
    bsdf = {"type": "roughdielectric", "distribution": dist, "alpha": alpha, "int_ior": 1.5, "ext_ior": 1.0}
    # quad=16: the refracted lobe is narrower than the reflected one (compressed by eta); at
    # normal incidence it sits on the pole, inside one row of bins
    res, s, smooth = bsdf_chi2(bsdf, wi, seed=_seed("roughdielectric", dist, alpha, theta), quad=16)
    assert not (s["flags"] & 2).any() and smooth.mean() > 0.5
    refracted = smooth & (np.sign(s["wo"][:, 2]) != np.sign(wi[2]))
    assert refracted.any()
    np.testing.assert_allclose(s["eta"][refracted], 1.5 if wi[2] > 0 else 1 / 1.5, rtol=1e-6)
    assert_accepted(f"roughdielectric {dist} alpha={alpha} wi={theta}", res)


def test_negative_controls_bsdf():
    """Wrong densities for cosine-distributed samples must be rejected: uniform hemisphere,
    and cos^1.1 (renormalised) -- a 10% change of the exponent."""
    wi = wi_dir(45.0)
    diffuse = {"type": "diffuse", "reflectance": 0.7}

    def uniform(d):
        return np.where(d[:, 2] > 0, 1 / (2 * np.pi), 0.0)

    def cos_pow(d, k=1.1):
        return np.where(d[:, 2] > 0, np.maximum(d[:, 2], 0) ** k * (k + 1) / (2 * np.pi), 0.0)

    for name, fn in (("uniform", uniform), ("cos^1.1", cos_pow)):
        res, _, _ = bsdf_chi2(diffuse, wi, seed=5, pdf_override=fn)
        report(f"NEGATIVE diffuse samples vs {name}", res)
        assert res.p_value < ALPHA, f"{name}: a wrong density was accepted (p = {res.p_value})"


# ---------------------------------------------------------------------------------------------
# dielectric (delta lobes)
# ---------------------------------------------------------------------------------------------


def fresnel_dielectric_np(cos_i, eta):
    """Unpolarised Fresnel reflectance; eta = n_int / n_ext, cos_i < 0: from inside."""
    if cos_i < 0:
        eta, cos_i = 1.0 / eta, -cos_i
    sin_t2 = (1 - cos_i**2) / eta**2
    if sin_t2 >= 1.0:
        return 1.0, 0.0
    cos_t = math.sqrt(1 - sin_t2)
    rs = (cos_i - eta * cos_t) / (cos_i + eta * cos_t)
    rp = (eta * cos_i - cos_t) / (eta * cos_i + cos_t)
    return 0.5 * (rs * rs + rp * rp), cos_t


@pytest.mark.parametrize("theta", DIELECTRIC_CASES)
def test_dielectric_fresnel_and_snell(theta):
    eta = 1.5
    wi = wi_dir(theta)
    probe = BSDFProbe({"type": "dielectric", "int_ior": eta, "ext_ior": 1.0}, wi)
    n = 200_000
    s = probe.sample(n, np.random.default_rng(_seed("dielectric", theta)))
    assert np.all(s["flags"] == 3), "every dielectric sample is a valid delta sample"
    wo = s["wo"].astype(np.float64)
    F, cos_t = fresnel_dielectric_np(wi[2], eta)
    refl = np.sign(wo[:, 2]) == np.sign(wi[2])
    # reflected: the mirror direction, pdf F
    np.testing.assert_allclose(wo[refl], np.broadcast_to([-wi[0], -wi[1], wi[2]], wo[refl].shape),
                               atol=1e-6)
    np.testing.assert_allclose(s["spdf"][refl], F, rtol=1e-4)
    # refracted: Snell's law n_i sin_i = n_t sin_t, in the plane of incidence, opposite side
    tr_ = ~refl
    eta_i, eta_t = (1.0, eta) if wi[2] > 0 else (eta, 1.0)
    if tr_.any():
        w = wo[tr_]
        np.testing.assert_allclose(np.linalg.norm(w, axis=1), 1.0, atol=1e-5)
        sin_i = math.hypot(wi[0], wi[1])
        np.testing.assert_allclose(eta_t * np.hypot(w[:, 0], w[:, 1]), eta_i * sin_i, atol=1e-5)
        np.testing.assert_allclose(np.abs(w[:, 2]), cos_t, atol=1e-5)
        if sin_i > 0:
            # the tangential part points away from wi's (wo = -eta_ti * wi_xy)
            cos_az = (w[:, 0] * wi[0] + w[:, 1] * wi[1]) / (np.hypot(w[:, 0], w[:, 1]) * sin_i)
            np.testing.assert_allclose(cos_az, -1.0, atol=1e-5)
        np.testing.assert_allclose(s["spdf"][tr_], 1.0 - F, rtol=1e-4)
        np.testing.assert_allclose(s["eta"][tr_], eta_t / eta_i, rtol=1e-6)  # Mitsuba's bs.eta
    k = int(refl.sum())
    p = binomial_two_sided_p(k, n, F)
    print(f"\n[binomial] dielectric wi={theta}: reflected {k}/{n} = {k / n:.5f}, F = {F:.5f}, "
          f"p = {p:.4g}")
    assert p > ALPHA, f"reflected fraction {k / n:.5f} vs Fresnel {F:.5f}: p = {p:.3g}"


# ---------------------------------------------------------------------------------------------
# emitters
# ---------------------------------------------------------------------------------------------


def _obj_fan(path):
    """A unit square at z = 0 fanned around an off-centre vertex: 4 triangles of areas
    1.3, 0.4, 0.7, 1.6 (total 4), normal +z: uniform area sampling must pick them by area."""
    path.write_text(
        "v -1 -1 0\nv 1 -1 0\nv 1 1 0\nv -1 1 0\nv 0.6 0.3 0\n"
        "f 1 2 5\nf 2 3 5\nf 3 4 5\nf 4 1 5\n"
    )
    return str(path)


def _plane_axes(to_world):
    """World origin and images of the local x and y axes of a planar shape's to_world."""
    m = np.asarray(to_world.matrix, np.float64)
    return m[:3, 3].copy(), m[:3, 0].copy(), m[:3, 1].copy()


def emitter_case(name, tmp_path):
    """(scene dict, reference point, chart, grid resolution) of one emitter configuration."""
    if name in ("rectangle", "obj_fan", "obj_fan+sphere"):
        to_world = T.translate([0.2, -0.1, 0.3]).rotate([1, 0.5, 0], 25).scale([1.4, 0.7, 1.0])
        if name == "rectangle":
            shape = {"type": "rectangle"}
        else:
            shape = {"type": "obj", "filename": _obj_fan(tmp_path / "fan.obj")}
        shape.update(to_world=to_world, emitter={"type": "area", "radiance": 2.0})
        origin, ux, vy = _plane_axes(to_world)
        normal = np.cross(ux, vy)
        normal /= np.linalg.norm(normal)
        ref = origin + 0.9 * normal + 0.5 * ux + 0.3 * vy
        scene = {"type": "scene", "light": shape}
        if name == "obj_fan+sphere":
            # a second emitter behind the reference point: half of the samples go to it (the
            # chart's 'rest' cell), and both pdfs include the selection probability 1/2
            scene["ball"] = {"type": "sphere", "center": (ref + 1.5 * normal).tolist(),
                             "radius": 0.5, "emitter": {"type": "area", "radiance": 1.0}}
        return scene, ref, PlanarDomain(ref, origin, ux, vy), (32, 32)
    if name == "disk":
        to_world = T.translate([0.1, 0.4, -0.2]).rotate([0, 1, 1], 40).scale([1.2, 0.6, 1.0])
        origin, ux, vy = _plane_axes(to_world)
        normal = np.cross(ux, vy)
        # off-axis, beyond the rim
        ref = origin + 0.7 * normal / np.linalg.norm(normal) + 0.8 * ux - 0.2 * vy
        scene = {"type": "scene", "light": {"type": "disk", "to_world": to_world,
                                            "emitter": {"type": "area", "radiance": 2.0}}}
        return scene, ref, PlanarDomain(ref, origin, ux, vy, polar=True), (24, 48)
    if name == "sphere":
        center, radius = np.array([0.3, -0.2, 0.1]), 0.8
        ref = center + 1.9 * np.array([0.48, 0.6, 0.64])
        scene = {"type": "scene", "light": {"type": "sphere", "center": center.tolist(),
                                            "radius": radius,
                                            "emitter": {"type": "area", "radiance": 2.0}}}
        return scene, ref, SphereCapDomain(ref, center, radius), (24, 48)
    if name == "constant":
        scene = {"type": "scene", "env": {"type": "constant", "radiance": 0.5}}
        return scene, np.array([0.3, 0.1, -0.2]), SphericalDomain(), (32, 64)
    if name == "envmap":
        data = np.random.default_rng(7).random((16, 32, 3)).astype(np.float32)
        data[3:5, 10:14] *= 20.0  # a bright patch: strongly non-uniform
        to_world = T.rotate([1, 2, 0.5], 35)
        scene = {"type": "scene", "env": {"type": "envmap", "data": data, "to_world": to_world}}
        # bins line up with the texels (2 x 2 bins per texel): the density is piecewise constant
        return scene, np.array([0.3, 0.1, -0.2]), EnvmapDomain(to_world.matrix[:3, :3]), (32, 64)
    raise ValueError(name)


@pytest.mark.parametrize("name", EMITTERS)
def test_emitter_sampling(name, tmp_path):
    scene, ref, domain, res_grid = emitter_case(name, tmp_path)
    probe = EmitterProbe(scene, ref)
    rng = np.random.default_rng(_seed(name))

    # the pdf sample_emitter reports equals the independent pdf functions along its direction
    s = probe.sample(N_PDF_CHECK, rng)
    ok = s["flags"] == 1
    assert ok.sum() > 0.2 * N_PDF_CHECK and not (s["flags"] & 2).any()
    np.testing.assert_allclose(np.linalg.norm(s["d"][ok], axis=1), 1.0, atol=1e-5)
    if name == "envmap":
        # within ~0.01 rad of the poles the f32 sin(theta) = sqrt(1 - y^2) of envmap_pdf loses
        # digits (1/sin(theta) amplifies them): es.pdf and pdf_environment differ by up to ~10%
        # there (0.04% of the samples), a numerical matter left out of this check
        theta = domain.to_params(s["d"].astype(np.float64))[0][:, 0]
        ok &= np.sin(theta) > 0.02
    # near tangency (sphere silhouette) the f32 hit point of the traced ray is ill-conditioned
    # and pdf_area's 1 / cos amplifies it (a few % at cos 0.003): left out of this check
    ok &= s["cos_hit"] > 0.05
    np.testing.assert_allclose(s["pdf"][ok], s["spdf"][ok], rtol=1e-3,
                               err_msg=f"{name}: es.pdf differs from pdf_area/pdf_environment")

    def sample_fn(n):
        out = probe.sample(n, rng)
        return out["d"].astype(np.float64), out["flags"] == 1

    res = ChiSquareTest(domain, sample_fn, probe.pdf, N_EMITTER, res=res_grid).run()
    if name != "obj_fan+sphere":  # there the sphere's samples are off the chart, by design
        assert res.n_outside == 0, f"{res.n_outside} valid samples off the emitter"
    assert_accepted(f"emitter {name}", res)


def test_negative_control_emitter(tmp_path):
    """Sphere-emitter samples against a density that forgets the 1 / cos at the light (the
    area-to-solid-angle conversion), renormalised to the true mass, must be rejected."""
    scene, ref, domain, res_grid = emitter_case("sphere", tmp_path)
    probe = EmitterProbe(scene, ref)
    rng = np.random.default_rng(3)

    def wrong_pdf(d):
        out = probe._run(1, np.zeros((1, 3)), d)
        return out["pdf"].astype(np.float64) * out["cos_hit"]

    def sample_fn(n):
        out = probe.sample(n, rng)
        return out["d"].astype(np.float64), out["flags"] == 1

    test = ChiSquareTest(domain, sample_fn, probe.pdf, N_EMITTER, res=res_grid)
    true_mass = test.integrate().sum()
    test.pdf_fn = wrong_pdf
    scale = true_mass / test.integrate().sum()
    test.pdf_fn = lambda d: wrong_pdf(d) * scale
    res = test.run()
    report("NEGATIVE sphere emitter without 1/cos", res)
    assert res.p_value < ALPHA


def test_envmap_samples_near_the_poles():
    """Samples of the first and last rows close to the poles must keep a positive pdf equal to
    pdf_environment's (a chi-square test sees their loss only from ~10M samples on)."""
    data = np.random.default_rng(7).random((16, 32, 3)).astype(np.float32)
    probe = EmitterProbe({"type": "scene", "env": {"type": "envmap", "data": data}}, [0, 0, 0])
    # (selection, s.x, s.y): s.y ~ 0 / ~ 1 picks a position very close to the top / bottom pole
    u = np.array([[0.5, 0.3, 1e-6], [0.5, 0.7, 3e-7], [0.5, 0.2, 1 - 6e-8]], np.float32)
    out = probe._run(0, u, np.zeros((len(u), 3)))
    assert np.all(out["spdf"] > 0.0), f"es.pdf = {out['spdf']}"
    assert np.all(np.abs(out["d"][:, 1]) > 0.999)  # near the poles (+-y), as intended
    np.testing.assert_allclose(out["pdf"], out["spdf"], rtol=1e-2)
