"""Suspect keypoints: rule-based per-point quality labels for DLC tracks.

:func:`suspect_mask` flags every (frame, individual, keypoint) point that one of a few simple,
robust rules finds doubtful, and says which rules fired as bit flags:

=================  =====  ====================================================================
reason             bit    rule
=================  =====  ====================================================================
LOW_LIKELIHOOD     1      likelihood < ``pcutoff``
MISSING            2      coordinate is NaN
JUMP               4      a body-relative jump faster than that keypoint's robust speed
                          statistics allow; when the point comes back, the whole displaced
                          span in between is flagged, not only the two transition frames
BONE               8      a bone far from its robust length; blamed on the end whose other
                          bones are also wrong (or the less confident end)
SWAP               16     a left/right pair (or any given pair) exchanged
                          (:func:`.identity.find_lr_swaps`), two neighbouring keypoints
                          exchanged (:func:`.identity.find_neighbour_swaps`, with the
                          default ``swap_pairs``); also whole animals exchanged
                          (:func:`.identity.find_identity_swaps`)
STUCK              32     the point stays fixed to sub-pixel precision while the body moves
ON_PART            64     the point jumped onto another keypoint of its animal that it is
                          never that near (the tail base on the head); blamed on the one
                          that jumped
=================  =====  ====================================================================

Robust statistics (medians and MADs) are computed only over confident points (likelihood at
least ``pcutoff``, not NaN). Columns absent from the file (``Tracks.present``) are never flagged.
Every rule is vectorised over frames; the loops run over keypoints or skeleton edges only.
"""

from __future__ import annotations

import itertools
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from stablemotion_dlc._arrays import planar_norm as _dist
from stablemotion_dlc._arrays import sample_rows as _sample_rows
from stablemotion_dlc._arrays import true_runs
from stablemotion_dlc.dlc.constants import DEFAULT_PCUTOFF, REPEAT_PX
from stablemotion_dlc.dlc.identity import (
    _animal_individuals,
    find_identity_swaps,
    find_lr_swaps,
    find_neighbour_swaps,
    left_right_pairs,
)
from stablemotion_dlc.dlc.skeleton import skeleton_edges
from stablemotion_dlc.dlc.tracks import Tracks

if TYPE_CHECKING:  # pragma: no cover
    from .project import DlcProject

__all__ = [
    "LOW_LIKELIHOOD",
    "MISSING",
    "JUMP",
    "BONE",
    "SWAP",
    "STUCK",
    "ON_PART",
    "REASON_NAMES",
    "ALL_RULES",
    "DEFAULT_PCUTOFF",
    "SuspectLabels",
    "SuspectSegment",
    "suspect_mask",
    "default_skeleton",
]

logger = logging.getLogger(__name__)

LOW_LIKELIHOOD = 1
"""Bit flag: likelihood below ``pcutoff``."""
MISSING = 2
"""Bit flag: coordinate is NaN."""
JUMP = 4
"""Bit flag: part of a too-fast jump or of the displaced span that follows it."""
BONE = 8
"""Bit flag: an implausible bone length blamed on this keypoint."""
SWAP = 16
"""Bit flag: this keypoint (or animal) is exchanged with another one."""
STUCK = 32
"""Bit flag: the point stays fixed while the body moves."""
ON_PART = 64
"""Bit flag: the point jumped onto another keypoint of its animal that it is never that near."""

REASON_NAMES: dict[int, str] = {
    LOW_LIKELIHOOD: "low_likelihood",
    MISSING: "missing",
    JUMP: "jump",
    BONE: "bone",
    SWAP: "swap",
    STUCK: "stuck",
    ON_PART: "on_part",
}
"""Bit value -> rule name."""

ALL_RULES: tuple[str, ...] = tuple(REASON_NAMES.values())
"""Every rule name, in bit order."""


_MAD_SCALE = 1.4826  # MAD -> standard deviation for a normal distribution
_RULE_BITS = {v: k for k, v in REASON_NAMES.items()}


# --------------------------------------------------------------------------------------------
# result containers
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SuspectSegment:
    """A span of consecutive frames with at least one suspect point.

    Attributes
    ----------
    start, stop : int
        Frame span ``[start, stop)`` (row positions).
    individuals : tuple of str
        Individuals with a suspect point in the span.
    keypoints : tuple of str
        Keypoints flagged somewhere in the span.
    reasons : tuple of str
        Rule names that fired in the span.
    n_points : int
        Number of suspect points in the span.
    """

    start: int
    stop: int
    individuals: tuple[str, ...]
    keypoints: tuple[str, ...]
    reasons: tuple[str, ...]
    n_points: int

    @property
    def n_frames(self) -> int:
        """Number of frames in the span."""
        return self.stop - self.start


