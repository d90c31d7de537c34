"""First, do no harm: left/right swaps are undone only on strong, sustained evidence.

Generated animals with six keypoints turn fast, curl and rear; one is filmed from below (its
left/right labels are mirrored for the whole file). None of them holds a swap, so nothing may
be swapped; a genuine exchange in the same motion must still be found.
"""

from __future__ import annotations

import numpy as np
import pytest

from stablemotion_dlc.dlc.identity import find_lr_swaps, fix_lr_swaps
from stablemotion_dlc.dlc.tracks import Tracks

NAMES = ["snout", "leftear", "rightear", "left_midside", "right_midside", "tailbase"]


def _animal(n: int = 900, seed: int = 0, mirrored: bool = False) -> np.ndarray:
    """(T, 1, 6, 2) positions of an animal that walks, turns fast, curls and rears."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    heading = np.cumsum(rng.normal(0, 0.05, n))
    for s in rng.choice(n - 20, 8, replace=False):  # fast turns: up to 40 degrees per frame
        step = np.deg2rad(rng.uniform(20, 40)) * rng.choice([-1, 1])
        heading[s:s + 6] += step * np.arange(1, 7)
        heading[s + 6:] += 6 * step
    curl = np.clip(np.sin(t / 60.0) * 1.4, -1.2, 1.2)  # body bends left and right
    rear = 1.0 - 0.55 * (np.sin(t / 97.0) > 0.7)  # rearing: the body shortens in the image
    centre = np.cumsum(rng.normal(0, 1.5, (n, 2)), 0) + 300
    pts = np.zeros((n, 6, 2))
    L = 60.0 * rear
    # body axis bent by `curl`: tail end swings sideways, midsides follow the bend
    pts[:, 0] = np.stack([L * 0.5, 0 * L], -1)
    pts[:, 1] = np.stack([L * 0.3, -8 + 0 * L], -1)
    pts[:, 2] = np.stack([L * 0.3, 8 + 0 * L], -1)
    mid_x, mid_y = -0.05 * L, 12 * curl
    pts[:, 3] = np.stack([mid_x, mid_y - 10], -1)
    pts[:, 4] = np.stack([mid_x, mid_y + 10], -1)
    pts[:, 5] = np.stack([-0.5 * L * np.cos(curl), 0.5 * L * np.sin(curl) + 12 * curl], -1)
    c, s = np.cos(heading), np.sin(heading)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    xy = centre[:, None] + np.einsum("tij,tkj->tki", rot, pts)
    xy += rng.normal(0, 0.7, xy.shape)
    if mirrored:  # filmed from below: the labeller's left is the image's right
        xy = xy[:, [0, 2, 1, 4, 3, 5]]
    return xy[:, None]


def _tracks(xy: np.ndarray) -> Tracks:
    return Tracks.from_arrays(xy, np.full(xy.shape[:3], 0.97), bodyparts=NAMES)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mirrored", [False, True])
def test_no_swap_in_clean_motion(seed, mirrored):
    tr = _tracks(_animal(seed=seed, mirrored=mirrored))
    assert find_lr_swaps(tr) == []


@pytest.mark.parametrize("mirrored", [False, True])
def test_genuine_swap_still_found(mirrored):
    truth = _animal(seed=4, mirrored=mirrored)
    xy = truth.copy()
    xy[300:360, 0, [1, 2]] = truth[300:360, 0, [2, 1]]
    events = find_lr_swaps(_tracks(xy))
    spans = [(e.start, e.stop, e.keypoints) for e in events]
    assert spans == [(300, 360, ("leftear", "rightear"))]
    fixed, _ = fix_lr_swaps(_tracks(xy), events)
    np.testing.assert_array_equal(fixed.xy, truth)


def test_mirrored_curling_animal_has_no_identity_or_lr_correction():
    """Neither fixer corrects anything on a clean, mirrored, curling animal."""
    from stablemotion_dlc.dlc.identity import find_identity_swaps

    tr = _tracks(_animal(seed=7, mirrored=True))
    assert find_identity_swaps(tr) == []
    fixed, corr = fix_lr_swaps(tr, find_lr_swaps(tr))
    assert corr == []
    np.testing.assert_array_equal(fixed.xy, tr.xy)

def _side_view(n: int = 900, seed: int = 0, gap: int = 6) -> Tracks:
    """Side camera: the animal walks left and right; at each turn its near and far sides
    exchange places in the image while the midside points are hidden (low likelihood)."""
    rng = np.random.default_rng(seed)
    turns = np.sort(rng.choice(np.arange(60, n - 60), 5, replace=False))
    sgn = np.ones(n)
    for tt in turns:
        sgn[tt:] *= -1
    k = np.hanning(15)
    d = np.convolve(np.pad(sgn, 7, mode="edge"), k / k.sum(), mode="valid")
    x = 300 + np.cumsum(2.0 * d)
    y = 300 + np.cumsum(rng.normal(0, 0.5, n))
    pts = np.zeros((n, 6, 2))
    pts[:, 0] = np.stack([x + 40 * d, y], -1)
    pts[:, 5] = np.stack([x - 40 * d, y], -1)
    pts[:, 1] = np.stack([x + 25 * d, y - 20], -1)
    pts[:, 2] = np.stack([x + 25 * d, y - 8], -1)
    pts[:, 3] = np.stack([x, y + np.where(d > 0, 20, -5)], -1)  # near side is lower
    pts[:, 4] = np.stack([x, y + np.where(d > 0, -5, 20)], -1)
    xy = pts + rng.normal(0, 1.0, pts.shape)
    lik = np.full((n, 1, 6), 0.97)
    for tt in turns:
        lik[tt - gap // 2: tt + gap // 2, 0, 3:5] = 0.2
    return Tracks.from_arrays(xy[:, None], lik, bodyparts=NAMES)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("gap", [0, 6])
def test_side_view_turns_are_not_swaps(seed, gap):
    """Left/right sides legitimately trade places in the image when a side-viewed animal
    turns; the chirality is not a fixed property of the file."""
    assert find_lr_swaps(_side_view(seed=seed, gap=gap)) == []


def _two_animals(n: int = 600, seed: int = 0) -> np.ndarray:
    """(T, 2, 6, 2): two animals walking side by side, 100 px apart."""
    rng = np.random.default_rng(seed)
    body = np.array([[30, 0], [18, -8], [18, 8], [0, -10], [0, 10], [-30, 0]], float)
    path = np.cumsum(rng.normal(0, 1.0, (n, 2)), 0) + np.array([200.0, 300.0])
    xy = np.stack([path[:, None] + body, path[:, None] + body + [0.0, 100.0]], 1)
    return xy + rng.normal(0, 0.5, xy.shape)


@pytest.mark.parametrize("seed", [0, 1])
def test_missed_swap_start_moves_nothing_outside_the_swap(seed):
    """A swap whose start is ambiguous (half the keypoints change animal one frame early) but
    whose end is clear: which side of the file is swapped is unknown, so the long clean
    stretch before it must not be exchanged (it was, over 100 frames, before the fix)."""
    from stablemotion_dlc.dlc.identity import find_identity_swaps, fix_identity_swaps

    xy = _two_animals(seed=seed)
    bad = xy.copy()
    bad[101:110] = xy[101:110, ::-1]
    bad[100, :, :3] = xy[100, ::-1, :3]  # ambiguous start
    tr = Tracks.from_arrays(bad, np.full(bad.shape[:3], 0.97), bodyparts=NAMES,
                            individuals=["a", "b"])
    fixed, _ = fix_identity_swaps(tr, find_identity_swaps(tr))
    moved = np.linalg.norm(fixed.xy - bad, axis=-1) > 2
    outside = np.ones(len(xy), bool)
    outside[100:110] = False
    assert not moved[outside].any()


@pytest.mark.parametrize("seed", [0, 1])
def test_ambiguous_swap_start_is_undone_keypoint_by_keypoint(seed):
    """The same swap, with the per-keypoint search after the whole-animal one: each keypoint
    changes animal at a clear frame (three at 100, three at 101) and back at 110, so the
    ten frames are put back exactly and nothing outside them moves."""
    from stablemotion_dlc.dlc.identity import (
        find_identity_swaps,
        find_partial_identity_swaps,
        fix_identity_swaps,
    )

    xy = _two_animals(seed=seed)
    bad = xy.copy()
    bad[101:110] = xy[101:110, ::-1]
    bad[100, :, :3] = xy[100, ::-1, :3]
    tr = Tracks.from_arrays(bad, np.full(bad.shape[:3], 0.97), bodyparts=NAMES,
                            individuals=["a", "b"])
    whole = find_identity_swaps(tr)
    fixed = fix_identity_swaps(tr, whole)[0] if whole else tr
    parts = find_partial_identity_swaps(fixed, anchors=whole)
    assert {(e.start, e.stop) for e in parts} == {(100, 110), (101, 110)}
    fixed, corr = fix_identity_swaps(fixed, parts)
    np.testing.assert_array_equal(fixed.xy, xy)
    assert all(c.kind == "identity" for c in corr)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_curling_animals_close_together_exchange_nothing(seed):
    """Two animals that turn fast, curl and rear 40 px apart: their keypoints pass close to
    the other animal's, and no part of a body is exchanged."""
    from stablemotion_dlc.dlc.identity import find_identity_swaps, find_partial_identity_swaps

    a, b = _animal(seed=seed), _animal(seed=seed + 10)
    b = b - b.mean((0, 1, 2)) + a.mean((0, 1, 2)) + [0.0, 40.0]
    xy = np.concatenate([a, b], 1)
    tr = Tracks.from_arrays(xy, np.full(xy.shape[:3], 0.97), bodyparts=NAMES,
                            individuals=["a", "b"])
    assert find_identity_swaps(tr) == []
    assert find_partial_identity_swaps(tr) == []


