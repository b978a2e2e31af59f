"""The host CPU name that Taichi's LLVM optimises for (taichi_render/llvm_host_cpu.py)."""

import os
import subprocess
import sys

import numpy as np
import pytest
from taichi._lib.core import taichi_python

from taichi_render import llvm_host_cpu as H

V3 = {"avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm"}
V4 = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}


def test_level_needs_every_feature_of_it_and_the_levels_below():
    assert H.level_for_flags(V3 | V4 | {"sse2"}) == "x86-64-v4"
    assert H.level_for_flags(V3) == "x86-64-v3"
    assert H.level_for_flags(V3 - {"fma"}) is None
    assert H.level_for_flags(V4 | V3 - {"bmi2"}) is None  # v4 without a v3 feature
    assert H.level_for_flags(set()) is None


def test_symbol_is_found_in_taichis_library():
    offset = H.symbol_offset(taichi_python.__file__, H.SYMBOL)
    assert offset is not None and 0 < offset < os.path.getsize(taichi_python.__file__)
    assert H.symbol_offset(taichi_python.__file__, b"_ZN4llvm3sys10noSuchNameEv") is None


def _in_fresh_process(expression, **env_values):
    env = dict(os.environ, **env_values)
    code = ("import taichi_render as tr; tr.init(); from taichi_render import llvm_host_cpu as h; "
            f"import tests.test_llvm_host_cpu as t; print({expression})")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return out.stdout.strip().splitlines()[-1]


def _llvm_name_in_fresh_process(env_value):
    return _in_fresh_process("h.host_cpu_name()", TR_HOST_CPU=env_value)


def test_host_gets_its_level_where_llvm_has_no_name():
    # this session initialised taichi_render (conftest): LLVM's name is the untouched one when
    # LLVM knows the CPU, else the host's level
    untouched = _llvm_name_in_fresh_process("0")
    level = H.level_for_flags(H._cpu_flags())
    expected = level if untouched == "generic" and level else untouched
    assert H.host_cpu_name() == expected
    assert _llvm_name_in_fresh_process("znver3") == "znver3"  # asked for by name


def test_offline_cache_is_kept_per_cpu_name():
    import taichi as ti

    name = H.host_cpu_name()
    path = ti.lang.impl.current_cfg().offline_cache_file_path
    assert (name is None) or path == os.path.join(os.environ["TI_OFFLINE_CACHE_FILE_PATH"], H.cache_tag())
    if H.optimiser_cpu_name() != name:
        assert f"-opt-{H.optimiser_cpu_name()}" in H.cache_tag()
    assert H.cache_tag().endswith("-fma") == H.fused_multiply_adds()


def _patchable():
    """Whether this host's Taichi can be patched: Linux x86-64, its LLVM found (as on CI)."""
    return sys.platform == "linux" and H.host_cpu_name() is not None


def test_optimiser_gets_the_512_bit_name_and_the_code_generator_keeps_the_level():
    if H.host_cpu_name() not in H.OPTIMISER_NAMES:
        assert H.optimiser_cpu_name() == H.host_cpu_name()  # nothing to widen on this host
        pytest.skip(f"the host's LLVM name {H.host_cpu_name()!r} has no 512-bit optimiser name")
    wide = H.OPTIMISER_NAMES[H.host_cpu_name()]
    assert H.optimiser_cpu_name() == wide
    assert H._state["current"]() == wide  # what Taichi's optimiser reads from now on
    assert _in_fresh_process("(h.host_cpu_name(), h.optimiser_cpu_name())") == repr((H.host_cpu_name(), wide))
    kept = _in_fresh_process("(h.host_cpu_name(), h.optimiser_cpu_name())", TR_WIDE_VECTORS="0")
    assert kept == repr((H.host_cpu_name(), H.host_cpu_name()))


def multiply_add_in_a_kernel():
    """x * y + z in float32 where fusing changes the result: (1 + 2^-12)^2 - (1 + 2^-11) is 2^-24
    exactly, and 0 when the product is rounded first."""
    import taichi as ti

    v = ti.field(ti.f32, shape=4)
    v.from_numpy(np.array([1 + 2.0**-12, 1 + 2.0**-12, -(1 + 2.0**-11), 0], np.float32))

    @ti.kernel
    def multiply_add():
        v[3] = v[0] * v[1] + v[2]

    multiply_add()
    return float(v[3])


def test_code_generator_fuses_multiply_adds():
    assert H.fused_multiply_adds() == _patchable()
    if not _patchable():
        pytest.skip("Taichi's LLVM cannot be patched on this host (not Linux x86-64, or not found)")
    assert multiply_add_in_a_kernel() == 2.0**-24
    assert _in_fresh_process("(h.fused_multiply_adds(), t.multiply_add_in_a_kernel())", TR_FMA="0") \
        == repr((False, 0.0))


def test_fast_math_off_leaves_every_kernel_unfused():
    """A user who asks Taichi for fast_math=False gets unfused float32 arithmetic in their own
    kernels (fusing is what fast math permits); the CPU name is still tuned."""
    if not _patchable():
        pytest.skip("Taichi's LLVM cannot be patched on this host (not Linux x86-64, or not found)")
    code = ("import taichi_render as tr; tr.init('cpu', fast_math=False); from taichi_render import llvm_host_cpu as h; "
            "import tests.test_llvm_host_cpu as t; print((h.fused_multiply_adds(), t.multiply_add_in_a_kernel()))")
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.strip().splitlines()[-1] == repr((False, 0.0))
    assert _in_fresh_process("h.fused_multiply_adds()", TI_FAST_MATH="0") == "False"


def test_rewrites_apply_only_to_the_cpu_backend_of_the_checked_taichi(monkeypatch):
    import taichi as ti

    assert H.applicable("cpu") == (sys.platform == "linux" and H.platform.machine() == "x86_64")
    assert not H.applicable("cuda")
    monkeypatch.setattr(ti, "__version__", (1, 7, 5))
    assert not H.applicable("cpu")


def test_a_rewrite_that_cannot_be_applied_warns_once_and_changes_nothing(monkeypatch):
    """The resetTargetOptions patch checks the bytes it replaces: against another library it
    warns (once) and writes nothing."""
    monkeypatch.setattr(H, "_state", {})
    monkeypatch.setattr(H, "RESET_SYMBOL", b"_ZN4llvm3sys10noSuchNameEv")
    library = taichi_python.__file__
    with pytest.warns(RuntimeWarning, match="resetTargetOptions was not found"):
        assert H._fuse_multiply_adds(library, H._load_base(library)) is False
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second failure of the same rewrite says nothing more
        assert H._fuse_multiply_adds(library, H._load_base(library)) is False


def test_fma_patch_changes_only_the_expected_bytes():
    assert H.RESET_EXPECTED.startswith(bytes.fromhex("0fb6c0"))  # movzx eax, al: replaced
    assert len(H.RESET_PATCH) == 3
    if H.fused_multiply_adds():
        from taichi._lib.core import taichi_python

        library = taichi_python.__file__
        at = H._load_base(library) + H.symbol_offset(library, H.RESET_SYMBOL) + H.RESET_AT
        import ctypes

        assert ctypes.string_at(at, len(H.RESET_EXPECTED)) == H.RESET_PATCH + H.RESET_EXPECTED[3:]
