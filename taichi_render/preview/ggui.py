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

The mesh panel (mesh_view.py) is drawn by GGUI's 3D scene over the blank panel of the frame: an
orthographic camera whose off-centre frustum spans the whole window puts the mesh inside the
panel's rectangle (a scene cannot be restricted to a viewport). With lavapipe, ``scene.lines``
declared after ``scene.mesh`` made the mesh vanish from some frames (when the view turned); the
outline's lines are therefore declared first, from a field of fixed size.
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

    draws_meshes = True  # set_mesh(): the mesh panel is drawn by GGUI's scene

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
        self._scene = None
        self._mesh = None  # mesh_view.MeshDrawing drawn with every frame, or None
        self._mesh_fields: dict[str, object] = {}
        _active["view"] = self

    def set_mesh(self, drawing) -> None:
        """Draw `drawing` (a mesh_view.MeshDrawing, or None for no mesh) with the next frames."""
        self._mesh = drawing
        if drawing is not None:
            self._upload(drawing)

    def _field(self, name: str, data: np.ndarray, vector: bool):
        """A Taichi field holding `data`, reallocated only when the size changes."""
        ti = self._ti
        field = self._mesh_fields.get(name)
        if field is None or field.shape[0] != data.shape[0]:
            field = (ti.Vector.field(3, ti.f32, data.shape[0]) if vector
                     else ti.field(ti.i32, data.shape[0]))
            self._mesh_fields[name] = field
        field.from_numpy(data)
        return field

    def _upload(self, drawing) -> None:
        from . import mesh_view as M

        v, f = drawing.vertices, drawing.faces
        good = np.all(np.isfinite(v), axis=1)
        f = f[np.all(good[f], axis=1)]  # triangles with non-finite corners are left out
        self._n_faces = len(f)
        if len(f):
            self._field("vertices", np.where(good[:, None], v, 0).astype(np.float32), True)
            self._field("normals", M.vertex_normals(np.where(good[:, None], v, 0), f), True)
            self._field("indices", f.reshape(-1).astype(np.int32), False)
        outline = drawing.outline
        self._n_lines = 0 if outline is None else len(outline)
        if self._n_lines:  # moved toward the camera (orthographic: same place on screen), on top
            view = drawing.view
            ahead = (outline.reshape(-1, 3) + 2.5 * view.radius * view.back).astype(np.float32)
            # a fixed number of points (3F edges at most), the unused ones behind the camera
            capacity = max(6 * len(drawing.target_faces), len(ahead))
            behind = view.center + 10.0 * view.radius * view.back  # behind the camera: clipped
            padding = np.broadcast_to(behind.astype(np.float32), (capacity - len(ahead), 3))
            self._field("outline", np.concatenate([ahead, padding]), True)

    def _draw_mesh(self) -> None:
        from . import mesh_view as M

        ti = self._ti
        d = self._mesh
        view = d.view
        if self._scene is None:
            self._scene = self.window.get_scene()
            self._camera = ti.ui.Camera()
            self._camera.projection_mode(ti.ui.ProjectionMode.Orthogonal)
        width, height = self.size
        x, y, w, h = d.rect
        s = view.pixel
        cx, cy = x + w / 2.0, y + h / 2.0  # the panel's centre, frame pixels
        cam = self._camera
        # view-space extent of the whole window; GGUI's orthographic y runs from top to bottom
        cam.left(-cx * s)
        cam.right((width - cx) * s)
        cam.top(-(height - cy) * s)
        cam.bottom(cy * s)
        distance = 4.0 * view.radius
        eye = view.center + distance * view.back
        cam.position(*eye)
        cam.lookat(*view.center)
        cam.up(*view.up)
        cam.z_near(0.01 * view.radius)
        cam.z_far(distance + 2.0 * view.radius)
        scene = self._scene
        scene.set_camera(cam)
        scene.ambient_light((M.AMBIENT,) * 3)
        light = view.center + 10.0 * view.radius * view.light()
        scene.point_light(tuple(light), (1.0 - M.AMBIENT,) * 3)
        if self._n_lines:  # before the mesh: lines declared after it made GGUI drop the mesh
            scene.lines(self._mesh_fields["outline"], width=1.5, color=tuple(M.OUTLINE / 255.0))
        if self._n_faces:
            scene.mesh(self._mesh_fields["vertices"], indices=self._mesh_fields["indices"],
                       normals=self._mesh_fields["normals"], color=M.MESH_COLOR, two_sided=True)
        self.canvas.scene(scene)

    def draw(self, frame: np.ndarray, lines: list[str], status: str,
             read_back: bool) -> np.ndarray | None:
        """Present `frame` (H, W, 3) uint8; return GGUI's own read-back of it when asked."""
        if self.window is None:
            return None
        if (frame.shape[1], frame.shape[0]) != tuple(self.size):
            raise ValueError(f"preview frame is {frame.shape[1]}x{frame.shape[0]}, the window "
                             f"{self.size[0]}x{self.size[1]}; images must keep their size")
        self.canvas.set_image(to_ggui(frame))
        if self._mesh is not None:
            self._draw_mesh()
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
