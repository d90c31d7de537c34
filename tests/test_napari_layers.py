"""Pure layer conversions of the napari plugin (no viewer, no Qt event loop)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_plugin._layers import (
    STATUS_SYMBOLS,
    individual_colors,
    keypoint_colors,
    points_data,
    reason_text,
    skeleton_pairs,
    skeleton_vectors,
    trajectory_data,
)
from stablemotion_dlc.dlc.tracks import Tracks


def _tracks() -> Tracks:
    """2 animals x 3 keypoints x 4 frames moving right 1 px/frame, one point missing."""
    f = np.arange(4)[:, None, None]
    x = 10.0 * np.arange(3)[None, None, :] + f + 100.0 * np.arange(2)[None, :, None]
    y = np.broadcast_to(5.0 + np.arange(2)[None, :, None], x.shape)
    xy = np.stack([x, y], -1).astype(float)
    xy[2, 1, 0] = np.nan
    lik = np.full(xy.shape[:3], 0.9)
    return Tracks.from_arrays(xy, lik, bodyparts=["snout", "ear", "tail"],
                              individuals=["m1", "m2"])


def test_points_data_layout_colours_and_suspects() -> None:
    tr = _tracks()
    suspect = np.zeros(tr.xy.shape[:3], bool)
    suspect[1, 0, 2] = True
    reasons = np.zeros(tr.xy.shape[:3], np.uint8)
    reasons[1, 0, 2] = 1 | 4
    pd_ = points_data(tr, suspect=suspect, reasons=reasons,
                      reason_names={1: "low_likelihood", 4: "jump"})
    assert len(pd_) == 4 * 2 * 3 - 1  # the NaN point is left out
    row = np.flatnonzero((pd_.index == [1, 0, 2]).all(1))[0]
    np.testing.assert_allclose(pd_.data[row], [1, 5.0, 21.0])  # (frame, y, x)
    assert pd_.symbol[row] == "x" and (pd_.symbol == "x").sum() == 1
    assert pd_.features["reason"][row] == "low_likelihood,jump"
    assert pd_.features["keypoint"][row] == "tail" and pd_.features["individual"][row] == "m1"
    # the suspect point is high-contrast: magenta face, black border, drawn larger
    np.testing.assert_allclose(pd_.face_color[row], [1, 0, 1, 1])
    np.testing.assert_allclose(pd_.border_color[row], [0, 0, 0, 1])
    assert pd_.scale[row] == pytest.approx(1.6) and (pd_.scale == 1).sum() == len(pd_) - 1
    # the others: one colour per keypoint, one border per individual
    ok = pd_.symbol != "x"
    for k in range(3):
        sel = ok & (pd_.index[:, 2] == k)
        assert len(np.unique(pd_.face_color[sel], axis=0)) == 1
    assert len(np.unique(pd_.face_color[ok], axis=0)) == 3
    assert len(np.unique(pd_.border_color[ok], axis=0)) == 2


def test_points_data_status_and_crop_offset() -> None:
    tr = _tracks()
    tr.meta["cropping"] = True
    tr.meta["cropping_parameters"] = [50.0, 400.0, 20.0, 300.0]
    status = np.zeros(tr.xy.shape[:3], np.uint8)
    status[0, 1, 1] = 1
    status[3, 0, 0] = 2
    pd_ = points_data(tr, status=status)
    row = np.flatnonzero((pd_.index == [0, 1, 1]).all(1))[0]
    np.testing.assert_allclose(pd_.data[row], [0, 6.0 + 20, 110.0 + 50])
    assert pd_.symbol[row] == STATUS_SYMBOLS[1] and pd_.features["status"][row] == "replaced"
    assert set(pd_.features["status"]) == {"kept", "replaced", "gap-filled"}
    with pytest.raises(ValueError, match="status has shape"):
        points_data(tr, status=status[:2])


def test_trajectory_data_sorted_without_nan() -> None:
    tr = _tracks()
    clean = tr.copy()
    clean.xy[2, 1, 0] = [102.0, 6.0]
    data, props = trajectory_data([tr, clean], individual=1, keypoint=0)
    assert data.shape == (3 + 4, 4)
    assert list(data[:, 0]) == [0, 0, 0, 1, 1, 1, 1]
    assert list(data[:3, 1]) == [0, 1, 3]  # the missing raw frame is skipped
    np.testing.assert_allclose(data[5], [1, 2, 6.0, 102.0])
    assert list(props["version"]) == list(data[:, 0].astype(int))


def test_skeleton_pairs_and_vectors() -> None:
    tr = _tracks()
    pairs = skeleton_pairs(tr.bodyparts, [("snout", "ear"), ("ear", "paw"), [1, 2],
                                          ("ear", "snout")])
    assert pairs == [(0, 1), (1, 2), (1, 0)]
    vec = skeleton_vectors(tr, [(0, 1)])
    assert vec.shape == (4 * 2 - 1, 2, 3)  # frame 2 of m2 has no snout
    np.testing.assert_allclose(vec[0], [[0, 5.0, 0.0], [0, 0.0, 10.0]])
    assert skeleton_vectors(tr, []).shape == (0, 2, 3)


def test_colour_helpers() -> None:
    assert keypoint_colors(5).shape == (5, 4) and len(np.unique(keypoint_colors(5), axis=0)) == 5
    assert keypoint_colors(0).shape == (0, 4)
    ind = individual_colors(4)
    assert ind.shape == (4, 4) and len(np.unique(ind, axis=0)) == 4
    names = reason_text(np.array([0, 2, 6]), {2: "missing", 4: "jump"})
    assert list(names) == ["", "missing", "missing,jump"]


def test_parse_progress_forms() -> None:
    pytest.importorskip("qtpy")
    from napari_plugin._worker import parse_progress

    assert parse_progress(0.25) == (0.25, "")
    assert parse_progress(3, 12) == (0.25, "")
    assert parse_progress(3, total=12, message="windows") == (0.25, "windows")
    assert parse_progress(1, 4, "steps") == (0.25, "steps")
    assert parse_progress("loading") == (None, "loading")
    assert parse_progress(fraction=0.5) == (0.5, "")
    assert parse_progress(20, 10)[0] == 1.0
