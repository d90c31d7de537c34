"""Run library work off the GUI thread with progress, cancel and error reporting.

:class:`BackgroundTask` runs any callable ``fn(progress, should_stop)`` in napari's thread pool
(superqt's ``FunctionWorker``). The callable is plain library code: it calls
``progress(...)`` now and then and returns early when ``should_stop()`` is True. Everything the
task reports arrives on the main thread through Qt signals, so only the slots connected to
those signals touch widgets or layers.

What must never happen in ``fn`` (it runs in a worker thread): ``viewer.add_*``,
``layer.data = ...``, or any widget update. Return the data and let the ``done`` slot do it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from qtpy.QtCore import QObject, Signal

__all__ = ["BackgroundTask", "TaskCancelled", "parse_progress"]

logger = logging.getLogger(__name__)

ProgressFn = Callable[..., None]
StopFn = Callable[[], bool]


class TaskCancelled(Exception):  # noqa: N818 - reads better at the raise site
    """May be raised by a task that stops because ``should_stop()`` became True."""


def parse_progress(*args: Any, **kwargs: Any) -> tuple[float | None, str]:
    """Turn the arguments of a progress call into ``(fraction or None, message)``.

    Accepted forms: ``progress(0.3)``, ``progress(3, 10)``, ``progress(3, total=10)``,
    ``progress(0.3, "message")``, ``progress("message")``, ``progress(3, 10, "message")``
    and the keywords ``fraction``, ``done``/``total`` and ``message``.
    """
    numbers = [a for a in args if isinstance(a, (int, float)) and not isinstance(a, bool)]
    texts = [str(a) for a in args if isinstance(a, str)]
    message = str(kwargs.get("message", kwargs.get("desc", texts[0] if texts else "")))
    if "fraction" in kwargs:
        return float(kwargs["fraction"]), message
    done = kwargs.get("done", numbers[0] if numbers else None)
    total = kwargs.get("total", numbers[1] if len(numbers) > 1 else None)
    if done is None:
        return None, message
    if total:
        return max(0.0, min(1.0, float(done) / float(total))), message
    return max(0.0, min(1.0, float(done))), message


class BackgroundTask(QObject):
    """One run of ``fn(progress, should_stop)`` in a worker thread.

    Parameters
    ----------
    fn : callable
        ``fn(progress, should_stop) -> result``. ``progress`` accepts the forms listed in
        :func:`parse_progress`; ``should_stop()`` returns True once :meth:`cancel` was called.
    name : str
        What the task does, for messages ("detecting suspects", "cleaning").
    parent : QObject, optional
        Qt parent.

    Signals
    -------
    progressed(float, str)
        Fraction done (``-1`` when unknown) and a message.
    done(object)
        The result, when ``fn`` returned without being cancelled.
    failed(str)
        ``"<ExceptionType>: <message>"`` when ``fn`` raised.
    cancelled()
        ``fn`` returned or raised (e.g. :class:`TaskCancelled` or the library's own
        cancellation error) after :meth:`cancel`.
    finished()
        After any of the three above.
    """

    progressed = Signal(float, str)
    done = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, fn: Callable[[ProgressFn, StopFn], Any], name: str = "task",
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fn = fn
        self.name = name
        self._stop = threading.Event()
        self._worker: Any = None
        self._running = False
        self.error: BaseException | None = None

    @property
    def is_running(self) -> bool:
        """Whether the task has started and not finished yet."""
        return self._running

    def should_stop(self) -> bool:
        """True once :meth:`cancel` was called (thread-safe)."""
        return self._stop.is_set()

    def cancel(self) -> None:
        """Ask the task to stop; it ends at its next ``should_stop()`` check."""
        self._stop.set()

    def _progress(self, *args: Any, **kwargs: Any) -> None:
        fraction, message = parse_progress(*args, **kwargs)
        self.progressed.emit(-1.0 if fraction is None else fraction, message)

    def _call(self) -> Any:
        try:
            return ("ok", self._fn(self._progress, self.should_stop))
        except TaskCancelled:
            return ("cancelled", None)
        except Exception as exc:  # noqa: BLE001 - every failure goes to the panel
            if self._stop.is_set():  # the library's own "cancelled" exception, or any
                logger.info("%s stopped on request (%s)", self.name, type(exc).__name__)
                return ("cancelled", None)
            logger.exception("%s failed", self.name)
            self.error = exc
            return ("error", f"{type(exc).__name__}: {exc}")

    def start(self) -> None:
        """Start the task in napari's thread pool (returns immediately)."""
        from superqt.utils import create_worker

        if self._running:
            raise RuntimeError(f"{self.name} is already running")
        self._stop.clear()
        self._running = True
        self._worker = create_worker(self._call, _start_thread=False)
        self._worker.returned.connect(self._on_returned)
        self._worker.errored.connect(self._on_errored)
        self._worker.start()

    def _on_returned(self, outcome: tuple[str, Any]) -> None:
        kind, value = outcome
        self._running = False
        if kind == "error":
            self.failed.emit(value)
        elif kind == "cancelled" or self._stop.is_set():
            self.cancelled.emit()
        else:
            self.done.emit(value)
        self.finished.emit()

    def _on_errored(self, exc: BaseException) -> None:  # only for errors outside _call
        self._running = False
        self.error = exc
        self.failed.emit(f"{type(exc).__name__}: {exc}")
        self.finished.emit()
