"""Synthetic corruption: locality, labels, and the training batch source."""

from __future__ import annotations

import numpy as np
import pytest

from stablemotion_dlc.core.representation import BatchSource
from stablemotion_dlc.smpl.amass import generate_motion
from stablemotion_dlc.smpl.corruption import (
    CORRUPTION_KINDS,
    CorruptionConfig,
    SmplClipSource,
    apply_corruption,
    corrupt,
)
from stablemotion_dlc.smpl.metrics import jitter
from stablemotion_dlc.smpl.rifke import RifkeRepresentation
from stablemotion_dlc.smpl.skeleton import joints_from_axis_angle


@pytest.fixture(scope="module")
def motion():
    return generate_motion(100, np.random.default_rng(7))


@pytest.mark.parametrize("kind", CORRUPTION_KINDS)
def test_each_kind_changes_only_its_interval(motion, kind: str) -> None:
    rng = np.random.default_rng(11)
    start, stop = 40, 40 + getattr(CorruptionConfig(), f"{kind}_len")[0] + 2
    poses, trans = apply_corruption(motion.poses, motion.trans, kind, start, stop, rng)
    outside = np.ones(len(motion), bool)
    outside[start:stop] = False
    assert np.array_equal(poses[outside], motion.poses[outside])
    assert np.array_equal(trans[outside], motion.trans[outside])
    joints = joints_from_axis_angle(poses, trans, motion.skeleton)
    moved = np.linalg.norm(joints - motion.joints, axis=-1).max(axis=-1)
    assert moved[outside].max() < 1e-9
    assert moved[start:stop].max() > 0.01, f"{kind} did not change the motion"


def test_corrupt_labels_cover_every_changed_frame(motion) -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        bad, labels, events = corrupt(motion, rng)
        assert 1 <= len(events) <= 3 and labels.shape == (100,)
        interval = np.zeros(100, bool)
        for e in events:
            interval[e.start:e.stop] = True
        # labels only on corrupted intervals (plus the frame right after, and frame 0 when
        # frame 1 is corrupted, for velocities)
        allowed = interval.copy()
        allowed[1:] |= interval[:-1]
        allowed[0] |= interval[1]
        assert not np.any(labels & ~allowed)
        # unlabelled frames moved by less than the tolerance and are identical outside
        moved = np.linalg.norm(bad.joints - motion.joints, axis=-1).max(axis=-1)
        assert moved[~labels].max(initial=0.0) <= 0.01
        assert np.array_equal(bad.joints[~interval], motion.joints[~interval])
        assert np.array_equal(bad.poses[~interval], motion.poses[~interval])


def test_freezing_a_still_body_labels_nothing(motion) -> None:
    still = motion.slice(0, 1)
    still = type(motion)(np.repeat(still.poses, 30, 0), np.repeat(still.trans, 30, 0),
                         np.repeat(still.joints, 30, 0), 20.0, motion.skeleton)
    _, labels, _ = corrupt(still, np.random.default_rng(0),
                           CorruptionConfig(kinds=("freeze",), n_events=(1, 1)))
    assert not labels.any()


def test_pop_raises_jitter(motion) -> None:
    bad, labels, _ = corrupt(motion, np.random.default_rng(1),
                             CorruptionConfig(kinds=("pop",), n_events=(2, 2)))
    assert labels.any()
    assert jitter(bad.joints)["jerk"] > 1.5 * jitter(motion.joints)["jerk"]


def test_config_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown corruption kinds"):
        CorruptionConfig(kinds=("teleport",))
    with pytest.raises(ValueError, match="unknown corruption kind"):
        apply_corruption(np.zeros((5, 22, 3)), np.zeros((5, 3)), "teleport", 0, 2,
                         np.random.default_rng(0))


def test_clip_source_batches() -> None:
    rng = np.random.default_rng(0)
    clips = [generate_motion(120, rng) for _ in range(3)]
    rep = RifkeRepresentation(clips[0].skeleton)
    src = SmplClipSource(clips, rep, window=64, p_corrupt=0.8, with_clean=True)
    assert isinstance(src, BatchSource)
    batch = src.sample(np.random.default_rng(1), 6)
    assert batch.features.shape == (6, 64, 232) and batch.features.dtype == np.float32
    assert batch.labels.shape == (6, 64, 1) and set(np.unique(batch.labels)) <= {0.0, 1.0}
    assert batch.observed.all() and np.all(np.isfinite(batch.features))
    clean = batch.extra["clean"]
    good = batch.labels[..., 0] == 0
    # good frames carry the clean features (velocity entries may differ by float noise)
    assert np.abs(batch.features[good] - clean[good]).max() < 0.5
    assert batch.labels.any()
    # the model's input windows are canonical: frame 0 at the origin, facing +X
    assert np.allclose(batch.features[:, 0, 1:3], 0.0, atol=1e-5)
    assert np.allclose(batch.features[:, 0, 3:5], [1.0, 0.0], atol=1e-5)
    again = src.sample(np.random.default_rng(1), 6)
    assert np.array_equal(again.features, batch.features)
    assert "clean" not in SmplClipSource(clips, rep, window=64).sample(rng, 1).extra
    with pytest.raises(ValueError, match="shorter than the window"):
        SmplClipSource(clips, rep, window=200)
    with pytest.raises(ValueError, match="context"):
        SmplClipSource(clips, rep, window=64, context=-1)


def test_windows_can_start_inside_a_corruption() -> None:
    rng = np.random.default_rng(4)
    clips = [generate_motion(160, rng) for _ in range(2)]
    src = SmplClipSource(clips, RifkeRepresentation(clips[0].skeleton), window=40,
                         p_corrupt=1.0, context=16)
    first = [src.sample_motion(rng)[2][0] for _ in range(60)]
    assert 0 < np.mean(first) < 1  # some windows begin in a corrupted stretch, not all


def test_training_windows_are_placed_by_their_corrupted_first_frame() -> None:
    """Cleanup canonicalises each window by its (maybe corrupted) frame 0; training must too."""
    from stablemotion_dlc.smpl.skeleton import axis_angle_to_matrix, heading_angle

    rng = np.random.default_rng(3)
    clips = [generate_motion(120, rng) for _ in range(2)]
    src = SmplClipSource(clips, RifkeRepresentation(clips[0].skeleton), window=48,
                         p_corrupt=1.0)
    for _ in range(10):
        clean, bad, labels = src.sample_motion(rng)
        assert np.allclose(bad.joints[0, 0, :2], 0.0, atol=1e-9)
        assert abs(heading_angle(axis_angle_to_matrix(bad.poses[0, 0]))) < 1e-6
        # both in the same frame: unlabelled frames moved less than the label tolerance
        moved = np.linalg.norm(clean.joints - bad.joints, axis=-1).max(axis=-1)
        assert (moved[~labels] <= 0.01 + 1e-9).all()
