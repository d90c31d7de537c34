"""Rotation conversions, the generated skeleton and forward kinematics."""

from __future__ import annotations

import numpy as np
import pytest

from stablemotion_dlc.smpl.skeleton import (
    JOINT_NAMES,
    N_JOINTS,
    PARENTS,
    Skeleton,
    axis_angle_to_matrix,
    forward_kinematics,
    generated_skeleton,
    heading_angle,
    joints_from_axis_angle,
    matrix_to_6d,
    matrix_to_axis_angle,
    rot_z,
    rotation_6d_to_matrix,
)


def _random_axis_angle(rng: np.random.Generator, n: int) -> np.ndarray:
    axis = rng.standard_normal((n, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    return axis * rng.uniform(0, np.pi - 1e-3, (n, 1))


def test_tree_is_topologically_ordered() -> None:
    assert len(JOINT_NAMES) == len(PARENTS) == N_JOINTS
    assert PARENTS[0] == -1
    assert all(0 <= PARENTS[j] < j for j in range(1, N_JOINTS))
    assert JOINT_NAMES[PARENTS[JOINT_NAMES.index("left_hand")]] == "left_wrist"


def test_axis_angle_matrix_round_trip() -> None:
    aa = _random_axis_angle(np.random.default_rng(0), 200)
    mat = axis_angle_to_matrix(aa)
    assert np.allclose(mat @ np.swapaxes(mat, -1, -2), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(mat), 1.0)
    assert np.allclose(matrix_to_axis_angle(mat), aa, atol=1e-9)


def test_known_rotation() -> None:
    mat = axis_angle_to_matrix(np.array([0.0, 0.0, np.pi / 2]))
    assert np.allclose(mat @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    assert np.allclose(rot_z(np.pi / 2), mat)


def test_6d_round_trip_and_gram_schmidt() -> None:
    mat = axis_angle_to_matrix(_random_axis_angle(np.random.default_rng(1), 100))
    d6 = matrix_to_6d(mat)
    assert d6.shape == (100, 6)
    assert np.allclose(rotation_6d_to_matrix(d6), mat, atol=1e-12)
    # a perturbed (network-like) 6D vector still maps to a proper rotation
    noisy = rotation_6d_to_matrix(d6 * 1.7 + 0.05)
    assert np.allclose(noisy @ np.swapaxes(noisy, -1, -2), np.eye(3), atol=1e-10)
    assert np.allclose(np.linalg.det(noisy), 1.0)


def test_heading_of_rotations_about_z() -> None:
    body_to_world = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    angles = np.linspace(-3.0, 3.0, 13)
    assert np.allclose(heading_angle(rot_z(angles) @ body_to_world), angles)


def test_generated_skeleton_is_plausible() -> None:
    sk = generated_skeleton(1.70)
    rest = sk.rest_joints
    names = list(JOINT_NAMES)
    height = rest[names.index("head"), 1] - rest[names.index("left_foot"), 1]
    assert 1.4 < height < 1.7  # head joint to toe joint of a 1.70 m person
    left = [i for i, n in enumerate(names) if n.startswith("left_")]
    for i in left:
        j = names.index(names[i].replace("left_", "right_"))
        assert rest[i, 0] > 0 and np.allclose(rest[i] * [-1, 1, 1], rest[j])
    bones = np.linalg.norm(sk.offsets[1:], axis=1)
    assert bones.min() > 0.03 and bones.max() < 0.5
    tall = generated_skeleton(1.90)
    assert np.allclose(tall.rest_joints, rest * 1.90 / 1.70)
    assert tall.hash != sk.hash and generated_skeleton(1.70).hash == sk.hash
    assert Skeleton.from_dict(sk.to_dict()).hash == sk.hash
    with pytest.raises(ValueError, match="height"):
        generated_skeleton(3.0)


def test_fk_identity_gives_rest_pose() -> None:
    sk = generated_skeleton()
    rot = np.broadcast_to(np.eye(3), (2, 22, 3, 3))
    joints = forward_kinematics(rot, np.tile(sk.rest_joints[0], (2, 1)), sk)
    assert np.allclose(joints, sk.rest_joints)


def test_fk_preserves_bone_lengths_and_rotates_children() -> None:
    rng = np.random.default_rng(2)
    sk = generated_skeleton()
    poses = _random_axis_angle(rng, 5 * 22).reshape(5, 22, 3)
    trans = rng.normal(0, 1, (5, 3))
    joints = joints_from_axis_angle(poses, trans, sk)
    assert np.allclose(joints[:, 0], trans + sk.rest_joints[0])
    par = np.array(PARENTS[1:])
    lengths = np.linalg.norm(joints[:, 1:] - joints[:, par], axis=-1)
    assert np.allclose(lengths, np.linalg.norm(sk.offsets[1:], axis=-1))
    # bending the left elbow by 90 degrees about body Y moves only the forearm and hand
    bend = np.zeros((1, 22, 3))
    bend[0, 18] = [0.0, -np.pi / 2, 0.0]
    bent = joints_from_axis_angle(bend, np.zeros((1, 3)), sk)[0]
    moved = np.linalg.norm(bent - sk.rest_joints, axis=1) > 1e-9
    assert set(np.flatnonzero(moved)) == {20, 22}
    forearm = bent[20] - bent[18]
    assert forearm[2] > 0.2 and abs(forearm[0]) < 0.01  # now points forward (+Z)


def test_fk_rejects_bad_shapes() -> None:
    sk = generated_skeleton()
    with pytest.raises(ValueError, match="rotmats"):
        forward_kinematics(np.zeros((3, 5, 3, 3)), np.zeros((3, 3)), sk)
    with pytest.raises(ValueError, match="poses"):
        joints_from_axis_angle(np.zeros((3, 21, 3)), np.zeros((3, 3)), sk)


def test_rotation_6d_of_degenerate_input_is_a_rotation() -> None:
    from stablemotion_dlc.smpl.skeleton import rotation_6d_to_matrix

    d6 = np.array([[0, 0, 0, 0, 0, 0], [1, 0, 0, 2, 0, 0], [0, 0, 0, 0, 1, 0],
                   [1, 0, 0, 0, 1, 0]], float)
    r = rotation_6d_to_matrix(d6)
    assert np.allclose(r @ np.swapaxes(r, -1, -2), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(r), 1.0)
    assert np.allclose(r[3], np.eye(3))
