"""The package's logger, ``logging.getLogger("taichi_render")``, shown on stderr by default.

Python's logging HOWTO ("Configuring Logging for a Library") has libraries add only a
NullHandler, so that nothing prints unless the application configures logging. taichi_render
has a few INFO lines a user should see without configuring anything (a one-time kernel compile
that takes seconds: render/compile_notice.py), so :func:`logger` gives the package's logger, and
that logger only, one StreamHandler to stderr on first use (printing above tqdm progress
bars). The root logger and every other logger are left untouched, and the logger still
propagates, so an application's own handlers (or pytest's caplog) see the records too.

To silence these lines::

    import logging
    logging.getLogger("taichi_render").setLevel(logging.WARNING)

(an application that prints records through its own root handlers may also drop the package's
handler: ``logging.getLogger("taichi_render").handlers.clear()``).
"""

from __future__ import annotations

import logging
import sys
import threading

NAME = "taichi_render"
_lock = threading.Lock()
_configured = False


class _StderrHandler(logging.StreamHandler):
    """A StreamHandler writing to whatever ``sys.stderr`` is at the time of each record (a test's
    capture, a notebook's stream), not to the one of the moment it was made; through
    ``tqdm.write`` once tqdm is imported, so that a line logged while a progress bar runs (a
    render's first launch compiling, inside the command line's bar) prints above the bar
    instead of into it."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass

    def emit(self, record):
        tqdm = sys.modules.get("tqdm")
        if tqdm is None or not hasattr(tqdm, "tqdm"):
            super().emit(record)
            return
        try:
            tqdm.tqdm.write(self.format(record), file=self.stream)
        except RecursionError:
            raise
        except Exception:  # noqa: BLE001 - logging's own rule: report, never raise
            self.handleError(record)


def logger() -> logging.Logger:
    """The package's logger; on the first call, a StreamHandler to stderr at INFO is added to it
    (once per process), and its level is set to INFO unless the application set one."""
    global _configured
    log = logging.getLogger(NAME)
    if _configured:
        return log
    with _lock:
        if not _configured:
            if not any(getattr(h, "_taichi_render_handler", False) for h in log.handlers):
                handler = _StderrHandler()
                handler.setLevel(logging.INFO)
                handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
                handler._taichi_render_handler = True
                log.addHandler(handler)
            if log.level == logging.NOTSET:
                log.setLevel(logging.INFO)
            _configured = True
    return log
