"""Telling the user, once, that a path tracer kernel is about to be compiled.

A kernel variant (kernel, plugin families `features`, mode, integrator) compiles on its first
launch: seconds to tens of seconds with nothing on screen, after which Taichi's offline cache
serves it to later processes in about a second. Taichi 1.7 does not say beforehand which of the
two will happen, so a small record kept next to Taichi's cache files,
``<offline cache folder>/taichi_render_kernels.json``, holds the variants launched before, by a
key that also names taichi_render's source fingerprint (:func:`source_fingerprint`) and the
cache folder, with the seconds their first launch took. A variant missing from it gets one INFO
line on the "taichi_render" logger (taichi_render/log.py) before its launch::

    taichi_render: compiling the path tracer for this CPU (primal), one time, about 8 s; cached in ...

where the seconds are those last measured for the kernel and mode (the same plugin families
preferred; the wall time of the variant's first launch: its compile, and its first chunk of
samples), else a built-in estimate. Taichi writes its cache when the process exits; an entry
of a variant that compiled is believed only once Taichi's cache metadata is newer than it, so a
process killed before that leaves the next one to say it again.

The record is a convenience: a missing, corrupt or concurrently replaced file costs at most a
notice too many or too few, and never a render (file errors are swallowed; writes are a
temporary file and `os.replace`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pathlib
import tempfile
import time

import taichi as ti

from ..log import logger

RECORD_NAME = "taichi_render_kernels.json"
TAICHI_METADATA = "ticache.tcb"  # Taichi 1.7's cache index, rewritten when it stores new kernels
ESTIMATES = {"primal": 10.0, "adjoint": 20.0, "forward": 20.0}  # seconds, when nothing was measured
MAX_ENTRIES = 64  # oldest entries beyond these are dropped (old source fingerprints)
COMPILED_SECONDS = 1.0  # Taichi's compile-time counter grew by more: the launch compiled
CLOCK_SLACK = 2.0  # seconds of file-time granularity allowed between an entry and the metadata

_PACKAGE = pathlib.Path(__file__).resolve().parents[1]
# the files whose code ends up in the kernels, or decides how they are compiled
_SOURCES = ("render/*.py", "backend.py", "llvm_host_cpu.py", "taichi_frontend.py")

_state = {"fingerprint": None}
_launched: set[str] = set()  # keys of the variants launched by this process


def source_fingerprint() -> str:
    """A hash of the device code's sources and Taichi's version (computed once per process)."""
    if _state["fingerprint"] is None:
        digest = hashlib.sha256(repr(ti.__version__).encode())
        for pattern in _SOURCES:
            for path in sorted(_PACKAGE.glob(pattern)):
                digest.update(path.relative_to(_PACKAGE).as_posix().encode())
                with contextlib.suppress(OSError):
                    digest.update(path.read_bytes())
        _state["fingerprint"] = digest.hexdigest()[:16]
    return _state["fingerprint"]


def variant_key(kernel: str, features: int, mode: str, integrator, fingerprint: str,
                folder: str) -> str:
    """The record's key of a kernel variant: what Taichi compiles it for, the sources it is
    compiled from, and the cache folder's name (the CPU and settings it is compiled for)."""
    return (f"{kernel}|features={int(features)}|{mode}|integrator={integrator}"
            f"|src={fingerprint}|{os.path.basename(os.path.normpath(folder))}")


def record_path(folder: str) -> str:
    return os.path.join(folder, RECORD_NAME)


