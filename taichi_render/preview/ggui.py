"""The GGUI view: one ``ti.ui.Window``, shown or off-screen, that presents composed frames.

Rules from the measured crash traps (NOTES.md, "GGUI"), all enforced here:

- at most one window per process: opening a view closes the previous one (module registry);
- ``window.show()`` is called only on visible windows (off-screen ``show()`` segfaults);
- the image buffer is read only right after a new ``canvas.set_image`` (a second read is black);
- ``window.destroy()`` on close and at interpreter exit;
- an off-screen window opened after a shown one was destroyed makes GGUI print "RHI Error: GLFW
  Error 65537: The GLFW library is not initialized" to standard error (destroying the shown
  window terminated GLFW; the off-screen window works without it): that one line is dropped.

Dear ImGui saves its layout to ``imgui.ini`` in the working directory when the window goes; the
view removes that file again unless it was there before.

GGUI images are indexed ``img[x, y]`` with y pointing up; frames here are (H, W, 3) uint8 with
row 0 at the top, converted by :func:`to_ggui` / :func:`from_ggui`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pathlib
import sys
import tempfile
import warnings

import numpy as np

from .controls import ESCAPE, SPACE

_active: dict[str, GGUIView | None] = {"view": None}
_glfw_terminated = {"value": False}  # a shown window was destroyed in this process
GLFW_NOT_INITIALIZED = b"GLFW Error 65537: The GLFW library is not initialized"


@contextlib.contextmanager
def _dropping_stderr_line(needle: bytes):
    """Run the body with file descriptor 2 sent to a temporary file, then write back to standard
    error every line except those containing `needle` (GGUI prints from C++, below Python)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().splitlines(keepends=True) if needle not in line]
            if kept:
                sys.stderr.flush()
                os.write(2, b"".join(kept))


def to_ggui(frame: np.ndarray) -> np.ndarray:
    """(H, W, C), row 0 at the top -> GGUI's (W, H, C) with y up; contiguous (GGUI reads the
    raw pointer)."""
    return np.ascontiguousarray(frame[::-1].transpose(1, 0, 2))


def from_ggui(buffer: np.ndarray) -> np.ndarray:
    """GGUI's (W, H, 4) float32 read-back -> (H, W, 3) uint8, row 0 at the top."""
    rgb = buffer[:, :, :3].transpose(1, 0, 2)[::-1]
    return np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)


def _close_active() -> None:
    view = _active["view"]
    if view is not None:
        view.close()


atexit.register(_close_active)


class GGUIView:
    """A GGUI window of the frame's size. ``show_window=False`` renders off-screen."""

    def __init__(self, size: tuple[int, int], show_window: bool, title: str,
                 panel_height: int) -> None:
        import taichi as ti

        from ..backend import ensure_init

        ensure_init()
        if _active["view"] is not None:
            warnings.warn("closing the previous preview window: GGUI holds one window at a time",
                          stacklevel=3)
            _active["view"].close()
        self._ti = ti
        self.size = size  # (width, height)
        self.show_window = show_window
        self.interactive = show_window
        self.panel_height = panel_height
        self._pending: list[str] = []
        self._imgui_ini = pathlib.Path.cwd() / "imgui.ini"
        self._imgui_ini_existed = self._imgui_ini.exists()
        quiet = _dropping_stderr_line(GLFW_NOT_INITIALIZED) if (
            not show_window and _glfw_terminated["value"]) else contextlib.nullcontext()
        with quiet:
            self.window = ti.ui.Window(title, size, vsync=False, show_window=show_window)
        self.canvas = self.window.get_canvas()
        _active["view"] = self

    def draw(self, frame: np.ndarray, lines: list[str], status: str,
             read_back: bool) -> np.ndarray | None:
        """Present `frame` (H, W, 3) uint8; return GGUI's own read-back of it when asked."""
        if self.window is None:
            return None
        if (frame.shape[1], frame.shape[0]) != tuple(self.size):
            raise ValueError(f"preview frame is {frame.shape[1]}x{frame.shape[0]}, the window "
                             f"{self.size[0]}x{self.size[1]}; images must keep their size")
        self.canvas.set_image(to_ggui(frame))
        shown = None
        if read_back:  # right after set_image: the only read that is not black
            shown = from_ggui(self.window.get_image_buffer_as_numpy())
        if self.show_window:
            self._panel(lines, status)
            self.window.show()
        return shown

    def _panel(self, lines: list[str], status: str) -> None:
        """The GUI panel over the loss strip: text lines, Pause/Resume and Stop buttons."""
        width, height = self.size
        panel_w = min(300, width // 2) / width
        panel_h = min(self.panel_height, height) / height
        gui = self.window.get_gui()
        with gui.sub_window("Optimization", 1.0 - panel_w, 1.0 - panel_h, panel_w, panel_h):
            for line in lines:
                gui.text(line)
            gui.text(f"[{status}]  space: pause, Esc: stop")
            if gui.button("Resume" if status == "paused" else "Pause"):
                self._pending.append(SPACE)
            if gui.button("Stop"):
                self._pending.append(ESCAPE)

    def poll_keys(self) -> list[str]:
        """Keys pressed since the last poll (button clicks included); a closed window is Esc."""
        if self.window is None or not self.show_window:
            return []
        ti = self._ti
        keys, self._pending = self._pending, []
        keys += [e.key for e in self.window.get_events(ti.ui.PRESS)]
        if not self.window.running:
            keys.append(ESCAPE)
        return keys

    def close(self) -> None:
        if self.window is not None:
            self.window.destroy()
            self.window = None
            if self.show_window:
                _glfw_terminated["value"] = True
            if not self._imgui_ini_existed:
                self._imgui_ini.unlink(missing_ok=True)
        if _active["view"] is self:
            _active["view"] = None
