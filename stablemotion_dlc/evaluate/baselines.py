"""Classical post-processing baselines for DeepLabCut tracks.

Every baseline is a function ``f(xy, likelihood, **options) -> xy_out`` on plain arrays:
``xy`` is ``(T, I, K, 2)`` float with NaN for missing points, ``likelihood`` ``(T, I, K)``
(or None), and the output has the shape of ``xy``. Inputs are never modified. The registry
:data:`BASELINES` maps a name to a :class:`Baseline` with a description and an availability
check, so a benchmark can skip (with a clear message) what is not installed.

Baselines
---------
``linear``
    Points below ``pcutoff`` or missing are removed and filled by linear interpolation in time
    when their gap is at most ``max_gap`` frames (:func:`interpolate_linear`).
``savgol``
    Savitzky-Golay smoothing of the series with only missing (NaN) points interpolated
    (:func:`savgol_smooth`, ``pcutoff=None``).
``pcutoff_interp_savgol`` (the bar)
    ``pcutoff -> linear interpolation -> Savitzky-Golay`` (:func:`pcutoff_interp_savgol`); the
    best classical pipeline we know. Defaults: ``pcutoff=0.6``, ``max_gap=30``,
    ``window=5``, ``polyorder=2``. The window was tuned with ``benchmarks/bench_baselines.py``
    (openfield and BehaviorDEPOT recordings, injected confident jumps, low-likelihood drifts and
    dropouts, with and without 1 px added jitter): the RMSE outside the confident jumps grows
    with the window in every setting (5 < 7 < 9 < 11 < 15) because the filter smears the
    jumps it cannot see into their clean neighbours. ``max_gap`` trades coverage for
    accuracy: 30 frames (1 s at 30 fps) filled 75-87 % of the corrupted points there, 60 all.
``dlc_median``
    DeepLabCut's ``filterpredictions(filtertype="median")``: :func:`scipy.signal.medfilt` per
    x / y column with ``windowlength=5``, likelihood untouched (:func:`dlc_median`). Proven equal
    to the real DLC output by :func:`run_dlc_filterpredictions` (see tests/test_baselines.py).
``dlc_spline``
    DeepLabCut's spline gap filling (``columnwise_spline_interp``) after removing points below
    ``pcutoff`` (:func:`dlc_spline`).
``dlc_arima``
    DeepLabCut's SARIMAX filter (``FitSARIMAXModel`` per coordinate, as ``filterpredictions(
    filtertype="arima")``); slow, guarded by ``max_frames`` (:func:`dlc_arima`).
``eks``
    The single-camera ensemble Kalman smoother of the ``eks`` package with the DLC output as
    the one ensemble member (:func:`eks_smooth`); ``smooth_param`` optimised per keypoint
    (``eks``'s default).
``eks_pcutoff``
    The same with points below ``pcutoff`` given zero weight (``eks`` itself only weights by
    ``1 / likelihood``, which lets confident-looking drifts through).
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.signal import medfilt, savgol_filter

from stablemotion_dlc._arrays import true_runs
from stablemotion_dlc._progress import progress_bar
from stablemotion_dlc.dlc.constants import DEFAULT_PCUTOFF

__all__ = [
    "Baseline",
    "BaselineUnavailableError",
    "BASELINES",
    "available_baselines",
    "run_baseline",
    "low_confidence_mask",
    "interpolate_linear",
    "savgol_smooth",
    "pcutoff_interp_savgol",
    "dlc_median",
    "dlc_spline",
    "dlc_arima",
    "eks_smooth",
    "eks_smooth_detailed",
    "EKSResult",
    "run_dlc_filterpredictions",
    "DEFAULT_PCUTOFF",
]

logger = logging.getLogger(__name__)

LongGaps = Literal["nan", "fill", "keep"]


# ============================================================================ validation
def _check(xy: Any, likelihood: Any | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate and copy the inputs (so nothing a caller owns is ever modified)."""
    a = np.array(xy, dtype=np.float64, copy=True)
    if a.ndim != 4 or a.shape[-1] != 2:
        raise ValueError(f"xy must have shape (T, I, K, 2), got {a.shape}")
    if likelihood is None:
        return a, None
    lik = np.array(likelihood, dtype=np.float64, copy=True)
    if lik.shape != a.shape[:3]:
        raise ValueError(f"likelihood must have shape {a.shape[:3]} (T, I, K), got {lik.shape}")
    return a, lik


