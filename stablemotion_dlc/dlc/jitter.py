"""A jitter detector learned from one file's own tracks, without labels.

The rules see jumps, swaps, frozen and low-likelihood points, but not a keypoint that keeps
its place on average while its frame-to-frame noise rises several-fold for tens of frames (a
paw under the body, motion blur): every step is small, the likelihood stays high. The
diffusion model's detector barely sees it either (it is trained on larger noise). This module
learns it from the file itself:

1. per keypoint, the *noise level* of frame ``t`` is the second difference
   ``|x[t] - (x[t-1] + x[t+1]) / 2|`` (small for smooth motion, however fast), relative to the
   keypoint's usual level over the file; features are its running medians over 5 to 51
   frames, the same for the animal's other keypoints (a fast turn raises every keypoint, a
   jittering point only its own), and the likelihood. The levels are measured on every
   confident point, also those a rule flagged (a strong burst's worst frames are flagged
   as jumps; without them the rest of it would read as usual), though only the unflagged
   ones are judged;
2. copies of the file get synthetic noise bursts on random stretches of random keypoints
   (10-250 frames, 1.5x to 20x the keypoint's usual noise, log-uniform), labelled as errors;
   a gradient-boosted classifier learns the bursts from the file's own points, leaving out
   of the "right" ones those already jittering far more than the body
   (:data:`MAX_RIGHT_EXCESS`): they may be the file's own jitter;
3. the file is cut into :data:`N_FOLDS` blocks of frames and each block is scored by a
   classifier fitted on the other blocks only, so real jitter in the file (labelled "right" in
   the copies it is taken from) cannot be learned by heart as normal.

Points over :data:`JITTER_THRESHOLD` for :data:`MIN_MARK_FRAMES` frames or more, across
up to :data:`MAX_SKIP_FRAMES` flagged ones, and not on :data:`MAX_TOGETHER` keypoints of the
animal at once (that is motion; :func:`jitter_marks`), are *marked*: they are reported in
the probability map, the provenance file and the review list, and by default smoothed where
they scatter every way round (:func:`~stablemotion_dlc.dlc.repair.smooth_jitter`); those
that move along a path are kept as observed, for review. The generator here is
neither the training generator (:mod:`~stablemotion_dlc.dlc.corruption`, noise relative to
the body scale) nor the evaluation protocol (:mod:`~stablemotion_dlc.evaluate.protocol`, noise
in pixels): its noise is relative to each keypoint's own.
"""

from __future__ import annotations

import logging
import os
import warnings
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np

from .._arrays import true_runs

__all__ = ["ENSEMBLE_POINTS", "JITTER_THRESHOLD", "LEVEL_PER_SIGMA", "MAX_RIGHT_EXCESS",
           "MAX_SKIP_FRAMES", "MAX_TOGETHER", "MIN_MARK_FRAMES", "N_ENSEMBLE", "N_FOLDS",
           "TOGETHER_FRAMES",
           "noise_levels", "noise_sigma", "judged_points", "jitter_features", "inject_bursts",
           "detect_jitter", "file_jitter", "jitter_marks"]

logger = logging.getLogger(__name__)

