"""Metrics for cleaned pose tracks, with and without ground truth.

Every function takes plain arrays and is NaN-aware and vectorised:

* ``xy`` arrays are ``(T, I, K, 2)`` float (frames, individuals, keypoints, x/y) with NaN for
  missing points;
* ``mask`` / ``corrupted`` / ``detection`` arrays are ``(T, I, K)`` bool;
* ``kinds`` is ``(T, I, K)`` int (0 = untouched, ``c > 0`` = ``kind_names[c - 1]``, the
  convention of :mod:`stablemotion_dlc.dlc.corruption`).

Notation used in the formulas: :math:`p_{t,i,k}` a prediction (cleaned point),
:math:`g_{t,i,k}` the ground truth, :math:`e_{t,i,k} = \\lVert p - g \\rVert_2` the point
error in pixels, :math:`\\Delta^n` the ``n``-th finite difference along time.

Missing outputs
---------------
A point whose truth exists but whose prediction is NaN is **not** silently dropped: error
statistics (RMSE, median, PCK) are computed over the points that have both (``n_scored``)
and the share of truth points that got a prediction is reported as ``coverage``. Pass
``missing_as_failure=True`` to :func:`pck` to count missing predictions as misses instead.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core.metrics import detection_scores  # one definition for DLC and SMPL

__all__ = [
    "PCK_THRESHOLDS",
    "MOVED_THRESHOLD",
    "EvaluationResult",
    "point_error",
    "second_difference",
    "third_difference",
    "acceleration_reduction",
    "trajectory_correlation",
    "mean_displacement",
    "jerk",
    "coverage",
    "rmse",
    "median_error",
    "pck",
    "error_stats",
    "detection_scores",
    "auroc",
    "bone_lengths",
    "bone_length_cv",
    "untouched_moved",
    "per_keypoint",
    "per_kind",
    "evaluate",
    "evaluate_tracks",
]

logger = logging.getLogger(__name__)

#: Pixel thresholds of the percentage of correct keypoints.
PCK_THRESHOLDS: tuple[float, ...] = (5.0, 10.0)
#: An untouched point moved by more than this many pixels counts as "moved".
MOVED_THRESHOLD = 2.0


# ============================================================================ validation
def _xy(a: Any, name: str) -> np.ndarray:
    """Return ``a`` as a float64 ``(T, I, K, 2)`` array or raise a clear error."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 4 or arr.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (T, I, K, 2), got {arr.shape}")
    return arr


