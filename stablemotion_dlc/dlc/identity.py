"""Identity swaps between individuals, left/right swaps and front/back reversals.

Both problems are the same one: a group of ``n`` items (whole animals, or the two keypoints of a
left/right pair) is tracked from frame to frame, and the labels the network gave them may be
exchanged for a stretch of frames. The detector follows each item by motion continuity: for
every frame the positions predicted from the previous frames (constant velocity) are matched to
the observed positions under every permutation of the labels, and a label change ("transition")
is accepted only when the best permutation beats the identity by a clear margin (``ratio`` and
``min_gain``; an exchange seen on one side only, because an animal is missing, needs a
four times stricter ratio; a prediction older than 15 frames is not used). Composing the
transitions gives, for every frame, which true item each label
holds. The state held over most frames is the reference, so a swap segment has a start (the
transition into a swapped state) and an end (the transition back, or the end of the file).

Left/right pairs also use geometry when the individual has other keypoints: a left keypoint
lies on a consistent side of the line from the pair's midpoint to the rest of the body, so a
segment between transitions is called swapped when most of its frames sit on the other side.

Front/back reversals (:func:`find_reversals`) are the third kind: a weak network takes the
animal's tail end for its head for a stretch. They are found on the body's long axis, which
turns by about 180 degrees from one frame to the next and back, and undone by exchanging the
axis' two ends (:func:`fix_lr_swaps`).

Everything here is pure: the input :class:`~stablemotion_dlc.dlc.tracks.Tracks` is never modified;
``fix_*`` return a corrected copy plus a record of each correction.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from stablemotion_dlc._arrays import planar_norm, sample_rows, true_runs
from stablemotion_dlc.dlc.constants import DEFAULT_PCUTOFF
from stablemotion_dlc.dlc.pose_prior import fit_pose_prior, pose_evidence
from stablemotion_dlc.dlc.tracks import Tracks

__all__ = [
    "SwapEvent",
    "Correction",
    "left_right_pairs",
    "find_identity_swaps",
    "fix_identity_swaps",
    "find_partial_identity_swaps",
    "find_lr_swaps",
    "fix_lr_swaps",
    "neighbour_pairs",
    "NeighbourCandidate",
    "neighbour_swap_candidates",
    "find_neighbour_swaps",
    "find_reversals",
]

logger = logging.getLogger(__name__)

EXHAUSTIVE_INDIVIDUALS = 5
"""Up to this many animals every permutation is considered (5! = 120)."""

MAX_INDIVIDUALS = 20
"""Largest number of animals handled. Above :data:`EXHAUSTIVE_INDIVIDUALS` only exchanges of
two or three animals at one frame are considered (a swap between tracked animals happens where
they meet; for 20 animals that is 2,471 permutations instead of 20!)."""

PARTIAL_MIN_KEYPOINTS = 2
"""Fewest keypoints that must change hands between the same animals at the same two frames
for a part of a body to count as exchanged (:func:`find_partial_identity_swaps`)."""

PARTIAL_MAX_SPREAD = 0.95
"""Undoing a part of a body exchanged must make the animals it involves at least this much
more compact (:func:`_spread_ratio`, median over the frames it changes). On protocol B's
tuning file sleap_centered_pair (corruption seeds 0-2) the true exchanges give 0.64-0.93;
trimouse_calib (500 unrelated labelled crops, where frame-to-frame continuity means
nothing) gives 1.29 and 2.08."""

_SEPARATORS = re.compile(r"[\s_\-./]+")
_SIDE_WORDS = {"left": "right", "right": "left", "l": "r", "r": "l", "lt": "rt", "rt": "lt"}


@dataclass(frozen=True)
class SwapEvent:
    """One stretch of frames whose labels are exchanged.

    Attributes
    ----------
    kind : {"identity", "lr", "neighbour", "reversal"}
        ``"identity"``: whole animals exchanged; ``"lr"``: two keypoints of one animal;
        ``"neighbour"``: two neighbouring keypoints of one animal that are not a left/right
        pair (:func:`find_neighbour_swaps`); ``"reversal"``: the animal's front and back
        (:func:`find_reversals`), given as the two ends of its long axis.
    start, stop : int
        Frame span ``[start, stop)`` (row positions, not the file's index labels).
    individuals : tuple of str
        Identity swaps: the individuals whose data are exchanged. Left/right swaps: the one
        individual concerned.
    keypoints : tuple of str
        Keypoints exchanged (for identity swaps all shared bodyparts, or the part of the
        bodies :func:`find_partial_identity_swaps` found exchanged; the pair for ``"lr"``).
    permutation : tuple of int
        For identity swaps, over the individual indices of the file: the data stored under
        individual ``i`` in the span belong to individual ``permutation[i]``. For left/right
        swaps, over the keypoint indices ``(a, b)``: ``(b, a)``.
    cost_gain : float
        How much the assignment cost (pixels, summed over the transition frames) drops when the
        swap is undone; larger is more certain. Geometry-only left/right events use the mean
        side margin in pixels instead.
    """

    kind: Literal["identity", "lr", "neighbour", "reversal"]
    start: int
    stop: int
    individuals: tuple[str, ...]
    keypoints: tuple[str, ...]
    permutation: tuple[int, ...]
    cost_gain: float

    @property
    def n_frames(self) -> int:
        """Number of frames in the span."""
        return self.stop - self.start


@dataclass(frozen=True)
class Correction:
    """Record of one correction applied by :func:`fix_identity_swaps` / :func:`fix_lr_swaps`.

    Attributes
    ----------
    kind : {"identity", "lr", "neighbour", "reversal"}
        Type of swap undone.
    start, stop : int
        Frame span ``[start, stop)`` (row positions).
    individual_map : dict of str to str
        Identity swaps: source individual -> destination individual of the moved data.
    keypoint_map : dict of str to str
        Left/right swaps: source keypoint -> destination keypoint (within ``individuals[0]``).
    individuals : tuple of str
        Individuals touched.
    keypoints : tuple of str
        Keypoints touched.
    n_points : int
        Number of (frame, individual, keypoint) entries that changed.
    """

    kind: Literal["identity", "lr", "neighbour", "reversal"]
    start: int
    stop: int
    individuals: tuple[str, ...]
    keypoints: tuple[str, ...]
    individual_map: dict[str, str] = field(default_factory=dict)
    keypoint_map: dict[str, str] = field(default_factory=dict)
    n_points: int = 0


# --------------------------------------------------------------------------------------------
# name handling
# --------------------------------------------------------------------------------------------
def _counterpart_names(name: str) -> set[str]:
    """Return the lower-case names a left/right counterpart of ``name`` could have."""
    low = name.lower()
    out: set[str] = set()
    # whole words "left"/"right" anywhere (leftear, left_ear, FrontLeftPaw)
    for a, b in (("left", "right"), ("right", "left")):
        if a in low:
            out.add(low.replace(a, b))
    # short tokens delimited by separators or the name's ends: l_ear, ear_L, Paw R, L-hip
    parts = _SEPARATORS.split(low)
    seps = _SEPARATORS.findall(low)
    for k, tok in enumerate(parts):
        if tok in _SIDE_WORDS:
            new = [*parts]
            new[k] = _SIDE_WORDS[tok]
            rebuilt = new[0] + "".join(s + p for s, p in zip(seps, new[1:], strict=True))
            out.add(rebuilt)
    # camel-case prefixes/suffixes without separator: LEar / REar, EarL / EarR
    m = re.fullmatch(r"([LR])([A-Z].*)", name)
    if m:
        out.add(("r" if m.group(1) == "L" else "l") + m.group(2).lower())
    m = re.fullmatch(r"(.*[a-z])([LR])", name)
    if m:
        out.add(m.group(1).lower() + ("r" if m.group(2) == "L" else "l"))
    out.discard(low)
    return out


def left_right_pairs(bodyparts: list[str]) -> list[tuple[int, int]]:
    """Find left/right keypoint pairs from their names.

    Recognises ``left``/``right`` anywhere in the name (``leftear``, ``Left_ear``), and the short
    tokens ``l``/``r``, ``lt``/``rt`` separated by ``_``, ``-``, space or dot (``L_hip``,
    ``Front Paw R``), and one upper-case ``L``/``R`` prefix or suffix on a camel-case name
    (``LEar``, ``PawL``). Matching is case-insensitive.

    Parameters
    ----------
    bodyparts : list of str
        Keypoint names.

    Returns
    -------
    list of (int, int)
        Index pairs ``(left, right)`` (the left member first when it can be told, else the
        lower index first), each keypoint in at most one pair.

    Examples
    --------
    >>> left_right_pairs(["snout", "leftear", "rightear", "Front Paw R", "Front Paw L"])
    [(1, 2), (4, 3)]
    """
    lower = [b.lower() for b in bodyparts]
    index = {}
    for i, b in enumerate(lower):
        index.setdefault(b, i)
    used: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for i, name in enumerate(bodyparts):
        if i in used:
            continue
        for cand in sorted(_counterpart_names(name)):
            j = index.get(cand)
            if j is None or j == i or j in used:
                continue
            a, b = (i, j) if i < j else (j, i)
            # put the left one first when the names say so
            la = _SEPARATORS.split(lower[a])
            if "left" not in lower[a] and "l" not in la and "lt" not in la and not (
                re.fullmatch(r"L[A-Z].*|.*[a-z]L", bodyparts[a])
            ):
                a, b = b, a
            pairs.append((a, b))
            used.update((i, j))
            break
    return pairs


# --------------------------------------------------------------------------------------------
# permutation tracking core
# --------------------------------------------------------------------------------------------
def _ffill(
    values: np.ndarray, valid: np.ndarray, max_age: int = 15
) -> tuple[np.ndarray, np.ndarray]:
    """Forward-fill ``values`` (T, ...) along axis 0 where ``valid`` (T, ...) is False.

    Returns the filled values and the filled validity (False before the first valid frame and
    where the last valid value is more than ``max_age`` frames old).
    """
    t = values.shape[0]
    frames = np.arange(t).reshape((t,) + (1,) * (valid.ndim - 1))
    idx = np.where(valid, frames, -1)
    np.maximum.accumulate(idx, axis=0, out=idx)
    ok = (idx >= 0) & (frames - idx <= max_age)
    safe = np.where(ok, idx, 0)
    filled = np.take_along_axis(values, safe[..., None] if values.ndim > valid.ndim else safe, 0)
    return filled, ok


def _shift(a: np.ndarray, fill: float | bool) -> np.ndarray:
    """Shift ``a`` one step forward in time (``out[t] = a[t-1]``), ``fill`` at ``t=0``."""
    out = np.empty_like(a)
    out[0] = fill
    out[1:] = a[:-1]
    return out


def _pair_costs(pos: np.ndarray, valid: np.ndarray, velocity: bool) -> np.ndarray:
    """Cost ``C[t, i, j]``: distance between item ``i`` predicted at ``t`` and ``j`` seen at ``t``.

    ``pos`` is (T, n, K, 2), ``valid`` (T, n, K). The prediction is the last valid position of
    each keypoint (plus the last one-frame velocity when ``velocity`` and both of the two
    previous frames were observed). The cost is the mean distance over keypoints valid in both,
    NaN when there are none.
    """
    last, last_ok = _ffill(pos, valid)
    prev = _shift(last, np.nan)
    prev_ok = _shift(last_ok, False)
    if velocity:
        seen1 = _shift(valid, False)
        seen2 = _shift(seen1, False)
        p2 = _shift(prev, np.nan)
        vel = np.where((seen1 & seen2)[..., None], prev - p2, 0.0)
        prev = prev + vel
    # np.linalg.norm's floats without its slow reduction over a length-2 axis
    d = planar_norm(prev[:, :, None, :, 0] - pos[:, None, :, :, 0],
                    prev[:, :, None, :, 1] - pos[:, None, :, :, 1])  # (T, n, n, K)
    both = prev_ok[:, :, None] & valid[:, None, :]
    d = np.where(both, d, 0.0)
    cnt = both.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, d.sum(-1) / np.maximum(cnt, 1), np.nan)


def _transitions(
    cost: np.ndarray, ratio: float, min_gain: float, partial_ratio_factor: float = 0.25
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best permutation per frame and where it beats the identity clearly.

    Returns ``(perms (P, n), best (T,) index into perms, gain (T,) px, 0 where no transition)``.
    Works on chunks of frames so that memory stays small (2,471 permutations for 20 animals).
    """
    n = cost.shape[1]
    perms = _candidate_permutations(n)
    chunk = max(1, 2_000_000 // (len(perms) * n))
    best = np.zeros(cost.shape[0], dtype=np.intp)
    gain = np.zeros(cost.shape[0])
    for s in range(0, cost.shape[0], chunk):
        sl = slice(s, s + chunk)
        best[sl], gain[sl] = _transitions_chunk(
            cost[sl], perms, ratio, min_gain, partial_ratio_factor
        )
    return perms, best, gain


def _candidate_permutations(n: int) -> np.ndarray:
    """Permutations of ``n`` items considered per frame; row 0 is the identity.

    Every permutation up to :data:`EXHAUSTIVE_INDIVIDUALS` items, beyond that those moving at
    most three items (pairwise exchanges and 3-cycles).
    """
    if n <= EXHAUSTIVE_INDIVIDUALS:
        return np.array(list(itertools.permutations(range(n))), dtype=np.intp)
    rows = [tuple(range(n))]
    for size in (2, 3):
        for items in itertools.combinations(range(n), size):
            for image in itertools.permutations(items):
                if any(a == b for a, b in zip(items, image, strict=True)):
                    continue  # moves fewer items: already listed
                p = list(range(n))
                for a, b in zip(items, image, strict=True):
                    p[a] = b
                rows.append(tuple(p))
    return np.array(rows, dtype=np.intp)


def _transitions_chunk(
    cost: np.ndarray, perms: np.ndarray, ratio: float, min_gain: float, partial: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_transitions` on one chunk of frames."""
    n = cost.shape[1]
    partial_ratio_factor = partial
    # pairs with no shared keypoint carry no information: cost 0 for every permutation
    c = np.nan_to_num(cost, nan=0.0)
    rows = np.arange(n)
    totals = c[:, rows[None, :], perms].sum(-1)  # (T, P); perms[0] is the identity
    # a permutation is only comparable where every item it moves is matched on both sides
    # (kept and exchanged): otherwise a missing animal would make any exchange free
    fin = np.isfinite(cost)
    diag = fin[:, rows, rows]  # (T, n)
    moved = perms != rows[None, :]  # (P, n)
    comparable = np.all(
        ~moved[None] | (fin[:, rows[None, :], perms] & diag[:, None, :]), axis=2
    )  # (T, P)
    # half-observed exchanges (an animal missing on one side, e.g. a swap that ends as one
    # animal disappears) count only with much stronger evidence
    partial = ~comparable & np.any(moved[None] & fin[:, rows[None, :], perms], axis=2)
    strict = np.where(comparable, 1.0, partial_ratio_factor)
    usable = comparable | partial
    totals = np.where(usable, totals, np.inf)
    best = np.argmin(totals / np.where(usable, strict, 1.0), axis=1)
    ident = totals[:, 0]
    idx = np.arange(len(best))
    bestc = totals[idx, best]
    fac = strict[idx, best]
    with np.errstate(invalid="ignore"):
        gain = np.where(best != 0, ident - bestc, 0.0)
    accept = (
        (best != 0)
        & np.isfinite(ident)
        & (bestc <= ratio * fac * ident)
        & (gain >= min_gain)
    )
    return np.where(accept, best, 0), np.where(accept, gain, 0.0)


def _compose_states(perms: np.ndarray, best: np.ndarray) -> np.ndarray:
    """State ``S[t, c]``: which item (in frame-0 labels) column ``c`` holds at frame ``t``."""
    t_frames = best.shape[0]
    n = perms.shape[1]
    states = np.empty((t_frames, n), dtype=np.intp)
    state = np.arange(n)
    change = np.flatnonzero(best)
    prev = 0
    for t in change:
        states[prev:t] = state
        p = perms[best[t]]
        new = np.empty_like(state)
        new[p] = state  # column p[i] at t holds what column i held at t-1
        state = new
        prev = t
    states[prev:] = state
    return states


def _relabel(pos: np.ndarray, valid: np.ndarray, states: np.ndarray):
    """Reorder columns so that column ``k`` always holds item ``k`` (frame-0 labels)."""
    t = np.arange(pos.shape[0])[:, None]
    out_pos = np.empty_like(pos)
    out_valid = np.empty_like(valid)
    out_pos[t, states] = pos
    out_valid[t, states] = valid
    return out_pos, out_valid


def _track_states(
    pos: np.ndarray, valid: np.ndarray, ratio: float, min_gain: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-pass continuity tracking: ``states (T, n)``, gain per frame (T,), pass-1 costs.

    The pass-1 costs ``(T, n, n)`` are :func:`_pair_costs` without velocity.
    Pass 1 uses the last position as prediction, which a swap cannot contaminate. Pass 2 runs
    a constant-velocity prediction on the data relabelled by pass 1, which undoes pass-1
    mistakes at close crossings and catches swaps hidden by fast motion.
    """
    cost1 = _pair_costs(pos, valid, velocity=False)
    perms, best1, gain1 = _transitions(cost1, ratio, min_gain)
    s1 = _compose_states(perms, best1)
    p1, v1 = _relabel(pos, valid, s1)
    _, best2, gain2 = _transitions(_pair_costs(p1, v1, velocity=True), ratio, min_gain)
    s2 = _compose_states(perms, best2)
    # column c of the raw data holds item s1[t, c] (pass-1 label), which pass 2 says is s2[...]
    states = np.take_along_axis(s2, s1, axis=1)
    return states, gain1 + gain2, cost1


def _state_segments(states: np.ndarray, gain: np.ndarray, ref: np.ndarray):
    """Yield ``(start, stop, state, gain)`` for runs of frames whose state differs from ``ref``."""
    t_frames = states.shape[0]
    if t_frames == 0:
        return
    differs = np.any(states[1:] != states[:-1], axis=1)
    bounds = np.concatenate([[0], np.flatnonzero(differs) + 1, [t_frames]])
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if np.array_equal(states[a], ref):
            continue
        g = float(gain[a] + (gain[b] if b < t_frames else 0.0))
        yield int(a), int(b), states[a], g


def _disturbances(cost: np.ndarray, gain: np.ndarray, min_gain: float) -> np.ndarray:
    """Frames where the labels may have changed but no transition was accepted.

    Something happened (the kept labels cost at least twice ``min_gain``) and an exchange
    of two items explains the frame about as well (at most 1.5 times the kept labels' cost),
    yet the evidence was too weak to accept it. Whether the labels changed there is unknown,
    so the identity before such a frame says nothing about the identity after it.
    ``cost`` is the tracking's pass-1 cost (:func:`_track_states`).
    """
    n = cost.shape[1]
    rows = np.arange(n)
    diag = cost[:, rows, rows]
    ident = np.nansum(diag, axis=1)
    alt = np.full(cost.shape[0], np.inf)
    for i, j in itertools.combinations(range(n), 2):
        ex = ident - diag[:, i] - diag[:, j] + cost[:, i, j] + cost[:, j, i]
        ok = np.isfinite(diag[:, i]) & np.isfinite(diag[:, j]) & np.isfinite(ex)
        alt = np.where(ok, np.minimum(alt, ex), alt)
    return (gain == 0) & (ident >= 2.0 * min_gain) & (alt <= 1.5 * ident)


def _decided_segments(states: np.ndarray, gain: np.ndarray, weight: np.ndarray,
                      disturbed: np.ndarray):
    """Yield ``(start, stop, state, gain, ref)`` for the swapped spans worth undoing.

    First, do no harm. The frames are cut into blocks at every :func:`_disturbances` frame
    (a possibly missed transition: the labels' relation across it is unknown), and each
    block's reference is the state it holds over most frames. A span whose state differs
    from its block's reference is undone only when both its ends are accepted transitions;
    an end at the file's first or last frame counts only when nothing disturbed the file
    (a missed transition would otherwise flip which side of the file looks swapped).
    """
    t_frames = states.shape[0]
    cuts = np.flatnonzero(disturbed[1:]) + 1
    bounds = np.concatenate([[0], cuts, [t_frames]])
    whole = cuts.size == 0
    for s0, s1 in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        ref = _mode_state(states[s0:s1], weight[s0:s1])
        # a block's edge is a disturbance (never an accepted transition, its gain is 0)
        # or the file's edge, which counts only for an undisturbed file
        for a, b, state, g in _state_segments(states[s0:s1], gain[s0:s1], ref):
            a, b = a + s0, b + s0
            ok_a = gain[a] > 0 if a > s0 else whole
            ok_b = gain[b] > 0 if b < s1 else whole
            if ok_a and ok_b:
                yield a, b, state, g, ref
            else:
                logger.debug("identity swap [%d, %d) left alone: an end is not a clear "
                             "transition", a, b)


def _mode_state(states: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The state held over the largest weighted number of frames.

    Ties go to the lexicographically smallest state. Each state (a row of small
    non-negative ints) is packed into one integer in lexicographic order, so the search is a
    1-D ``np.unique`` (``np.unique(axis=0)`` sorted the rows as records, 10x slower on an
    hour of frames); rows too wide to pack fall back to it.
    """
    states = np.asarray(states)
    n_t, n = states.shape
    base = int(states.max()) + 1 if states.size else 1
    if n_t and states.min() >= 0 and base ** n < 2**62:
        key = np.zeros(n_t, np.int64)
        for j in range(n):
            key = key * base + states[:, j].astype(np.int64)
        uniq_key, first, inv = np.unique(key, return_index=True, return_inverse=True)
        counts = np.bincount(inv.ravel(), weights=weight, minlength=len(uniq_key))
        return states[first[int(np.argmax(counts))]]
    uniq, inv = np.unique(states, axis=0, return_inverse=True)
    counts = np.bincount(inv.ravel(), weights=weight, minlength=len(uniq))
    return uniq[int(np.argmax(counts))]


def _confident(tracks: Tracks, pcutoff: float | None) -> np.ndarray:
    ok = np.isfinite(tracks.xy).all(-1)
    if pcutoff is not None and tracks.likelihood is not None:
        ok &= tracks.likelihood >= pcutoff
    return ok & tracks.present[None]


def _auto_min_gain(xy: np.ndarray, valid: np.ndarray, floor: float = 2.0) -> float:
    """Four times the median frame-to-frame keypoint displacement (at least ``floor`` px)."""
    step = np.linalg.norm(np.diff(xy, axis=0), axis=-1)
    ok = valid[1:] & valid[:-1]
    if not ok.any():
        return floor
    return max(floor, 4.0 * float(np.median(step[ok])))


def _animal_individuals(tracks: Tracks) -> list[int]:
    """Indices of the multi-animal individuals (never ``"single"``)."""
    return [
        i
        for i, name in enumerate(tracks.individuals)
        if name != "single" and tracks.present[i].any()
    ]


# --------------------------------------------------------------------------------------------
# identity swaps
# --------------------------------------------------------------------------------------------
def _swapped_segments(pos: np.ndarray, valid: np.ndarray, ratio: float,
                      min_gain: float | None = None
                      ) -> list[tuple[int, int, tuple[int, ...], float]]:
    """The swapped spans worth undoing of items tracked by continuity.

    ``pos`` is ``(T, n, K, 2)``, ``valid`` ``(T, n, K)``; ``min_gain`` defaults to
    :func:`_auto_min_gain`. Returns ``(start, stop, local, gain)`` per span
    (:func:`_decided_segments`), ``local[c]`` being the item (in the reference labels) whose
    data column ``c`` holds there.
    """
    gain_px = _auto_min_gain(pos, valid) if min_gain is None else float(min_gain)
    states, gain, cost1 = _track_states(pos, valid, ratio, gain_px)
    weight = valid.any(-1).sum(-1).astype(float)
    return [(a, b, tuple(int(c) for c in np.argsort(ref)[state]), g)
            for a, b, state, g, ref in _decided_segments(states, gain, weight,
                                                         _disturbances(cost1, gain, gain_px))]


def _moved_columns(local: tuple[int, ...]) -> list[int]:
    """The columns whose data belong to another item (``local[c] != c``)."""
    return [c for c, x in enumerate(local) if x != c]


def _identity_event(tracks: Tracks, ind: list[int], start: int, stop: int,
                    local: tuple[int, ...], kps: np.ndarray, gain: float) -> SwapEvent:
    """The ``kind="identity"`` event of one swapped span.

    Column ``c`` of the animals ``ind`` holds animal ``local[c]``'s data there, for the
    keypoints ``kps`` (indices).
    """
    perm = list(range(tracks.n_individuals))
    for c in range(len(ind)):
        perm[ind[c]] = ind[local[c]]
    return SwapEvent(kind="identity", start=start, stop=stop,
                     individuals=tuple(tracks.individuals[ind[c]] for c in _moved_columns(local)),
                     keypoints=tuple(tracks.bodyparts[k] for k in kps),
                     permutation=tuple(perm), cost_gain=float(gain))


def find_identity_swaps(
    tracks: Tracks,
    *,
    pcutoff: float | None = DEFAULT_PCUTOFF,
    ratio: float = 0.5,
    min_gain: float | None = None,
) -> list[SwapEvent]:
    """Detect stretches where whole animals exchange identities.

    Parameters
    ----------
    tracks : Tracks
        Pose tracks with 2 to 20 animals (the unique-bodypart individual ``"single"`` is never
        considered; above five animals only exchanges of two or three animals at one frame
        are searched). With fewer than two animals the result is empty.
    pcutoff : float or None, default :data:`~.constants.DEFAULT_PCUTOFF`
        Points below this likelihood are ignored for matching (None: use every non-NaN point).
    ratio : float, default 0.5
        A permutation is accepted at a frame only if its cost is at most ``ratio`` times the
        cost of keeping the labels.
    min_gain : float or None
        Minimum cost drop in pixels (mean keypoint distance summed over animals); default four
        times the median frame-to-frame keypoint displacement, at least 2 px.

    Returns
    -------
    list of SwapEvent
        Sorted by start frame, ``kind="identity"``. The labelling held over most frames is the
        reference; each event is a span where the labels are permuted relative to it.

    Raises
    ------
    ValueError
        With a bad ``ratio``. With more than :data:`MAX_INDIVIDUALS` animals no swap is
        searched (a warning is logged and the result is empty).
    """
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be in (0, 1), got {ratio}")
    ind = _animal_individuals(tracks)
    if len(ind) < 2 or tracks.n_frames < 2:
        return []
    if len(ind) > MAX_INDIVIDUALS:
        logger.warning("find_identity_swaps: %d animals; identity swaps are searched for at "
                       "most %d (none looked for here)", len(ind), MAX_INDIVIDUALS)
        return []
    kps = np.flatnonzero(tracks.present[ind].all(0))
    if kps.size == 0:
        return []
    pos = tracks.xy[:, ind][:, :, kps]
    valid = _confident(tracks, pcutoff)[:, ind][:, :, kps]
    events = [_identity_event(tracks, ind, a, b, local, kps, g)
              for a, b, local, g in _swapped_segments(pos, valid, ratio, min_gain)]
    logger.info("find_identity_swaps: %d swap segment(s) among %d animals", len(events), len(ind))
    return events


def _keypoint_segments(pos: np.ndarray, valid: np.ndarray, ratio: float
                       ) -> list[tuple[int, int, int, tuple[int, ...], float]]:
    """Each keypoint tracked across the animals on its own: its swapped spans.

    ``pos`` is ``(T, n, K, 2)``, ``valid`` ``(T, n, K)``. Returns ``(keypoint, start, stop,
    local, gain)`` per span, ``local[c]`` being the animal (column) whose point column ``c``
    holds there, with both ends accepted transitions (:func:`_swapped_segments`).
    """
    out = []
    for j in range(pos.shape[2]):
        p, v = pos[:, :, j : j + 1], valid[:, :, j : j + 1]
        if v.sum() >= 2:
            out += [(j, a, b, local, g) for a, b, local, g in _swapped_segments(p, v, ratio)]
    return out


def _overlapping(segments: list[tuple[int, int, int, tuple[int, ...], float]]
                 ) -> list[list[tuple[int, int, int, tuple[int, ...], float]]]:
    """Keypoint segments grouped into runs of overlapping frame spans."""
    groups: list[list[tuple[int, int, int, tuple[int, ...], float]]] = []
    end = -1
    for seg in sorted(segments, key=lambda x: (x[1], x[2])):
        if groups and seg[1] < end:
            groups[-1].append(seg)
            end = max(end, seg[2])
        else:
            groups.append([seg])
            end = seg[2]
    return groups


def _spread_ratio(pos: np.ndarray, valid: np.ndarray,
                  group: list[tuple[int, int, int, tuple[int, ...], float]]) -> float:
    """How compact the bodies become when ``group``'s keypoint segments are undone.

    Per frame and animal whose points change in part (some of its valid keypoints, not all:
    a whole body exchanged is as compact either way), the spread is the mean distance of its
    valid keypoints from their median; the result is the median over those of the spread
    after over before (below 1: the undone keypoints rejoin their bodies). ``inf`` when
    nothing can be measured (no such frame, or fewer than 3 valid keypoints).
    """
    lo = min(seg[1] for seg in group)
    hi = max(seg[2] for seg in group)
    p0, v0 = pos[lo:hi], valid[lo:hi]  # before (read only)
    p, v = p0.copy(), v0.copy()  # after
    cols = np.arange(pos.shape[1])
    for j, a, b, local, _ in group:
        dst = np.asarray(local)
        p[a - lo : b - lo, dst, j] = p0[a - lo : b - lo, cols, j]
        v[a - lo : b - lo, dst, j] = v0[a - lo : b - lo, cols, j]

    def spread(q: np.ndarray, ok: np.ndarray) -> float:
        if ok.sum() < 3:
            return np.nan
        pts = q[ok]
        return float(np.mean(planar_norm(*(pts - np.median(pts, axis=0)).T)))

    moved = ~((p == p0) | (np.isnan(p) & np.isnan(p0))).all(-1)  # (frames, n, K)
    # nothing changed, or the whole body did (compactness cannot tell those apart)
    judged = moved.any(-1) & ~(moved | ~v0).all(-1)
    ratios = []
    for t, c in zip(*np.nonzero(judged), strict=True):
        before, after = spread(p0[t, c], v0[t, c]), spread(p[t, c], v[t, c])
        if before > 0 and np.isfinite(after):
            ratios.append(after / before)
    return float(np.median(ratios)) if ratios else float("inf")


def find_partial_identity_swaps(
    tracks: Tracks,
    *,
    pcutoff: float | None = DEFAULT_PCUTOFF,
    ratio: float = 0.5,
    anchors: list[SwapEvent] | tuple[SwapEvent, ...] = (),
) -> list[SwapEvent]:
    """Parts of bodies exchanged between animals, and keypoints an identity fix left behind.

    :func:`find_identity_swaps` weighs whole animals, so an exchange of some of their
    keypoints (the network assembled a leg or a wing onto the other animal; or only the
    keypoints seen on both animals changed hands) is diluted by the keypoints that stayed,
    and fixing a whole-animal exchange moves keypoints that had not changed hands. Here each
    keypoint is tracked across the animals on its own (the same continuity test,
    :func:`_track_states`), and its swapped spans (both ends accepted transitions) are
    undone only inside an *anchor*: a whole-animal exchange already undone in ``tracks``
    (``anchors``), or a span where at least :data:`PARTIAL_MIN_KEYPOINTS` keypoints change
    hands between the same animals at the same two frames. A lone keypoint's exchange
    elsewhere (two animals' paws crossing) is left alone. Overlapping segments are undone
    together, and only when that makes the animals' bodies more compact
    (:data:`PARTIAL_MAX_SPREAD`): a keypoint that changed hands rejoins its own body.

    Parameters
    ----------
    tracks : Tracks
        Pose tracks, whole-animal swaps already undone (:func:`fix_identity_swaps`).
        Searched with 2 to :data:`EXHAUSTIVE_INDIVIDUALS` animals only (the search runs once
        per keypoint).
    pcutoff, ratio : float
        As in :func:`find_identity_swaps`.
    anchors : sequence of SwapEvent
        The whole-animal exchanges undone in ``tracks``.

    Returns
    -------
    list of SwapEvent
        ``kind="identity"`` events whose ``keypoints`` are the exchanged part, sorted by
        start frame; :func:`fix_identity_swaps` undoes them.
    """
    ind = _animal_individuals(tracks)
    if not 2 <= len(ind) <= EXHAUSTIVE_INDIVIDUALS or tracks.n_frames < 2:
        return []
    kps = np.flatnonzero(tracks.present[ind].all(0))
    if kps.size < 2:
        return []
    pos = tracks.xy[:, ind][:, :, kps]
    valid = _confident(tracks, pcutoff)[:, ind][:, :, kps]
    segments = _keypoint_segments(pos, valid, ratio)
    col = {tracks.individuals[i]: c for c, i in enumerate(ind)}
    spans = [(ev.start, ev.stop, {col[n] for n in ev.individuals if n in col})
             for ev in anchors if ev.kind == "identity"]
    together = Counter((a, b, local) for _, a, b, local, _ in segments)
    spans += [(a, b, set(_moved_columns(local)))
              for (a, b, local), n in together.items() if n >= PARTIAL_MIN_KEYPOINTS]
    inside = []
    for seg in segments:
        who_moves = set(_moved_columns(seg[3]))
        if any(lo <= seg[1] and seg[2] <= hi and who_moves <= who for lo, hi, who in spans):
            inside.append(seg)
    chosen: dict[tuple[int, int, tuple[int, ...]], list[tuple[int, float]]] = {}
    for group in _overlapping(inside):
        if _spread_ratio(pos, valid, group) <= PARTIAL_MAX_SPREAD:
            for j, a, b, local, g in group:
                chosen.setdefault((a, b, local), []).append((j, g))
    events = [_identity_event(tracks, ind, a, b, local, kps[[j for j, _ in found]],
                              sum(g for _, g in found))
              for (a, b, local), found in sorted(chosen.items())]
    logger.info("find_partial_identity_swaps: %d part(s) of bodies exchanged", len(events))
    return events


def _check_span(tracks: Tracks, ev: SwapEvent) -> None:
    if not 0 <= ev.start < ev.stop <= tracks.n_frames:
        raise ValueError(
            f"swap event span [{ev.start}, {ev.stop}) is outside the {tracks.n_frames} frames"
        )


def fix_identity_swaps(
    tracks: Tracks, events: list[SwapEvent]
) -> tuple[Tracks, list[Correction]]:
    """Undo identity swaps found by :func:`find_identity_swaps`.

    Parameters
    ----------
    tracks : Tracks
        The tracks the events were found on (not modified).
    events : list of SwapEvent
        Events with ``kind="identity"`` (others are ignored).

    Returns
    -------
    fixed : Tracks
        Corrected copy: in each span, the data stored under individual ``i`` are moved to
        ``permutation[i]`` (coordinates and likelihoods), for the event's keypoints that
        are present in every individual involved.
    corrections : list of Correction
        One record per applied event.
    """
    out = tracks.copy()
    corrections: list[Correction] = []
    for ev in events:
        if ev.kind != "identity":
            continue
        _check_span(tracks, ev)
        perm = np.asarray(ev.permutation, dtype=np.intp)
        if perm.shape != (tracks.n_individuals,) or sorted(perm.tolist()) != list(
            range(tracks.n_individuals)
        ):
            raise ValueError(f"identity event permutation {ev.permutation} is not a permutation")
        moved = np.flatnonzero(perm != np.arange(len(perm)))
        if moved.size == 0:
            continue
        named = np.isin(np.asarray(tracks.bodyparts, dtype=object), list(ev.keypoints))
        kps = np.flatnonzero(tracks.present[moved].all(0) & named)
        if kps.size == 0:
            continue
        sl = slice(ev.start, ev.stop)
        src_xy = tracks.xy[sl][:, moved][:, :, kps]
        dst = perm[moved]
        sub = out.xy[sl]
        sub[:, dst[:, None], kps[None, :]] = src_xy
        if tracks.likelihood is not None:
            src_l = tracks.likelihood[sl][:, moved][:, :, kps]
            out.likelihood[sl][:, dst[:, None], kps[None, :]] = src_l
        names = tracks.individuals
        corrections.append(
            Correction(
                kind="identity",
                start=ev.start,
                stop=ev.stop,
                individuals=tuple(names[i] for i in moved),
                keypoints=tuple(tracks.bodyparts[k] for k in kps),
                individual_map={names[i]: names[int(perm[i])] for i in moved},
                n_points=int(ev.n_frames * moved.size * kps.size),
            )
        )
    _log_fix(out, corrections)
    return out, corrections


def _log_fix(out: Tracks, corrections: list[Correction]) -> None:
    log = out.meta.setdefault("log", [])
    if isinstance(log, list):
        for c in corrections:
            log.append(
                {
                    "operation": f"fix_{'identity' if c.kind == 'identity' else 'lr'}_swaps",
                    "start": c.start,
                    "stop": c.stop,
                    "individuals": list(c.individuals),
                    "keypoints": list(c.keypoints),
                }
            )
    if corrections:
        logger.info("fixed %d swap segment(s)", len(corrections))


# --------------------------------------------------------------------------------------------
# left/right swaps
# --------------------------------------------------------------------------------------------
def _side_sign(xy: np.ndarray, ok: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Signed side of keypoint ``a`` relative to the axis midpoint(a, b) -> body rest.

    ``xy`` (T, K, 2) and ``ok`` (T, K) for one individual. Returns the signed distance (px) of
    ``a`` from that axis, NaN where undefined, and its validity.
    """
    others = np.ones(xy.shape[1], dtype=bool)
    others[[a, b]] = False
    w = ok[:, others]
    cnt = w.sum(1)
    rest = np.where(w[..., None], xy[:, others], 0.0).sum(1) / np.maximum(cnt, 1)[:, None]
    mid = 0.5 * (xy[:, a] + xy[:, b])
    axis = rest - mid
    norm = np.linalg.norm(axis, axis=-1)
    va = xy[:, a] - mid
    cross = axis[:, 0] * va[:, 1] - axis[:, 1] * va[:, 0]
    good = (cnt > 0) & ok[:, a] & ok[:, b] & (norm > 1e-6)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(good, cross / np.maximum(norm, 1e-12), np.nan), good


def find_lr_swaps(
    tracks: Tracks,
    pairs: list[tuple[str, str]] | list[tuple[int, int]] | None = None,
    *,
    pcutoff: float | None = DEFAULT_PCUTOFF,
    ratio: float = 0.5,
    min_gain: float | None = None,
    use_geometry: bool = True,
    min_side_margin: float = 0.25,
    strong_share: float = 0.5,
    require_geometry: bool = False,
    bridge: int = 0,
) -> list[SwapEvent]:
    """Detect stretches where the two keypoints of a left/right pair are exchanged.

    Parameters
    ----------
    tracks : Tracks
        Pose tracks (any number of individuals; ``"single"`` is skipped).
    pairs : list of pairs of names or indices, optional
        Keypoint pairs to check; default :func:`left_right_pairs` of ``tracks.bodyparts``. Any
        pair may be given (e.g. two keypoints whose positions can cross).
    pcutoff : float or None, default :data:`~.constants.DEFAULT_PCUTOFF`
        Points below this likelihood are ignored.
    ratio, min_gain
        Transition acceptance, as in :func:`find_identity_swaps`.
    use_geometry : bool, default True
        Classify each segment between transitions by which side of the body axis the pair sits
        on (needs at least one other keypoint); otherwise by the continuity state held over most
        frames.
    min_side_margin : float, default 0.25
        With geometry, a segment whose continuity state flipped is not swapped when the share
        of its frames on the reference side (the side ``a`` holds in most frames: chirality
        is learned from the file, so a camera below the animal is no problem) is above
        ``0.5 + min_side_margin``. Geometry alone never swaps.
    strong_share : float, default 0.5
        Each end of a swapped span inside the file must be a transition whose cost gain is
        at least this share of the pair's median distance (and ``min_gain``): the two points
        really jumped onto each other's places, seen on two consecutive frames with both
        points confident. Two points crossing while the animal curls gain little, and points
        that reappear after a dropout on other sides (the animal turned) prove nothing: both
        are left alone.
    require_geometry : bool, default False
        Also require the geometry to confirm (share below ``0.5 - min_side_margin``).
    bridge : int, default 0
        Join swapped stretches whose facing ends are both weak (the points came close and
        continuity lost them for a few frames) across at most this many frames, so that a
        span entered by a strong exchange and left by one is found whole even when the two
        points flickered in between. The joined span still needs strong evidence at its
        two outer ends.

    Returns
    -------
    list of SwapEvent
        ``kind="lr"``, one per swapped span and pair, sorted by (individual, start).
    """
    if pairs is None:
        idx_pairs = left_right_pairs(tracks.bodyparts)
    else:
        idx_pairs = []
        for p in pairs:
            if len(p) != 2:
                raise ValueError(f"a keypoint pair needs two entries, got {p!r}")
            ij = []
            for q in p:
                if isinstance(q, str):
                    if q not in tracks.bodyparts:
                        raise ValueError(
                            f"keypoint {q!r} not in bodyparts {tracks.bodyparts}"
                        )
                    ij.append(tracks.bodyparts.index(q))
                else:
                    if not 0 <= int(q) < tracks.n_keypoints:
                        raise ValueError(f"keypoint index {q} out of range")
                    ij.append(int(q))
            if ij[0] == ij[1]:
                raise ValueError(f"a keypoint pair needs two different keypoints, got {p!r}")
            idx_pairs.append((ij[0], ij[1]))
    events: list[SwapEvent] = []
    if not idx_pairs or tracks.n_frames < 2:
        return events
    conf = _confident(tracks, pcutoff)
    for i in _animal_individuals(tracks) or []:
        xy_i = tracks.xy[:, i]
        ok_i = conf[:, i]
        gain_px = _auto_min_gain(xy_i, ok_i) if min_gain is None else float(min_gain)
        for a, b in idx_pairs:
            if not (tracks.present[i, a] and tracks.present[i, b]):
                continue
            pos = xy_i[:, [a, b]][:, :, None]
            valid = ok_i[:, [a, b]][:, :, None]
            states, gain, _ = _track_states(pos, valid, ratio, gain_px)
            n_others = int((tracks.present[i] & ~np.isin(np.arange(tracks.n_keypoints), [a, b]))
                           .sum())
            if use_geometry and n_others > 0:
                side, good = _side_sign(xy_i, ok_i, a, b)
                # reference side: the side 'a' sits on in most frames
                ref_sign = 1.0 if np.sign(side[good]).sum() >= 0 else -1.0
                seg = np.concatenate([[0], np.flatnonzero(np.diff(states[:, 0])) + 1])
                seg_id = np.zeros(tracks.n_frames, dtype=np.intp)
                seg_id[seg[1:]] = 1
                seg_id = np.cumsum(seg_id)
                on_ref = np.where(good, np.sign(side) == ref_sign, False)
                n_good = np.bincount(seg_id, weights=good, minlength=len(seg))
                n_ref = np.bincount(seg_id, weights=on_ref, minlength=len(seg))
                with np.errstate(invalid="ignore", divide="ignore"):
                    share = n_ref / n_good
                geo_swapped = share < 0.5 - min_side_margin
                geo_ok = share > 0.5 + min_side_margin
                # first, do no harm: a segment is swapped only when the points' continuity
                # says so (they jumped onto each other's places); geometry may veto (the
                # pair clearly sits on its usual sides) but never swaps on its own: a
                # curled or rearing animal puts a pair on the "wrong" side legitimately
                cons_ref = _mode_state(states[:, :1], valid.any(-1).sum(-1).astype(float))[0]
                cont = states[seg, 0] != cons_ref
                dec = np.where(n_good > 0, cont & ~geo_ok, cont)
                if require_geometry:
                    dec &= np.where(n_good > 0, geo_swapped, False)
                swapped = dec[seg_id]
            else:
                ref = _mode_state(states[:, :1], valid.any(-1).sum(-1).astype(float))[0]
                swapped = states[:, 0] != ref
            if not swapped.any():
                continue
            # strong evidence at every end inside the file: the exchange must move the points
            # by a good share of their usual distance (points crossing gain little)
            # and seen on consecutive frames (not across a dropout, where the points may
            # come back on other sides because the animal turned)
            both = valid[:, :, 0].all(1)
            sep = np.linalg.norm(xy_i[:, a] - xy_i[:, b], axis=-1)[both]
            strong = max(gain_px, strong_share * float(np.median(sep))) if sep.size else gain_px
            seen = np.zeros(tracks.n_frames + 1, dtype=bool)
            seen[1:-1] = both[1:] & both[:-1]

            inside = np.zeros(tracks.n_frames + 1, dtype=bool)
            inside[1:-1] = True
            weak = inside & ~(seen & (np.append(gain, np.inf) >= strong))
            runs = list(zip(*true_runs(swapped), strict=True))
            if bridge > 0:
                runs = _bridge_weak_runs(runs, weak, bridge)
            for s, e in runs:
                if weak[s] or weak[e]:
                    logger.debug("lr swap %s-%s [%d, %d) rejected: weak evidence", a, b, s, e)
                    continue
                g = float(gain[s] + (gain[e] if e < tracks.n_frames else 0.0))
                events.append(
                    SwapEvent(
                        kind="lr",
                        start=int(s),
                        stop=int(e),
                        individuals=(tracks.individuals[i],),
                        keypoints=(tracks.bodyparts[a], tracks.bodyparts[b]),
                        permutation=(b, a),
                        cost_gain=g,
                    )
                )
    events.sort(key=lambda e: (tracks.individuals.index(e.individuals[0]), e.start))
    logger.info("find_lr_swaps: %d swapped span(s) over %d pair(s)", len(events), len(idx_pairs))
    return events


def _bridge_weak_runs(runs: list[tuple[int, int]], weak: np.ndarray, bridge: int
                      ) -> list[tuple[int, int]]:
    """Join consecutive swapped runs across weak flickers of at most ``bridge`` frames.

    Two runs join when their facing ends are both weak transitions; a chain is kept joined
    only when its outer ends are strong (otherwise its runs are returned as they were, to be
    judged one by one).
    """
    out: list[tuple[int, int]] = []
    j = 0
    while j < len(runs):
        k = j
        while (k + 1 < len(runs) and weak[runs[k][1]] and weak[runs[k + 1][0]]
               and runs[k + 1][0] - runs[k][1] <= bridge):
            k += 1
        s, e = runs[j][0], runs[k][1]
        if k > j and not weak[s] and not weak[e]:
            out.append((s, e))
        else:
            out.extend(runs[j:k + 1])
        j = k + 1
    return out


def fix_lr_swaps(tracks: Tracks, events: list[SwapEvent]) -> tuple[Tracks, list[Correction]]:
    """Undo left/right swaps found by :func:`find_lr_swaps`.

    Parameters
    ----------
    tracks : Tracks
        The tracks the events were found on (not modified).
    events : list of SwapEvent
        Events with ``kind="lr"``, ``"neighbour"`` or ``"reversal"`` (the two ends of the
        axis are exchanged; others are ignored).

    Returns
    -------
    fixed : Tracks
        Corrected copy with the two keypoints exchanged (coordinates and likelihoods) in each
        event's span.
    corrections : list of Correction
        One record per applied event.
    """
    out = tracks.copy()
    corrections: list[Correction] = []
    for ev in events:
        if ev.kind not in ("lr", "neighbour", "reversal"):
            continue
        _check_span(tracks, ev)
        if len(ev.individuals) != 1 or len(ev.keypoints) != 2:
            raise ValueError("a left/right event needs one individual and two keypoints")
        i = tracks.individuals.index(ev.individuals[0])
        a, b = (tracks.bodyparts.index(k) for k in ev.keypoints)
        sl = slice(ev.start, ev.stop)
        out.xy[sl, i, a] = tracks.xy[sl, i, b]
        out.xy[sl, i, b] = tracks.xy[sl, i, a]
        if tracks.likelihood is not None:
            out.likelihood[sl, i, a] = tracks.likelihood[sl, i, b]
            out.likelihood[sl, i, b] = tracks.likelihood[sl, i, a]
        ka, kb = ev.keypoints
        corrections.append(
            Correction(
                kind=ev.kind,
                start=ev.start,
                stop=ev.stop,
                individuals=ev.individuals,
                keypoints=ev.keypoints,
                keypoint_map={ka: kb, kb: ka},
                n_points=2 * ev.n_frames,
            )
        )
    _log_fix(out, corrections)
    return out, corrections


# --------------------------------------------------------------------------------------------
# neighbouring keypoints exchanged
# --------------------------------------------------------------------------------------------
NEIGHBOURS = 2
"""Each keypoint is checked against this many nearest keypoints of the animal's mean shape."""
SWAP_MIN_D2 = 8.0
"""A neighbour swap needs the pair's summed squared Mahalanobis distance from the pose prior's
prediction, median over the span, at least this high as observed: the observed configuration
is unusual for the body (where the prior fits, 90 % of right pairs lie below it: 7.8 for four
Gaussian degrees of freedom; 9.0 and 8.8 on openfield's and behaviordepot_demo1's confident
frames). The exchange itself is judged by the ratio and the share below. On protocol B's tuning
files with only neighbour swaps injected (30 seeds each, 1,105 spans continuity found), 8
undoes 668 spans, the prior's ``d2_low`` of 20 (the first setting) 588; none of the 160
spans continuity found that were no injected swap is undone at either, nor anything on the
files' clean tracks or the real-error pair (where continuity finds no span):
``benchmarks/bench_neighbour_swaps.py``, ``docs/benchmarks/neighbour_swaps.md``."""
SWAP_MIN_RATIO = 4.0
"""... and at least this many times the median with the two points exchanged back."""
SWAP_MIN_SHARE = 0.8
"""... and the exchanged configuration more plausible in at least this share of its frames."""
NEIGHBOUR_BRIDGE = 10
"""Frames across which :func:`find_neighbour_swaps` joins continuity's swapped stretches broken
by a flicker (two leg segments of a fly that touch): on protocol B's tuning files it finds
sleap_centered_pair's 130-frame forelegR1/forelegR2 exchange whole (it was missed as five
stretches, none with two strong ends), and no swap appears on their clean tracks or on the
real-error pair."""


def neighbour_pairs(mean: np.ndarray, n: int = NEIGHBOURS,
                    exclude: list[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """Pairs of neighbouring keypoints: each keypoint with its ``n`` nearest in ``mean``.

    Parameters
    ----------
    mean : np.ndarray
        ``(K, 2)`` mean shape of the animal (:attr:`~.pose_prior.PosePrior.mean`).
    n : int
        Neighbours per keypoint.
    exclude : list of (int, int), optional
        Pairs left out (in either order), e.g. the left/right pairs.

    Returns
    -------
    list of (int, int)
        Sorted ``(a, b)`` with ``a < b``, each once.
    """
    mean = np.asarray(mean, np.float64)
    d = np.linalg.norm(mean[:, None] - mean[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    skip = {tuple(sorted(p)) for p in (exclude or [])}
    out: set[tuple[int, int]] = set()
    for k in range(len(mean)):
        for j in np.argsort(d[k], kind="stable")[:n].tolist():
            pair = (min(k, j), max(k, j))
            if np.isfinite(d[k, j]) and pair not in skip:
                out.add(pair)
    return sorted(out)


@dataclass(frozen=True)
class NeighbourCandidate:
    """A span continuity finds for two neighbouring keypoints, with the body's evidence.

    Attributes
    ----------
    event : SwapEvent
        The span, ``kind="neighbour"`` (what :func:`find_neighbour_swaps` returns when the
        evidence holds).
    seen, exchanged : float
        Median over the span's frames where both points are confident of the pair's summed
        squared Mahalanobis distance from the pose prior's prediction, as observed and with
        the two points exchanged back.
    share : float
        Share of those frames where the exchanged pair is the more plausible.
    n_frames : int
        Those frames.
    """

    event: SwapEvent
    seen: float
    exchanged: float
    share: float
    n_frames: int

    def holds(self, min_d2: float = SWAP_MIN_D2, min_ratio: float = SWAP_MIN_RATIO,
              min_share: float = SWAP_MIN_SHARE) -> bool:
        """Whether the body's evidence undoes the span at these thresholds.

        The pair at least ``min_d2`` as seen, at least ``min_ratio`` times lower exchanged
        back, and lower exchanged back in at least ``min_share`` of the frames.
        """
        return (self.seen >= min_d2 and self.exchanged * min_ratio <= self.seen
                and self.share >= min_share)


def neighbour_swap_candidates(
    tracks: Tracks,
    *,
    pcutoff: float | None = DEFAULT_PCUTOFF,
    n_neighbours: int = NEIGHBOURS,
    seed: int = 0,
    bridge: int = NEIGHBOUR_BRIDGE,
) -> list[NeighbourCandidate]:
    """The spans continuity finds for neighbouring keypoints, each with the body's evidence.

    The first half of :func:`find_neighbour_swaps` (its parameters), before any threshold:
    for benchmarks that choose the thresholds (``benchmarks/bench_neighbour_swaps.py``).

    Returns
    -------
    list of NeighbourCandidate
        Sorted by (individual, start).
    """
    out: list[NeighbourCandidate] = []
    if tracks.n_frames < 2 or tracks.n_keypoints < 3:
        return out
    conf = _confident(tracks, pcutoff)
    lr = left_right_pairs(tracks.bodyparts)
    for i in _animal_individuals(tracks):
        xy = tracks.xy[:, i]
        ok = conf[:, i]
        prior = fit_pose_prior(xy, ok, seed=seed)
        if prior is None:
            continue
        # keypoints the prior leaves out have no place in its mean shape
        pairs = neighbour_pairs(np.where(prior.known[:, None], prior.mean, np.nan),
                                n_neighbours, exclude=lr)
        name = tracks.individuals[i]
        one = tracks.select(individuals=[name]) if tracks.n_individuals > 1 else tracks
        for ev in find_lr_swaps(one, pairs=pairs, pcutoff=pcutoff, use_geometry=False,
                                bridge=bridge):
            a, b = (tracks.bodyparts.index(k) for k in ev.keypoints)
            rows = np.arange(ev.start, ev.stop)
            both = ok[rows][:, [a, b]].all(1)
            if not both.any():  # no frame where both points are confident: nothing to judge
                continue
            # the body as observed and with the two points exchanged back, both over the
            # span's frames: which evidence sets judge a frame is chosen over the frames
            # computed together (:func:`~.pose_prior.pose_evidence`), so the two sides are
            # judged alike only over the same frames (the observed side over the whole file
            # left frames with a rare set of confident points unjudged, counted as 0)
            perm = np.arange(xy.shape[1])
            perm[[a, b]] = [b, a]
            seen_d2 = pose_evidence(prior, xy[rows], ok[rows]).d2
            back_d2 = pose_evidence(prior, xy[rows][:, perm], ok[rows][:, perm]).d2
            seen = np.nansum(seen_d2[:, [a, b]], 1)[both]
            back = np.nansum(back_d2[:, [a, b]], 1)[both]
            out.append(NeighbourCandidate(
                event=SwapEvent(kind="neighbour", start=ev.start, stop=ev.stop,
                                individuals=(name,), keypoints=ev.keypoints,
                                permutation=ev.permutation, cost_gain=ev.cost_gain),
                seen=float(np.median(seen)), exchanged=float(np.median(back)),
                share=float(np.mean(back < seen)), n_frames=int(both.sum())))
    out.sort(key=lambda c: (tracks.individuals.index(c.event.individuals[0]), c.event.start))
    return out


def find_neighbour_swaps(
    tracks: Tracks,
    *,
    pcutoff: float | None = DEFAULT_PCUTOFF,
    n_neighbours: int = NEIGHBOURS,
    min_d2: float = SWAP_MIN_D2,
    min_ratio: float = SWAP_MIN_RATIO,
    min_share: float = SWAP_MIN_SHARE,
    seed: int = 0,
    bridge: int = NEIGHBOUR_BRIDGE,
) -> list[SwapEvent]:
    """Detect stretches where two neighbouring keypoints of one animal are exchanged.

    A network can put two nearby parts on each other's places for a stretch (the tail base
    on a hip and the hip on the tail base), both with a high likelihood; no single point
    looks wrong on its own. Each keypoint is paired with its ``n_neighbours`` nearest in the
    animal's mean shape (left/right pairs are :func:`find_lr_swaps`' job and left out).
    A span is undone only on two kinds of evidence that hold together:

    * continuity: the two points jumped onto each other's places at both ends of the span,
      on consecutive confident frames (:func:`find_lr_swaps` without geometry, with its
      ``strong_share`` rule);
    * the body: the animal's own pose prior (:func:`~.pose_prior.fit_pose_prior` on its
      confident frames) finds the pair unusual as observed (median summed ``d2`` of the
      two points over the span's frames where both are confident at least ``min_d2``) and
      plausible exchanged back (that median at least ``min_ratio`` times lower, and lower in
      at least ``min_share`` of those frames).

    Two legs crossing, or a part that really moved next to another, fail the second test.

    Parameters
    ----------
    tracks : Tracks
        Pose tracks (animals with at least three keypoints; ``"single"`` is skipped).
    pcutoff : float or None
        Points below this likelihood are neither followed nor used as evidence.
    n_neighbours : int
        Neighbours per keypoint (:func:`neighbour_pairs`).
    min_d2, min_ratio, min_share : float
        The body's evidence, above (defaults :data:`SWAP_MIN_D2`, :data:`SWAP_MIN_RATIO`,
        :data:`SWAP_MIN_SHARE`, chosen on protocol B's tuning files).
    seed : int
        Seed of the pose prior's frame subsample.
    bridge : int
        Continuity's swapped stretches are joined across at most this many frames where
        the two points came close and continuity lost them (weak transitions on both
        sides, :func:`find_lr_swaps`' ``bridge``); the joined span still needs a strong
        exchange at both outer ends and the body's evidence over all of it.

    Returns
    -------
    list of SwapEvent
        ``kind="neighbour"``, sorted by (individual, start).
    """
    events: list[SwapEvent] = []
    for c in neighbour_swap_candidates(tracks, pcutoff=pcutoff, n_neighbours=n_neighbours,
                                       seed=seed, bridge=bridge):
        if not c.holds(min_d2, min_ratio, min_share):
            logger.debug("neighbour swap %s-%s [%d, %d) rejected by the body: d2 %.1f seen, "
                         "%.1f exchanged, %.2f of frames", *c.event.keypoints, c.event.start,
                         c.event.stop, c.seen, c.exchanged, c.share)
            continue
        events.append(c.event)
    logger.info("find_neighbour_swaps: %d swapped span(s)", len(events))
    return events


# --------------------------------------------------------------------------------------------
# front/back reversals
# --------------------------------------------------------------------------------------------
def _axis_pair(xy: np.ndarray, ok: np.ndarray, present: np.ndarray,
               max_rows: int = 5000) -> tuple[int, int] | None:
    """The two keypoints furthest apart in the median pose (the body's long axis).

    Medians over at most ``max_rows`` evenly spaced frames.
    """
    from .skeleton import median_distances

    sub = np.flatnonzero(present)
    if sub.size < 2:
        return None
    rows = sample_rows(xy.shape[0], max_rows)
    both = ok[rows][:, sub]
    if (both.sum(1) >= 2).sum() < 50:
        return None
    d = median_distances(xy[rows][:, sub], both)
    np.fill_diagonal(d, np.nan)
    if not np.isfinite(d).any():
        return None
    a, b = np.unravel_index(int(np.nanargmax(d)), d.shape)
    return int(sub[a]), int(sub[b])


def _wrap(angle: np.ndarray) -> np.ndarray:
    return np.angle(np.exp(1j * angle))


def find_reversals(
    tracks: Tracks,
    *,
    pcutoff: float | None = DEFAULT_PCUTOFF,
    min_angle: float = 120.0,
    stable_frames: int = 5,
    stable_angle: float = 30.0,
    min_span: int = 10,
    max_span: int = 300,
    min_forward: float = 0.6,
) -> list[SwapEvent]:
    """Detect stretches where the network put the animal's front at its back and vice versa.

    A weak network sometimes takes the tail end for the head: for tens of frames the tail
    base sits on the head with a high likelihood and the snout and ears on the tail base.
    Every keypoint is then wrong and the body looks whole, so no rule on one keypoint or on
    the pose sees it. What gives it away is the body's long axis (the two keypoints furthest
    apart in the median pose, e.g. snout and tail base): it turns by about 180 degrees
    between two frames, far faster than the animal ever turns, one of its ends jumping by
    half a body length from one frame to the next (a curling animal moves them smoothly),
    and it turns back later.

    Parameters
    ----------
    tracks : Tracks
        Pose tracks (any number of individuals; every point of the axis pair is used,
        whatever its likelihood, where the axis has a plausible length).
    pcutoff : float or None, default :data:`~.constants.DEFAULT_PCUTOFF`
        Confident points (the axis length and the animal's turning speed are measured on
        them).
    min_angle : float, default 120
        Degrees the axis must turn between two consecutive usable frames; at least 1.5 times
        the file's own 99th percentile turn per frame times the frames between them.
    stable_frames, stable_angle
        The axis must hold its direction (within ``stable_angle`` degrees, median) over
        ``stable_frames`` usable frames on each side of the turn: a single odd frame is no
        reversal.
    min_span, max_span : int, default 10 and 300
        Shorter reversed stretches are left to the jump rules (a few frames of a body
        thrown about by jumps of several keypoints look the same); longer ones are left alone
        (a network rarely stays wrong so long; a misread turn would be costly).
    min_forward : float, default 0.6
        The front is learned from the file's own motion: outside the reversed stretches,
        more than this share of the moving frames (or less than ``1 - min_forward``) must
        go towards one end of the axis, else nothing is reversed (an axis across the body,
        such as two wing tips, or an animal with no preferred direction). A stretch in
        which the animal would then move backwards most of the time (at least 10 moving
        frames) is not reversed.

    Returns
    -------
    list of SwapEvent
        ``kind="reversal"``, one per reversed stretch and individual; ``keypoints`` is the
        axis pair, whose positions and likelihoods :func:`fix_lr_swaps` exchanges. The other
        keypoints of the animal are wrong in the stretch as well; cleaning flags them.
    """
    events: list[SwapEvent] = []
    if tracks.n_frames < 2 * stable_frames + 2:
        return events
    conf = _confident(tracks, pcutoff)
    finite = np.isfinite(tracks.xy).all(-1) & tracks.present[None]
    for i in _animal_individuals(tracks):
        xy_i = tracks.xy[:, i]
        pair = _axis_pair(xy_i, conf[:, i], tracks.present[i])
        if pair is None:
            continue
        f, b = pair
        axis = xy_i[:, f] - xy_i[:, b]
        length = np.linalg.norm(axis, axis=-1)
        both_conf = conf[:, i, f] & conf[:, i, b]
        if both_conf.sum() < 50:
            continue
        med = float(np.median(length[both_conf]))
        if not med > 0:
            continue
        with np.errstate(invalid="ignore"):
            usable = (finite[:, i, f] & finite[:, i, b]
                      & (length > 0.5 * med) & (length < 1.5 * med))
        phi = np.arctan2(axis[:, 1], axis[:, 0])
        cf = np.flatnonzero(usable & both_conf)
        one = np.diff(cf) == 1
        if one.sum() < 50:
            continue
        turn = float(np.quantile(np.abs(_wrap(np.diff(phi[cf])))[one], 0.99))
        vf = np.flatnonzero(usable)
        if vf.size < 2 * stable_frames + 2:
            continue
        d = _wrap(np.diff(phi[vf]))
        gap = np.diff(vf)
        need = np.maximum(np.deg2rad(min_angle), 1.5 * gap * turn)
        cand = np.flatnonzero(np.abs(d) > need)
        # one end of the axis must jump by half the body in one frame somewhere in the turn:
        # an animal curling round (snout past the tail base) moves every point smoothly
        jump = np.zeros(tracks.n_frames, bool)
        for k in (f, b):
            step = np.linalg.norm(np.diff(xy_i[:, k], axis=0), axis=-1)
            with np.errstate(invalid="ignore"):
                jump[1:] |= step > 0.5 * med
        flips: list[int] = []  # positions in vf where the new direction begins
        for j in cand:
            lo, hi = j + 1 - stable_frames, j + 1 + stable_frames
            if lo < 0 or hi > vf.size or not jump[vf[j] + 1:vf[j + 1] + 1].any():
                continue
            before = np.abs(_wrap(phi[vf[lo:j + 1]] - phi[vf[j]]))
            after = np.abs(_wrap(phi[vf[j + 1:hi]] - phi[vf[j + 1]]))
            if (np.median(before) < np.deg2rad(stable_angle)
                    and np.median(after) < np.deg2rad(stable_angle)):
                flips.append(int(j + 1))
        if not flips:
            continue
        seg = np.zeros(vf.size, dtype=np.intp)
        seg[flips] = 1
        seg = np.cumsum(seg)
        odd = seg % 2 == 1
        reversed_parity = odd.sum() < (~odd).sum()  # the network is right most of the time
        rev = odd if reversed_parity else ~odd
        # motion: the midpoint of the axis does not move when the labels reverse
        mid = 0.5 * (xy_i[:, f] + xy_i[:, b])
        vel = np.full_like(mid, np.nan)
        vel[2:-2] = (mid[4:] - mid[:-4]) / 4.0
        unit = axis / np.where(length > 0, length, np.nan)[:, None]
        fwd = np.sum(vel * unit, axis=-1)
        speed = np.linalg.norm(vel, axis=-1)
        with np.errstate(invalid="ignore"):
            moving = np.isfinite(fwd) & (speed > np.nanmedian(speed))
        mv_ok = moving[vf] & ~rev
        share = float((fwd[vf][mv_ok] > 0).mean()) if mv_ok.sum() >= 50 else 0.5
        if not (share > min_forward or share < 1.0 - min_forward):
            logger.info("reversals of %s not fixed: its motion shows no front (%.2f of the "
                        "moving frames go towards %s)", tracks.individuals[i], share,
                        tracks.bodyparts[f])
            continue
        sign = 1.0 if share >= 0.5 else -1.0
        for s, e in zip(*true_runs(rev), strict=True):
            start, stop = int(vf[s]), int(vf[e - 1]) + 1
            if not min_span <= stop - start <= max_span:
                logger.info("reversal %s [%d, %d) not fixed: not %d-%d frames long",
                            tracks.individuals[i], start, stop, min_span, max_span)
                continue
            m = moving[vf[s:e]]
            if m.sum() >= 10:
                # once reversed back, the axis points the other way: forward becomes -fwd
                back_fwd = float((-sign * fwd[vf[s:e]][m] > 0).mean())
                if back_fwd <= 0.5:
                    logger.info("reversal %s [%d, %d) not fixed: the animal would move "
                                "backwards", tracks.individuals[i], start, stop)
                    continue
            ends = [j for j in (s, e) if 0 < j < vf.size]
            events.append(SwapEvent(
                kind="reversal", start=start, stop=stop,
                individuals=(tracks.individuals[i],),
                keypoints=(tracks.bodyparts[f], tracks.bodyparts[b]), permutation=(b, f),
                cost_gain=float(np.rad2deg(np.mean([abs(d[j - 1]) for j in ends]))),
            ))
    logger.info("find_reversals: %d reversed span(s)", len(events))  # by individual, start
    return events
