"""Detection scores shared by every representation (numpy only).

One definition for DLC keypoints and SMPL frames: precision, recall and F1 are NaN where
their denominator is empty (nothing detected, nothing corrupted), never a made-up 0 or 1,
so that averages over motions or files skip them instead of being biased.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["detection_scores"]


def detection_scores(detection: Any, corrupted: Any, valid: Any | None = None) -> dict[str, float]:
    """Precision, recall and F1 of a boolean detection against the true corruption mask.

    With :math:`TP = \\#\\{d \\wedge c\\}`, :math:`FP = \\#\\{d \\wedge \\neg c\\}`,
    :math:`FN = \\#\\{\\neg d \\wedge c\\}`: precision :math:`= TP/(TP+FP)`, recall
    :math:`= TP/(TP+FN)`, :math:`F_1 = 2PR/(P+R)` (NaN for an empty denominator; F1 is 0
    when both are defined and zero).

    Parameters
    ----------
    detection : array_like of bool
        Predicted bad entries, any shape (e.g. ``(T, I, K)`` points or ``(T,)`` frames).
    corrupted : array_like of bool
        Truly bad entries, same shape.
    valid : array_like of bool, optional
        Entries to score (e.g. where the truth exists); all when None.

    Returns
    -------
    dict
        ``precision, recall, f1, tp, fp, fn, tn``.

    Raises
    ------
    ValueError
        When the shapes differ.
    """
    c = np.asarray(corrupted).astype(bool)
    d = np.asarray(detection)
    if d.shape != c.shape:
        raise ValueError(f"detection must have the shape of the truth {c.shape}, got {d.shape}")
    d = d.astype(bool, copy=False)
    if valid is None:
        v = np.ones_like(c)
    else:
        v = np.asarray(valid)
        if v.shape != c.shape:
            raise ValueError(f"valid must have the shape of the truth {c.shape}, got {v.shape}")
        v = v.astype(bool, copy=False)
    tp = int((d & c & v).sum())
    fp = int((d & ~c & v).sum())
    fn = int((~d & c & v).sum())
    tn = int((~d & ~c & v).sum())
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    if tp + fp and tp + fn and precision + recall > 0:
        f1 = 2 * precision * recall / (precision + recall)
    elif tp + fp and tp + fn:
        f1 = 0.0
    else:
        f1 = float("nan")
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "tp": float(tp),
        "fp": float(fp),
        "fn": float(fn),
        "tn": float(tn),
    }
