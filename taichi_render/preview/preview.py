"""Live preview of an optimization: current render, target, difference, loss curve and mesh.

The backend is chosen once, in the constructor, before any window exists (see safety.py):

========== ===============================================================================
backend    when
========== ===============================================================================
window     ``show_window=True``, an X display answers and a GGUI probe window opened
offscreen  ``show_window=False`` and GGUI works off-screen (software Vulkan is enough)
notebook   no window possible, running inside a Jupyter kernel: inline image updated in place
frames     otherwise, and on every rank but 0 of a distributed run (torchrun's ``RANK``
           or an initialised ``torch.distributed`` group): frames are composed (and
           recorded / written) but not shown
========== ===============================================================================

``backend="frames"`` (or any other name) forces a backend; the ``TR_PREVIEW_BACKEND``
environment variable does the same for code that doesn't pass it (e.g. CI).

With a mesh (``update(..., mesh=(vertices, faces))``) a square 3D panel follows the images: GGUI's
scene draws it on the GGUI backends, a numpy rasteriser on the others (mesh_view.py).
"""

from __future__ import annotations

import os
import pathlib
import sys
import time
import warnings

import numpy as np

from . import compose as C
from . import mesh_view as M
from . import safety
from .controls import Controls, wait_while_paused
from .notebook import NotebookView

BACKENDS = ("window", "offscreen", "notebook", "frames")


class FramesView:
    """No display at all: frames are only composed (kept, recorded, written)."""

    interactive = False

    def draw(self, frame, lines, status, read_back):
        return None

    def poll_keys(self) -> list[str]:
        return []

    def close(self) -> None:
        pass


def format_value(value) -> str:
    """Short text for a parameter value: scalars and small arrays in full, big arrays summarised."""
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().cpu().numpy()
    elif hasattr(value, "to_numpy"):  # Taichi field
        value = value.to_numpy()
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return str(value)
    if arr.ndim == 0:
        return f"{float(arr):.5g}"
    if arr.size <= 6:
        return np.array2string(arr.ravel(), precision=4, separator=", ", suppress_small=True)
    return f"array{tuple(arr.shape)} mean {arr.mean():.4g}"


