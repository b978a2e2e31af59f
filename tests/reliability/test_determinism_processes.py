"""Determinism across processes: the same seed gives the same image bytes in two fresh
interpreters (and in this one); gradients agree to 1e-6 relative (the adjoint pass sums with
atomic float adds, whose order may change between runs; the test reports whether they came out
bit-identical).

Both subprocesses run at the same time (the machine has two cores), each writing an ``.npz`` of
images (Cornell box with `path` and with `prb`, the glass sphere scene) and gradients (native
``ti.ad.Tape`` and ``taichi_render.torch``) into ``tmp_path``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytestmark = pytest.mark.spawns  # run after the in-process tests (Makefile)

RENDER_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    import taichi as ti
    import torch
    import taichi_render as tr
    import taichi_render.torch as trt

    tr.init(os.environ.get("TR_TEST_ARCH", "cpu"))
    out, scenes_dir = sys.argv[1], sys.argv[2]
    arrays = {}

    # images: same seed, three scenes / integrators
    cbox = tr.load_file(os.path.join(scenes_dir, "cbox.xml"), res=16, spp=4)
    arrays["image_cbox_path"] = tr.render(cbox, seed=7).to_numpy()
    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = 16
    d["integrator"] = {"type": "prb", "max_depth": 4}
    prb = tr.load_dict(d)
    arrays["image_cbox_prb"] = tr.render(prb, spp=4, seed=123).to_numpy()
    glass = tr.load_file(os.path.join(scenes_dir, "glass_sphere.xml"), res=16, spp=2)
    arrays["image_glass"] = tr.render(glass, seed=5).to_numpy()

    # native gradients (Tape) of every colour of the box and of the bitmap texture
    for name, scene, keys in [
        ("cbox", prb, ["red.reflectance.value", "green.reflectance.value",
                       "white.reflectance.value", "light.emitter.radiance.value"]),
        ("glass", glass, ["textured_plane.bsdf.brdf_0.reflectance.data"]),
    ]:
        params = tr.traverse(scene)
        params.enable_grad(keys)
        loss = tr.ad.loss_field()
        h, w = tr.render(scene, spp=1).shape
        target = np.full((h, w, 3), 0.3, np.float32)
        with ti.ad.Tape(loss=loss):
            image = tr.render(scene, params, spp=4, seed=11)
            tr.ad.mse(image, target, out=loss)
        arrays[f"loss_{name}"] = np.array(loss[None], np.float32)
        for key in keys:
            arrays[f"grad_{name}_{key}"] = params.grad(key)

    # torch gradients
    params = tr.traverse(prb)
    color = torch.tensor([0.3, 0.3, 0.3], requires_grad=True)
    image = trt.render(prb, params, spp=4, seed=19, **{"red.reflectance.value": color})
    ((image - 0.3) ** 2).mean().backward()
    arrays["torch_image"] = image.detach().numpy()
    arrays["torch_grad_red"] = color.grad.numpy()

    np.savez(out, **arrays)
    """
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, scenes_dir):
    """The outputs of two concurrent fresh interpreters, and their folder."""
    tmp_path = tmp_path_factory.mktemp("determinism")
    return _run_pair(tmp_path, scenes_dir), tmp_path


def _run_pair(tmp_path, scenes_dir):
    script = tmp_path / "render_same_seed.py"
    script.write_text(RENDER_SCRIPT)
    outs = [tmp_path / f"run_{i}.npz" for i in range(2)]
    procs = [
        subprocess.Popen([sys.executable, str(script), str(out), str(scenes_dir)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ))
        for out in outs
    ]
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"exit {proc.returncode}\n{stdout[-2000:]}\n{stderr[-4000:]}"
    return [dict(np.load(out)) for out in outs]


def _relative_difference(a, b) -> float:
    """max |a - b| / max(|a|, |b|) elementwise, the scale floored at 1e-6 of the array's largest
    magnitude (an entry that is a near-cancelling sum has no meaningful relative digits)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    floor = 1e-6 * max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0))
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
    diff = np.abs(a - b)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(scale > 0, diff / scale, 0.0)
    return float(rel.max()) if rel.size else 0.0


def test_same_seed_same_bytes_and_gradients_across_processes(runs):
    (a, b), tmp_path = runs
    assert a.keys() == b.keys()
    report = {}
    for key in sorted(a):
        if key.startswith(("image", "torch_image")):
            digest_a = hashlib.sha256(a[key].tobytes()).hexdigest()
            digest_b = hashlib.sha256(b[key].tobytes()).hexdigest()
            assert a[key].dtype == b[key].dtype == np.float32
            assert digest_a == digest_b, f"{key}: different bytes across processes"
            assert np.isfinite(a[key]).all() and a[key].any(), key
            report[key] = digest_a[:16]
        else:
            assert np.isfinite(a[key]).all() and np.isfinite(b[key]).all(), key
            rel = _relative_difference(a[key], b[key])
            same_bits = a[key].tobytes() == b[key].tobytes()
            report[key] = {"max_rel_diff": rel, "bit_identical": same_bits}
            assert rel <= 1e-6, f"{key}: gradients differ by {rel:.3g} relative across processes"
    assert np.abs(a["grad_cbox_red.reflectance.value"]).max() > 0  # gradients are not all zero
    (tmp_path / "determinism.json").write_text(json.dumps(report, indent=1))
    print("\ndeterminism across processes:", json.dumps(report, indent=1))


def test_subprocess_images_match_this_process(runs, scenes_dir):
    """The bytes a fresh interpreter writes are the bytes this (long-lived) process renders."""
    import taichi_render as tr

    (a, _), _ = runs
    cbox = tr.load_file(scenes_dir / "cbox.xml", res=16, spp=4)
    here = tr.render(cbox, seed=7).to_numpy()
    assert here.tobytes() == a["image_cbox_path"].tobytes()
    glass = tr.load_file(scenes_dir / "glass_sphere.xml", res=16, spp=2)
    assert tr.render(glass, seed=5).to_numpy().tobytes() == a["image_glass"].tobytes()