def read_record(path: str) -> dict:
    """The record's entries ({key: entry}); empty when the file is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    entries = data.get("kernels") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        return {}
    return {k: v for k, v in entries.items() if isinstance(v, dict)}


def _number(entry: dict, name: str) -> float | None:
    value = entry.get(name)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def is_cached(entries: dict, key: str, folder: str) -> bool:
    """Whether Taichi's offline cache in `folder` holds the variant of `key`: the record has it,
    and it was loaded from the cache then, or Taichi has stored kernels since it compiled."""
    entry = entries.get(key)
    if entry is None:
        return False
    if entry.get("compiled") is False:
        return True
    at = _number(entry, "at")
    try:
        stored = os.stat(os.path.join(folder, TAICHI_METADATA)).st_mtime
    except OSError:
        return False
    return at is not None and stored >= at - CLOCK_SLACK


def estimate(entries: dict, kernel: str, mode: str, features: int) -> tuple[float, bool]:
    """(seconds, measured): the last measured compile of `kernel` in `mode` (one for the same
    plugin families preferred), else the built-in estimate (measured False)."""
    best = None
    for entry in entries.values():
        seconds, at = _number(entry, "seconds"), _number(entry, "at") or 0.0
        if entry.get("kernel") != kernel or entry.get("mode") != mode or seconds is None:
            continue
        if entry.get("compiled") is False:
            continue
        rank = (entry.get("features") == features, at)
        if best is None or rank > best[0]:
            best = (rank, seconds)
    if best is None:
        return ESTIMATES.get(mode, max(ESTIMATES.values())), False
    return best[1], True


def store(path: str, key: str, entry: dict) -> bool:
    """Add `entry` under `key` to the record at `path` (read again first: another process may
    have added entries), keeping the newest MAX_ENTRIES; written to a temporary file, then
    renamed over the record. False when the file could not be written."""
    tmp = None
    try:
        entries = read_record(path)
        entries[key] = entry
        if len(entries) > MAX_ENTRIES:
            newest = sorted(entries, key=lambda k: _number(entries[k], "at") or 0.0)[-MAX_ENTRIES:]
            entries = {k: entries[k] for k in newest}
        folder = os.path.dirname(path) or "."
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{RECORD_NAME}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"version": 1, "kernels": entries}, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
        tmp = None
        return True
    except (OSError, ValueError):
        return False
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def message(mode: str, seconds: float, folder: str, persistent: bool, device: str = "CPU") -> str:
    """The notice (the logger's handler puts "taichi_render: " in front)."""
    where = (f"one time, about {max(1, round(seconds))} s; cached in {folder}" if persistent
             else f"about {max(1, round(seconds))} s; for this process only (offline_cache=False)")
    return f"compiling the path tracer for this {device} ({mode}), {where}"


def _compile_seconds() -> float | None:
    """Taichi's running total of compile time in this process (None if it cannot say)."""
    try:
        return float(ti.lang.impl.get_runtime().prog.get_total_compilation_time())
    except Exception:  # noqa: BLE001 - an introspection nicety, never worth a failed render
        return None


def taichi_cache() -> tuple[str, bool, str]:
    """(the offline cache folder Taichi uses, whether the offline cache is on, "CPU" or "GPU")."""
    cfg = ti.lang.impl.current_cfg()
    device = "GPU" if cfg.arch == ti.cuda else "CPU"
    return str(cfg.offline_cache_file_path), bool(cfg.offline_cache), device


@contextlib.contextmanager
def first_launch(kernel: str, features: int, mode: str, integrator=None):
    """Wrap a kernel launch: the first one of a variant in this process says so when the
    variant is not in Taichi's offline cache, and records how long it took."""
    folder, persistent, device = taichi_cache()
    key = variant_key(kernel, features, mode, integrator, source_fingerprint(), folder)
    if key in _launched:
        yield
        return
    path = record_path(folder)
    entries = read_record(path)
    cached = persistent and is_cached(entries, key, folder)
    if not cached:
        seconds, _ = estimate(entries, kernel, mode, features)
        logger().info(message(mode, seconds, folder, persistent, device))
    compiled_before = _compile_seconds()
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    _launched.add(key)
    compiled_after = _compile_seconds()
    compiled = (None if compiled_before is None or compiled_after is None
                else compiled_after - compiled_before > COMPILED_SECONDS)
    if persistent and (not cached or compiled):  # a new entry, or one Taichi's cache had lost
        store(path, key, {"kernel": kernel, "features": int(features), "mode": mode,
                          "integrator": integrator, "seconds": round(seconds, 3),
                          "compiled": compiled, "at": time.time()})
