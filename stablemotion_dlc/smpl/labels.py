"""Rule-based suspect frames of SMPL motion: what a look at the joints alone can tell.

The diffusion model detects corruption from context; these rules catch, with almost no false
alarms, the errors that leave an unmistakable trace in the joint positions, the same way the
DLC path adds jump/bone/swap rules to the likelihood (see :mod:`stablemotion_dlc.dlc.labels`):

``pop`` and ``jitter``
    Spikes. Each joint's distance to its own Savitzky-Golay fit (window 7, order 3)
    is divided by that joint's typical (median) distance over the motion, so the test adapts
    to the motion's speed and to mocap noise; a frame is suspect when some joint is more than
    ``spike_z`` times off. The feet (ankles and toe bases) are left out: heel strike and
    toe-off are genuinely abrupt (on generated walking they reach 20x their median, every
    other joint stays under 3.1x). Runs of spike frames up to ``max_pop_frames`` long (the
    fit spreads a 1-3 frame pop over a few neighbours) are ``pop``, longer runs ``jitter``.
``frozen``
    A held pose: at least ``min_frozen`` consecutive frames in which no joint moved more than
    ``freeze_tolerance`` since the previous frame, ending in a jump of more than
    ``jump_after_freeze`` (the tracker catching up). The frame of the jump is suspect too.
    A person standing still and starting to move again does not jump.

Every rule's frames are widened by ``dilate`` frames on each side (the frame after a pop has
a wrong velocity). Over-smoothing, slow drift and sliding leave no such trace; they are left
to the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import binary_dilation
from scipy.signal import savgol_filter

from stablemotion_dlc._arrays import true_runs
from stablemotion_dlc.smpl.amass import SmplMotion
from stablemotion_dlc.smpl.skeleton import FOOT_JOINTS

__all__ = ["SMPL_RULES", "SmplSuspects", "spike_scores", "frozen_frames", "suspect_frames"]

#: Rule names, in the order of :attr:`SmplSuspects.rules`.
SMPL_RULES: tuple[str, ...] = ("pop", "jitter", "frozen")


@dataclass
class SmplSuspects:
    """Suspect frames of one motion.

    Attributes
    ----------
    mask : np.ndarray
        ``(T,)`` bool, any rule.
    rules : dict of str to np.ndarray
        ``(T,)`` bool per rule of :data:`SMPL_RULES`.
    spike_score : np.ndarray
        ``(T,)`` the pop/jitter score (largest normalised residual over the joints).
    """

    mask: np.ndarray
    rules: dict[str, np.ndarray] = field(default_factory=dict)
    spike_score: np.ndarray | None = None


def spike_scores(joints: np.ndarray, window: int = 7, order: int = 3,
                 floor: float = 0.002, exclude: tuple[int, ...] = FOOT_JOINTS) -> np.ndarray:
    """Per-frame spike score: each joint's residual to a local polynomial fit over its median.

    Parameters
    ----------
    joints : np.ndarray
        ``(T, J, 3)`` joint positions (metres).
    window, order : int
        Savitzky-Golay window (odd) and polynomial order.
    floor : float
        Added to each joint's median residual (metres), so that a joint that hardly moves
        does not turn millimetre noise into large scores.
    exclude : tuple of int
        Joints not scored (default: the feet, whose contacts are abrupt by nature).

    Returns
    -------
    np.ndarray
        ``(T,)`` float; 0 for motions shorter than ``window``.
    """
    j = np.asarray(joints, dtype=np.float64)
    if j.ndim != 3 or j.shape[-1] != 3:
        raise ValueError(f"joints must be (T, J, 3), got {j.shape}")
    keep = [k for k in range(j.shape[1]) if k not in set(exclude)]
    if len(j) < window or not keep:
        return np.zeros(len(j))
    j = j[:, keep]
    resid = np.linalg.norm(j - savgol_filter(j, window, order, axis=0, mode="interp"), axis=-1)
    return (resid / (np.median(resid, axis=0) + floor)).max(axis=1)


def frozen_frames(joints: np.ndarray, min_frozen: int = 3, tolerance: float = 1e-4,
                  jump: float = 0.01) -> np.ndarray:
    """Frames of a held pose that ends in a jump, plus the jump frame.

    Parameters
    ----------
    joints : np.ndarray
        ``(T, J, 3)`` joint positions (metres).
    min_frozen : int
        Least number of consecutive still frames.
    tolerance : float
        Largest joint displacement (metres) since the previous frame of a still frame.
    jump : float
        Least largest-joint displacement (metres) of the frame after the still run.

    Returns
    -------
    np.ndarray
        ``(T,)`` bool.
    """
    j = np.asarray(joints, dtype=np.float64)
    out = np.zeros(len(j), bool)
    if len(j) < min_frozen + 1:
        return out
    step = np.zeros(len(j))
    step[1:] = np.linalg.norm(np.diff(j, axis=0), axis=-1).max(axis=1)
    still = step < tolerance
    still[0] = False  # frame 0 has no previous frame
    for a, b in zip(*true_runs(still), strict=True):
        if b - a >= min_frozen and b < len(j) and step[b] > jump:
            out[a:b + 1] = True
    return out


def suspect_frames(motion: SmplMotion | np.ndarray, *, spike_z: float = 6.0,
                   max_pop_frames: int = 9,
                   min_frozen: int = 3, freeze_tolerance: float = 1e-4,
                   jump_after_freeze: float = 0.01, dilate: int = 0) -> SmplSuspects:
    """Run the SMPL rules on one motion.

    Parameters
    ----------
    motion : SmplMotion or np.ndarray
        The motion, or its ``(T, J, 3)`` joints.
    spike_z : float
        Threshold of :func:`spike_scores`.
    max_pop_frames : int
        Longest run of spike frames called a pop (longer: jitter).
    min_frozen, freeze_tolerance, jump_after_freeze : int, float, float
        See :func:`frozen_frames`.
    dilate : int
        Frames added on each side of every suspect run.

    Returns
    -------
    SmplSuspects
    """
    joints = motion.joints if isinstance(motion, SmplMotion) else np.asarray(motion)
    score = spike_scores(joints)
    spike = score > spike_z
    pop = np.zeros_like(spike)
    for a, b in zip(*true_runs(spike), strict=True):
        pop[a:b] = b - a <= max_pop_frames
    rules = {"pop": pop, "jitter": spike & ~pop,
             "frozen": frozen_frames(joints, min_frozen, freeze_tolerance, jump_after_freeze)}
    if dilate > 0:
        rules = {k: binary_dilation(v, iterations=dilate) if v.any() else v
                 for k, v in rules.items()}
    mask = np.zeros(len(joints), bool)
    for v in rules.values():
        mask |= v
    return SmplSuspects(mask=mask, rules=rules, spike_score=score)
