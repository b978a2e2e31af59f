"""Optimise Taichi's CPU kernels for the host's instruction set on CPUs that LLVM 15 cannot name.

Taichi 1.7 builds the LLVM target machine of its optimisation pipeline from the host CPU's name
and an empty feature string (`taichi/runtime/cpu/jit_cpu.cpp`). LLVM 15 names the CPUs released
before it. On newer ones it answers "generic", and the CPU of this project's machines, an AMD
EPYC of family 0x1A (Zen 5), is one of them. The optimiser's cost model then assumes SSE2 only,
so the SLP vectoriser builds 4-wide vectors out of the packets' 16-wide arithmetic. The machine
code still uses the host's features (AVX-512 instructions on 128-bit registers), because the
final code generation reads them; only the optimisation decisions are those of a 2003 CPU.

When LLVM's name for the host is "generic" and `/proc/cpuinfo` lists every feature of an x86-64
micro-architecture level, `tune()` makes `llvm::sys::getHostCPUName` in Taichi's library return
that level: "x86-64-v4" (AVX-512 F, BW, CD, DQ, VL) or "x86-64-v3" (AVX2, FMA, BMI). It
rewrites the function's first instructions in memory. The function is a hidden symbol of
`taichi_python*.so`, found in the library's ELF symbol table, and is checked by calling it
before and after. The cost is the same code, vectorised wider: the Cornell box rendered 18 %
faster at spp 16 (122 to 102 ms). The environment variable `TR_HOST_CPU=0` leaves LLVM alone;
`TR_HOST_CPU=<LLVM CPU name>` asks for that CPU. `backend.init` keeps the offline cache of
each CPU name in a folder of its own (`<cache>/llvm-<name>`): Taichi's cache key does not
include it.

Two more rewrites make the code generator use the host the way the packets need it (measured on
the Cornell box at spp 16: 84 to 66 ms):

- **512-bit vectors.** Every LLVM 15 name of an AVX-512 CPU but Xeon Phi's ("knl") carries the
  tuning "prefer-256-bit", so the SLP vectoriser rebuilt the packets' 16-wide arithmetic as
  pairs of 8-wide vectors. Taichi asks for the host's name twice: once in `ti.init`, where the
  JIT's code generator keeps it (with the host's feature list), and before optimising each
  kernel, where the optimiser's target machine takes it (with no feature list). After
  `ti.init`, `tune_optimiser()` makes the name "knl" for the optimiser only: it vectorises
  16 wide, and the code generator still selects and schedules instructions for
  "x86-64-v4" with the host's features (84 to 70 ms). (Naming the CPU "knl" for both was a
  little slower.) `TR_WIDE_VECTORS=0` keeps the level's name.
- **Fused multiply-adds.** Taichi's optimiser runs with fast-math target options, but the JIT's
  code generator uses LLVM's defaults and the IR carries no fast-math flags, so `a * b + c`
  was a multiply and an add. `fuse_multiply_adds()` makes
  `llvm::TargetMachine::resetTargetOptions`, which the instruction selector calls for every
  function, set `UnsafeFPMath`, the option that lets it fuse (70 to 66 ms). The three bytes it
  changes are checked against the expected instructions first. `TR_FMA=0` leaves it alone, and
  so does `ti.init(fast_math=False)`: fusing is what fast math allows, and a user who turns it
  off gets unfused arithmetic in every kernel, theirs and ours.

Scope. These rewrites act on Taichi's LLVM, so they reach every CPU kernel of the process,
including the user's own: they are applied only on the CPU backend, only to the Taichi version
they were checked against (`TAICHI_VERSION`), and each checks its result; one that cannot be
applied or checked is undone where it was written, and leaves one warning. docs/host_process.md
lists them with their switches.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import platform
import struct
import sys
import warnings

import numpy as np

TAICHI_VERSION = (1, 7, 4)  # the Taichi (LLVM 15) whose code these rewrites were checked against
SYMBOL = b"_ZN4llvm3sys14getHostCPUNameEv"  # llvm::sys::getHostCPUName()
RESET_SYMBOL = b"_ZNK4llvm13TargetMachine18resetTargetOptionsERKNS_8FunctionE"
# resetTargetOptions of Taichi 1.7's LLVM 15, at byte 0x2a: the value of "unsafe-fp-math" becomes
# bit 0 of TargetOptions' flags (movzx eax, al; mov ecx, [rbx+0x438]; and ecx, -2; or ecx, eax;
# mov [rbx+0x438], cx). The patch replaces the movzx by `push 1; pop rax`: the bit is always set.
RESET_AT = 0x2A
RESET_EXPECTED = bytes.fromhex("0fb6c0 8b8b38040000 83e1fe 09c1 66898b38040000")
RESET_PATCH = bytes.fromhex("6a0158")
# the name the optimiser gets for a level (see the module docstring): the same instruction sets,
# tuned for 512-bit vectors
OPTIMISER_NAMES = {"x86-64-v4": "knl"}

LEVELS = (  # (LLVM CPU name, /proc/cpuinfo flags it needs), widest first
    ("x86-64-v4", {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}),
    ("x86-64-v3", {"avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm"}),
)

_state: dict = {}


class _StringRef(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("length", ctypes.c_size_t)]


def level_for_flags(flags: set) -> str | None:
    """The widest x86-64 level whose features (and those of the levels below) are all in `flags`."""
    for i, (name, _) in enumerate(LEVELS):
        if all(needed <= flags for _, needed in LEVELS[i:]):
            return name
    return None


def _cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def symbol_offset(library: str, symbol: bytes) -> int | None:
    """Address of `symbol` relative to the load base of ELF64 `library`, from its .symtab."""
    with open(library, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if mm[:5] != b"\x7fELF\x02":
            return None
        shoff, = struct.unpack_from("<Q", mm, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", mm, 0x3A)
        sections = [struct.unpack_from("<IIQQQQIIQQ", mm, shoff + i * shentsize) for i in range(shnum)]
        for sh_type, sh_offset, sh_size, sh_link in ((s[1], s[4], s[5], s[6]) for s in sections):
            if sh_type != 2:  # SHT_SYMTAB
                continue
            str_off, str_size = sections[sh_link][4], sections[sh_link][5]
            at = mm.find(b"\0" + symbol + b"\0", str_off, str_off + str_size)
            if at < 0:
                return None
            entries = np.frombuffer(mm, dtype=np.dtype([("name", "<u4"), ("info", "u1"), ("other", "u1"),
                                                        ("shndx", "<u2"), ("value", "<u8"), ("size", "<u8")]),
                                    count=sh_size // 24, offset=sh_offset)
            hits = np.flatnonzero((entries["name"] == at + 1 - str_off) & (entries["info"] & 0xF == 2))
            value = int(entries["value"][hits[0]]) if len(hits) else None
            del entries  # the mmap closes only without views into it
            return value
    return None


def _load_base(library: str) -> int | None:
    real = os.path.realpath(library)
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and int(parts[2], 16) == 0 and os.path.realpath(parts[5]) == real:
                return int(parts[0].split("-")[0], 16)
    return None


def _rewrite(address: int, name: bytes) -> bytes:
    """Make the function at `address` return StringRef(name): movabs rax, data; mov edx, len; ret.
    Returns the bytes it replaced."""
    buf = ctypes.create_string_buffer(name)
    _state.setdefault("name_buffers", []).append(buf)  # the returned pointers must stay valid
    code = b"\x48\xb8" + struct.pack("<Q", ctypes.addressof(buf)) + b"\xba" + struct.pack("<I", len(name)) + b"\xc3"
    original = ctypes.string_at(address, len(code))
    _write_code(address, code)
    return original


def _warn(what: str) -> None:
    """One warning per rewrite that could not be applied or checked (it is then not in effect)."""
    if what not in _state.setdefault("warned", set()):
        _state["warned"].add(what)
        warnings.warn(f"taichi_render: {what}; Taichi's LLVM is left as it was for this rewrite "
                      "(docs/host_process.md)", RuntimeWarning, stacklevel=3)


def applicable(arch: str) -> bool:
    """Whether the rewrites may apply: the CPU backend of the checked Taichi, on Linux x86-64."""
    import taichi as ti

    return (arch == "cpu" and sys.platform == "linux" and platform.machine() == "x86_64"
            and tuple(ti.__version__) == TAICHI_VERSION)


def _write_code(address: int, code: bytes) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    page = address & ~(mmap.PAGESIZE - 1)
    span = address + len(code) - page
    if libc.mprotect(page, span, 7) != 0:  # read, write, execute
        raise OSError(ctypes.get_errno(), "mprotect failed")
    ctypes.memmove(address, code, len(code))
    libc.mprotect(page, span, 5)  # read, execute


def tune(fast_math: bool = True) -> str | None:
    """Give LLVM a CPU name for the host when it has none, and fused multiply-adds when
    `fast_math` (see the module docstring); with TR_HOST_CPU=0 only read the name. Returns the
    name LLVM now uses for the host, or None where it cannot be read (the symbol not found).
    Call before `ti.init`, on the CPU backend only (`applicable`); calls after the first do
    nothing."""
    if "name" in _state:
        return _state["name"]
    _state["name"] = None
    wanted = os.environ.get("TR_HOST_CPU", "")
    try:
        from taichi._lib.core import taichi_python

        library = taichi_python.__file__
        offset = symbol_offset(library, SYMBOL)
        base = _load_base(library)
        if offset is None or base is None:
            _warn("llvm::sys::getHostCPUName was not found in Taichi's library")
            return None
        get_name = ctypes.CFUNCTYPE(_StringRef)(base + offset)

        def current() -> str:
            ref = get_name()
            return ctypes.string_at(ref.data, ref.length).decode()

        name = current()
        target = None
        if wanted != "0":
            target = wanted or (level_for_flags(_cpu_flags()) if name == "generic" else None)
        if target and target != name:
            original = _rewrite(base + offset, target.encode())
            if current() != target:
                _write_code(base + offset, original)
                _warn(f"the host CPU name could not be set to {target!r}")
            else:
                _state["rewritten"] = True
            name = current()
        _state["name"] = name
        _state["current"] = current
        _state["address"] = base + offset
        if wanted != "0" and os.environ.get("TR_WIDE_VECTORS", "") != "0":
            _state["optimiser"] = OPTIMISER_NAMES.get(name)
        if wanted != "0" and os.environ.get("TR_FMA", "") != "0" and fast_math:
            _state["fma"] = _fuse_multiply_adds(library, base)
    except (OSError, ValueError, ImportError, AttributeError) as exc:
        _warn(f"Taichi's LLVM could not be inspected ({exc})")
        return None
    return _state["name"]


def _fuse_multiply_adds(library: str, base: int) -> bool:
    """Patch resetTargetOptions (see RESET_EXPECTED) when its bytes are the expected ones, and
    check the bytes written."""
    offset = symbol_offset(library, RESET_SYMBOL)
    if offset is None:
        _warn("llvm::TargetMachine::resetTargetOptions was not found: no fused multiply-adds")
        return False
    at = base + offset + RESET_AT
    patched = RESET_PATCH + RESET_EXPECTED[len(RESET_PATCH):]
    found = ctypes.string_at(at, len(RESET_EXPECTED))
    if found == patched:
        return True  # patched before (another import of this module)
    if found != RESET_EXPECTED:
        _warn("resetTargetOptions is not the code this patch was checked against: no fused multiply-adds")
        return False
    _write_code(at, RESET_PATCH)
    if ctypes.string_at(at, len(RESET_EXPECTED)) != patched:
        _write_code(at, RESET_EXPECTED[:len(RESET_PATCH)])
        _warn("resetTargetOptions could not be patched: no fused multiply-adds")
        return False
    return True


def tune_optimiser() -> str | None:
    """After `ti.init`: give the optimiser its name for the host (OPTIMISER_NAMES) while the code
    generator, created by `ti.init`, keeps the level's. Returns the optimiser's name."""
    optimiser = _state.get("optimiser")
    if optimiser and not _state.get("optimiser_tuned"):
        original = _rewrite(_state["address"], optimiser.encode())
        if _state["current"]() != optimiser:
            _write_code(_state["address"], original)
            _state["optimiser"] = None
            _warn(f"the optimiser's CPU name could not be set to {optimiser!r}")
            return _state.get("name")
        _state["optimiser_tuned"] = True
    return optimiser or _state.get("name")


def host_cpu_name() -> str | None:
    """The CPU name LLVM's code generator uses for the host after `tune()` (None before it, or
    where unreadable)."""
    return _state.get("name")


def rewritten_name() -> bool:
    """Whether `tune()` rewrote the host CPU name LLVM reports (TR_HOST_CPU, or a level for a CPU
    LLVM cannot name)."""
    return bool(_state.get("rewritten"))


def optimiser_cpu_name() -> str | None:
    """The CPU name LLVM's optimiser uses for the host (after `tune_optimiser()`)."""
    return _state["optimiser"] if _state.get("optimiser_tuned") else _state.get("name")


def fused_multiply_adds() -> bool:
    """Whether the code generator fuses multiplies and adds (`tune()` patched it)."""
    return bool(_state.get("fma"))


def cache_tag() -> str | None:
    """The name of the offline-cache folder for kernels compiled with these settings."""
    name = _state.get("name")
    if not name:
        return None
    tag = f"llvm-{name}"
    if _state.get("optimiser") and _state["optimiser"] != name:
        tag += f"-opt-{_state['optimiser']}"
    return tag + ("-fma" if _state.get("fma") else "")
