"""The repair's speed-ups (issue 17): the pose fill computed on the frames it reads equals the
fill computed from the evidence of every frame (to the last bit here; in general to ~1e-13 px:
the evidence of a frame goes through BLAS matrix products whose kernels may sum a block's
last rows in another order, so a frame computed among fewer frames can differ in its last
bit - 5 of 7.8 M coordinates by <= 2.8e-14 px on the 1-hour 3 x 12 file, none on 1 x 10)."""

from __future__ import annotations

import numpy as np
import pytest

from stablemotion_dlc.dlc.pose_prior import (
    PosePrior,
    fit_pose_prior,
    pose_anchored_fill,
    pose_evidence,
)
from stablemotion_dlc.dlc.repair import _pose_fill_prediction


def _walk(rng: np.random.Generator, t: int, k: int) -> np.ndarray:
    shape = rng.normal(0, 20, (k, 2))
    ang = np.cumsum(rng.normal(0, 0.05, t))
    rot = np.stack([np.stack([np.cos(ang), -np.sin(ang)], -1),
                    np.stack([np.sin(ang), np.cos(ang)], -1)], -2)  # (T, 2, 2)
    xy = np.einsum("tij,kj->tki", rot, shape) + np.cumsum(rng.normal(0, 2, (t, 1, 2)), 0)
    return xy + rng.normal(0, 0.5, xy.shape)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_pose_fill_on_read_frames_is_the_full_fill(seed):
    rng = np.random.default_rng(seed)
    t, k = 3000, 6
    xy = _walk(rng, t, k)
    xy[rng.random((t, k)) < 0.02] = np.nan  # missing points
    good = np.isfinite(xy).all(-1) & (rng.random((t, k)) > 0.05)
    fill = np.zeros((t, k), bool)
    for _ in range(60):  # runs of every length, some side by side, some at the edges
        j = int(rng.integers(k))
        a = int(rng.choice([0, t - 5, *rng.integers(0, t, 8).tolist()]))
        fill[a:a + int(rng.integers(1, 200)), j] = True
    if seed == 3:  # long stretches whose predictions are all rejected: anchors far away
        xy[1000:1600, :3] += rng.normal(0, 80, (600, 3, 2))
    prior = fit_pose_prior(xy, good)
    assert prior is not None
    evidence = good & ~fill

    def prediction_of(ev):
        judged = evidence & np.isfinite(ev.d2)
        consistent = ~(judged & (ev.d2 > 20.0)).any(axis=1) & (judged.sum(1) >= 2)
        return np.where(consistent[:, None, None], ev.prediction, np.nan)

    fresh = PosePrior(prior.mean, prior.fit_poses, prior.body_size)
    full = pose_anchored_fill(xy, fill, prediction_of(pose_evidence(fresh, xy, evidence)))
    pred = _pose_fill_prediction(
        lambda r, ev: pose_evidence(prior, xy, evidence, rows=r, out=ev), prediction_of, xy,
        fill)
    assert np.isnan(pred).any()  # not every frame was computed
    got = pose_anchored_fill(xy, fill, pred)
    assert np.array_equal(np.isnan(got), np.isnan(full))
    np.testing.assert_allclose(got, full, rtol=0, atol=1e-9)
    none = np.zeros_like(fill)
    assert np.array_equal(
        pose_anchored_fill(xy, none, _pose_fill_prediction(
            lambda r, ev: pose_evidence(prior, xy, evidence, rows=r, out=ev), prediction_of,
            xy, none)), pose_anchored_fill(xy, none, np.full(xy.shape, np.nan)),
        equal_nan=True)