def test_clear_identity_swap_is_still_undone():
    from stablemotion_dlc.dlc.identity import find_identity_swaps, fix_identity_swaps

    xy = _two_animals(seed=3)
    bad = xy.copy()
    bad[200:260] = xy[200:260, ::-1]
    tr = Tracks.from_arrays(bad, np.full(bad.shape[:3], 0.97), bodyparts=NAMES,
                            individuals=["a", "b"])
    fixed, _ = fix_identity_swaps(tr, find_identity_swaps(tr))
    np.testing.assert_allclose(fixed.xy, xy)


# -------------------------------------------------------------------- neighbouring keypoints
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mirrored", [False, True])
def test_no_neighbour_swap_in_clean_motion(seed, mirrored):
    """Fast turns, curling and rearing move neighbouring parts past each other's usual
    places; nothing is exchanged."""
    from stablemotion_dlc.dlc.identity import find_neighbour_swaps

    assert find_neighbour_swaps(_tracks(_animal(seed=seed, mirrored=mirrored))) == []


@pytest.mark.parametrize("seed", range(4))
def test_side_view_turns_are_not_neighbour_swaps(seed):
    from stablemotion_dlc.dlc.identity import find_neighbour_swaps

    assert find_neighbour_swaps(_side_view(seed=seed)) == []


