"""A pose-space prior learned from one file's own confident frames.

DeepLabCut's worst errors are long and confident: a keypoint placed on another body part (the
tail base on the head) for tens of frames with likelihood 0.98. Time-based rules see at best
the jump into such a span; the body's own geometry sees every frame of it, because the pose
it produces is one the animal never takes. This module learns that geometry from the file
itself, without any labels, in the spirit of Lightning Pose's pose-PCA loss and the PCA
variants of the ensemble Kalman smoother:

1. frames where every keypoint is confident are aligned (rotation and translation, no
   scale: the camera is fixed) to their mean shape by generalised Procrustes (when too few
   frames have them all, the keypoints most often missing are left out of the prior);
2. for each keypoint ``k`` and each set ``S`` of other keypoints seen together, a ridge
   regression predicts ``k`` from ``S`` in a frame aligned on ``S`` alone (the fit and the
   prediction use the same alignment), with the residual covariance of the fit;
3. a point whose position is improbable given the others (squared Mahalanobis distance of
   its residual, ``d2``) is suspect; the worst point of a frame is blamed first and removed
   from the evidence of the others, so one wrong point never condemns its neighbours.

The fit is robust: frames with an improbable point are dropped and the prior refitted once.
The predicted position is also a repair: :func:`pose_anchored_fill` follows the body's
current pose through a gap and interpolates only the point's offset from that prediction.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np

from .._arrays import interp_fill, true_runs

__all__ = ["PosePrior", "PoseEvidence", "fit_pose_prior", "pose_evidence", "pose_flags",
           "pose_anchored_fill", "pose_fill_followed", "typical_pairs"]

logger = logging.getLogger(__name__)

#: Fewest complete confident frames needed to learn a prior.
MIN_FIT_FRAMES = 50
#: Most keypoints (share of the animal's) :func:`fit_pose_prior` may leave out to find
#: :data:`MIN_FIT_FRAMES` complete frames.
MAX_LEFT_OUT = 0.25
#: Frames of the running median taken of the prediction in :func:`pose_anchored_fill`.
PREDICTION_MEDIAN_FRAMES = 5
#: Most frames used to fit (evenly spaced); the fit is linear algebra over them.
MAX_FIT_FRAMES = 6000
#: Most distinct sets of available keypoints handled per keypoint (by frequency).
MAX_SUBSETS = 256
#: Evidence sets used by fewer frames than this in one call are fitted on
#: :data:`RARE_FIT_FRAMES` evenly spaced fit poses instead of all of them: a regression of
#: at most ``2K + 1`` coefficients needs far fewer than 6,000 poses, and a file has a few
#: common sets but hundreds of rare ones (every combination of two or three occluded points).
RARE_SUBSET_FRAMES = 1000
#: Fit poses of a rare evidence set's regression.
RARE_FIT_FRAMES = 1500
_RIDGE = 1e-3
#: A frame with two evidence points only is typical when their distance lies within this
#: quantile range of the fit poses' distances of the same pair (:func:`typical_pairs`).
PAIR_QUANTILES = (0.01, 0.99)
#: Farthest a point predicted from two evidence points may lie from their midpoint, in units
#: of their distance (mean shape; :func:`typical_pairs`).
PAIR_MAX_LEVER = 1.0


@dataclass(frozen=True)
class PosePrior:
    """The aligned mean shape and the frames it was learned from.

    Attributes
    ----------
    mean : np.ndarray
        ``(K, 2)`` mean shape (pixels, centred; 0 at keypoints not ``covered``).
    fit_poses : np.ndarray
        ``(N, K, 2)`` confident poses the prior was fitted on (image coordinates), complete
        over the ``covered`` keypoints (0 at the others).
    body_size : float
        Median largest distance between two keypoints of a fit pose (pixels).
    covered : np.ndarray or None
        ``(K,)`` bool, the keypoints the prior knows (None: all). A keypoint too often
        missing to leave enough complete frames is left out (:func:`fit_pose_prior`): it is
        neither predicted nor used as evidence.
    """

    mean: np.ndarray
    fit_poses: np.ndarray
    body_size: float
    covered: np.ndarray | None = None
    #: Regressions fitted so far, by (keypoint, evidence subset): one animal's evidence is
    #: computed several times with one prior (pose rule rounds, validation, repair) and the
    #: fit depends on nothing else. Keys: (keypoint, evidence set, number of fit poses);
    #: values: (coefficients (2K+1, 2), covariance (2, 2)).
    _fits: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_keypoints(self) -> int:
        """Number of keypoints."""
        return int(self.mean.shape[0])

    @property
    def known(self) -> np.ndarray:
        """``(K,)`` bool, the keypoints the prior knows (:attr:`covered`, or all)."""
        return (np.ones(self.n_keypoints, bool) if self.covered is None
                else np.asarray(self.covered, bool))


@dataclass(frozen=True)
class PoseEvidence:
    """What the prior says about every point of one animal.

    Attributes
    ----------
    prediction : np.ndarray
        ``(T, K, 2)`` position of each keypoint predicted from the other available ones
        (NaN where fewer than two others were available).
    d2 : np.ndarray
        ``(T, K)`` squared Mahalanobis distance of the observed point from the prediction
        (NaN where undefined).
    sigma : np.ndarray
        ``(T, K)`` prediction's standard deviation (pixels, RMS over x and y).
    """

    prediction: np.ndarray
    d2: np.ndarray
    sigma: np.ndarray


def _align(x: np.ndarray, ref: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                      np.ndarray]:
    """Rigid 2D alignment of each pose in ``x`` onto ``ref`` using the points where ``w``.

    ``x`` (N, K, 2), ``ref`` (K, 2), ``w`` (N, K) bool. Returns ``(cos, sin)`` of the rotation
    as ``rot`` (N, 2), the source centroid ``cx`` (N, 2) and the target centroid ``cr`` (N, 2);
    aligned = R (x - cx) + cr.
    """
    wf = w.astype(np.float64)
    n = np.maximum(wf.sum(1), 1.0)
    x0 = np.where(w, x[..., 0], 0.0)
    x1 = np.where(w, x[..., 1], 0.0)
    cx = np.stack([x0.sum(1) / n, x1.sum(1) / n], -1)
    cr = (wf @ ref) / n[:, None]
    # sums over the points of w: sum (x - cx).(r - cr) = sum x.r - |w| cx.cr, same for x
    dot = x0 @ ref[:, 0] + x1 @ ref[:, 1] - n * (cx * cr).sum(1)
    cross = x0 @ ref[:, 1] - x1 @ ref[:, 0] - n * (cx[:, 0] * cr[:, 1] - cx[:, 1] * cr[:, 0])
    ang = np.arctan2(cross, dot)
    return np.stack([np.cos(ang), np.sin(ang)], -1), cx, cr


def _apply(x: np.ndarray, rot: np.ndarray, cx: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """Aligned coordinates ``R (x - cx) + cr`` for ``x`` (N, K, 2)."""
    d0 = x[..., 0] - cx[:, 0:1]
    d1 = x[..., 1] - cx[:, 1:2]
    c, s = rot[:, 0:1], rot[:, 1:2]
    out = np.empty(x.shape)
    out[..., 0] = c * d0 - s * d1 + cr[:, 0:1]
    out[..., 1] = s * d0 + c * d1 + cr[:, 1:2]
    return out


def _unapply(y: np.ndarray, rot: np.ndarray, cx: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_apply` for ``y`` (N, 2)."""
    d = y - cr
    c, s = rot[:, 0], rot[:, 1]
    return np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]], -1) + cx


