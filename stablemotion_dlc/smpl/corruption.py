"""BrokenAMASS-style synthetic corruption of SMPL motion, and the training batch source.

Each corruption acts on the motion parameters (root translation and joint rotations) inside
one interval ``[start, stop)`` and nothing else; joint positions are then recomputed by forward
kinematics, so corrupted motion stays a valid body. Interval lengths (frames at 20 fps) and
strengths are drawn uniformly from the ranges of :class:`CorruptionConfig`:

==============  =========  =====================================================================
kind            length     what happens inside the interval
==============  =========  =====================================================================
``jitter``      5-30       i.i.d. noise on rotations (0.03-0.12 rad, on 3..22 joints) and on the
                           root (1-4 cm) every frame
``oversmooth``  10-40      rotations and root replaced by a Gaussian-smoothed copy
                           (sigma 3-8 frames): lost detail, feet float and skate
``sliding``     10-40      the whole body slides horizontally by a smooth bump of 5-25 cm
                           (planted feet skate); back in place at the end
``drift``       15-60      growing offset of up to 10-40 cm and 0.05-0.3 rad of yaw, snapping
                           back after the interval (tracker drift and reset)
``pop``         1-3        1-4 joints rotated by 0.5-1.5 rad and/or the root moved 10-40 cm
``freeze``      4-20       the frame before the interval is held (frozen frames)
==============  =========  =====================================================================

Labels are per frame. A frame is labelled bad when any of its joints moved more than
``label_tolerance`` (1 cm by default), its per-frame joint displacement changed by more than
that (this also flags the frame just after an interval, whose velocity features see the jump
back, and frame 0 when frame 1's velocity changed, as frame 0 copies it), or any local joint
rotation changed by more than ``label_angle_tolerance`` (0.05 rad;
head and toe rotations move no joint). A corruption that changes nothing (freezing a still
body) labels nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.ndimage import gaussian_filter1d

from stablemotion_dlc.core.representation import Batch
from stablemotion_dlc.smpl.amass import SmplMotion, canonical_frame, canonicalize, to_canonical
from stablemotion_dlc.smpl.rifke import RifkeRepresentation
from stablemotion_dlc.smpl.skeleton import (
    axis_angle_to_matrix,
    joints_from_axis_angle,
    matrix_to_axis_angle,
    rot_z,
    rotation_6d_to_matrix,
)

__all__ = [
    "CORRUPTION_KINDS",
    "CorruptionConfig",
    "CorruptionEvent",
    "apply_corruption",
    "corrupt",
    "frame_labels",
    "SmplClipSource",
]

logger = logging.getLogger(__name__)

CORRUPTION_KINDS: tuple[str, ...] = ("jitter", "oversmooth", "sliding", "drift", "pop", "freeze")


@dataclass(frozen=True)
class CorruptionConfig:
    """Ranges ``(low, high)`` for the synthetic corruptions (lengths in frames, inclusive).

    Attributes
    ----------
    kinds : tuple of str
        Kinds to draw from (uniformly).
    n_events : tuple of int
        Number of corruption events per clip.
    label_tolerance : float
        Joint displacement (m) above which a frame is labelled bad.
    label_angle_tolerance : float
        Change of any local joint rotation (rad) above which a frame is labelled bad.
    """

    kinds: tuple[str, ...] = CORRUPTION_KINDS
    n_events: tuple[int, int] = (1, 3)
    jitter_len: tuple[int, int] = (5, 30)
    jitter_rot: tuple[float, float] = (0.03, 0.12)
    jitter_trans: tuple[float, float] = (0.01, 0.04)
    oversmooth_len: tuple[int, int] = (10, 40)
    oversmooth_sigma: tuple[float, float] = (3.0, 8.0)
    sliding_len: tuple[int, int] = (10, 40)
    sliding_amp: tuple[float, float] = (0.05, 0.25)
    drift_len: tuple[int, int] = (15, 60)
    drift_amp: tuple[float, float] = (0.10, 0.40)
    drift_yaw: tuple[float, float] = (0.05, 0.30)
    pop_len: tuple[int, int] = (1, 3)
    pop_rot: tuple[float, float] = (0.5, 1.5)
    pop_trans: tuple[float, float] = (0.10, 0.40)
    freeze_len: tuple[int, int] = (4, 20)
    label_tolerance: float = 0.01
    label_angle_tolerance: float = 0.05

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(CORRUPTION_KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"unknown corruption kinds {sorted(unknown)}; "
                             f"choose from {CORRUPTION_KINDS}")


@dataclass(frozen=True)
class CorruptionEvent:
    """One applied corruption: its kind and frame interval ``[start, stop)``."""

    kind: str
    start: int
    stop: int


def _random_axis(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, 3))
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def apply_corruption(poses: np.ndarray, trans: np.ndarray, kind: str, start: int, stop: int,
                     rng: np.random.Generator, config: CorruptionConfig = CorruptionConfig()
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt frames ``[start, stop)`` of one motion; other frames are returned unchanged.

    Parameters
    ----------
    poses : np.ndarray
        ``(T, 22, 3)`` axis-angle rotations (not modified).
    trans : np.ndarray
        ``(T, 3)`` root translation (not modified).
    kind : str
        One of :data:`CORRUPTION_KINDS`.
    start, stop : int
        Interval, ``0 <= start < stop <= T``.
    rng : np.random.Generator
        Random source for the strengths.
    config : CorruptionConfig
        Strength ranges.

    Returns
    -------
    poses, trans : np.ndarray
        Corrupted copies.
    """
    n_t = len(poses)
    if not 0 <= start < stop <= n_t:
        raise ValueError(f"bad interval [{start}, {stop}) for {n_t} frames")
    poses, trans = poses.copy(), trans.copy()
    sl = slice(start, stop)
    n = stop - start
    rot = axis_angle_to_matrix(poses[sl])
    if kind == "jitter":
        joints = rng.choice(22, size=int(rng.integers(3, 23)), replace=False)
        std = rng.uniform(*config.jitter_rot)
        noise = np.zeros((n, 22, 3))
        noise[:, joints] = rng.normal(0, std, (n, len(joints), 3))
        rot = rot @ axis_angle_to_matrix(noise)
        trans[sl] += rng.normal(0, rng.uniform(*config.jitter_trans), (n, 3))
    elif kind == "oversmooth":
        sigma = rng.uniform(*config.oversmooth_sigma)
        full = axis_angle_to_matrix(poses)
        d6 = gaussian_filter1d(full[:, :, :2, :].reshape(n_t, 22, 6), sigma, axis=0,
                               mode="nearest")
        rot = rotation_6d_to_matrix(d6[sl])
        trans[sl] = gaussian_filter1d(trans, sigma, axis=0, mode="nearest")[sl]
    elif kind == "sliding":
        direction = np.append(_random_axis(rng, 1)[0, :2], 0.0)
        direction /= max(np.linalg.norm(direction), 1e-9)
        s = (np.arange(n) + 1) / (n + 1)
        trans[sl] += rng.uniform(*config.sliding_amp) * np.sin(np.pi * s)[:, None] * direction
    elif kind == "drift":
        direction = np.append(_random_axis(rng, 1)[0, :2], 0.0)
        direction /= max(np.linalg.norm(direction), 1e-9)
        s = (np.arange(n) + 1) / n
        trans[sl] += rng.uniform(*config.drift_amp) * s[:, None] * direction
        yaw = rng.choice([-1, 1]) * rng.uniform(*config.drift_yaw) * s
        rot[:, 0] = rot_z(yaw) @ rot[:, 0]  # about the pelvis: the translation is unaffected
    elif kind == "pop":
        n_j = int(rng.integers(1, 5))
        if rng.random() < 0.8:
            joints = rng.choice(22, size=n_j, replace=False)
            angle = rng.uniform(*config.pop_rot, size=(n_j, 1))
            kick = axis_angle_to_matrix(_random_axis(rng, n_j) * angle)
            rot[:, joints] = rot[:, joints] @ kick
        if rng.random() < 0.5:
            trans[sl] += _random_axis(rng, 1)[0] * rng.uniform(*config.pop_trans)
    elif kind == "freeze":
        hold = max(start - 1, 0)
        rot[:] = axis_angle_to_matrix(poses[hold])
        trans[sl] = trans[hold]
    else:
        raise ValueError(f"unknown corruption kind {kind!r}; choose from {CORRUPTION_KINDS}")
    poses[sl] = matrix_to_axis_angle(rot)
    return poses, trans


