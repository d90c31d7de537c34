"""Run a job in a separate Python process and follow its progress bar (Qt, no threads).

:class:`JobProcess` starts ``python -m napari_plugin._jobs ...`` with a ``QProcess``, parses the
tqdm bar the library's training prints on stderr (``12/200 [...]``) into progress and a time
estimate, and reports through Qt signals on the main thread. :meth:`JobProcess.cancel`
terminates the process; the training resumes from its last checkpoint next time.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Sequence

from qtpy.QtCore import QObject, QProcess, QProcessEnvironment, Signal

__all__ = ["JobProcess", "parse_tqdm", "format_eta"]

logger = logging.getLogger(__name__)

_TQDM = re.compile(r"(\d+)/(\d+) \[")
_RESUMING = re.compile(r"from step (\d+)")


def parse_tqdm(text: str) -> tuple[int, int] | None:
    """``(done, total)`` of the last tqdm bar update in ``text``, or None."""
    found = _TQDM.findall(text)
    if not found:
        return None
    done, total = found[-1]
    return int(done), int(total)


def format_eta(seconds: float) -> str:
    """``"1 min 05 s left"`` / ``"12 s left"``."""
    seconds = max(0, int(round(seconds)))
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s left"
    return f"{seconds} s left"


class JobProcess(QObject):
    """One run of ``python -m napari_plugin._jobs ARGS`` with progress, ETA and cancel.

    Parameters
    ----------
    args : sequence of str
        Arguments after ``-m napari_plugin._jobs``.
    name : str
        What it does, for messages ("training").
    env : dict, optional
        Extra environment variables.
    parent : QObject, optional
        Qt parent.

    Signals
    -------
    progressed(float, str)
        Fraction done and a message with the time estimate.
    done(str)
        The model file written (from the job's ``model: PATH`` line).
    failed(str)
        The last lines of the job's stderr.
    cancelled()
        After :meth:`cancel`.
    finished()
        After any of the three above.
    """

    progressed = Signal(float, str)
    done = Signal(str)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, args: Sequence[str], name: str = "job",
                 env: dict[str, str] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.args = [str(a) for a in args]
        self.name = name
        self.stderr = ""
        self.stdout = ""
        self.resumed_from: int | None = None
        self._env = dict(env or {})
        self._cancelled = False
        self._running = False
        self._t0 = 0.0
        self._first: tuple[int, float] | None = None
        self.proc = QProcess(self)
        self.proc.readyReadStandardError.connect(self._on_stderr)
        self.proc.readyReadStandardOutput.connect(self._on_stdout)
        self.proc.finished.connect(self._on_finished)
        self.proc.errorOccurred.connect(self._on_error)

    @property
    def is_running(self) -> bool:
        """Whether the process has started and not finished."""
        return self._running

    def start(self) -> None:
        """Start the process (returns at once)."""
        env = QProcessEnvironment.systemEnvironment()
        # stderr is a pipe here: the library's bars then write a line at most every 30 s
        # (stablemotion_dlc._progress); the panel wants tqdm's usual pace
        env.insert("STABLEMOTION_PROGRESS_INTERVAL", "0.1")
        for key, value in self._env.items():
            env.insert(key, value)
        self.proc.setProcessEnvironment(env)
        self._running = True
        self._t0 = time.perf_counter()
        logger.info("%s: %s -m napari_plugin._jobs %s", self.name, sys.executable,
                    " ".join(self.args))
        self.proc.start(sys.executable, ["-m", "napari_plugin._jobs", *self.args])

    def cancel(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 5 s)."""
        if not self._running:
            return
        self._cancelled = True
        self.proc.terminate()
        if not self.proc.waitForFinished(5000):
            self.proc.kill()

    def wait(self, msecs: int = -1) -> bool:
        """Block until the process ends (tests, shutdown)."""
        return self.proc.waitForFinished(msecs)

    def _on_stderr(self) -> None:
        chunk = bytes(self.proc.readAllStandardError()).decode(errors="replace")
        self.stderr += chunk
        if self.resumed_from is None and "resuming" in chunk:
            m = _RESUMING.search(chunk)
            self.resumed_from = int(m.group(1)) if m else 0
        found = parse_tqdm(chunk)
        if found is None:
            return
        step, total = found
        now = time.perf_counter()
        if self._first is None:
            self._first = (step, now)
        first_step, first_t = self._first
        eta = ""
        if step > first_step and total:
            rate = (now - first_t) / (step - first_step)
            eta = ", " + format_eta(rate * (total - step))
        self.progressed.emit(step / total if total else -1.0,
                             f"{self.name}: step {step}/{total}{eta}")

    def _on_stdout(self) -> None:
        self.stdout += bytes(self.proc.readAllStandardOutput()).decode(errors="replace")

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._running = False
            self.failed.emit(f"cannot start {sys.executable}: {self.proc.errorString()}")
            self.finished.emit()

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._on_stderr()
        self._on_stdout()
        self._running = False
        if self._cancelled:
            self.cancelled.emit()
        elif code == 0 and status == QProcess.ExitStatus.NormalExit:
            model = ""
            for line in self.stdout.splitlines():
                if line.startswith("model: "):
                    model = line[len("model: "):].strip()
            self.done.emit(model)
        else:
            lines = [ln for ln in self.stderr.replace("\r", "\n").splitlines()
                     if ln.strip() and not _TQDM.search(ln)]
            self.failed.emit("\n".join(lines[-6:]) or f"exit code {code}")
        self.finished.emit()