#: Probability above which a point counts as jitter.
JITTER_THRESHOLD = 0.5
#: Fewest consecutive frames over the threshold that make a mark: jitter is a stretch, and
#: on the tuning files of both protocols shorter runs were mostly false (false marks 78 -> 23
#: on protocol B and 135 -> 49 on protocol A, found points 327 -> 275 and 129 -> 103).
MIN_MARK_FRAMES = 10
#: Longest stretch of rule-flagged points a mark's run goes on across (:func:`jitter_marks`).
#: On the tuning files: protocol A's jitter found 124 -> 196 points (false marks 46 -> 55),
#: protocol B's 329 -> 333 (15 -> 15); any length found 212 with 63 false on A.
MAX_SKIP_FRAMES = 5
#: Keypoints of one animal marked in the same frame that make the marks motion, not jitter:
#: those frames and TOGETHER_FRAMES on each side are not marked (:func:`jitter_marks`). On
#: the tuning files of both protocols it drops nothing (no two keypoints are marked
#: together there); on the project's 30 s generated sample (seed 3), where the animal
#: shakes its head, it drops 206 of 216 false marks; 2 would also drop a 60 s sample's
#: two-keypoint marks (21 -> 0 points).
MAX_TOGETHER = 3
TOGETHER_FRAMES = 10
#: Blocks of frames for the cross-fitting (each scored by a classifier fitted on the others).
N_FOLDS = 4
#: Running-median windows (frames) of the noise level.
WINDOWS = (5, 11, 25, 51)
#: A point of the file whose 11-frame noise level exceeds the body's by more than this
#: factor is not learned from as right in the copies (it may be the file's own jitter). On
#: the tuning files of both protocols: protocol B jitter found 333 -> 357 points, false
#: marks 15 -> 5; protocol A 196 -> 241 and 55 -> 42; marks on the uncorrupted files 66 ->
#: 25 (factors of 3.7 and 6 found 359 and 343 points with 32 and 17 false marks on B).
MAX_RIGHT_EXCESS = 5.0
#: Files with fewer judged points than ENSEMBLE_POINTS average N_ENSEMBLE detectors (seeds
#: ``seed``, ``seed + 1``, ...; each with its own noisy copies): one detector learned from
#: little data marks by chance. On 450-frame windows of the tuning files (both protocols):
#: marks on the clean windows 83 -> 70, protocol B jitter found 115 -> 120 with false marks
#: 37 -> 26, protocol A 421 -> 437 and 50 -> 27; on the whole tuning files B 357 / 5 -> 361
#: / 8, A 241 / 42 -> 240 / 25, marks on the uncorrupted files 25 -> 12 (5 detectors: 156
#: / 29 and 477 / 50 on the windows). Beyond it (a 10-minute, 12-keypoint recording has
#: 216,000 points) one detector, as its cost grows with the file.
N_ENSEMBLE = 3
ENSEMBLE_POINTS = 100_000
#: Noisy copies of the file the classifier learns from, and the share of points per copy.
N_COPIES = 3
BURST_RATE = 0.05
#: Burst lengths (frames) and noise (times the keypoint's usual per-axis noise).
BURST_FRAMES = (10, 250)
BURST_SCALE = (1.5, 20.0)
#: Fewest observed points (per file) and consecutive-frame noise levels (per keypoint) needed.
MIN_POINTS = 500
MIN_LEVELS = 50
#: Most rows a classifier is fitted on (evenly subsampled beyond).
MAX_ROWS = 300_000
#: Longest track copied whole for training; longer ones are copied in chunks this long.
MAX_COPY_FRAMES = 20_000
COPY_CHUNK_FRAMES = 2_000
#: The median second difference of i.i.d. Gaussian noise of sigma per axis, over sigma
#: (Rayleigh of scale ``sigma * sqrt(1.5)``, median 1.1774 times that).
LEVEL_PER_SIGMA = 1.1774 * np.sqrt(1.5)


