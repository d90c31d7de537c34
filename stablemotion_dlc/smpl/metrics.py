"""Motion-quality metrics for SMPL joint sequences (world Z up, metres, floor at z = 0).

All functions take joint positions ``(T, J, 3)`` (24 SMPL joints unless noted) and return
plain floats in SI units (metres, m/s^2, m/s^3); multiply by 100 for the centimetre figures of
the papers. Foot contacts follow the usual convention: a foot joint is in contact when it is
both low (height below ``height_threshold``) and slow (horizontal speed below
``velocity_threshold``); skating is measured on frames where the *reference* says the foot is
in contact, or, without a reference, where the foot is low (height only).
"""

from __future__ import annotations

import numpy as np

from stablemotion_dlc.core.metrics import detection_scores  # re-exported; one definition
from stablemotion_dlc.smpl.skeleton import TOE_JOINTS

__all__ = [
    "foot_contacts",
    "foot_skating",
    "ground_penetration",
    "jitter",
    "mpjpe",
    "global_mpjpe",
    "acceleration_error",
    "detection_scores",
    "motion_report",
]


def _check(joints: np.ndarray) -> np.ndarray:
    j = np.asarray(joints, dtype=np.float64)
    if j.ndim != 3 or j.shape[-1] != 3:
        raise ValueError(f"joints must be (T, J, 3), got {j.shape}")
    return j


def foot_contacts(joints: np.ndarray, fps: float = 20.0, feet: tuple[int, ...] = TOE_JOINTS,
                  height_threshold: float = 0.05, velocity_threshold: float = 0.2) -> np.ndarray:
    """Per-frame contact of each foot joint from height and horizontal speed.

    Parameters
    ----------
    joints : np.ndarray
        ``(T, J, 3)`` joint positions.
    fps : float
        Frame rate.
    feet : tuple of int
        Foot joint indices (default: the toe-base joints 10, 11).
    height_threshold : float
        Maximum height (m) of a foot in contact.
    velocity_threshold : float
        Maximum horizontal speed (m/s) of a foot in contact (central difference).

    Returns
    -------
    np.ndarray
        ``(T, len(feet))`` bool.
    """
    f = _check(joints)[:, list(feet)]
    low = f[..., 2] < height_threshold
    if len(f) < 2:
        return low
    speed = np.linalg.norm(np.gradient(f[..., :2], axis=0), axis=-1) * fps
    return low & (speed < velocity_threshold)


def foot_skating(joints: np.ndarray, contacts: np.ndarray | None = None,
                 feet: tuple[int, ...] = TOE_JOINTS, height_threshold: float = 0.05,
                 skate_threshold: float = 0.025) -> dict[str, float]:
    """Horizontal foot motion while in contact.

    Parameters
    ----------
    joints : np.ndarray
        ``(T, J, 3)`` joint positions to score.
    contacts : np.ndarray, optional
        ``(T, len(feet))`` contacts from a reference (e.g. :func:`foot_contacts` of the clean
        motion). Default: a foot is in contact when its height is below ``height_threshold``.
    feet : tuple of int
        Foot joint indices.
    height_threshold : float
        Height threshold (m) for the default contacts.
    skate_threshold : float
        Per-frame horizontal displacement (m) above which a contact frame counts as skating
        (2.5 cm, as in GMD's foot-skating ratio).

    Returns
    -------
    dict
        ``distance``: mean horizontal displacement per contact frame-pair (m);
        ``ratio``: fraction of contact frame-pairs that skate; ``n_contact``: their number.
        A frame-pair ``(t-1, t)`` counts when the foot is in contact at both frames.
    """
    f = _check(joints)[:, list(feet)]
    if contacts is None:
        contacts = f[..., 2] < height_threshold
    contacts = np.asarray(contacts, dtype=bool)
    if contacts.shape != f.shape[:2]:
        raise ValueError(f"contacts must be {f.shape[:2]}, got {contacts.shape}")
    if len(f) < 2:
        return {"distance": 0.0, "ratio": 0.0, "n_contact": 0}
    disp = np.linalg.norm(f[1:, :, :2] - f[:-1, :, :2], axis=-1)
    pair = contacts[1:] & contacts[:-1]
    n = int(pair.sum())
    if n == 0:
        return {"distance": 0.0, "ratio": 0.0, "n_contact": 0}
    return {"distance": float(disp[pair].mean()),
            "ratio": float((disp[pair] > skate_threshold).mean()), "n_contact": n}