def frame_labels(clean_joints: np.ndarray, corrupted_joints: np.ndarray, fps: float,
                 tolerance: float = 0.01, clean_poses: np.ndarray | None = None,
                 corrupted_poses: np.ndarray | None = None,
                 angle_tolerance: float = 0.05) -> np.ndarray:
    """Per-frame bad labels from how far the joints, their velocities and rotations moved.

    Parameters
    ----------
    clean_joints, corrupted_joints : np.ndarray
        ``(T, J, 3)`` joint positions before and after corruption.
    fps : float
        Frame rate (the velocity tolerance is ``tolerance * fps``, i.e. ``tolerance`` per frame).
    tolerance : float
        Displacement threshold in metres.
    clean_poses, corrupted_poses : np.ndarray, optional
        ``(T, 22, 3)`` axis-angle rotations; when given, a frame whose local rotation of any
        joint changed by more than ``angle_tolerance`` radians is also bad (rotations of the
        head and toes move no joint but are part of the features).
    angle_tolerance : float
        Rotation threshold in radians.

    Returns
    -------
    np.ndarray
        ``(T,)`` bool, True = corrupted.
    """
    del fps  # the per-frame velocity change is compared with ``tolerance`` directly
    diff = corrupted_joints - clean_joints
    bad = np.linalg.norm(diff, axis=-1).max(axis=-1) > tolerance
    if len(diff) > 1:
        dv = np.linalg.norm(diff[1:] - diff[:-1], axis=-1).max(axis=-1) > tolerance
        bad[1:] |= dv
        bad[0] |= dv[0]  # frame 0's velocity features copy frame 1's (see rifke)
    if clean_poses is not None and corrupted_poses is not None:
        a = axis_angle_to_matrix(clean_poses)
        b = axis_angle_to_matrix(corrupted_poses)
        cos = (np.einsum("tjik,tjik->tj", a, b) - 1.0) / 2.0  # trace(a^T b) = 1 + 2 cos(angle)
        bad |= np.arccos(np.clip(cos, -1.0, 1.0)).max(axis=-1) > angle_tolerance
    return bad


