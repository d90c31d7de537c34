"""Metrics on hand-made cases with known values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stablemotion_dlc.evaluate import metrics as M


def _line(t: int = 50, i: int = 1, k: int = 3) -> np.ndarray:
    """Uniform linear motion: x = frame + 10 k, y = 2 frame (zero acceleration)."""
    f = np.arange(t, dtype=float)
    xy = np.zeros((t, i, k, 2))
    xy[..., 0] = f[:, None, None] + 10.0 * np.arange(k)[None, None, :]
    xy[..., 1] = 2.0 * f[:, None, None]
    return xy


def test_point_error_rmse_median_known_values():
    truth = np.zeros((4, 1, 1, 2))
    pred = truth.copy()
    pred[:, 0, 0, 0] = [3.0, 0.0, 0.0, 4.0]  # errors 3, 0, 0, 4
    assert M.point_error(pred, truth).ravel().tolist() == [3.0, 0.0, 0.0, 4.0]
    assert M.rmse(pred, truth) == pytest.approx(np.sqrt((9 + 16) / 4))
    assert M.median_error(pred, truth) == pytest.approx(1.5)
    mask = np.array([True, False, False, True]).reshape(4, 1, 1)
    assert M.rmse(pred, truth, mask) == pytest.approx(np.sqrt(12.5))


def test_pck_and_coverage_with_missing_predictions():
    truth = np.zeros((5, 1, 1, 2))
    pred = truth.copy()
    pred[:, 0, 0, 0] = [1.0, 6.0, 11.0, 0.0, np.nan]
    assert M.pck(pred, truth, 5) == pytest.approx(2 / 4)
    assert M.pck(pred, truth, 10) == pytest.approx(3 / 4)
    assert M.pck(pred, truth, 10, missing_as_failure=True) == pytest.approx(3 / 5)
    assert M.coverage(pred, truth) == pytest.approx(4 / 5)
    stats = M.error_stats(pred, truth)
    assert stats["n_truth"] == 5 and stats["n_scored"] == 4
    assert stats["coverage"] == pytest.approx(0.8)
    assert stats["pck5"] == pytest.approx(0.5) and stats["pck10"] == pytest.approx(0.75)


def test_points_without_truth_are_not_scored():
    truth = np.zeros((3, 1, 1, 2))
    truth[1] = np.nan
    pred = np.ones((3, 1, 1, 2))
    assert M.coverage(pred, truth) == 1.0
    assert M.error_stats(pred, truth)["n_truth"] == 2


def test_detection_scores_known_confusion():
    corrupted = np.array([1, 1, 1, 0, 0, 0, 0, 0], bool).reshape(8, 1, 1)
    detected = np.array([1, 1, 0, 1, 0, 0, 0, 0], bool).reshape(8, 1, 1)
    d = M.detection_scores(detected, corrupted)
    assert (d["tp"], d["fp"], d["fn"], d["tn"]) == (2, 1, 1, 4)
    assert d["precision"] == pytest.approx(2 / 3)
    assert d["recall"] == pytest.approx(2 / 3)
    assert d["f1"] == pytest.approx(2 / 3)
    none = M.detection_scores(np.zeros_like(detected), corrupted)
    assert np.isnan(none["precision"]) and none["recall"] == 0.0


def test_auroc_perfect_inverted_tied_and_random():
    rng = np.random.default_rng(0)
    c = rng.random((2000, 1, 3)) < 0.2
    assert M.auroc(c.astype(float), c) == pytest.approx(1.0)
    assert M.auroc(-c.astype(float), c) == pytest.approx(0.0)
    assert M.auroc(np.ones(c.shape), c) == pytest.approx(0.5)
    assert M.auroc(rng.random(c.shape), c) == pytest.approx(0.5, abs=0.05)
    # small case against the pairwise definition (ties count 1/2)
    s = np.array([0.1, 0.4, 0.4, 0.8, 0.3]).reshape(5, 1, 1)
    y = np.array([0, 1, 0, 1, 0], bool).reshape(5, 1, 1)
    pos, neg = s[y], s[~y]
    pairs = (pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean()
    assert M.auroc(s, y) == pytest.approx(pairs)
    assert np.isnan(M.auroc(s, np.zeros_like(y)))


def test_acceleration_reduction_of_smoothed_signal_is_positive():
    rng = np.random.default_rng(1)
    clean = _line(200)
    noisy = clean + rng.normal(0, 1.0, clean.shape)
    kernel = np.ones(5) / 5
    smooth = noisy.copy()
    for idx in np.ndindex(noisy.shape[1:]):
        col = noisy[(slice(None),) + idx]
        smooth[(slice(None),) + idx][2:-2] = np.convolve(col, kernel, mode="valid")
    assert M.acceleration_reduction(noisy, smooth) > 0.5
    assert M.acceleration_reduction(noisy, noisy) == pytest.approx(0.0)
    assert M.acceleration_reduction(smooth, noisy) < 0


def test_trajectory_correlation_and_displacement():
    rng = np.random.default_rng(2)
    a = _line(100) + rng.normal(0, 5, (100, 1, 3, 2))
    assert M.trajectory_correlation(a, a) == pytest.approx(1.0)
    assert M.trajectory_correlation(a, 3 * a + 7) == pytest.approx(1.0)
    assert M.trajectory_correlation(a, -a) == pytest.approx(-1.0)
    b = a.copy()
    b[10:20] = np.nan  # missing frames are skipped, not propagated
    assert M.trajectory_correlation(a, b) == pytest.approx(1.0)
    shifted = a + np.array([3.0, 4.0])
    assert M.mean_displacement(a, shifted) == pytest.approx(5.0)


def test_jerk_zero_for_quadratic_motion():
    f = np.arange(30, dtype=float)
    xy = np.zeros((30, 1, 1, 2))
    xy[:, 0, 0, 0] = 0.5 * f**2
    assert M.jerk(xy) == pytest.approx(0.0)
    xy[15, 0, 0, 0] += 1.0
    assert M.jerk(xy) > 0


def test_bone_cv_rigid_body_is_zero_and_stretch_is_not():
    rng = np.random.default_rng(3)
    t = 100
    body = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 5.0]])
    ang = rng.uniform(0, 2 * np.pi, t)
    rot = np.stack([np.stack([np.cos(ang), -np.sin(ang)], -1),
                    np.stack([np.sin(ang), np.cos(ang)], -1)], -2)  # (T, 2, 2)
    xy = (np.einsum("tij,kj->tki", rot, body) + rng.uniform(0, 500, (t, 1, 2)))[:, None]
    skel = [(0, 1), (1, 2), (0, 2)]
    cv = M.bone_length_cv(xy, skel)
    assert cv.shape == (1, 3)
    np.testing.assert_allclose(cv, 0.0, atol=1e-12)
    stretched = xy.copy()
    stretched[::2, 0, 1] += 3.0
    assert np.nanmean(M.bone_length_cv(stretched, skel)) > 0.01
    with pytest.raises(ValueError, match="skeleton"):
        M.bone_length_cv(xy, [(0, 5)])


def test_untouched_moved_counts_only_clean_points():
    truth = _line(10)
    pred = truth.copy()
    corrupted = np.zeros(truth.shape[:3], bool)
    corrupted[0, 0, 0] = True
    pred[0, 0, 0] += 100.0  # corrupted point: ignored
    pred[1, 0, 0] += 3.0  # clean point moved by 3 px
    pred[2, 0, 0] = np.nan  # clean point lost
    out = M.untouched_moved(pred, truth, corrupted)
    n_clean = truth.shape[0] * 3 - 1
    assert out["moved_share"] == pytest.approx(1 / (n_clean - 1))
    assert out["moved_median"] == 0.0
    assert out["untouched_coverage"] == pytest.approx((n_clean - 1) / n_clean)


def _scenario():
    rng = np.random.default_rng(4)
    truth = _line(60, i=2, k=3)
    kinds = np.zeros(truth.shape[:3], np.int8)
    kinds[10:15, 0, 0] = 3  # jump_bodypart
    kinds[30:33, 1, 2] = 7  # dropout
    inp = truth.copy()
    inp[10:15, 0, 0, 0] += 50.0
    inp[30:33, 1, 2] = np.nan
    pred = truth + rng.normal(0, 0.5, truth.shape)
    pred[10:15, 0, 0, 0] += 4.0  # repaired, about 4 px off
    pred[31, 1, 2] = np.nan  # one dropout frame not filled
    return truth, inp, pred, kinds


def test_per_kind_table():
    from stablemotion_dlc.dlc.corruption import ALL_KINDS

    truth, inp, pred, kinds = _scenario()
    det = kinds != 0
    table = M.per_kind(pred, truth, kinds, ALL_KINDS, input_xy=inp, detection=det,
                       score=det.astype(float))
    assert isinstance(table, pd.DataFrame)
    assert table["kind"].tolist() == ["clean", "jump_bodypart", "dropout"]
    jb = table.set_index("kind").loc["jump_bodypart"]
    assert jb["n_truth"] == 5 and jb["coverage"] == 1.0
    assert jb["input_median_error"] == pytest.approx(50.0)
    assert jb["recall"] == 1.0 and jb["auroc"] == 1.0
    dr = table.set_index("kind").loc["dropout"]
    assert dr["coverage"] == pytest.approx(2 / 3)
    assert table.set_index("kind").loc["clean", "false_positive_rate"] == 0.0


def test_evaluate_summary_and_tables():
    truth, inp, pred, kinds = _scenario()
    corrupted = kinds != 0
    res = M.evaluate(pred, truth, corrupted, kinds, input_xy=inp, detection=corrupted,
                     score=corrupted.astype(float), skeleton=[(0, 1), (1, 2)],
                     keypoint_names=["a", "b", "c"])
    s = res.summary
    assert s["corrupted_n_truth"] == 8 and s["corrupted_n_scored"] == 7
    assert s["corrupted_coverage"] == pytest.approx(7 / 8)
    assert s["clean_coverage"] == 1.0
    assert s["clean_rmse"] < 1.5 < s["corrupted_rmse"]
    assert s["precision"] == 1.0 and s["recall"] == 1.0 and s["f1"] == 1.0
    assert s["auroc"] == 1.0
    assert s["input_corrupted_rmse"] == pytest.approx(50.0)
    assert 0.0 <= s["moved_share"] < 0.05
    assert s["acceleration_reduction"] == pytest.approx(M.acceleration_reduction(inp, pred))
    assert s["trajectory_correlation"] > 0.9
    assert s["truth_bone_cv"] == pytest.approx(0.0, abs=1e-12)
    assert set(res.per_keypoint["keypoint"]) == {"a", "b", "c"}
    assert res.to_series("x")["clean_coverage"] == 1.0
    with pytest.raises(ValueError, match="kinds"):
        M.evaluate(pred, truth, corrupted, np.zeros_like(kinds))
    with pytest.raises(ValueError, match="shape"):
        M.evaluate(pred[:5], truth, corrupted)


def test_metrics_do_not_modify_inputs():
    truth, inp, pred, kinds = _scenario()
    copies = [a.copy() for a in (truth, inp, pred, kinds)]
    M.evaluate(pred, truth, kinds != 0, kinds, input_xy=inp)
    for a, b in zip((truth, inp, pred, kinds), copies):
        np.testing.assert_array_equal(a, b)


def test_evaluate_tracks_uses_names_and_skips_absent_cells():
    from stablemotion_dlc.dlc.tracks import Tracks

    truth, inp, pred, kinds = _scenario()
    names = ["nose", "ear", "tail"]
    t_truth = Tracks.from_arrays(truth, None, bodyparts=names, individuals=["m1", "m2"])
    t_pred = Tracks.from_arrays(pred, None, bodyparts=names, individuals=["m1", "m2"])
    res = M.evaluate_tracks(t_pred, t_truth, kinds != 0, kinds=kinds)
    direct = M.evaluate(pred, truth, kinds != 0, kinds, keypoint_names=names)
    assert res.summary == direct.summary
    assert set(res.per_keypoint["keypoint"]) == set(names)
