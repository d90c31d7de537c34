"""Protocol B: an evaluation-only corruption protocol, independent of the training generator.

The cleaner's model is trained on errors injected by its own generator; grading it on that
generator's errors measures what it memorised. This module injects errors designed
separately, from what real DeepLabCut errors look like (long confident jumps of a point onto
another body part, left/right-style swaps of neighbouring parts, low-likelihood detections on
the background, slow drifts under ``pcutoff``, partial occlusions, jitter, identity swaps). It
is used only for evaluation and shares no code or parameters with the training side.

:func:`corrupt_independent` works on plain arrays: ``xy`` ``(T, I, K, 2)`` (NaN = missing) and
``likelihood`` ``(T, I, K)``. Only *confident* input points (finite, likelihood >= 0.6) are
corrupted; they are the truth (the input itself is the truth). Every other point, and every
confident point no event touched, is returned bit for bit.

Geometry
--------
Per individual, ``D[a, b]`` is the median over frames (where both are confident) of the
distance between keypoints ``a`` and ``b`` (the "median pose", rotation-free). The two
*neighbours* of a keypoint are its two nearest keypoints in ``D``; the *body length* ``L``
is the largest entry of ``D`` (at least 5 px; 5 % of the arena diagonal for a one-keypoint
individual). The *arena* is the box holding 99 % of all confident points of the file (0.5-
99.5 percentiles of x and y). Individuals named ``"single"`` (DLC's unique bodyparts) are
never used by ``identity_swap``.

Kinds and their randomised parameters
-------------------------------------
Durations are drawn log-uniformly (integers) in the range given; every parameter is drawn
per event. Codes are ``1 + index`` in :data:`KIND_NAMES` (0 = untouched).

``neighbour_swap`` (5-150 frames)
    Keypoint ``a`` of one animal and one of its two neighbours ``b`` exchange positions and
    likelihoods (so both stay confident) on every frame of the span where both are eligible.
``background`` (1-20 frames)
    The point is placed on a random arena location at least ``0.5 L`` from its true position
    (with probability 0.3 it hops to a second location halfway through), plus Gaussian noise
    of sigma 0.5-3 px per frame; likelihood uniform per frame in ``[lo, hi]``, both drawn in
    0.05-0.5.
``drift_low`` (10-80 frames)
    The point slides away smoothly: offset ``A L p(s) u(s)`` with peak ``A`` in 0.1-0.5,
    profile ``p`` a half sine (away and back) or a smooth ramp that snaps back at the end
    (probability 0.5 each), direction ``u`` turning by up to +-90 degrees over the event;
    likelihood falls from a start value in 0.3-0.59 to a minimum in 0.02-0.3 as the offset
    grows (+-0.03 noise, always < 0.6).
``jump_to_part`` (20-150 frames)
    The point sits on another keypoint ``j`` of the same animal (chosen with probability
    proportional to ``D[k, j]``: far parts are likelier, e.g. the tail base on the head), at
    ``j``'s true position plus a constant offset (sigma 1-4 px) and per-frame noise (sigma
    0.5-2 px); likelihood uniform 0.85-1.0 per frame. Frames where ``j`` is missing are left
    untouched. The long, confident, plausible error real DLC models make.
``occlusion`` (5-60 frames)
    1-3 keypoints of one animal (a keypoint and its nearest parts) are hidden; per event one
    mode: ``nan`` (probability 0.4: position and likelihood NaN), ``stale`` (0.3: the last
    position before the event, sigma 0.3-1 px noise), ``noisy`` (0.3: the true position plus
    sigma 3-15 px noise); for the last two the likelihood is uniform in ``[0, hi]`` with
    ``hi`` in 0.05-0.3.
``jitter`` (20-200 frames)
    Gaussian noise of sigma 1-4 px (per coordinate, drawn per event) on one keypoint;
    likelihood unchanged.
``identity_swap`` (10-200 frames, two or more animals)
    Two animals exchange all their keypoints (positions and likelihoods) on every frame and
    keypoint of the span where both points are eligible.

Placement
---------
``rate`` is the share of confident points to corrupt, split equally among the kinds in use.
Kinds take turns (in a seeded order) placing events until each has its share; an event starts
at a random eligible point (confident, not yet corrupted) and affects only eligible points of
its span, so events never overlap. The last event of a kind is shortened (never below its
range's minimum) so the total stays close to ``rate``. A kind that fails 50 times in a row is
dropped (e.g. no eligible pair left).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "KIND_NAMES",
    "DURATIONS",
    "PCUTOFF",
    "CorruptedCase",
    "corrupt_independent",
    "corrupt_protocol_a",
    "training_corruptor",
    "confident_mask",
    "median_distances",
]

#: Names of the kinds; the code of ``KIND_NAMES[c]`` is ``c + 1`` (0 = untouched).
KIND_NAMES: tuple[str, ...] = (
    "neighbour_swap",
    "background",
    "drift_low",
    "jump_to_part",
    "occlusion",
    "jitter",
    "identity_swap",
)
#: Event length range (frames, inclusive) of each kind.
DURATIONS: dict[str, tuple[int, int]] = {
    "neighbour_swap": (5, 150),
    "background": (1, 20),
    "drift_low": (10, 80),
    "jump_to_part": (20, 150),
    "occlusion": (5, 60),
    "jitter": (20, 200),
    "identity_swap": (10, 200),
}
#: Input points with likelihood at least this (and finite) are confident: truth, corruptible.
PCUTOFF = 0.6
_MAX_FAILS = 50
_UNIQUE = "single"


@dataclass
class CorruptedCase:
    """Output of :func:`corrupt_independent`.

    Attributes
    ----------
    xy : np.ndarray
        ``(T, I, K, 2)`` corrupted coordinates (NaN = missing).
    likelihood : np.ndarray
        ``(T, I, K)`` corrupted likelihood.
    kinds : np.ndarray
        ``(T, I, K)`` int16 kind code per point: 0 untouched, ``c`` =
        ``kind_names[c - 1]``.
    kind_names : tuple of str
        :data:`KIND_NAMES`.
    truth_xy : np.ndarray
        The input coordinates (truth wherever ``confident``).
    confident : np.ndarray
        ``(T, I, K)`` bool: the confident input points (the truth points).
    event_ids : np.ndarray
        ``(T, I, K)`` int32: ``n + 1`` for points changed by ``events[n]``, 0 elsewhere.
    events : list of dict
        One record per event: ``kind``, ``individuals``, ``keypoints``, ``start``, ``stop``
        (exclusive), ``n_points`` and its drawn parameters.
    """

    xy: np.ndarray
    likelihood: np.ndarray
    kinds: np.ndarray
    kind_names: tuple[str, ...]
    truth_xy: np.ndarray
    confident: np.ndarray
    event_ids: np.ndarray
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def corrupted(self) -> np.ndarray:
        """``(T, I, K)`` bool: points changed by an event."""
        return self.kinds > 0

    def count(self) -> dict[str, int]:
        """Number of corrupted points per kind name."""
        return {n: int((self.kinds == c + 1).sum()) for c, n in enumerate(self.kind_names)}


def confident_mask(xy: np.ndarray, likelihood: np.ndarray, pcutoff: float = PCUTOFF
                   ) -> np.ndarray:
    """``(T, I, K)`` True where a point is finite with a finite likelihood >= ``pcutoff``."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(xy).all(axis=-1) & np.isfinite(likelihood) & (likelihood >= pcutoff)


