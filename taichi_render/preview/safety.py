"""Decide, before any window exists, whether a GGUI window can open without killing the process.

GGUI's failures measured on these machines (see NOTES.md, "GGUI") are not all exceptions:
``show_window=True`` without a usable display exits the process with code 1, and lavapipe
segfaults in several corners. So:

- a display is tested with ``XOpenDisplay(None)`` through ctypes (``$DISPLAY`` may name a server
  that is gone);
- Vulkan is tested in a child process (``python -m taichi_render.preview.probe``) that opens a
  small GGUI window and exits 0 when everything worked; a crash there costs only the child. The
  answer is cached per process (and per DISPLAY / Vulkan driver setting).

Cheap checks run first and skip the child: no ``libvulkan``, ``VK_ICD_FILENAMES`` /
``VK_DRIVER_FILES`` naming only files that do not exist, a Taichi wheel built without GGUI.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pathlib
import subprocess
import sys
import tempfile

PROBE_TIMEOUT = 120.0  # seconds; a cold Taichi start plus one small kernel compile
PROBE_OK = "GGUI-PROBE-OK"

_cache: dict[tuple, tuple[bool, str]] = {}


def has_display() -> tuple[bool, str]:
    """(True, "") when a window can be shown: on Linux an X server answers ``XOpenDisplay``."""
    if not sys.platform.startswith("linux"):
        return True, ""  # Windows/macOS: the desktop is there; Vulkan is probed separately
    if not os.environ.get("DISPLAY"):
        return False, "DISPLAY is not set"
    name = ctypes.util.find_library("X11") or "libX11.so.6"
    try:
        xlib = ctypes.CDLL(name)
    except OSError:
        return False, "libX11 is not installed"
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    display = xlib.XOpenDisplay(None)
    if not display:
        return False, f"cannot open X display {os.environ.get('DISPLAY')!r}"
    xlib.XCloseDisplay(display)
    return True, ""


def _icd_files_missing() -> str:
    """A reason string when the Vulkan loader is pointed only at driver files that don't exist."""
    for var in ("VK_DRIVER_FILES", "VK_ICD_FILENAMES"):
        value = os.environ.get(var)
        if value:
            files = [f for f in value.split(os.pathsep) if f]
            if files and not any(pathlib.Path(f).exists() for f in files):
                return f"{var}={value} names no existing Vulkan driver"
            return ""
    return ""


def _quick_vulkan_check() -> str:
    """Reasons found without starting a process ("" when nothing rules Vulkan out)."""
    reason = _icd_files_missing()
    if reason:
        return reason
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(ctypes.util.find_library("vulkan") or "libvulkan.so.1")
        except OSError:
            return "the Vulkan loader (libvulkan.so.1) is not installed"
    try:
        from taichi._lib import core as ti_core
    except Exception as exc:  # noqa: BLE001 - a broken Taichi install: no GGUI either
        return f"taichi cannot be imported ({exc})"
    if not getattr(ti_core, "GGUI_AVAILABLE", True):
        return "this Taichi wheel was built without GGUI"
    return ""


def _probe_env() -> dict:
    env = dict(os.environ)
    package_root = str(pathlib.Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env.setdefault("TI_LOG_LEVEL", "warn")
    env.setdefault("ENABLE_TAICHI_HEADER_PRINT", "0")
    env.setdefault("TI_SKIP_VERSION_CHECK", "ON")
    return env


def ggui_available(show_window: bool, arch: str = "cpu") -> tuple[bool, str]:
    """(ok, reason): can a GGUI window (shown or off-screen) open and draw in this process?

    Runs the child probe once per (mode, arch, DISPLAY, Vulkan driver variables)."""
    key = (show_window, arch, os.environ.get("DISPLAY"), os.environ.get("VK_ICD_FILENAMES"),
           os.environ.get("VK_DRIVER_FILES"))
    if key in _cache:
        return _cache[key]
    result = _check(show_window, arch)
    _cache[key] = result
    return result


def _check(show_window: bool, arch: str) -> tuple[bool, str]:
    if show_window:
        ok, reason = has_display()
        if not ok:
            return False, reason
    reason = _quick_vulkan_check()
    if reason:
        return False, reason
    cmd = [sys.executable, "-m", "taichi_render.preview.probe", "--arch", arch]
    if show_window:
        cmd.append("--show")
    try:
        with tempfile.TemporaryDirectory(prefix="tr_ggui_probe_") as cwd:  # catches imgui.ini
            proc = subprocess.run(cmd, check=False, cwd=cwd, env=_probe_env(),
                                  capture_output=True, text=True, timeout=PROBE_TIMEOUT,
                                  stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False, f"the GGUI probe did not finish in {PROBE_TIMEOUT:.0f} s"
    except OSError as exc:
        return False, f"could not start the GGUI probe: {exc}"
    if proc.returncode == 0 and PROBE_OK in proc.stdout:
        return True, ""
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
    return False, f"the GGUI probe failed (exit code {proc.returncode}) {tail[0]}".strip()


def in_notebook() -> bool:
    """True inside a Jupyter (IPython kernel) session, where inline output is shown."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def clear_cache() -> None:
    """Forget the probe results (tests; a display that appeared later)."""
    _cache.clear()