def ground_penetration(joints: np.ndarray, floor: float = 0.0,
                       tolerance: float = 0.0) -> dict[str, float]:
    """How far joints go below the floor.

    Returns
    -------
    dict
        ``distance``: mean over frames of the deepest penetration (m, 0 when above);
        ``ratio``: fraction of frames with a joint deeper than ``tolerance``.
    """
    j = _check(joints)
    depth = np.clip(floor - j[..., 2].min(axis=1), 0.0, None)
    return {"distance": float(depth.mean()), "ratio": float((depth > tolerance).mean())}


def jitter(joints: np.ndarray, fps: float = 20.0) -> dict[str, float]:
    """Mean jerk and acceleration magnitudes over joints and frames.

    Returns
    -------
    dict
        ``jerk`` (m/s^3) and ``acceleration`` (m/s^2), finite differences at ``fps``.
    """
    j = _check(joints)
    out = {"jerk": 0.0, "acceleration": 0.0}
    if len(j) >= 3:
        out["acceleration"] = float(np.linalg.norm(np.diff(j, 2, axis=0), axis=-1).mean()
                                    * fps**2)
    if len(j) >= 4:
        out["jerk"] = float(np.linalg.norm(np.diff(j, 3, axis=0), axis=-1).mean() * fps**3)
    return out


def mpjpe(pred: np.ndarray, target: np.ndarray, root: int = 0) -> float:
    """Mean per-joint position error after aligning the root joints of each frame (m)."""
    p, t = _check(pred), _check(target)
    if p.shape != t.shape:
        raise ValueError(f"shape mismatch {p.shape} vs {t.shape}")
    p = p - p[:, root:root + 1]
    t = t - t[:, root:root + 1]
    return float(np.linalg.norm(p - t, axis=-1).mean())


def global_mpjpe(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean per-joint position error in world coordinates (m), optionally on frames ``mask``."""
    p, t = _check(pred), _check(target)
    if p.shape != t.shape:
        raise ValueError(f"shape mismatch {p.shape} vs {t.shape}")
    err = np.linalg.norm(p - t, axis=-1).mean(axis=-1)
    if mask is not None:
        mask = np.asarray(mask, bool)
        return float(err[mask].mean()) if mask.any() else 0.0
    return float(err.mean())


def acceleration_error(pred: np.ndarray, target: np.ndarray, fps: float = 20.0) -> float:
    """Mean norm of the difference of joint accelerations (m/s^2)."""
    p, t = _check(pred), _check(target)
    if p.shape != t.shape:
        raise ValueError(f"shape mismatch {p.shape} vs {t.shape}")
    if len(p) < 3:
        return 0.0
    da = np.diff(p, 2, axis=0) - np.diff(t, 2, axis=0)
    return float(np.linalg.norm(da, axis=-1).mean() * fps**2)


def motion_report(pred: np.ndarray, target: np.ndarray | None = None, fps: float = 20.0,
                  bad: np.ndarray | None = None) -> dict[str, float]:
    """All metrics of one motion as a flat dict (centimetre units for distances).

    Parameters
    ----------
    pred : np.ndarray
        ``(T, 24, 3)`` joints to score.
    target : np.ndarray, optional
        Clean reference joints; enables errors and reference contacts.
    fps : float
        Frame rate.
    bad : np.ndarray, optional
        ``(T,)`` frames known to be corrupted; adds ``gmpjpe_bad_cm`` on those frames.

    Returns
    -------
    dict
        ``skate_cm``, ``skate_ratio``, ``penetration_cm``, ``jerk``, ``accel`` and, with a
        target, ``mpjpe_cm``, ``gmpjpe_cm``, ``accel_err`` (and ``gmpjpe_bad_cm``).
    """
    contacts = foot_contacts(target, fps) if target is not None else None
    sk = foot_skating(pred, contacts)
    jt = jitter(pred, fps)
    out = {"skate_cm": 100 * sk["distance"], "skate_ratio": sk["ratio"],
           "penetration_cm": 100 * ground_penetration(pred)["distance"],
           "jerk": jt["jerk"], "accel": jt["acceleration"]}
    if target is not None:
        out["mpjpe_cm"] = 100 * mpjpe(pred, target)
        out["gmpjpe_cm"] = 100 * global_mpjpe(pred, target)
        out["accel_err"] = acceleration_error(pred, target, fps)
        if bad is not None:
            out["gmpjpe_bad_cm"] = 100 * global_mpjpe(pred, target, bad)
    return out