def _procrustes_mean(poses: np.ndarray, iters: int = 3) -> np.ndarray:
    ref = poses[0] - poses[0].mean(0)
    full = np.ones(poses.shape[:2], bool)
    for _ in range(iters):
        rot, cx, cr = _align(poses, ref, full)
        ref = _apply(poses, rot, cx, cr).mean(0)
        ref = ref - ref.mean(0)
    return ref


def _fit_subsets(prior_mean: np.ndarray, poses: np.ndarray, k: int, subsets: np.ndarray,
                 chunk: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regressions of keypoint ``k`` on each set of keypoints in ``subsets``.

    Each regression runs in the frame of the fit poses aligned on its own subset ``S`` (the
    fit and the prediction use the same alignment). All subsets are fitted together: the
    alignments from per-keypoint sums (one matrix product for every subset), the
    regressions as one batched solve over features padded to every keypoint (zero outside
    ``S``, whose coefficients come out exactly zero). The fit of one subset does not depend
    on the others fitted with it, except in its last bits (the batch sets the shapes of the
    matrix products, and BLAS kernels may sum in another order for other shapes).

    Parameters
    ----------
    prior_mean : np.ndarray
        ``(K, 2)`` mean shape.
    poses : np.ndarray
        ``(N, K, 2)`` fit poses.
    k : int
        The predicted keypoint (never in a subset).
    subsets : np.ndarray
        ``(G, K)`` bool, the evidence sets.
    chunk : int
        Subsets per batch (bounds the memory to ``chunk x N x K x 2`` floats).

    Returns
    -------
    coef : np.ndarray
        ``(G, 2K+1, 2)`` coefficients on the aligned, flattened pose and a constant.
    cov : np.ndarray
        ``(G, 2, 2)`` residual covariance of each fit.
    """
    n, n_k = poses.shape[:2]
    subsets = np.asarray(subsets, bool)
    n_g = len(subsets)
    n_p = 2 * n_k + 1
    coef = np.zeros((n_g, n_p, 2))
    cov = np.zeros((n_g, 2, 2))
    px, py = np.ascontiguousarray(poses[..., 0]), np.ascontiguousarray(poses[..., 1])
    # per-keypoint products with the mean shape: the rotation of every subset from sums
    xr_dot = px * prior_mean[:, 0] + py * prior_mean[:, 1]          # (N, K)
    xr_cross = px * prior_mean[:, 1] - py * prior_mean[:, 0]
    diag = np.arange(n_p)
    for g0 in range(0, n_g, chunk):
        sub = subsets[g0:g0 + chunk]                      # (g, K)
        w = sub.astype(np.float64)
        cnt = w.sum(1)                                    # (g,)
        cxx = (px @ w.T / cnt).T                          # (g, N)
        cxy = (py @ w.T / cnt).T
        cr = (w @ prior_mean) / cnt[:, None]              # (g, 2)
        # sum over S of (x - cx).(r - cr) = sum x.r - |S| cx.cr; the same for the cross term
        dot = (xr_dot @ w.T).T - cnt[:, None] * (cxx * cr[:, 0:1] + cxy * cr[:, 1:2])
        cross = (xr_cross @ w.T).T - cnt[:, None] * (cxx * cr[:, 1:2] - cxy * cr[:, 0:1])
        ang = np.arctan2(cross, dot)                      # (g, N)
        c, s_ = np.cos(ang)[..., None], np.sin(ang)[..., None]
        d0 = px[None] - cxx[..., None]                    # (g, N, K)
        d1 = py[None] - cxy[..., None]
        al0 = c * d0 - s_ * d1 + cr[:, None, 0:1]
        al1 = s_ * d0 + c * d1 + cr[:, None, 1:2]
        target = np.stack([al0[:, :, k], al1[:, :, k]], -1)  # (g, N, 2)
        feats = np.empty((len(sub), n, n_p))
        feats[..., 0:2 * n_k:2] = al0 * w[:, None]
        feats[..., 1:2 * n_k:2] = al1 * w[:, None]
        feats[..., -1] = 1.0
        ft = feats.transpose(0, 2, 1)
        gram = np.matmul(ft, feats)
        gram[:, diag, diag] += _RIDGE * n
        cf = np.linalg.solve(gram, np.matmul(ft, target))
        res = target - np.matmul(feats, cf)
        res = res - res.mean(1, keepdims=True)
        cv = np.matmul(res.transpose(0, 2, 1), res) / max(n - 1, 1) + np.eye(2) * 1e-6
        # a slightly inflated covariance: the fit frames are the best-behaved ones
        n_par = 2 * cnt + 1
        coef[g0:g0 + chunk] = cf
        cov[g0:g0 + chunk] = cv * (n / np.maximum(n - n_par, 1))[:, None, None]
    return coef, cov


def fit_pose_prior(xy: np.ndarray, ok: np.ndarray, *, seed: int = 0) -> PosePrior | None:
    """Learn the pose prior of one animal from its complete confident frames.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, K, 2)`` positions of one animal.
    ok : np.ndarray
        ``(T, K)`` bool, the points to trust (confident, finite, not flagged by other rules).
    seed : int
        Seed of the frame subsample of long files.

    Returns
    -------
    PosePrior or None
        None when the animal has fewer than three keypoints, or fewer than
        :data:`MIN_FIT_FRAMES` frames complete over at least three of them with at most a
        :data:`MAX_LEFT_OUT` share of its keypoints left out. When the whole body has too
        few complete frames, the keypoints that cost the most of them are left out one at a
        time (a 24-keypoint fly with one leg often hidden has too few frames with all 24)
        and the prior covers the others (:attr:`PosePrior.covered`).
    """
    xy = np.asarray(xy, np.float64)
    ok = np.asarray(ok, bool) & np.isfinite(xy).all(-1)
    n_k = xy.shape[1]
    if n_k < 3:
        return None
    covered = np.ones(n_k, bool)
    max_out = int(MAX_LEFT_OUT * n_k)
    while ok[:, covered].all(1).sum() < MIN_FIT_FRAMES and n_k - covered.sum() < max_out \
            and covered.sum() > 3:
        # leave out the keypoint whose absence completes the most frames (the first on ties):
        # the frames where it is the only covered keypoint missing
        missing = ~ok[:, covered]
        alone = missing[missing.sum(1) == 1]
        gain = np.bincount(np.argmax(alone, axis=1), minlength=missing.shape[1])
        covered[np.flatnonzero(covered)[int(np.argmax(gain))]] = False
    rows = np.flatnonzero(ok[:, covered].all(1))
    if len(rows) < MIN_FIT_FRAMES:
        return None
    if not covered.all():
        logger.info("pose prior: %d of %d keypoints left out (too few frames complete with "
                    "them)", int((~covered).sum()), n_k)
        return _embed(fit_pose_prior(xy[:, covered], ok[:, covered], seed=seed), covered)
    if len(rows) > MAX_FIT_FRAMES:
        rows = np.sort(np.random.default_rng(seed).choice(rows, MAX_FIT_FRAMES, replace=False))
    poses = xy[rows]
    mean = _procrustes_mean(poses)
    # robust refit: drop poses far from the mean shape (the confidently wrong frames)
    full = np.ones(poses.shape[:2], bool)
    rot, cx, cr = _align(poses, mean, full)
    dev = np.linalg.norm(_apply(poses, rot, cx, cr) - mean[None], axis=-1).max(1)
    med = np.median(dev)
    mad = np.median(np.abs(dev - med)) * 1.4826 + 1e-9
    keep = dev <= med + 5.0 * mad
    if keep.sum() >= MIN_FIT_FRAMES:
        poses = poses[keep]
        mean = _procrustes_mean(poses)
    size = float(np.median(np.linalg.norm(poses[:, :, None] - poses[:, None], axis=-1)
                           .max((1, 2))))
    return PosePrior(mean=mean, fit_poses=poses, body_size=max(size, 1e-6))


def _embed(sub: PosePrior | None, covered: np.ndarray) -> PosePrior | None:
    """A prior fitted on the ``covered`` keypoints, as a prior of all of them."""
    if sub is None:
        return None
    n_k = len(covered)
    mean = np.zeros((n_k, 2))
    mean[covered] = sub.mean
    poses = np.zeros((len(sub.fit_poses), n_k, 2))
    poses[:, covered] = sub.fit_poses
    return PosePrior(mean=mean, fit_poses=poses, body_size=sub.body_size,
                     covered=covered.copy())


def pose_evidence(prior: PosePrior, xy: np.ndarray, avail: np.ndarray,
                  rows: np.ndarray | None = None,
                  out: PoseEvidence | None = None) -> PoseEvidence:
    """Predict every keypoint from the other available ones.

    Parameters
    ----------
    prior : PosePrior
        From :func:`fit_pose_prior`.
    xy : np.ndarray
        ``(T, K, 2)`` positions.
    avail : np.ndarray
        ``(T, K)`` bool: points that may serve as evidence for the others.
    rows : np.ndarray, optional
        Frames to compute (default all). Which evidence sets are judged (the
        :data:`MAX_SUBSETS` most frequent per keypoint) is still decided over all frames, so
        a frame's evidence is the same whichever frames are computed with it, to the last
        bits (~1e-13 px: BLAS kernels may sum a block's last rows in another order).
    out : PoseEvidence, optional
        Evidence to update in place at ``rows`` (default: a new one, NaN outside ``rows``).

    Returns
    -------
    PoseEvidence
    """
    xy = np.asarray(xy, np.float64)
    n_t, n_k = xy.shape[:2]
    known = prior.known
    # a keypoint the prior does not know is neither evidence nor predicted
    avail = np.asarray(avail, bool) & np.isfinite(xy).all(-1) & known[None, :]
    if out is None:
        out = PoseEvidence(prediction=np.full((n_t, n_k, 2), np.nan),
                           d2=np.full((n_t, n_k), np.nan), sigma=np.full((n_t, n_k), np.nan))
    pred, d2, sigma = out.prediction, out.d2, out.sigma
    todo = np.ones(n_t, bool)
    if rows is not None:
        todo[:] = False
        todo[np.asarray(rows, np.int64)] = True
        pred[todo] = np.nan
        d2[todo] = np.nan
        sigma[todo] = np.nan
    bits = (avail.astype(np.int64) << np.arange(n_k, dtype=np.int64)).sum(1) if n_k < 62 else None
    for k in np.flatnonzero(known).tolist():
        others = avail.copy()
        others[:, k] = False
        enough = others.sum(1) >= 2
        if not enough.any():
            continue
        if bits is not None:
            key = np.where(enough, bits & ~(1 << k), -1)
            uniq, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
        else:  # pragma: no cover - more than 61 keypoints
            uniq_rows, inv, counts = np.unique(np.where(enough[:, None], others, False), axis=0,
                                               return_inverse=True, return_counts=True)
            uniq = np.arange(len(uniq_rows))
        inv = inv.reshape(-1)
        order = np.argsort(-counts)
        judged = np.zeros(len(uniq), bool)
        judged[order[:MAX_SUBSETS]] = True
        judged &= uniq != -1
        sel = np.flatnonzero(judged[inv] & todo)
        if not len(sel):
            continue
        # every judged set is fitted (and cached), even with ``rows``: which sets are fitted
        # together decides the shapes of the matrix products, and with them the last bits
        groups = np.flatnonzero(judged)
        first = np.zeros(len(uniq), np.int64)
        first[inv[::-1]] = np.arange(n_t)[::-1]          # a frame of each evidence set
        subsets = others[first[groups]]                   # (G, K)
        n_fit = len(prior.fit_poses)
        few = np.where(counts[groups] < RARE_SUBSET_FRAMES, min(RARE_FIT_FRAMES, n_fit), n_fit)
        keys = [(k, sb.tobytes(), int(m)) for sb, m in zip(subsets, few)]
        for m in np.unique(few):
            missing = [i for i, key in enumerate(keys) if key not in prior._fits and key[2] == m]
            if not missing:
                continue
            poses = prior.fit_poses[np.linspace(0, n_fit - 1, m).round().astype(np.int64)] \
                if m < n_fit else prior.fit_poses
            cf, cv = _fit_subsets(prior.mean, poses, k, subsets[missing])
            for j, i in enumerate(missing):
                prior._fits[keys[i]] = (cf[j], cv[j])
        coef = np.stack([prior._fits[key][0] for key in keys])          # (G, 2K+1, 2)
        cov = np.stack([prior._fits[key][1] for key in keys])           # (G, 2, 2)
        slot = np.zeros(len(uniq), np.int64)
        slot[groups] = np.arange(len(groups))
        g = slot[inv[sel]]                                 # each frame's evidence set
        s = others[sel]
        x = xy[sel]
        rot, cx, cr = _align(x, prior.mean, s)
        al = _apply(x, rot, cx, cr)
        feats = np.concatenate([np.where(s[..., None], al, 0.0).reshape(len(sel), -1),
                                np.ones((len(sel), 1))], 1)
        p_al = np.einsum("np,npd->nd", feats, coef[g])
        pred[sel, k] = _unapply(p_al, rot, cx, cr)
        r = al[:, k] - p_al
        inv_cov = np.linalg.inv(cov)[g]
        d2[sel, k] = np.einsum("ni,nij,nj->n", r, inv_cov, r)
        sigma[sel, k] = np.sqrt(np.trace(cov, axis1=1, axis2=2) / 2.0)[g]
    return out


def pose_flags(
    prior: PosePrior,
    xy: np.ndarray,
    avail: np.ndarray,
    *,
    d2_high: float = 60.0,
    d2_low: float = 20.0,
    min_px: float | None = None,
    max_blamed: int | None = None,
) -> tuple[np.ndarray, PoseEvidence]:
    """Points whose position the rest of the body makes implausible.

    In each frame the worst point (largest ``d2`` above ``d2_high`` and off its prediction by
    more than ``min_px``) is blamed and removed from the evidence, and the others are judged
    again without it, up to ``max_blamed`` points per frame. Flagged runs then grow in time
    while the point stays off its prediction (``d2 > d2_low`` and more than ``min_px / 2``):
    a long error is flagged whole even where one frame alone is borderline.

    Parameters
    ----------
    prior : PosePrior
        From :func:`fit_pose_prior`.
    xy : np.ndarray
        ``(T, K, 2)`` positions of one animal.
    avail : np.ndarray
        ``(T, K)`` points to judge and to use as evidence (finite, not already flagged).
    d2_high, d2_low : float
        Thresholds on the squared Mahalanobis distance (2 degrees of freedom: 60 is a
        probability of about 1e-13 under the prior's Gaussian; real poses have heavier tails).
    min_px : float, optional
        Smallest distance from the prediction that can be flagged; default 20 % of the body
        size.
    max_blamed : int, optional
        Most points blamed per frame; default ``K // 2``.

    Returns
    -------
    flags : np.ndarray
        ``(T, K)`` bool.
    evidence : PoseEvidence
        The evidence of the last round (each point judged against the unflagged others).
    """
    xy = np.asarray(xy, np.float64)
    n_k = xy.shape[1]
    avail = np.asarray(avail, bool) & np.isfinite(xy).all(-1)
    min_px = 0.2 * prior.body_size if min_px is None else float(min_px)
    max_blamed = max(1, n_k // 2) if max_blamed is None else int(max_blamed)
    flags = np.zeros(avail.shape, bool)
    ev = pose_evidence(prior, xy, avail)
    for _ in range(max_blamed):
        dist = np.linalg.norm(xy - ev.prediction, axis=-1)
        score = np.where(avail & ~flags & (dist > min_px), ev.d2, -np.inf)
        score = np.where(np.isfinite(score), score, -np.inf)
        worst = np.argmax(score, axis=1)
        best = score[np.arange(len(score)), worst]
        new = best > d2_high
        if not new.any():
            break
        flags[np.flatnonzero(new), worst[new]] = True
        # a frame's evidence depends on that frame alone: recompute the frames that changed
        ev = pose_evidence(prior, xy, avail & ~flags, rows=np.flatnonzero(new), out=ev)
    dist = np.linalg.norm(xy - ev.prediction, axis=-1)
    weak = avail & (ev.d2 > d2_low) & (dist > 0.5 * min_px)
    # hysteresis: grow each flagged run through the weakly implausible frames around it
    for k in range(n_k):
        col = flags[:, k]
        if not col.any():
            continue
        grown = col.copy()
        for a, b in zip(*true_runs(weak[:, k] | col)):
            if col[a:b].any():
                grown[a:b] = True
        flags[:, k] = grown & (weak[:, k] | col)
    return flags, ev


def typical_pairs(prior: PosePrior, xy: np.ndarray, avail: np.ndarray) -> np.ndarray:
    """The points that two evidence points alone may predict.

    With three or more evidence points each is judged from the others (``d2`` of
    :func:`pose_evidence`); two can still be judged by their distance, which a rigid body
    keeps: an undetected error among them (a point on the tail base, a background
    detection) changes it. The distance must lie within the :data:`PAIR_QUANTILES` range of
    the same pair's distances over the prior's fit poses. Two points also fix the body's
    orientation only as well as their own errors allow, and a point far from both turns
    with it: a point is predicted only within :data:`PAIR_MAX_LEVER` times the pair's
    distance of their midpoint (in the mean shape). Two ears do not place the tail base.

    Parameters
    ----------
    prior : PosePrior
        From :func:`fit_pose_prior`.
    xy : np.ndarray
        ``(T, K, 2)`` positions.
    avail : np.ndarray
        ``(T, K)`` bool, the evidence points.

    Returns
    -------
    np.ndarray
        ``(T, K)`` bool: frames with exactly two evidence points at a typical distance, at
        the other keypoints within reach of them (False elsewhere).
    """
    xy = np.asarray(xy, np.float64)
    known = prior.known
    avail = np.asarray(avail, bool) & np.isfinite(xy).all(-1) & known[None, :]
    out = np.zeros(avail.shape, bool)
    two = np.flatnonzero(avail.sum(1) == 2)
    if not len(two):
        return out
    ks = np.sort(np.argwhere(avail[two])[:, 1].reshape(-1, 2), axis=1)
    lo_q, hi_q = PAIR_QUANTILES
    m = prior.mean
    for a, b in np.unique(ks, axis=0).tolist():
        sel = two[(ks[:, 0] == a) & (ks[:, 1] == b)]
        ref = np.linalg.norm(prior.fit_poses[:, a] - prior.fit_poses[:, b], axis=-1)
        lo, hi = np.quantile(ref, [lo_q, hi_q])
        d = np.linalg.norm(xy[sel, a] - xy[sel, b], axis=-1)
        base = np.linalg.norm(m[a] - m[b])
        reach = (np.linalg.norm(m - (m[a] + m[b]) / 2, axis=-1) <= PAIR_MAX_LEVER * base) & known
        reach[[a, b]] = False
        out[np.ix_(sel[(d >= lo) & (d <= hi)], np.flatnonzero(reach))] = True
    return out


def pose_anchored_fill(xy: np.ndarray, fill: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Fill points by following the pose prediction and interpolating the offset from it.

    For each run of ``fill`` on a keypoint, the offset ``observed - prediction`` is known at
    the good frames on either side; it is interpolated linearly across the run (held
    constant past a run touching the start or end), and added to the prediction (its running
    median over :data:`PREDICTION_MEDIAN_FRAMES` frames: one frame's evidence can be off).
    Frames with no prediction are interpolated between their nearest filled or good
    neighbours.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, K, 2)`` positions (values under ``fill`` are ignored).
    fill : np.ndarray
        ``(T, K)`` bool, the points to fill.
    prediction : np.ndarray
        ``(T, K, 2)`` pose prediction of each point from the others (NaN where none).

    Returns
    -------
    np.ndarray
        ``(T, K, 2)``: filled where ``fill`` and an anchor exists, else as the input.
    """
    return pose_fill_followed(xy, fill, prediction)[0]


def pose_fill_followed(xy: np.ndarray, fill: np.ndarray, prediction: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pose_anchored_fill`, and which filled points followed a prediction.

    Returns
    -------
    filled : np.ndarray
        ``(T, K, 2)``, as :func:`pose_anchored_fill` returns.
    followed : np.ndarray
        ``(T, K)`` bool: the filled points placed by the prediction; the other filled ones
        were bridged between their neighbours (an interpolation).
    """
    xy = np.asarray(xy, np.float64)
    fill = np.asarray(fill, bool)
    # one frame's evidence can be off (an undetected error among the other points): the
    # body moves smoothly, so the prediction is taken as its running median
    prediction = _median_in_time(prediction, fill, PREDICTION_MEDIAN_FRAMES)
    good = ~fill & np.isfinite(xy).all(-1)
    has_pred = np.isfinite(prediction).all(-1)
    off, has_anchor = interp_fill((xy - prediction)[None], (good & has_pred)[None])
    follow = fill & has_pred & has_anchor[0][None, :]
    # frames of a run with no prediction are bridged between their nearest followed or good
    # neighbours, not interpolated across the whole run (a 53-frame run's one frame without
    # a prediction landed 50 px off the paw before)
    base = np.where(follow[..., None], prediction + off[0], xy)
    val, has_good = interp_fill(base[None], (good | follow)[None])
    return np.where((fill & has_good[0][None, :])[..., None], val[0], xy), follow


def _median_in_time(prediction: np.ndarray, at: np.ndarray, width: int) -> np.ndarray:
    """The running median over ``width`` frames of ``prediction`` at the points ``at``.

    NaN predictions in the window are skipped; a point with no prediction of its own keeps
    none. The median of a monotonic stretch is its middle value, so steady motion is not
    delayed; a one- or two-frame outlier is removed.
    """
    out = prediction.copy()
    rows = np.flatnonzero(at.any(1))
    if rows.size == 0:
        return out
    h = width // 2
    n_t = prediction.shape[0]
    idx = np.clip(rows[:, None] + np.arange(-h, h + 1)[None, :], 0, n_t - 1)
    win = prediction[idx]  # (R, width, K, 2)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(win, axis=1)
    own = np.isfinite(prediction[rows]).all(-1) & at[rows]
    sub = out[rows]
    sub[own] = med[own]
    out[rows] = sub
    return out