def distributed_rank() -> int:
    """This process's rank in a distributed run: torch.distributed's when a process group is
    initialised (torch is not imported for this), else torchrun's ``RANK``, else 0."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def choose_backend(show_window: bool, backend: str = "auto", arch: str = "cpu") -> tuple[str, str]:
    """(backend, reason for any fallback). Probes run here, never after a window exists."""
    backend = os.environ.get("TR_PREVIEW_BACKEND", backend) if backend == "auto" else backend
    if backend not in ("auto",) + BACKENDS:
        raise ValueError(f"backend must be 'auto' or one of {BACKENDS}, got {backend!r}")
    if backend == "auto" and distributed_rank() != 0:
        return "frames", f"rank {distributed_rank()} of a distributed run: only rank 0 shows a preview"
    if backend in ("window", "offscreen"):
        ok, reason = safety.ggui_available(backend == "window", arch)
        if not ok:
            raise RuntimeError(f"preview backend {backend!r} is not available: {reason}")
        return backend, ""
    if backend in ("notebook", "frames"):
        return backend, ""
    ok, reason = safety.ggui_available(show_window, arch)
    if ok:
        return ("window" if show_window else "offscreen"), ""
    if show_window and safety.in_notebook():
        return "notebook", reason
    return "frames", reason


class Preview:
    """Watch an optimization converge: ``update(image, loss=..., it=..., **values)`` per iteration.

    Args:
        target: reference image (ti field, numpy or torch, (H, W, 3) linear) or None. With a
            target the canvas shows current | target | |difference| heat map.
        show_window: open a window (True) or draw off-screen (False, for saved frames/videos).
        backend: "auto" (see the module table) or one of ``BACKENDS`` to force it.
        title: window title.
        exposure: tone-mapping exposure in stops for current and target.
        scale: panel resize factor (integer upscale, or 1/n downscale); None picks one so that
            small renders are readable and wide canvases fit.
        diff_scale: display-space difference (0..1) shown at the top of the heat map; None
            takes the 99th percentile of the first difference and keeps it.
        strip_height: height in pixels of the loss strip under the images.
        record: keep every ``record_every``-th frame in ``frames`` (uint8 (H, W, 3); about 1 MB
            each at 256x256) for :meth:`save_animation`.
        frames_dir: folder where every ``record_every``-th frame is written as
            ``frame_NNNNN.png`` (independent of ``record``).
        inline: notebook mode, "auto", "widgets" or "display" (see notebook.py).
        min_interval: notebook refresh limit in seconds.
        target_mesh: a fixed reference mesh ``(vertices, faces)`` (same forms as ``mesh`` in
            :meth:`update`) drawn as a cyan silhouette over the current mesh; it also makes the
            mesh panel appear from the first frame. None (default): no outline.
        mesh_orbit: degrees the mesh panel's camera turns about the +y axis per update
            (default 2.0, a full turn in 180 updates; 0 keeps it fixed).
        mesh_elevation: camera elevation above the xz plane in degrees (default 20.0).

    The mesh panel: pass ``mesh=(vertices, faces)`` to :meth:`update` (the first update decides
    whether the canvas has the panel, as it must keep its size) and a square orthographic view of
    the mesh appears right of the images, shaded with a light that turns with the camera. The
    view is fitted to the first mesh (and ``target_mesh``) and only widens, so growth, shrinking
    and drift show. On the window and off-screen backends GGUI's 3D scene draws it; on the
    notebook and frames backends a numpy z-buffer does (a few tens of ms for 5k triangles).

    Example::

        with tr.preview.Preview(image_ref) as pv:
            for it in range(100):
                ...
                if not pv.update(image, loss=loss[None], it=it, red=params[key]):
                    break  # Esc pressed

        # shape optimization: the current mesh next to the renders, the target as an outline
        with tr.preview.Preview(image_ref, target_mesh=(v_ref, faces)) as pv:
            for it in range(100):
                ...
                pv.update(image, loss=loss, it=it, mesh=(vertices, faces))

    Keys in the window: space pauses (``update`` then blocks until space again), Esc stops
    (``update`` returns False from then on); closing the window counts as Esc. The GUI panel
    has the same as buttons.
    """

    def __init__(self, target=None, show_window: bool = True, *, backend: str = "auto",
                 title: str = "taichi_render preview", exposure: float = 0.0,
                 scale: float | None = None, diff_scale: float | None = None,
                 strip_height: int = 140, record: bool = False, record_every: int = 1,
                 frames_dir=None, inline: str = "auto", min_interval: float = 0.2,
                 target_mesh=None, mesh_orbit: float = 2.0,
                 mesh_elevation: float = 20.0) -> None:
        from ..backend import current_arch

        self.show_window = bool(show_window)
        self.exposure = float(exposure)
        self.title = title
        self.scale = scale
        self.diff_scale = diff_scale
        self._auto_diff_scale = diff_scale is None
        self.strip_height = int(strip_height)
        self.record = bool(record)
        self.record_every = max(1, int(record_every))
        self.frames_dir = pathlib.Path(frames_dir) if frames_dir is not None else None
        self.target = None if target is None else C.to_display(target, self.exposure)
        self.target_mesh = None if target_mesh is None else M.as_mesh(target_mesh, "target_mesh")
        self.mesh: tuple[np.ndarray, np.ndarray] | None = None  # last (vertices, faces) shown
        self.mesh_camera = M.MeshCamera(orbit=mesh_orbit, elevation=mesh_elevation)
        self._mesh_panel = self.target_mesh is not None  # fixed at the first frame
        self._drawing: M.MeshDrawing | None = None
        self.backend, self.fallback_reason = choose_backend(self.show_window, backend,
                                                            current_arch() or "cpu")
        if self.fallback_reason and distributed_rank() == 0:  # other ranks never show one
            warnings.warn(f"preview: no GGUI window ({self.fallback_reason}); showing "
                          f"{'inline' if self.backend == 'notebook' else 'nothing'}, "
                          f"frames are still composed (backend {self.backend!r})", stacklevel=2)
        self._inline, self._min_interval = inline, min_interval
        self.controls = Controls()
        self.frames: list[np.ndarray] = []
        self.history: dict[str, list] = {"it": [], "loss": [], "seconds": []}
        self.last_frame: np.ndarray | None = None
        self._view = None
        self._count = 0
        self._closed = False
        self._t0 = time.perf_counter()
        if self.backend == "notebook":
            self._view = NotebookView(inline, min_interval)
        elif self.backend == "frames":
            self._view = FramesView()

    # ---- the loop's side ----

    def set_target(self, target) -> None:
        """Set or replace the reference image (same shape as the renders). Adding a target to a
        preview that already drew frames without one would resize its canvas: not allowed."""
        if self.target is None and self._count > 0:
            raise RuntimeError("set_target: this preview already drew frames without a target; "
                               "pass the target to Preview() or call set_target first")
        self.target = C.to_display(target, self.exposure)
        if self._auto_diff_scale:
            self.diff_scale = None  # re-derived from the next difference

    def update(self, image, loss=None, it=None, *, mesh=None, **values) -> bool:
        """Show a new iteration; returns False once the user pressed Esc (stop the loop).

        Args:
            image: current render, ti field / numpy / torch, (H, W, 3) linear RGB.
            loss: float (or 0-D field / tensor / array), drawn on the loss curve.
            it: iteration number (default: count of updates so far).
            mesh: the current mesh for the 3D panel, ``(vertices, faces)``: vertices (V, 3) or
                flat (3V,) floats (e.g. ``params["shape.vertex_positions"]``), faces (F, 3) or
                flat (3F,) integers in ``[0, V)``; numpy, torch (detached here) or Taichi
                fields. The vertices alone reuse the previous mesh's faces. None (default):
                the panel, if any, keeps the last mesh. A bad mesh raises ValueError naming
                ``mesh`` before anything is recorded or drawn.
            **values: parameters to list in the panel, e.g. ``red=params["red.reflectance.value"]``.
        """
        if self._closed or self.controls.stopped:
            return False
        if mesh is not None:
            mesh = M.as_mesh(mesh, "mesh", None if self.mesh is None else self.mesh[1])
            if not self._mesh_panel and self._count > 0:
                raise ValueError("mesh: this preview already drew frames without a mesh panel; "
                                 "pass a mesh to the first update() or target_mesh= to Preview()")
        current = C.to_display(image, self.exposure)
        if self.target is not None and current.shape != self.target.shape:
            raise ValueError(f"image has shape {current.shape[:2]} but the target "
                             f"{self.target.shape[:2]}")
        if mesh is not None:
            self.mesh, self._mesh_panel = mesh, True
        it = self._count if it is None else int(it)
        loss = None if loss is None else float(np.asarray(_scalar(loss)))
        self.history["it"].append(it)
        self.history["loss"].append(loss)
        self.history["seconds"].append(time.perf_counter() - self._t0)
        if self.target is not None and self.diff_scale is None:
            self.diff_scale = C.diff_scale_for(current, self.target)
        lines = [f"iteration {it}"] + ([f"loss {loss:.6g}"] if loss is not None else [])
        lines += [f"{k} = {format_value(v)}" for k, v in values.items()]
        frame = self._compose(current, lines)
        keep = self._count % self.record_every == 0
        self._draw(frame, lines, read_back=self.backend == "offscreen" or (
            keep and (self.record or self.frames_dir is not None)) or self._drawing is not None)
        if keep:
            self._keep(self.last_frame)
        self._count += 1
        self.controls.handle_keys(self._view.poll_keys())
        if self.controls.paused and self._view.interactive:
            wait_while_paused(self.controls, self._view.poll_keys,
                              lambda: self._view.draw(frame, lines, self.controls.status(), False))
        return self.controls.running

    def callback(self, it, image, loss=None, value=None, **values) -> bool:
        """Optimizer/demo callback form: ``callback(it, image, loss, value)``; False = stop."""
        if value is not None:
            values = {"value": value, **values}
        return self.update(image, loss=loss, it=it, **values)

    __call__ = callback

    # ---- drawing ----

    def _compose(self, current: np.ndarray, lines: list[str]) -> np.ndarray:
        if self.scale is None:
            columns = (1 if self.target is None else 3) + (1 if self._mesh_panel else 0)
            self.scale = C.auto_scale(current.shape[0], current.shape[1], columns)
        caption = "   ".join(lines)
        if self.target is not None:
            caption += f"   |diff| x{1.0 / self.diff_scale:.3g}"
        self._drawing, extra = None, None
        if self._mesh_panel:
            side = C.resize(current[:, :1], self.scale).shape[0]  # the panels' height
            x = C.resize(current[:1], self.scale).shape[1] * (1 if self.target is None else 3)
            extra = np.empty((side, side, 3), np.uint8)
            extra[:] = M.BACKGROUND
            if self.mesh is not None or self.target_mesh is not None:
                self._drawing = self._mesh_drawing(side, (x, 0, side, side))
        return C.compose(current, self.target, self.diff_scale, self.history["loss"], caption,
                         self.scale, self.strip_height, extra=extra)

    def _mesh_drawing(self, side: int, rect: tuple[int, int, int, int]) -> M.MeshDrawing:
        if self.mesh is not None:
            v, f = self.mesh
        else:  # the target's outline alone until the first mesh arrives
            v, f = np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32)
        meshes = [v] + ([self.target_mesh[0]] if self.target_mesh is not None else [])
        view = self.mesh_camera.view(meshes, self._count, side)
        outline = None
        if self.target_mesh is not None:
            outline = M.silhouette(*self.target_mesh, view.back)
        return M.MeshDrawing(view, v, f, outline, rect,
                             None if self.target_mesh is None else self.target_mesh[1])

    def _draw(self, frame: np.ndarray, lines: list[str], read_back: bool) -> None:
        if self._view is None:
            self._open_ggui(frame)
        if getattr(self._view, "draws_meshes", False):
            self._view.set_mesh(self._drawing)
        elif self._drawing is not None:
            self._drawing.paint_into(frame)
        shown = self._view.draw(frame, lines, self.controls.status(), read_back)
        self.last_frame = shown if shown is not None else frame

    def _open_ggui(self, frame: np.ndarray) -> None:
        from .ggui import GGUIView

        size = (frame.shape[1], frame.shape[0])
        try:
            self._view = GGUIView(size, self.backend == "window", self.title, self.strip_height)
        except Exception as exc:  # noqa: BLE001 - the probe passed but this window did not
            reason = f"{type(exc).__name__}: {exc}"
            self.backend = "notebook" if self.show_window and safety.in_notebook() else "frames"
            self.fallback_reason = reason
            warnings.warn(f"preview: GGUI window failed ({reason}); using {self.backend!r}",
                          stacklevel=4)
            self._view = (NotebookView(self._inline, self._min_interval)
                          if self.backend == "notebook" else FramesView())

    def _keep(self, frame: np.ndarray) -> None:
        if self.record:
            self.frames.append(frame)
        if self.frames_dir is not None:
            import imageio.v3 as iio

            self.frames_dir.mkdir(parents=True, exist_ok=True)
            iio.imwrite(self.frames_dir / f"frame_{self._count:05d}.png", frame)

    # ---- output ----

    def save_frame(self, path) -> None:
        """Write the last frame (8-bit sRGB) to `path` (.png, .jpg, ... via imageio)."""
        import imageio.v3 as iio

        if self.last_frame is None:
            raise RuntimeError("no frame yet: call update() first")
        iio.imwrite(path, self.last_frame)

    def save_animation(self, path, fps: float = 10.0) -> None:
        """Write the recorded frames (``record=True``) as an animated GIF or, with imageio-ffmpeg
        installed, an MP4. Pillow merges identical consecutive GIF frames."""
        if not self.frames:
            raise RuntimeError("no recorded frames: create the Preview with record=True")
        path = pathlib.Path(path)
        ext = path.suffix.lower()
        if ext == ".gif":
            import imageio.v3 as iio

            iio.imwrite(path, np.stack(self.frames), extension=".gif",
                        duration=1000.0 / fps, loop=0)
        elif ext in (".mp4", ".mkv", ".mov", ".avi", ".webm"):
            try:
                import imageio_ffmpeg  # noqa: F401
            except ImportError:
                raise RuntimeError(f"writing {ext} needs imageio-ffmpeg (pip install "
                                   "imageio-ffmpeg); .gif works without it") from None
            import imageio.v2 as iio2

            with iio2.get_writer(path, fps=fps, macro_block_size=1) as writer:
                for frame in self.frames:  # even sizes for yuv420p
                    h, w = frame.shape[0] // 2 * 2, frame.shape[1] // 2 * 2
                    writer.append_data(frame[:h, :w])
        else:
            raise ValueError(f"unsupported animation format {ext!r}: use .gif or .mp4")

    def close(self) -> None:
        """Close the window (or flush the inline view). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._view is not None:
            self._view.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Preview(backend={self.backend!r}, updates={self._count}, "
                f"status={self.controls.status()!r})")


def _scalar(x):
    """0-D Taichi field -> its value; anything else unchanged."""
    if hasattr(x, "to_numpy") and getattr(x, "shape", None) == ():
        return x[None]
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return x
