"""The pose prior's fitted regressions are reused across calls with one prior (issue 17):
the evidence is the same as with a fresh prior, bit for bit."""

from __future__ import annotations

import numpy as np

from stablemotion_dlc.dlc.pose_prior import PosePrior, fit_pose_prior, pose_evidence


def test_cached_fits_give_identical_evidence():
    rng = np.random.default_rng(0)
    shape = rng.normal(0, 20, (6, 2))
    t = 800
    ang = np.cumsum(rng.normal(0, 0.05, t))
    rot = np.stack([np.stack([np.cos(ang), -np.sin(ang)], -1),
                    np.stack([np.sin(ang), np.cos(ang)], -1)], -2)  # (T, 2, 2)
    xy = np.einsum("tij,kj->tki", rot, shape) + np.cumsum(rng.normal(0, 2, (t, 1, 2)), 0)
    xy += rng.normal(0, 0.5, xy.shape)
    ok = rng.random((t, 6)) > 0.15
    prior = fit_pose_prior(xy, np.ones((t, 6), bool))
    assert prior is not None
    ok2 = ok & (rng.random((t, 6)) > 0.1)
    runs = [(pose_evidence(prior, xy, ok), ok), (pose_evidence(prior, xy, ok2), ok2)]
    assert prior._fits  # filled by the first call, partly reused by the second
    for got, mask in runs:
        ref = pose_evidence(PosePrior(prior.mean, prior.fit_poses, prior.body_size), xy, mask)
        for a, b in ((got.prediction, ref.prediction), (got.d2, ref.d2),
                     (got.sigma, ref.sigma)):
            assert np.array_equal(a, b, equal_nan=True)
    assert PosePrior(prior.mean, prior.fit_poses, prior.body_size).body_size == \
        prior.body_size
