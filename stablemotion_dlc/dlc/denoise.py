"""Smoothing bounded by each keypoint's own noise: a filter that cannot move a right point far.

Cleaning keeps every point it does not judge wrong bit for bit, so the frame-to-frame noise
of DeepLabCut's points (and jitter no detector can tell from it) stays in the cleaned file.
Users who need smooth trajectories (speeds, accelerations) then run a median or
Savitzky-Golay filter over everything, which also cuts real fast motion: on the tuning files
of protocol B a 5-frame median moves 1-21 % of the right points by more than 2 px
(``benchmarks/bench_jitter_smoothing.py``). :func:`denoise_within_noise` fits the same
Savitzky-Golay curve but moves no point further than its keypoint's own noise (the per-axis
sigma the jitter detector measures, from the second differences of the file's trustworthy
points): whatever it changes stays within what the measurement noise already explains. On
those files it moves none of the right points by more than 2 px and takes 8-18 % off the
error of injected jitter.

It runs on a tracks file (cleaned or not) as its own step: ``stablemotion-dlc smooth``, or
:func:`denoise_tracks` in Python. Points below ``pcutoff`` and missing points are neither
used nor changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._arrays import save_npz, true_runs
from .jitter import noise_sigma
from .tracks import Tracks

__all__ = ["DenoiseResult", "denoise_within_noise", "denoise_tracks", "save_denoised",
           "smoothed_path"]

#: Savitzky-Golay window (frames) and polynomial order; runs of trustworthy points shorter
#: than the window are left as they are.
WINDOW = 7
ORDER = 2
#: Largest change of a point, in its keypoint's own per-axis noise sigmas.
BOUND = 1.0


def denoise_within_noise(xy: np.ndarray, ok: np.ndarray, *, window: int = WINDOW,
                         order: int = ORDER, bound: float = BOUND
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One animal's trustworthy points smoothed, each moved by at most ``bound`` sigmas.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, K, 2)`` positions.
    ok : np.ndarray
        ``(T, K)`` bool, the trustworthy points: the only ones used and changed.
    window, order : int
        Savitzky-Golay window (odd, frames) and polynomial order.
    bound : float
        Largest change, in the keypoint's per-axis noise sigma
        (:func:`~.jitter.noise_sigma` of its ``ok`` points).

    Returns
    -------
    xy : np.ndarray
        ``(T, K, 2)`` smoothed copy.
    changed : np.ndarray
        ``(T, K)`` bool, the points whose value changed.
    sigma : np.ndarray
        ``(K,)`` each keypoint's per-axis noise (px).
    """
    from scipy.signal import savgol_filter

    if window < 3 or window % 2 == 0 or not 0 <= order < window:
        raise ValueError(f"window must be odd and >= 3 and order in [0, window), got "
                         f"window={window}, order={order}")
    if not np.isfinite(bound) or bound < 0:
        raise ValueError(f"bound must be a finite number >= 0, got {bound}")
    xy = np.asarray(xy, np.float64)
    ok = np.asarray(ok, bool) & np.isfinite(xy).all(-1)
    out = xy.copy()
    changed = np.zeros(ok.shape, bool)
    sigma = noise_sigma(xy, ok)
    for k in range(ok.shape[1]):
        for a, z in zip(*true_runs(ok[:, k]), strict=True):
            if z - a < window:
                continue
            seg = xy[a:z, k]
            step = savgol_filter(seg, window, order, axis=0, mode="interp") - seg
            size = np.linalg.norm(step, axis=-1, keepdims=True)
            limit = bound * float(sigma[k])
            step *= np.minimum(1.0, limit / np.maximum(size, 1e-12))
            out[a:z, k] = seg + step
            changed[a:z, k] = (out[a:z, k] != seg).any(-1)
    return out, changed, sigma


