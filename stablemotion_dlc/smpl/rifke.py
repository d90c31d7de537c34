"""The 232-dim "global SMPL RIFKE" motion features and their exact inverse.

Layout of one frame (``T`` frames, world Z up, metres, ``fps`` = 20 by default)::

    [0]        root height: pelvis z
    [1:3]      root trajectory: pelvis x, y
    [3:5]      heading cos, sin (heading 0 = facing +X; see ``skeleton.heading_angle``)
    [5:137]    22 local joint rotations in 6D (first two matrix rows); the root's is the root
               orientation *without* heading: ``Rz(-heading) @ R_root``
    [137:206]  joints 1..23 (of the 24 SMPL joints) minus the pelvis, rotated by
               ``Rz(-heading)`` into the heading frame
    [206:218]  the 4 foot joints (left/right ankle, left/right foot) in world coordinates
    [218:230]  their velocities (m/s)
    [230:232]  pelvis x, y velocity (m/s)

Velocities are backward differences times fps; frame 0 copies frame 1's value. The inverse
(:meth:`RifkeRepresentation.decode`) uses only the root (height, trajectory, heading) and the
rotations, through forward kinematics on the representation's skeleton; the other blocks are
redundant and exist to help the network (and to measure what it generated).

One quality label per frame governs all 232 features.

As a :class:`~stablemotion_dlc.core.representation.Representation`: ``encode(motion)`` gives
the features of a whole motion in its world frame, floor at z = 0 (:class:`SmplContext` keeps
the floor height and the subject's skeleton for ``decode``); ``to_window`` places each window
as training does (its first frame at the origin facing +X) and ``from_window`` maps the
network's output back, so the core's one windowing path cleans SMPL motion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from stablemotion_dlc.core.representation import Encoded, LabelLayout
from stablemotion_dlc.smpl.skeleton import (
    FOOT_JOINTS,
    JOINT_NAMES,
    N_BODY_JOINTS,
    N_JOINTS,
    Skeleton,
    axis_angle_to_matrix,
    forward_kinematics,
    generated_skeleton,
    heading_angle,
    matrix_to_6d,
    matrix_to_axis_angle,
    rot_z,
    rotation_6d_to_matrix,
)

if TYPE_CHECKING:
    from stablemotion_dlc.smpl.amass import SmplMotion

__all__ = ["RifkeRepresentation", "SmplContext", "WindowFrame", "N_FEATURES", "SLICES",
           "robust_floor"]

N_FEATURES = 232
#: Named blocks of the feature vector.
SLICES: dict[str, slice] = {
    "root_height": slice(0, 1),
    "trajectory": slice(1, 3),
    "heading": slice(3, 5),
    "rotations": slice(5, 137),
    "relative_joints": slice(137, 206),
    "foot_joints": slice(206, 218),
    "foot_velocity": slice(218, 230),
    "trajectory_velocity": slice(230, 232),
}


def _velocity(x: np.ndarray, fps: float) -> np.ndarray:
    """Backward difference along axis 0 times fps; frame 0 copies frame 1."""
    v = np.zeros_like(x)
    if len(x) > 1:
        v[1:] = (x[1:] - x[:-1]) * fps
        v[0] = v[1]
    return v


#: Feature columns holding a world x or y coordinate (xy pairs), a world z, or an xy velocity.
_XY_PAIRS = [(1, 2)] + [(206 + 3 * j, 207 + 3 * j) for j in range(4)]
_Z_COLS = [0] + [208 + 3 * j for j in range(4)]
_VEL_PAIRS = [(218 + 3 * j, 219 + 3 * j) for j in range(4)] + [(230, 231)]
_VEL_COLS = list(range(218, 232))


def robust_floor(joints: np.ndarray) -> float:
    """Floor height: 1st percentile of the per-frame lowest joint (ignores a few pops)."""
    return float(np.percentile(np.asarray(joints)[..., 2].min(axis=1), 1.0))


@dataclass(frozen=True)
class SmplContext:
    """What :meth:`RifkeRepresentation.decode` needs besides the features.

    Attributes
    ----------
    skeleton : Skeleton
        The subject's rest skeleton (forward kinematics).
    floor : float
        World height of the floor, removed by ``encode`` and put back by ``decode``.
    source : str
        Where the motion came from (kept on the decoded motion).
    betas : np.ndarray or None
        Shape coefficients, kept on the decoded motion.
    """

    skeleton: Skeleton
    floor: float = 0.0
    source: str = ""
    betas: np.ndarray | None = None


@dataclass(frozen=True)
class WindowFrame:
    """The rigid placement of one window: its first frame's pelvis ``xy`` and heading."""

    xy: np.ndarray
    heading: float


