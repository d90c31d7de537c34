"""The one seam between the diffusion core and a data representation.

``core`` never knows what a keypoint or an SMPL joint is. It sees windows of features
``(batch, frames, D)`` with per-entry quality labels ``(batch, frames, L)`` and the mapping
``label_of_feature`` saying which label channel governs each feature channel.
A representation (DLC keypoints, SMPL RIFKE) turns its data into this and back:

- ``encode(data, ...) -> Encoded`` (features, prior labels, observed mask, decode context);
- ``decode(features, context) -> data``;
- ``layout`` (:class:`LabelLayout`), ``spec()`` (what a checkpoint records and checks) and
  ``from_spec(spec)`` (rebuild it from a checkpoint);
- ``to_window(features) -> (features, frame)`` / ``from_window(features, frame)``: how one
  window of a long sequence is placed for the network (identity for translation-invariant
  features; SMPL RIFKE puts each window's first frame at the origin facing +X, as training
  does).

:func:`stablemotion_dlc.core.train.train` and
:meth:`stablemotion_dlc.core.inference.Cleaner.from_file` take the representation itself.
A new representation implements this protocol and passes ``tests/test_representation_
conformance.py``; nothing in ``core`` changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["LabelLayout", "Batch", "BatchSource", "Encoded", "Representation",
           "layout_mismatch"]


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


@dataclass
class Encoded:
    """One sequence encoded for the core (what :meth:`Representation.encode` returns).

    Attributes
    ----------
    features : np.ndarray
        ``(T, D)`` raw (un-normalised) features, finite everywhere.
    labels : np.ndarray
        ``(T, L)`` float32 prior labels in ``[0, 1]`` (1 = suspect or missing), e.g. from the
        data's own quality signals; zeros when the representation has none.
    observed : np.ndarray
        ``(T, D)`` bool, False where the feature value is unknown (filled).
    context : Any
        Whatever :meth:`Representation.decode` needs besides the features (a pixel origin,
        a skeleton and a floor height...).
    """

    features: np.ndarray
    labels: np.ndarray
    observed: np.ndarray
    context: Any = None


@runtime_checkable
class Representation(Protocol):
    """What a data representation provides to the core (see the module docstring)."""

    name: str
    version: int
    #: True when :meth:`to_window` moves windows (the core then places every window);
    #: False when it is the identity (features already invariant).
    places_windows: bool

    @property
    def layout(self) -> LabelLayout:
        """Feature/label layout."""
        ...

    def spec(self) -> dict[str, Any]:
        """JSON-serialisable description saved into checkpoints and compared on load."""
        ...

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Representation:
        """Rebuild the representation from :meth:`spec` output (e.g. from a checkpoint)."""
        ...

    def encode(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        """Encode data into an object with the attributes of :class:`Encoded`."""
        ...

    def decode(self, features: np.ndarray, context: Any = None) -> Any:
        """Data back from raw features ``(T, D)`` and the ``context`` of :meth:`encode`."""
        ...

    def to_window(self, features: np.ndarray) -> tuple[np.ndarray, Any]:
        """Place one window ``(w, D)`` of raw features as the network saw it in training.

        Returns the placed features and a ``frame`` for :meth:`from_window`.
        """
        ...

    def from_window(self, features: np.ndarray, frame: Any) -> np.ndarray:
        """Invert :meth:`to_window` on (generated) features ``(w, D)``."""
        ...


def layout_mismatch(found: LabelLayout, expected: LabelLayout) -> str | None:
    """Why two layouts differ (None when they are the same), for error messages.

    Parameters
    ----------
    found : LabelLayout
        The model's layout.
    expected : LabelLayout
        The representation's layout.

    Returns
    -------
    str or None
    """
    if (found.n_features, found.n_labels) != (expected.n_features, expected.n_labels):
        return (f"model has {found.n_features} features / {found.n_labels} labels, the "
                f"representation {expected.n_features} / {expected.n_labels}")
    if tuple(found.label_of_feature) != tuple(expected.label_of_feature):
        return "the label channel governing each feature differs"
    fe = tuple(tuple(e) for e in found.extra_labels) or ((),) * found.n_features
    ee = tuple(tuple(e) for e in expected.extra_labels) or ((),) * expected.n_features
    if fe != ee:
        return "the extra label channels of the features differ"
    return None
