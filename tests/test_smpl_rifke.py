"""The 232-dim SMPL RIFKE representation: layout, exact inverse, invariances."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stablemotion_dlc.core.representation import Representation
from stablemotion_dlc.smpl.amass import generate_motion
from stablemotion_dlc.smpl.rifke import N_FEATURES, SLICES, RifkeRepresentation
from stablemotion_dlc.smpl.skeleton import (
    axis_angle_to_matrix,
    generated_skeleton,
    joints_from_axis_angle,
    matrix_to_axis_angle,
    rot_z,
)


@pytest.fixture(scope="module")
def motion():
    return generate_motion(120, np.random.default_rng(0))


def test_layout_and_spec() -> None:
    rep = RifkeRepresentation()
    assert isinstance(rep, Representation)
    lay = rep.layout
    assert lay.n_features == N_FEATURES == 232 and lay.n_labels == 1
    assert set(lay.label_of_feature) == {0} and len(lay.names) == 232
    assert sum(s.stop - s.start for s in SLICES.values()) == 232
    assert lay.feature_mask(np.array([[True], [False]])).tolist() == [[True] * 232, [False] * 232]
    spec = rep.spec()
    json.dumps(spec)
    assert spec["name"] == "smpl-rifke" and spec["fps"] == 20.0 and spec["n_joints"] == 24
    assert spec["skeleton_hash"] == rep.skeleton.hash
    assert RifkeRepresentation.from_spec(spec).spec() == spec
    other = RifkeRepresentation(generated_skeleton(1.8)).spec()
    assert other["skeleton_hash"] != spec["skeleton_hash"]
    with pytest.raises(ValueError, match="smpl-rifke"):
        RifkeRepresentation.from_spec({**spec, "name": "dlc"})


def test_round_trip_generated_motion(motion) -> None:
    rep = RifkeRepresentation(motion.skeleton)
    feats = rep.features(motion.poses, motion.trans)
    assert feats.shape == (120, 232) and np.all(np.isfinite(feats))
    poses, trans, joints = rep.decode_arrays(feats)
    # axis-angle is recovered up to its 2*pi ambiguity: compare the rotations
    assert np.allclose(axis_angle_to_matrix(poses), axis_angle_to_matrix(motion.poses),
                       atol=1e-9)
    assert np.allclose(trans, motion.trans, atol=1e-9)
    assert np.abs(joints - motion.joints).max() < 1e-4
    assert np.abs(rep.joints_from_features(feats) - motion.joints).max() < 1e-9
    # float32 features (what the model sees) still decode to within 1e-4 m
    _, _, j32 = rep.decode_arrays(feats.astype(np.float32))
    assert np.abs(j32 - motion.joints).max() < 1e-4


def test_round_trip_random_poses_any_heading() -> None:
    rng = np.random.default_rng(3)
    rep = RifkeRepresentation()
    axis = rng.standard_normal((40, 22, 3))
    poses = axis / np.linalg.norm(axis, axis=-1, keepdims=True) * rng.uniform(0, 3, (40, 22, 1))
    trans = rng.normal(0, 2, (40, 3))
    poses_back, trans_back, joints = rep.decode_arrays(rep.features(poses, trans))
    assert np.allclose(axis_angle_to_matrix(poses_back), axis_angle_to_matrix(poses), atol=1e-9)
    assert np.allclose(trans_back, trans, atol=1e-9)
    assert np.abs(joints - joints_from_axis_angle(poses, trans, rep.skeleton)).max() < 1e-4


def test_blocks_match_their_definition(motion) -> None:
    rep = RifkeRepresentation(motion.skeleton)
    f = rep.features(motion.poses, motion.trans, motion.joints)
    pelvis = motion.joints[:, 0]
    assert np.allclose(f[:, 0], pelvis[:, 2]) and np.allclose(f[:, 1:3], pelvis[:, :2])
    assert np.allclose(np.hypot(f[:, 3], f[:, 4]), 1.0)
    assert np.allclose(f[0, 3:5], [1.0, 0.0])  # canonical clips face +X at frame 0
    feet = motion.joints[:, [7, 8, 10, 11]].reshape(-1, 12)
    assert np.allclose(f[:, 206:218], feet)
    assert np.allclose(f[1:, 218:230], (feet[1:] - feet[:-1]) * 20)
    assert np.allclose(f[1:, 230:232], (pelvis[1:, :2] - pelvis[:-1, :2]) * 20)


def test_local_blocks_invariant_to_world_rotation(motion) -> None:
    rep = RifkeRepresentation(motion.skeleton)
    rz = rot_z(0.9)
    poses = motion.poses.copy()
    poses[:, 0] = matrix_to_axis_angle(rz @ axis_angle_to_matrix(motion.poses[:, 0]))
    pelvis = motion.joints[:, 0] @ rz.T
    trans = pelvis - motion.skeleton.rest_joints[0]
    a = rep.features(motion.poses, motion.trans)
    b = rep.features(poses, trans)
    for block in ("root_height", "rotations", "relative_joints"):
        assert np.allclose(a[:, SLICES[block]], b[:, SLICES[block]], atol=1e-9), block
    assert not np.allclose(a[:, SLICES["heading"]], b[:, SLICES["heading"]])


def test_bad_input_is_rejected() -> None:
    rep = RifkeRepresentation()
    with pytest.raises(ValueError, match="poses"):
        rep.features(np.zeros((5, 24, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="trans"):
        rep.features(np.zeros((5, 22, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="NaN"):
        rep.features(np.full((5, 22, 3), np.nan), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="232"):
        rep.decode_arrays(np.zeros((5, 231)))