def _rotate_pairs(f: np.ndarray, pairs: list[tuple[int, int]], c: float, s: float) -> None:
    """Rotate the (x, y) column pairs of ``f`` in place by the angle with cos ``c``, sin ``s``."""
    for a, b in pairs:
        x, y = f[:, a].copy(), f[:, b].copy()
        f[:, a] = c * x - s * y
        f[:, b] = s * x + c * y


def _feature_names() -> tuple[str, ...]:
    names = ["root_z", "root_x", "root_y", "heading_cos", "heading_sin"]
    for j in range(N_BODY_JOINTS):
        names += [f"rot6d_{JOINT_NAMES[j]}_{k}" for k in range(6)]
    for j in range(1, N_JOINTS):
        names += [f"rel_{JOINT_NAMES[j]}_{a}" for a in "xyz"]
    for j in FOOT_JOINTS:
        names += [f"foot_{JOINT_NAMES[j]}_{a}" for a in "xyz"]
    for j in FOOT_JOINTS:
        names += [f"footvel_{JOINT_NAMES[j]}_{a}" for a in "xyz"]
    names += ["root_vel_x", "root_vel_y"]
    return tuple(names)


class RifkeRepresentation:
    """SMPL motion <-> 232-dim global RIFKE features, one quality label per frame.

    Parameters
    ----------
    skeleton : Skeleton, optional
        Rest skeleton used by :meth:`decode` (and by :meth:`encode` when no joints are given).
        Defaults to :func:`~stablemotion_dlc.smpl.skeleton.generated_skeleton`.
    fps : float
        Frame rate of the motion (20 upstream).
    """

    name = "smpl-rifke"
    version = 1
    #: Features hold the global trajectory and heading: the core places every window.
    places_windows = True

    def __init__(self, skeleton: Skeleton | None = None, fps: float = 20.0) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.skeleton = skeleton if skeleton is not None else generated_skeleton()
        self.fps = float(fps)
        self._layout = LabelLayout(
            n_features=N_FEATURES,
            n_labels=1,
            label_of_feature=(0,) * N_FEATURES,
            extra_labels=((),) * N_FEATURES,
            names=_feature_names(),
        )

    @property
    def layout(self) -> LabelLayout:
        """232 features, one label channel governing all of them."""
        return self._layout

    def spec(self) -> dict[str, Any]:
        """JSON-serialisable description saved into checkpoints and compared on load."""
        return {
            "name": self.name,
            "version": self.version,
            "n_features": N_FEATURES,
            "n_labels": 1,
            "fps": self.fps,
            "n_joints": N_JOINTS,
            "n_rotations": N_BODY_JOINTS,
            "skeleton_hash": self.skeleton.hash,
            "skeleton": self.skeleton.to_dict(),
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> RifkeRepresentation:
        """Rebuild the representation saved by :meth:`spec` (e.g. from a checkpoint)."""
        if spec.get("name") != cls.name or int(spec.get("version", -1)) != cls.version:
            raise ValueError(f"not a {cls.name} v{cls.version} spec: {spec.get('name')!r} "
                             f"v{spec.get('version')!r}")
        return cls(Skeleton.from_dict(spec["skeleton"]), fps=float(spec["fps"]))

    # ------------------------------------------------------------------------------ encode
    def encode(self, motion: SmplMotion, floor: float | None = None) -> Encoded:
        """Encode a whole motion for the core (world frame, floor at z = 0).

        Parameters
        ----------
        motion : SmplMotion
            Motion at this representation's frame rate, any world placement.
        floor : float, optional
            World floor height (default: :func:`robust_floor` of the motion's joints).

        Returns
        -------
        Encoded
            ``(T, 232)`` float64 features, ``(T, 1)`` zero prior labels, all observed;
            ``context`` is an :class:`SmplContext` for :meth:`decode`.
        """
        if not np.isclose(motion.fps, self.fps):
            raise ValueError(f"{motion.source}: motion is at {motion.fps} fps, the "
                             f"representation at {self.fps}")
        fl = robust_floor(motion.joints) if floor is None else float(floor)
        feats = self.features(motion.poses, motion.trans, motion.joints)
        feats[:, _Z_COLS] -= fl
        n_t = len(feats)
        return Encoded(features=feats, labels=np.zeros((n_t, 1), np.float32),
                       observed=np.ones(feats.shape, bool),
                       context=SmplContext(motion.skeleton, fl, motion.source, motion.betas))

    def features(self, poses: np.ndarray, trans: np.ndarray,
                 joints: np.ndarray | None = None) -> np.ndarray:
        """Features of one motion, in its own world frame (the floor is not moved).

        Parameters
        ----------
        poses : np.ndarray
            ``(T, 22, 3)`` axis-angle body rotations (AMASS ``poses[:, :66]``), or
            ``(T, 22, 3, 3)`` rotation matrices.
        trans : np.ndarray
            ``(T, 3)`` SMPL translation, world Z up (``pelvis = trans + rest_joints[0]``).
        joints : np.ndarray, optional
            ``(T, 24, 3)`` joint positions (e.g. from ``smplx`` with the subject's shape). When
            omitted they are computed by forward kinematics on this representation's skeleton.

        Returns
        -------
        np.ndarray
            ``(T, 232)`` float64 features.
        """
        poses = np.asarray(poses, dtype=np.float64)
        if poses.ndim == 3 and poses.shape[1:] == (N_BODY_JOINTS, 3):
            rotmats = axis_angle_to_matrix(poses)
        elif poses.ndim == 4 and poses.shape[1:] == (N_BODY_JOINTS, 3, 3):
            rotmats = poses
        else:
            raise ValueError(f"poses must be (T, 22, 3) or (T, 22, 3, 3), got {poses.shape}")
        n_t = len(rotmats)
        trans = np.asarray(trans, dtype=np.float64)
        if trans.shape != (n_t, 3):
            raise ValueError(f"trans must be ({n_t}, 3), got {trans.shape}")
        if joints is None:
            joints = forward_kinematics(rotmats, trans + self.skeleton.rest_joints[0],
                                        self.skeleton)
        joints = np.asarray(joints, dtype=np.float64)
        if joints.shape != (n_t, N_JOINTS, 3):
            raise ValueError(f"joints must be ({n_t}, 24, 3), got {joints.shape}")
        if not (np.all(np.isfinite(rotmats)) and np.all(np.isfinite(trans))
                and np.all(np.isfinite(joints))):
            raise ValueError("motion contains NaN or infinite values")

        pelvis = joints[:, 0]
        theta = heading_angle(rotmats[:, 0])
        inv_heading = rot_z(-theta)  # (T, 3, 3)
        local = rotmats.copy()
        local[:, 0] = inv_heading @ rotmats[:, 0]
        rel = np.einsum("tij,tkj->tki", inv_heading, joints[:, 1:] - pelvis[:, None])
        feet = joints[:, list(FOOT_JOINTS)]

        out = np.empty((n_t, N_FEATURES))
        out[:, SLICES["root_height"]] = pelvis[:, 2:3]
        out[:, SLICES["trajectory"]] = pelvis[:, :2]
        out[:, SLICES["heading"]] = np.stack([np.cos(theta), np.sin(theta)], -1)
        out[:, SLICES["rotations"]] = matrix_to_6d(local).reshape(n_t, -1)
        out[:, SLICES["relative_joints"]] = rel.reshape(n_t, -1)
        out[:, SLICES["foot_joints"]] = feet.reshape(n_t, -1)
        out[:, SLICES["foot_velocity"]] = _velocity(feet, self.fps).reshape(n_t, -1)
        out[:, SLICES["trajectory_velocity"]] = _velocity(pelvis[:, :2], self.fps)
        return out

    # ------------------------------------------------------------------------------ decode
    def decode_rotations(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Global rotation matrices and pelvis positions from the root and rotation blocks.

        Parameters
        ----------
        features : np.ndarray
            ``(T, 232)`` features (any values; 6D blocks are orthonormalised).

        Returns
        -------
        rotmats : np.ndarray
            ``(T, 22, 3, 3)`` local rotations with the heading put back on the root.
        pelvis : np.ndarray
            ``(T, 3)`` world pelvis positions.
        """
        f = self._check(features)
        n_t = len(f)
        heading = f[:, SLICES["heading"]]
        theta = np.arctan2(heading[:, 1], heading[:, 0])
        rotmats = rotation_6d_to_matrix(f[:, SLICES["rotations"]].reshape(n_t, N_BODY_JOINTS, 6))
        rotmats[:, 0] = rot_z(theta) @ rotmats[:, 0]
        pelvis = np.concatenate([f[:, SLICES["trajectory"]], f[:, SLICES["root_height"]]], -1)
        return rotmats, pelvis

    def decode(self, features: np.ndarray, context: SmplContext | None = None) -> SmplMotion:
        """Motion back from features of :meth:`encode` (root and rotations, forward kinematics).

        Parameters
        ----------
        features : np.ndarray
            ``(T, 232)`` raw features (floor at z = 0).
        context : SmplContext, optional
            From :meth:`encode`: the subject's skeleton and the floor height (default: this
            representation's skeleton, floor 0).

        Returns
        -------
        SmplMotion
            Poses ``(T, 22, 3)``, translation and joints in the original world frame.
        """
        from stablemotion_dlc.smpl.amass import SmplMotion

        ctx = context if context is not None else SmplContext(self.skeleton)
        f = self._check(features).copy()
        f[:, _Z_COLS] += ctx.floor
        poses, trans, joints = self.decode_arrays(f, ctx.skeleton)
        return SmplMotion(poses, trans, joints, self.fps, ctx.skeleton, source=ctx.source,
                          betas=ctx.betas)

    # ------------------------------------------------------------------------------ windows
    def to_window(self, features: np.ndarray) -> tuple[np.ndarray, WindowFrame]:
        """Place a window as training does: frame 0 at the origin, facing +X.

        Velocities of the first frame copy the second's, as when the window is encoded on
        its own (training).

        Parameters
        ----------
        features : np.ndarray
            ``(w, 232)`` raw features of :meth:`encode` (floor at z = 0).

        Returns
        -------
        placed : np.ndarray
            ``(w, 232)`` features in the window's frame.
        frame : WindowFrame
            For :meth:`from_window`.
        """
        f = self._check(features).copy()
        xy0 = f[0, 1:3].copy()
        theta = float(np.arctan2(f[0, 4], f[0, 3]))
        for a, b in _XY_PAIRS:
            f[:, a] -= xy0[0]
            f[:, b] -= xy0[1]
        c, s = np.cos(-theta), np.sin(-theta)
        _rotate_pairs(f, _XY_PAIRS + _VEL_PAIRS + [(3, 4)], c, s)
        if len(f) > 1:
            f[0, _VEL_COLS] = f[1, _VEL_COLS]
        return f, WindowFrame(xy0, theta)

    def from_window(self, features: np.ndarray, frame: WindowFrame) -> np.ndarray:
        """Map placed (e.g. generated) features back to the sequence's frame.

        Parameters
        ----------
        features : np.ndarray
            ``(w, 232)`` features in the window's frame.
        frame : WindowFrame
            From :meth:`to_window`.

        Returns
        -------
        np.ndarray
            ``(w, 232)`` features in the sequence's frame.
        """
        f = self._check(features).copy()
        _rotate_pairs(f, _XY_PAIRS + _VEL_PAIRS + [(3, 4)], np.cos(frame.heading),
                      np.sin(frame.heading))
        for a, b in _XY_PAIRS:
            f[:, a] += frame.xy[0]
            f[:, b] += frame.xy[1]
        return f

    def decode_arrays(self, features: np.ndarray, skeleton: Skeleton | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Invert :meth:`features` from the root and the rotations.

        Parameters
        ----------
        features : np.ndarray
            ``(T, 232)`` raw (un-normalised) features.
        skeleton : Skeleton, optional
            Rest skeleton for forward kinematics (default: the representation's).

        Returns
        -------
        poses : np.ndarray
            ``(T, 22, 3)`` axis-angle rotations (angles in ``[0, pi]``).
        trans : np.ndarray
            ``(T, 3)`` SMPL translation.
        joints : np.ndarray
            ``(T, 24, 3)`` joint positions by forward kinematics.
        """
        skel = skeleton if skeleton is not None else self.skeleton
        rotmats, pelvis = self.decode_rotations(features)
        joints = forward_kinematics(rotmats, pelvis, skel)
        return matrix_to_axis_angle(rotmats), pelvis - skel.rest_joints[0], joints  # type: ignore[return-value]

    def joints_from_features(self, features: np.ndarray) -> np.ndarray:
        """World joints read from the pelvis, heading and relative-joint blocks (no FK).

        Useful to see what a network generated in the positional channels; for clean,
        consistent features it equals the joints of :meth:`decode`.

        Parameters
        ----------
        features : np.ndarray
            ``(T, 232)`` features.

        Returns
        -------
        np.ndarray
            ``(T, 24, 3)`` joint positions.
        """
        f = self._check(features)
        n_t = len(f)
        heading = f[:, SLICES["heading"]]
        theta = np.arctan2(heading[:, 1], heading[:, 0])
        pelvis = np.concatenate([f[:, SLICES["trajectory"]], f[:, SLICES["root_height"]]], -1)
        rel = f[:, SLICES["relative_joints"]].reshape(n_t, N_JOINTS - 1, 3)
        world = np.einsum("tij,tkj->tki", rot_z(theta), rel) + pelvis[:, None]
        return np.concatenate([pelvis[:, None], world], axis=1)

    @staticmethod
    def _check(features: np.ndarray) -> np.ndarray:
        f = np.asarray(features, dtype=np.float64)
        if f.ndim != 2 or f.shape[1] != N_FEATURES:
            raise ValueError(f"features must be (T, {N_FEATURES}), got {f.shape}")
        return f
