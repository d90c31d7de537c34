"""Atomic file writes: write to a temporary file beside the target, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "check_writable"]


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
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path}: exists; not overwritten (pass overwrite=True, or --overwrite)")
    return path


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
    path = check_writable(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}",
                                    dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # writers such as pandas' HDFStore want to create the file themselves
    try:
        yield tmp
        if not overwrite and path.exists():
            raise FileExistsError(f"{path}: appeared while writing; not overwritten")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
