"""Inline notebook view: the composed frame shown as a PNG that is replaced in place.

Two ways, chosen by ``inline``:

- ``"widgets"``: an ``ipywidgets.Image`` above an ``HTML`` label, updated in place (smooth in a
  live Jupyter session; executed notebooks keep only the widget state);
- ``"display"``: ``IPython.display`` with a display id, updated in place; the last frame stays
  in the saved notebook as an ordinary image (good for rendered docs).

``"auto"`` takes widgets when ipywidgets imports, else display. Updates are throttled to
``min_interval`` seconds; ``flush`` (on close) always shows the last frame.
"""

from __future__ import annotations

import html
import io
import time

import numpy as np


def png_bytes(frame: np.ndarray) -> bytes:
    import imageio.v3 as iio

    buf = io.BytesIO()
    iio.imwrite(buf, frame, extension=".png")
    return buf.getvalue()


class NotebookView:
    interactive = False  # a busy kernel cannot receive key presses or button clicks

    def __init__(self, inline: str = "auto", min_interval: float = 0.2) -> None:
        if inline not in ("auto", "widgets", "display"):
            raise ValueError(f"inline must be 'auto', 'widgets' or 'display', got {inline!r}")
        if inline == "auto":
            try:
                import ipywidgets  # noqa: F401

                inline = "widgets"
            except ImportError:
                inline = "display"
        self.mode = inline
        self.min_interval = min_interval
        self._last_time = -np.inf
        self._pending: tuple | None = None
        self._handle = None
        self._image = self._label = None

    def _show(self, frame: np.ndarray, lines: list[str], status: str) -> None:
        from IPython.display import HTML, Image, display

        text = html.escape("   ".join(lines + [f"[{status}]"]))
        png = png_bytes(frame)
        if self.mode == "widgets":
            import ipywidgets as widgets

            if self._image is None:
                self._image = widgets.Image(value=png, format="png")
                self._label = widgets.HTML(f"<pre>{text}</pre>")
                display(widgets.VBox([self._image, self._label]))
            else:
                self._image.value = png
                self._label.value = f"<pre>{text}</pre>"
        else:
            if self._handle is None:
                self._handle = display(Image(data=png, format="png"), display_id=True)
                self._text_handle = display(HTML(f"<pre>{text}</pre>"), display_id=True)
            else:
                self._handle.update(Image(data=png, format="png"))
                self._text_handle.update(HTML(f"<pre>{text}</pre>"))

    def draw(self, frame: np.ndarray, lines: list[str], status: str,
             read_back: bool) -> np.ndarray | None:
        now = time.perf_counter()
        if now - self._last_time >= self.min_interval:
            self._show(frame, lines, status)
            self._last_time, self._pending = now, None
        else:
            self._pending = (frame, lines, status)
        return None

    def flush(self) -> None:
        if self._pending is not None:
            self._show(*self._pending)
            self._pending = None

    def poll_keys(self) -> list[str]:
        return []

    def close(self) -> None:
        self.flush()