@dataclass
class SuspectLabels:
    """Per-point suspect labels of one :class:`~stablemotion_dlc.dlc.tracks.Tracks`.

    Attributes
    ----------
    mask : np.ndarray
        ``(frames, individuals, keypoints)`` bool, True where suspect.
    reasons : np.ndarray
        ``(frames, individuals, keypoints)`` uint8 OR of the rule bits that fired.
    reason_names : dict of int to str
        Bit -> rule name (:data:`REASON_NAMES`).
    bodyparts, individuals : list of str
        Names along axes 2 and 1.
    pcutoff : float
        Likelihood threshold used.
    skeleton : list of (int, int)
        Bones used by the BONE rule.
    params : dict
        Every threshold used (for provenance).
    """

    mask: np.ndarray
    reasons: np.ndarray
    reason_names: dict[int, str]
    bodyparts: list[str]
    individuals: list[str]
    pcutoff: float
    skeleton: list[tuple[int, int]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def frame_mask(self) -> np.ndarray:
        """``(frames,)`` bool: any keypoint of any individual suspect."""
        return np.asarray(self.mask.any(axis=(1, 2)))

    @property
    def individual_frame_mask(self) -> np.ndarray:
        """``(frames, individuals)`` bool: any keypoint of that individual suspect."""
        return np.asarray(self.mask.any(axis=2))

    def reason_mask(self, reason: int | str) -> np.ndarray:
        """Points flagged by one rule (bit value or rule name)."""
        bit = _RULE_BITS[reason] if isinstance(reason, str) else int(reason)
        if bit not in self.reason_names:
            raise ValueError(f"unknown reason {reason!r}; allowed: {list(_RULE_BITS)}")
        return (self.reasons & bit) != 0

    def summary(self) -> dict[str, int]:
        """Count of flagged points per rule, plus ``"any"`` (points) and ``"frames"``."""
        out = {name: int(((self.reasons & bit) != 0).sum()) for bit, name in
               self.reason_names.items()}
        out["any"] = int(self.mask.sum())
        out["frames"] = int(self.frame_mask.sum())
        return out

    def segments(self, individual: int | str | None = None) -> list[SuspectSegment]:
        """Spans of consecutive frames with a suspect point, with what was flagged.

        Parameters
        ----------
        individual : int or str, optional
            Restrict to one individual (index or name); default all.

        Returns
        -------
        list of SuspectSegment
            In frame order.
        """
        mask, reasons, inds = self.mask, self.reasons, list(range(len(self.individuals)))
        if individual is not None:
            if isinstance(individual, str):
                if individual not in self.individuals:
                    raise ValueError(
                        f"individual {individual!r} not in {self.individuals}"
                    )
                idx = self.individuals.index(individual)
            else:
                idx = int(individual)
                if not 0 <= idx < len(self.individuals):
                    raise ValueError(f"individual index {idx} out of range")
            mask, reasons, inds = mask[:, idx : idx + 1], reasons[:, idx : idx + 1], [idx]
        frames = np.asarray(mask.any(axis=(1, 2)))
        starts, stops = true_runs(frames)
        if starts.size == 0:
            return []
        per_ind = np.logical_or.reduceat(mask.any(2), starts, axis=0)
        per_kp = np.logical_or.reduceat(mask.any(1), starts, axis=0)
        per_reason = np.bitwise_or.reduceat(
            np.bitwise_or.reduce(reasons, axis=(1, 2)), starts, axis=0
        )
        counts = np.add.reduceat(mask.sum((1, 2)), starts, axis=0)
        out = []
        for s, e, pi, pk, pr, c in zip(starts, stops, per_ind, per_kp, per_reason, counts,
                                       strict=True):
            out.append(
                SuspectSegment(
                    start=int(s),
                    stop=int(e),
                    individuals=tuple(self.individuals[inds[j]] for j in np.flatnonzero(pi)),
                    keypoints=tuple(self.bodyparts[k] for k in np.flatnonzero(pk)),
                    reasons=tuple(n for b, n in self.reason_names.items() if pr & b),
                    n_points=int(c),
                )
            )
        return out


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _nanmedian_last(a: np.ndarray) -> np.ndarray:
    """Median over the last axis ignoring NaN (NaN where all are NaN); fast for short axes."""
    s = np.sort(a, axis=-1)  # NaN sort last
    n = np.sum(~np.isnan(a), axis=-1)
    lo = np.maximum((n - 1) // 2, 0)[..., None]
    hi = np.maximum(n // 2, 0)[..., None]
    hi = np.minimum(hi, a.shape[-1] - 1)
    med = 0.5 * (np.take_along_axis(s, lo, -1) + np.take_along_axis(s, hi, -1))[..., 0]
    return np.where(n > 0, med, np.nan)


def _nanmedian_leave_one_out(a: np.ndarray) -> np.ndarray:
    """``out[..., k]`` = :func:`_nanmedian_last` of ``a`` without entry ``k`` (same floats).

    One sort for all ``k``: the median of the others is read from the sorted full row by
    skipping ``k``'s own position.
    """
    n_k = a.shape[-1]
    order = np.argsort(a, axis=-1, kind="stable")  # NaN last
    s = np.take_along_axis(a, order, -1)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n_k), -1)
    valid = ~np.isnan(a)
    m = valid.sum(-1, keepdims=True) - valid  # values left without k
    lo = np.maximum((m - 1) // 2, 0)
    hi = np.minimum(np.maximum(m // 2, 0), max(n_k - 2, 0))
    lo = lo + (lo >= rank)  # skip k's own slot in the full sorted row
    hi = hi + (hi >= rank)
    lo = np.minimum(lo, n_k - 1)
    hi = np.minimum(hi, n_k - 1)
    flat = s.reshape(-1, n_k)
    rows = np.arange(flat.shape[0])[:, None]
    med = 0.5 * (flat[rows, lo.reshape(-1, n_k)] + flat[rows, hi.reshape(-1, n_k)])
    return np.where(m > 0, med.reshape(a.shape), np.nan)


def _robust(values: np.ndarray, ok: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Median and MAD (scaled to a standard deviation) of ``values`` where ``ok``."""
    v = np.where(ok, values, np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(v, axis=axis)
        mad = _MAD_SCALE * np.nanmedian(np.abs(v - np.expand_dims(med, axis)), axis=axis)
    return med, mad


def default_skeleton(
    tracks: Tracks, confident: np.ndarray | None = None, n_neighbours: int = 2
) -> list[tuple[int, int]]:
    """Connect each keypoint to its nearest neighbours in the median pose.

    The suspect rules' skeleton: :func:`.skeleton.skeleton_edges` with ``method="knn"`` over
    (at most 20000 evenly spaced) frames of ``tracks``. Unlike the feature representation's
    spanning tree (:func:`.features.default_skeleton`), keypoints lie in several bones, which
    the BONE rule needs to tell which end of a wrong bone is to blame.

    Parameters
    ----------
    tracks : Tracks
        Pose tracks.
    confident : np.ndarray, optional
        ``(frames, individuals, keypoints)`` points to use; default all non-NaN.
    n_neighbours : int, default 2
        Neighbours per keypoint (the union of edges is returned).

    Returns
    -------
    list of (int, int)
        Edges ``(a, b)`` with ``a < b``; only between keypoints present in a common individual.
    """
    if tracks.n_keypoints < 2:
        return []
    rows = _sample_rows(tracks.n_frames)
    xy = tracks.xy[rows]
    ok = np.isfinite(xy).all(-1) if confident is None else np.asarray(confident)[rows]
    shared = (tracks.present.T.astype(int) @ tracks.present.astype(int)) > 0
    return skeleton_edges(tracks.n_keypoints, xy, ok, method="knn", n_neighbours=n_neighbours,
                          allowed=shared)


def _resolve_pairs(names: Sequence[Sequence[str | int]], bodyparts: list[str], what: str):
    out = []
    for p in names:
        if len(p) != 2:
            raise ValueError(f"{what}: each entry needs two keypoints, got {p!r}")
        ij = []
        for q in p:
            if isinstance(q, str):
                if q not in bodyparts:
                    raise ValueError(f"{what}: keypoint {q!r} not in bodyparts {bodyparts}")
                ij.append(bodyparts.index(q))
            else:
                if not 0 <= int(q) < len(bodyparts):
                    raise ValueError(f"{what}: keypoint index {q} out of range")
                ij.append(int(q))
        if ij[0] != ij[1]:
            out.append((min(ij), max(ij)))
    return sorted(set(out))


# --------------------------------------------------------------------------------------------
# rules
# --------------------------------------------------------------------------------------------
def _body_frame(xy: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """Keypoints in each individual's own moving frame, (T, n, K, 2).

    The frame follows the animal rigidly: from each frame to the next, the translation and
    rotation are the median over the keypoints confident in both frames (the same set on both
    sides, so a keypoint dropping out does not move the frame; one jumping keypoint does not
    either). With fewer than three such keypoints only the median translation is followed,
    with fewer than two none (a single keypoint stays in image coordinates).
    Solved as a linear recurrence in complex numbers, without a loop over frames.
    """
    if xy.shape[0] == 0:
        return xy.copy()
    z = xy[..., 0] + 1j * xy[..., 1]  # (T, n, K)
    both = np.zeros(conf.shape, dtype=bool)
    both[1:] = conf[1:] & conf[:-1]
    n_both = both.sum(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        prev = np.full_like(z, np.nan)
        prev[1:] = z[:-1]
        zc = np.where(both, z, np.nan)
        pc = np.where(both, prev, np.nan)
        cen_prev = _nanmedian_last(pc.real) + 1j * _nanmedian_last(pc.imag)  # (T, n)
        step = zc - pc
        d0 = _nanmedian_last(step.real) + 1j * _nanmedian_last(step.imag)  # robust shift
        u = zc - (cen_prev + d0)[..., None]
        v = pc - cen_prev[..., None]
        good = both & (np.abs(u) > 1.0) & (np.abs(v) > 1.0)
        dang = np.mod(np.angle(u) - np.angle(v) + np.pi, 2.0 * np.pi) - np.pi
        dtheta = _nanmedian_last(np.where(good, dang, np.nan))
    rot_ok = (good.sum(2) >= 3) & np.isfinite(dtheta)
    dtheta = np.where(rot_ok, dtheta, 0.0)
    b = np.exp(1j * dtheta)
    # rigid step about the pivot m = cen_prev: z_t = b (z_{t-1} - m) + m + d, where the
    # translation d is the median over keypoints (one jumping keypoint cannot move it)
    # (complex arithmetic on NaN takes a slow path: work on zero-filled copies)
    m = np.nan_to_num(cen_prev)[..., None]
    zf = np.nan_to_num(z)
    pf = np.nan_to_num(prev)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = np.where(both, zf - b[..., None] * (pf - m) - m, np.nan)
        d = _nanmedian_last(res.real) + 1j * _nanmedian_last(res.imag)
    has = (n_both >= 2) & np.isfinite(d)  # a lone keypoint stays in image coordinates
    cen_prev = np.where(has, cen_prev, 0.0)
    # origin C_t = b (C_{t-1} - m) + m + d = a_t + b_t C_{t-1}
    theta = np.cumsum(dtheta, axis=0)
    rot = np.exp(1j * theta)  # B_t = prod b_s
    a = np.where(has, cen_prev * (1.0 - b) + np.where(has, d, 0.0), 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        first = np.nanmedian(np.where(conf[:1], z[:1], np.nan).real, 2) + 1j * np.nanmedian(
            np.where(conf[:1], z[:1], np.nan).imag, 2
        )
    c0 = np.nan_to_num(first[0])
    a[0] = 0.0
    origin = rot * (c0[None] + np.cumsum(a * np.conj(rot), axis=0))  # (T, n)
    q = (zf - origin[..., None]) * np.conj(rot)[..., None]  # |rot| = 1
    out = np.stack([q.real, q.imag], -1)
    out[np.isnan(z)] = np.nan
    return out


def _rule_jump(
    xy: np.ndarray,
    conf: np.ndarray,
    k: float,
    min_jump: float,
    max_span: int,
    return_frac: float,
    max_lag: int = 3,
    lone_factor: float = 2.0,
    offset_return: bool = True,
    repeat_px: float = REPEAT_PX,
) -> tuple[np.ndarray, dict[str, Any]]:
    """JUMP rule; returns the (T, n, K) flags and the per-keypoint thresholds.

    The thresholds come from the keypoint's own confident one-frame steps; when over half
    of them are repeats (at most ``repeat_px`` in the image: duplicated video frames), from
    the others.
    """
    t_frames, n_ind, n_kp = conf.shape
    resid = _body_frame(xy, conf)
    flags = np.zeros(conf.shape, dtype=bool)
    thresholds = np.full((n_ind, n_kp), np.nan)
    frames = np.arange(t_frames)
    for i in range(n_ind):
        for kp in range(n_kp):
            fr = frames[conf[:, i, kp]]
            if fr.size < 3:
                continue
            r = resid[fr, i, kp]
            gap = np.diff(fr)
            step = _dist(np.diff(r[:, 0]), np.diff(r[:, 1]))
            one = gap == 1
            if one.sum() < 3:
                continue
            img_step = _dist(np.diff(xy[fr, i, kp, 0]), np.diff(xy[fr, i, kp, 1]))
            # a frame that repeats the one before (a duplicated video frame, a tracker that
            # holds the last pose) is no measurement of motion: when over half of the steps
            # are repeats the median step is 0 (the median breaks down at 50 %) and every
            # real step past the floor reads as a jump; the moving steps are used then
            moving = one & (img_step > repeat_px)
            n_moving = int(moving.sum())
            if 3 <= n_moving < 0.5 * one.sum():
                one = moving
            med = float(np.median(step[one]))
            mad = _MAD_SCALE * float(np.median(np.abs(step[one] - med)))
            # heavy-tailed keypoints (paws) move fast legitimately: not below the 99th
            # percentile of their own confident steps, unless that percentile is itself made
            # of errors (short or badly corrupted files): capped at median + 3 k MAD
            q99 = float(np.quantile(step[one], 0.99))
            thr = max(med + k * mad, min(q99, med + 3.0 * k * mad), min_jump)
            thresholds[i, kp] = thr
            is_ev = step > thr * np.sqrt(gap)
            ev = np.flatnonzero(is_ev) + 1  # positions (in fr) landing after a jump
            if ev.size == 0:
                continue
            size = step[ev - 1]
            csum = np.concatenate([np.zeros((1, 2)), np.cumsum(r, axis=0)])
            diff = np.zeros(t_frames + 1, dtype=np.int32)
            cand: list[tuple[int, int, int]] = []  # (span, event a, event b) in ev indices
            for lag in range(1, max_lag + 1):
                if ev.size <= lag:
                    break
                a = ev[:-lag]
                b = ev[lag:]
                span = fr[b] - fr[a]
                back = _dist(r[b, 0] - r[a - 1, 0], r[b, 1] - r[a - 1, 1])
                smaller = np.minimum(size[:-lag], size[lag:])
                offset_ok = np.zeros(a.shape, dtype=bool)
                if offset_return:
                    # or the second jump takes back the offset the first one added, while the
                    # animal moved on: a point placed on another body part for a while. Both
                    # jumps must be jumps in the image too (not a glitch of the body frame)
                    undo = _dist((r[a, 0] - r[a - 1, 0]) + (r[b, 0] - r[b - 1, 0]),
                                 (r[a, 1] - r[a - 1, 1]) + (r[b, 1] - r[b - 1, 1]))
                    offset_ok = ((img_step[a - 1] > lone_factor * thr)
                                 & (img_step[b - 1] > lone_factor * thr))
                    back = np.where(offset_ok, np.minimum(back, undo), back)
                # the span in between must sit away from where the point left and came back
                seg_mean = (csum[b] - csum[a]) / (b - a)[:, None]
                away = _dist(seg_mean[:, 0] - 0.5 * (r[a - 1, 0] + r[b, 0]),
                             seg_mean[:, 1] - 0.5 * (r[a - 1, 1] + r[b, 1]))
                ok = (
                    (span <= max_span)
                    & (back < return_frac * smaller)
                    & (away > (1.0 - return_frac) * smaller)
                )
                # confirm each candidate: most of the span sits away from the straight path
                # between the positions before leaving and after coming back
                for c in np.flatnonzero(ok):
                    sa, sb = a[c], b[c]
                    w = (fr[sa:sb] - fr[sa - 1]) / (fr[sb] - fr[sa - 1])
                    path = r[sa - 1] + w[:, None] * (r[sb] - r[sa - 1])
                    dev = _dist(r[sa:sb, 0] - path[:, 0], r[sa:sb, 1] - path[:, 1])
                    if offset_ok[c]:
                        # the same seen as a displaced path: the span minus the entry offset
                        # (linearly blended into the exit one) follows the straight path
                        j_in, j_out = r[sa] - r[sa - 1], r[sb - 1] - r[sb]
                        off = (1 - w)[:, None] * j_in + w[:, None] * j_out
                        fit = _dist((r[sa:sb, 0] - off[:, 0]) - path[:, 0],
                                    (r[sa:sb, 1] - off[:, 1]) - path[:, 1])
                        dev = np.where(np.quantile(fit, 0.75) < 0.5 * smaller[c],
                                       _dist(off[:, 0].copy(), off[:, 1].copy()), dev)
                    # longer spans need clearer evidence (the pose drifts over time)
                    need = (1.0 - return_frac) * smaller[c] * (1.0 + span[c] / max_span)
                    if np.quantile(dev, 0.25) > need:
                        cand.append((int(span[c]), int(c), int(c + lag)))
            # shortest excursions first; each jump ends at most one excursion, so the clean
            # stretch between two short excursions is never taken for a long one
            paired = np.zeros(ev.size, dtype=bool)
            for _, ea, eb in sorted(cand):
                if paired[ea] or paired[eb]:
                    continue
                paired[ea] = paired[eb] = True
                diff[fr[ev[ea]]] += 1
                diff[fr[ev[eb]]] -= 1
            # an unpaired jump (no return seen): flag the landing frame when it is strong
            lone = fr[ev[~paired & (size > lone_factor * thr * np.sqrt(gap[ev - 1]))]]
            np.add.at(diff, lone, 1)
            np.add.at(diff, lone + 1, -1)
            flags[:, i, kp] = np.cumsum(diff[:-1]) > 0
    return flags, {"jump_thresholds": thresholds}


def _rule_bone(
    xy: np.ndarray,
    conf: np.ndarray,
    finite: np.ndarray,
    skeleton: list[tuple[int, int]],
    k: float,
    rel: float,
) -> tuple[np.ndarray, dict[str, Any]]:
    """BONE rule; blames the end of a bad bone whose other bones are also bad."""
    flags = np.zeros(conf.shape, dtype=bool)
    if not skeleton:
        return flags, {"bone_median": []}
    e = np.asarray(skeleton, dtype=np.intp)
    a, b = e[:, 0], e[:, 1]
    x = np.ascontiguousarray(xy[..., 0])
    y = np.ascontiguousarray(xy[..., 1])
    length = _dist(x[:, :, a] - x[:, :, b], y[:, :, a] - y[:, :, b])  # (T, n, E)
    both_conf = conf[:, :, a] & conf[:, :, b]
    med, mad = _robust(length, both_conf, axis=0)  # (n, E)
    dev = np.abs(length - med[None])
    with np.errstate(invalid="ignore"):
        bad = (dev > k * mad[None]) & (dev > rel * med[None])
    fin_e = finite[:, :, a] & finite[:, :, b]
    bad &= fin_e & np.isfinite(med)[None]
    if not bad.any():
        return flags, {"bone_median": med.tolist()}
    # bone- and keypoint-major copies (E or K, T, n): each one's frames contiguous
    bad_e = np.ascontiguousarray(np.moveaxis(bad, 2, 0))
    bad_i = bad_e.astype(np.int32)
    valid_bone = np.moveaxis(fin_e, 2, 0).astype(np.int32)
    shape_k = (conf.shape[2],) + conf.shape[:2]
    nb = np.zeros(shape_k, dtype=np.int32)
    nv = np.zeros(shape_k, dtype=np.int32)
    for j in range(len(e)):
        nb[a[j]] += bad_i[j]
        nb[b[j]] += bad_i[j]
        nv[a[j]] += valid_bone[j]
        nv[b[j]] += valid_bone[j]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(nv > 0, nb / np.maximum(nv, 1), 0.0)
    conf_k = np.ascontiguousarray(np.moveaxis(conf, 2, 0))
    flags_k = np.zeros(shape_k, dtype=bool)
    for j in range(len(e)):
        fa, fb = frac[a[j]], frac[b[j]]
        ca, cb = conf_k[a[j]], conf_k[b[j]]
        blame_a = np.where(ca != cb, ~ca, fa > fb)
        blame_b = np.where(ca != cb, ~cb, fb > fa)
        flags_k[a[j]] |= bad_e[j] & blame_a
        flags_k[b[j]] |= bad_e[j] & blame_b
    flags[...] = np.moveaxis(flags_k, 0, 2)
    return flags, {"bone_median": med.tolist()}


#: Frames next to an ON_PART collapse whose median position is where a part came from
#: (:func:`_moves_into`). One frame alone let a one-frame spike of the left ear, just
#: before a break in the tail's 60-frame collapse onto the right ear, read as the ear
#: jumping into the collapse (protocol A's tuning files): the ear was blamed for 30 frames.
ON_PART_BEFORE_FRAMES = 3


def _moves_into(xy: np.ndarray, ok: np.ndarray, s: int, e: int, a: int, b: int
                ) -> tuple[float, float] | None:
    """How far parts ``a`` and ``b`` moved into the collapse ``[s, e)``.

    Out of it when it starts with the file; measured from the median of up to
    :data:`ON_PART_BEFORE_FRAMES` frames next to it where both are finite. ``xy`` is one
    animal's ``(T, K, 2)``, ``ok`` the frames where both parts are finite. None when the
    frame next to the collapse is not ``ok`` or the collapse spans the file.
    """
    n_t = len(ok)
    if s > 0:
        inside, near = s, s - 1
        lo, hi = max(0, s - ON_PART_BEFORE_FRAMES), s
    else:
        inside, near = e - 1, e
        lo, hi = e, min(n_t, e + ON_PART_BEFORE_FRAMES)
    if near >= n_t or not (ok[near] and ok[inside]):
        return None
    frames = np.arange(lo, hi)[ok[lo:hi]]
    out_a = np.median(xy[frames, a], axis=0)
    out_b = np.median(xy[frames, b], axis=0)
    return (float(np.linalg.norm(xy[inside, a] - out_a)),
            float(np.linalg.norm(xy[inside, b] - out_b)))


def _rule_on_part(xy: np.ndarray, conf: np.ndarray, finite: np.ndarray, min_px: float,
                  frac: float = 0.25, apart: float = 0.5, max_rows: int = 20000) -> np.ndarray:
    """ON_PART rule: a keypoint sitting on another keypoint it is never that near.

    A network that loses a part often puts it on another one (the tail base on the head,
    an ear on the tail base), with a high likelihood and for many frames: no jump rule sees
    the whole stretch, and bones that do not join the two parts say nothing. For every pair
    of keypoints of an animal that are well apart in the confident frames (10th percentile
    of their distance at least ``apart`` times the median, median above ``2 * min_px``), the
    frames where they come within ``frac`` times their median distance are a collapse. The
    part to blame is the one that jumped into the collapse (or out of it, when it starts
    with the file): it moved at least half the pair's usual distance and twice as far as
    the other (from where both were in the frames just before it, :func:`_moves_into`).
    When neither did, nothing is flagged.
    """
    n_t, n_i, n_k = finite.shape
    flags = np.zeros(finite.shape, dtype=bool)
    if n_t < 3 or n_k < 2:
        return flags
    rows = _sample_rows(n_t, max_rows)
    pairs = list(itertools.combinations(range(n_k), 2))
    pa = np.array([a for a, _ in pairs], dtype=np.intp)
    pb = np.array([b for _, b in pairs], dtype=np.intp)
    for i in range(n_i):
        # all pairs' sampled distances at once; the norm as np.linalg.norm computes it
        # (sqrt(dx * dx + dy * dy): the same floats)
        xs = xy[rows, i]  # (R, K, 2)
        cs = conf[rows, i]
        both_s = cs[:, pa] & cs[:, pb]  # (R, P)
        dist_s = _dist(xs[:, pa, 0] - xs[:, pb, 0], xs[:, pa, 1] - xs[:, pb, 1])
        n_both = both_s.sum(0)
        col_x = np.ascontiguousarray(xy[:, i, :, 0].T)  # (K, T)
        col_y = np.ascontiguousarray(xy[:, i, :, 1].T)
        fin = np.ascontiguousarray(finite[:, i].T)
        for p, (a, b) in enumerate(pairs):
            if n_both[p] < 50:
                continue
            d_s = dist_s[both_s[:, p], p]
            med = float(np.median(d_s))
            # well apart in at least 90 % of the confident frames (the collapses themselves
            # may be several per cent of a file)
            if med <= 2.0 * min_px or float(np.quantile(d_s, 0.1)) < apart * med:
                continue
            ok = fin[a] & fin[b]
            with np.errstate(invalid="ignore"):
                close = ok & (_dist(col_x[a] - col_x[b], col_y[a] - col_y[b]) < frac * med)
            for s, e in zip(*true_runs(close), strict=True):
                moved = _moves_into(xy[:, i], ok, s, e, a, b)
                if moved is None:
                    continue
                da, db = moved
                if da >= 0.5 * med and da > 2.0 * db:
                    flags[s:e, i, a] = True
                elif db >= 0.5 * med and db > 2.0 * da:
                    flags[s:e, i, b] = True
    return flags


def _rule_stuck(
    xy: np.ndarray, finite: np.ndarray, tol: float, min_frames: int, body_px: float
) -> np.ndarray:
    """STUCK rule: runs of >= ``min_frames`` sub-``tol`` steps while the body moves.

    "The body" is the median step of the other keypoints, so it needs at least two of them:
    with one, an animal pivoting on a keypoint (a fly turning on its thorax) looks stuck.
    """
    t_frames, n_ind, n_kp = finite.shape
    flags = np.zeros(finite.shape, dtype=bool)
    if t_frames < 2 or n_kp < 3:
        return flags
    step = np.full(finite.shape, np.nan)
    step[1:] = _dist(xy[1:, ..., 0] - xy[:-1, ..., 0], xy[1:, ..., 1] - xy[:-1, ..., 1])
    both = np.zeros(finite.shape, dtype=bool)
    both[1:] = finite[1:] & finite[:-1]
    still = both & (step <= tol)
    if not still.any():
        return flags
    body_all = _nanmedian_leave_one_out(np.where(both, step, np.nan))  # (T, n, K)
    for kp in range(n_kp):
        body = np.nan_to_num(body_all[:, :, kp], nan=0.0)
        cs = np.concatenate([np.zeros((1, n_ind)), np.cumsum(body, axis=0)])
        for i in range(n_ind):
            s, e = true_runs(still[:, i, kp])
            if s.size == 0:
                continue
            keep = ((e - s) >= min_frames) & ((cs[e, i] - cs[s, i]) >= body_px)
            for a, b in zip(s[keep], e[keep], strict=True):
                flags[a:b, i, kp] = True
    return flags


def _rule_swap(
    tracks: Tracks, pcutoff: float, pairs: list[tuple[int, int]], identity: bool,
    events: tuple[Sequence[Any], Sequence[Any]] | None = None, neighbours: bool = False,
) -> tuple[np.ndarray, dict[str, Any]]:
    flags = np.zeros(tracks.xy.shape[:3], dtype=bool)
    if events is not None:  # found (and maybe undone) by the caller: not searched again
        lr = list(events[0])
    else:
        lr = find_lr_swaps(tracks, pairs, pcutoff=pcutoff) if pairs else []
        if neighbours:
            lr += find_neighbour_swaps(tracks, pcutoff=pcutoff)
    for ev in lr:
        i = tracks.individuals.index(ev.individuals[0])
        ks = [tracks.bodyparts.index(k) for k in ev.keypoints]
        flags[ev.start : ev.stop, i, ks] = True
    ids: list[Any] = []
    if identity and len(_animal_individuals(tracks)) >= 2:
        ids = list(events[1]) if events is not None else find_identity_swaps(tracks,
                                                                            pcutoff=pcutoff)
        for ev in ids:
            moved = [tracks.individuals.index(n) for n in ev.individuals]
            ks = [tracks.bodyparts.index(k) for k in ev.keypoints]
            flags[ev.start : ev.stop, np.asarray(moved)[:, None], np.asarray(ks)[None, :]] = True
    return flags, {"lr_swap_events": len(lr), "identity_swap_events": len(ids)}


# --------------------------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------------------------
def suspect_mask(
    tracks: Tracks,
    pcutoff: float | None = None,
    *,
    skeleton: Sequence[Sequence[str | int]] | None = None,
    rules: Sequence[str] = ALL_RULES,
    config_path: str | Path | DlcProject | None = None,
    jump_k: float = 8.0,
    min_jump: float | None = None,
    max_jump_span: int = 150,
    return_frac: float = 0.5,
    bone_k: float = 6.0,
    bone_rel: float = 0.35,
    swap_pairs: Literal["names", "skeleton"] | Sequence[Sequence[str | int]] = "names",
    identity_swaps: bool = True,
    swap_events: tuple[Sequence[Any], Sequence[Any]] | None = None,
    stuck_tol: float = REPEAT_PX,
    stuck_min_frames: int = 5,
    stuck_body_px: float | None = None,
) -> SuspectLabels:
    """Flag suspect keypoints with simple robust rules.

    Parameters
    ----------
    tracks : Tracks
        Pose tracks (not modified).
    pcutoff : float, optional
        Likelihood threshold. Default: the ``pcutoff`` of ``config_path`` when given, else
        :data:`~.constants.DEFAULT_PCUTOFF`.
    skeleton : list of pairs of names or indices, optional
        Bones for the BONE rule. Default: the config's ``skeleton`` when ``config_path`` is given
        and it is not empty, else :func:`default_skeleton` (two nearest neighbours of each
        keypoint in the median pose).
    rules : sequence of str
        Rules to run, any of :data:`ALL_RULES` (``"low_likelihood"``, ``"missing"``,
        ``"jump"``, ``"bone"``, ``"swap"``, ``"stuck"``).
    config_path : str, Path or DlcProject, optional
        DLC ``config.yaml`` (parsed by :meth:`~.project.DlcProject.from_config`) or the
        project parsed once, for its ``pcutoff`` and ``skeleton``.
    jump_k : float, default 8.0
        A body-relative step is a jump when above ``median + jump_k * MAD`` and above the
        99th percentile (capped at ``median + 3 jump_k MAD``) of that keypoint's confident
        one-frame steps, in the animal's own moving frame (the threshold is scaled by
        ``sqrt(gap)`` across gaps).
    min_jump : float, optional
        Lower bound of the jump threshold in pixels; default 10% of the median body size
        (largest median keypoint distance), at least 2 px.
    max_jump_span : int, default 150
        Longest displaced span (frames) that is flagged whole when the point comes back.
    return_frac : float, default 0.5
        The point "came back" when its body-relative position after the return jump is closer
        to its position before the first jump than ``return_frac`` times the jump sizes, and
        most of the span in between sits away from the straight path by more than
        ``1 - return_frac`` times them (more for longer spans: times
        ``1 + span / max_jump_span``). A jump with no return is flagged on its landing frame
        only, and only when it is twice the threshold.
    bone_k, bone_rel : float
        A bone is bad when its length differs from its median by more than ``bone_k`` MADs and
        by more than ``bone_rel`` times the median.
    swap_pairs : {"names", "skeleton"} or list of pairs
        Pairs for the SWAP rule: left/right pairs from the names (and the neighbouring
        keypoints of :func:`~.identity.find_neighbour_swaps`), every skeleton bone (pairs
        whose positions can cross), or explicit pairs.
    identity_swaps : bool, default True
        Also flag whole animals exchanged (multi-animal tracks).
    swap_events : (list, list), optional
        Left/right and identity :class:`~.identity.SwapEvent` lists already found for these
        tracks; the SWAP rule flags them instead of searching again. Cleaning passes
        ``([], [])`` after undoing the swaps it found (searching the corrected tracks again
        found none on every sample project; it only cost a second search).
    stuck_tol : float, default :data:`~.constants.REPEAT_PX` (0.05)
        A step shorter than this (pixels) counts as "not moving" (for STUCK, and for the
        JUMP thresholds, which leave such repeats out when they are over half of a
        keypoint's steps).
    stuck_min_frames : int, default 5
        Shortest run of still steps flagged as STUCK.
    stuck_body_px : float, optional
        Distance the rest of the body must travel during the run; default ``min_jump``
        (a tenth of the body size). On the tuning files' uncorrupted tracks, the same
        tracks with every frame shown three times, and the real-error pair, it flags
        nothing; half of it flags 70 real points of sleap_centered_pair (flies that hold
        a leg to the pixel). ``2 * min_jump`` (before) found 69-76 % of protocol A's
        frozen points on two tuning files where this finds 81-92 %.

    Returns
    -------
    SuspectLabels
        Per-point mask and reason bits (see the module table).

    Raises
    ------
    ValueError
        For unknown rules, bad thresholds or skeleton names.
    ConfigError
        When ``config_path`` cannot be read.

    Examples
    --------
    >>> labels = suspect_mask(tracks, rules=("low_likelihood", "jump"))  # doctest: +SKIP
    >>> labels.summary()  # doctest: +SKIP
    {'low_likelihood': 12, 'missing': 0, 'jump': 40, ...}
    """
    unknown = [r for r in rules if r not in _RULE_BITS]
    if unknown:
        raise ValueError(f"unknown rule(s) {unknown}; allowed: {list(ALL_RULES)}")
    cfg: dict[str, Any] = {}
    if config_path is not None:
        from .project import as_project

        project = as_project(config_path)
        cfg = {"pcutoff": project.pcutoff, "skeleton": list(project.skeleton)}
    if pcutoff is None:
        pcutoff = cfg.get("pcutoff")
        if pcutoff is None:
            pcutoff = DEFAULT_PCUTOFF
    pcutoff = float(pcutoff)
    if not 0.0 <= pcutoff <= 1.0:
        raise ValueError(f"pcutoff must be in [0, 1], got {pcutoff}")
    if stuck_min_frames < 1 or max_jump_span < 1:
        raise ValueError("stuck_min_frames and max_jump_span must be at least 1")

    xy = tracks.xy
    if xy.ndim != 4 or xy.shape[-1] != 2:
        raise ValueError(f"tracks.xy must be (frames, individuals, keypoints, 2), got {xy.shape}")
    present = tracks.present.astype(bool)
    finite = np.isfinite(xy).all(-1) & present[None]
    conf = finite.copy()
    if tracks.likelihood is not None:
        with np.errstate(invalid="ignore"):
            conf &= tracks.likelihood >= pcutoff

    reasons = np.zeros(finite.shape, dtype=np.uint8)
    params: dict[str, Any] = {"pcutoff": pcutoff, "rules": list(rules)}

    if "low_likelihood" in rules and tracks.likelihood is not None:
        with np.errstate(invalid="ignore"):
            low = finite & (tracks.likelihood < pcutoff)
        reasons |= np.where(low, LOW_LIKELIHOOD, 0).astype(np.uint8)
    if "missing" in rules:
        reasons |= np.where(~np.isfinite(xy).all(-1), MISSING, 0).astype(np.uint8)

    # skeleton and scale
    if skeleton is None and cfg.get("skeleton"):
        known = [(a, b) for a, b in cfg["skeleton"] if a in tracks.bodyparts and b in
                 tracks.bodyparts]
        if len(known) < len(cfg["skeleton"]):
            logger.warning("config skeleton: %d bone(s) name unknown bodyparts, ignored",
                           len(cfg["skeleton"]) - len(known))
        skeleton = known or None
    if skeleton is not None:
        skel = _resolve_pairs(skeleton, tracks.bodyparts, "skeleton")
    elif "bone" in rules or ("swap" in rules and swap_pairs == "skeleton"):
        skel = default_skeleton(tracks, conf)
    else:
        skel = []
    params["skeleton"] = [(tracks.bodyparts[a], tracks.bodyparts[b]) for a, b in skel]
    if min_jump is None:
        needs = ("jump" in rules or "on_part" in rules
                 or ("stuck" in rules and stuck_body_px is None))
        min_jump = max(2.0, 0.1 * _body_size(xy, conf)) if needs else 2.0
    params["min_jump"] = float(min_jump)

    if "jump" in rules:
        fl, info = _rule_jump(xy, conf, jump_k, float(min_jump), int(max_jump_span), return_frac,
                              repeat_px=stuck_tol)
        reasons |= np.where(fl & finite, JUMP, 0).astype(np.uint8)
        params["jump_thresholds"] = np.round(info["jump_thresholds"], 3).tolist()
    if "bone" in rules:
        fl, _ = _rule_bone(xy, conf, finite, skel, bone_k, bone_rel)
        reasons |= np.where(fl, BONE, 0).astype(np.uint8)
    if "swap" in rules:
        if isinstance(swap_pairs, str):
            if swap_pairs == "names":
                pairs = left_right_pairs(tracks.bodyparts)
            elif swap_pairs == "skeleton":
                pairs = list(skel)
            else:
                raise ValueError(
                    f"swap_pairs must be 'names', 'skeleton' or a list, got {swap_pairs!r}"
                )
        else:
            pairs = _resolve_pairs(swap_pairs, tracks.bodyparts, "swap_pairs")
        fl, info = _rule_swap(tracks, pcutoff, pairs, identity_swaps, swap_events,
                              neighbours=isinstance(swap_pairs, str) and swap_pairs == "names")
        reasons |= np.where(fl & finite, SWAP, 0).astype(np.uint8)
        params.update(info)
    if "on_part" in rules:
        fl = _rule_on_part(xy, conf, finite, float(min_jump))
        reasons |= np.where(fl, ON_PART, 0).astype(np.uint8)
    if "stuck" in rules:
        body_px = float(min_jump) if stuck_body_px is None else float(stuck_body_px)
        fl = _rule_stuck(xy, finite, stuck_tol, int(stuck_min_frames), body_px)
        reasons |= np.where(fl, STUCK, 0).astype(np.uint8)
        params["stuck_body_px"] = body_px

    reasons[:, ~present] = 0
    labels = SuspectLabels(
        mask=reasons != 0,
        reasons=reasons,
        reason_names=dict(REASON_NAMES),
        bodyparts=list(tracks.bodyparts),
        individuals=list(tracks.individuals),
        pcutoff=pcutoff,
        skeleton=skel,
        params=params,
    )
    logger.info("suspect_mask: %s", str(labels.summary()))
    return labels


def _body_size(xy: np.ndarray, conf: np.ndarray) -> float:
    """Largest median distance between two keypoints of one individual (0 if unknown)."""
    rows = _sample_rows(xy.shape[0])
    xy, conf = xy[rows], conf[rows]
    n_kp = xy.shape[2]
    if n_kp < 2:
        return 0.0
    best = 0.0
    for a in range(n_kp - 1):
        d = np.linalg.norm(xy[:, :, a : a + 1] - xy[:, :, a + 1 :], axis=-1)
        m, _ = _robust(d.reshape(-1, n_kp - a - 1),
                       (conf[:, :, a : a + 1] & conf[:, :, a + 1 :]).reshape(-1, n_kp - a - 1))
        if np.isfinite(m).any():
            best = max(best, float(np.nanmax(m)))
    return best
