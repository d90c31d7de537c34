"""Tests of the default skeletons (stablemotion_dlc.dlc.skeleton) and their two users."""

from __future__ import annotations

import numpy as np
import pytest

from stablemotion_dlc.dlc import labels
from stablemotion_dlc.dlc import representation as features
from stablemotion_dlc.dlc.skeleton import median_distances, skeleton_edges
from stablemotion_dlc.dlc.tracks import Tracks


def _line_pose(t: int = 60, k: int = 6, seed: int = 0) -> np.ndarray:
    """``(T, K, 2)``: keypoints 10 px apart on a line, moving and jittering a little."""
    rng = np.random.default_rng(seed)
    pose = np.stack([np.arange(k) * 10.0, np.zeros(k)], axis=1)
    drift = np.cumsum(rng.normal(0, 2, size=(t, 1, 2)), axis=0)
    return pose[None] + drift + rng.normal(0, 0.1, size=(t, k, 2))


def test_median_distances() -> None:
    xy = _line_pose(k=4)
    xy[: len(xy) // 2, 3] = np.nan  # keypoints 2 and 3 ...
    xy[len(xy) // 2 :, 2] = np.nan  # ... never seen together
    d = median_distances(xy)
    assert d.shape == (4, 4)
    np.testing.assert_allclose(np.diag(d), 0.0)
    np.testing.assert_allclose(d, d.T)
    assert abs(d[0, 1] - 10.0) < 0.5 and abs(d[0, 3] - 30.0) < 0.5
    assert np.isnan(d[2, 3]) and np.isnan(d[3, 2])
    only_first = np.zeros(xy.shape[:2], bool)
    only_first[:5] = True
    np.testing.assert_allclose(median_distances(xy, only_first)[0, 1],
                               np.median(np.linalg.norm(xy[:5, 0] - xy[:5, 1], axis=-1)))
    with pytest.raises(ValueError, match="shape"):
        median_distances(np.zeros((5, 3)))


def test_mst_and_knn_differ_for_their_uses() -> None:
    xy = _line_pose(k=6)
    chain = [(j, j + 1) for j in range(5)]
    assert skeleton_edges(6, xy, method="mst") == chain  # a tree: K - 1 bones
    knn = skeleton_edges(6, xy, method="knn", n_neighbours=2)
    assert set(chain) < set(knn)  # every keypoint in at least two bones
    assert all(sum(j in e for e in knn) >= 2 for j in range(6))
    assert (0, 2) in knn and (3, 5) in knn
    assert set(skeleton_edges(6, xy, method="knn", n_neighbours=1)) < set(chain)
    allowed = np.ones((6, 6), bool)
    allowed[0, 1] = allowed[1, 0] = False
    assert (0, 1) not in skeleton_edges(6, xy, method="knn", allowed=allowed)


def test_mst_small_and_without_data() -> None:
    assert skeleton_edges(1, method="mst") == []
    assert skeleton_edges(3, method="mst") == [(0, 1), (0, 2), (1, 2)]
    assert skeleton_edges(6, method="mst") == [(j, j + 1) for j in range(5)]
    xy = _line_pose(k=6)[:, ::-1]  # reversed order: the tree follows the data, not the order
    xy[:10, 0] = np.nan
    xy[10:, 5] = np.nan  # keypoints 0 and 5 never together -> chain
    assert skeleton_edges(6, xy, method="mst") == [(j, j + 1) for j in range(5)]


def test_bad_method_and_missing_data() -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        skeleton_edges(5, _line_pose(k=5), method="nearest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs keypoint positions"):
        skeleton_edges(5, method="knn")
    assert skeleton_edges(1, method="knn") == []


def test_public_wrappers_use_the_shared_implementation() -> None:
    xy = _line_pose(k=6, seed=3)[:, ::-1].copy()
    names = [f"kp{j}" for j in range(6)]
    mst = skeleton_edges(6, xy, method="mst")
    assert features.default_skeleton(names, xy) == [(names[a], names[b]) for a, b in mst]
    tracks = Tracks.from_arrays(xy[:, None], np.full((len(xy), 1, 6), 0.9), bodyparts=names)
    knn = skeleton_edges(6, xy, method="knn")
    assert labels.default_skeleton(tracks) == knn
    assert labels.default_skeleton(tracks, n_neighbours=1) == skeleton_edges(
        6, xy, method="knn", n_neighbours=1)