@pytest.mark.parametrize("mirrored", [False, True])
def test_neighbour_swap_found_and_undone(mirrored):
    """The tail base put on a midside and the midside on the tail base for 60 frames, both
    confident: no left/right pair, so only the neighbour search finds it."""
    from stablemotion_dlc.dlc.identity import find_neighbour_swaps

    truth = _animal(seed=4, mirrored=mirrored)
    side = 4 if not mirrored else 3  # the labeller's right_midside
    xy = truth.copy()
    xy[300:360, 0, [side, 5]] = truth[300:360, 0, [5, side]]
    tr = _tracks(xy)
    assert find_lr_swaps(tr) == []
    events = find_neighbour_swaps(tr)
    assert [(e.kind, e.start, e.stop, set(e.keypoints)) for e in events] == [
        ("neighbour", 300, 360, {NAMES[side], "tailbase"})]
    fixed, corr = fix_lr_swaps(tr, events)
    np.testing.assert_array_equal(fixed.xy, truth)
    assert corr[0].kind == "neighbour" and corr[0].n_points == 120


def test_neighbour_swap_of_nearby_parts_is_found():
    """The snout and an ear 14 px apart, exchanged for 60 frames: the body finds the pair
    only moderately unusual as seen (summed d2 about 11, under the prior's ``d2_low`` of 20
    that was needed first) but over four times more plausible exchanged back in every frame:
    found and undone."""
    from stablemotion_dlc.dlc.identity import SWAP_MIN_D2, find_neighbour_swaps

    truth = _animal(seed=4)
    xy = truth.copy()
    xy[300:360, 0, [0, 1]] = truth[300:360, 0, [1, 0]]
    tr = _tracks(xy)
    assert find_neighbour_swaps(tr, min_d2=20.0) == []
    events = find_neighbour_swaps(tr)
    assert SWAP_MIN_D2 < 20.0
    assert [(e.start, e.stop, set(e.keypoints)) for e in events] == [
        (300, 360, {"snout", "leftear"})]
    fixed, _ = fix_lr_swaps(tr, events)
    np.testing.assert_array_equal(fixed.xy, truth)