def median_distances(xy: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """``(I, K, K)`` median distance between keypoints over frames where both are confident.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, I, K, 2)`` coordinates.
    conf : np.ndarray
        ``(T, I, K)`` bool, the points to use.

    Returns
    -------
    np.ndarray
        NaN where a pair is never confident together and on the diagonal.
    """
    _, n_ind, n_kp, _ = xy.shape
    out = np.full((n_ind, n_kp, n_kp), np.nan)
    for i in range(n_ind):
        for a in range(n_kp):
            for b in range(a + 1, n_kp):
                both = conf[:, i, a] & conf[:, i, b]
                if both.any():
                    d = np.linalg.norm(xy[both, i, a] - xy[both, i, b], axis=-1)
                    out[i, a, b] = out[i, b, a] = float(np.median(d))
    return out


def _log_uniform_int(rng: np.random.Generator, lo: int, hi: int) -> int:
    return int(min(hi, max(lo, np.floor(np.exp(rng.uniform(np.log(lo), np.log(hi + 1)))))))


class _Injector:
    """State of one corruption run (arrays being edited, eligibility, geometry)."""

    def __init__(self, xy: np.ndarray, lik: np.ndarray, rng: np.random.Generator,
                 individuals: Sequence[str] | None) -> None:
        self.truth = xy
        self.xy = xy.copy()
        self.lik = lik.copy()
        self.rng = rng
        self.conf = confident_mask(xy, lik)
        self.kinds = np.zeros(lik.shape, dtype=np.int16)
        self.event_ids = np.zeros(lik.shape, dtype=np.int32)
        self.event_id = 1
        self.n_frames, self.n_ind, self.n_kp = lik.shape
        self.dist = median_distances(xy, self.conf)
        pts = xy[self.conf]
        if pts.size:
            lo = np.percentile(pts, 0.5, axis=0)
            hi = np.percentile(pts, 99.5, axis=0)
        else:
            lo = hi = np.zeros(2)
        self.arena = (lo, np.maximum(hi, lo + 1.0))
        diag = float(np.linalg.norm(self.arena[1] - self.arena[0]))
        self.body = np.empty(self.n_ind)
        for i in range(self.n_ind):
            d = self.dist[i]
            big = float(np.nanmax(d)) if np.isfinite(d).any() else 0.05 * diag
            self.body[i] = max(big, 5.0)
        names = list(individuals) if individuals is not None else [""] * self.n_ind
        self.animals = [i for i in range(self.n_ind) if names[i] != _UNIQUE]

    # ------------------------------------------------------------------ helpers
    def eligible(self) -> np.ndarray:
        return self.conf & (self.kinds == 0)

    def pick_point(self, animals_only: bool = False) -> tuple[int, int, int] | None:
        elig = self.eligible()
        if animals_only:
            keep = np.zeros(self.n_ind, dtype=bool)
            keep[self.animals] = True
            elig = elig & keep[None, :, None]
        idx = np.flatnonzero(elig)
        if idx.size == 0:
            return None
        t, i, k = np.unravel_index(int(idx[self.rng.integers(idx.size)]), elig.shape)
        return int(t), int(i), int(k)

    def span(self, kind: str, start: int, remaining: float, points_per_frame: int = 1
             ) -> tuple[int, int, int]:
        lo, hi = DURATIONS[kind]
        dur = _log_uniform_int(self.rng, lo, hi)
        cap = int(np.ceil(remaining / max(points_per_frame, 1)))
        dur = max(lo, min(dur, cap))
        return start, min(self.n_frames, start + dur), dur

    def point_span(self, kind: str, remaining: float
                   ) -> tuple[int, int, int, int, int, int, np.ndarray] | None:
        """A confident point and its span for a one-point kind, or None when none is left.

        Returns ``(t, i, k, s, e, dur, f)`` with ``f`` the eligible frames of the span.
        """
        p = self.pick_point()
        if p is None:
            return None
        t, i, k = p
        s, e, dur = self.span(kind, t, remaining)
        return t, i, k, s, e, dur, s + np.flatnonzero(self.eligible()[s:e, i, k])

    def neighbours(self, i: int, k: int, n: int) -> list[int]:
        d = self.dist[i, k]
        order = [int(j) for j in np.argsort(np.where(np.isfinite(d), d, np.inf))
                 if np.isfinite(d[j]) and j != k]
        return order[:n]

    def mark(self, frames: np.ndarray, i: Any, k: Any, code: int) -> None:
        self.kinds[frames, i, k] = code
        self.event_ids[frames, i, k] = self.event_id

    # ------------------------------------------------------------------ kinds
    def neighbour_swap(self, code: int, remaining: float) -> dict[str, Any] | None:
        p = self.pick_point(animals_only=False)
        if p is None:
            return None
        t, i, a = p
        nb = self.neighbours(i, a, 2)
        if not nb:
            return None
        b = nb[int(self.rng.integers(len(nb)))]
        s, e, dur = self.span("neighbour_swap", t, remaining, 2)
        elig = self.eligible()
        f = s + np.flatnonzero(elig[s:e, i, a] & elig[s:e, i, b])
        if f.size == 0:
            return None
        self.xy[f, i, a], self.xy[f, i, b] = self.truth[f, i, b], self.truth[f, i, a]
        la, lb = self.lik[f, i, a].copy(), self.lik[f, i, b].copy()
        self.lik[f, i, a], self.lik[f, i, b] = lb, la
        self.mark(f, i, a, code)
        self.mark(f, i, b, code)
        return {"individuals": [i], "keypoints": [a, b], "start": s, "stop": e,
                "duration": dur, "n_points": 2 * int(f.size)}

    def background(self, code: int, remaining: float) -> dict[str, Any] | None:
        picked = self.point_span("background", remaining)
        if picked is None:
            return None
        t, i, k, s, e, dur, f = picked
        lo_a, hi_a = self.arena
        min_d = 0.5 * self.body[i]

        def location() -> np.ndarray:
            loc = self.rng.uniform(lo_a, hi_a)
            for _ in range(20):
                if np.linalg.norm(loc - self.truth[t, i, k]) >= min_d:
                    break
                loc = self.rng.uniform(lo_a, hi_a)
            return loc

        locs = [location()]
        hop = bool(self.rng.random() < 0.3)
        if hop:
            locs.append(location())
        sigma = float(self.rng.uniform(0.5, 3.0))
        l_lo, l_hi = np.sort(self.rng.uniform(0.05, 0.5, 2))
        pos = np.array([locs[1] if hop and (ff - s) >= dur / 2 else locs[0] for ff in f])
        pos = pos.reshape(-1, 2) + self.rng.normal(0, sigma, (f.size, 2))
        self.xy[f, i, k] = pos
        self.lik[f, i, k] = self.rng.uniform(l_lo, l_hi, f.size)
        self.mark(f, i, k, code)
        return {"individuals": [i], "keypoints": [k], "start": s, "stop": e, "duration": dur,
                "n_points": int(f.size), "sigma": sigma, "hop": hop,
                "likelihood_range": [float(l_lo), float(l_hi)]}

    def drift_low(self, code: int, remaining: float) -> dict[str, Any] | None:
        picked = self.point_span("drift_low", remaining)
        if picked is None:
            return None
        t, i, k, s, e, dur, f = picked
        if f.size == 0:
            return None
        amp = float(self.rng.uniform(0.1, 0.5))
        ramp = bool(self.rng.random() < 0.5)
        theta0 = float(self.rng.uniform(0, 2 * np.pi))
        turn = float(self.rng.uniform(-np.pi / 2, np.pi / 2))
        l_start = float(self.rng.uniform(0.3, 0.59))
        l_min = float(self.rng.uniform(0.02, 0.3))
        sfrac = (f - s + 0.5) / max(e - s, 1)
        prof = (3 * sfrac**2 - 2 * sfrac**3) if ramp else np.sin(np.pi * sfrac)
        ang = theta0 + turn * sfrac
        off = amp * self.body[i] * prof[:, None] * np.stack([np.cos(ang), np.sin(ang)], -1)
        self.xy[f, i, k] = self.truth[f, i, k] + off
        lk = l_start - (l_start - l_min) * prof + self.rng.uniform(-0.03, 0.03, f.size)
        self.lik[f, i, k] = np.clip(lk, 0.0, 0.599)
        self.mark(f, i, k, code)
        return {"individuals": [i], "keypoints": [k], "start": s, "stop": e, "duration": dur,
                "n_points": int(f.size), "amplitude_body": amp, "ramp": ramp,
                "likelihood_start": l_start, "likelihood_min": l_min}

    def jump_to_part(self, code: int, remaining: float) -> dict[str, Any] | None:
        p = self.pick_point()
        if p is None:
            return None
        t, i, k = p
        d = self.dist[i, k]
        cand = np.flatnonzero(np.isfinite(d) & (d > 0))
        if cand.size == 0:
            return None
        w = d[cand] / d[cand].sum()
        j = int(cand[self.rng.choice(cand.size, p=w)])
        s, e, dur = self.span("jump_to_part", t, remaining)
        target = self.truth[s:e, i, j]
        f = s + np.flatnonzero(self.eligible()[s:e, i, k] & np.isfinite(target).all(-1))
        if f.size == 0:
            return None
        s_off = float(self.rng.uniform(1.0, 4.0))
        s_frame = float(self.rng.uniform(0.5, 2.0))
        off = self.rng.normal(0, s_off, 2)
        self.xy[f, i, k] = self.truth[f, i, j] + off + self.rng.normal(0, s_frame, (f.size, 2))
        self.lik[f, i, k] = self.rng.uniform(0.85, 1.0, f.size)
        self.mark(f, i, k, code)
        return {"individuals": [i], "keypoints": [k], "target": j, "start": s, "stop": e,
                "duration": dur, "n_points": int(f.size), "offset_sigma": s_off,
                "frame_sigma": s_frame}

    def occlusion(self, code: int, remaining: float) -> dict[str, Any] | None:
        p = self.pick_point()
        if p is None:
            return None
        t, i, k = p
        n = int(self.rng.integers(1, 4))
        kps = [k] + self.neighbours(i, k, n - 1)
        s, e, dur = self.span("occlusion", t, remaining, len(kps))
        mode = str(self.rng.choice(["nan", "stale", "noisy"], p=[0.4, 0.3, 0.3]))
        l_hi = float(self.rng.uniform(0.05, 0.3))
        sigma = float(self.rng.uniform(0.3, 1.0) if mode == "stale" else
                      self.rng.uniform(3.0, 15.0))
        elig = self.eligible()
        total = 0
        for kk in kps:
            f = s + np.flatnonzero(elig[s:e, i, kk])
            if f.size == 0:
                continue
            if mode == "nan":
                self.xy[f, i, kk] = np.nan
                self.lik[f, i, kk] = np.nan
            else:
                if mode == "stale":
                    ref = self.truth[s - 1, i, kk] if s > 0 else self.truth[f[0], i, kk]
                    if not np.isfinite(ref).all():
                        ref = self.truth[f[0], i, kk]
                    base = np.broadcast_to(ref, (f.size, 2))
                else:
                    base = self.truth[f, i, kk]
                self.xy[f, i, kk] = base + self.rng.normal(0, sigma, (f.size, 2))
                self.lik[f, i, kk] = self.rng.uniform(0.0, l_hi, f.size)
            self.mark(f, i, kk, code)
            total += int(f.size)
        if total == 0:
            return None
        return {"individuals": [i], "keypoints": kps, "start": s, "stop": e, "duration": dur,
                "n_points": total, "mode": mode, "sigma": sigma, "likelihood_max": l_hi}

    def jitter(self, code: int, remaining: float) -> dict[str, Any] | None:
        picked = self.point_span("jitter", remaining)
        if picked is None:
            return None
        t, i, k, s, e, dur, f = picked
        sigma = float(self.rng.uniform(1.0, 4.0))
        self.xy[f, i, k] = self.truth[f, i, k] + self.rng.normal(0, sigma, (f.size, 2))
        self.mark(f, i, k, code)
        return {"individuals": [i], "keypoints": [k], "start": s, "stop": e, "duration": dur,
                "n_points": int(f.size), "sigma": sigma}

    def identity_swap(self, code: int, remaining: float) -> dict[str, Any] | None:
        if len(self.animals) < 2:
            return None
        p = self.pick_point(animals_only=True)
        if p is None:
            return None
        t, i, _ = p
        others = [a for a in self.animals if a != i]
        j = others[int(self.rng.integers(len(others)))]
        s, e, dur = self.span("identity_swap", t, remaining, 2 * self.n_kp)
        elig = self.eligible()
        both = elig[s:e, i, :] & elig[s:e, j, :]
        ff, kk = np.nonzero(both)
        if ff.size == 0:
            return None
        ff = ff + s
        self.xy[ff, i, kk], self.xy[ff, j, kk] = self.truth[ff, j, kk], self.truth[ff, i, kk]
        li, lj = self.lik[ff, i, kk].copy(), self.lik[ff, j, kk].copy()
        self.lik[ff, i, kk], self.lik[ff, j, kk] = lj, li
        self.mark(ff, i, kk, code)
        self.mark(ff, j, kk, code)
        return {"individuals": [i, j], "keypoints": sorted({int(x) for x in kk}), "start": s,
                "stop": e, "duration": dur, "n_points": 2 * int(ff.size)}


def corrupt_independent(
    xy: np.ndarray,
    likelihood: np.ndarray,
    *,
    seed: int,
    rate: float = 0.05,
    kinds: Sequence[str] | None = None,
    individuals: Sequence[str] | None = None,
) -> CorruptedCase:
    """Inject protocol-B errors into confident points of DLC-style arrays.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, I, K, 2)`` coordinates, NaN where missing. Not modified.
    likelihood : np.ndarray
        ``(T, I, K)`` likelihoods. Not modified.
    seed : int
        Seed of every random draw (the same inputs and seed give the same output).
    rate : float
        Target share of the confident points to corrupt, split equally among the kinds.
    kinds : sequence of str, optional
        Kinds to use (default: all of :data:`KIND_NAMES`; ``identity_swap`` only applies
        with two or more animals).
    individuals : sequence of str, optional
        Individual names; one called ``"single"`` (DLC's unique bodyparts) is never part of
        an identity swap.

    Returns
    -------
    CorruptedCase
        The corrupted arrays, the kind code per point, the truth and the event records.

    Raises
    ------
    ValueError
        On bad shapes, an unknown kind or a rate outside ``[0, 1]``.
    """
    a = np.asarray(xy, dtype=np.float64)
    lik = np.asarray(likelihood, dtype=np.float64)
    if a.ndim != 4 or a.shape[-1] != 2:
        raise ValueError(f"xy must have shape (T, I, K, 2), got {a.shape}")
    if lik.shape != a.shape[:3]:
        raise ValueError(f"likelihood must have shape {a.shape[:3]}, got {lik.shape}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate}")
    use = list(KIND_NAMES) if kinds is None else list(kinds)
    unknown = [k for k in use if k not in KIND_NAMES]
    if unknown:
        raise ValueError(f"unknown kind(s) {unknown}; known: {list(KIND_NAMES)}")
    if individuals is not None and len(individuals) != a.shape[1]:
        raise ValueError(f"{len(individuals)} individual names for {a.shape[1]} individuals")
    rng = np.random.default_rng(seed)
    inj = _Injector(a.copy(), lik, rng, individuals)
    if len(inj.animals) < 2 and "identity_swap" in use:
        use.remove("identity_swap")
    events: list[dict[str, Any]] = []
    n_conf = int(inj.conf.sum())
    share = rate * n_conf / max(len(use), 1)
    done = dict.fromkeys(use, 0)
    fails = dict.fromkeys(use, 0)
    while True:
        active = [k for k in use if done[k] < share and fails[k] < _MAX_FAILS]
        if not active or share <= 0:
            break
        for kind in rng.permutation(active):
            kind = str(kind)
            code = KIND_NAMES.index(kind) + 1
            inj.event_id = len(events) + 1
            ev = getattr(inj, kind)(code, share - done[kind])
            if ev is None or ev["n_points"] == 0:
                fails[kind] += 1
                continue
            fails[kind] = 0
            done[kind] += ev["n_points"]
            events.append({"kind": kind, **ev})
    return CorruptedCase(xy=inj.xy, likelihood=inj.lik, kinds=inj.kinds,
                         kind_names=KIND_NAMES, truth_xy=a.copy(), confident=inj.conf,
                         event_ids=inj.event_ids, events=events)


def training_corruptor(rate: float = 0.05) -> Callable[..., tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]]:
    """Protocol B as a training generator, for the cross-check only (train on B, test on A).

    The returned callable is the ``corruptor`` of
    :class:`~stablemotion_dlc.dlc.dataset.KeypointWindowSource` (and of
    :func:`~stablemotion_dlc.dlc.pipeline.train_on_tracks`): it corrupts the eligible points
    of a batch of windows (given as individuals) with :func:`corrupt_independent`, seeded
    from the training's random generator. The default pipeline never uses it: protocol B is
    an evaluation protocol.

    Parameters
    ----------
    rate : float
        Share of the eligible points to corrupt.

    Returns
    -------
    callable
        ``(xy, likelihood, rng, eligible) -> (xy, likelihood, codes)``.
    """

    def corrupt(xy: np.ndarray, likelihood: np.ndarray, rng: np.random.Generator,
                eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lik = np.asarray(likelihood, np.float64)
        # only the eligible points count as confident (the truth points) for protocol B
        case = corrupt_independent(xy, np.where(eligible, lik, 0.0),
                                   seed=int(rng.integers(2**31)), rate=rate)
        changed = case.kinds > 0
        return case.xy, np.where(changed, case.likelihood, lik), case.kinds

    return corrupt


def corrupt_protocol_a(xy: np.ndarray, likelihood: np.ndarray, *, seed: int,
                       rate: float = 0.05) -> CorruptedCase:
    """The training generator's errors (protocol A) on the confident points, as a case.

    The cross-check's other direction: a model trained on protocol B is tested on the
    errors of :func:`~stablemotion_dlc.dlc.corruption.inject_corruption` (every kind of
    :data:`~stablemotion_dlc.dlc.corruption.CORRUPTION_KINDS`), scored as protocol B is.

    Parameters
    ----------
    xy, likelihood : np.ndarray
        ``(T, I, K, 2)`` and ``(T, I, K)``, not modified.
    seed : int
        Seed of the injection.
    rate : float
        Share of the confident points to corrupt.

    Returns
    -------
    CorruptedCase
        ``kind_names`` are protocol A's kinds.
    """
    from ..dlc.corruption import CORRUPTION_KINDS, KIND_CODES, inject_corruption

    a = np.asarray(xy, dtype=np.float64)
    lik = np.asarray(likelihood, dtype=np.float64)
    conf = confident_mask(a, lik)
    c = inject_corruption(a, lik, np.random.default_rng(seed), kinds=CORRUPTION_KINDS,
                          rate=rate, eligible=conf)
    codes = np.zeros(c.kinds.shape, np.int16)
    for n, kind in enumerate(CORRUPTION_KINDS, start=1):
        codes[c.kinds == KIND_CODES[kind]] = n
    events = [{"kind": e.kind, "start": int(e.start), "stop": int(e.stop),
               "individuals": list(e.individuals), "keypoints": list(e.keypoints)}
              for e in c.events]
    return CorruptedCase(xy=c.xy, likelihood=np.asarray(c.likelihood), kinds=codes,
                         kind_names=tuple(CORRUPTION_KINDS), truth_xy=a.copy(),
                         confident=conf, event_ids=np.zeros(codes.shape, np.int32),
                         events=events)
