"""Atomic file writes and the checks done before any work.

* :func:`atomic_path`: one file, written to a temporary file beside the target, then renamed.
* :func:`atomic_outputs`: a set of files (cleaned ``.h5`` + ``.csv`` + provenance) written to
  temporaries and renamed together at the end, under a lock on their folder, with signals
  held back during the renames and a rollback if a rename fails: readers and concurrent
  runs see either the whole old set or the whole new one.
* :func:`check_outputs`: everything about the outputs that can fail (an existing file, a file
  that is an input, a folder that cannot be written, a name too long for the file system),
  checked before training or cleaning starts.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from .errors import FileProblemError

__all__ = [
    "atomic_path",
    "atomic_outputs",
    "check_writable",
    "check_not_input",
    "check_outputs",
    "same_file",
]

logger = logging.getLogger(__name__)

_TMP_STEM_MAX = 100  # temporary names stay short, so a name that fits has a temporary that fits


def check_writable(path: str | Path, overwrite: bool = False) -> Path:
    """Raise ``FileExistsError`` if ``path`` exists and ``overwrite`` is False.

    Parameters
    ----------
    path : str or Path
        Target file.
    overwrite : bool
        Whether an existing file may be replaced.

    Returns
    -------
    Path
        ``path`` as a ``Path``.
    """
    path = Path(path)
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise FileExistsError(
            f"{path}: exists; not overwritten (pass overwrite=True, or --overwrite)")
    return path


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name the same file (symlinks, ``.``/``..`` and hard links resolved)."""
    a, b = Path(a), Path(b)
    try:
        if a.resolve() == b.resolve():
            return True
    except (OSError, RuntimeError):  # a symlink loop
        return False
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_not_input(outputs: Iterable[str | Path], inputs: Iterable[str | Path | None]) -> None:
    """Refuse an output that is one of the inputs, whatever ``overwrite`` says.

    Raises
    ------
    FileProblemError
        Naming the output and the input it would replace.
    """
    ins = [Path(p) for p in inputs if p is not None]
    for out in outputs:
        for inp in ins:
            if same_file(out, inp):
                raise FileProblemError(
                    out, f"would overwrite the input file {inp}; refused even with "
                         "--overwrite: choose another output name or folder")


def _name_max(folder: Path) -> int:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return int(os.pathconf(probe, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def _probe_folder(folder: Path) -> None:
    """Check that files can be created in ``folder`` (or that the folder can be).

    A probe file is written and removed in the folder or, if it does not exist yet, in its
    nearest existing parent. Nothing is left behind, not even the folder.
    """
    probe = folder
    while not probe.exists() and probe != probe.parent:
        if probe.is_symlink():  # a dangling symlink in the path
            raise FileProblemError(probe, "output folder is a broken symbolic link")
        probe = probe.parent
    if not probe.is_dir():
        raise FileProblemError(probe, "is a file, not a folder: the outputs cannot go there")
    try:
        fd, name = tempfile.mkstemp(prefix=".stablemotion-write-test.", dir=probe)
    except OSError as exc:
        what = "output folder" if probe == folder else f"folder {probe} (to create {folder})"
        raise FileProblemError(folder, f"{what} is not writable ({exc.strerror or exc})"
                               ) from None
    os.close(fd)
    os.unlink(name)


def check_outputs(outputs: Sequence[str | Path], *, overwrite: bool = False,
                  inputs: Iterable[str | Path | None] = ()) -> list[Path]:
    """Check, before any work, that a set of output files can be written.

    Parameters
    ----------
    outputs : sequence of str or Path
        Every file the run will write.
    overwrite : bool
        Whether existing outputs may be replaced.
    inputs : iterable of str or Path
        Files read by the run; none of them may be an output, ``overwrite`` or not.

    Returns
    -------
    list of Path
        ``outputs`` as paths.

    Raises
    ------
    FileProblemError
        An output is an input, its name is too long for the file system, or its folder
        cannot be created or written (checked without creating anything).
    FileExistsError
        An output exists and ``overwrite`` is False.
    """
    outs = [Path(p) for p in outputs]
    check_not_input(outs, inputs)
    for p in outs:
        n = len(os.fsencode(p.name))
        limit = _name_max(p.parent)
        if n > limit:
            raise FileProblemError(p, f"file name too long ({n} bytes; the file system allows "
                                      f"{limit}): choose a shorter output name")
        if p.is_dir():
            raise FileProblemError(p, "is a folder, not a file")
        check_writable(p, overwrite)
    for folder in dict.fromkeys(p.parent for p in outs):
        _probe_folder(folder)
    return outs


def _tmp_name(path: Path) -> Path:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem[:_TMP_STEM_MAX]}.",
                                    suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # writers such as pandas' HDFStore want to create the file themselves
    return tmp


@contextlib.contextmanager
def atomic_path(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched, so an
    interrupted run never leaves a partial output.

    Parameters
    ----------
    path : str or Path
        Final file path.
    overwrite : bool
        Whether an existing ``path`` may be replaced.

    Yields
    ------
    Path
        A not-yet-existing temporary path with the same suffix as ``path``.
    """
    with atomic_outputs([path], overwrite=overwrite) as tmps:
        yield tmps[0]


@contextlib.contextmanager
def _folder_lock(folders: Iterable[Path]) -> Iterator[None]:
    """Exclusive advisory locks (``flock``) on the folders, in a fixed order.

    Concurrent runs writing output sets into the same folder rename their sets one after
    the other. Where ``fcntl`` is unavailable, a ``.stablemotion.lock`` file created with
    ``O_EXCL`` serves instead (removed afterwards; a stale one older than a minute is taken
    over).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        fcntl = None  # type: ignore[assignment]
    fds: list[int] = []
    lock_files: list[Path] = []
    try:
        for folder in sorted({f.resolve() for f in folders}):
            if fcntl is not None:
                fd = os.open(folder, os.O_RDONLY)
                fds.append(fd)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except OSError as exc:  # e.g. a network file system without flock
                    logger.debug("%s: no folder lock (%s); renaming without it", folder, exc)
            else:  # pragma: no cover - Windows
                lock = folder / ".stablemotion.lock"
                while True:
                    try:
                        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                        lock_files.append(lock)
                        break
                    except FileExistsError:
                        with contextlib.suppress(OSError):
                            if time.time() - lock.stat().st_mtime > 60:
                                lock.unlink()
                        time.sleep(0.05)
        yield
    finally:
        for fd in fds:
            os.close(fd)  # releases the flock
        for lock in lock_files:  # pragma: no cover - Windows
            with contextlib.suppress(OSError):
                lock.unlink()


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back so a set of renames is not cut in two.

    Python runs signal handlers in the main thread between bytecodes, whichever thread the
    signal reached, so the handlers themselves are swapped for ones that only record the
    signal; on exit the originals are restored and a recorded signal is delivered to them
    (Ctrl-C then raises ``KeyboardInterrupt`` after the renames). Outside the main thread no
    Python handler can run, so nothing needs holding.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    sigs = (signal.SIGINT, signal.SIGTERM)
    old = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum)) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for signum in dict.fromkeys(caught):
            handler = old[signum]
            if callable(handler):
                handler(signum, None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), signum)


