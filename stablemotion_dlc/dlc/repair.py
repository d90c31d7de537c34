"""Repair of flagged points, chosen by what predicts best on the user's own data.

Where likelihood already flags a point, plain interpolation is a strong repair for short
gaps; the network must beat it on the user's own file before it is used there. So before
repairing, :func:`repair_animal` hides spans of the animal's *trustworthy* points (of every
length bin: 1-3, 4-10, 11-30, 31-100, 101+ frames), fills them with each candidate, and keeps
per length bin the candidate with the lowest error:

``linear``
    linear interpolation in time of each keypoint's image position (pcutoff -> interpolation,
    the classical repair);
``interp``
    linear interpolation in time of the body-relative features (the body centre and each
    keypoint's offset from it);
``pose``
    :func:`~stablemotion_dlc.dlc.pose_prior.pose_anchored_fill`: the point follows the
    body's current pose (predicted from the other keypoints by the file's pose prior) and
    only its offset from that prediction is interpolated;
``network``
    the diffusion model's inpainting (short runs interpolated as before, see
    ``min_network_run``).

The same held-out errors give each repaired point a calibrated uncertainty: the radius (px)
that 90 % of the validation errors of the chosen candidate in that length bin stay within.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._arrays import interp_fill, true_runs
from .constants import REPEAT_PX
from .jitter import LEVEL_PER_SIGMA, MAX_SKIP_FRAMES, noise_levels
from .pose_prior import (
    PREDICTION_MEDIAN_FRAMES,
    PoseEvidence,
    PosePrior,
    pose_evidence,
    pose_fill_followed,
    typical_pairs,
)
from .skeleton import median_distances

if TYPE_CHECKING:  # pragma: no cover
    from ..core.inference import Cleaner
    from .representation import KeypointRepresentation

__all__ = [
    "LENGTH_BINS",
    "METHODS",
    "MIN_ISOTROPY",
    "SMOOTH_RADIUS",
    "RepairOutcome",
    "validation_mask",
    "distinct_frames",
    "nearest_neighbours",
    "smooth_jitter",
    "repair_animal",
]

logger = logging.getLogger(__name__)

#: Run-length bins (frames, ``[lo, hi)``) of the repair choice.
LENGTH_BINS: tuple[tuple[int, int], ...] = ((1, 4), (4, 11), (11, 31), (31, 101), (101, 10**9))
#: Candidate repairs, by code (0 = not repaired).
METHODS: tuple[str, ...] = ("none", "interp", "pose", "network", "linear")
#: Interval of the stated uncertainty.
COVERAGE = 0.9
#: The stated radius is the validation errors' ``COVERAGE`` quantile times this factor (twice
#: that for runs with an anchor on one side only). With the repair judged on the lone and
#: grouped gaps apart (:func:`_judged_cells`) the plain quantile covers 92-93 % of the
#: injected errors on protocol B's tuning files (1.25, the factor of the earlier choice, 95 %).
#: Chosen on those files only (docs/benchmarks/protocol_b.md reports the held-out coverage).
INTERVAL_SCALE = 1.0
#: A moving point repeated to within this distance (px) in the next frame is frozen: such
#: frames measure no noise (:func:`_noise_floor`). The package's one repeat distance.
FROZEN_PX = REPEAT_PX
_MIN_SPANS = 8
#: Runs touching the start or end of the file (one anchor only) longer than this are not
#: repaired: no validation span measures them and extrapolation drifts.
MAX_ONE_SIDED = 10
#: Such a run whose observed points DeepLabCut itself calls unreliable (none of them
#: ``keepable``: below ``pcutoff``) holds the nearest trustworthy value instead, as the
#: classical pcutoff -> interpolation does at a file's ends, when it is at most this long:
#: the stated radius is the keypoint's own displacement over the same number of frames
#: (:func:`_hold_radius`), measured on its trustworthy points up to this lag.
MAX_HOLD = 100
#: Trustworthy frames in a row next to such a run that the held value needs.
HOLD_ANCHOR = 5
#: A cell too thin to judge defaults to ``linear`` instead of ``interp`` when, on the
#: animal's short gaps judged on their own spans, ``interp`` (body-relative) has more than
#: this times ``linear``'s RMSE: the body frame is unreliable. On protocol B's tuning files
#: (seeds 0-2) the ratio is 0.83-1.24; on the held-out files sleap_clip's female, whose
#: second keypoint flickers between the two flies, has 2.3-9.1 and every other animal
#: 0.87-1.55 (``short_gaps_rmse`` in the report).
UNRELIABLE_FRAME = 2.0
#: Longest gap (frames) of an established point (see ``anchors`` of :func:`repair_animal`)
#: bridged by interpolation between its established values.
MAX_BRIDGE = 5
#: Files longer than this (frames) are validated on the frames around the held-out spans
#: only (:func:`_validation_rows`); shorter ones on every frame, as before.
VALIDATION_FULL_FRAMES = 20_000
#: Frames kept on each side of a held-out span when validating a long file (two network
#: windows of the default model: the windows that see a span never reach a block join).
VALIDATION_CONTEXT = 128
#: Evidence points of a pose prediction must be this probable given each other (squared
#: Mahalanobis distance; the pose rule's hysteresis threshold).
consistency_d2 = 20.0
#: A stretch is smoothed (:func:`smooth_jitter`) only where what the fit takes off is about as
#: wide as it is long: the smaller over the larger eigenvalue of its 2 x 2 covariance is at
#: least this. Noise scatters a point every way; a paw stepping or a head turning moves it
#: along a path, which a fit cuts through. On the generated sample's running stretch
#: (``make_sample_project(seed=3)``, frames 805-880, 0.7 px noise) the paws' and head's
#: ratios are 0.03-0.17, and a fit would put them 4.5-5.2 px off (0.8-0.9 px as observed);
#: 1-4 px noise added on a calm stretch gives 0.33-0.98.
MIN_ISOTROPY = 0.25
#: A smoothed point's stated 90 % radius is ``2.146 * SMOOTH_RADIUS * sigma``, sigma the
#: noise measured over its stretch. Pure noise would need 0.46 (what an 11-frame quadratic
#: fit keeps of it); the fit also cuts motion. 0.63 holds 0.91 of the smoothed jittered
#: points of protocol B's tuning files (openfield 0.98, sleap_centered_pair 0.89; the
#: earlier 0.55 of a 15-frame running level: 0.91 and 0.76).
SMOOTH_RADIUS = 0.63


@dataclass
class RepairOutcome:
    """Result of :func:`repair_animal`.

    Attributes
    ----------
    xy : np.ndarray
        ``(T, K, 2)`` repaired positions (input values where not changed).
    changed : np.ndarray
        ``(T, K)`` bool, points given a new value.
    uncertainty : np.ndarray
        ``(T, K)`` float32 radius (px) of the 90 % interval of changed points.
    report : dict
        Validation errors per bin and candidate, the choice per bin, the network's points.
    smoothed : np.ndarray or None
        ``(T, K)`` bool, the changed points that :func:`smooth_jitter` smoothed (None when
        smoothing was not asked for).
    """

    xy: np.ndarray
    changed: np.ndarray
    uncertainty: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)
    smoothed: np.ndarray | None = None


def _bin_of(length: int) -> int:
    for b, (lo, hi) in enumerate(LENGTH_BINS):
        if lo <= length < hi:
            return b
    return len(LENGTH_BINS) - 1


def validation_mask(good: np.ndarray, rng: np.random.Generator, *, max_share: float = 0.08,
                    per_bin: int = 30, neighbours: np.ndarray | None = None,
                    group_share: float = 0.5, distinct: np.ndarray | None = None
                    ) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Spans of trustworthy points to hide, in every length bin.

    Real gaps often take neighbouring keypoints together (an occluded head hides the nose
    and both ears), and a repair that predicts a point from its neighbours fails exactly
    then. With ``neighbours``, a share ``group_share`` of the spans also hide one or two of
    the keypoint's nearest neighbours over the same frames, and such spans are scored in
    their own cells so that the choice can differ for lone and grouped gaps.

    Parameters
    ----------
    good : np.ndarray
        ``(T, K)`` bool, trustworthy points.
    rng : np.random.Generator
        Random source.
    max_share : float
        Most of the trustworthy points hidden in all.
    per_bin : int
        Most spans per length bin.
    neighbours : np.ndarray, optional
        ``(K, m)`` int, each keypoint's nearest neighbours in the median pose
        (:func:`nearest_neighbours`).
    group_share : float
        Share of the spans hiding neighbours too (with ``neighbours``).
    distinct : np.ndarray, optional
        ``(T,)`` bool, frame ``t`` differs from frame ``t - 1`` (:func:`distinct_frames`).
        With it, a span with no distinct frame from the anchor before it to the anchor
        after it (a duplicated video frame, repeated) is not drawn: every candidate fills
        it exactly, so it measures nothing.

    Returns
    -------
    mask : np.ndarray
        ``(T, K)`` bool, hidden points (each span has a trustworthy frame on both sides).
    spans : list of (keypoint, start, stop, cell)
        One entry per hidden keypoint span; ``cell`` is the length bin, plus
        ``len(LENGTH_BINS)`` for the keypoints of a grouped span.
    """
    n_t, n_k = good.shape
    mask = np.zeros_like(good)
    spans: list[tuple[int, int, int, int]] = []
    budget = max_share * good.sum() / len(LENGTH_BINS)  # per bin: long spans get their share
    for b, (lo, hi) in enumerate(LENGTH_BINS):
        hi = min(hi, n_t // 4)
        if hi <= lo:
            continue
        used = n_b = 0
        for _ in range(per_bin * 4):
            if n_b >= per_bin:
                break
            k = int(rng.integers(n_k))
            length = int(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            length = min(max(length, lo), hi - 1)
            a = int(rng.integers(1, max(2, n_t - length - 1)))
            z = a + length
            members = [k]
            if neighbours is not None and neighbours.shape[1] and rng.random() < group_share:
                n_more = int(rng.integers(1, min(2, neighbours.shape[1]) + 1))
                members += [int(j) for j in neighbours[k, :n_more]]
            cost = length * len(members)
            if used + cost > budget or z + 1 > n_t or any(
                    not good[a - 1:z + 1, j].all() or mask[max(a - 2, 0):z + 2, j].any()
                    for j in members):
                continue
            if distinct is not None and not distinct[a:z + 1].any():
                continue
            cell = b + (len(LENGTH_BINS) if len(members) > 1 else 0)
            for j in members:
                mask[a:z, j] = True
                spans.append((j, a, z, cell))
            used += cost
            n_b += 1
    return mask, spans


def distinct_frames(xy: np.ndarray) -> np.ndarray:
    """``(T,)`` bool: some keypoint of the animal moved into frame ``t`` from ``t - 1``.

    More than :data:`FROZEN_PX`, or a point that appears or vanishes. A frame where none did
    repeats the one before it: a duplicated video frame (sleap_clip repeats 70 % of its
    frames), not a measurement of an animal standing still. A single keypoint that rests
    (a paw in stance) leaves its frames distinct. Frame 0 counts as distinct.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, K, 2)`` positions of one animal.

    Returns
    -------
    np.ndarray
        ``(T,)`` bool.
    """
    xy = np.asarray(xy, np.float64)
    # a point missing in both frames stays as it was; one that appears or vanishes moved
    gone = ~np.isfinite(xy).all(-1)
    still = _repeats(xy)
    still[1:] |= gone[1:] & gone[:-1]
    out = ~still.all(axis=1)
    out[:1] = True
    return out


def _repeats(xy: np.ndarray) -> np.ndarray:
    """``(T, K)`` bool: the point repeats its value of the frame before.

    Within :data:`FROZEN_PX`; never in frame 0, nor where either value is missing.
    """
    step = np.full(xy.shape[:2], np.inf)
    step[1:] = np.linalg.norm(np.diff(np.asarray(xy, np.float64), axis=0), axis=-1)
    return np.nan_to_num(step, nan=np.inf) < FROZEN_PX


def nearest_neighbours(xy: np.ndarray, good: np.ndarray, n: int = 2,
                       max_rows: int = 5000) -> np.ndarray:
    """Each keypoint's ``n`` nearest keypoints by median distance over trustworthy frames.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, K, 2)`` positions of one animal.
    good : np.ndarray
        ``(T, K)`` bool, trustworthy points.
    n : int
        Neighbours per keypoint (at most ``K - 1``).
    max_rows : int
        Evenly spaced frames used at most.

    Returns
    -------
    np.ndarray
        ``(K, min(n, K - 1))`` int; keypoints never seen together rank last.
    """
    n_t, n_k = good.shape
    rows = np.linspace(0, n_t - 1, min(n_t, max_rows)).astype(np.intp) if n_t else []
    dist = median_distances(xy[rows], good[rows])
    dist = np.where(np.isfinite(dist), dist, np.inf)
    np.fill_diagonal(dist, -1.0)  # self first, dropped below
    return np.argsort(dist, axis=1, kind="stable")[:, 1:1 + min(n, n_k - 1)]


def _validation_rows(spans: list[tuple[int, int, int, int]], n_t: int
                     ) -> tuple[Any, Callable[[int], int]]:
    """Frames the validation candidates run on, and a frame's position among them.

    Files up to :data:`VALIDATION_FULL_FRAMES` frames: all of them. Longer ones: only each
    held-out span with :data:`VALIDATION_CONTEXT` frames on both sides (the blocks joined),
    so validation costs what the spans cost, not what the file costs (on a 1-hour file it
    ran every candidate over all 108,000 frames to score about 150 spans). Every candidate
    still sees the span's anchors and a network window's worth of context on both sides.
    """
    if n_t <= VALIDATION_FULL_FRAMES or not spans:
        return slice(None), lambda t: t
    keep = np.zeros(n_t, bool)
    for _, a, z, _ in spans:
        keep[max(a - VALIDATION_CONTEXT, 0):min(z + VALIDATION_CONTEXT, n_t)] = True
    rows = np.flatnonzero(keep)
    return rows, lambda t: int(np.searchsorted(rows, t))


def _run_lengths(mask: np.ndarray) -> np.ndarray:
    """Length of the run of True each entry of a ``(T, C)`` bool array belongs to (0 if False)."""
    out = np.zeros(mask.shape, np.int64)
    for c in range(mask.shape[1]):
        for a, b in zip(*true_runs(mask[:, c])):
            out[a:b, c] = b - a
    return out


def _interpolate_short_runs(cleaner: Cleaner, features: np.ndarray, lab_mask: np.ndarray,
                            min_run: int | None, filled: np.ndarray | None = None
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Fill every flagged feature entry by linear interpolation in time.

    Only the label entries of runs of at least ``min_run`` frames are kept for the network.

    Returns the features (flagged entries interpolated, others bit-identical) and the
    ``(T, L)`` label mask left for the network. ``filled``: those features from an earlier
    call with the same ``features`` and ``lab_mask`` (the interpolation does not depend on
    ``min_run``).
    """
    import torch

    from ..core.diffusion import linear_fill

    if not min_run or min_run <= 1:
        return features, lab_mask
    if filled is None:
        fmask = cleaner.layout.feature_mask(lab_mask)
        with torch.inference_mode():
            fill = linear_fill(torch.from_numpy(np.asarray(features, np.float64)[None]),
                               torch.from_numpy(~fmask[None]))[0].numpy()
        filled = np.where(fmask, fill.astype(features.dtype), features)
    net = lab_mask & (_run_lengths(lab_mask) >= int(min_run))
    return filled, net


def _pose_fill_prediction(evidence_at: Callable[[np.ndarray, Any], PoseEvidence],
                          prediction_of: Callable[[PoseEvidence], np.ndarray],
                          xy: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """The pose prediction :func:`pose_anchored_fill` reads, computed where it reads it.

    :func:`pose_anchored_fill` uses the prediction at the filled frames, at their neighbours
    within its running median's reach, and at each filled run's nearest anchors (an
    observed, unfilled point with a prediction) on both sides. Starting from the filled
    frames and those neighbours, the evidence is computed
    (``evidence_at(rows, previous)``, frame by frame the same values as over all frames)
    until every run's nearest anchor on each side is found with no frame left uncomputed
    between it and the run (or none is left up to the file's edge), widening the search
    (8, 16, 32, ... frames) where one is not. The fill is then the one made from the
    prediction of every frame: on a 1-hour file it costs what the flagged frames cost.

    Parameters
    ----------
    evidence_at : callable
        ``(rows, previous) -> PoseEvidence``: the evidence computed at ``rows``, updating
        ``previous`` (None at first) in place elsewhere.
    prediction_of : callable
        ``PoseEvidence -> (T, K, 2)`` prediction used by the fill (NaN where none).
    xy : np.ndarray
        ``(T, K, 2)`` positions.
    fill : np.ndarray
        ``(T, K)`` bool, the points to fill.

    Returns
    -------
    np.ndarray
        ``(T, K, 2)``: ``prediction_of`` of the evidence at the computed frames, NaN at the
        others (which the fill does not read).
    """
    n_t, n_k = fill.shape
    observed = ~fill & np.isfinite(xy).all(-1)
    want = fill.any(axis=1)
    todo = want.copy()
    # the filled frames' neighbours, as far as the prediction's running median reads
    for d in range(1, max(1, PREDICTION_MEDIAN_FRAMES // 2) + 1):
        todo[:-d] |= want[d:]
        todo[d:] |= want[:-d]
    done = np.zeros(n_t, bool)
    ev = None
    pred = np.full(xy.shape, np.nan)
    t = np.arange(n_t)
    width = 8
    while True:
        new = todo & ~done
        if new.any():
            ev = evidence_at(np.flatnonzero(new), ev)
            done |= new
        if ev is None:
            return pred
        pred = prediction_of(ev)
        anchor = observed & np.isfinite(pred).all(-1)  # (T, K)
        # before each filled point: the last anchor and the last uncomputed frame
        last_a = np.maximum.accumulate(np.where(anchor, t[:, None], -1), axis=0)
        last_u = np.maximum.accumulate(np.where(done, -1, t))
        prev_a = np.vstack([np.full((1, n_k), -1), last_a[:-1]])
        prev_u = np.concatenate([[-1], last_u[:-1]])
        before = fill & (prev_u[:, None] > prev_a)
        # after it: the next anchor and the next uncomputed frame
        next_a = np.minimum.accumulate(np.where(anchor, t[:, None], n_t)[::-1], axis=0)[::-1]
        next_u = np.minimum.accumulate(np.where(done, n_t, t)[::-1])[::-1]
        nxt_a = np.vstack([next_a[1:], np.full((1, n_k), n_t)])
        nxt_u = np.concatenate([next_u[1:], [n_t]])
        after = fill & (nxt_u[:, None] < nxt_a)
        if not (before.any() or after.any()):
            return pred
        grow = np.zeros(n_t + 1, np.int64)
        for u in np.unique(prev_u[before.any(axis=1)]).tolist():
            grow[max(u - width + 1, 0)] += 1
            grow[u + 1] -= 1
        for u in np.unique(nxt_u[after.any(axis=1)]).tolist():
            grow[u] += 1
            grow[min(u + width, n_t)] -= 1
        todo |= np.cumsum(grow[:n_t]) > 0
        width *= 2


def smooth_jitter(xy: np.ndarray, ok: np.ndarray, *, alpha: float = 8.0, min_px: float = 1.0,
                  window: int = 15, sg_window: int = 11, order: int = 2,
                  hot: np.ndarray | None = None, report: dict[str, int] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smooth the stretches where a keypoint jitters far more than it usually does.

    DeepLabCut's points carry a small frame-to-frame noise everywhere; some stretches
    (motion blur, a poorly lit corner) jitter by several pixels. Each keypoint's jitter is
    measured by its second difference ``|x[t] - (x[t-1] + x[t+1]) / 2|``
    (:func:`~stablemotion_dlc.dlc.jitter.noise_levels`), which smooth motion keeps small
    even when fast. Where its running median over ``window`` frames
    exceeds ``alpha`` times the keypoint's median over the file (and ``min_px``), those
    frames, widened by ``window // 2`` on each side, get a Savitzky-Golay fit
    (``sg_window`` frames, polynomial ``order``). Everything else is left bit-identical, so a
    point that was right stays right. A stretch (its points within
    ``jitter.MAX_SKIP_FRAMES`` frames of each other) keeps its values when what the fit
    would take off is not noise: when it lies along a line rather than every way round
    (:data:`MIN_ISOTROPY`), the keypoint moved (a paw stepping, a head turning) and the fit
    would cut through that motion. Where the fit would still cut real motion inside the
    noise (a paw that stands, then swings), a 5-frame running median replaces it, or the
    stretch is kept as observed, when the keypoint's own frames around the stretch and
    Stein's estimate on the stretch agree that this errs less (:func:`_smoother_for`).

    The thresholds are conservative, chosen on protocol B's and protocol A's tuning files:
    ``alpha`` 8 over a 15-frame median never fires on their uncorrupted tracks, and on
    them sped up 3x and 6x (every 3rd or 6th frame, fast motion as a slow camera sees it)
    it changes at most 0.44 % of the confident points; 4 over 9 frames (the first setting)
    changed up to 2.45 % there, and 0.25-0.29 % of two files at their own frame rate.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, K, 2)`` positions of one animal.
    ok : np.ndarray
        ``(T, K)`` bool, the points that may be smoothed (observed and not otherwise
        repaired); the others are neither used nor changed.
    alpha, min_px : float
        Detection threshold: times the keypoint's usual jitter, and in pixels.
    window : int
        Running-median window (frames) of the detection.
    sg_window, order : int
        Savitzky-Golay window (frames) and polynomial order.
    hot : np.ndarray, optional
        ``(T, K)`` bool, points a detector already found jittering (the file's learned
        detector, :func:`~stablemotion_dlc.dlc.jitter.detect_jitter`): exactly those are
        smoothed, and ``alpha``, ``min_px`` and the widening are not used.
    report : dict, optional
        Filled with what was done: points smoothed by the fit (``savgol_points``) and by
        the running median (``median_points``), and stretches left as observed because
        what the fit takes off lies along a path (``kept_along_path``) or because leaving
        them errs least (``kept_as_observed``).

    Returns
    -------
    xy : np.ndarray
        ``(T, K, 2)`` smoothed copy.
    smoothed : np.ndarray
        ``(T, K)`` bool, the points changed.
    radius : np.ndarray
        ``(T, K)`` float32, radius (px) of the 90 % interval of each smoothed point (from
        the jitter measured over its stretch, assuming Gaussian noise;
        :data:`SMOOTH_RADIUS`; wider where the smoothing errs more on the frames around
        the stretch given that noise), 0 elsewhere.
    """
    from scipy.ndimage import maximum_filter1d, median_filter
    from scipy.signal import savgol_filter

    xy = np.asarray(xy, np.float64)
    ok = np.asarray(ok, bool) & np.isfinite(xy).all(-1)
    n_t, n_k = ok.shape
    out = xy.copy()
    smoothed = np.zeros((n_t, n_k), bool)
    radius = np.zeros((n_t, n_k), np.float32)
    done = report if report is not None else {}
    done.update(savgol_points=0, median_points=0, kept_along_path=0, kept_as_observed=0)
    if n_t < max(sg_window, 3 * window):
        return out, smoothed, radius
    t = np.arange(n_t)
    levels = noise_levels(xy, ok)
    for k in range(n_k):
        okk = ok[:, k]
        h = levels[:, k]
        if np.isfinite(h).sum() < 3 * window:
            continue
        usual = float(np.nanmedian(h))
        level = median_filter(np.where(np.isfinite(h), h, usual), size=window, mode="nearest")
        if hot is None:
            hot_k = level > max(alpha * usual, min_px)
            sel = (maximum_filter1d(hot_k.astype(np.uint8), size=window) > 0) & okk
        else:
            sel = np.asarray(hot[:, k], bool) & okk
        if not sel.any():
            continue
        filled = np.stack([np.interp(t, t[okk], xy[okk, k, d]) for d in range(2)], -1)
        fits = {"savgol": savgol_filter(filled, sg_window, order, axis=0, mode="interp"),
                "median": _median5(filled)}
        resid = xy[:, k] - fits["savgol"]
        rng = np.random.default_rng(k)
        for a, b in _stretches(sel):
            seg = sel[a:b]
            r = resid[a:b][seg]
            if len(r) < 3:
                continue
            # noise scatters every way round; motion the fit cut through lies along a path
            ev = np.linalg.eigvalsh(np.cov(r.T))
            if not (ev[1] > 0 and ev[0] >= MIN_ISOTROPY * ev[1]):
                done["kept_along_path"] += 1
                continue
            # Gaussian noise of sigma per axis (LEVEL_PER_SIGMA), measured over the stretch
            lv = h[a:b][seg]
            lv = lv[np.isfinite(lv)]
            sigma = (float(np.median(lv)) if len(lv) else usual) / LEVEL_PER_SIGMA
            name, rad = _smoother_for(xy[:, k], okk, sel, a, b, sigma, rng,
                                      sg_window=sg_window, order=order,
                                      fits={n: f[a:b] for n, f in fits.items()},
                                      observed=filled[a:b])
            if name == "keep":
                done["kept_as_observed"] += 1
                continue
            # the fit keeps a share of the noise (SMOOTH_RADIUS); 2.146 sigma holds 90 % in
            # 2-D; wider where the frames around show the smoothing errs more
            rad = max(rad, 2.146 * SMOOTH_RADIUS * sigma)
            smoothed[a:b, k] = seg
            out[a:b, k][seg] = fits[name][a:b][seg]
            radius[a:b, k][seg] = rad
            done[f"{name}_points"] += int(seg.sum())
    return out, smoothed, radius


#: Frames on each side of a jittering stretch whose own points help decide how it is
#: smoothed (:func:`_smoother_for`).
SMOOTH_CONTEXT = 150
#: Noise draws per stretch in that check.
SMOOTH_DRAWS = 4
#: The fit is replaced only where both estimates (:func:`_smoother_for`) give another way at
#: most this share of its squared error. On protocol B's tuning files (seeds 0-2) the
#: frames around favoured the running median on four stretches, at 0.54, 0.78, 0.96 and
#: 0.97 of the fit; the truth favoured the fit on the first three (1.14 against 1.35 px,
#: 2.79 against 3.09 px, 1.57 against 2.37 px), where Stein's estimate put the median at
#: 16x, 1.0x and 9.8x the fit.
SMOOTH_MARGIN = 0.8


def _median5(x: np.ndarray) -> np.ndarray:
    """Running median over 5 frames per column (ends: the window shrinks)."""
    from scipy.ndimage import median_filter

    return median_filter(x, size=(5, 1), mode="nearest")


def _smoother_for(x: np.ndarray, ok: np.ndarray, sel: np.ndarray, a: int, b: int,
                  sigma: float, rng: np.random.Generator, *, sg_window: int, order: int,
                  fits: dict[str, np.ndarray], observed: np.ndarray
                  ) -> tuple[str, float]:
    """Choose how to smooth the jittering points ``sel`` in ``[a, b)`` of one keypoint.

    ``x`` is ``(T, 2)``, ``ok`` the points that may be used, ``sel`` those to smooth;
    ``fits`` the ``savgol`` and ``median`` smoothings over ``[a, b)`` and ``observed`` the
    values they smoothed there.

    The default is the Savitzky-Golay fit. A 5-frame running median, or leaving the points
    as observed, replaces it only where two estimates of the error against the truth agree
    that it does better:

    - the frames around: the keypoint's own points within :data:`SMOOTH_CONTEXT` frames of
      the stretch, given noise of the stretch's ``sigma`` (:data:`SMOOTH_DRAWS` draws), are
      smoothed each way and compared with themselves; the other way must reach
      :data:`SMOOTH_MARGIN` of the fit's mean squared error;
    - the stretch itself: Stein's unbiased risk estimate of each way's squared error
      (:func:`_stein_risk`), from the observed points and ``sigma`` alone; the other way
      must reach :data:`SMOOTH_MARGIN` of the fit's here too.

    A paw that stands, then swings, is cut by the fit into a ramp and kept by the median
    (a stride's swing is a monotone run, which a median leaves in place).

    Returns
    -------
    tuple of (str, float)
        ``"savgol"``, ``"median"`` or ``"keep"``, and the :data:`COVERAGE` quantile of its
        errors on the frames around (0 when fewer than 30 points are there to judge; the
        choice is then the fit).
    """
    from scipy.signal import savgol_filter

    lo, hi = max(0, a - SMOOTH_CONTEXT), min(len(x), b + SMOOTH_CONTEXT)
    okr = (ok & ~sel)[lo:hi]
    if okr.sum() < 30 or hi - lo < sg_window:
        return "savgol", 0.0
    base = interp_fill(x[lo:hi][None, :, None], okr[None, :, None])[0][0, :, 0]
    errs: dict[str, list[np.ndarray]] = {"keep": [], "savgol": [], "median": []}
    for _ in range(SMOOTH_DRAWS):
        noisy = base + rng.normal(0.0, sigma, base.shape)
        for name, fit in (("keep", noisy),
                          ("savgol", savgol_filter(noisy, sg_window, order, axis=0,
                                                   mode="interp")),
                          ("median", _median5(noisy))):
            errs[name].append(np.linalg.norm(fit[okr] - base[okr], axis=-1))
    pooled = {n: np.concatenate(e) for n, e in errs.items()}
    mse = {n: float(np.mean(e**2)) for n, e in pooled.items()}
    risk = _stein_risk(observed, fits, sel[a:b], sigma, sg_window=sg_window, order=order)
    best = "savgol"
    for name in ("median", "keep"):
        if (mse[name] <= SMOOTH_MARGIN * mse[best]
                and risk[name] <= SMOOTH_MARGIN * risk[best]):
            best = name
    return best, float(np.quantile(pooled[best], COVERAGE))


def _stein_risk(observed: np.ndarray, fits: dict[str, np.ndarray], pts: np.ndarray,
                sigma: float, *, sg_window: int, order: int) -> dict[str, float]:
    """Stein's unbiased estimate of each smoothing's squared error on a stretch.

    ``observed`` ``(n, 2)`` are the stretch's values, ``fits`` their ``savgol`` and
    ``median`` smoothings, ``pts`` ``(n,)`` the points judged. For noise of ``sigma`` per
    axis, ``sum (f(y) - y)^2 - n sigma^2 + 2 sigma^2 div f`` estimates
    ``sum (f(y) - truth)^2`` without the truth (Stein 1981). The divergence of the
    Savitzky-Golay fit is its centre weight per value; of a running median, the number of
    values it returns unchanged; of keeping, one per value.
    """
    from scipy.signal import savgol_coeffs

    y = observed[pts]
    sg, md = fits["savgol"][pts], fits["median"][pts]
    n = y.size
    c0 = float(savgol_coeffs(sg_window, order)[sg_window // 2])
    var = sigma**2
    return {"keep": n * var,
            "savgol": float(np.sum((sg - y) ** 2)) - n * var + 2 * var * c0 * n,
            "median": float(np.sum((md - y) ** 2)) - n * var + 2 * var * float(np.sum(md == y))}


def _stretches(sel: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` of the runs of ``sel`` joined across ``jitter.MAX_SKIP_FRAMES``."""
    starts, stops = true_runs(sel)
    if not len(starts):
        return []
    join = np.flatnonzero(starts[1:] - stops[:-1] > MAX_SKIP_FRAMES)
    return [(int(a), int(b)) for a, b in zip(starts[np.r_[0, join + 1]],
                                             stops[np.r_[join, len(stops) - 1]], strict=True)]


def repair_animal(
    cleaner: Cleaner,
    rep: KeypointRepresentation,
    xy: np.ndarray,
    flag: np.ndarray,
    suspect: np.ndarray,
    p_model: np.ndarray,
    good: np.ndarray,
    prior: PosePrior | None,
    *,
    policy: str = "auto",
    use_network: bool = True,
    keep_plausible: bool = True,
    keepable: np.ndarray | None = None,
    min_network_run: int | None = 16,
    smooth: bool = False,
    jitter: np.ndarray | None = None,
    steps: int = 1,
    ensemble: int = 1,
    sits: bool = True,
    seed: int = 0,
    progress: bool = False,
    should_stop: Callable[[], bool] | None = None,
    anchors: np.ndarray | None = None,
) -> RepairOutcome:
    """Repair the flagged points of one animal with the candidate that validates best.

    Parameters
    ----------
    cleaner : Cleaner
        The loaded model.
    rep : KeypointRepresentation
        Its representation.
    xy : np.ndarray
        ``(T, K, 2)`` positions of the animal.
    flag : np.ndarray
        ``(T, K)`` bool, points to repair.
    suspect : np.ndarray
        ``(T, K)`` bool, the suspect labels given to the network.
    p_model : np.ndarray
        ``(T, K)`` model detection probability.
    good : np.ndarray
        ``(T, K)`` bool, trustworthy points (validation spans are drawn from these).
    prior : PosePrior or None
        The animal's pose prior (None: no ``pose`` candidate).
    policy : {"auto", "network", "interp", "pose", "linear"}
        ``auto`` chooses per length bin on the validation spans; a name forces that
        candidate everywhere (``network`` keeps the short-run interpolation below
        ``min_network_run``: the behaviour before the choice existed).
    use_network : bool
        False: the network is neither a candidate nor a default (a model unlike the input,
        see :meth:`Cleaner.check_input`); the choice is made among the others, and a cell
        too thin to judge, or forced to ``network``, gets ``interp`` (``linear`` where the
        body frame is unreliable, :data:`UNRELIABLE_FRAME`).
    keep_plausible : bool
        Keep a flagged, observed point whose repair lands within the repair's own 90 %
        radius of it (twice that for runs touching the start or end; never less than the
        keypoint's own noise, :func:`_noise_floor`): the observation is as good as the
        repair, so there is no strong evidence to change it. Kept points
        split their run: the rest of it is repaired again as the shorter gaps between them
        (counted in the report's ``split_runs_points``). Points marked by hand should pass
        False.
    keepable : np.ndarray, optional
        ``(T, K)`` bool: the points ``keep_plausible`` may keep (default all). The pipeline
        passes the confident ones: below ``pcutoff`` DeepLabCut itself says the observation
        is unreliable, and the classical pcutoff -> interpolation convention holds. Given,
        a run at the file's start or end too long to extrapolate (:data:`MAX_ONE_SIDED`)
        with no keepable point holds the nearest trustworthy value (:data:`MAX_HOLD`,
        :func:`_hold_edges`; ``held_at_file_edges_points`` in the report). Its points
        DeepLabCut did not give are held only where at least half of the animal's keypoints
        are trustworthy (:func:`_animal_present`): the animal is in view, the point hidden.
        Without ``keepable``, such runs stay as observed.
    min_network_run : int, optional
        See :func:`~stablemotion_dlc.dlc.pipeline.clean_tracks`.
    smooth : bool
        Also smooth the stretches of unflagged points that jitter far more than usual
        (:func:`smooth_jitter`); they count as changed, with their own uncertainty (see
        :func:`~stablemotion_dlc.dlc.pipeline.clean_tracks`, where it is on by default).
    jitter : np.ndarray, optional
        ``(T, K)`` bool, points a jitter detector marked: with ``smooth``, exactly these
        are smoothed (``smooth_jitter``'s ``hot``) instead of its own threshold's finds.
    steps, ensemble, sits, seed, progress, should_stop
        Passed to :meth:`Cleaner.cleanup`.
    anchors : np.ndarray, optional
        ``(T, K)`` bool: points a correction established on strong evidence (the exchanged
        ends of a reversed body). They count as consistent evidence of the pose prior even
        where nothing else can judge them, and in frames with two of them the other flagged
        points are filled by the ``pose`` candidate (where it has a prediction), whatever
        the length bin chose: the rest of such a body is wrong with it, and the established
        points say where it is.

    Returns
    -------
    RepairOutcome
    """
    n_t, n_k = flag.shape
    flag0 = flag  # the points asked for (runs left at the file's edges are not smoothed)
    if not flag.any():  # nothing to repair: the smoothing alone, if asked for
        return _with_smoothing(
            RepairOutcome(np.array(xy, np.float64), np.zeros((n_t, n_k), bool),
                          np.zeros((n_t, n_k), np.float32), {}), flag, smooth, jitter)
    missing = ~np.isfinite(xy).all(-1)

    # the encoding and the interpolation of the last (mask, rows): the interp and network
    # candidates are asked in turn for the same ones (the network starts from the
    # interpolation)
    last: dict[str, Any] = {}

    def network_or_interp(mask: np.ndarray, min_run: int | None, rows: Any = slice(None)
                          ) -> tuple[np.ndarray, int]:
        if last.get("mask") is not mask or last.get("rows") is not rows:
            sus = suspect[rows] | mask
            enc = rep.encode(xy[rows], sus)
            last.update(
                mask=mask, rows=rows, enc=enc, filled=None,
                lab_mask=np.concatenate([mask, enc.labels[:, n_k:] > 0.5], axis=1),
                suspicion=np.concatenate(
                    [np.maximum(p_model[rows], (sus | missing[rows]).astype(np.float32)),
                     enc.labels[:, n_k:]], axis=1))
        enc, suspicion = last["enc"], last["suspicion"]
        feats, net_mask = _interpolate_short_runs(cleaner, enc.features, last["lab_mask"],
                                                  min_run, last["filled"])
        if min_run and min_run > 1:
            last["filled"] = feats
        n_net = 0
        if net_mask.any():
            res = cleaner.cleanup(feats, net_mask, suspicion=suspicion, steps=steps,
                                  ensemble=ensemble, sits=sits, seed=seed, progress=progress,
                                  should_stop=should_stop)
            feats = res.features
            n_net = int(net_mask[:, :n_k].sum())
        return rep.decode(feats, enc.origin), n_net

    def candidate(name: str, mask: np.ndarray, rows: Any = slice(None),
                  bridged: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> tuple[np.ndarray, int, np.ndarray | None]:
        # ``rows``: the frames the candidate sees (``mask`` is over those frames);
        # ``bridged``: (positions, points) of anchors bridged over short gaps (pose only).
        # Returns the filled positions, the network's points and, for ``pose``, the filled
        # points that followed a prediction (the others were bridged: an interpolation)
        if name == "linear":
            filled, _ = interp_fill(xy[rows][None], (good[rows] & ~mask)[None])
            return np.where(mask[..., None], filled[0], xy[rows]), 0, None
        if name in ("interp", "network"):
            run = 10**9 if name == "interp" else min_network_run
            return (*network_or_interp(mask, run, rows), None)
        if prior is None:
            raise ValueError("no pose prior for this animal")
        evidence = good[rows] & ~mask
        xr = xy[rows]
        anc = None if anchors is None else anchors[rows]
        if bridged is not None and anc is not None:
            xr = bridged[0][rows]
            evidence = evidence | bridged[1][rows]
            anc = anc | bridged[1][rows]
        n_anchor = None if anc is None else (anc & evidence).sum(1)
        # two evidence points judge each other by their distance alone (half of a
        # four-keypoint animal gone: ``d2`` needs two others), and place the points within
        # their reach only; the evidence is fixed here, so this is computed once
        pair_ok = typical_pairs(prior, xr, evidence)

        def consistent_prediction(ev: PoseEvidence) -> np.ndarray:
            # a prediction is only as good as its evidence: frames whose evidence points do
            # not agree with each other (one of them is an undetected error) fall back to
            # interpolation
            judged = evidence & np.isfinite(ev.d2)
            enough = judged.sum(1) >= 2
            if n_anchor is not None:
                enough |= n_anchor >= 2
            consistent = ~(judged & (ev.d2 > consistency_d2)).any(axis=1) & enough
            keep = consistent[:, None] | ((judged.sum(1) == 0)[:, None] & pair_ok)
            return np.where(keep[..., None], ev.prediction, np.nan)

        # the evidence of the frames the fill reads only: the filled ones and their anchors
        # (a frame's evidence depends on that frame alone; the same values as over all)
        pred = _pose_fill_prediction(lambda r, ev: pose_evidence(prior, xr, evidence, rows=r,
                                                                 out=ev),
                                     consistent_prediction, xr, mask)
        filled, followed = pose_fill_followed(xr, mask, pred)
        return filled, 0, followed

    names = (["linear", "interp"] + (["network"] if use_network else [])
             + (["pose"] if prior is not None else []))
    report: dict[str, Any] = {"policy": policy}
    # validation on the animal's own trustworthy points: lone gaps and gaps that take
    # neighbouring keypoints too are scored apart (cells 0..NB-1 and NB..2NB-1)
    n_bins = len(LENGTH_BINS)
    rng = np.random.default_rng(seed + 7919)
    nbrs = nearest_neighbours(xy, good & ~flag) if n_k >= 3 else None
    # spans over duplicated video frames measure nothing (every candidate fills them
    # exactly): on two of the tuning files with each frame shown three times, validating on
    # them chose repairs with 2-3x the RMSE (the third barely changed)
    vmask, spans = validation_mask(good & ~flag, rng, neighbours=nbrs,
                                   distinct=distinct_frames(xy))
    n_cells = 2 * n_bins
    errors: dict[str, list[list[float]]] = {m: [[] for _ in range(n_cells)] for m in names}
    rows, at = _validation_rows(spans, n_t)
    if spans:
        vmask_rows = vmask[rows]  # one object: the candidates share their preparation
        for m in names:
            pred, _, _ = candidate(m, vmask_rows, rows)
            err = np.linalg.norm(pred - xy[rows], axis=-1)
            for k, a, z, c in spans:
                e = err[at(a):at(a) + z - a, k]
                errors[m][c] += [float(v) for v in e[np.isfinite(e)]]
    n_spans = [sum(1 for s in spans if s[3] == c) for c in range(n_cells)]

    def pooled(m: str, c: int) -> list[float]:
        b = c % n_bins
        return errors[m][b] + errors[m][b + n_bins]

    # the body frame itself (:func:`_body_frame`): where it is unreliable, a cell too thin
    # to judge defaults to ``linear``
    frame_unreliable, rmse_short = _body_frame(errors, n_spans, n_bins)
    report["short_gaps_rmse"] = {m: None if v is None else round(v, 3)
                                 for m, v in rmse_short.items()}
    report["body_frame_unreliable"] = frame_unreliable
    choice: list[str] = []
    cell_errs: list[dict[str, list[float]]] = []
    rmse: list[dict[str, float | None]] = []
    for c in range(n_cells):
        b = c % n_bins
        lo = LENGTH_BINS[b][0]
        default = ("network" if (use_network and min_network_run and lo >= min_network_run)
                   else "linear" if frame_unreliable else "interp")
        # a cell with too few held-out spans states the radius of its whole length bin
        # (both kinds of gap) and is judged on the cells of _judged_cells
        own = n_spans[c] >= _MIN_SPANS
        errs = {m: (errors[m][c] if own else pooled(m, c)) for m in names}
        cell_errs.append(errs)
        judged = _judged_cells(c, n_spans, n_bins)
        rmse.append({m: _rmse([e for d in judged for e in errors[m][d]]) for m in names})
        enough = sum(n_spans[d] for d in judged) >= _MIN_SPANS
        if policy != "auto":
            pick = policy if policy in names else default
        elif enough:
            scored = {m: v for m, v in rmse[c].items() if v is not None}
            pick = min(scored, key=scored.get) if scored else default
        else:  # too few held-out spans to judge: the documented default
            pick = default
        choice.append(pick)
    radius = _radii([cell_errs[c].get(choice[c], []) for c in range(n_cells)], n_bins)
    radius_linear = _radii([cell_errs[c]["linear"] for c in range(n_cells)], n_bins)
    report["validation"] = {
        f"{lo}-{hi - 1 if hi < 10**9 else ''}"
        + (" (neighbours too)" if c >= n_bins else ""): {
            "spans": n_spans[c],
            **{m: (None if v is None else round(v, 3)) for m, v in rmse[c].items()},
            "chosen": choice[c],
            "radius90_px": None if radius[c] is None else round(radius[c], 3),
            # the radius of the points the pose candidate bridged (no prediction there)
            "linear_radius90_px": (None if radius_linear[c] is None
                                   else round(radius_linear[c], 3)),
        }
        for c in range(n_cells)
        for lo, hi in [LENGTH_BINS[c % n_bins]]
    }

    out = xy.copy()
    changed = np.zeros((n_t, n_k), bool)
    unc = np.zeros((n_t, n_k), np.float32)
    if not flag.any():
        report["network_points"] = 0
        return _with_smoothing(RepairOutcome(out, changed, unc, report), flag0, smooth, jitter)
    flag = flag.copy()

    def runs_of(flag_now: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int]]]:
        # the cell of every flagged point's run; runs at the file's edges too long to
        # extrapolate are dropped from ``flag_now`` (in place) and returned (k, start, stop)
        run_bin = np.full((n_t, n_k), -1)
        one_sided = np.zeros((n_t, n_k), bool)
        dropped: list[tuple[int, int, int]] = []
        gone = flag_now | missing
        for k in range(n_k):
            for a, z in zip(*true_runs(flag_now[:, k])):
                # a gap whose neighbours are gone too in most of its frames is a grouped gap
                grouped = nbrs is not None and bool(
                    gone[a:z][:, nbrs[k]].any(axis=1).mean() >= 0.5)
                run_bin[a:z, k] = _bin_of(int(z - a)) + (n_bins if grouped else 0)
                one_sided[a:z, k] = a == 0 or z == n_t
                if (a == 0 or z == n_t) and z - a > MAX_ONE_SIDED:
                    flag_now[a:z, k] = False
                    dropped.append((k, int(a), int(z)))
        return run_bin, one_sided, dropped

    run_bin, one_sided, edge_runs = runs_of(flag)
    report["left_at_file_edges_points"] = sum(z - a for _, a, z in edge_runs)
    motion = _motion_factor(xy, good & ~flag0)
    report["motion_factor"] = [float(v) for v in motion]
    floor = _noise_floor(xy, good & ~flag0)
    report["noise_floor90_px"] = [round(float(v), 3) for v in floor]
    n_net = 0

    def apply(flag_now: np.ndarray, run_bin: np.ndarray, one_sided: np.ndarray
              ) -> np.ndarray:
        # fill the points of ``flag_now`` with their run's cell's choice; returns the
        # observed points kept as they are
        nonlocal n_net
        kept = np.zeros((n_t, n_k), bool)
        # first, do no harm: an observed point that the repair does not contradict beyond
        # the repair's own 90 % radius (twice that for runs with an anchor on one side only)
        # has no strong evidence against it and stays as it is
        def radius_at(rad: list[float | None]) -> np.ndarray:
            rr = np.array([np.nan if v is None else v for v in rad])[np.maximum(run_bin, 0)]
            # never narrower than the keypoint's own noise (NaN, no radius, stays NaN)
            return np.maximum(np.where(one_sided, 2.0 * rr, rr), floor[None, :])

        r = radius_at(radius)
        for m in sorted(set(choice)):
            sel = np.zeros((n_t, n_k), bool)
            for b, pick in enumerate(choice):
                if pick == m:
                    sel |= run_bin == b
            sel &= flag_now
            if not sel.any():
                continue
            pred, n, followed = candidate(m, flag_now)
            n_net += n if m == "network" else 0
            ok = sel & np.isfinite(pred).all(-1)
            # where the pose prior had no prediction, the pose candidate bridged the point
            # between its neighbours: an interpolation, judged by the linear one's radius
            bridged = np.zeros_like(ok) if followed is None else ok & ~followed
            if keep_plausible:
                r_m = np.where(bridged, radius_at(radius_linear), r) if bridged.any() else r
                dist = np.linalg.norm(pred - xy, axis=-1)
                plausible = ok & ~missing & (dist <= r_m)
                if keepable is not None:
                    plausible &= keepable
                kept |= plausible
                ok &= ~plausible
            out[ok] = pred[ok]
            changed[ok] = True
            _state_uncertainty(unc, ok & ~bridged, radius, run_bin, one_sided, motion, floor)
            _state_uncertainty(unc, ok & bridged, radius_linear, run_bin, one_sided, motion,
                               floor)
        return kept

    kept = apply(flag, run_bin, one_sided)
    # the kept points are as trustworthy as the repair could tell: what is left of a run
    # they split is repaired again as the shorter gaps between them (a two-frame background
    # detection inside a ten-frame flagged stretch is a two-frame gap)
    redo = np.zeros((n_t, n_k), bool)
    for k in np.flatnonzero(kept.any(axis=0)):
        for a, z in zip(*true_runs(flag[:, k])):
            redo[a:z, k] = kept[a:z, k].any()
    redo &= ~kept
    if redo.any():
        out[redo] = xy[redo]
        changed &= ~redo
        unc[redo] = 0.0
        good = good | kept
        suspect = suspect & ~kept
        last.clear()
        flag2 = flag & ~kept
        run_bin2, one_sided2, _ = runs_of(flag2)
        kept |= apply(redo & flag2, run_bin2, one_sided2)
        report["split_runs_points"] = int(redo.sum())
    kept_plausible = int(kept.sum())
    if anchors is not None and prior is not None:
        # the rest of a body whose established points say where it is: the pose candidate
        # (runs at the file's edges too: the established points, not an extrapolation,
        # carry the fill there)
        asked = flag | flag0
        # an established end missing for a few frames (the network put both ends on one
        # place there) is bridged by interpolation between its established values
        base, bridged = _bridge(xy, anchors & ~asked, asked, MAX_BRIDGE)
        est = (anchors & ~asked) | bridged
        held = asked & ~est & (est.sum(1) >= 2)[:, None]
        if held.any():
            pred, _, _ = candidate("pose", asked & ~bridged, bridged=(base, bridged))
            ok = held & np.isfinite(pred).all(-1)
            out[ok] = pred[ok]
            ok_b = bridged & (est.sum(1) >= 2)[:, None]
            out[ok_b] = base[ok_b]
            changed |= ok | ok_b
            _state_uncertainty(unc, ok_b, radius_linear, run_bin, one_sided, motion, floor)
            _state_uncertainty(unc, ok, _radii([e["pose"] for e in cell_errs], n_bins),
                               run_bin, one_sided, motion, floor)
            report["anchored_pose_points"] = int(ok.sum())
            report["left_at_file_edges_points"] -= int((ok & ~flag).sum())
    if keepable is not None and edge_runs:
        # unreliable observations at the file's ends: the classical convention holds the
        # nearest trustworthy value there, and no evidence says this repair knows better
        pos, held, radius_held = _hold_edges(xy, good & ~flag0, keepable & ~missing,
                                             edge_runs)
        # nothing is invented where DeepLabCut gave no point and the animal may be gone;
        # a point missing while the animal's other points are there is held as well
        held &= ~changed & (~missing | _animal_present(good & ~flag0)[:, None])
        out[held] = pos[held]
        changed |= held
        unc[held] = np.maximum(radius_held, floor[None, :])[held]
        report["held_at_file_edges_points"] = int(held.sum())
        report["left_at_file_edges_points"] -= int(held.sum())
    report["network_points"] = n_net
    report["kept_plausible_points"] = kept_plausible
    return _with_smoothing(RepairOutcome(out, changed, unc, report), flag0, smooth, jitter)


def _state_uncertainty(unc: np.ndarray, points: np.ndarray, radius: list[float | None],
                       run_bin: np.ndarray, one_sided: np.ndarray, motion: np.ndarray,
                       floor: np.ndarray) -> None:
    """Write the stated radius of ``points`` into ``unc``.

    That is their cell's validation radius times :data:`INTERVAL_SCALE` (twice that for
    runs with an anchor on one side only), times the keypoint's ``motion`` factor
    (:func:`_motion_factor`), and at least the keypoint's ``floor`` (:func:`_noise_floor`).
    """
    for c, r in enumerate(radius):
        if r is not None:
            cell = points & (run_bin == c)
            unc[cell] = np.maximum(INTERVAL_SCALE * r * np.where(one_sided[cell], 2.0, 1.0)
                                   * np.broadcast_to(motion, cell.shape)[cell],
                                   np.broadcast_to(floor, cell.shape)[cell])


def _hold_edges(xy: np.ndarray, trusted: np.ndarray, reliable: np.ndarray,
                runs: list[tuple[int, int, int]]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hold the nearest trustworthy value over unreliable runs at a file's start or end.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, K, 2)`` positions of one animal.
    trusted : np.ndarray
        ``(T, K)`` bool, trustworthy unflagged points (the anchors, and the points the
        displacement is measured on).
    reliable : np.ndarray
        ``(T, K)`` bool, observed points the likelihood vouches for: a run holding one of
        them is left as observed.
    runs : list of (int, int, int)
        ``(k, start, stop)`` runs touching the file's start or end.

    Returns
    -------
    tuple of np.ndarray
        ``(T, K, 2)`` held positions, ``(T, K)`` bool points held (runs of at most
        :data:`MAX_HOLD` frames next to :data:`HOLD_ANCHOR` trustworthy frames in a row,
        with no reliable point) and
        ``(T, K)`` float32 their 90 % radius: the :data:`COVERAGE` quantile of the
        keypoint's displacement over as many frames as the point lies from the anchor
        (:func:`_hold_radius`), the error of holding a value that long.
    """
    n_t = len(xy)
    pos = np.array(xy, np.float64)
    held = np.zeros(trusted.shape, bool)
    radius = np.zeros(trusted.shape, np.float32)
    cache: dict[int, np.ndarray | None] = {}
    for k, a, z in runs:
        anchor = a - 1 if a > 0 else z
        # the value held comes from a stretch of trustworthy frames, not from a lone one
        # between flagged runs (one undetected error there would be held for the whole run)
        stretch = (trusted[max(anchor - HOLD_ANCHOR + 1, 0):anchor + 1, k] if a > 0
                   else trusted[anchor:anchor + HOLD_ANCHOR, k])
        if (z - a > MAX_HOLD or anchor >= n_t or len(stretch) < HOLD_ANCHOR
                or not stretch.all() or reliable[a:z, k].any()):
            continue
        if k not in cache:
            cache[k] = _hold_radius(xy[:, k], trusted[:, k], MAX_HOLD)
        lag_radius = cache[k]
        if lag_radius is None:
            continue
        pos[a:z, k] = xy[anchor, k]
        held[a:z, k] = True
        radius[a:z, k] = lag_radius[np.abs(np.arange(a, z) - anchor) - 1]
    return pos, held, radius


def _animal_present(trusted: np.ndarray) -> np.ndarray:
    """``(T,)`` bool: frames where at least half of the animal's keypoints are trustworthy.

    The animal is in view there, so a keypoint it lacks is hidden, not gone. At least one
    keypoint, so a one-keypoint animal's missing point is never held.
    """
    need = max(int(np.ceil(trusted.shape[1] / 2)), 1)
    return trusted.sum(1) >= need


def _hold_radius(x: np.ndarray, ok: np.ndarray, max_lag: int) -> np.ndarray | None:
    """``(max_lag,)`` a keypoint's 90 % displacement over 1, 2, ... ``max_lag`` frames.

    The :data:`COVERAGE` quantile of the distance between trustworthy points that many
    frames apart; never shrinking with the lag. None when a lag has fewer than 20 pairs
    (nothing to measure the hold on).
    """
    x = np.asarray(x, np.float64)
    out = np.empty(max_lag)
    for d in range(1, max_lag + 1):
        both = ok[d:] & ok[:-d]
        if both.sum() < 20:
            return None
        out[d - 1] = np.quantile(np.linalg.norm(x[d:][both] - x[:-d][both], axis=-1), COVERAGE)
    return np.maximum.accumulate(out)


def _noise_floor(xy: np.ndarray, good: np.ndarray) -> np.ndarray:
    """``(K,)`` the 90 % radius (px) of each keypoint's own frame-to-frame noise.

    No repair can be stated more precise than the keypoint's measurement: its noise is
    estimated from the second differences of consecutive trustworthy frames
    (:func:`~stablemotion_dlc.dlc.jitter.noise_levels`; per-axis sigma = median level /
    ``LEVEL_PER_SIGMA``), leaving out frames where the point repeats its value
    (:data:`FROZEN_PX`): a file that repeats most frames (sleap_clip repeats 73 % of them)
    otherwise validates its gaps on motionless spans and stated 90 % radii of 0.001-0.04 px.
    The radius of an isotropic 2-D Gaussian holding 90 %: ``sqrt(2 ln 10) * sigma``. 0 with
    fewer than 20 measured frames.
    """
    xy = np.asarray(xy, np.float64)
    n_t, n_k = good.shape
    levels = noise_levels(xy, good)
    repeat = _repeats(xy)  # frame t repeats frame t - 1
    # the level of frame t uses frames t - 1, t and t + 1: none of them may be a repeat
    # (a repeated t - 1 holds the value of t - 2, two frames of motion away)
    frozen = repeat.copy()
    frozen[:-1] |= repeat[1:]
    frozen[1:] |= repeat[:-1]
    levels = np.where(frozen, np.nan, levels)
    out = np.zeros(n_k)
    for k in range(n_k):
        lv = levels[:, k][np.isfinite(levels[:, k])]
        if lv.size >= 20:
            out[k] = np.sqrt(2.0 * np.log(10.0)) * float(np.median(lv)) / LEVEL_PER_SIGMA
    return out


def _motion_factor(xy: np.ndarray, good: np.ndarray) -> np.ndarray:
    """``(K,)`` how much faster each keypoint moves than the animal's typical one.

    The median step between consecutive trustworthy frames, over the median of the
    keypoints' medians, clipped to ``[1, 3]``. A length bin's validation radius pools every
    keypoint; a paw that swings (a fly's head, a wing tip) strays further from any repair
    than the body does, and its interval is widened by this factor (never narrowed). On
    protocol B's tuning files, coverage of the stated 90 % intervals 0.903 -> 0.915.
    """
    n_k = good.shape[1]
    both = good[1:] & good[:-1]
    step = np.linalg.norm(np.diff(np.asarray(xy, np.float64), axis=0), axis=-1)
    med = np.array([np.median(step[both[:, k], k]) if both[:, k].sum() > 10 else np.nan
                    for k in range(n_k)])
    typical = np.nanmedian(med) if np.isfinite(med).any() else np.nan
    if not typical > 0:
        return np.ones(n_k)
    return np.clip(np.where(np.isfinite(med), med / typical, 1.0), 1.0, 3.0)


def _bridge(xy: np.ndarray, anchors: np.ndarray, gaps: np.ndarray, max_gap: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Bridge each keypoint's short gaps between anchors by linear interpolation.

    Returns a copy of ``xy`` with the runs of ``gaps`` (at most ``max_gap`` frames, anchored
    on both sides) filled from the neighbouring ``anchors`` values, and the ``(T, K)`` mask
    of the filled points.
    """
    out = np.array(xy, np.float64)
    bridged = np.zeros(anchors.shape, bool)
    for k in np.flatnonzero(anchors.any(0)):
        for a, z in zip(*true_runs(gaps[:, k])):
            if z - a > max_gap or a == 0 or z == len(out):
                continue
            if not (anchors[a - 1, k] and anchors[z, k]):
                continue
            w = (np.arange(a, z) - (a - 1)) / (z - (a - 1))
            out[a:z, k] = (1 - w)[:, None] * out[a - 1, k] + w[:, None] * out[z, k]
            bridged[a:z, k] = True
    return out, bridged


def _radii(errs: list[list[float]], n_bins: int) -> list[float | None]:
    """Per cell, the ``COVERAGE`` quantile of its validation errors (10 or more).

    Cells with too few borrow the radius of the nearest length bin that has one (the same
    kind of gap first). Borrowed from a shorter bin it is widened by the square root of the
    ratio of their typical lengths: far from its anchors a repair drifts as a random walk
    does (on protocol B's held-out files the 101+ frame runs, which borrow the 31-100 bin's
    radius, were covered 28 % of the time before). Never narrowed.
    """
    radius = [float(np.quantile(e, COVERAGE)) if len(e) >= 10 else None for e in errs]
    known = [(d, r) for d, r in enumerate(radius) if r is not None]
    for c in range(len(errs)):
        if radius[c] is None and known:
            _, _, d, r = min((abs(c % n_bins - d % n_bins), (d >= n_bins) != (c >= n_bins), d, r)
                             for d, r in known)
            radius[c] = r * max(1.0, np.sqrt(_typical_length(c % n_bins)
                                             / _typical_length(d % n_bins)))
    return radius


def _rmse(errors: list[float]) -> float | None:
    """Root mean square of validation errors (None for none)."""
    return float(np.sqrt(np.mean(np.square(errors)))) if errors else None


def _body_frame(errors: dict[str, list[list[float]]], n_spans: list[int], n_bins: int
                ) -> tuple[bool, dict[str, float | None]]:
    """Whether an animal's body frame is unreliable, read from its short gaps.

    The short length bins (1-3 and 4-10 frames, lone and grouped gaps) that have
    :data:`_MIN_SPANS` validation spans of their own are pooled: where ``interp``
    (body-relative) has more than :data:`UNRELIABLE_FRAME` times ``linear``'s RMSE there,
    the frame the animal's points are placed in is unreliable (a two-keypoint fly whose
    other keypoint flickers between flies), and over a short gap the two should agree.

    Returns
    -------
    tuple
        That verdict, and the two RMSEs (``{"linear": ..., "interp": ...}``, None without
        such a cell).
    """
    short = [c for c in range(len(n_spans)) if c % n_bins <= 1 and n_spans[c] >= _MIN_SPANS]
    rmse = {m: _rmse([v for c in short for v in errors[m][c]]) for m in ("linear", "interp")}
    lin, itp = rmse["linear"], rmse["interp"]
    return bool(lin is not None and itp is not None
                and itp > UNRELIABLE_FRAME * max(lin, 1e-9)), rmse


def _judged_cells(c: int, n_spans: list[int], n_bins: int) -> list[int]:
    """The validation cells the repair choice of cell ``c`` is judged on.

    Its own when it has :data:`_MIN_SPANS` held-out spans; otherwise it is pooled with the
    adjacent length bins of the same kind of gap (lone or grouped) first, then with the
    same and adjacent bins of the other kind, until the spans suffice. Lone and grouped gaps
    differ most where a candidate predicts a point from its neighbours (the pose prior does
    well on a lone gap and fails when the neighbours are gone too): judging a lone cell with
    its grouped one picked interpolation for the long lone runs that the pose prior repairs
    best. Bins further away are never pooled: the best repair of a 2-frame gap says little
    about a 40-frame one (linear interpolation wins the first and loses the second).
    """
    if n_spans[c] >= _MIN_SPANS:
        return [c]
    b, grouped = c % n_bins, c >= n_bins
    near = [d for d in range(len(n_spans)) if abs(d % n_bins - b) <= 1]
    order = sorted(near, key=lambda d: ((d >= n_bins) != grouped, abs(d % n_bins - b), d))
    cells: list[int] = []
    for d in order:
        cells.append(d)
        if sum(n_spans[e] for e in cells) >= _MIN_SPANS:
            break
    return cells


def _typical_length(b: int) -> float:
    """A length bin's typical run length (frames): the geometric middle, ``2 lo`` if open."""
    lo, hi = LENGTH_BINS[b]
    return float(np.sqrt(lo * (hi - 1))) if hi < 10**9 else 2.0 * lo


def _with_smoothing(res: RepairOutcome, flag: np.ndarray, smooth: bool,
                    jitter: np.ndarray | None = None) -> RepairOutcome:
    """Add :func:`smooth_jitter` of the points neither flagged nor changed."""
    if not smooth:
        return res
    how: dict[str, int] = {}
    xy, smoothed, radius = smooth_jitter(res.xy, ~flag & ~res.changed, hot=jitter, report=how)
    res.xy[smoothed] = xy[smoothed]
    res.changed |= smoothed
    res.uncertainty[smoothed] = radius[smoothed]
    res.report["smoothed_points"] = int(smoothed.sum())
    res.report["smoothing"] = how
    res.smoothed = smoothed
    return res