def low_confidence_mask(
    xy: np.ndarray, likelihood: np.ndarray | None, pcutoff: float | None
) -> np.ndarray:
    """``(T, I, K)`` True where a point is missing or its likelihood is below ``pcutoff``.

    A NaN likelihood counts as missing only when ``xy`` is missing too; ``pcutoff=None`` or
    ``likelihood=None`` marks missing points only.
    """
    bad = ~np.isfinite(xy).all(axis=-1)
    if likelihood is not None and pcutoff is not None:
        with np.errstate(invalid="ignore"):
            bad |= likelihood < pcutoff
    return bad


def _columns(a: np.ndarray) -> np.ndarray:
    """``(T, I, K, 2)`` -> ``(T, I*K*2)`` view-compatible copy."""
    return a.reshape(a.shape[0], -1)


def _run_lengths(missing: np.ndarray) -> np.ndarray:
    """For a 1-D bool array, the length of the run each True entry belongs to (0 elsewhere)."""
    starts, stops = true_runs(missing)
    out = np.zeros(missing.size, dtype=np.int64)
    if starts.size:
        lengths = stops - starts
        idx = np.concatenate([np.arange(s, e) for s, e in zip(starts, stops)])
        out[idx] = np.repeat(lengths, lengths)
    return out


def _interp_series(
    values: np.ndarray, missing: np.ndarray, max_gap: int | None, long_gaps: LongGaps
) -> np.ndarray:
    """Linear interpolation of one series over ``missing`` (see :func:`interpolate_linear`)."""
    t = values.size
    out = values.copy()
    good = ~missing & np.isfinite(values)
    n_good = int(good.sum())
    holes = ~good
    if not holes.any():
        return out
    if n_good == 0:  # nothing to interpolate from
        return out if long_gaps == "keep" else np.full_like(values, np.nan)
    frames = np.arange(t)
    filled = np.interp(frames, frames[good], values[good])
    if max_gap is None:
        fill = holes
    else:
        fill = holes & (_run_lengths(holes) <= max_gap)
    out[fill] = filled[fill]
    rest = holes & ~fill
    if long_gaps == "fill":
        out[rest] = filled[rest]
    elif long_gaps == "nan":
        out[rest] = np.nan
    # "keep": the original value (NaN where it was missing) stays
    return out


# ============================================================================ baselines
def interpolate_linear(
    xy: Any,
    likelihood: Any | None = None,
    *,
    pcutoff: float | None = DEFAULT_PCUTOFF,
    max_gap: int | None = None,
    long_gaps: LongGaps = "nan",
) -> np.ndarray:
    """Replace low-confidence and missing points by linear interpolation in time.

    Points with likelihood below ``pcutoff`` or NaN coordinates are removed; every run of
    removed frames of a keypoint (a *gap*) of at most ``max_gap`` frames is filled by linear
    interpolation between its two neighbours (gaps touching the start or end of the series hold
    the nearest kept value, as :func:`numpy.interp` does). Longer gaps follow ``long_gaps``.

    Parameters
    ----------
    xy : array_like
        ``(T, I, K, 2)`` coordinates, NaN where missing.
    likelihood : array_like, optional
        ``(T, I, K)``; None removes missing points only.
    pcutoff : float or None
        Likelihood threshold (DLC's ``pcutoff``); None removes missing points only.
    max_gap : int or None
        Longest gap (frames) filled; None fills every gap.
    long_gaps : {"nan", "fill", "keep"}
        Longer gaps become NaN (default), are filled anyway, or keep their original values
        (NaN where the point was missing, the low-likelihood value otherwise).

    Returns
    -------
    np.ndarray
        ``(T, I, K, 2)`` float64. A keypoint with no kept point at all is NaN (or original
        with ``long_gaps="keep"``).
    """
    a, lik = _check(xy, likelihood)
    if max_gap is not None and max_gap < 0:
        raise ValueError(f"max_gap must be >= 0 or None, got {max_gap}")
    if long_gaps not in ("nan", "fill", "keep"):
        raise ValueError(f"long_gaps must be 'nan', 'fill' or 'keep', got {long_gaps!r}")
    bad = low_confidence_mask(a, lik, pcutoff)
    missing = np.repeat(bad[..., None], 2, axis=-1)
    cols = _columns(a)
    mcols = _columns(missing)
    out = np.empty_like(cols)
    for c in range(cols.shape[1]):
        out[:, c] = _interp_series(cols[:, c], mcols[:, c], max_gap, long_gaps)
    return out.reshape(a.shape)


