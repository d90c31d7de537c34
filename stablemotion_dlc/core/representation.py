"""The one seam between the diffusion core and a data representation.

``core`` never knows what a keypoint or an SMPL joint is. It sees windows of features
``(batch, frames, D)`` with per-entry quality labels ``(batch, frames, L)`` and the mapping
``label_of_feature`` saying which label channel governs each feature channel.
A representation (DLC keypoints, SMPL RIFKE) turns its data into this and back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["LabelLayout", "Batch", "BatchSource", "Representation"]


@dataclass(frozen=True)
class LabelLayout:
    """How label channels govern feature channels.

    Attributes
    ----------
    n_features : int
        Number of motion feature channels ``D``.
    n_labels : int
        Number of label channels ``L`` (one per keypoint for DLC, one per frame for SMPL).
    label_of_feature : tuple of int
        Length ``D``. ``label_of_feature[d] = l`` means feature ``d`` is corrupted whenever
        label ``l`` is 1, and is regenerated when label ``l``'s entry is masked. A feature may
        depend on several labels (e.g. a bone length on two keypoints): list it under the
        first and put the others in ``extra_labels``.
    extra_labels : tuple of tuple of int
        Length ``D``; further label channels that also govern feature ``d`` (empty tuples
        for most features).
    names : tuple of str
        Optional feature names, for logs and error messages.
    """

    n_features: int
    n_labels: int
    label_of_feature: tuple[int, ...]
    extra_labels: tuple[tuple[int, ...], ...] = ()
    names: tuple[str, ...] = ()

    def feature_mask(self, label_mask: np.ndarray) -> np.ndarray:
        """Expand a label-level mask ``(..., L)`` to a feature-level mask ``(..., D)``.

        A feature is masked when any label that governs it is masked.
        """
        label_mask = np.asarray(label_mask, dtype=bool)
        out = label_mask[..., list(self.label_of_feature)]
        for d, extra in enumerate(self.extra_labels):
            for lab in extra:
                out[..., d] |= label_mask[..., lab]
        return out


@dataclass
class Batch:
    """One training batch, as numpy arrays (the core converts to tensors).

    Attributes
    ----------
    features : np.ndarray
        ``(B, T, D)`` float32 raw (un-normalised) features, finite everywhere
        (missing entries filled by the representation, e.g. by interpolation).
    labels : np.ndarray
        ``(B, T, L)`` float32 in {0, 1}: 1 = corrupted / suspect.
    observed : np.ndarray
        ``(B, T, D)`` bool: False where the feature value is unknown (missing data); the
        loss never uses unobserved targets.
    """

    features: np.ndarray
    labels: np.ndarray
    observed: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class BatchSource(Protocol):
    """Supplies training batches; may inject synthetic corruption on the fly."""

    def sample(self, rng: np.random.Generator, batch_size: int) -> Batch:
        """Return one batch of windows."""
        ...


@runtime_checkable
class Representation(Protocol):
    """What a data representation provides to the core."""

    name: str
    version: int

    @property
    def layout(self) -> LabelLayout:
        """Feature/label layout."""
        ...

    def spec(self) -> dict[str, Any]:
        """JSON-serialisable description saved into checkpoints and compared on load."""
        ...
