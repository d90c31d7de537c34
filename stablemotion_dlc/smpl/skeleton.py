"""The SMPL kinematic tree, a generated rest skeleton, rotations and forward kinematics.

Joint set
---------
The SMPL body has 24 joints: 22 body joints (pelvis ... wrists) driven by the 22 body rotations
that AMASS stores in ``poses[:, :66]``, plus one "hand" joint per side (SMPL joints 22/23; for
SMPL-H, whose hands have finger joints instead, the index-finger base joints 22 and 37, which are
also children of the wrists). A hand joint's position depends only on its wrist's rotation, so
all 24 joint positions follow from the 22 body rotations, the root position and the rest skeleton.
The RIFKE representation's "23 joints relative to the pelvis" are joints 1..23 of this list.

Frames and units
----------------
Rest skeletons are expressed in the SMPL *body* frame (as the SMPL model itself is): +Y up,
the body faces +Z, its left is +X, metres. The *world* frame is the AMASS one: Z up, metres;
the root (global) orientation carries the body-to-world rotation, exactly as in AMASS files.
A generated skeleton therefore works as an approximate stand-in for a real SMPL model with
real AMASS poses.

Rotations
---------
Axis-angle vectors are ``(..., 3)``; rotation matrices ``(..., 3, 3)`` act on column vectors;
the 6D representation (Zhou et al. 2019) is the first two *rows* of the matrix flattened
``[r00, r01, r02, r10, r11, r12]`` (the pytorch3d convention), mapped back by Gram-Schmidt.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

__all__ = [
    "JOINT_NAMES",
    "PARENTS",
    "N_JOINTS",
    "N_BODY_JOINTS",
    "FOOT_JOINTS",
    "TOE_JOINTS",
    "Skeleton",
    "generated_skeleton",
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
    "matrix_to_6d",
    "rotation_6d_to_matrix",
    "rot_z",
    "heading_angle",
    "forward_kinematics",
    "joints_from_axis_angle",
]

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)
PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)
N_JOINTS = 24
N_BODY_JOINTS = 22
#: The 4 foot joints of RIFKE's global foot block: left/right ankle, left/right foot (toe base).
FOOT_JOINTS: tuple[int, ...] = (7, 8, 10, 11)
#: The toe-base joints used for contact and foot-skating metrics.
TOE_JOINTS: tuple[int, ...] = (10, 11)

# Mean adult joint locations in the SMPL body frame for a 1.70 m person (metres; +Y up, faces
# +Z, left +X), symmetric left/right. Built from standard anthropometric segment proportions
# (Drillis & Contini: thigh 0.245 H, shank 0.246 H, upper arm 0.186 H, forearm 0.146 H, ankle
# height 0.039 H); not taken from any licensed body model.
_REST_170: dict[str, tuple[float, float, float]] = {
    "pelvis": (0.0, -0.22, 0.025),
    "left_hip": (0.07, -0.31, 0.017),
    "spine1": (0.0, -0.11, 0.0),
    "left_knee": (0.10, -0.726, 0.012),
    "spine2": (0.0, 0.025, 0.025),
    "left_ankle": (0.09, -1.144, -0.025),
    "spine3": (0.0, 0.08, 0.025),
    "left_foot": (0.115, -1.20, 0.095),
    "neck": (0.0, 0.295, -0.015),
    "left_collar": (0.08, 0.19, -0.01),
    "head": (0.0, 0.37, 0.035),
    "left_shoulder": (0.17, 0.235, -0.015),
    "left_elbow": (0.486, 0.215, -0.04),
    "left_wrist": (0.734, 0.22, -0.045),
    "left_hand": (0.82, 0.215, -0.06),
}


@dataclass(frozen=True)
class Skeleton:
    """A rest skeleton on the SMPL kinematic tree.

    Attributes
    ----------
    rest_joints : np.ndarray
        ``(24, 3)`` joint positions at the rest (T-)pose, SMPL body frame, metres.
        ``rest_joints[0]`` is the pelvis position for zero translation:
        ``pelvis_world = trans + rest_joints[0]``.
    source : str
        ``"generated(height=...)"`` or the path of the SMPL/SMPL-H model file it came from.
    parents : tuple of int
        Parent of each joint (``-1`` for the pelvis).
    names : tuple of str
        Joint names.
    """

    rest_joints: np.ndarray
    source: str = "generated"
    parents: tuple[int, ...] = PARENTS
    names: tuple[str, ...] = JOINT_NAMES
    _hash: str = field(default="", repr=False, compare=False)

    def __post_init__(self) -> None:
        rest = np.asarray(self.rest_joints, dtype=np.float64)
        if rest.shape != (N_JOINTS, 3) or not np.all(np.isfinite(rest)):
            raise ValueError(f"rest_joints must be finite with shape (24, 3), got {rest.shape}")
        object.__setattr__(self, "rest_joints", rest)
        payload = json.dumps({"rest": np.round(rest, 5).tolist(), "parents": list(self.parents)})
        object.__setattr__(self, "_hash", hashlib.sha256(payload.encode()).hexdigest()[:16])

    @property
    def offsets(self) -> np.ndarray:
        """``(24, 3)`` bone offsets from each joint's parent (the pelvis keeps its position)."""
        off = self.rest_joints.copy()
        par = np.asarray(self.parents[1:])
        off[1:] -= self.rest_joints[par]
        return off

    @property
    def hash(self) -> str:
        """Short hash of the rest joints (rounded to 10 micrometres) and the tree."""
        return self._hash

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description (inverse of :meth:`from_dict`)."""
        return {"rest_joints": self.rest_joints.tolist(), "source": self.source,
                "hash": self.hash}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Skeleton:
        """Rebuild a skeleton saved with :meth:`to_dict`."""
        return cls(np.asarray(d["rest_joints"], dtype=np.float64), source=str(d["source"]))


def generated_skeleton(height: float = 1.70) -> Skeleton:
    """A plausible, symmetric adult rest skeleton that needs no licensed model file.

    Parameters
    ----------
    height : float
        Standing height in metres; every offset scales with it.

    Returns
    -------
    Skeleton
        24-joint rest skeleton in the SMPL body frame (Y up, facing +Z, left +X, metres).
    """
    if not 0.5 <= height <= 2.5:
        raise ValueError(f"height must be between 0.5 and 2.5 m, got {height}")
    s = height / 1.70
    rest = np.zeros((N_JOINTS, 3))
    for i, name in enumerate(JOINT_NAMES):
        if name in _REST_170:
            rest[i] = _REST_170[name]
        else:  # right side mirrors the left across the sagittal (x = 0) plane
            x, y, z = _REST_170[name.replace("right_", "left_")]
            rest[i] = (-x, y, z)
    return Skeleton(rest * s, source=f"generated(height={height:.3f})")


# --------------------------------------------------------------------------------- rotations
def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """Axis-angle ``(..., 3)`` to rotation matrices ``(..., 3, 3)`` (Rodrigues)."""
    aa = np.asarray(aa, dtype=np.float64)
    flat = aa.reshape(-1, 3)
    return Rotation.from_rotvec(flat).as_matrix().reshape(*aa.shape[:-1], 3, 3)


def matrix_to_axis_angle(mat: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` to axis-angle ``(..., 3)`` with angle in ``[0, pi]``."""
    mat = np.asarray(mat, dtype=np.float64)
    flat = mat.reshape(-1, 3, 3)
    return Rotation.from_matrix(flat).as_rotvec().reshape(*mat.shape[:-2], 3)


