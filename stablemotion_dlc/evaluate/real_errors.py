"""Scoring against real errors: a weak model's tracks graded by a stronger model or by labels.

No error is injected here, so nothing in this evaluation comes from the generator the
cleaner trains on. Two DeepLabCut models that tracked the same video (an under-trained and a
well-trained one), or a model's tracks and the frames a human labelled, give a truth for a
subset of points:

* **truth**: the reference's points with likelihood at least ``min_likelihood`` (0.95), or
  every human label;
* **wrong**: points where the weak input is more than ``wrong_px`` (10 px) from the truth,
  or missing; **confidently wrong**: wrong and at least ``pcutoff`` likely;
* **right**: points within ``right_px`` (5 px) of the truth; a cleaner should leave them
  where they are (**moved**: changed by more than ``moved_px``, 2 px).

:func:`score_real_errors` returns the figures the quality issue targets: RMSE on all truth
points, on the wrong and on the confidently wrong ones, the share of wrong points brought
within ``wrong_px``, the share of right points moved, and the same per keypoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..dlc.constants import DEFAULT_PCUTOFF

__all__ = ["RealTruth", "truth_from_reference", "truth_from_labels", "score_real_errors"]


@dataclass(frozen=True)
class RealTruth:
    """Truth for a subset of points of one tracks file.

    Attributes
    ----------
    xy : np.ndarray
        ``(T, I, K, 2)`` truth positions (NaN where there is no truth).
    ok : np.ndarray
        ``(T, I, K)`` True where a truth exists.
    source : str
        Where the truth came from.
    """

    xy: np.ndarray
    ok: np.ndarray
    source: str


def truth_from_reference(reference_xy: np.ndarray, reference_likelihood: np.ndarray | None,
                         *, min_likelihood: float = 0.95, source: str = "reference"
                         ) -> RealTruth:
    """Truth from a stronger model's tracks of the same video: its confident points.

    Parameters
    ----------
    reference_xy : np.ndarray
        ``(T, I, K, 2)`` positions of the reference (same frames, animals and keypoints).
    reference_likelihood : np.ndarray or None
        ``(T, I, K)`` likelihoods (None: every finite point is truth).
    min_likelihood : float
        Reference points below this likelihood give no truth.
    source : str
        Name recorded in the result.
    """
    xy = np.asarray(reference_xy, np.float64)
    ok = np.isfinite(xy).all(-1)
    if reference_likelihood is not None:
        with np.errstate(invalid="ignore"):
            ok &= np.asarray(reference_likelihood) >= min_likelihood
    return RealTruth(np.where(ok[..., None], xy, np.nan), ok, source)


def truth_from_labels(labels_xy: np.ndarray, frames: Sequence[int], n_frames: int,
                      *, source: str = "labels") -> RealTruth:
    """Truth from labelled frames (e.g. a ``CollectedData_*.h5`` that overlaps the video).

    Parameters
    ----------
    labels_xy : np.ndarray
        ``(N, I, K, 2)`` labelled positions (NaN where a point was not labelled).
    frames : sequence of int
        Video frame index of each labelled row.
    n_frames : int
        Frames of the tracks being scored.
    source : str
        Name recorded in the result.
    """
    lab = np.asarray(labels_xy, np.float64)
    xy = np.full((n_frames, *lab.shape[1:]), np.nan)
    idx = np.asarray(frames, int)
    keep = (idx >= 0) & (idx < n_frames)
    xy[idx[keep]] = lab[keep]
    ok = np.isfinite(xy).all(-1)
    return RealTruth(xy, ok, source)


def _rmse(err: np.ndarray) -> float | None:
    err = err[np.isfinite(err)]
    return float(np.sqrt(np.mean(err ** 2))) if err.size else None


def _share(mask: np.ndarray, within: np.ndarray) -> float | None:
    n = int(within.sum())
    return float((mask & within).sum() / n) if n else None


def score_real_errors(
    cleaned_xy: np.ndarray,
    input_xy: np.ndarray,
    input_likelihood: np.ndarray | None,
    truth: RealTruth,
    *,
    pcutoff: float = DEFAULT_PCUTOFF,
    wrong_px: float = 10.0,
    right_px: float = 5.0,
    moved_px: float = 2.0,
    bodyparts: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Score a cleaned copy of ``input_xy`` against a real truth.

    Parameters
    ----------
    cleaned_xy, input_xy : np.ndarray
        ``(T, I, K, 2)`` positions after and before cleaning.
    input_likelihood : np.ndarray or None
        ``(T, I, K)`` likelihoods of the input.
    truth : RealTruth
        From :func:`truth_from_reference` or :func:`truth_from_labels`.
    pcutoff : float
        Confidence threshold of "confidently wrong".
    wrong_px, right_px, moved_px : float
        See the module docstring.
    bodyparts : sequence of str, optional
        Names for the per-keypoint table.

    Returns
    -------
    dict
        ``rmse_all``, ``rmse_wrong``, ``rmse_confident_wrong``, ``rmse_right``,
        ``fixed_share`` (wrong points within ``wrong_px`` after cleaning),
        ``fixed_confident_share``, ``broken_share`` (right points now more than ``wrong_px``
        off), ``right_moved_share``, the counts, ``coverage`` (truth points with a cleaned
        value) and ``per_keypoint``. An error is counted only where the cleaned value is
        finite; a missing cleaned point lowers ``coverage``.
    """
    out_xy = np.asarray(cleaned_xy, np.float64)
    in_xy = np.asarray(input_xy, np.float64)
    if out_xy.shape != in_xy.shape or out_xy.shape != truth.xy.shape:
        raise ValueError(f"shapes differ: cleaned {out_xy.shape}, input {in_xy.shape}, truth "
                         f"{truth.xy.shape}")
    ok = truth.ok
    e_in = np.linalg.norm(in_xy - truth.xy, axis=-1)
    e_out = np.linalg.norm(out_xy - truth.xy, axis=-1)
    moved = np.linalg.norm(out_xy - in_xy, axis=-1)
    in_missing = ~np.isfinite(in_xy).all(-1)
    lik = (np.ones(ok.shape) if input_likelihood is None else np.asarray(input_likelihood))
    with np.errstate(invalid="ignore"):
        confident = lik >= pcutoff
        wrong = ok & ((e_in > wrong_px) | in_missing)
        right = ok & (e_in <= right_px)
        conf_wrong = wrong & confident & ~in_missing
        fixed = e_out <= wrong_px
        moved_far = moved > moved_px
    covered = ok & np.isfinite(out_xy).all(-1)

    def block(sel: np.ndarray) -> dict[str, Any]:
        return {
            "n_truth": int(sel.sum()),
            "rmse_input": _rmse(np.where(sel, e_in, np.nan)),
            "rmse_all": _rmse(np.where(sel, e_out, np.nan)),
            "n_wrong": int((wrong & sel).sum()),
            "rmse_wrong_input": _rmse(np.where(wrong & sel, e_in, np.nan)),
            "rmse_wrong": _rmse(np.where(wrong & sel, e_out, np.nan)),
            "median_wrong": (float(np.nanmedian(np.where(wrong & sel, e_out, np.nan)))
                             if (wrong & sel & covered).any() else None),
            "median_wrong_input": (float(np.nanmedian(np.where(wrong & sel & ~in_missing,
                                                               e_in, np.nan)))
                                   if (wrong & sel & ~in_missing).any() else None),
            "n_confident_wrong": int((conf_wrong & sel).sum()),
            "rmse_confident_wrong_input": _rmse(np.where(conf_wrong & sel, e_in, np.nan)),
            "rmse_confident_wrong": _rmse(np.where(conf_wrong & sel, e_out, np.nan)),
            "fixed_share": _share(fixed, wrong & sel),
            "fixed_confident_share": _share(fixed, conf_wrong & sel),
            "n_right": int((right & sel).sum()),
            "right_moved_share": _share(moved_far, right & sel),
            "broken_share": _share(e_out > wrong_px, right & sel),
            "coverage": _share(covered, sel),
        }

    res: dict[str, Any] = {"truth": truth.source, **block(ok)}
    names = list(bodyparts) if bodyparts is not None else [str(k) for k in range(ok.shape[2])]
    res["per_keypoint"] = {}
    for k, name in enumerate(names):
        sel = np.zeros(ok.shape, bool)
        sel[:, :, k] = ok[:, :, k]
        res["per_keypoint"][name] = block(sel)
    return res
