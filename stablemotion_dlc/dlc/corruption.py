"""Synthetic corruption of DLC keypoint tracks: training signal and benchmark protocol.

The same function serves two purposes:

(a) on the fly in training, on a project's own confident stretches, so the model learns to
    *detect* errors it was never told about (the injected points are labelled bad);
(b) as the benchmark's corruption protocol that any user can run on their own confident data
    (:func:`confident_segments` finds the stretches, :func:`inject_corruption` corrupts them and
    reports exactly which points changed, so errors can be measured against the originals).

Kinds (``CORRUPTION_KINDS``; the code of a kind is its index + 1, 0 = untouched):

``jitter_burst``
    One keypoint gets i.i.d. Gaussian noise, sigma ~ U(0.05, 0.25) x body scale (>= 1 px);
    likelihood kept (confident error).
``low_likelihood``
    One keypoint drifts away in a random direction (distance grows linearly to
    U(0.5, 2) x body scale, plus 1 px noise) with likelihood drawn in U(0.01, 0.59).
``jump_bodypart``
    One keypoint sits on another keypoint of the same animal (+ 1 px noise); likelihood kept.
``jump_background``
    One keypoint sits at a fixed background location at least 3 body scales away from the
    animal, inside the frame (+ 1 px noise); likelihood kept.
``lr_swap``
    A left/right pair of keypoints (``lr_pairs``, or pairs found from names) exchange x, y and
    likelihood.
``identity_swap``
    Two individuals exchange all their keypoints (x, y and likelihood); needs ``I >= 2``.
``dropout``
    One keypoint becomes missing: x, y and likelihood NaN (DLC's convention).
``frozen``
    One keypoint keeps the position it had in the frame before the event (likelihood kept).

A file-level kind, ``dropout_neg1`` (``FILE_LEVEL_KINDS``), writes ``placeholder`` (-1, as
DeepLabCut 3 does) into x, y and likelihood; it is meant for testing file readers, not for
training tensors.

Event lengths (frames) are drawn log-uniform in ``[min_len, max_len]``: ``floor(exp(U(log
min_len, log(max_len + 1))))``, so short events are frequent and long ones occur (for 1..60 the
mean is about 15 frames, the median 7). The start frame is uniform over the free frames where
the drawn length fits. Events never overlap on a (frame, individual, keypoint) entry and only touch
entries allowed by ``eligible`` (default: present points): an event is cut at the first entry
that is not free, and dropped if that leaves fewer than ``min_len`` frames (so on fragmented
data the realised lengths are shorter than drawn). An identity swap needs every point of both
animals untouched and some eligible point of each animal in each frame; it exchanges all their
points, eligible or not. Events are added until at least ``rate`` of the eligible entries are
corrupted (the last event may overshoot) or attempts run out. The body scale of an individual
is the median distance of its keypoints from their per-frame mean (at least 5 px).
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from stablemotion_dlc.dlc.constants import DEFAULT_PCUTOFF

__all__ = [
    "ALL_KINDS",
    "CORRUPTION_KINDS",
    "FILE_LEVEL_KINDS",
    "KIND_CODES",
    "CLEAN_CODE",
    "Corrupted",
    "CorruptionEvent",
    "confident_segments",
    "inject_corruption",
    "body_scale",
    "lr_pairs_from_names",
    "sample_length",
]

logger = logging.getLogger(__name__)

#: Canonical kind names (shared with the sample generator); code = index + 1.
CORRUPTION_KINDS: tuple[str, ...] = (
    "jitter_burst",
    "low_likelihood",
    "jump_bodypart",
    "jump_background",
    "lr_swap",
    "identity_swap",
    "dropout",
    "frozen",
)
#: Kinds meant for file-level tests only (placeholders instead of NaN).
FILE_LEVEL_KINDS: tuple[str, ...] = ("dropout_neg1",)
ALL_KINDS: tuple[str, ...] = CORRUPTION_KINDS + FILE_LEVEL_KINDS
#: ``kind name -> int8 code`` (0 means untouched).
KIND_CODES: dict[str, int] = {k: i + 1 for i, k in enumerate(ALL_KINDS)}
CLEAN_CODE = 0

_LOW_LIKELIHOOD_MAX = 0.59


@dataclass(frozen=True)
class CorruptionEvent:
    """One injected error.

    Attributes
    ----------
    kind : str
        One of ``ALL_KINDS``.
    start, stop : int
        Frames ``[start, stop)``.
    individuals : tuple of int
        Affected individuals (two for ``identity_swap``).
    keypoints : tuple of int
        Affected keypoints (two for ``lr_swap``; all for ``identity_swap``).
    source : int or None
        ``jump_bodypart``: the keypoint jumped onto.
    """

    kind: str
    start: int
    stop: int
    individuals: tuple[int, ...]
    keypoints: tuple[int, ...]
    source: int | None = None

    @property
    def length(self) -> int:
        """Number of frames."""
        return self.stop - self.start


@dataclass
class Corrupted:
    """Result of :func:`inject_corruption` (the inputs are never modified).

    Attributes
    ----------
    xy : np.ndarray
        ``(T, I, K, 2)`` float64 corrupted coordinates.
    likelihood : np.ndarray or None
        ``(T, I, K)`` float64 corrupted likelihoods (None if none were given).
    kinds : np.ndarray
        ``(T, I, K)`` int8 kind code per entry (0 = untouched); see ``KIND_CODES``.
    events : list of CorruptionEvent
        The injected events, in order.
    """

    xy: np.ndarray
    likelihood: np.ndarray | None
    kinds: np.ndarray
    events: list[CorruptionEvent] = field(default_factory=list)

    @property
    def mask(self) -> np.ndarray:
        """``(T, I, K)`` bool, True where an entry was corrupted."""
        return self.kinds != CLEAN_CODE


_SIDE_PATTERNS = (
    (re.compile(r"left", re.I), "left", "right"),
    (re.compile(r"right", re.I), "right", "left"),
)


def _other_side(name: str) -> list[str]:
    """Candidate names of the mirror keypoint of ``name``."""
    out: list[str] = []
    for pat, a, b in _SIDE_PATTERNS:
        if pat.search(name):
            out.append(pat.sub(lambda m, a=a, b=b: _match_case(m.group(0), b), name))
    # single-letter side tokens: l_ear, ear_l, L-ear, earL (camel), ear.r
    m = re.match(r"^([lLrR])([_\-\s.])(.+)$", name)
    if m:
        out.append(_flip(m.group(1)) + m.group(2) + m.group(3))
    m = re.match(r"^(.+)([_\-\s.])([lLrR])$", name)
    if m:
        out.append(m.group(1) + m.group(2) + _flip(m.group(3)))
    m = re.match(r"^(.*[a-z])([LR])$", name)
    if m:
        out.append(m.group(1) + _flip(m.group(2)))
    m = re.match(r"^([LR])([A-Z].*)$", name)
    if m:
        out.append(_flip(m.group(1)) + m.group(2))
    return out


def _flip(c: str) -> str:
    return {"l": "r", "r": "l", "L": "R", "R": "L"}[c]


def _match_case(src: str, word: str) -> str:
    if src.isupper():
        return word.upper()
    if src[0].isupper():
        return word.capitalize()
    return word


def lr_pairs_from_names(bodyparts: Sequence[str]) -> list[tuple[int, int]]:
    """Left/right keypoint pairs found from names, as index pairs ``(a, b)``, ``a < b``.

    Names such as ``left_ear``/``right_ear``, ``leftwing``/``rightwing``, ``l_paw``/``r_paw``,
    ``earL``/``earR``.
    """
    names = list(bodyparts)
    index = {n: j for j, n in enumerate(names)}
    pairs: set[tuple[int, int]] = set()
    for j, n in enumerate(names):
        for cand in _other_side(n):
            if cand in index and index[cand] != j:
                a, b = sorted((j, index[cand]))
                pairs.add((a, b))
    return sorted(pairs)


def sample_length(rng: np.random.Generator, min_len: int, max_len: int) -> int:
    """Log-uniform integer length in ``[min_len, max_len]``."""
    u = rng.uniform(np.log(min_len), np.log(max_len + 1))
    return int(min(max_len, max(min_len, int(np.floor(np.exp(u))))))


def _body_scale(xy: np.ndarray) -> np.ndarray:
    """Per-individual body scale ``(I,)`` in pixels (>= 5; 20 when it cannot be measured).

    The median distance of the keypoints from their per-frame mean.
    """
    t, i, k, _ = xy.shape
    out = np.full(i, 20.0)
    if k < 2:
        return out
    with _suppress_nan_warnings():
        centre = np.nanmean(xy, axis=2, keepdims=True)
        dist = np.linalg.norm(xy - centre, axis=-1)  # (T, I, K)
        for j in range(i):
            d = dist[:, j][np.isfinite(dist[:, j])]
            if d.size:
                out[j] = max(5.0, float(np.median(d)))
    return out


def body_scale(xy: np.ndarray) -> np.ndarray:
    """Body scale per individual of ``(T, I, K, 2)`` tracks.

    As used by :func:`inject_corruption` (precompute it once for long recordings).
    """
    a, _ = _check_inputs(xy, None)
    return _body_scale(a)


@contextlib.contextmanager
def _suppress_nan_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _check_inputs(
    xy: np.ndarray, likelihood: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    a = np.asarray(xy, dtype=np.float64)
    if a.ndim != 4 or a.shape[-1] != 2:
        raise ValueError(f"xy must have shape (T, I, K, 2), got {a.shape}")
    lik = None
    if likelihood is not None:
        lik = np.asarray(likelihood, dtype=np.float64)
        if lik.shape != a.shape[:-1]:
            raise ValueError(f"likelihood must have shape {a.shape[:-1]}, got {lik.shape}")
    return a, lik


def inject_corruption(
    xy: np.ndarray,
    likelihood: np.ndarray | None,
    rng: np.random.Generator,
    *,
    kinds: Sequence[str] = CORRUPTION_KINDS,
    rate: float = 0.05,
    min_len: int = 1,
    max_len: int = 60,
    lr_pairs: Sequence[tuple[int, int]] | None = None,
    bodyparts: Sequence[str] | None = None,
    placeholder: float = -1.0,
    eligible: np.ndarray | None = None,
    frame_size: tuple[float, float] | np.ndarray | None = None,
    kind_weights: Sequence[float] | None = None,
    max_events: int | None = None,
    body_scale: float | np.ndarray | None = None,
) -> Corrupted:
    """Inject synthetic DLC-like errors into tracks.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, I, K, 2)`` pixel coordinates (NaN = missing). Not modified.
    likelihood : np.ndarray or None
        ``(T, I, K)`` likelihoods. Not modified.
    rng : np.random.Generator
        Source of randomness (same seed, same inputs -> same result).
    kinds : sequence of str
        Kinds to draw from (see the module docstring). Kinds that cannot apply (``lr_swap``
        without pairs, ``identity_swap`` with one individual, ``jump_bodypart`` with one
        keypoint) are skipped.
    rate : float
        Target fraction of eligible (frame, individual, keypoint) entries to corrupt.
    min_len, max_len : int
        Event length bounds in frames (log-uniform between them).
    lr_pairs : sequence of (int, int), optional
        Left/right keypoint index pairs; found from ``bodyparts`` names when None.
    bodyparts : sequence of str, optional
        Keypoint names, used to find ``lr_pairs``.
    placeholder : float
        Value written by ``dropout_neg1``.
    eligible : np.ndarray, optional
        ``(T, I, K)`` bool: entries that may be corrupted (e.g. confident ones). Default: every
        present (finite) point.
    frame_size : (width, height) or array-like (I, 2), optional
        Image size for background jumps (one for all individuals, or one per individual);
        default: the bounding box of the data.
    kind_weights : sequence of float, optional
        Relative probability of each entry of ``kinds`` (default uniform).
    max_events : int, optional
        Hard cap on the number of events.
    body_scale : float or array-like, optional
        Body scale in pixels (scalar or one per individual); estimated from ``xy`` when None.

    Returns
    -------
    Corrupted
    """
    a, lik = _check_inputs(xy, likelihood)
    t, n_ind, k, _ = a.shape
    if not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= min_len <= max_len, got {min_len}, {max_len}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must lie in [0, 1], got {rate}")
    unknown = [x for x in kinds if x not in KIND_CODES]
    if unknown:
        raise ValueError(f"unknown corruption kinds {unknown}; known: {list(ALL_KINDS)}")
    if lr_pairs is None:
        lr_pairs = lr_pairs_from_names(bodyparts) if bodyparts is not None else []
    pairs = [(int(p), int(q)) for p, q in lr_pairs]
    for p, q in pairs:
        if not (0 <= p < k and 0 <= q < k and p != q):
            raise ValueError(f"lr pair {(p, q)} is not a pair of distinct keypoints of {k}")

    present = np.isfinite(a).all(axis=-1)
    elig = present.copy() if eligible is None else np.asarray(eligible, bool) & present
    if elig.shape != (t, n_ind, k):
        raise ValueError(f"eligible must have shape {(t, n_ind, k)}, got {elig.shape}")

    weights = np.ones(len(kinds)) if kind_weights is None else np.asarray(kind_weights, float)
    if weights.shape != (len(kinds),) or (weights < 0).any():
        raise ValueError("kind_weights must be one non-negative weight per kind")
    usable = []
    for name, w in zip(kinds, weights, strict=True):
        if w <= 0:
            continue
        if name == "lr_swap" and not pairs:
            continue
        if name == "identity_swap" and n_ind < 2:
            continue
        if name == "jump_bodypart" and k < 2:
            continue
        usable.append((name, w))

    out_xy = a.copy()
    out_lik = None if lik is None else lik.copy()
    codes = np.zeros((t, n_ind, k), dtype=np.int8)
    events: list[CorruptionEvent] = []
    target = int(round(rate * elig.sum()))
    if not usable or target == 0 or t == 0:
        return Corrupted(out_xy, out_lik, codes, events)
    names = [u[0] for u in usable]
    probs = np.array([u[1] for u in usable], dtype=float)
    probs /= probs.sum()

    if body_scale is None:
        scale = _body_scale(a)
    else:
        scale = np.broadcast_to(np.asarray(body_scale, dtype=float), (n_ind,)).copy()
    if frame_size is not None:
        hi = np.broadcast_to(np.asarray(frame_size, dtype=float), (n_ind, 2)).copy()
        lo = np.zeros((n_ind, 2))
    else:
        finite = a[present]
        if finite.size:
            lo, hi = finite.min(axis=0), finite.max(axis=0)
            pad = 0.1 * np.maximum(hi - lo, 50.0)
            lo, hi = lo - pad, hi + pad
        else:
            lo, hi = np.zeros(2), np.full(2, 500.0)
        lo, hi = np.tile(lo, (n_ind, 1)), np.tile(hi, (n_ind, 1))

    done = 0
    attempts = 0
    max_attempts = 50 + 10 * max(target, 1)
    cap = max_events if max_events is not None else 10**9
    untouched = np.ones((t, n_ind, k), dtype=bool)
    state = _State(a, out_xy, out_lik, elig, untouched, pairs, scale, lo, hi, placeholder, min_len)
    cum = np.cumsum(probs)
    while done < target and attempts < max_attempts and len(events) < cap:
        attempts += 1
        kind = names[min(int(np.searchsorted(cum, rng.random(), side="right")), len(names) - 1)]
        length = min(sample_length(rng, min_len, max_len), t)
        ind = int(rng.integers(0, n_ind))
        ev = _apply(kind, length, ind, rng, state)
        if ev is None:
            continue
        code = KIND_CODES[kind]
        s, e = ev.start, ev.stop
        for ii in ev.individuals:
            codes[s:e, ii, list(ev.keypoints)] = code
            untouched[s:e, ii, list(ev.keypoints)] = False
        done += len(ev.individuals) * len(ev.keypoints) * (e - s)
        events.append(ev)
    if done < target:
        logger.debug("injected %d of %d target entries after %d attempts", done, target, attempts)
    return Corrupted(out_xy, out_lik, codes, events)


@dataclass
class _State:
    src: np.ndarray
    xy: np.ndarray
    lik: np.ndarray | None
    elig: np.ndarray
    untouched: np.ndarray
    pairs: list[tuple[int, int]]
    scale: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    placeholder: float
    min_len: int


def _pick_run(
    ok: np.ndarray, length: int, min_len: int, rng: np.random.Generator
) -> tuple[int, int] | None:
    """Draw a start and end for an event of ``length`` frames where ``ok`` holds.

    The start is uniform among the frames where ``ok`` holds and ``length`` fits, the end
    that of the run of ``ok`` from there (at most ``length``); None if none or too short.
    """
    t = ok.shape[0]
    cand = np.flatnonzero(ok[: t - length + 1])
    if cand.size == 0:
        return None
    s = int(cand[int(rng.integers(0, cand.size))])
    seg = ok[s : s + length]
    stop = s + (int(np.argmin(seg)) if not seg.all() else len(seg))
    return (s, stop) if stop - s >= min_len else None


def _apply(
    kind: str, length: int, ind: int, rng: np.random.Generator, st: _State
) -> CorruptionEvent | None:
    """Apply one event in place on a free run of at most ``length`` frames.

    The run is cut at the first entry that is not free; return the event, or None if
    rejected.
    """
    src, xy, lik = st.src, st.xy, st.lik
    k = src.shape[2]
    if kind == "identity_swap":
        others = [j for j in range(src.shape[1]) if j != ind]
        other = int(others[int(rng.integers(0, len(others)))])
        # every point of both animals untouched, each animal with some eligible point
        ok = (
            st.untouched[:, ind].all(axis=1)
            & st.untouched[:, other].all(axis=1)
            & st.elig[:, ind].any(axis=1)
            & st.elig[:, other].any(axis=1)
        )
        run = _pick_run(ok, length, st.min_len, rng)
        if run is None:
            return None
        s, e = run
        xy[s:e, ind], xy[s:e, other] = src[s:e, other].copy(), src[s:e, ind].copy()
        if lik is not None:
            lik[s:e, ind], lik[s:e, other] = lik[s:e, other].copy(), lik[s:e, ind].copy()
        return CorruptionEvent(kind, s, e, (ind, other), tuple(range(k)))
    free = st.elig[:, ind] & st.untouched[:, ind]  # (T, K)
    if kind == "lr_swap":
        p, q = st.pairs[int(rng.integers(0, len(st.pairs)))]
        run = _pick_run(free[:, p] & free[:, q], length, st.min_len, rng)
        if run is None:
            return None
        s, e = run
        xy[s:e, ind, p], xy[s:e, ind, q] = src[s:e, ind, q].copy(), src[s:e, ind, p].copy()
        if lik is not None:
            lp, lq = lik[s:e, ind, p].copy(), lik[s:e, ind, q].copy()
            lik[s:e, ind, p], lik[s:e, ind, q] = lq, lp
        return CorruptionEvent(kind, s, e, (ind,), (p, q))

    kp = int(rng.integers(0, k))
    run = _pick_run(free[:, kp], length, st.min_len, rng)
    if run is None:
        return None
    s, e = run
    n = e - s
    scale, lo, hi, placeholder = st.scale, st.lo[ind], st.hi[ind], st.placeholder
    sc = scale[ind]
    pos = src[s:e, ind, kp]
    if kind == "jitter_burst":
        sigma = max(1.0, rng.uniform(0.05, 0.25) * sc)
        xy[s:e, ind, kp] = pos + rng.normal(0.0, sigma, size=(n, 2))
    elif kind == "low_likelihood":
        ang = rng.uniform(0, 2 * np.pi)
        dist = rng.uniform(0.5, 2.0) * sc * np.arange(1, n + 1) / n
        drift = dist[:, None] * np.array([np.cos(ang), np.sin(ang)])[None]
        xy[s:e, ind, kp] = pos + drift + rng.normal(0.0, 1.0, size=(n, 2))
        if lik is not None:
            lik[s:e, ind, kp] = rng.uniform(0.01, _LOW_LIKELIHOOD_MAX, size=n)
    elif kind == "jump_bodypart":
        others = [j for j in range(k) if j != kp]
        j = int(others[int(rng.integers(0, len(others)))])
        ok_j = np.isfinite(src[s:e, ind, j]).all(axis=1)
        if not ok_j[0]:
            return None
        if not ok_j.all():  # stop where the other keypoint is missing
            e = s + int(np.argmin(ok_j))
            n = e - s
            if n < st.min_len:
                return None
        target = src[s:e, ind, j]
        xy[s:e, ind, kp] = target + rng.normal(0.0, 1.0, size=(n, 2))
        return CorruptionEvent(kind, s, e, (ind,), (kp,), source=j)
    elif kind == "jump_background":
        centre = np.mean(pos, axis=0)
        spot = None
        for _ in range(20):
            cand = rng.uniform(lo, hi)
            if np.linalg.norm(cand - centre) >= 3.0 * sc:
                spot = cand
                break
        if spot is None:  # small frame: go to the farthest corner
            corners = np.array([[lo[0], lo[1]], [lo[0], hi[1]], [hi[0], lo[1]], [hi[0], hi[1]]])
            spot = corners[int(np.argmax(np.linalg.norm(corners - centre, axis=1)))]
        xy[s:e, ind, kp] = spot[None] + rng.normal(0.0, 1.0, size=(n, 2))
    elif kind == "dropout":
        xy[s:e, ind, kp] = np.nan
        if lik is not None:
            lik[s:e, ind, kp] = np.nan
    elif kind == "dropout_neg1":
        xy[s:e, ind, kp] = placeholder
        if lik is not None:
            lik[s:e, ind, kp] = placeholder
    elif kind == "frozen":
        if s == 0:
            return None  # nothing to freeze to
        held = src[s - 1, ind, kp]
        if not np.isfinite(held).all():
            return None
        xy[s:e, ind, kp] = held[None]
    else:  # pragma: no cover - validated by the caller
        raise ValueError(f"unknown corruption kind {kind!r}")
    return CorruptionEvent(kind, s, e, (ind,), (kp,))


def confident_segments(
    xy: np.ndarray,
    likelihood: np.ndarray | None,
    pcutoff: float = DEFAULT_PCUTOFF,
    min_len: int = 64,
    *,
    min_fraction: float = 1.0,
) -> list[tuple[int, int, int]]:
    """Stretches where an individual's track is confident.

    A frame is confident for individual ``i`` when at least ``min_fraction`` of its keypoints
    are present and have likelihood >= ``pcutoff`` (likelihood None: present is enough).

    Parameters
    ----------
    xy : np.ndarray
        ``(T, I, K, 2)`` (or ``(T, K, 2)`` for one individual).
    likelihood : np.ndarray or None
        ``(T, I, K)`` (or ``(T, K)``).
    pcutoff : float
        Likelihood threshold (DLC's ``pcutoff``).
    min_len : int
        Shortest stretch returned, in frames.
    min_fraction : float
        Fraction of keypoints that must be confident in every frame of a stretch.

    Returns
    -------
    list of (start, stop, individual)
        Frames ``[start, stop)``, sorted by individual then start.
    """
    a = np.asarray(xy, dtype=np.float64)
    lik = None if likelihood is None else np.asarray(likelihood, dtype=np.float64)
    if a.ndim == 3:
        a = a[:, None]
        lik = None if lik is None else lik[:, None]
    a, lik = _check_inputs(a, lik)
    ok = np.isfinite(a).all(axis=-1)
    if lik is not None:
        with np.errstate(invalid="ignore"):
            ok &= lik >= pcutoff
    frac = ok.mean(axis=2)  # (T, I)
    good = frac >= min_fraction - 1e-12
    out: list[tuple[int, int, int]] = []
    for i in range(a.shape[1]):
        g = np.concatenate([[False], good[:, i], [False]]).astype(np.int8)
        d = np.diff(g)
        starts = np.flatnonzero(d == 1)
        stops = np.flatnonzero(d == -1)
        for s, e in zip(starts, stops, strict=True):
            if e - s >= min_len:
                out.append((int(s), int(e), i))
    return out