def _commit(pairs: list[tuple[Path, Path]], overwrite: bool) -> None:
    """Rename every temporary onto its target; on a failure put the old files back."""
    for _, path in pairs:
        if not overwrite and (path.exists() or path.is_symlink()):
            raise FileExistsError(f"{path}: appeared while writing; not overwritten")
    backups: list[tuple[Path, Path]] = []
    done: list[Path] = []
    try:
        for _, path in pairs:
            if path.exists() or path.is_symlink():
                bak = _tmp_name(path)
                try:
                    os.replace(path, bak)
                except FileNotFoundError:  # removed meanwhile: nothing to keep
                    continue
                backups.append((bak, path))
        for tmp, path in pairs:
            os.replace(tmp, path)
            done.append(path)
    except BaseException:
        for path in done:
            with contextlib.suppress(OSError):
                path.unlink()
        for bak, path in backups:
            with contextlib.suppress(OSError):
                os.replace(bak, path)
        raise
    for bak, _ in backups:
        with contextlib.suppress(OSError):
            bak.unlink()


@contextlib.contextmanager
def atomic_outputs(paths: Sequence[str | Path], overwrite: bool = False) -> Iterator[list[Path]]:
    """Write a set of files as one unit: temporaries first, all renamed at the end.

    Parameters
    ----------
    paths : sequence of str or Path
        Final file paths (their folders are created).
    overwrite : bool
        Whether existing targets may be replaced.

    Yields
    ------
    list of Path
        One not-yet-existing temporary path per target (same folder, same suffix, hidden
        name). Write each one; when the block ends without an exception, the temporaries
        replace the targets together. On an exception (``KeyboardInterrupt`` from Ctrl-C or
        SIGTERM included) every temporary is removed and no target is touched.

    Notes
    -----
    The renames run under an exclusive lock on the target folder(s) and with SIGINT/SIGTERM
    held back, and an existing target is moved aside first and put back if a later rename
    fails. So two concurrent ``overwrite`` runs leave one run's complete set, never a mix,
    and an interruption leaves the old set or the new one. Only a hard kill (SIGKILL, power
    loss) can leave hidden ``.<name>.*.tmp.<ext>`` temporaries behind; never a partial target.
    """
    targets = [check_writable(p, overwrite) for p in paths]
    for folder in dict.fromkeys(p.parent for p in targets):
        folder.mkdir(parents=True, exist_ok=True)
    tmps: list[Path] = []
    try:
        for p in targets:
            tmps.append(_tmp_name(p))
        yield list(tmps)
        missing = [t for t in tmps if not t.exists()]
        if missing:
            raise FileNotFoundError(errno.ENOENT, "temporary output was not written",
                                    str(missing[0]))
        with _folder_lock(p.parent for p in targets), _signals_held():
            _commit(list(zip(tmps, targets, strict=True)), overwrite)
    finally:
        for t in tmps:
            if t.exists():
                with contextlib.suppress(OSError):
                    t.unlink()