def test_swapped_stretches_join_only_across_weak_flickers():
    """``bridge`` joins stretches whose facing ends are weak and close, and only into a span
    with two strong outer ends; anything else is left to be judged stretch by stretch."""
    from stablemotion_dlc.dlc.identity import _bridge_weak_runs

    weak = np.zeros(501, bool)
    weak[[140, 146, 150, 153]] = True  # flickers between 100 and 200; 300-400 is strong
    runs = [(100, 140), (146, 150), (153, 200), (300, 340), (346, 400)]
    assert _bridge_weak_runs(runs, weak, 10) == [(100, 200), (300, 340), (346, 400)]
    assert _bridge_weak_runs(runs, weak, 0) == runs
    # too short a bridge for the first gap: the rest starts weak, nothing is joined
    assert _bridge_weak_runs(runs, weak, 4) == runs
    weak[100] = True  # a weak outer end: the chain is not joined
    assert _bridge_weak_runs(runs, weak, 10) == runs


def _flies_with_protocol_b_errors(shared_data, seed: int):
    """sleap_centered_pair (a tuning file), protocol B's errors of ``seed`` and the tracks
    with them: (clean tracks, case, corrupted tracks)."""
    from stablemotion_dlc.dlc.io import read_tracks
    from stablemotion_dlc.evaluate.protocol import corrupt_independent

    tr = read_tracks(shared_data / "sleap_centered_pair" / "centered_pair_predictions_DLC.h5")
    case = corrupt_independent(tr.xy, tr.likelihood, seed=seed, rate=0.05,
                               individuals=tr.individuals)
    bad = tr.copy()
    bad.xy, bad.likelihood = case.xy.copy(), case.likelihood.copy()
    bad.meta.pop("raw_points", None)
    return tr, case, bad