def corrupt(motion: SmplMotion, rng: np.random.Generator,
            config: CorruptionConfig = CorruptionConfig()
            ) -> tuple[SmplMotion, np.ndarray, list[CorruptionEvent]]:
    """Inject ``config.n_events`` random corruptions into a motion.

    Parameters
    ----------
    motion : SmplMotion
        Clean motion (not modified).
    rng : np.random.Generator
        Random source.
    config : CorruptionConfig
        Kinds, lengths and strengths.

    Returns
    -------
    corrupted : SmplMotion
        Corrupted copy (joints recomputed by forward kinematics on ``motion.skeleton``).
    labels : np.ndarray
        ``(T,)`` bool per-frame labels (see :func:`frame_labels`).
    events : list of CorruptionEvent
        What was applied where.
    """
    n_t = len(motion)
    poses, trans = motion.poses, motion.trans
    events = []
    for _ in range(int(rng.integers(config.n_events[0], config.n_events[1] + 1))):
        kind = str(rng.choice(config.kinds))
        lo, hi = getattr(config, f"{kind}_len")
        length = int(min(rng.integers(lo, hi + 1), n_t))
        start = int(rng.integers(0, n_t - length + 1))
        poses, trans = apply_corruption(poses, trans, kind, start, start + length, rng, config)
        events.append(CorruptionEvent(kind, start, start + length))
    clean_joints = joints_from_axis_angle(motion.poses, motion.trans, motion.skeleton)
    joints = joints_from_axis_angle(poses, trans, motion.skeleton)
    labels = frame_labels(clean_joints, joints, motion.fps, config.label_tolerance,
                          motion.poses, poses, config.label_angle_tolerance)
    # keep the caller's joints bit-identical wherever the parameters did not change
    same = np.all(poses == motion.poses, axis=(1, 2)) & np.all(trans == motion.trans, axis=1)
    joints[same] = motion.joints[same]
    corrupted = replace(motion, poses=poses, trans=trans, joints=joints,
                        source=f"{motion.source} corrupted")
    return corrupted, labels, events