def _same_shape(a: np.ndarray, b: np.ndarray, na: str, nb: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{na} {a.shape} and {nb} {b.shape} must have the same shape")


def _points(a: Any, shape: tuple[int, ...], name: str, dtype: Any = bool) -> np.ndarray:
    """Return a per-point ``(T, I, K)`` array of ``dtype`` matching ``shape``."""
    arr = np.asarray(a)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (T, I, K), got {arr.shape}")
    return arr.astype(dtype, copy=False)


def _finite_points(xy: np.ndarray) -> np.ndarray:
    """``(T, I, K)`` True where both coordinates are finite."""
    return np.isfinite(xy).all(axis=-1)


def _safe_mean(values: np.ndarray) -> float:
    """Mean of the finite entries, NaN when there are none (no RuntimeWarning)."""
    v = values[np.isfinite(values)]
    return float(v.mean()) if v.size else float("nan")


def _safe_median(values: np.ndarray) -> float:
    v = values[np.isfinite(values)]
    return float(np.median(v)) if v.size else float("nan")


# ============================================================================ primitives
def point_error(pred_xy: Any, truth_xy: Any) -> np.ndarray:
    """Euclidean error of every point.

    :math:`e_{t,i,k} = \\sqrt{(p^x - g^x)^2 + (p^y - g^y)^2}`; NaN where the prediction or
    the truth is missing.

    Parameters
    ----------
    pred_xy, truth_xy : array_like
        ``(T, I, K, 2)``.

    Returns
    -------
    np.ndarray
        ``(T, I, K)`` float64 pixels.
    """
    p = _xy(pred_xy, "pred_xy")
    g = _xy(truth_xy, "truth_xy")
    _same_shape(p, g, "pred_xy", "truth_xy")
    return np.sqrt(((p - g) ** 2).sum(axis=-1))


def second_difference(xy: Any) -> np.ndarray:
    """Magnitude of the discrete acceleration.

    :math:`a_t = \\lVert x_{t+1} - 2 x_t + x_{t-1} \\rVert_2` for ``t = 1..T-2``.

    Returns
    -------
    np.ndarray
        ``(T - 2, I, K)``; NaN where any of the three points is missing.
    """
    a = _xy(xy, "xy")
    if a.shape[0] < 3:
        return np.empty((0,) + a.shape[1:3])
    d2 = a[2:] - 2.0 * a[1:-1] + a[:-2]
    return np.sqrt((d2**2).sum(axis=-1))


def third_difference(xy: Any) -> np.ndarray:
    """Magnitude of the discrete jerk.

    :math:`j_t = \\lVert x_{t+2} - 3 x_{t+1} + 3 x_t - x_{t-1} \\rVert_2`.

    Returns
    -------
    np.ndarray
        ``(T - 3, I, K)``; NaN where any of the four points is missing.
    """
    a = _xy(xy, "xy")
    if a.shape[0] < 4:
        return np.empty((0,) + a.shape[1:3])
    d3 = a[3:] - 3.0 * a[2:-1] + 3.0 * a[1:-2] - a[:-3]
    return np.sqrt((d3**2).sum(axis=-1))


# ============================================================================ no ground truth
def acceleration_reduction(before_xy: Any, after_xy: Any) -> float:
    """Relative reduction of the mean acceleration magnitude.

    :math:`1 - \\overline{|\\Delta^2 \\mathrm{after}|} / \\overline{|\\Delta^2
    \\mathrm{before}|}`, both means taken over the same entries (those where the second
    difference exists before *and* after), so filling gaps does not change the denominator.
    Positive = smoother; 0 = unchanged; negative = rougher.

    Parameters
    ----------
    before_xy, after_xy : array_like
        ``(T, I, K, 2)`` input and output of a cleaner.

    Returns
    -------
    float
        NaN when no entry is comparable or the input has zero acceleration.
    """
    b = second_difference(before_xy)
    a = second_difference(after_xy)
    _same_shape(b, a, "before_xy", "after_xy")
    ok = np.isfinite(a) & np.isfinite(b)
    if not ok.any():
        return float("nan")
    denom = b[ok].mean()
    if denom == 0:
        return float("nan")
    return float(1.0 - a[ok].mean() / denom)


def trajectory_correlation(before_xy: Any, after_xy: Any, min_points: int = 3) -> float:
    """Mean Pearson correlation between input and output trajectories.

    For every keypoint coordinate column ``c = (i, k, x|y)``,
    :math:`r_c = \\mathrm{cov}(b_c, a_c) / (\\sigma_{b_c} \\sigma_{a_c})` over the frames
    where both are finite; the result is the mean of :math:`r_c` over the columns with at least
    ``min_points`` such frames and non-zero variance in both.

    Returns
    -------
    float
        In ``[-1, 1]``; NaN when no column qualifies.
    """
    b = _xy(before_xy, "before_xy")
    a = _xy(after_xy, "after_xy")
    _same_shape(b, a, "before_xy", "after_xy")
    t = b.shape[0]
    b = b.reshape(t, -1)
    a = a.reshape(t, -1)
    ok = np.isfinite(a) & np.isfinite(b)
    n = ok.sum(axis=0)
    bz = np.where(ok, b, 0.0)
    az = np.where(ok, a, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mb = bz.sum(axis=0) / n
        ma = az.sum(axis=0) / n
        db = np.where(ok, b - mb, 0.0)
        da = np.where(ok, a - ma, 0.0)
        cov = (db * da).sum(axis=0)
        vb = (db**2).sum(axis=0)
        va = (da**2).sum(axis=0)
        r = cov / np.sqrt(vb * va)
    # relative tolerance: a constant column has float-noise variance, not zero
    scale_b = np.where(ok, np.abs(b), 0.0).max(axis=0, initial=0.0)
    scale_a = np.where(ok, np.abs(a), 0.0).max(axis=0, initial=0.0)
    tiny_b = vb <= (1e-12 * np.maximum(scale_b, 1.0)) ** 2 * np.maximum(n, 1)
    tiny_a = va <= (1e-12 * np.maximum(scale_a, 1.0)) ** 2 * np.maximum(n, 1)
    valid = (n >= min_points) & ~tiny_b & ~tiny_a & np.isfinite(r)
    if not valid.any():
        return float("nan")
    return float(np.clip(r[valid], -1.0, 1.0).mean())


def mean_displacement(before_xy: Any, after_xy: Any) -> float:
    """Mean distance a cleaner moved the points.

    :math:`\\overline{\\lVert \\mathrm{after} - \\mathrm{before} \\rVert_2}` over points
    present in both (pixels).
    """
    return _safe_mean(point_error(after_xy, before_xy))


def jerk(xy: Any) -> float:
    """Mean jerk magnitude :math:`\\overline{\\lVert \\Delta^3 x \\rVert_2}` (px/frame³).

    Taken over every entry where four consecutive points exist; NaN when none does.
    """
    return _safe_mean(third_difference(xy))


# ============================================================================ ground truth
def coverage(pred_xy: Any, truth_xy: Any, mask: Any | None = None) -> float:
    """Share of truth points that have a prediction.

    :math:`\\#\\{g \\text{ finite}, p \\text{ finite}\\} / \\#\\{g \\text{ finite}\\}` over the
    points selected by ``mask`` (all when None). NaN when no truth point is selected.
    """
    p = _xy(pred_xy, "pred_xy")
    g = _xy(truth_xy, "truth_xy")
    _same_shape(p, g, "pred_xy", "truth_xy")
    has_truth = _finite_points(g)
    if mask is not None:
        has_truth &= _points(mask, g.shape[:3], "mask")
    n = int(has_truth.sum())
    if n == 0:
        return float("nan")
    return float((has_truth & _finite_points(p)).sum() / n)


def _selected_errors(pred_xy: Any, truth_xy: Any, mask: Any | None) -> np.ndarray:
    err = point_error(pred_xy, truth_xy)
    if mask is not None:
        err = err[_points(mask, err.shape, "mask")]
    return err.ravel()


def rmse(pred_xy: Any, truth_xy: Any, mask: Any | None = None) -> float:
    """Root-mean-square point error.

    :math:`\\sqrt{\\overline{e^2}}` over the points selected by ``mask`` where prediction and
    truth both exist (see :func:`coverage` for the rest). NaN when there are none.
    """
    e = _selected_errors(pred_xy, truth_xy, mask)
    e = e[np.isfinite(e)]
    return float(np.sqrt((e**2).mean())) if e.size else float("nan")


def median_error(pred_xy: Any, truth_xy: Any, mask: Any | None = None) -> float:
    """Median point error :math:`\\mathrm{median}(e)` over scored selected points (px)."""
    return _safe_median(_selected_errors(pred_xy, truth_xy, mask))


def pck(
    pred_xy: Any,
    truth_xy: Any,
    threshold: float,
    mask: Any | None = None,
    *,
    missing_as_failure: bool = False,
) -> float:
    """Percentage (as a fraction) of correct keypoints within ``threshold`` pixels.

    :math:`\\#\\{e \\le \\tau\\} / N`, where ``N`` counts the selected points with a truth and
    a prediction, or with a truth only when ``missing_as_failure`` (then a missing prediction
    is a miss).
    """
    p = _xy(pred_xy, "pred_xy")
    g = _xy(truth_xy, "truth_xy")
    _same_shape(p, g, "pred_xy", "truth_xy")
    e = np.sqrt(((p - g) ** 2).sum(axis=-1))
    sel = _finite_points(g)
    if mask is not None:
        sel &= _points(mask, g.shape[:3], "mask")
    if not missing_as_failure:
        sel &= _finite_points(p)
    n = int(sel.sum())
    if n == 0:
        return float("nan")
    with np.errstate(invalid="ignore"):
        hit = sel & (e <= threshold)
    return float(hit.sum() / n)


def error_stats(
    pred_xy: Any,
    truth_xy: Any,
    mask: Any | None = None,
    thresholds: Sequence[float] = PCK_THRESHOLDS,
) -> dict[str, float]:
    """All point-error statistics of one selection in one pass.

    Returns
    -------
    dict
        ``n_truth`` (selected points with a truth), ``n_scored`` (of those, with a
        prediction), ``coverage`` (= ``n_scored / n_truth``), ``rmse``, ``median_error``,
        ``mean_error`` and ``pck{τ:g}`` for each threshold (over scored points).
    """
    p = _xy(pred_xy, "pred_xy")
    g = _xy(truth_xy, "truth_xy")
    _same_shape(p, g, "pred_xy", "truth_xy")
    e = np.sqrt(((p - g) ** 2).sum(axis=-1))
    has_truth = _finite_points(g)
    if mask is not None:
        has_truth &= _points(mask, g.shape[:3], "mask")
    return _stats_from_errors(e, has_truth, thresholds)


def _stats_from_errors(
    e: np.ndarray, has_truth: np.ndarray, thresholds: Sequence[float]
) -> dict[str, float]:
    n_truth = int(has_truth.sum())
    scored = e[has_truth]
    scored = scored[np.isfinite(scored)]
    n = int(scored.size)
    out: dict[str, float] = {
        "n_truth": float(n_truth),
        "n_scored": float(n),
        "coverage": float(n / n_truth) if n_truth else float("nan"),
        "rmse": float(np.sqrt((scored**2).mean())) if n else float("nan"),
        "median_error": float(np.median(scored)) if n else float("nan"),
        "mean_error": float(scored.mean()) if n else float("nan"),
    }
    for tau in thresholds:
        out[f"pck{tau:g}"] = float((scored <= tau).mean()) if n else float("nan")
    return out


# ============================================================================ detection
def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` with ties sharing their average rank (numpy only)."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    # boundaries of tie groups in sorted order
    new = np.concatenate([[True], xs[1:] != xs[:-1]])
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.concatenate([starts[1:], [xs.size]])
    avg = (starts + ends + 1) / 2.0  # mean of ranks start+1 .. end
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = avg[group]
    return ranks


def auroc(score: Any, corrupted: Any, valid: Any | None = None) -> float:
    """Area under the ROC curve of a per-point score (higher = more likely bad).

    Mann-Whitney form with average ranks for ties:
    :math:`\\mathrm{AUC} = (R_+ - n_+(n_+ + 1)/2) / (n_+ n_-)`, where :math:`R_+` is the sum
    of the ranks of the positive (corrupted) points among all scored points. Points with a
    non-finite score or outside ``valid`` are ignored. 1 = perfect, 0.5 = random.

    Returns
    -------
    float
        NaN when one of the classes is empty.
    """
    c = np.asarray(corrupted).astype(bool)
    s = _points(score, c.shape, "score", dtype=np.float64)
    sel = np.isfinite(s)
    if valid is not None:
        sel &= _points(valid, c.shape, "valid")
    s = s[sel]
    c = c[sel]
    n_pos = int(c.sum())
    n_neg = int(c.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = _average_ranks(s)
    return float((r[c].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


# ============================================================================ anatomy
def bone_lengths(xy: Any, skeleton: Sequence[tuple[int, int]]) -> np.ndarray:
    """Length of every bone in every frame.

    :math:`L_{t,i,b} = \\lVert x_{t,i,k_b} - x_{t,i,l_b} \\rVert_2` for bone ``b = (k_b, l_b)``.

    Returns
    -------
    np.ndarray
        ``(T, I, B)``; NaN where an end point is missing.
    """
    a = _xy(xy, "xy")
    sk = np.asarray(skeleton, dtype=np.intp).reshape(-1, 2)
    if sk.size and (sk.min() < 0 or sk.max() >= a.shape[2]):
        raise ValueError(f"skeleton indices must be in [0, {a.shape[2]}), got {sk.tolist()}")
    d = a[:, :, sk[:, 0]] - a[:, :, sk[:, 1]]
    return np.sqrt((d**2).sum(axis=-1))


def bone_length_cv(
    xy: Any, skeleton: Sequence[tuple[int, int]], min_frames: int = 2
) -> np.ndarray:
    """Coefficient of variation of each bone's length over time.

    :math:`CV_{i,b} = \\mathrm{std}_t(L_{t,i,b}) / \\mathrm{mean}_t(L_{t,i,b})` over the frames
    where the bone exists (population std). A rigid body gives 0.

    Returns
    -------
    np.ndarray
        ``(I, B)``; NaN for bones seen in fewer than ``min_frames`` frames or of mean length 0.
        Use ``np.nanmean`` for a single figure.
    """
    lengths = bone_lengths(xy, skeleton)
    ok = np.isfinite(lengths)
    n = ok.sum(axis=0)
    z = np.where(ok, lengths, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = z.sum(axis=0) / n
        var = (np.where(ok, lengths - mean, 0.0) ** 2).sum(axis=0) / n
        cv = np.sqrt(var) / mean
    cv[(n < min_frames) | ~(mean > 0)] = np.nan
    return cv


def untouched_moved(
    pred_xy: Any,
    reference_xy: Any,
    corrupted: Any,
    threshold: float = MOVED_THRESHOLD,
) -> dict[str, float]:
    """How much a cleaner disturbed the points that were never corrupted.

    Over untouched points (``~corrupted``) present in the reference and the prediction, with
    :math:`m = \\lVert p - r \\rVert_2`: ``moved_share`` :math:`= \\#\\{m > \\tau\\} / N`,
    ``moved_median`` :math:`= \\mathrm{median}(m)`, ``moved_mean``; plus ``untouched_coverage``
    (share of untouched reference points that still have a prediction).

    Parameters
    ----------
    reference_xy : array_like
        The input of the cleaner (equal to the truth at untouched points in the corruption
        protocol, so the truth may be passed).
    """
    p = _xy(pred_xy, "pred_xy")
    r = _xy(reference_xy, "reference_xy")
    _same_shape(p, r, "pred_xy", "reference_xy")
    c = _points(corrupted, p.shape[:3], "corrupted")
    base = ~c & _finite_points(r)
    m = np.sqrt(((p - r) ** 2).sum(axis=-1))[base]
    n_base = int(base.sum())
    m = m[np.isfinite(m)]
    return {
        "moved_share": float((m > threshold).mean()) if m.size else float("nan"),
        "moved_median": float(np.median(m)) if m.size else float("nan"),
        "moved_mean": float(m.mean()) if m.size else float("nan"),
        "untouched_coverage": float(m.size / n_base) if n_base else float("nan"),
    }


# ============================================================================ breakdowns
def _kind_label(code: int, kind_names: Sequence[str]) -> str:
    if code == 0:
        return "clean"
    if 1 <= code <= len(kind_names):
        return str(kind_names[code - 1])
    return f"kind_{code}"


def per_kind(
    pred_xy: Any,
    truth_xy: Any,
    kinds: Any,
    kind_names: Sequence[str] | None = None,
    *,
    input_xy: Any | None = None,
    detection: Any | None = None,
    score: Any | None = None,
    thresholds: Sequence[float] = PCK_THRESHOLDS,
) -> pd.DataFrame:
    """Error statistics per corruption kind (one row per kind present, ``clean`` first).

    Columns: ``kind, code`` and those of :func:`error_stats`; with ``input_xy`` also
    ``input_rmse`` / ``input_median_error`` (error before cleaning, for the same points); with
    ``detection`` the ``recall`` of that kind (share of its points flagged; for ``clean`` the
    false-positive rate); with ``score`` the ``auroc`` of that kind against the clean points.

    Parameters
    ----------
    kinds : array_like of int
        ``(T, I, K)`` kind codes (0 = untouched).
    kind_names : sequence of str, optional
        Names of codes ``1..``; default
        :data:`stablemotion_dlc.dlc.corruption.ALL_KINDS`.
    """
    if kind_names is None:
        from stablemotion_dlc.dlc.corruption import ALL_KINDS

        kind_names = ALL_KINDS
    p = _xy(pred_xy, "pred_xy")
    g = _xy(truth_xy, "truth_xy")
    _same_shape(p, g, "pred_xy", "truth_xy")
    kd = _points(kinds, g.shape[:3], "kinds", dtype=np.int64)
    e = np.sqrt(((p - g) ** 2).sum(axis=-1))
    has_truth = _finite_points(g)
    e_in = None
    if input_xy is not None:
        x_in = _xy(input_xy, "input_xy")
        _same_shape(x_in, g, "input_xy", "truth_xy")
        e_in = np.sqrt(((x_in - g) ** 2).sum(axis=-1))
    det = None if detection is None else _points(detection, kd.shape, "detection")
    sc = None if score is None else _points(score, kd.shape, "score", dtype=np.float64)
    clean = kd == 0
    rows = []
    for code in np.unique(kd):
        sel = kd == code
        row: dict[str, Any] = {"kind": _kind_label(int(code), kind_names), "code": int(code)}
        row.update(_stats_from_errors(e, sel & has_truth, thresholds))
        if e_in is not None:
            ei = e_in[sel & has_truth]
            row["input_rmse"] = (float(np.sqrt(np.nanmean(ei**2)))
                                 if np.isfinite(ei).any() else float("nan"))
            row["input_median_error"] = _safe_median(ei)
        if det is not None:
            n_sel = int(sel.sum())
            row["recall" if code else "false_positive_rate"] = (
                float(det[sel].sum() / n_sel) if n_sel else float("nan"))
        if sc is not None and code != 0:
            row["auroc"] = auroc(sc, sel, valid=sel | clean)
        rows.append(row)
    return pd.DataFrame(rows)


def per_keypoint(
    pred_xy: Any,
    truth_xy: Any,
    corrupted: Any | None = None,
    *,
    keypoint_names: Sequence[str] | None = None,
    thresholds: Sequence[float] = PCK_THRESHOLDS,
) -> pd.DataFrame:
    """Error statistics per keypoint (pooled over individuals).

    One row per keypoint and subset (``all``, and with ``corrupted`` also ``corrupted`` and
    ``clean``); columns ``keypoint, subset`` and those of :func:`error_stats`.
    """
    p = _xy(pred_xy, "pred_xy")
    g = _xy(truth_xy, "truth_xy")
    _same_shape(p, g, "pred_xy", "truth_xy")
    n_k = g.shape[2]
    if keypoint_names is None:
        keypoint_names = [str(k) for k in range(n_k)]
    if len(keypoint_names) != n_k:
        raise ValueError(f"{len(keypoint_names)} keypoint names for {n_k} keypoints")
    e = np.sqrt(((p - g) ** 2).sum(axis=-1))
    has_truth = _finite_points(g)
    subsets: dict[str, np.ndarray] = {"all": np.ones(g.shape[:3], dtype=bool)}
    if corrupted is not None:
        c = _points(corrupted, g.shape[:3], "corrupted")
        subsets["corrupted"] = c
        subsets["clean"] = ~c
    rows = []
    for k, name in enumerate(keypoint_names):
        for subset, sel in subsets.items():
            row: dict[str, Any] = {"keypoint": name, "subset": subset}
            row.update(_stats_from_errors(e[:, :, k], (sel & has_truth)[:, :, k], thresholds))
            rows.append(row)
    return pd.DataFrame(rows)


# ============================================================================ summary
@dataclass
class EvaluationResult:
    """Output of :func:`evaluate`.

    Attributes
    ----------
    summary : dict
        Flat ``name -> float`` figures (see :func:`evaluate`).
    per_kind : pd.DataFrame
        :func:`per_kind` table.
    per_keypoint : pd.DataFrame
        :func:`per_keypoint` table.
    """

    summary: dict[str, float]
    per_kind: pd.DataFrame
    per_keypoint: pd.DataFrame
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> float:
        return self.summary[key]

    def to_series(self, name: str | None = None) -> pd.Series:
        """The summary as a :class:`pandas.Series` (one benchmark row)."""
        return pd.Series(self.summary, name=name)


def evaluate(
    pred_xy: Any,
    truth_xy: Any,
    corrupted: Any,
    kinds: Any | None = None,
    kind_names: Sequence[str] | None = None,
    input_xy: Any | None = None,
    detection: Any | None = None,
    score: Any | None = None,
    *,
    skeleton: Sequence[tuple[int, int]] | None = None,
    keypoint_names: Sequence[str] | None = None,
    thresholds: Sequence[float] = PCK_THRESHOLDS,
    moved_threshold: float = MOVED_THRESHOLD,
) -> EvaluationResult:
    """Every metric of one cleaned result against the ground truth.

    Parameters
    ----------
    pred_xy : array_like
        ``(T, I, K, 2)`` cleaned coordinates.
    truth_xy : array_like
        ``(T, I, K, 2)`` ground truth (NaN where unknown: those points are not scored).
    corrupted : array_like of bool
        ``(T, I, K)`` points that were corrupted.
    kinds : array_like of int, optional
        ``(T, I, K)`` kind codes; default ``corrupted`` as code 1.
    kind_names : sequence of str, optional
        Names of codes ``1..`` (default ``ALL_KINDS`` of the corruption protocol).
    input_xy : array_like, optional
        The corrupted input given to the cleaner: enables the no-ground-truth metrics
        (acceleration reduction, trajectory correlation, mean displacement) and input errors.
    detection : array_like of bool, optional
        ``(T, I, K)`` the cleaner's own bad-point flags (precision / recall / F1).
    score : array_like of float, optional
        ``(T, I, K)`` a bad-point score (AUROC).
    skeleton : sequence of (int, int), optional
        Bones as keypoint index pairs (bone-length CV of prediction and truth).
    keypoint_names : sequence of str, optional
        Names for the per-keypoint table.

    Returns
    -------
    EvaluationResult
        ``summary`` keys: ``{all,corrupted,clean}_{rmse,median_error,mean_error,pck5,pck10,
        coverage,n_truth,n_scored}``; ``moved_share, moved_median, moved_mean,
        untouched_coverage`` (untouched points vs. the input, or the truth without input);
        ``jerk``, ``truth_jerk``; with ``input_xy``: ``input_{corrupted,clean}_rmse``,
        ``input_corrupted_median_error``, ``acceleration_reduction``,
        ``trajectory_correlation``, ``mean_displacement``; with ``detection``:
        ``precision, recall, f1``; with ``score``: ``auroc``; with ``skeleton``:
        ``bone_cv``, ``truth_bone_cv``.
    """
    p = _xy(pred_xy, "pred_xy")
    g = _xy(truth_xy, "truth_xy")
    _same_shape(p, g, "pred_xy", "truth_xy")
    shape = g.shape[:3]
    c = _points(corrupted, shape, "corrupted")
    kd = (c.astype(np.int64) if kinds is None
          else _points(kinds, shape, "kinds", dtype=np.int64))
    if kinds is not None and not np.array_equal(kd != 0, c):
        raise ValueError("kinds != 0 must equal the corrupted mask")
    x_in = None if input_xy is None else _xy(input_xy, "input_xy")
    if x_in is not None:
        _same_shape(x_in, g, "input_xy", "truth_xy")

    e = np.sqrt(((p - g) ** 2).sum(axis=-1))
    has_truth = _finite_points(g)
    summary: dict[str, float] = {}
    for subset, sel in (("all", None), ("corrupted", c), ("clean", ~c)):
        m = has_truth if sel is None else has_truth & sel
        for key, val in _stats_from_errors(e, m, thresholds).items():
            summary[f"{subset}_{key}"] = val
    moved = untouched_moved(p, g if x_in is None else x_in, c, moved_threshold)
    summary.update(moved)
    summary["jerk"] = jerk(p)
    summary["truth_jerk"] = jerk(g)
    if x_in is not None:
        e_in = np.sqrt(((x_in - g) ** 2).sum(axis=-1))
        for subset, sel in (("corrupted", c), ("clean", ~c)):
            ei = e_in[has_truth & sel]
            ei = ei[np.isfinite(ei)]
            summary[f"input_{subset}_rmse"] = (float(np.sqrt((ei**2).mean())) if ei.size
                                               else float("nan"))
        summary["input_corrupted_median_error"] = _safe_median(e_in[has_truth & c])
        summary["acceleration_reduction"] = acceleration_reduction(x_in, p)
        summary["trajectory_correlation"] = trajectory_correlation(x_in, p)
        summary["mean_displacement"] = mean_displacement(x_in, p)
    if detection is not None:
        d = detection_scores(detection, c, valid=has_truth)
        summary.update({k: d[k] for k in ("precision", "recall", "f1")})
    if score is not None:
        summary["auroc"] = auroc(score, c, valid=has_truth)
    if skeleton is not None and len(skeleton):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            summary["bone_cv"] = float(np.nanmean(bone_length_cv(p, skeleton)))
            summary["truth_bone_cv"] = float(np.nanmean(bone_length_cv(g, skeleton)))
    table_kind = per_kind(p, g, kd, kind_names, input_xy=x_in, detection=detection,
                          score=score, thresholds=thresholds)
    table_kp = per_keypoint(p, g, c, keypoint_names=keypoint_names, thresholds=thresholds)
    return EvaluationResult(summary=summary, per_kind=table_kind, per_keypoint=table_kp)


def evaluate_tracks(pred: Any, truth: Any, corrupted: Any, **kwargs: Any) -> EvaluationResult:
    """:func:`evaluate` on :class:`~stablemotion_dlc.dlc.tracks.Tracks` objects.

    Keypoint names come from ``truth.bodyparts``; cells absent from the layout
    (``truth.present``) are not scored. Other keyword arguments go to :func:`evaluate`
    (``input_xy`` may also be a ``Tracks``).
    """
    g = np.array(truth.xy, dtype=np.float64, copy=True)
    g[:, ~np.asarray(truth.present, dtype=bool)] = np.nan
    if "input_xy" in kwargs and hasattr(kwargs["input_xy"], "xy"):
        kwargs["input_xy"] = kwargs["input_xy"].xy
    kwargs.setdefault("keypoint_names", list(truth.bodyparts))
    return evaluate(pred.xy, g, corrupted, **kwargs)

