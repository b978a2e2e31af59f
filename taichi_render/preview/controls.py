"""Keyboard control of a running optimization: space pauses/resumes, Esc stops.

Kept free of Taichi so that the logic is tested by feeding key names (the strings that
``ti.ui`` events carry: ``ti.ui.ESCAPE == "Escape"``, ``ti.ui.SPACE == " "``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

ESCAPE = "Escape"
SPACE = " "


class Controls:
    """Pause/stop state driven by key presses.

    ``stopped`` is final: once Esc was pressed (or the window was closed), later keys are
    ignored and the preview asks the loop to stop."""

    def __init__(self) -> None:
        self.paused = False
        self.stopped = False

    def handle_key(self, key: str) -> None:
        if self.stopped:
            return
        if key == ESCAPE:
            self.stopped = True
            self.paused = False
        elif key == SPACE:
            self.paused = not self.paused

    def handle_keys(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.handle_key(key)

    def stop(self) -> None:
        self.handle_key(ESCAPE)

    @property
    def running(self) -> bool:
        return not self.stopped

    def status(self) -> str:
        return "stopped" if self.stopped else "paused" if self.paused else "running"


def wait_while_paused(controls: Controls, poll: Callable[[], Iterable[str]],
                      redraw: Callable[[], None], interval: float = 1.0 / 30.0,
                      sleep: Callable[[float], None] = time.sleep) -> bool:
    """Block while paused, keeping the window responsive; returns ``controls.running``.

    Each round redraws (so the window keeps presenting frames and receives events), then feeds
    the keys that ``poll()`` returns to ``controls``."""
    while controls.paused and not controls.stopped:
        redraw()
        controls.handle_keys(poll())
        if controls.paused and not controls.stopped:
            sleep(interval)
    return controls.running
