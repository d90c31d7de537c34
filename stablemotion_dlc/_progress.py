"""Progress bars that stay readable in a terminal, a notebook *and* a log file.

tqdm redraws its bar in place with carriage returns. That is right in a terminal, but a
cluster job, ``nohup`` or ``2> clean.log`` writes every redraw to one endless line: the
README demo's log held 1,027 redraws (87 kB) on its 33 lines, most of them on the training
bar's line (its loss redrew the bar on every step), and a folder of videos gets such lines
per video. :func:`progress_bar` keeps tqdm where it draws in
place (a terminal, or a Jupyter notebook's widget) and elsewhere writes one plain line per
update, at most one every :data:`LOG_INTERVAL` seconds (``STABLEMOTION_PROGRESS_INTERVAL``
overrides it; the napari panel sets it small to follow its training subprocess).
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import IO, Any

from tqdm.std import tqdm as std_tqdm

__all__ = ["LOG_INTERVAL", "log_interval", "progress_bar"]

#: Seconds between two lines of a bar written to something that is not a terminal.
LOG_INTERVAL = 30.0


def log_interval() -> float:
    """Seconds between two progress lines in a log (``STABLEMOTION_PROGRESS_INTERVAL``).

    Returns
    -------
    float
        The variable's value when it is a non-negative number, else :data:`LOG_INTERVAL`.
    """
    raw = os.environ.get("STABLEMOTION_PROGRESS_INTERVAL", "")
    try:
        value = float(raw)
    except ValueError:
        return LOG_INTERVAL
    return value if value >= 0 else LOG_INTERVAL


class _LineStream:
    """A file-like wrapper that turns tqdm's in-place redraws into whole lines."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        line = text.replace("\x1b[A", "").replace("\r", "").rstrip()
        if line:
            self._stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        flush = getattr(self._stream, "flush", None)
        if flush is not None:
            flush()


class _LogBar(std_tqdm):
    """tqdm for a log: a redraw at most every ``interval`` seconds, whatever asks for it.

    tqdm's ``mininterval`` paces :meth:`update` only; ``set_postfix`` and friends redraw at
    once (the training bar's loss did on every step: 600 lines for 600 steps).
    """

    def __init__(self, *args: Any, interval: float, **kwargs: Any) -> None:
        self._interval = interval
        self._last_line = -math.inf
        super().__init__(*args, **kwargs)

    def refresh(self, nolock: bool = False, lock_args: Any = None) -> bool:
        now = time.monotonic()
        if now - self._last_line < self._interval:
            return False
        self._last_line = now
        return super().refresh(nolock=nolock, lock_args=lock_args)


def _draws_in_place(stream: Any) -> bool:
    """Whether tqdm can redraw on ``stream``: a terminal, or a notebook's widget."""
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        pass
    from tqdm.auto import tqdm as auto_tqdm

    # inside a Jupyter kernel with ipywidgets, tqdm.auto is tqdm's notebook widget
    return any(c.__module__ == "tqdm.notebook" for c in auto_tqdm.__mro__)


def progress_bar(iterable: Any = None, **kwargs: Any) -> Any:
    """A tqdm bar for ``iterable`` (or a manual one with ``total=``), readable in logs too.

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over, as for :class:`tqdm.tqdm`.
    **kwargs
        tqdm's arguments (``total``, ``desc``, ``unit``, ``disable``, ``file``, ...).

    Returns
    -------
    tqdm.tqdm
        The bar. In a terminal or a notebook it is tqdm's own; elsewhere (a file, a pipe) it
        writes a new line per update, at most one every :func:`log_interval` seconds, and
        (unless ``leave=False``) its last state when it closes.
    """
    from tqdm.auto import tqdm as auto_tqdm

    stream = kwargs.get("file") or sys.stderr
    if stream is None:  # no stderr at all (pythonw): nowhere to draw
        kwargs["disable"] = True
    if kwargs.get("disable") or _draws_in_place(stream):
        return auto_tqdm(iterable, **kwargs)
    interval = log_interval()
    kwargs["file"] = _LineStream(stream)
    kwargs.setdefault("mininterval", interval)
    kwargs.setdefault("maxinterval", max(interval, 10.0))
    kwargs.setdefault("ncols", 80)
    kwargs.setdefault("ascii", True)
    return _LogBar(iterable, interval=interval, **kwargs)
