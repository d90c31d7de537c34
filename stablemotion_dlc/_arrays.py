"""Small array helpers shared by the data modules (numpy only; no package imports)."""

from __future__ import annotations

import zipfile
from typing import IO, Any

import numpy as np

__all__ = ["interp_fill", "planar_norm", "sample_rows", "save_npz", "true_runs"]

#: The zip entries' date (the format's earliest): ``np.savez`` stamps the current time.
_NPZ_DATE = (1980, 1, 1, 0, 0, 0)


def true_runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and (exclusive) stops of the runs of True in a 1-D bool array.

    Parameters
    ----------
    flags : np.ndarray
        1-D boolean array.

    Returns
    -------
    starts, stops : np.ndarray
        Integer arrays of equal length; run ``j`` covers ``flags[starts[j]:stops[j]]``.
    """
    edges = np.diff(np.concatenate([[0], np.asarray(flags).astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def interp_fill(values: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill invalid entries by linear interpolation along axis 1 (time), nearest at the ends.

    The one numpy linear fill of the package (the DLC features, the pipeline's landmark repair
    and the synthetic test signal all use it; the torch twin is
    :func:`stablemotion_dlc.core.diffusion.linear_fill`).

    Parameters
    ----------
    values : np.ndarray
        ``(B, T, N)`` or ``(B, T, N, C)`` float array; invalid entries may hold anything
        (NaN included).
    valid : np.ndarray
        ``(B, T, N)`` bool, True where ``values[b, t, n]`` is to be trusted (all ``C``
        components together).

    Returns
    -------
    filled : np.ndarray
        Same shape as ``values``, float64; valid entries unchanged, invalid ones interpolated
        (``v[p] + (t - p) / (q - p) * (v[q] - v[p])`` between the valid neighbours ``p < t <
        q``; the nearest valid value before the first or after the last one). Columns without
        any valid entry are left NaN.
    has_any : np.ndarray
        ``(B, N)`` bool, True for columns with at least one valid entry.
    """
    values = np.asarray(values, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    if values.ndim not in (3, 4) or valid.shape != values.shape[:3]:
        raise ValueError(
            f"values must have shape (B, T, N) or (B, T, N, C) and valid (B, T, N); got "
            f"{values.shape} and {valid.shape}"
        )
    squeeze = values.ndim == 3
    if squeeze:
        values = values[..., None]
    has_any = valid.any(axis=1)
    if valid.all():
        out = values.copy()
        return (out[..., 0] if squeeze else out), has_any
    b, t, n, c = values.shape
    idx = np.arange(t, dtype=np.int32)[None, :, None]
    prev_idx = np.maximum.accumulate(np.where(valid, idx, -1).astype(np.int32), axis=1)
    next_idx = np.where(valid, idx, t).astype(np.int32)[:, ::-1]
    next_idx = np.minimum.accumulate(next_idx, axis=1)[:, ::-1]
    # ends: nearest valid value
    p = np.where(prev_idx < 0, next_idx, prev_idx)
    q = np.where(next_idx >= t, p, next_idx)
    p = np.where(p >= t, 0, p)
    q = np.where(q >= t, 0, q)
    span = q - p
    w = np.where(span > 0, (idx - p) / np.maximum(span, 1), 0.0)[..., None]
    # gather along time with flat indices
    base = (np.arange(b)[:, None, None] * t) * n + np.arange(n)[None, None, :]
    flat = values.reshape(b * t * n, c)
    vp = flat[(base + p * n).ravel()].reshape(b, t, n, c)
    vq = flat[(base + q * n).ravel()].reshape(b, t, n, c)
    out = vp + w * (vq - vp)
    out = np.where(valid[..., None], values, out)
    out = np.where(has_any[:, None, :, None], out, np.nan)
    return (out[..., 0] if squeeze else out), has_any


def planar_norm(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """``sqrt(dx * dx + dy * dy)``: ``np.linalg.norm`` of ``(dx, dy)`` over its last axis.

    The same floats (the norm squares, adds the two terms and takes the root), without the
    slow reduction over a length-2 axis. ``dx`` and ``dy`` are overwritten.
    """
    dx *= dx
    dy *= dy
    dx += dy
    return np.sqrt(dx, out=dx)


def sample_rows(n_frames: int, max_rows: int = 20000) -> np.ndarray:
    """Evenly spaced frame rows (all of them for short files) for pose statistics."""
    if n_frames <= max_rows:
        return np.arange(n_frames)
    return np.linspace(0, n_frames - 1, max_rows).astype(np.intp)


def save_npz(file: IO[bytes], *, compress: bool = True, **arrays: Any) -> None:
    """``np.savez_compressed`` (or ``np.savez``) that gives the same bytes for the same arrays.

    NumPy stamps each zip entry with the time of writing, so two runs with identical results
    wrote different files; here every entry gets the same fixed date. ``np.load`` reads the
    file as it reads NumPy's own; object arrays are refused (no pickles in outputs).

    Parameters
    ----------
    file : binary file
        An open, writable binary file.
    compress : bool
        Deflate the entries (``np.savez_compressed``); False stores them (``np.savez``).
    **arrays
        The arrays, by name.
    """
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(file, mode="w", compression=mode, allowZip64=True) as zf:
        for name, value in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_NPZ_DATE)
            info.compress_type = mode
            info.external_attr = 0o600 << 16  # what ZipFile.open gives NumPy's entries
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asanyarray(value), allow_pickle=False)