@dataclass
class DenoiseResult:
    """Output of :func:`denoise_tracks`.

    Attributes
    ----------
    tracks : Tracks
        The smoothed copy (same layout, names, index and likelihoods).
    changed : np.ndarray
        ``(frames, individuals, keypoints)`` bool, the points whose value changed.
    sigma : np.ndarray
        ``(individuals, keypoints)`` per-axis noise (px) that bounded each keypoint's changes
        (times ``bound``); NaN where the keypoint was not smoothed.
    bound : float
        The bound, in sigmas.
    input_xy : np.ndarray
        The input's positions (the input's own array, not a copy: the size of each change).
    """

    tracks: Tracks
    changed: np.ndarray
    sigma: np.ndarray
    bound: float
    input_xy: np.ndarray

    def summary(self) -> dict[str, float]:
        """Points changed, and the largest and median change (px)."""
        moved = np.linalg.norm(self.tracks.xy - self.input_xy, axis=-1)[self.changed]
        return {"changed": int(self.changed.sum()),
                "max_px": float(moved.max()) if moved.size else 0.0,
                "median_px": float(np.median(moved)) if moved.size else 0.0}


def denoise_tracks(tracks: Tracks, pcutoff: float, *, window: int = WINDOW,
                   order: int = ORDER, bound: float = BOUND) -> DenoiseResult:
    """Every animal's points at or above ``pcutoff`` smoothed within their own noise.

    Parameters
    ----------
    tracks : Tracks
        A video's tracks (cleaned or not; the input is not modified). A labelled-data file
        is refused (:meth:`~.tracks.Tracks.require_video_rows`).
    pcutoff : float
        Points below it (and missing points) are neither used nor changed.
    window, order, bound
        See :func:`denoise_within_noise`.

    Returns
    -------
    DenoiseResult
    """
    tracks.require_video_rows("smoothed")
    n_t, n_i, n_k = tracks.xy.shape[:3]
    ok = tracks.present[None] & np.isfinite(tracks.xy).all(-1)
    if tracks.likelihood is not None:
        with np.errstate(invalid="ignore"):
            ok &= tracks.likelihood >= pcutoff
    out = tracks.copy()
    changed = np.zeros((n_t, n_i, n_k), bool)
    sigma = np.full((n_i, n_k), np.nan)
    for i in range(n_i):
        if not ok[:, i].any():
            continue
        # unchanged points come back bit for bit
        out.xy[:, i], changed[:, i], sig = denoise_within_noise(
            tracks.xy[:, i], ok[:, i], window=window, order=order, bound=bound)
        sigma[i] = np.where(ok[:, i].any(axis=0), sig, np.nan)
    return DenoiseResult(out, changed, sigma, float(bound), tracks.xy)


def smoothed_path(tracks_path: str | Path) -> Path:
    """Default output of :func:`save_denoised`: ``<stem>_smoothed.h5`` beside the input."""
    p = Path(tracks_path)
    return p.with_name(p.stem + "_smoothed.h5")


def save_denoised(result: DenoiseResult, path: str | Path, *, overwrite: bool = False,
                  save_as_csv: bool = True, settings: dict[str, Any] | None = None) -> Path:
    """Write the smoothed tracks (+ ``.csv`` twin) and ``<stem>_smoothing.npz``, atomically.

    The ``.npz`` holds ``changed`` (which points moved), ``sigma`` (each keypoint's noise,
    px), the bound and ``settings``: the input file and these give back every original value.
    Outputs are checked before anything is written: never the input, nothing overwritten
    without ``overwrite``.
    """
    from .._atomic import atomic_outputs, check_outputs
    from .io import input_files, write_tracks
    from .project import output_files

    path = Path(path)
    outs = [*output_files(path, save_as_csv)[:-1], path.with_name(path.stem + "_smoothing.npz")]
    outs = check_outputs(outs, overwrite=overwrite, inputs=input_files(result.tracks))
    report = {"source": str(result.tracks.meta.get("source", "")), "bound_sigmas": result.bound,
              **(settings or {}), **result.summary()}
    with atomic_outputs(outs, overwrite=overwrite) as tmps:
        for tmp in tmps[:-1]:
            write_tracks(result.tracks, tmp, overwrite=True)
        with open(tmps[-1], "wb") as fh:
            save_npz(fh, changed=result.changed, sigma=result.sigma,
                     individuals=np.array(result.tracks.individuals),
                     bodyparts=np.array(result.tracks.bodyparts),
                     report=np.array(json.dumps(report)))
    return path
