"""The host CPU name that Taichi's LLVM optimises for (taichi_render/llvm_host_cpu.py)."""

import os
import subprocess
import sys

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


def _llvm_name_in_fresh_process(env_value):
    env = dict(os.environ, TR_HOST_CPU=env_value)
    code = "import taichi_render as tr; tr.init(); from taichi_render import llvm_host_cpu as h; print(h.host_cpu_name())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


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
    assert (name is None) or path == os.path.join(os.environ["TI_OFFLINE_CACHE_FILE_PATH"], f"llvm-{name}")