def test_neighbour_swap_broken_by_a_flicker_is_found_whole(shared_data):
    """sleap_centered_pair with protocol B's errors (a tuning file): a fly's forelegR1 and
    forelegR2 exchanged for 130 frames, both confident; where the two segments touch,
    continuity loses them and sees five stretches, none with two strong ends. Joined across
    the flicker it is found whole (and only it)."""
    from stablemotion_dlc.dlc.identity import find_neighbour_swaps

    _, _, bad = _flies_with_protocol_b_errors(shared_data, seed=0)
    assert find_neighbour_swaps(bad, bridge=0) == []
    events = find_neighbour_swaps(bad)
    assert [(e.individuals, set(e.keypoints), e.start, e.stop) for e in events] == [
        (("track_2",), {"forelegR1", "forelegR2"}, 857, 987)]


def test_neighbour_swap_is_judged_over_the_same_frames_both_ways(shared_data):
    """sleap_centered_pair with protocol B's errors, seed 2 (a tuning file): track_2's
    hindlegL1 and hindlegL2 exchanged over frames 512-532. With 24 keypoints a fly has more
    sets of confident points than the pose prior judges (the most frequent, chosen over the
    frames computed together); judged as seen over the whole file and exchanged back over
    the span, the rare sets counted 0 on one side only and the exchange was refused. Judged
    over the span's frames both ways it is undone, with the file's two other exchanges."""
    from stablemotion_dlc.dlc.identity import find_neighbour_swaps

    tr, case, bad = _flies_with_protocol_b_errors(shared_data, seed=2)
    found = {(e.individuals, frozenset(e.keypoints), e.start, e.stop)
             for e in find_neighbour_swaps(bad)}
    injected = {(("track_1", "track_2")[e["individuals"][0]],
                 frozenset(tr.bodyparts[k] for k in e["keypoints"]), e["start"], e["stop"])
                for e in case.events if e["kind"] == "neighbour_swap"}
    assert (("track_2",), frozenset({"hindlegL1", "hindlegL2"}), 512, 532) in found
    assert {(i[0], k, a, b) for i, k, a, b in found} <= injected
    assert len(found) == 3


def test_neighbour_swap_that_the_body_allows_is_left():
    """Two symmetric parts 16 px apart (ears not named as a pair) exchanged: continuity sees
    the exchange, but the body barely tells the two configurations apart (summed d2 about 9
    as seen vs 4 exchanged, not the 4 times lower needed), so nothing is undone: continuity
    alone is not strong enough evidence."""
    from stablemotion_dlc.dlc.identity import find_neighbour_swaps

    truth = _animal(seed=5)
    xy = truth.copy()
    xy[300:360, 0, [1, 2]] = truth[300:360, 0, [2, 1]]  # the ears, named as no pair
    tr = Tracks.from_arrays(xy, np.full(xy.shape[:3], 0.97),
                            bodyparts=["snout", "ear_a", "ear_b", "left_midside",
                                       "right_midside", "tailbase"])
    assert len(find_lr_swaps(tr, pairs=[(1, 2)], use_geometry=False)) == 1
    assert find_neighbour_swaps(tr) == []


def test_neighbour_pairs_skip_excluded_pairs():
    from stablemotion_dlc.dlc.identity import neighbour_pairs

    mean = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [7.0, 0.0]])
    assert neighbour_pairs(mean, 1) == [(0, 1), (1, 2), (2, 3)]
    assert neighbour_pairs(mean, 1, exclude=[(1, 0)]) == [(1, 2), (2, 3)]


def test_swap_rule_flags_a_neighbour_swap():
    """The rules on their own (no cleaning) show a neighbour swap as SWAP, and only it."""
    from stablemotion_dlc.dlc.labels import suspect_mask

    truth = _animal(seed=4)
    xy = truth.copy()
    xy[300:360, 0, [4, 5]] = truth[300:360, 0, [5, 4]]
    lab = suspect_mask(_tracks(xy), 0.6, rules=["swap"])
    assert lab.mask[300:360, 0, [4, 5]].all()
    assert lab.mask.sum() == 120
    assert not suspect_mask(_tracks(truth), 0.6, rules=["swap"]).mask.any()