def matrix_to_6d(mat: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` to the 6D representation ``(..., 6)`` (first two rows)."""
    mat = np.asarray(mat)
    return mat[..., :2, :].reshape(*mat.shape[:-2], 6)


def rotation_6d_to_matrix(d6: np.ndarray) -> np.ndarray:
    """6D representation ``(..., 6)`` to rotation matrices ``(..., 3, 3)`` by Gram-Schmidt.

    Works for any (even un-normalised, e.g. network-generated) input; degenerate input (a
    zero first vector, or two parallel vectors) still gives a proper rotation (the first
    vector falls back to +X, the second to the unit axis least aligned with the first).
    """
    d6 = np.asarray(d6, dtype=np.float64)
    a1, a2 = d6[..., :3], d6[..., 3:]
    n1 = np.linalg.norm(a1, axis=-1, keepdims=True)
    a1 = np.where(n1 > 1e-9, a1, np.array([1.0, 0.0, 0.0]))
    b1 = a1 / np.linalg.norm(a1, axis=-1, keepdims=True)
    a2 = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
    n2 = np.linalg.norm(a2, axis=-1, keepdims=True)
    alt = np.where(np.abs(b1[..., :1]) < 0.9, np.array([1.0, 0.0, 0.0]),
                   np.array([0.0, 1.0, 0.0]))
    alt = alt - np.sum(b1 * alt, axis=-1, keepdims=True) * b1
    a2 = np.where(n2 > 1e-9, a2, alt)
    b2 = a2 / np.linalg.norm(a2, axis=-1, keepdims=True)
    b3 = np.cross(b1, b2)
    return np.stack([b1, b2, b3], axis=-2)


def rot_z(theta: np.ndarray) -> np.ndarray:
    """Rotations about the world Z (up) axis: angles ``(...)`` to matrices ``(..., 3, 3)``."""
    theta = np.asarray(theta, dtype=np.float64)
    c, s = np.cos(theta), np.sin(theta)
    z, o = np.zeros_like(theta), np.ones_like(theta)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1),
                     np.stack([z, z, o], -1)], -2)


def heading_angle(root_rotmat: np.ndarray) -> np.ndarray:
    """Heading (yaw about world Z) of the body from its root rotation.

    The heading is the direction the body faces projected on the ground: 0 = facing world +X,
    pi/2 = facing +Y. It is computed from the body's left axis (body +X), which stays
    horizontal when the trunk leans forward or backward.

    Parameters
    ----------
    root_rotmat : np.ndarray
        ``(..., 3, 3)`` global root rotations (body frame to Z-up world).

    Returns
    -------
    np.ndarray
        ``(...)`` angles in radians, in ``(-pi, pi]``.
    """
    left = np.asarray(root_rotmat)[..., :, 0]
    return np.arctan2(-left[..., 0], left[..., 1])


# --------------------------------------------------------------------------- kinematics
def forward_kinematics(rotmats: np.ndarray, pelvis: np.ndarray, skeleton: Skeleton,
                       return_global: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Joint positions from local joint rotations and the pelvis position.

    This is exactly how SMPL places its joints (``batch_rigid_transform`` in ``smplx``):
    ``G_0 = R_0``, ``G_j = G_parent(j) R_j``, ``p_j = p_parent(j) + G_parent(j) offset_j``.

    Parameters
    ----------
    rotmats : np.ndarray
        ``(T, 22, 3, 3)`` or ``(T, 24, 3, 3)`` local rotations (index 0 = global root
        orientation). With 22 rotations the hand joints get identity rotations (which does not
        change any joint position).
    pelvis : np.ndarray
        ``(T, 3)`` world pelvis positions.
    skeleton : Skeleton
        Rest skeleton.
    return_global : bool
        Also return the global rotations ``(T, 24, 3, 3)``.

    Returns
    -------
    np.ndarray or tuple
        ``(T, 24, 3)`` joint positions (and the global rotations when asked).
    """
    rotmats = np.asarray(rotmats, dtype=np.float64)
    n_t, n_r = rotmats.shape[:2]
    if rotmats.shape[2:] != (3, 3) or n_r not in (N_BODY_JOINTS, N_JOINTS):
        raise ValueError(f"rotmats must be (T, 22|24, 3, 3), got {rotmats.shape}")
    pelvis = np.asarray(pelvis, dtype=np.float64)
    if pelvis.shape != (n_t, 3):
        raise ValueError(f"pelvis must be ({n_t}, 3), got {pelvis.shape}")
    offsets = skeleton.offsets
    glob = np.empty((n_t, N_JOINTS, 3, 3))
    pos = np.empty((n_t, N_JOINTS, 3))
    glob[:, 0] = rotmats[:, 0]
    pos[:, 0] = pelvis
    for j in range(1, N_JOINTS):
        p = skeleton.parents[j]
        local = rotmats[:, j] if j < n_r else np.eye(3)
        glob[:, j] = glob[:, p] @ local
        pos[:, j] = pos[:, p] + glob[:, p] @ offsets[j]
    if return_global:
        return pos, glob
    return pos


def joints_from_axis_angle(poses: np.ndarray, trans: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """SMPL joint positions from AMASS-style parameters.

    Parameters
    ----------
    poses : np.ndarray
        ``(T, 22, 3)`` axis-angle body rotations (index 0 = root orientation).
    trans : np.ndarray
        ``(T, 3)`` SMPL translation (``pelvis = trans + skeleton.rest_joints[0]``).
    skeleton : Skeleton
        Rest skeleton.

    Returns
    -------
    np.ndarray
        ``(T, 24, 3)`` world joint positions.
    """
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (N_BODY_JOINTS, 3):
        raise ValueError(f"poses must be (T, 22, 3), got {poses.shape}")
    pelvis = np.asarray(trans, dtype=np.float64) + skeleton.rest_joints[0]
    return forward_kinematics(axis_angle_to_matrix(poses), pelvis, skeleton)  # type: ignore[return-value]
