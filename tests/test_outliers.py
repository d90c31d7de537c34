"""Choosing outlier frames from cleaning's repairs, and the machine-label rewrite (no DLC)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stablemotion_dlc.dlc.io import write_tracks
from stablemotion_dlc.dlc.outliers import frame_scores, select_frames, write_machine_labels
from stablemotion_dlc.dlc.pipeline import GAP_FILLED, IDENTITY_FIXED, KEPT, REPLACED
from stablemotion_dlc.dlc.tracks import Tracks


def _tracks(xy: np.ndarray) -> Tracks:
    return Tracks.from_arrays(xy, np.full(xy.shape[:3], 0.9),
                              bodyparts=[chr(ord("a") + k) for k in range(xy.shape[2])],
                              scorer="DLC_Resnet50_tJan1shuffle1_snapshot_1")


def test_frame_scores_weigh_confident_repairs() -> None:
    raw = np.zeros((4, 1, 2, 2))
    cleaned = raw.copy()
    cleaned[1, 0, 0] = [3.0, 4.0]  # moved 5 px, replaced with p = 0.8
    cleaned[2, 0, 1] = [6.0, 8.0]  # moved 10 px, identity-fixed
    cleaned[3, 0, 0] = [30.0, 40.0]  # gap-filled: no network position to compare
    status = np.full((4, 1, 2), KEPT, np.uint8)
    status[1, 0, 0], status[2, 0, 1], status[3, 0, 0] = REPLACED, IDENTITY_FIXED, GAP_FILLED
    prob = np.full((4, 1, 2), 0.8, np.float32)
    s = frame_scores(_tracks(raw), _tracks(cleaned), status, prob)
    np.testing.assert_allclose(s, [0.0, 4.0, 10.0, 0.0 * 50], rtol=1e-6)
    with pytest.raises(ValueError, match="shapes"):
        frame_scores(_tracks(raw), _tracks(cleaned), status[:3], prob)


def test_select_frames_largest_spread_in_time_and_over_videos() -> None:
    a = np.zeros(100)
    a[[10, 11, 12, 50, 90]] = [9.0, 8.5, 8.0, 5.0, 1.0]
    b = np.zeros(100)
    b[[30, 70]] = [4.0, 3.0]
    picks = select_frames([a, b], 4, min_gap=5)
    # 10 first; 11/12 too close; b's 30 (4) beats a's 50 (5 / 2); then a's 50, then b's 70
    assert picks == [[10, 50], [30, 70]]
    assert select_frames([a, b], 3, min_gap=5, per_video=1) == [[10], [30]]
    allowed = np.ones(100, bool)
    allowed[10] = False
    assert select_frames([a], 1, min_gap=1, allowed=[allowed]) == [[11]]
    assert select_frames([a, b], 0) == [[], []]
    assert select_frames([np.zeros(5)], 3) == [[]]  # no repair, no frame


def test_write_machine_labels_replaces_only_the_chosen_rows(tmp_path) -> None:
    rng = np.random.default_rng(0)
    raw_xy = rng.uniform(0, 100, (20, 1, 2, 2))
    cleaned_xy = raw_xy.copy()
    cleaned_xy[[3, 7]] += 25.0
    raw_h5, cleaned_h5 = tmp_path / "raw.h5", tmp_path / "clean.h5"
    write_tracks(_tracks(raw_xy), raw_h5)
    write_tracks(_tracks(cleaned_xy), cleaned_h5)
    # what DLC writes: the network's rows, shifted by a crop offset of (+5, -2)
    df = pd.read_hdf(raw_h5)
    shifted = df.copy()
    shifted.loc[:, shifted.columns.get_level_values("coords") == "x"] += 5.0
    shifted.loc[:, shifted.columns.get_level_values("coords") == "y"] -= 2.0
    rows = shifted.iloc[[3, 7, 12]]
    rows.index = pd.MultiIndex.from_tuples([("labeled-data", "v", f"img{f:02d}.png")
                                            for f in (3, 7, 12)])
    machine = tmp_path / "machinelabels-iter0.h5"
    rows.to_hdf(machine, key="df_with_missing", mode="w")
    assert write_machine_labels(machine, "v", [3, 7], raw_h5, cleaned_h5) == 2
    back = pd.read_hdf(machine, "df_with_missing")
    assert list(back.columns) == list(rows.columns) and list(back.index) == list(rows.index)
    x = back.xs("x", level="coords", axis=1).to_numpy()
    np.testing.assert_allclose(x[0], cleaned_xy[3, 0, :, 0] + 5.0)
    np.testing.assert_allclose(x[1], cleaned_xy[7, 0, :, 0] + 5.0)
    np.testing.assert_allclose(x[2], raw_xy[12, 0, :, 0] + 5.0)  # another row: untouched
    assert (tmp_path / "machinelabels.csv").is_file()
    # the same DLC file, rewritten a second later, gives the same bytes (no HDF5 times)
    import time

    again = tmp_path / "again" / "machinelabels-iter0.h5"
    again.parent.mkdir()
    rows.to_hdf(again, key="df_with_missing", mode="w")
    time.sleep(1.1)
    assert write_machine_labels(again, "v", [3, 7], raw_h5, cleaned_h5) == 2
    assert again.read_bytes() == machine.read_bytes()
    with pytest.raises(Exception, match="no row"):
        write_machine_labels(machine, "v", [5], raw_h5, cleaned_h5)


def test_write_machine_labels_twice_changes_nothing(tmp_path) -> None:
    """A frame extracted again keeps the row an earlier call wrote (DeepLabCut keeps the
    first row of a duplicated frame): rewriting it must not shift it a second time."""
    rng = np.random.default_rng(1)
    raw_xy = rng.uniform(0, 100, (20, 1, 3, 2))
    cleaned_xy = raw_xy.copy()
    cleaned_xy[3, 0, 1] += 30.0  # one of three points changed
    cleaned_xy[7, 0, :] += 40.0  # every point changed (an identity fix, say)
    raw_h5, cleaned_h5 = tmp_path / "raw.h5", tmp_path / "clean.h5"
    write_tracks(_tracks(raw_xy), raw_h5)
    write_tracks(_tracks(cleaned_xy), cleaned_h5)
    df = pd.read_hdf(raw_h5)
    shifted = df.copy()  # DLC's rows of a cropped analysis: shifted by (+5, -2)
    shifted.loc[:, shifted.columns.get_level_values("coords") == "x"] += 5.0
    shifted.loc[:, shifted.columns.get_level_values("coords") == "y"] -= 2.0
    rows = shifted.iloc[[3, 7]]
    rows.index = pd.MultiIndex.from_tuples([("labeled-data", "v", f"img{f:02d}.png")
                                            for f in (3, 7)])
    machine = tmp_path / "machinelabels-iter0.h5"
    rows.to_hdf(machine, key="df_with_missing", mode="w")
    assert write_machine_labels(machine, "v", [3, 7], raw_h5, cleaned_h5) == 2
    first = pd.read_hdf(machine, "df_with_missing")
    x = first.xs("x", level="coords", axis=1).to_numpy()
    y = first.xs("y", level="coords", axis=1).to_numpy()
    np.testing.assert_allclose(x, cleaned_xy[[3, 7], 0, :, 0] + 5.0)
    np.testing.assert_allclose(y, cleaned_xy[[3, 7], 0, :, 1] - 2.0)
    assert write_machine_labels(machine, "v", [3, 7], raw_h5, cleaned_h5) == 2
    pd.testing.assert_frame_equal(pd.read_hdf(machine, "df_with_missing"), first)


def test_frames_already_in_labeled_data_are_known(tmp_path) -> None:
    from stablemotion_dlc.dlc.outliers import _extracted

    for name in ("img003.png", "img120.png", "img999.png", "imgx.png", "other.png"):
        (tmp_path / name).write_bytes(b"")
    have = _extracted(tmp_path, 200)
    assert np.flatnonzero(have).tolist() == [3, 120]  # 999 is past the video's end
    assert not _extracted(tmp_path / "absent", 10).any()


def test_cli_has_extract_outliers() -> None:
    from stablemotion_dlc.cli import build_parser

    args = build_parser().parse_args(["extract-outliers", "v.mp4", "--config", "c.yaml",
                                      "-n", "7"])
    assert args.n == 7 and args.handler.__name__ == "_cmd_extract_outliers"
