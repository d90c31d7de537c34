"""The methods the real-data benchmark compares, in one registry.

``input``              the corrupted predictions as they are;
baselines              every available entry of
                       :data:`~stablemotion_dlc.evaluate.baselines.BASELINES` (the ones whose
                       package is absent are skipped with a message; ``dlc_arima`` runs on a
                       cropped segment only, see ``arima_frames``);
``ours`` and variants  :func:`~stablemotion_dlc.dlc.pipeline.clean_tracks` with the settings of
                       :data:`OURS_VARIANTS`:

                       ``ours`` its defaults; ``ours-oracle`` the network told the true
                       corruption mask (detection solved); ``ours-nodetect`` the network
                       repairing what the rules flag (no learned detector); ``ours-allnet``
                       the network repairs every flagged run (``min_network_run=None``; by
                       default short runs are filled by body-relative interpolation);
                       ``ours-10step`` 10 sampling steps instead of one x0 prediction;
                       ``ours-ens4`` 4 repair candidates averaged; ``ours-nosits`` without the
                       soft inpainting timestep schedule; ``ours-probdet`` ProbDet detection
                       (averaged stochastic runs) instead of one pass;
:data:`INTERP_METHODS`  linear interpolation (:func:`interp_over`, no network) over:
                       ``rules+interp`` the rule-based detection (+ the same swap fixing),
                       ``ours+interp`` exactly the points ``ours`` replaced,
                       ``oracle+interp`` the true corruption mask.

:func:`method_plan` lists the methods of a run in the order they are run and reported.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._arrays import true_runs
from ..dlc.tracks import Tracks

__all__ = [
    "OURS_VARIANTS",
    "INTERP_METHODS",
    "QUICK_BASELINES",
    "ARIMA_MAX_COLUMNS",
    "interp_over",
    "method_plan",
]

logger = logging.getLogger(__name__)

#: Variants of our cleaner: name -> :func:`~stablemotion_dlc.dlc.pipeline.clean_tracks`
#: settings (``ours-oracle`` also gets the case's true mask as ``flag_mask``).
OURS_VARIANTS: dict[str, dict[str, Any]] = {
    "ours": {},
    "ours-oracle": {"detect": None, "max_gap": None},
    "ours-nodetect": {"detect": None},
    "ours-allnet": {"min_network_run": None},
    "ours-10step": {"steps": 10},
    "ours-nosits": {"sits": False},
    "ours-ens4": {"ensemble": 4},
    "ours-probdet": {"detect": "probdet"},
}
#: Variants run in quick mode.
QUICK_OURS: tuple[str, ...] = ("ours", "ours-oracle", "ours-nosits")
#: Linear interpolation over a detection (no network); run after the ``ours`` variants.
INTERP_METHODS: tuple[str, ...] = ("rules+interp", "ours+interp", "oracle+interp")
#: ``dlc_arima`` fits one SARIMAX model per coordinate column: only run on files with at most
#: this many columns (and on a cropped window, see ``arima_frames``).
ARIMA_MAX_COLUMNS = 12
#: Baselines run in quick mode (fast, no optional package).
QUICK_BASELINES: tuple[str, ...] = ("linear", "savgol", "pcutoff_interp_savgol", "dlc_median")


def method_plan(quick: bool, methods: Sequence[str] | None) -> list[str]:
    """Names of the methods of a run, in the order they are run and reported.

    Parameters
    ----------
    quick : bool
        Quick mode: :data:`QUICK_BASELINES` and :data:`QUICK_OURS` only (unless ``methods``).
    methods : sequence of str, optional
        Restrict to these baseline names and ``ours*`` variants (``ours`` is always run: the
        ablations are defined relative to it).

    Returns
    -------
    list of str
        ``input``, the baselines, the ``ours*`` variants, then :data:`INTERP_METHODS`.
    """
    from .baselines import BASELINES

    wanted = None if methods is None else set(methods)
    base_names = [b for b in BASELINES if wanted is None or b in wanted]
    if quick and wanted is None:
        base_names = [b for b in base_names if b in QUICK_BASELINES]
    return ["input", *base_names, *_ours_methods(quick, methods), *INTERP_METHODS]


def _ours_methods(quick: bool, methods: Sequence[str] | None) -> list[str]:
    full = list(OURS_VARIANTS)
    chosen = list(QUICK_OURS) if quick else full
    if methods is not None:
        chosen = [m for m in full if m in methods]
        if "ours" not in chosen:
            chosen.insert(0, "ours")  # the ablations are defined relative to it
    return chosen


def interp_over(xy: np.ndarray, flag: np.ndarray, max_gap: int | None = None) -> np.ndarray:
    """Linear interpolation in time over flagged (and missing) points.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, I, K, 2)`` coordinates.
    flag : np.ndarray
        ``(T, I, K)`` bool: points to replace.
    max_gap : int, optional
        Runs of replaced frames longer than this keep their values (as the cleaner does).

    Returns
    -------
    np.ndarray
        A copy with flagged points interpolated from the nearest unflagged ones (held
        constant before the first / after the last).
    """
    out = np.array(xy, dtype=np.float64, copy=True)
    t = np.arange(xy.shape[0])
    for i in range(xy.shape[1]):
        for k in range(xy.shape[2]):
            bad = flag[:, i, k] | ~np.isfinite(xy[:, i, k]).all(-1)
            good = ~bad
            if not good.any() or not bad.any():
                continue
            fill = bad.copy()
            if max_gap is not None:
                for a, b in zip(*true_runs(bad), strict=True):
                    if b - a > max_gap:
                        fill[a:b] = False
            for c in range(2):
                out[fill, i, k, c] = np.interp(t[fill], t[good], xy[good, i, k, c])
    return out


def likelihood_flags(tracks: Tracks, pcutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Likelihood thresholding alone: flags and a score (1 - likelihood; missing = 1)."""
    missing = ~np.isfinite(tracks.xy).all(-1)
    if tracks.likelihood is None:
        return missing, missing.astype(float)
    lik = np.nan_to_num(tracks.likelihood, nan=0.0)
    score = np.where(missing, 1.0, 1.0 - np.clip(lik, 0.0, 1.0))
    return missing | (lik < pcutoff), score


def arima_window(kinds: np.ndarray, n: int) -> tuple[int, int]:
    """The ``n``-frame window holding the most corrupted points."""
    t = kinds.shape[0]
    if t <= n:
        return 0, t
    per_frame = (kinds != 0).sum(axis=(1, 2)).astype(float)
    csum = np.r_[0.0, np.cumsum(per_frame)]
    counts = csum[n:] - csum[:-n]
    a = int(np.argmax(counts))
    return a, a + n
