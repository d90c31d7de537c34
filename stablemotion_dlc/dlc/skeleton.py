"""Default skeletons: bones between keypoints when the DLC config gives none.

One implementation, :func:`skeleton_edges`, serves two uses that need different graphs, picked
with ``method``:

``"mst"`` (the feature representation, :func:`.features.default_skeleton`)
    A minimum spanning tree over the median keypoint distances: ``K - 1`` bones that connect
    every keypoint with no redundant bone. The bone lengths are feature channels
    (``D = 4 + 4 K + 2 B``), so the graph must stay small and is part of a model's feature
    layout (saved models record their skeleton, so this default never changes a trained
    model). Up to 4 keypoints get every pair; without data (or when some pair of keypoints is
    never seen together) a chain in bodypart order.

``"knn"`` (the BONE rule of :func:`.labels.suspect_mask`, the napari skeleton layer)
    Each keypoint joined to its ``n_neighbours`` nearest keypoints (the union of those
    edges). The BONE rule blames a wrong bone on the end whose *other* bones are also wrong,
    which needs keypoints in at least two bones; in a tree every leaf has only one.

Both measure a pair's distance as the median, over frames and individuals, of the distance
between the two keypoints where both are usable (:func:`median_distances`).
"""

from __future__ import annotations

import logging
import warnings
from typing import Literal

import numpy as np

__all__ = ["SKELETON_METHODS", "median_distances", "skeleton_edges"]

logger = logging.getLogger(__name__)

SKELETON_METHODS: tuple[str, ...] = ("mst", "knn")
"""Allowed values of ``skeleton_edges(method=...)``."""


def median_distances(xy: np.ndarray, ok: np.ndarray | None = None) -> np.ndarray:
    """Median distance between every two keypoints.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, K, 2)`` or ``(T, I, K, 2)`` pixel coordinates, NaN where missing.
    ok : np.ndarray, optional
        ``(T, K)`` or ``(T, I, K)`` bool, the points to use; default every finite point.

    Returns
    -------
    np.ndarray
        ``(K, K)`` float64, symmetric with a zero diagonal where the keypoint is ever seen;
        NaN for pairs never usable together (in the same frame and individual).
    """
    a = np.asarray(xy, dtype=np.float64)
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4 or a.shape[-1] != 2:
        raise ValueError(f"xy must have shape (T, K, 2) or (T, I, K, 2), got {np.shape(xy)}")
    k = a.shape[2]
    if ok is None:
        use = np.isfinite(a).all(axis=-1)
    else:
        use = np.asarray(ok, dtype=bool).reshape(a.shape[:3])
    flat = a.reshape(-1, k, 2)
    use = use.reshape(-1, k)
    out = np.full((k, k), np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: pair never seen
        for p in range(k):
            dist = np.linalg.norm(flat[:, p : p + 1] - flat, axis=-1)  # (N, K)
            both = use[:, p : p + 1] & use
            out[p] = np.nanmedian(np.where(both, dist, np.nan), axis=0)
    return out


def skeleton_edges(
    n_keypoints: int,
    xy: np.ndarray | None = None,
    ok: np.ndarray | None = None,
    *,
    method: Literal["mst", "knn"] = "mst",
    n_neighbours: int = 2,
    allowed: np.ndarray | None = None,
) -> list[tuple[int, int]]:
    """Bones of a default skeleton as keypoint-index pairs.

    Parameters
    ----------
    n_keypoints : int
        Number of keypoints ``K``.
    xy : np.ndarray, optional
        ``(T, K, 2)`` or ``(T, I, K, 2)`` tracks the distances are measured on. Required for
        ``"knn"``; for ``"mst"`` None gives a chain in keypoint order.
    ok : np.ndarray, optional
        ``(T, K)`` or ``(T, I, K)`` bool points to use; default every finite point.
    method : {"mst", "knn"}
        ``"mst"``: a minimum spanning tree (the feature representation's skeleton; every pair
        for up to 4 keypoints, a chain when some pair is never seen together). ``"knn"``: the
        union of each keypoint's ``n_neighbours`` nearest keypoints (the BONE rule's
        skeleton). See the module docstring for why the two differ.
    n_neighbours : int, default 2
        Neighbours per keypoint for ``"knn"``.
    allowed : np.ndarray, optional
        ``(K, K)`` bool, pairs that may be joined (``"knn"`` only); default all.

    Returns
    -------
    list of (int, int)
        Sorted edges ``(a, b)`` with ``a < b``.
    """
    k = int(n_keypoints)
    if method == "mst":
        if k <= 1:
            return []
        if k <= 4:
            return [(a, b) for a in range(k) for b in range(a + 1, k)]
        if xy is not None:
            d = median_distances(xy, ok)
            if np.isfinite(d).all():
                from scipy.sparse.csgraph import minimum_spanning_tree

                w = d + 1e-6  # zero distances would read as "no edge"
                np.fill_diagonal(w, 0.0)
                mst = minimum_spanning_tree(w).tocoo()
                return sorted(
                    (int(min(r, c)), int(max(r, c)))
                    for r, c in zip(mst.row, mst.col, strict=True)
                )
            logger.info("some keypoint pairs never co-occur; using a chain skeleton")
        return [(j, j + 1) for j in range(k - 1)]
    if method == "knn":
        if k < 2:
            return []
        if xy is None:
            raise ValueError("method='knn' needs keypoint positions (xy)")
        d = median_distances(xy, ok)
        med = np.where(np.isfinite(d), d, np.inf)
        np.fill_diagonal(med, np.inf)
        if allowed is not None:
            med[~np.asarray(allowed, dtype=bool)] = np.inf
        edges: set[tuple[int, int]] = set()
        for a in range(k):
            for b in np.argsort(med[a])[:n_neighbours]:
                if np.isfinite(med[a, b]):
                    edges.add((min(a, int(b)), max(a, int(b))))
        return sorted(edges)
    raise ValueError(f"method must be one of {SKELETON_METHODS}, got {method!r}")