class SmplClipSource:
    """Training batches of SMPL windows with on-the-fly labelled corruption.

    Each sample: a random clip, a random window of ``window`` frames, canonicalised
    (frame 0 at the origin facing +X; floor kept), corrupted with probability ``p_corrupt``
    (together with ``context`` frames on each side, then cut) and re-placed by its corrupted
    first frame (as cleanup places its windows), encoded with ``representation``. Frames of
    the clip that were not corrupted are labelled good: the clips themselves are assumed
    clean (AMASS); pass ``clip_labels`` to mark frames already known to be bad.

    Parameters
    ----------
    clips : sequence of SmplMotion
        Source motions (e.g. from :func:`~stablemotion_dlc.smpl.amass.load_amass_clips` or
        :func:`~stablemotion_dlc.smpl.amass.generate_motion`), each at least ``window`` long.
    representation : RifkeRepresentation
        Feature encoder.
    window : int
        Frames per training window.
    p_corrupt : float
        Probability that a window gets corruption events.
    config : CorruptionConfig
        Corruption kinds and strengths.
    clip_labels : sequence of np.ndarray, optional
        Known per-frame bad labels ``(T_i,)`` of each clip.
    with_clean : bool
        Also return the uncorrupted features in ``Batch.extra["clean"]`` (for evaluation;
        costs a second encoding per window).
    context : int
        Frames on each side of the window (where the clip has them) that are corrupted with
        it and then cut away, so that windows also start or end inside a corruption, as
        cleanup windows of a long motion do.
    """

    def __init__(self, clips: Sequence[SmplMotion], representation: RifkeRepresentation,
                 window: int = 100, p_corrupt: float = 0.9,
                 config: CorruptionConfig = CorruptionConfig(),
                 clip_labels: Sequence[np.ndarray] | None = None,
                 with_clean: bool = False, context: int = 16) -> None:
        if not clips:
            raise ValueError("no clips to sample from")
        short = [i for i, c in enumerate(clips) if len(c) < window]
        if short:
            raise ValueError(f"{len(short)} clip(s) shorter than the window of {window} frames "
                             f"(first: #{short[0]}, {len(clips[short[0]])} frames)")
        if not 0.0 <= p_corrupt <= 1.0:
            raise ValueError(f"p_corrupt must be in [0, 1], got {p_corrupt}")
        if clip_labels is not None and len(clip_labels) != len(clips):
            raise ValueError("clip_labels must have one array per clip")
        self.clips = list(clips)
        self.representation = representation
        self.window = int(window)
        self.p_corrupt = float(p_corrupt)
        self.config = config
        self.with_clean = bool(with_clean)
        if context < 0:
            raise ValueError(f"context must be >= 0, got {context}")
        self.context = int(context)
        self.clip_labels = None if clip_labels is None else [np.asarray(x, bool)
                                                             for x in clip_labels]

    def sample_motion(self, rng: np.random.Generator
                      ) -> tuple[SmplMotion, SmplMotion, np.ndarray]:
        """One window: ``(clean, corrupted, labels (window,) bool)``."""
        i = int(rng.integers(len(self.clips)))
        clip = self.clips[i]
        w = self.window
        start = int(rng.integers(0, len(clip) - w + 1))
        a, b = max(0, start - self.context), min(len(clip), start + w + self.context)
        seg = canonicalize(clip.slice(a, b), floor=0.0)
        off = start - a
        known = (np.zeros(w, bool) if self.clip_labels is None
                 else self.clip_labels[i][start:start + w].copy())
        if rng.random() < self.p_corrupt:
            bad, labels, _ = corrupt(seg, rng, self.config)
            clean, bad, labels = seg.slice(off, off + w), bad.slice(off, off + w), \
                labels[off:off + w]
        else:
            clean = bad = seg.slice(off, off + w)
            labels = np.zeros(w, bool)
        # as in cleanup, the window is placed by its own (possibly corrupted) first frame
        rz, shift = canonical_frame(bad, floor=0.0)
        placed = to_canonical(clean, rz, shift)
        return placed, (placed if bad is clean else to_canonical(bad, rz, shift)), \
            labels | known

    def sample(self, rng: np.random.Generator, batch_size: int) -> Batch:
        """Return one batch (with ``with_clean``, ``extra['clean']`` holds clean features)."""
        rep = self.representation
        feats = np.empty((batch_size, self.window, rep.layout.n_features), np.float32)
        clean = np.empty_like(feats) if self.with_clean else None
        labels = np.zeros((batch_size, self.window, 1), np.float32)
        for b in range(batch_size):
            good, bad, lab = self.sample_motion(rng)
            feats[b] = rep.features(bad.poses, bad.trans, bad.joints)
            if clean is not None:
                clean[b] = feats[b] if bad is good else rep.features(good.poses, good.trans,
                                                                   good.joints)
            labels[b, :, 0] = lab
        extra = {} if clean is None else {"clean": clean}
        return Batch(features=feats, labels=labels, observed=np.ones(feats.shape, bool),
                     extra=extra)