def _savgol_series(values: np.ndarray, window: int, polyorder: int) -> np.ndarray:
    """Savitzky-Golay filter on each finite run of ``values`` (NaN runs are left alone)."""
    out = values.copy()
    ok = np.isfinite(values)
    if not ok.any():
        return out
    for s, e in zip(*true_runs(ok), strict=True):
        n = e - s
        w = min(window, n if n % 2 else n - 1)
        if w <= polyorder:
            continue  # too short to fit the polynomial: keep as is
        out[s:e] = savgol_filter(values[s:e], w, polyorder, mode="interp")
    return out


def savgol_smooth(
    xy: Any,
    likelihood: Any | None = None,
    *,
    window: int = 5,
    polyorder: int = 2,
    pcutoff: float | None = None,
    max_gap: int | None = None,
    long_gaps: LongGaps = "nan",
) -> np.ndarray:
    """Savitzky-Golay smoothing of the interpolated series.

    First :func:`interpolate_linear` (with ``pcutoff``, ``max_gap``, ``long_gaps``), then
    :func:`scipy.signal.savgol_filter` (``mode="interp"``) along time on every run of finite
    values; a run shorter than ``window`` uses the largest odd window that fits, and runs of
    ``polyorder`` frames or fewer are left unsmoothed.

    Parameters
    ----------
    window : int
        Odd window length in frames.
    polyorder : int
        Polynomial order (< ``window``).
    pcutoff : float or None
        None (default) interpolates missing points only; a value also removes points below it
        first (that is :func:`pcutoff_interp_savgol`).

    Returns
    -------
    np.ndarray
        ``(T, I, K, 2)`` float64.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number, got {window}")
    if not 0 <= polyorder < window:
        raise ValueError(f"polyorder must be in [0, window), got {polyorder} for {window}")
    filled = interpolate_linear(xy, likelihood, pcutoff=pcutoff, max_gap=max_gap,
                                long_gaps=long_gaps)
    cols = _columns(filled)
    out = np.empty_like(cols)
    for c in range(cols.shape[1]):
        out[:, c] = _savgol_series(cols[:, c], window, polyorder)
    return out.reshape(filled.shape)


def pcutoff_interp_savgol(
    xy: Any,
    likelihood: Any | None = None,
    *,
    pcutoff: float = DEFAULT_PCUTOFF,
    max_gap: int | None = 30,
    long_gaps: LongGaps = "nan",
    window: int = 5,
    polyorder: int = 2,
) -> np.ndarray:
    """The bar: ``pcutoff -> linear interpolation -> Savitzky-Golay``.

    Points below ``pcutoff`` (and missing points) are removed, gaps up to ``max_gap`` frames
    are linearly interpolated, and the result is smoothed by Savitzky-Golay (``window``,
    ``polyorder``). Defaults were chosen with ``benchmarks/bench_baselines.py`` (window sweep
    on the openfield and BehaviorDEPOT recordings with injected jumps, drifts and dropouts).

    Returns
    -------
    np.ndarray
        ``(T, I, K, 2)`` float64.
    """
    return savgol_smooth(xy, likelihood, window=window, polyorder=polyorder, pcutoff=pcutoff,
                         max_gap=max_gap, long_gaps=long_gaps)


def dlc_median(xy: Any, likelihood: Any | None = None, *, windowlength: int = 5) -> np.ndarray:
    """DeepLabCut's median filter (``filterpredictions(filtertype="median")``).

    Exactly what DLC 3.0 does: :func:`scipy.signal.medfilt` with kernel ``windowlength`` on
    every x and y column independently (zero-padded at the ends; NaN propagates the way
    ``medfilt`` propagates it); ``likelihood`` is not used.

    Returns
    -------
    np.ndarray
        ``(T, I, K, 2)`` float64.
    """
    a, _ = _check(xy, likelihood)
    if windowlength < 1 or windowlength % 2 == 0:
        raise ValueError(f"windowlength must be a positive odd number, got {windowlength}")
    cols = _columns(a)
    out = np.empty_like(cols)
    for c in range(cols.shape[1]):
        out[:, c] = medfilt(cols[:, c], windowlength)
    return out.reshape(a.shape)


def dlc_spline(
    xy: Any,
    likelihood: Any | None = None,
    *,
    pcutoff: float | None = DEFAULT_PCUTOFF,
    max_gap: int = 5,
) -> np.ndarray:
    """DeepLabCut's cubic-spline gap filling (``filterpredictions(filtertype="spline")``).

    Points below ``pcutoff`` are set to NaN first (DLC's own spline only fills NaN), then
    ``deeplabcut.post_processing.filtering.columnwise_spline_interp(data, max_gap)`` runs on
    the ``(T, I*K*2)`` x / y columns and, as in ``filterpredictions``, every finite output
    value replaces the input value. Gaps longer than ``max_gap`` (``0`` = fill all) stay NaN.

    Returns
    -------
    np.ndarray
        ``(T, I, K, 2)`` float64.
    """
    from deeplabcut.post_processing.filtering import columnwise_spline_interp

    a, lik = _check(xy, likelihood)
    bad = low_confidence_mask(a, lik, pcutoff)
    a[bad] = np.nan
    cols = _columns(a).copy()
    filled = columnwise_spline_interp(cols, max_gap)
    ok = ~np.isnan(filled)
    cols[ok] = filled[ok]
    return cols.reshape(a.shape)


def dlc_arima(
    xy: Any,
    likelihood: Any | None = None,
    *,
    p_bound: float = 0.001,
    alpha: float = 0.01,
    ARdegree: int = 3,  # noqa: N803 - DeepLabCut's own parameter names
    MAdegree: int = 1,  # noqa: N803
    max_frames: int | None = 10_000,
    progress: bool = True,
) -> np.ndarray:
    """DeepLabCut's SARIMAX filter (``filterpredictions(filtertype="arima")``).

    For every keypoint, ``FitSARIMAXModel(x, p, p_bound, alpha, ARdegree, MAdegree, False)``
    from ``deeplabcut.refine_training_dataset.outlier_frames`` on x and on y (points with
    likelihood below ``p_bound`` are treated as missing), the first frame kept as is, the
    fitted mean returned -- as ``filterpredictions`` does. Keypoints with 10 or fewer usable
    points come out NaN (DLC's behaviour).

    Parameters
    ----------
    max_frames : int or None
        Timing guard: refuse series longer than this (the fit costs roughly a second or more
        per thousand frames and coordinate); None disables the guard.
    progress : bool
        Show a tqdm bar over keypoints.

    Raises
    ------
    ValueError
        If ``T > max_frames``.
    """
    from deeplabcut.refine_training_dataset.outlier_frames import FitSARIMAXModel

    a, lik = _check(xy, likelihood)
    t, n_i, n_k, _ = a.shape
    if max_frames is not None and t > max_frames:
        raise ValueError(f"dlc_arima: {t} frames exceed max_frames={max_frames} (SARIMAX is "
                         "slow); pass max_frames=None to run it anyway")
    p = np.ones(a.shape[:3]) if lik is None else lik
    out = np.empty_like(a)
    t0 = time.perf_counter()
    pairs = [(i, k) for i in range(n_i) for k in range(n_k)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels convergence / frequency chatter
        for i, k in progress_bar(pairs, desc="dlc_arima", disable=not progress, leave=False):
            x, y = a[:, i, k, 0].copy(), a[:, i, k, 1].copy()
            pk = p[:, i, k]
            mx, _ = FitSARIMAXModel(x, pk, p_bound, alpha, ARdegree, MAdegree, False)
            my, _ = FitSARIMAXModel(y, pk, p_bound, alpha, ARdegree, MAdegree, False)
            mx = np.array(mx, dtype=np.float64)
            my = np.array(my, dtype=np.float64)
            mx[0] = x[0]
            my[0] = y[0]
            out[:, i, k, 0] = mx
            out[:, i, k, 1] = my
    dt = time.perf_counter() - t0
    logger.info("dlc_arima: %d frames x %d keypoint(s) in %.1f s (%.0f frames/s)", t,
                len(pairs), dt, t / dt if dt > 0 else float("inf"))
    return out


@dataclass
class EKSResult:
    """Output of :func:`eks_smooth_detailed`.

    Attributes
    ----------
    xy : np.ndarray
        ``(T, I, K, 2)`` smoothed coordinates (NaN for keypoints never observed).
    posterior_var : np.ndarray
        ``(T, I, K, 2)`` posterior variance of x and y (px²).
    smooth_params : np.ndarray
        ``(I, K)`` smoothing parameter ``s`` used per keypoint (optimised or given).
    seconds : float
        Wall time of the smoother calls (includes jax compilation on first use).
    """

    xy: np.ndarray
    posterior_var: np.ndarray
    smooth_params: np.ndarray
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def eks_smooth_detailed(
    xy: Any,
    likelihood: Any | None = None,
    *,
    smooth_param: float | Sequence[float] | None = None,
    s_frames: list | None = None,
    pcutoff: float | None = None,
) -> EKSResult:
    """Single-camera ensemble Kalman smoother (``eks``), one ensemble member = the DLC output.

    Per individual, calls ``eks.singlecam_smoother.ensemble_kalman_smoother_singlecam`` on a
    ``MarkerArray`` of shape ``(1, 1, T, K, 3)``. With one member, ``eks`` uses the observation
    variance ``1 / max(likelihood, 1e-5)`` per frame and a random-walk state model with
    process noise ``s * I`` per keypoint. Missing points (and points below ``pcutoff`` when
    given) enter with likelihood 0 (variance 1e5 px², i.e. ignored) at a linearly interpolated
    position, because ``eks`` is not NaN-aware. Keypoints with no kept point come out NaN.

    Parameters
    ----------
    smooth_param : float, sequence of float or None
        ``s`` (smaller = smoother). None (default) lets ``eks`` optimise ``s`` per keypoint by
        maximising the filter likelihood (the ``eks`` default; slower, jax-compiled); a number
        fixes it for every keypoint.
    s_frames : list of (start, end), optional
        Frames used for the optimisation (``eks``'s ``s_frames``).
    pcutoff : float or None
        Also down-weight points below this likelihood to zero weight.

    Returns
    -------
    EKSResult
    """
    from eks.marker_array import MarkerArray
    from eks.singlecam_smoother import ensemble_kalman_smoother_singlecam

    a, lik = _check(xy, likelihood)
    t, n_i, n_k, _ = a.shape
    p = np.ones(a.shape[:3]) if lik is None else np.nan_to_num(lik, nan=0.0)
    bad = low_confidence_mask(a, lik, pcutoff)
    p = np.where(bad, 0.0, np.clip(p, 0.0, 1.0))
    # positions of zero-weight points: linear interpolation between kept points
    filled = interpolate_linear(a, lik, pcutoff=pcutoff, max_gap=None, long_gaps="fill")
    never = ~np.isfinite(filled).all(axis=-1).any(axis=0)  # (I, K) never observed
    out = np.full_like(a, np.nan)
    post = np.full_like(a, np.nan)
    params = np.full((n_i, n_k), np.nan)
    names = [f"kp{k}" for k in range(n_k)]
    t0 = time.perf_counter()
    for i in range(n_i):
        obs = ~never[i]
        if not obs.any() or t < 2:
            continue
        kk = np.flatnonzero(obs)
        # eks squeezes singleton axes, so one keypoint is passed twice (same data, same s)
        run = np.repeat(kk, 2) if kk.size == 1 else kk
        arr = np.concatenate([filled[:, i, run], p[:, i, run, None]], axis=-1)
        ma = MarkerArray(arr[None, None].astype(np.float64), data_fields=["x", "y", "likelihood"])
        sp = smooth_param
        if sp is not None and not np.isscalar(sp):
            sp = [float(v) for v in np.asarray(sp, dtype=float).reshape(-1)[run]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df, s_final = ensemble_kalman_smoother_singlecam(
                ma, [f"{names[k]}_{j}" for j, k in enumerate(run)], smooth_param=sp,
                s_frames=s_frames)
        vals = df.to_numpy(dtype=np.float64).reshape(t, run.size, -1)[:, : kk.size]
        s_final = np.asarray(s_final, dtype=float)[: kk.size]
        cols = list(df.columns.get_level_values(-1)[: vals.shape[-1]])
        out[:, i, kk, 0] = vals[..., cols.index("x")]
        out[:, i, kk, 1] = vals[..., cols.index("y")]
        post[:, i, kk, 0] = vals[..., cols.index("x_posterior_var")]
        post[:, i, kk, 1] = vals[..., cols.index("y_posterior_var")]
        params[i, kk] = np.asarray(s_final, dtype=float)
    dt = time.perf_counter() - t0
    logger.info("eks: %d frames x %d individual(s) x %d keypoint(s) in %.2f s", t, n_i, n_k, dt)
    return EKSResult(xy=out, posterior_var=post, smooth_params=params, seconds=dt)


def eks_smooth(
    xy: Any,
    likelihood: Any | None = None,
    *,
    smooth_param: float | Sequence[float] | None = None,
    s_frames: list | None = None,
    pcutoff: float | None = None,
) -> np.ndarray:
    """Smoothed coordinates of :func:`eks_smooth_detailed` (same parameters)."""
    return eks_smooth_detailed(xy, likelihood, smooth_param=smooth_param, s_frames=s_frames,
                               pcutoff=pcutoff).xy


# ============================================================================ registry
class BaselineUnavailableError(ImportError):
    """A baseline's optional package is not installed (the message says which and how)."""


@dataclass(frozen=True)
class Baseline:
    """One registered baseline.

    Attributes
    ----------
    name : str
        Registry key.
    description : str
        One line for reports.
    function : callable
        ``f(xy, likelihood, **options) -> xy_out``.
    requires : tuple of (module, pip name)
        Optional packages needed at call time.
    defaults : dict
        Options passed unless overridden.
    slow : bool
        Much slower than real time on long recordings (benchmarks may subsample).
    """

    name: str
    description: str
    function: Callable[..., np.ndarray]
    requires: tuple[tuple[str, str], ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    slow: bool = False

    def available(self) -> tuple[bool, str]:
        """``(True, "")`` when every required package can be imported, else ``(False, why)``."""
        missing = []
        for module, pip_name in self.requires:
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                missing.append((module, pip_name))
        if not missing:
            return True, ""
        what = ", ".join(f"'{m}' (pip install {p})" for m, p in missing)
        return False, f"baseline {self.name!r} skipped: needs {what}, not installed"

    def __call__(self, xy: Any, likelihood: Any | None = None, **options: Any) -> np.ndarray:
        """Run the baseline; raise :class:`BaselineUnavailableError` when it cannot run."""
        ok, why = self.available()
        if not ok:
            raise BaselineUnavailableError(why)
        return self.function(xy, likelihood, **{**self.defaults, **options})


_DLC = (("deeplabcut", "deeplabcut"),)
_EKS = (("eks", "ensemble-kalman-smoother"), ("jax", "jax"))
BASELINES: dict[str, Baseline] = {
    b.name: b
    for b in (
        Baseline("linear", "pcutoff 0.6 + linear interpolation of gaps <= 30 frames",
                 interpolate_linear, defaults={"pcutoff": DEFAULT_PCUTOFF, "max_gap": 30}),
        Baseline("savgol", "Savitzky-Golay (window 5, order 2) of the NaN-interpolated series",
                 savgol_smooth),
        Baseline("pcutoff_interp_savgol",
                 "the bar: pcutoff 0.6 -> linear interpolation (gaps <= 30) -> Savitzky-Golay 5",
                 pcutoff_interp_savgol),
        Baseline("dlc_median", "DeepLabCut filterpredictions median (medfilt, window 5)",
                 dlc_median),
        Baseline("dlc_spline", "DeepLabCut cubic-spline gap filling (max gap 5) after pcutoff",
                 dlc_spline, requires=_DLC),
        Baseline("dlc_arima", "DeepLabCut filterpredictions SARIMAX(3,0,1) (slow)", dlc_arima,
                 requires=_DLC + (("statsmodels", "statsmodels"),), slow=True),
        Baseline("eks", "ensemble Kalman smoother (eks), 1 member, optimised smooth_param",
                 eks_smooth, requires=_EKS),
        Baseline("eks_pcutoff", "eks as above, points below pcutoff 0.6 given zero weight",
                 eks_smooth, requires=_EKS, defaults={"pcutoff": DEFAULT_PCUTOFF}),
    )
}


def available_baselines(names: Sequence[str] | None = None) -> dict[str, Baseline]:
    """The registered baselines that can run here; each skipped one is logged with its reason.

    Parameters
    ----------
    names : sequence of str, optional
        Restrict to these names (unknown names raise ``KeyError`` listing the known ones).
    """
    chosen = list(BASELINES) if names is None else list(names)
    unknown = [n for n in chosen if n not in BASELINES]
    if unknown:
        raise KeyError(f"unknown baseline(s) {unknown}; known: {sorted(BASELINES)}")
    out = {}
    for n in chosen:
        ok, why = BASELINES[n].available()
        if ok:
            out[n] = BASELINES[n]
        else:
            logger.warning(why)
    return out


def run_baseline(name: str, xy: Any, likelihood: Any | None = None, **options: Any) -> np.ndarray:
    """Run the registered baseline ``name`` (see :data:`BASELINES`)."""
    if name not in BASELINES:
        raise KeyError(f"unknown baseline {name!r}; known: {sorted(BASELINES)}")
    return BASELINES[name](xy, likelihood, **options)


# ============================================================================ real DLC
_FAKE_TASK = "smdlc"
_FAKE_DATE = "Jan1"
_FAKE_SNAPSHOT = "snapshot-200.pt"


def _fake_project(root: Path, tracks: Any, video_stem: str) -> tuple[Path, Path, Path]:
    """Write a minimal DLC 3 (PyTorch engine) project that ``filterpredictions`` accepts.

    Returns ``(config_path, video_path, videos_dir)``.
    """
    import yaml

    root.mkdir(parents=True, exist_ok=True)
    videos = root / "videos"
    videos.mkdir(exist_ok=True)
    video = videos / f"{video_stem}.mp4"
    video.write_bytes(b"")  # filterpredictions only needs the name
    animals = [n for n in tracks.animals] if tracks.multianimal else []
    cfg: dict[str, Any] = {
        "Task": _FAKE_TASK,
        "scorer": "stablemotion",
        "date": _FAKE_DATE,
        "multianimalproject": bool(tracks.multianimal),
        "identity": False,
        "project_path": str(root),
        "engine": "pytorch",
        "video_sets": {str(video): {"crop": "0, 640, 0, 480"}},
        "bodyparts": "MULTI!" if tracks.multianimal else list(tracks.bodyparts),
        "start": 0,
        "stop": 1,
        "numframes2pick": 1,
        "skeleton": [],
        "skeleton_color": "black",
        "pcutoff": DEFAULT_PCUTOFF,
        "dotsize": 6,
        "alphavalue": 0.7,
        "colormap": "rainbow",
        "TrainingFraction": [0.95],
        "iteration": 0,
        "default_net_type": "resnet_50",
        "default_augmenter": "default",
        "snapshotindex": -1,
        "detector_snapshotindex": -1,
        "batch_size": 1,
        "cropping": False,
        "x1": 0, "x2": 640, "y1": 0, "y2": 480,
        "corner2move2": [50, 50],
        "move2corner": True,
    }
    if tracks.multianimal:
        uniq = tracks.unique_bodyparts
        cfg["individuals"] = [a for a in animals if a != "single"]
        cfg["uniquebodyparts"] = list(uniq)
        cfg["multianimalbodyparts"] = [b for b in tracks.bodyparts if b not in uniq]
        cfg["default_track_method"] = "ellipse"
    config = root / "config.yaml"
    with open(config, "w") as fh:
        yaml.safe_dump(cfg, fh, sort_keys=False)
    model = (root / "dlc-models-pytorch" / "iteration-0"
             / f"{_FAKE_TASK}{_FAKE_DATE}-trainset95shuffle1" / "train")
    model.mkdir(parents=True, exist_ok=True)
    # DeepLabCut's own builder writes a valid pytorch_config.yaml (its scorer reads net_type)
    from deeplabcut.pose_estimation_pytorch.config.pose import PoseConfig

    PoseConfig.build(config, model / "pytorch_config.yaml", top_down=False,
                     net_type="resnet_50", save=True)
    (model / _FAKE_SNAPSHOT).write_bytes(b"")  # the scorer names the newest snapshot
    return config, video, videos


def run_dlc_filterpredictions(
    tracks_path: str | Path,
    filtertype: str = "median",
    workdir: str | Path | None = None,
    **kwargs: Any,
) -> Path:
    """Run the real ``deeplabcut.filterpredictions`` on a copy of a pose file.

    A throw-away DLC 3 project (``config.yaml`` with ``Task``/``date``, a PyTorch model folder
    with a ``pytorch_config.yaml`` and an empty snapshot, an empty placeholder video) is built
    in ``workdir``; the pose file is copied next to the video under the name DLC expects
    (``<video><scorer>[_el].h5`` with DLC's scorer for that project, e.g.
    ``DLC_Resnet50_smdlcJan1shuffle1_snapshot_200``) and
    ``deeplabcut.filterpredictions(config, [video], filtertype=..., destfolder=...)`` runs on
    it. The input file is never modified.

    Parameters
    ----------
    tracks_path : str or Path
        A DLC ``.h5`` (copied byte for byte) or ``.csv`` (converted to ``.h5``) pose file.
    filtertype : {"median", "spline", "arima"}
        Passed to DLC.
    workdir : str or Path, optional
        Empty or new folder for the project (a temporary folder when None; it is kept, since
        the output lives there).
    **kwargs
        More ``filterpredictions`` options (``windowlength``, ``p_bound``, ...).

    Returns
    -------
    Path
        The ``*_filtered.h5`` written by DeepLabCut.
    """
    import tempfile

    import deeplabcut
    from deeplabcut.utils import auxiliaryfunctions

    from stablemotion_dlc.dlc.io import read_tracks, write_tracks
    from stablemotion_dlc.errors import DLCFileError

    src = Path(tracks_path)
    if not src.is_file():
        raise DLCFileError(src, "pose file not found")
    root = Path(tempfile.mkdtemp(prefix="smdlc_filter_")) if workdir is None else Path(workdir)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root}: workdir must be empty or new")
    tracks = read_tracks(src)
    stem = "video"
    config, video, videos = _fake_project(root / "project", tracks, stem)
    cfg = auxiliaryfunctions.read_config(str(config))
    scorer, _ = auxiliaryfunctions.get_scorer_name(cfg, 1, 0.95)
    suffix = "_el" if tracks.multianimal else ""
    dest = videos / f"{stem}{scorer}{suffix}.h5"
    if src.suffix.lower() == ".h5" and tracks.meta.get("hdf_key") == "df_with_missing":
        shutil.copyfile(src, dest)
    else:
        write_tracks(tracks, dest)
    logger.info("running deeplabcut.filterpredictions(filtertype=%r) on %s", filtertype, dest)
    deeplabcut.filterpredictions(str(config), [str(video)], filtertype=filtertype,
                                 destfolder=str(videos), save_as_csv=False, **kwargs)
    out = dest.with_name(dest.stem + "_filtered.h5")
    if not out.is_file():
        raise RuntimeError(f"deeplabcut.filterpredictions wrote no {out.name} in {videos}")
    return out
