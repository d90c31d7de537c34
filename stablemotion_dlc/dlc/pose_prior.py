"""A pose-space prior learned from one file's own confident frames.

DeepLabCut's worst errors are long and confident: a keypoint placed on another body part (the
tail base on the head) for tens of frames with likelihood 0.98. Time-based rules see at best
the jump into such a span; the body's own geometry sees every frame of it, because the pose
it produces is one the animal never takes. This module learns that geometry from the file
itself, without any labels, in the spirit of Lightning Pose's pose-PCA loss and the PCA
variants of the ensemble Kalman smoother:

1. frames where every keypoint is confident are aligned (rotation and translation, no
   scale: the camera is fixed) to their mean shape by generalised Procrustes;
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
from dataclasses import dataclass, field

import numpy as np

from .._arrays import interp_fill, true_runs

__all__ = ["PosePrior", "PoseEvidence", "fit_pose_prior", "pose_evidence", "pose_flags",
           "pose_anchored_fill"]

logger = logging.getLogger(__name__)

#: Fewest complete confident frames needed to learn a prior.
MIN_FIT_FRAMES = 50
#: Most frames used to fit (evenly spaced); the fit is linear algebra over them.
MAX_FIT_FRAMES = 6000
#: Most distinct sets of available keypoints handled per keypoint (by frequency).
MAX_SUBSETS = 256
_RIDGE = 1e-3


@dataclass(frozen=True)
class PosePrior:
    """The aligned mean shape and the frames it was learned from.

    Attributes
    ----------
    mean : np.ndarray
        ``(K, 2)`` mean shape (pixels, centred).
    fit_poses : np.ndarray
        ``(N, K, 2)`` complete confident poses the prior was fitted on (image coordinates).
    body_size : float
        Median largest distance between two keypoints of a fit pose (pixels).
    """

    mean: np.ndarray
    fit_poses: np.ndarray
    body_size: float
    #: Regressions fitted so far, by (keypoint, evidence subset): one animal's evidence is
    #: computed several times with one prior (pose rule rounds, validation, repair) and the
    #: fit depends on nothing else; 256 subsets x K fits over up to 6,000 poses each.
    _fits: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_keypoints(self) -> int:
        """Number of keypoints."""
        return int(self.mean.shape[0])


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
    n = np.maximum(wf.sum(1), 1.0)[:, None]
    xz = np.where(w[..., None], x, 0.0)
    cx = xz.sum(1) / n
    cr = (wf[..., None] * ref[None]).sum(1) / n
    a = np.where(w[..., None], x - cx[:, None], 0.0)
    b = np.where(w[..., None], ref[None] - cr[:, None], 0.0)
    dot = (a * b).sum((1, 2))
    cross = (a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]).sum(1)
    ang = np.arctan2(cross, dot)
    return np.stack([np.cos(ang), np.sin(ang)], -1), cx, cr


def _apply(x: np.ndarray, rot: np.ndarray, cx: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """Aligned coordinates ``R (x - cx) + cr`` for ``x`` (N, K, 2)."""
    d = x - cx[:, None]
    c, s = rot[:, None, 0], rot[:, None, 1]
    return np.stack([c * d[..., 0] - s * d[..., 1], s * d[..., 0] + c * d[..., 1]], -1) + \
        cr[:, None]


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


def _fit_subset(prior_mean: np.ndarray, poses: np.ndarray, k: int, s: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression of keypoint ``k`` on the keypoints ``s`` (bool (K,)), aligned on ``s``.

    Returns the coefficients ``(2|S|+1, 2)`` and the residual covariance ``(2, 2)``.
    """
    w = np.broadcast_to(s, poses.shape[:2])
    rot, cx, cr = _align(poses, prior_mean, w)
    al = _apply(poses, rot, cx, cr)
    feats = np.concatenate([al[:, s].reshape(len(poses), -1), np.ones((len(poses), 1))], 1)
    target = al[:, k]
    gram = feats.T @ feats
    gram[np.diag_indices_from(gram)] += _RIDGE * len(poses)
    coef = np.linalg.solve(gram, feats.T @ target)
    res = target - feats @ coef
    cov = np.cov(res.T) + np.eye(2) * 1e-6
    # a slightly inflated covariance: the fit frames are the best-behaved ones
    return coef, cov * (len(poses) / max(len(poses) - feats.shape[1], 1))


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
        None when the animal has fewer than three keypoints or fewer than
        :data:`MIN_FIT_FRAMES` complete frames.
    """
    xy = np.asarray(xy, np.float64)
    ok = np.asarray(ok, bool) & np.isfinite(xy).all(-1)
    if xy.shape[1] < 3:
        return None
    rows = np.flatnonzero(ok.all(1))
    if len(rows) < MIN_FIT_FRAMES:
        return None
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


def pose_evidence(prior: PosePrior, xy: np.ndarray, avail: np.ndarray) -> PoseEvidence:
    """Predict every keypoint from the other available ones.

    Parameters
    ----------
    prior : PosePrior
        From :func:`fit_pose_prior`.
    xy : np.ndarray
        ``(T, K, 2)`` positions.
    avail : np.ndarray
        ``(T, K)`` bool: points that may serve as evidence for the others.

    Returns
    -------
    PoseEvidence
    """
    xy = np.asarray(xy, np.float64)
    n_t, n_k = xy.shape[:2]
    avail = np.asarray(avail, bool) & np.isfinite(xy).all(-1)
    pred = np.full((n_t, n_k, 2), np.nan)
    d2 = np.full((n_t, n_k), np.nan)
    sigma = np.full((n_t, n_k), np.nan)
    bits = (avail.astype(np.int64) << np.arange(n_k, dtype=np.int64)).sum(1) if n_k < 62 else None
    for k in range(n_k):
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
        order = np.argsort(-counts)
        for g in order[:MAX_SUBSETS]:
            if uniq[g] == -1:
                continue
            rows = np.flatnonzero(inv == g)
            s = others[rows[0]]
            fit = prior._fits.get((k, s.tobytes()))
            if fit is None:
                fit = prior._fits[(k, s.tobytes())] = _fit_subset(prior.mean, prior.fit_poses,
                                                                  k, s)
            coef, cov = fit
            w = np.broadcast_to(s, (len(rows), n_k))
            rot, cx, cr = _align(xy[rows], prior.mean, w)
            al = _apply(xy[rows], rot, cx, cr)
            feats = np.concatenate([al[:, s].reshape(len(rows), -1), np.ones((len(rows), 1))], 1)
            p_al = feats @ coef
            pred[rows, k] = _unapply(p_al, rot, cx, cr)
            r = al[:, k] - p_al
            inv_cov = np.linalg.inv(cov)
            d2[rows, k] = np.einsum("ni,ij,nj->n", r, inv_cov, r)
            sigma[rows, k] = np.sqrt(np.trace(cov) / 2.0)
    return PoseEvidence(prediction=pred, d2=d2, sigma=sigma)


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
        ev = pose_evidence(prior, xy, avail & ~flags)
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


def pose_anchored_fill(xy: np.ndarray, fill: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Fill points by following the pose prediction and interpolating the offset from it.

    For each run of ``fill`` on a keypoint, the offset ``observed - prediction`` is known at
    the good frames on either side; it is interpolated linearly across the run (held
    constant past a run touching the start or end), and added to the prediction. Frames with
    no prediction fall back to linear interpolation of the position itself.

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
    xy = np.asarray(xy, np.float64)
    fill = np.asarray(fill, bool)
    good = ~fill & np.isfinite(xy).all(-1)
    has_pred = np.isfinite(prediction).all(-1)
    lin, has_good = interp_fill(xy[None], good[None])
    off, has_anchor = interp_fill((xy - prediction)[None], (good & has_pred)[None])
    follow = has_pred & has_anchor[0][None, :]
    val = np.where(follow[..., None], prediction + off[0], lin[0])
    return np.where((fill & has_good[0][None, :])[..., None], val, xy)
