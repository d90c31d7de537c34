"""Jitter gets smoothed, and nothing else moves."""

from __future__ import annotations

import numpy as np

from stablemotion_dlc.dlc.repair import smooth_jitter


def _walk(n: int = 1500, seed: int = 0) -> np.ndarray:
    """(T, 3, 2): a body turning and speeding up, with DLC-like 0.3 px noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    centre = np.stack([300 + 150 * np.sin(t / 90.0), 250 + 120 * np.sin(t / 55.0)], -1)
    offs = np.array([[20.0, 0.0], [0.0, 10.0], [-25.0, 0.0]])
    return centre[:, None] + offs + rng.normal(0, 0.3, (n, 3, 2))


def test_jitter_stretch_smoothed_and_clean_points_untouched():
    truth = _walk()
    noisy = truth.copy()
    rng = np.random.default_rng(1)
    noisy[600:700, 1] += rng.normal(0, 3.0, (100, 2))
    ok = np.ones(noisy.shape[:2], bool)
    out, smoothed, radius = smooth_jitter(noisy, ok)
    err_in = np.linalg.norm(noisy[600:700, 1] - truth[600:700, 1], axis=-1)
    err_out = np.linalg.norm(out[600:700, 1] - truth[600:700, 1], axis=-1)
    assert np.sqrt(np.mean(err_out**2)) < 0.6 * np.sqrt(np.mean(err_in**2))
    assert smoothed[610:690, 1].all()
    # keypoints 0 and 2 never jittered: bit-identical; keypoint 1 away from the stretch too
    np.testing.assert_array_equal(out[:, [0, 2]], noisy[:, [0, 2]])
    far = np.ones(len(out), bool)
    far[590:710] = False
    np.testing.assert_array_equal(out[far, 1], noisy[far, 1])
    # a stated 90 % interval that is about right
    inside = (err_out <= radius[600:700, 1]).mean()
    assert 0.7 <= inside <= 1.0


def test_points_not_allowed_are_never_changed():
    noisy = _walk()
    noisy[600:700, 1] += np.random.default_rng(2).normal(0, 3.0, (100, 2))
    ok = np.ones(noisy.shape[:2], bool)
    ok[:, 1] = False
    out, smoothed, _ = smooth_jitter(noisy, ok)
    assert not smoothed.any()
    np.testing.assert_array_equal(out, noisy)


def _stepping(n: int = 600, seed: int = 0) -> np.ndarray:
    """(T, 2, 2): a body walking at 4 px/frame and a paw that steps: planted 3 frames, then
    one 16 px swing (a running mouse at 30 fps), with 0.7 px noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    body = np.stack([100 + 4.0 * t, 200 + 0 * t], -1).astype(float)
    paw = body.copy()
    paw[:, 0] = 100 + 16.0 * (t // 4) + 8.0
    paw[:, 1] += 12.0
    return np.stack([body, paw], 1) + rng.normal(0, 0.7, (n, 2, 2))


def test_a_stepping_paw_marked_as_jitter_keeps_its_steps():
    """A fit would cut the steps into a ramp (4-6 px off): the residuals lie along the
    path, not every way round, so the stretch is left as observed."""
    xy = _stepping()
    hot = np.zeros(xy.shape[:2], bool)
    hot[200:300, 1] = True
    how: dict[str, int] = {}
    out, smoothed, _ = smooth_jitter(xy, np.ones_like(hot), hot=hot, report=how)
    assert not smoothed.any()
    np.testing.assert_array_equal(out, xy)
    assert how == {"savgol_points": 0, "median_points": 0, "kept_along_path": 1,
                   "kept_as_observed": 0}
    # the same stretch with noise every way round is smoothed
    noisy = xy.copy()
    noisy[200:300, 0] += np.random.default_rng(1).normal(0, 3.0, (100, 2))
    hot0 = np.zeros_like(hot)
    hot0[200:300, 0] = True
    out, smoothed, _ = smooth_jitter(noisy, np.ones_like(hot), hot=hot0)
    np.testing.assert_array_equal(smoothed, hot0)


def _striding(n: int = 900, seed: int = 0) -> np.ndarray:
    """(T, 2, 2): a body walking at 3 px/frame and a paw planted 8 frames, then swung 30 px
    in 2 frames (a walking rodent's stride), with 0.5 px noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    body = np.stack([100 + 3.0 * t, 200 + 0 * t], -1).astype(float)
    phase = t % 10
    swing = np.where(phase == 8, 15.0, np.where(phase == 9, 30.0, 0.0))
    paw = np.stack([100 + 30.0 * (t // 10) + swing, 212 + 0 * t], -1)
    return np.stack([body, paw], 1) + rng.normal(0, 0.5, (n, 2, 2))


def test_a_striding_paw_that_jitters_is_smoothed_the_way_its_own_strides_allow():
    """Noise every way round on a paw that stands still, then swings: a fit cuts every
    swing (4.7 px RMSE, worse than the 3.9 px observed); the frames around the stretch,
    given the same noise, show that a running median keeps the swings and removes noise."""
    truth = _striding()
    stretch = (slice(400, 500), 1)
    noisy = truth.copy()
    noisy[stretch] += np.random.default_rng(1).normal(0, 3.0, (100, 2))
    hot = np.zeros(noisy.shape[:2], bool)
    hot[stretch] = True
    how: dict[str, int] = {}
    out, smoothed, radius = smooth_jitter(noisy, np.ones_like(hot), hot=hot, report=how)
    np.testing.assert_array_equal(smoothed, hot)
    np.testing.assert_array_equal(out[~hot], noisy[~hot])
    assert how["median_points"] == 100 and how["savgol_points"] == 0  # what was done, said
    err = {name: np.linalg.norm(xy[stretch] - truth[stretch], axis=-1)
           for name, xy in (("observed", noisy), ("smoothed", out))}
    assert np.sqrt(np.mean(err["smoothed"] ** 2)) < 0.75 * np.sqrt(np.mean(err["observed"] ** 2))
    assert 0.8 <= (err["smoothed"] <= radius[stretch]).mean() <= 1.0
