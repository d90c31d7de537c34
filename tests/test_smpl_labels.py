"""Rule-based suspect frames of SMPL motion (stablemotion_dlc.smpl.labels)."""

from __future__ import annotations

import numpy as np
import pytest

from stablemotion_dlc.smpl.amass import generate_motion
from stablemotion_dlc.smpl.corruption import CorruptionConfig, apply_corruption, corrupt
from stablemotion_dlc.smpl.labels import (
    SMPL_RULES,
    frozen_frames,
    spike_scores,
    suspect_frames,
)
from stablemotion_dlc.smpl.skeleton import joints_from_axis_angle


def _with(motion, kind: str, start: int, stop: int, seed: int = 0):
    poses, trans = apply_corruption(motion.poses, motion.trans, kind, start, stop,
                                    np.random.default_rng(seed))
    return joints_from_axis_angle(poses, trans, motion.skeleton)


@pytest.mark.parametrize("seed", range(6))
def test_clean_generated_motion_raises_nothing(seed: int) -> None:
    motion = generate_motion(200, np.random.default_rng(seed))
    found = suspect_frames(motion)
    assert set(found.rules) == set(SMPL_RULES)
    assert not found.mask.any()
    assert found.spike_score.max() < 6.0


def test_pop_and_jitter_are_spikes() -> None:
    motion = generate_motion(120, np.random.default_rng(10))
    joints = _with(motion, "pop", 60, 62, seed=3)
    found = suspect_frames(joints)
    assert found.rules["pop"][60:62].all() and not found.rules["jitter"].any()
    assert not found.mask[:50].any() and not found.mask[75:].any()
    jittered = _with(motion, "jitter", 30, 50, seed=4)
    rules = suspect_frames(jittered).rules
    spikes = rules["jitter"] | rules["pop"]
    assert spikes[30:50].mean() > 0.8 and not spikes[:25].any() and not spikes[56:].any()
    assert rules["jitter"][30:50].mean() > 0.5  # a 20-frame stretch is jitter, not a pop


def test_frozen_pose_with_jump_is_found_exactly() -> None:
    motion = generate_motion(100, np.random.default_rng(11))
    joints = _with(motion, "freeze", 40, 52)
    frozen = suspect_frames(joints).rules["frozen"]
    expected = np.zeros(100, bool)
    expected[40:53] = True  # the held frames and the jump back
    assert np.array_equal(frozen, expected)


def test_standing_still_then_walking_off_is_not_frozen() -> None:
    joints = np.zeros((40, 24, 3))
    joints[:] = np.random.default_rng(0).normal(size=(24, 3))
    ramp = np.clip(np.arange(40) - 20, 0, None) ** 2 * 1e-3  # smooth start, no jump
    joints[..., 0] += ramp[:, None]
    assert not frozen_frames(joints).any()
    joints[21:, :, 0] += 0.05  # now a jump right after the still run (frames 1-20)
    assert np.array_equal(np.flatnonzero(frozen_frames(joints)), np.arange(1, 22))


def test_rules_find_most_pops_jitter_and_freezes_with_high_precision() -> None:
    rng = np.random.default_rng(12)
    cfg = CorruptionConfig(kinds=("pop", "jitter", "freeze"), n_events=(1, 2))
    tp = fp = pos = 0
    for _ in range(8):
        bad, labels, _ = corrupt(generate_motion(150, rng), rng, cfg)
        found = suspect_frames(bad).mask
        tp += int((found & labels).sum())
        fp += int((found & ~labels).sum())
        pos += int(labels.sum())
    assert tp / pos > 0.9
    assert tp / (tp + fp) > 0.6  # misses are pop neighbours of the smoothing window


def test_short_and_bad_input() -> None:
    assert not suspect_frames(np.zeros((5, 24, 3))).mask.any()
    assert spike_scores(np.zeros((3, 24, 3))).shape == (3,)
    with pytest.raises(ValueError, match=r"\(T, J, 3\)"):
        spike_scores(np.zeros((10, 24)))
    dilated = suspect_frames(_with(generate_motion(80, np.random.default_rng(1)), "pop",
                                   40, 41, seed=2), dilate=2)
    plain = suspect_frames(_with(generate_motion(80, np.random.default_rng(1)), "pop",
                                 40, 41, seed=2))
    assert dilated.mask.sum() > plain.mask.sum() and dilated.mask[plain.mask].all()
