"""Long confident errors: a keypoint placed on another body part while the animal moves on."""

from __future__ import annotations

import numpy as np

from stablemotion_dlc.dlc.labels import suspect_mask
from stablemotion_dlc.dlc.pose_prior import fit_pose_prior, pose_anchored_fill, pose_flags
from stablemotion_dlc.dlc.tracks import Tracks

NAMES = ["snout", "leftear", "rightear", "neck", "tailbase"]
POSE = np.array([[30.0, 0.0], [18.0, -8.0], [18.0, 8.0], [5.0, 0.0], [-30.0, 0.0]])


def walking(n: int = 600, seed: int = 0) -> np.ndarray:
    """(T, 5, 2): an animal that walks ~4 px per frame along a winding path."""
    rng = np.random.default_rng(seed)
    heading = np.cumsum(rng.normal(0, 0.04, n))
    centre = 300 + np.cumsum(4.0 * np.stack([np.cos(heading), np.sin(heading)], -1), 0)
    c, s = np.cos(heading), np.sin(heading)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    bend = POSE[None] * (1 + 0.05 * rng.normal(size=(n, 1, 1)))
    return centre[:, None] + np.einsum("tij,tkj->tki", rot, bend) + rng.normal(0, 0.5, (n, 5, 2))


def test_tailbase_on_the_head_while_walking_is_flagged_whole():
    truth = walking()
    xy = truth.copy()
    xy[200:260, 4] = truth[200:260, 0] + 2.0  # tail base drawn on the snout for 2 s
    tr = Tracks.from_arrays(xy[:, None], np.full((600, 1, 5), 0.98), bodyparts=NAMES)
    flags = suspect_mask(tr, 0.6).mask[:, 0, 4]
    assert flags[200:260].mean() > 0.9
    assert flags[:195].sum() + flags[265:].sum() == 0
    clean = Tracks.from_arrays(truth[:, None], np.full((600, 1, 5), 0.98), bodyparts=NAMES)
    assert not suspect_mask(clean, 0.6).mask.any()


def test_pose_prior_flags_impossible_pose_and_repairs_it():
    truth = walking(seed=1)
    xy = truth.copy()
    xy[300:340, 1] = truth[300:340, 4]  # left ear on the tail base
    ok = np.ones((600, 5), bool)
    prior = fit_pose_prior(xy, ok)
    assert prior is not None
    flags, ev = pose_flags(prior, xy, ok)
    assert flags[300:340, 1].all()
    assert flags[:, [0, 2, 3, 4]].sum() == 0  # the others are not blamed
    assert flags[:300].sum() + flags[340:].sum() == 0
    fixed = pose_anchored_fill(xy, flags, ev.prediction)
    err = np.linalg.norm(fixed[300:340, 1] - truth[300:340, 1], axis=-1)
    assert err.max() < 4.0
    np.testing.assert_array_equal(fixed[~flags], xy[~flags])  # nothing else moves


def test_pose_prior_needs_enough_frames():
    xy = walking(n=40)
    assert fit_pose_prior(xy, np.ones((40, 5), bool)) is None
    assert fit_pose_prior(xy[:, :2], np.ones((40, 2), bool)) is None


def test_on_part_blames_the_point_that_jumped_onto_another_part():
    """The tail base jumps onto the head for 60 frames with a high likelihood (a real failure
    of a weak DLC model): ON_PART flags the tail base, never the head points it sits on."""
    from stablemotion_dlc.dlc.io import Tracks
    from stablemotion_dlc.dlc.labels import ON_PART, suspect_mask

    rng = np.random.default_rng(0)
    n = 900
    t = np.arange(n)
    centre = np.stack([300 + 120 * np.sin(t / 80.0), 250 + 90 * np.cos(t / 60.0)], -1)
    head = np.array([[50.0, 0.0], [38.0, -9.0], [38.0, 9.0]])
    xy = np.concatenate([centre[:, None] + head, centre[:, None] + [[-50.0, 0.0]]], 1)
    xy += rng.normal(0, 0.5, xy.shape)
    bad = xy.copy()
    bad[400:460, 3] = xy[400:460, 0] + rng.normal(0, 1.5, (60, 2))  # tail base on the snout
    tr = Tracks.from_arrays(bad[:, None], np.full((n, 1, 4), 0.97),
                            bodyparts=["snout", "leftear", "rightear", "tailbase"])
    on_part = suspect_mask(tr).reason_mask(ON_PART)[:, 0]
    assert on_part[400:460, 3].mean() > 0.9
    assert not on_part[:, :3].any()
    assert not on_part[:400].any() and not on_part[460:].any()
    clean = Tracks.from_arrays(xy[:, None], np.full((n, 1, 4), 0.97),
                               bodyparts=["snout", "leftear", "rightear", "tailbase"])
    assert not suspect_mask(clean).reason_mask(ON_PART).any()