def noise_levels(xy: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Each point's noise level: the second difference ``|x[t] - (x[t-1] + x[t+1]) / 2|``.

    Smooth motion keeps it small however fast. Returns ``(T, K)``, NaN unless frames
    ``t-1``, ``t`` and ``t+1`` are all ``ok``.
    """
    n_t, n_k = ok.shape
    h = np.full((n_t, n_k), np.nan)
    if n_t < 3:
        return h
    three = ok[:-2] & ok[1:-1] & ok[2:]
    with np.errstate(invalid="ignore"):
        d2 = np.linalg.norm(xy[1:-1] - (xy[:-2] + xy[2:]) / 2, axis=-1)
    h[1:-1] = np.where(three, d2, np.nan)
    return h


def _usual(h: np.ndarray) -> np.ndarray:
    """Each keypoint's usual noise level, floored so that a frozen keypoint is not 0."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN keypoints
        usual = np.nanmedian(h, axis=0)
    usual = np.where(np.isfinite(usual), usual, np.nan)
    typical = float(np.nanmedian(usual)) if np.isfinite(usual).any() else 1.0
    floor = max(0.05, 0.25 * typical)
    return np.where(np.isfinite(usual), np.maximum(usual, floor), max(typical, floor))


def noise_sigma(xy: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``(K,)`` each keypoint's usual per-axis noise (px) over its ``ok`` points.

    The median noise level (:func:`noise_levels`), floored as the detector floors it, over
    :data:`LEVEL_PER_SIGMA`: the sigma of the Gaussian noise per axis that gives that level.
    """
    return _usual(noise_levels(xy, ok)) / LEVEL_PER_SIGMA


def judged_points(xy: np.ndarray, likelihood: np.ndarray | None, flagged: np.ndarray,
                  pcutoff: float) -> np.ndarray:
    """The points the detector judges: observed, at least ``pcutoff`` and not ``flagged``.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, ..., 2)`` positions.
    likelihood : np.ndarray or None
        ``(T, ...)`` likelihoods.
    flagged : np.ndarray
        ``(T, ...)`` bool, points already flagged (the rules' suspect mask).
    pcutoff : float
        Likelihood threshold.

    Returns
    -------
    np.ndarray
        ``(T, ...)`` bool.
    """
    judged = np.isfinite(xy).all(-1) & ~np.asarray(flagged, bool)
    if likelihood is not None:
        with np.errstate(invalid="ignore"):
            judged &= np.asarray(likelihood) >= pcutoff
    return judged


def _relative_levels(xy: np.ndarray, ok: np.ndarray, usual: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``(T, K)`` log of each point's noise level over its keypoint's usual one.

    0 where the level cannot be measured. Returns it and the ``(K,)`` usual levels.
    """
    h = noise_levels(np.asarray(xy, np.float64), ok)
    usual = _usual(h) if usual is None else np.asarray(usual, np.float64)
    rel = np.log(np.maximum(np.where(np.isfinite(h), h, usual), 0.05 * usual) / usual)
    return rel, usual


def _excess_11(xy: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``(T, K)`` float32: the 11-frame level's excess over the body's.

    The one column of :func:`jitter_features` that the choice of training rows needs.
    """
    from scipy.ndimage import median_filter

    lw = median_filter(_relative_levels(xy, ok)[0], size=(11, 1), mode="nearest")
    return (lw - np.median(lw, axis=1, keepdims=True)).astype(np.float32)


def jitter_features(xy: np.ndarray, ok: np.ndarray, likelihood: np.ndarray | None = None,
                    usual: np.ndarray | None = None) -> np.ndarray:
    """Per-point features of the jitter classifier, for one animal.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, K, 2)`` positions.
    ok : np.ndarray
        ``(T, K)`` bool, the observed points to judge (others are neither used nor judged).
    likelihood : np.ndarray, optional
        ``(T, K)`` likelihoods.
    usual : np.ndarray, optional
        ``(K,)`` each keypoint's usual noise level (default: measured on ``xy``; a chunk of
        a longer track passes the whole track's).

    Returns
    -------
    np.ndarray
        ``(T, K, F)`` float32 features.
    """
    from scipy.ndimage import median_filter, uniform_filter1d

    n_t, n_k = ok.shape
    rel, usual = _relative_levels(xy, ok, usual)
    feats = [rel, uniform_filter1d(rel, 11, axis=0, mode="nearest")]
    for w in WINDOWS:
        lw = median_filter(rel, size=(w, 1), mode="nearest")
        body = np.median(lw, axis=1, keepdims=True)
        feats += [lw, lw - body, np.repeat(body, n_k, axis=1)]
    lik = (np.ones((n_t, n_k)) if likelihood is None
           else np.nan_to_num(np.asarray(likelihood, np.float64), nan=0.0))
    feats += [lik, np.repeat(np.log(usual)[None], n_t, axis=0)]
    return np.stack(feats, axis=-1).astype(np.float32)


def inject_bursts(xy: np.ndarray, ok: np.ndarray, rng: np.random.Generator,
                  rate: float = BURST_RATE, usual: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """A copy of one animal's ``xy`` with noise bursts on about ``rate`` of its ``ok`` points.

    The bursts' noise is relative to ``usual``, each keypoint's usual level (default:
    measured on ``xy``).

    Returns
    -------
    xy : np.ndarray
        ``(T, K, 2)`` noisy copy.
    burst : np.ndarray
        ``(T, K)`` bool, the points given noise.
    """
    n_t, n_k = ok.shape
    sigma0 = noise_sigma(xy, ok) if usual is None else np.asarray(usual) / LEVEL_PER_SIGMA
    out = np.array(xy, np.float64, copy=True)
    burst = np.zeros((n_t, n_k), bool)
    target = rate * ok.sum()
    lo, hi = np.log(BURST_FRAMES[0]), np.log(BURST_FRAMES[1])
    for _ in range(10_000):
        if burst.sum() >= target:
            break
        k = int(rng.integers(n_k))
        n = int(np.exp(rng.uniform(lo, hi)))
        s = int(rng.integers(0, max(1, n_t - n)))
        sigma = sigma0[k] * np.exp(rng.uniform(np.log(BURST_SCALE[0]), np.log(BURST_SCALE[1])))
        sel = np.zeros(n_t, bool)
        sel[s:s + n] = True
        sel &= ok[:, k] & ~burst[:, k]
        out[sel, k] += rng.normal(0.0, sigma, (int(sel.sum()), 2))
        burst[sel, k] = True
    return out, burst


def detect_jitter(xy: np.ndarray, ok: np.ndarray, likelihood: np.ndarray | None = None, *,
                  seen: np.ndarray | None = None, seed: int = 0,
                  threads: int | None = None) -> np.ndarray:
    """Probability that each point sits in a stretch of abnormal jitter.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, I, K, 2)`` positions of one file.
    ok : np.ndarray
        ``(T, I, K)`` bool, the points to judge: observed, confident and not otherwise
        flagged (the others read as gaps).
    likelihood : np.ndarray, optional
        ``(T, I, K)`` likelihoods.
    seen : np.ndarray, optional
        ``(T, I, K)`` bool, the points whose positions the noise levels are measured on
        (default ``ok``; ``ok`` is always included). The pipeline passes every observed
        confident point, the rules' flags included: a strong burst whose worst points a
        rule flags is otherwise cut into pieces too short to measure (a level needs three
        consecutive frames), and its other points read as usual. The training copies get
        their bursts on these points too; only ``ok`` points are learned from and judged.
    seed : int
        Seed of the noise bursts and the classifier. A file with fewer than
        :data:`ENSEMBLE_POINTS` ``ok`` points averages :data:`N_ENSEMBLE` detectors, seeded
        ``seed``, ``seed + 1``, ...
    threads : int, optional
        OpenMP threads of the classifier (scikit-learn's default is one per core, which
        collapses on a busy machine as torch's did; the pipeline passes torch's count).
        ``OMP_NUM_THREADS`` in the environment leaves it as it is.

    Returns
    -------
    np.ndarray
        ``(T, I, K)`` float32 probabilities, 0 where not ``ok`` or when the file is too
        short to learn from (fewer than :data:`MIN_POINTS` points or ``4 * max(WINDOWS)``
        frames).
    """
    xy = np.asarray(xy, np.float64)
    ok = np.asarray(ok, bool) & np.isfinite(xy).all(-1)
    seen = ok if seen is None else (np.asarray(seen, bool) & np.isfinite(xy).all(-1)) | ok
    n_t, n_i, n_k = ok.shape
    prob = np.zeros((n_t, n_i, n_k), np.float32)
    if ok.sum() < MIN_POINTS or n_t < 4 * max(WINDOWS):
        return prob
    lik = None if likelihood is None else np.asarray(likelihood, np.float64)
    judged = [i for i in range(n_i) if ok[:, i].sum() >= MIN_LEVELS]
    if not judged:
        return prob
    # the copies' points that got no burst are learned as right, but those already
    # jittering in the file (their own level far above the body's) may be its real jitter:
    # learned as right, they teach that jitter is normal (a strong 15-frame burst scored
    # p 0.05 where three others of the file were in the other blocks); left out instead
    excess = {i: _excess_11(xy[:, i], seen[:, i]) for i in judged}
    limit = np.log(MAX_RIGHT_EXCESS)
    block = np.arange(n_t) * N_FOLDS // n_t
    members = N_ENSEMBLE if int(ok.sum()) < ENSEMBLE_POINTS else 1
    with _openmp_limit(threads):
        fitted = []  # each member's classifiers, one per block
        for m in range(members):
            rng = np.random.default_rng(seed + m)
            animals = []  # (individual, its noisy copies: frames, features, bursts, judged)
            for i in judged:
                lik_i = None if lik is None else lik[:, i]
                copies = [_noisy_copy(xy[:, i], ok[:, i], lik_i, rng, seen[:, i])
                          for _ in range(N_COPIES)]
                animals.append((i, [(fr, fe, bu, ok_c & (bu | (excess[i][fr] <= limit)))
                                    for fr, fe, bu, ok_c in copies]))
            fitted.append(_fit_folds(animals, block, seed + m))
            del animals
        for i in judged:  # the file's own features, one animal at a time
            own = jitter_features(xy[:, i], seen[:, i], None if lik is None else lik[:, i])
            for b in range(N_FOLDS):
                clfs = [models[b] for models in fitted if models[b] is not None]
                sel = (block == b) & ok[:, i].any(axis=1)
                if not clfs or not sel.any():
                    continue
                rows = np.flatnonzero(sel)
                judge = ok[rows, i]
                p = np.zeros(judge.shape, np.float32)
                p[judge] = np.mean([c.predict_proba(own[rows][judge])[:, 1] for c in clfs],
                                   axis=0)
                prob[rows, i] = p
    return prob


def file_jitter(xy: np.ndarray, likelihood: np.ndarray | None, flagged: np.ndarray,
                pcutoff: float, *, exclude: np.ndarray | None = None, seed: int = 0,
                threads: int | None = None) -> np.ndarray:
    """:func:`detect_jitter` on one file as the cleaner runs it.

    It judges the confident points no rule flagged (:func:`judged_points`, less
    ``exclude``), and measures the noise levels on every confident point, the flagged
    ones included. Mark the result with ``jitter_marks(prob, skip=flagged)``.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, I, K, 2)`` positions.
    likelihood : np.ndarray or None
        ``(T, I, K)`` likelihoods.
    flagged : np.ndarray
        ``(T, I, K)`` bool, the rules' suspect mask.
    pcutoff : float
        Likelihood threshold.
    exclude : np.ndarray, optional
        ``(T, I, K)`` bool, further points not to judge (the pipeline's undone swaps).
    seed, threads
        See :func:`detect_jitter`.

    Returns
    -------
    np.ndarray
        ``(T, I, K)`` float32 probabilities.
    """
    seen = judged_points(xy, likelihood, np.zeros(np.shape(flagged), bool), pcutoff)
    judged = seen & ~np.asarray(flagged, bool)
    if exclude is not None:
        judged &= ~np.asarray(exclude, bool)
    return detect_jitter(xy, judged, likelihood, seen=seen, seed=seed, threads=threads)


def _noisy_copy(xy: np.ndarray, ok: np.ndarray, likelihood: np.ndarray | None,
                rng: np.random.Generator, seen: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One animal's training copy: ``(frames, features, bursts, judged)``.

    The bursts go on the ``seen`` points (default ``ok``) and the features are measured on
    them; the rows learned from are the ``ok`` ones.

    Up to :data:`MAX_COPY_FRAMES` frames the copy is the whole track; a longer one is
    copied in :data:`COPY_CHUNK_FRAMES`-frame chunks spread evenly over it (the fit uses
    at most :data:`MAX_ROWS` rows anyway), each with ``max(WINDOWS)`` frames of context on
    both sides, so that memory stays bounded whatever the recording's length.
    """
    n_t = len(ok)
    seen = ok if seen is None else seen
    if n_t <= MAX_COPY_FRAMES:
        noisy, burst = inject_bursts(xy, seen, rng)
        return np.arange(n_t), jitter_features(noisy, seen, likelihood), burst & ok, ok
    margin = max(WINDOWS)
    usual = _usual(noise_levels(xy, seen))  # the whole track's, as its own features use
    parts = []
    n_chunks = MAX_COPY_FRAMES // COPY_CHUNK_FRAMES
    for start in np.linspace(0, n_t - COPY_CHUNK_FRAMES, n_chunks).astype(int).tolist():
        lo, hi = max(0, start - margin), min(n_t, start + COPY_CHUNK_FRAMES + margin)
        noisy, burst = inject_bursts(xy[lo:hi], seen[lo:hi], rng, usual=usual)
        feats = jitter_features(noisy, seen[lo:hi], None if likelihood is None
                                else likelihood[lo:hi], usual=usual)
        core = slice(start - lo, start - lo + COPY_CHUNK_FRAMES)
        rows = ok[start:start + COPY_CHUNK_FRAMES]
        parts.append((np.arange(start, start + COPY_CHUNK_FRAMES), feats[core],
                      burst[core] & rows, rows))
    return tuple(np.concatenate([p[j] for p in parts]) for j in range(4))  # type: ignore[return-value]


def _openmp_limit(threads: int | None) -> AbstractContextManager[Any]:
    """A context limiting OpenMP to ``threads`` (a no-op for None or ``OMP_NUM_THREADS``)."""
    if threads is None or os.environ.get("OMP_NUM_THREADS"):
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=int(threads), user_api="openmp")


