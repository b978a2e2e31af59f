"""The package leaves its host process alone: importing it changes no global state, and what
`tr.init` changes is listed (docs/host_process.md), reported by `process_effects` and switchable."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.spawns  # run after the in-process tests (Makefile)

ROOT = pathlib.Path(__file__).resolve().parents[1]
SWITCHES_OFF = {"TR_HOST_CPU": "0", "TR_WIDE_VECTORS": "0", "TR_FMA": "0", "TR_PIN_THREADS": "0",
                "TR_FAST_FRONTEND": "0"}


def _run(code: str, unset: tuple[str, ...] = (), **env_values) -> str:
    """The last line `code` prints in a fresh process, with `env_values` set and `unset` removed."""
    env = {k: v for k, v in dict(os.environ, **env_values).items() if k not in unset}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    return out.stdout.strip().splitlines()[-1]


def test_importing_changes_no_environment_variable_and_no_warning_filter():
    code = (
        "import os, warnings, logging, taichi, torch\n"
        "env, filters = dict(os.environ), list(warnings.filters)\n"
        "loggers = {n: (l.level, list(l.handlers)) for n, l in logging.root.manager.loggerDict.items() "
        "if isinstance(l, logging.Logger)}\n"
        "root = (logging.root.level, list(logging.root.handlers))\n"
        "import taichi_render as tr, taichi_render.torch\n"
        "after = {n: (l.level, list(l.handlers)) for n, l in logging.root.manager.loggerDict.items() "
        "if isinstance(l, logging.Logger) and n in loggers}\n"
        "print((dict(os.environ) == env, warnings.filters == filters, after == loggers, "
        "(logging.root.level, list(logging.root.handlers)) == root))"
    )
    # OMP_WAIT_POLICY unset: the package once set it at import
    assert _run(code, unset=("OMP_WAIT_POLICY",)) == "(True, True, True, True)"


def test_init_changes_no_environment_variable_and_no_warning_filter():
    code = ("import os, warnings, taichi_render as tr\n"
            "env, filters = dict(os.environ), list(warnings.filters)\n"
            "tr.init('cpu')\n"
            "tr.render(tr.load_dict(tr.cornell_box()), spp=1)\n"
            "print((dict(os.environ) == env, warnings.filters == filters))")
    assert _run(code) == "(True, True)"


def test_every_effect_is_off_with_its_switch():
    code = "import taichi_render as tr; from taichi_render import backend; tr.init('cpu'); print(backend.process_effects())"
    effects = eval(_run(code, **SWITCHES_OFF))
    assert effects == dict.fromkeys(effects, False)
    assert set(effects) == {"host_cpu_name", "optimiser_cpu_name", "fused_multiply_adds", "pinned_threads",
                            "frontend_hook"}
    default = eval(_run(code))
    assert default["frontend_hook"]  # the others depend on the host (docs/host_process.md)


def test_init_lets_the_kernel_cache_grow_to_a_gibibyte_unless_told_otherwise():
    """Taichi's default limit (100 MiB) evicted path tracer variants that later processes then
    compiled again; the environment variable still decides where it is set."""
    code = ("import taichi as ti, taichi_render as tr\ntr.init('cpu')\n"
            "print(ti.lang.impl.current_cfg().offline_cache_max_size_of_files)")
    assert _run(code, unset=("TI_OFFLINE_CACHE_MAX_SIZE_OF_FILES",)) == str(1 << 30)
    assert _run(code, TI_OFFLINE_CACHE_MAX_SIZE_OF_FILES="123456789") == "123456789"


def test_every_switch_the_package_reads_is_documented():
    read = set()
    for path in (ROOT / "taichi_render").rglob("*.py"):
        read |= set(re.findall(r"\b(TR_[A-Z_]+)\b", path.read_text()))
    page = (ROOT / "docs" / "host_process.md").read_text()
    assert read >= set(SWITCHES_OFF)
    assert not [name for name in read if name not in page]


def test_kernels_compile_without_taichi_warnings_about_the_package():
    """Taichi warns (SyntaxWarning, shown once per line) when a kernel calls a plain Python
    function; the package's compile-time helpers are exempt, so a user sees none. A fresh
    process: Taichi's frontend (which warns) runs even when the compiled code is cached.

    The kernels are variants other tests compile too (so the cache serves them): the Cornell
    box's path tracer, the glass sphere's with every plugin family, and the vertex-position
    derivatives of tests/ad/test_shape_gradients.py's floor."""
    code = (
        "import warnings, numpy as np, taichi as ti, taichi_render as tr\n"
        "tr.init('cpu')\n"
        "T = tr.ScalarTransform4f\n"
        "floor = {'type': 'scene', 'integrator': {'type': 'prb', 'max_depth': 3},\n"
        "         'sensor': {'type': 'perspective', 'to_world': T.look_at([0, 1, 0.01], [0, 0, 0], [0, 0, 1]),\n"
        "                    'film': {'type': 'hdrfilm', 'width': 8, 'height': 8, 'rfilter': {'type': 'box'}}},\n"
        "         'floor': {'type': 'rectangle', 'to_world': T.rotate([1, 0, 0], -90).scale(10),\n"
        "                   'bsdf': {'type': 'diffuse', 'reflectance': 0.7}},\n"
        "         'light': {'type': 'rectangle', 'to_world': T.translate([0.3, 1.5, 0.2]).rotate([1, 0, 0], 90),\n"
        "                   'emitter': {'type': 'area', 'radiance': 5.0}}}\n"
        "cases = [('scenes/cbox.xml', 'white.reflectance.value'),\n"
        "         ('scenes/glass_sphere.xml', 'textured_plane.bsdf.brdf_0.reflectance.data'),\n"
        "         (floor, 'floor.vertex_positions')]\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    for source, key in cases:\n"
        "        scene = tr.load_file(source, res=8) if isinstance(source, str) else tr.load_dict(source)\n"
        "        params = tr.traverse(scene)\n"
        "        params.enable_grad([key])\n"
        "        loss = tr.ad.loss_field()\n"
        "        with ti.ad.Tape(loss=loss):\n"
        "            tr.ad.mse(tr.render(scene, params, spp=1), np.zeros((8, 8, 3), np.float32), out=loss)\n"
        "        tr.render_forward(scene, params, key, spp=1).to_numpy()\n"
        "print(sorted({str(w.message)[:80] for w in caught if 'non-taichi' in str(w.message)}))"
    )
    assert _run(code) == "[]"
