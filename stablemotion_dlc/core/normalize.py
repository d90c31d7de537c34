"""Per-feature normalisation saved with the model; labels 0/1 map to -1/+1."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .representation import Batch

__all__ = ["Normalizer", "fit_normalizer"]


@dataclass
class Normalizer:
    """Z-scoring of features, and the label map ``{0, 1} -> {-1, +1}``.

    Attributes
    ----------
    mean : np.ndarray
        ``(D,)`` per-feature centre.
    std : np.ndarray
        ``(D,)`` per-feature scale (floored, never 0).
    """

    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float32).reshape(-1)
        self.std = np.asarray(self.std, dtype=np.float32).reshape(-1)
        if self.mean.shape != self.std.shape:
            raise ValueError(f"Normalizer: mean {self.mean.shape} and std {self.std.shape} "
                             "differ in size")
        if not (np.all(np.isfinite(self.mean)) and np.all(self.std > 0)):
            raise ValueError("Normalizer: mean must be finite and std positive")

    @property
    def n_features(self) -> int:
        """``D``."""
        return int(self.mean.size)

    def features(self, x: np.ndarray) -> np.ndarray:
        """Normalise raw features ``(..., D)``."""
        return ((np.asarray(x, dtype=np.float32) - self.mean) / self.std).astype(np.float32)

    def denorm_features(self, z: np.ndarray) -> np.ndarray:
        """Map normalised features ``(..., D)`` back to raw units."""
        return (np.asarray(z, dtype=np.float32) * self.std + self.mean).astype(np.float32)

    @staticmethod
    def labels(y: np.ndarray) -> np.ndarray:
        """Labels in ``[0, 1]`` (1 = corrupted) -> ``[-1, +1]``."""
        return (np.asarray(y, dtype=np.float32) * 2.0 - 1.0).astype(np.float32)

    @staticmethod
    def label_prob(z: np.ndarray) -> np.ndarray:
        """Normalised label values -> probability of corruption in ``[0, 1]``."""
        return np.clip((np.asarray(z, dtype=np.float32) + 1.0) / 2.0, 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normalizer:
        """Inverse of :meth:`to_dict`."""
        return cls(np.asarray(d["mean"]), np.asarray(d["std"]))


#: A MAD below this share of the 5-95 % trimmed standard deviation is a pile, not a scale:
#: over half of the channel's values sit on one value (up to float32 rounding: 6e-8 on a
#: keypoint that holds still in behaviordepot_demo2, 2e-5 on sleap_clip's flies, whose video
#: repeats frames), and 1.4826 MAD put every other value thousands of "standard deviations"
#: out. The trimmed deviation is used then. On ordinary channels the ratio is 0.1-1 (the
#: lowest of the benchmark files' channels: 0.096), so they keep their MAD.
PILE_RATIO = 0.05


def _scales(v: np.ndarray, med: float) -> list[float]:
    """Scale estimates from most to least robust."""
    out = [1.4826 * float(np.median(np.abs(v - med)))]
    for lo, hi in ((5, 95), (1, 99)):
        a, b = np.percentile(v, [lo, hi])
        sel = v[(v >= a) & (v <= b)]
        out.append(float(sel.std()) if sel.size > 1 else 0.0)
    out.append(float(v.std()))
    return out


def fit_normalizer(batches: Iterable[Batch], *, rel_floor: float = 1e-3,
                   abs_floor: float = 1e-6, good_only: bool = True,
                   label_of_feature: tuple[int, ...] | None = None) -> Normalizer:
    """Fit a robust per-feature centre and scale from training batches.

    The centre is the median of the observed (and, with ``good_only``, good-labelled)
    values; the scale is ``1.4826 * MAD`` (robust to spikes); when that is degenerate
    (a mostly constant channel, or a pile: below :data:`PILE_RATIO` of the 5-95 % trimmed
    standard deviation) the 5-95 %, then 1-99 % trimmed, then plain standard deviation is
    used; finally it is floored at ``max(abs_floor, rel_floor * median scale)``.

    Parameters
    ----------
    batches : iterable of Batch
        Training batches.
    rel_floor, abs_floor : float
        Scale floors.
    good_only : bool
        Use only entries whose governing label is 0 (falls back to all observed entries
        for a channel with too few good ones). Needs ``label_of_feature``.
    label_of_feature : tuple of int, optional
        ``LabelLayout.label_of_feature``.

    Returns
    -------
    Normalizer
    """
    cols: list[list[np.ndarray]] = []
    for b in batches:
        f = np.asarray(b.features, dtype=np.float64)
        d = f.shape[-1]
        if not cols:
            cols = [[] for _ in range(d)]
        if len(cols) != d:
            raise ValueError(f"fit_normalizer: batches disagree on feature size ({len(cols)} "
                             f"vs {d})")
        obs = np.asarray(b.observed, dtype=bool) & np.isfinite(f)
        good = obs
        if good_only and label_of_feature is not None:
            lab = np.asarray(b.labels)[..., list(label_of_feature)] < 0.5
            good = obs & lab
        for j in range(d):
            sel = good[..., j] if good[..., j].sum() >= 8 else obs[..., j]
            cols[j].append(f[..., j][sel])
    if not cols:
        raise ValueError("fit_normalizer: no batches")
    mean = np.zeros(len(cols))
    std = np.zeros(len(cols))
    for j, parts in enumerate(cols):
        v = np.concatenate(parts) if parts else np.zeros(0)
        if v.size == 0:
            mean[j], std[j] = 0.0, 0.0
            continue
        med = float(np.median(v))
        mean[j] = med
        std[j] = 0.0
        tiny = 1e-8 * (1.0 + abs(med))
        scales = _scales(v, med)
        if scales[0] < PILE_RATIO * scales[1]:
            scales = scales[1:]
        for scale in scales:
            if scale > tiny:
                std[j] = scale
                break
    floor = max(abs_floor, rel_floor * float(np.median(std[std > 0])) if np.any(std > 0)
                else abs_floor)
    std = np.maximum(std, floor)
    return Normalizer(mean, std)