def _fit_folds(animals: list[Any], block: np.ndarray, seed: int) -> list[Any]:
    """One classifier per block of frames, fitted on the copies' rows of the other blocks.

    None where those rows hold no burst, or nothing but bursts.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    models: list[Any] = []
    for b in range(N_FOLDS):
        xs, ys = [], []
        for _, copies in animals:
            for frames, feats, burst, ok_c in copies:
                use = ok_c & (block[frames] != b)[:, None]
                xs.append(feats[use])
                ys.append(burst[use])
        x = np.concatenate(xs)
        y = np.concatenate(ys)
        if y.all() or not y.any():
            models.append(None)
            continue
        if len(y) > MAX_ROWS:
            keep = np.linspace(0, len(y) - 1, MAX_ROWS).astype(int)
            x, y = x[keep], y[keep]
        clf = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1,
                                             max_leaf_nodes=8, min_samples_leaf=100,
                                             random_state=seed)
        models.append(clf.fit(x, y))
    return models


def jitter_marks(prob: np.ndarray, threshold: float = JITTER_THRESHOLD,
                 min_frames: int = MIN_MARK_FRAMES, skip: np.ndarray | None = None,
                 max_skip: int = MAX_SKIP_FRAMES, together: int | None = MAX_TOGETHER
                 ) -> np.ndarray:
    """The points :func:`detect_jitter` marks: over ``threshold`` for ``min_frames`` or more.

    Parameters
    ----------
    prob : np.ndarray
        ``(T, ...)`` probabilities, time first; ``(T, I, K)`` for ``together``.
    threshold : float
        Probability over which a point is jittering.
    min_frames : int
        Fewest points over ``threshold`` (per keypoint) in a run that counts.
    skip : np.ndarray, optional
        Bool array of ``prob``'s shape: points the detector did not judge because a rule
        flagged them (:attr:`SuspectLabels.mask`). A run goes on across up to ``max_skip``
        consecutive such points (a strong burst has its worst frames flagged as jumps;
        they are repaired, and its other points would otherwise be cut into runs too short
        to mark); they are not marked themselves.
    max_skip : int
        Longest stretch of ``skip`` points a run goes on across.
    together : int or None
        Jitter is a keypoint's own noise: where this many keypoints of one animal or more
        are marked in the same frame, the animal moved (a head shake raises its keypoints
        together), and those frames and :data:`TOGETHER_FRAMES` on each side are not
        marked.
        None: no such test (also for ``prob`` not ``(T, I, K)``).

    Returns
    -------
    np.ndarray
        Bool array of ``prob``'s shape.
    """
    over = np.asarray(prob) > threshold
    marks = _runs_marked(over, skip, min_frames, max_skip)
    if together is not None and over.ndim == 3 and marks.any():
        from scipy.ndimage import binary_dilation

        crowd = binary_dilation(marks.sum(axis=2) >= together,
                                structure=np.ones((2 * TOGETHER_FRAMES + 1, 1), bool))
        if crowd.any():
            marks = _runs_marked(over & ~crowd[:, :, None], skip, min_frames, max_skip)
    return marks


def _runs_marked(over: np.ndarray, skip: np.ndarray | None, min_frames: int,
                 max_skip: int) -> np.ndarray:
    """:func:`jitter_marks`'s runs, per column of ``over`` (time first)."""
    flat = over.reshape(over.shape[0], -1)
    gap = (np.zeros_like(flat) if skip is None
           else np.asarray(skip, bool).reshape(flat.shape) & ~flat)
    marks = np.zeros_like(flat)
    for c in np.flatnonzero(flat.any(axis=0)):
        joined = flat[:, c].copy()
        if gap[:, c].any():
            for a, b in zip(*true_runs(gap[:, c]), strict=True):
                # only a short stretch, with points over the threshold on both sides
                if b - a <= max_skip and a > 0 and b < len(joined) and flat[a - 1, c] \
                        and flat[b, c]:
                    joined[a:b] = True
        starts, stops = true_runs(joined)
        for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
            if flat[a:b, c].sum() >= min_frames:
                marks[a:b, c] = flat[a:b, c]
    return marks.reshape(over.shape)
