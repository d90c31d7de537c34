"""Tests of the suspect-keypoint rules (stablemotion_dlc.dlc.labels)."""

from __future__ import annotations

import numpy as np
import pytest

from stablemotion_dlc.dlc.labels import (
    ALL_RULES,
    BONE,
    JUMP,
    LOW_LIKELIHOOD,
    MISSING,
    STUCK,
    SWAP,
    default_skeleton,
    suspect_mask,
)
from stablemotion_dlc.dlc.tracks import Tracks
from stablemotion_dlc.errors import ConfigError

BODYPARTS = ["snout", "leftear", "rightear", "neck", "tailbase"]
# pose in the animal's frame (x forward, y to the animal's left, image y down -> left = -y)
POSE = np.array([[30.0, 0.0], [18.0, -8.0], [18.0, 8.0], [10.0, 0.0], [-30.0, 0.0]])


def walking_animal(n_frames: int = 200, seed: int = 0, speed: float = 2.0) -> np.ndarray:
    """(T, 1, K, 2) mouse walking along a slow curve with 0.3 px noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames)
    heading = 0.01 * t
    centre = np.stack(
        [200 + np.cumsum(speed * np.cos(heading)), 200 + np.cumsum(speed * np.sin(heading))], -1
    )
    c, s = np.cos(heading), np.sin(heading)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)  # (T, 2, 2)
    pts = centre[:, None] + np.einsum("tij,kj->tki", rot, POSE)
    pts = pts + rng.normal(scale=0.3, size=pts.shape)
    return pts[:, None]


def make_tracks(xy: np.ndarray, lik: np.ndarray | None = None, bodyparts=None) -> Tracks:
    if lik is None:
        lik = np.full(xy.shape[:3], 0.95)
    return Tracks.from_arrays(xy, lik, bodyparts=bodyparts or BODYPARTS)


def test_clean_walk_has_no_flags():
    labels = suspect_mask(make_tracks(walking_animal()))
    assert labels.summary()["any"] == 0
    assert labels.segments() == []


def test_low_likelihood_uses_argument_then_config_then_default(tmp_path):
    xy = walking_animal(50)
    lik = np.full(xy.shape[:3], 0.95)
    lik[10, 0, 1] = 0.5
    lik[20, 0, 2] = 0.3
    tr = make_tracks(xy, lik)
    m = suspect_mask(tr, rules=("low_likelihood",)).reason_mask(LOW_LIKELIHOOD)
    assert m.sum() == 2 and m[10, 0, 1] and m[20, 0, 2]  # default 0.6
    cfg = tmp_path / "config.yaml"
    cfg.write_text("Task: t\ndate: d\nbodyparts: [snout, leftear, rightear, neck, tailbase]\n"
                   "pcutoff: 0.4\n")
    m = suspect_mask(tr, rules=("low_likelihood",), config_path=cfg).reason_mask(LOW_LIKELIHOOD)
    assert m.sum() == 1 and m[20, 0, 2]
    labels = suspect_mask(tr, 0.2, rules=("low_likelihood",), config_path=cfg)
    assert labels.pcutoff == 0.2 and labels.summary()["low_likelihood"] == 0


def test_bad_config_and_arguments(tmp_path):
    tr = make_tracks(walking_animal(20))
    with pytest.raises(ConfigError, match="not found"):
        suspect_mask(tr, config_path=tmp_path / "nope.yaml")
    bad = tmp_path / "config.yaml"
    bad.write_text("Task: t\ndate: d\nbodyparts: [snout]\npcutoff: high\n")
    with pytest.raises(ConfigError, match="pcutoff"):
        suspect_mask(tr, config_path=bad)
    with pytest.raises(ValueError, match="unknown rule"):
        suspect_mask(tr, rules=("jumps",))
    with pytest.raises(ValueError, match="not in bodyparts"):
        suspect_mask(tr, skeleton=[("snout", "tail")])


def test_nan_is_missing_and_nonpresent_never_flagged():
    xy = np.concatenate([walking_animal(60), walking_animal(60, seed=1) + [[300.0, 0.0]]], 1)
    xy = np.concatenate([xy, np.full((60, 2, 1, 2), np.nan)], 2)  # add the unique-part column
    xy[:, 2:] = np.nan
    uniq = np.zeros((60, 2, 2))
    full = np.full((60, 3, 6, 2), np.nan)
    full[:, :2, :5] = xy[:, :2, :5]
    full[:, 2, 5] = uniq[:, 0] + 50
    full[5:8, 0, 3] = np.nan
    lik = np.full((60, 3, 6), 0.2)  # everything low, also non-present cells
    tr = Tracks.from_arrays(full, lik, bodyparts=BODYPARTS, individuals=["m1", "m2"],
                            unique_bodyparts=["corner"])
    assert not tr.present[2, :5].any() and not tr.present[:2, 5].any()
    labels = suspect_mask(tr)
    assert not labels.mask[:, ~tr.present].any()
    miss = labels.reason_mask(MISSING)
    assert miss[5:8, 0, 3].all() and miss[:, tr.present].sum() == 3
    assert labels.reason_mask(LOW_LIKELIHOOD)[:, tr.present].sum() == 60 * 11 - 3


def test_twenty_frame_jump_is_flagged_on_all_twenty_frames():
    xy = walking_animal(300)
    xy[100:120, 0, 0] += [60.0, -45.0]  # snout displaced for 20 frames
    labels = suspect_mask(make_tracks(xy), rules=("jump",))
    j = labels.reason_mask(JUMP)[:, 0, 0]
    assert np.array_equal(np.flatnonzero(j), np.arange(100, 120))
    assert labels.reason_mask(JUMP)[:, 0, 1:].sum() == 0
    (seg,) = labels.segments()
    assert (seg.start, seg.stop, seg.keypoints, seg.reasons) == (100, 120, ("snout",), ("jump",))


def test_single_frame_spike_and_jump_across_low_likelihood():
    xy = walking_animal(300)
    lik = np.full(xy.shape[:3], 0.95)
    xy[50, 0, 4] += [0.0, 80.0]
    xy[200:230, 0, 3] += [-50.0, 50.0]
    lik[210:215, 0, 3] = 0.1  # not confident in the middle of the displaced span
    labels = suspect_mask(make_tracks(xy, lik), rules=("jump",))
    j = labels.reason_mask(JUMP)[:, 0]
    assert np.array_equal(np.flatnonzero(j[:, 4]), [50])
    assert np.array_equal(np.flatnonzero(j[:, 3]), np.arange(200, 230))


def test_jump_thresholds_ignore_repeated_frames():
    # a fly (head, thorax) walking and turning, every pose shown 4 times (a 7.5 fps camera
    # written at 30 fps, as sleap_clip repeats 70 % of its frames): 3 steps of 4 are repeats,
    # the median step is 0, and a threshold from all steps sat at the 3.2 px floor, which
    # flagged 825 right points and found 1 of the 32 points of a real jump
    rng = np.random.default_rng(0)
    heading = np.cumsum(rng.normal(0, 0.25, 300))
    step = np.abs(rng.normal(3.0, 1.5, 300))
    centre = 300 + np.cumsum(np.stack([step * np.cos(heading), step * np.sin(heading)], -1), 0)
    u = np.stack([np.cos(heading), np.sin(heading)], -1)
    pose = np.stack([centre + 16 * u, centre - 16 * u], 1) + rng.normal(0, 0.3, (300, 2, 2))
    for hold in (1, 4):
        xy = np.repeat(pose, hold, axis=0)[:, None]
        tr = make_tracks(xy, bodyparts=["head", "thorax"])
        assert suspect_mask(tr, rules=("jump",)).reason_mask(JUMP).sum() == 0
        s = 120 * hold
        xy[s:s + 8 * hold, 0, 0] += [40.0, -30.0]  # the head 50 px off for 8 poses
        j = suspect_mask(make_tracks(xy, bodyparts=["head", "thorax"]),
                         rules=("jump",)).reason_mask(JUMP)[:, 0]
        assert np.array_equal(np.flatnonzero(j[:, 0]), np.arange(s, s + 8 * hold))


def test_jump_of_a_lone_keypoint():
    xy = walking_animal(200)[:, :, :1]
    xy[70:80, 0, 0] += [40.0, 40.0]
    labels = suspect_mask(make_tracks(xy, bodyparts=["centre"]), rules=("jump",))
    assert np.array_equal(np.flatnonzero(labels.mask[:, 0, 0]), np.arange(70, 80))


def test_bone_stretch_blames_the_right_end():
    xy = walking_animal(200)
    # tailbase pulled 25 px further back (bone neck-tailbase stretched) for 10 frames;
    # small enough per frame to stay under the jump threshold when ramped
    ramp = np.concatenate([np.linspace(0, 25, 10), np.full(10, 25.0), np.linspace(25, 0, 10)])
    xy[80:110, 0, 4, 0] -= ramp
    skel = [("snout", "leftear"), ("snout", "rightear"), ("leftear", "neck"),
            ("rightear", "neck"), ("neck", "tailbase"), ("snout", "tailbase")]
    labels = suspect_mask(make_tracks(xy), rules=("bone",), skeleton=skel)
    b = labels.reason_mask(BONE)[:, 0]
    assert b[:, 4].sum() >= 10 and b[90:100, 4].all()
    assert b[:, :4].sum() == 0  # neck and snout are not blamed


def test_left_right_swap_flagged():
    xy = walking_animal(300)
    xy[120:150, 0, [1, 2]] = xy[120:150, 0, [2, 1]]
    labels = suspect_mask(make_tracks(xy), rules=("swap",))
    s = labels.reason_mask(SWAP)[:, 0]
    assert np.array_equal(np.flatnonzero(s[:, 1]), np.arange(120, 150))
    assert np.array_equal(s[:, 1], s[:, 2]) and s[:, [0, 3, 4]].sum() == 0


def test_stuck_point_flagged_only_when_body_moves():
    xy = walking_animal(200)
    xy[60:90, 0, 4] = xy[59, 0, 4]  # frozen tail base while walking
    labels = suspect_mask(make_tracks(xy), rules=("stuck",))
    st = labels.reason_mask(STUCK)[:, 0]
    assert np.array_equal(np.flatnonzero(st[:, 4]), np.arange(60, 90))
    assert st[:, :4].sum() == 0
    # the whole animal resting: nothing is stuck "while the body moves"
    still = np.repeat(xy[:1], 50, axis=0)
    assert suspect_mask(make_tracks(still), rules=("stuck",)).summary()["stuck"] == 0


def test_all_rules_together_summary_segments_and_input_untouched():
    xy = walking_animal(300)
    xy[100:120, 0, 0] += [60.0, -45.0]
    xy[200, 0, 3] = np.nan
    tr = make_tracks(xy)
    before = tr.xy.copy()
    labels = suspect_mask(tr, rules=ALL_RULES)
    assert np.array_equal(tr.xy, before, equal_nan=True)
    summ = labels.summary()
    assert summ["jump"] == 20 and summ["missing"] == 1
    assert labels.frame_mask.shape == (300,) and labels.frame_mask.sum() == summ["frames"]
    assert labels.individual_frame_mask.shape == (300, 1)
    segs = labels.segments(individual="animal" if "animal" in tr.individuals else 0)
    assert [(s.start, s.stop) for s in segs][-1] == (200, 201)
    assert labels.reasons.dtype == np.uint8


@pytest.mark.parametrize("n_frames", [0, 1, 2])
def test_tiny_files(n_frames):
    labels = suspect_mask(make_tracks(walking_animal(10)[:n_frames]))
    assert labels.mask.shape == (n_frames, 1, 5) and labels.segments() == []


def test_without_likelihood_column():
    xy = walking_animal(100)
    xy[40:50, 0, 0] += [50.0, 0.0]
    tr = Tracks.from_arrays(xy, None, bodyparts=BODYPARTS)
    labels = suspect_mask(tr)
    assert labels.summary()["low_likelihood"] == 0
    assert np.array_equal(np.flatnonzero(labels.reason_mask(JUMP)[:, 0, 0]), np.arange(40, 50))


def test_default_skeleton_connects_neighbours():
    tr = make_tracks(walking_animal(50))
    skel = default_skeleton(tr)
    # ears are nearest to the neck; the tail base's nearest keypoint is the neck
    assert (1, 3) in skel and (2, 3) in skel and (3, 4) in skel
    assert all(a < b for a, b in skel)


def test_speed_on_100k_frames():
    xy = np.tile(walking_animal(1000), (100, 1, 1, 1))
    import time

    t0 = time.perf_counter()
    labels = suspect_mask(make_tracks(xy))
    assert labels.mask.shape == (100000, 1, 5)
    assert time.perf_counter() - t0 < 30  # generous: CI machines are slow and shared


def test_project_accepts_dlc_multianimal_placeholder(tmp_path) -> None:
    """DLC writes ``bodyparts: MULTI!`` in every multi-animal config."""
    import yaml

    from stablemotion_dlc.dlc.project import DlcProject
    from stablemotion_dlc.errors import ConfigError

    cfg = {"Task": "t", "date": "d", "multianimalproject": True, "bodyparts": "MULTI!",
           "pcutoff": 0.6, "multianimalbodyparts": ["snout", "tail"], "uniquebodyparts": [],
           "individuals": ["m1", "m2"], "skeleton": [["snout", "tail"]]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    project = DlcProject.from_config(path)
    assert project.bodyparts == ("snout", "tail") and project.skeleton == (("snout", "tail"),)
    cfg.update(multianimalproject=False, bodyparts="snout")
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match="bodyparts"):
        DlcProject.from_config(path)
