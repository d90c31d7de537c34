"""Motion metrics on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from stablemotion_dlc.smpl.amass import BODY_TO_WORLD, generate_motion
from stablemotion_dlc.smpl.metrics import (
    acceleration_error,
    detection_scores,
    foot_contacts,
    foot_skating,
    global_mpjpe,
    ground_penetration,
    jitter,
    motion_report,
    mpjpe,
)
from stablemotion_dlc.smpl.skeleton import (
    generated_skeleton,
    joints_from_axis_angle,
    matrix_to_axis_angle,
)


def _static(n: int = 30) -> np.ndarray:
    """A person standing still in the rest pose, toes on the floor."""
    sk = generated_skeleton()
    poses = np.zeros((n, 22, 3))
    poses[:, 0] = matrix_to_axis_angle(BODY_TO_WORLD)
    j = joints_from_axis_angle(poses, np.zeros((n, 3)), sk)
    j[..., 2] -= j[..., 2].min()
    return j


def test_static_pose_has_no_skating_and_full_contact() -> None:
    j = _static()
    contacts = foot_contacts(j)
    assert contacts.all()  # standing: both toes on the floor and still
    sk = foot_skating(j, contacts)
    assert sk["distance"] == 0.0 and sk["ratio"] == 0.0 and sk["n_contact"] == 2 * 29
    assert jitter(j) == {"jerk": 0.0, "acceleration": 0.0}
    assert ground_penetration(j)["distance"] == 0.0


def test_sliding_feet_are_measured() -> None:
    j = _static()
    slide = j + np.arange(30)[:, None, None] * np.array([0.03, 0.0, 0.0])  # 3 cm per frame
    sk = foot_skating(slide, foot_contacts(j))
    assert sk["distance"] == pytest.approx(0.03) and sk["ratio"] == 1.0
    assert not foot_contacts(slide).any()  # too fast to be a contact by itself


def test_generated_walk_keeps_feet_planted() -> None:
    m = generate_motion(200, np.random.default_rng(2))
    sk = foot_skating(m.joints, foot_contacts(m.joints))
    assert sk["n_contact"] > 100 and sk["distance"] < 0.01 and sk["ratio"] < 0.02
    assert ground_penetration(m.joints)["ratio"] == 0.0


def test_penetration() -> None:
    j = _static(10)
    j[5:, :, 2] -= 0.1
    gp = ground_penetration(j)
    assert gp["ratio"] == 0.5 and gp["distance"] == pytest.approx(0.05)


def test_pop_raises_jitter_and_errors() -> None:
    m = generate_motion(60, np.random.default_rng(4))
    popped = m.joints.copy()
    popped[30] += [0.3, 0.0, 0.0]  # the whole body jumps 30 cm for one frame
    assert jitter(popped)["jerk"] > 2 * jitter(m.joints)["jerk"]
    assert jitter(popped)["acceleration"] > jitter(m.joints)["acceleration"]
    assert acceleration_error(m.joints, m.joints) == 0.0
    assert acceleration_error(popped, m.joints) > 0.0
    assert global_mpjpe(popped, m.joints) == pytest.approx(0.3 / 60)
    assert global_mpjpe(popped, m.joints, mask=np.arange(60) == 30) == pytest.approx(0.3)
    assert mpjpe(popped, m.joints) == pytest.approx(0.0, abs=1e-12)


def test_mpjpe_ignores_global_offset() -> None:
    j = _static(5)
    shifted = j + [1.0, 2.0, 0.0]
    assert mpjpe(shifted, j) == pytest.approx(0.0, abs=1e-12)
    assert global_mpjpe(shifted, j) == pytest.approx(np.sqrt(5.0))
    with pytest.raises(ValueError, match="shape"):
        mpjpe(j[:4], j)


def test_detection_scores() -> None:
    truth = np.array([0, 1, 1, 1, 0, 0], bool)
    pred = np.array([0, 1, 1, 0, 1, 0], bool)
    s = detection_scores(pred, truth)
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)
    # one definition for DLC and SMPL: an empty denominator is undefined, not 0 or 1
    empty = detection_scores(np.zeros(6, bool), np.zeros(6, bool))
    assert np.isnan(empty["precision"]) and np.isnan(empty["recall"]) and np.isnan(empty["f1"])
    from stablemotion_dlc.core.metrics import detection_scores as core_scores
    from stablemotion_dlc.evaluate.metrics import detection_scores as dlc_scores

    assert detection_scores is core_scores is dlc_scores


def test_motion_report_keys() -> None:
    m = generate_motion(40, np.random.default_rng(1))
    r = motion_report(m.joints, m.joints, bad=np.arange(40) < 5)
    assert r["gmpjpe_cm"] == 0.0 and r["gmpjpe_bad_cm"] == 0.0 and r["mpjpe_cm"] == 0.0
    assert set(r) >= {"skate_cm", "skate_ratio", "penetration_cm", "jerk", "accel"}
