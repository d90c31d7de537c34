"""Tests of identity and left/right swap detection and correction."""

from __future__ import annotations

import numpy as np
import pytest

from stablemotion_dlc.dlc.identity import (
    find_identity_swaps,
    find_lr_swaps,
    find_partial_identity_swaps,
    fix_identity_swaps,
    fix_lr_swaps,
    left_right_pairs,
)
from stablemotion_dlc.dlc.tracks import Tracks

BODYPARTS = ["snout", "leftear", "rightear", "neck", "tailbase"]
POSE = np.array([[30.0, 0.0], [18.0, -8.0], [18.0, 8.0], [10.0, 0.0], [-30.0, 0.0]])


def animal_along(centre: np.ndarray, heading: np.ndarray, rng, noise: float = 0.3) -> np.ndarray:
    c, s = np.cos(heading), np.sin(heading)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    pts = centre[:, None] + np.einsum("tij,kj->tki", rot, POSE)
    return pts + rng.normal(scale=noise, size=pts.shape)


def crossing_pair(n_frames: int = 200, seed: int = 0) -> np.ndarray:
    """Two animals walking towards each other on parallel lanes 25 px apart; they pass."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames, dtype=float)
    a = np.stack([100 + 3 * t, np.full(n_frames, 300.0)], -1)
    b = np.stack([700 - 3 * t, np.full(n_frames, 325.0)], -1)
    xa = animal_along(a, np.zeros(n_frames), rng)
    xb = animal_along(b, np.full(n_frames, np.pi), rng)
    return np.stack([xa, xb], 1)


def make(xy: np.ndarray, individuals=("m1", "m2")) -> Tracks:
    return Tracks.from_arrays(
        xy, np.full(xy.shape[:3], 0.95), bodyparts=BODYPARTS, individuals=list(individuals)
    )


def test_left_right_pairs_from_names():
    names = ["snout", "leftear", "rightear", "Front Paw R", "Front Paw L", "L_hip", "R_hip",
             "LEar", "REar", "tail", "paw_l", "paw_r", "center"]
    pairs = left_right_pairs(names)
    assert set(pairs) == {(1, 2), (4, 3), (5, 6), (7, 8), (10, 11)}


def test_clean_crossing_gives_no_swap():
    tr = make(crossing_pair())
    assert find_identity_swaps(tr) == []


def test_identity_swap_found_and_fixed():
    truth = crossing_pair()
    xy = truth.copy()
    xy[100:140] = truth[100:140, ::-1]  # labels exchanged while/after they pass
    lik = np.full(xy.shape[:3], 0.95)
    lik[120, 0, 2] = 0.4
    tr = Tracks.from_arrays(xy, lik, bodyparts=BODYPARTS, individuals=["m1", "m2"])
    before = tr.xy.copy()
    events = find_identity_swaps(tr)
    assert len(events) == 1
    ev = events[0]
    assert (ev.start, ev.stop, ev.kind) == (100, 140, "identity")
    assert set(ev.individuals) == {"m1", "m2"} and ev.permutation == (1, 0)
    assert ev.cost_gain > 0
    fixed, corrections = fix_identity_swaps(tr, events)
    np.testing.assert_array_equal(fixed.xy, truth)
    assert fixed.likelihood[120, 1, 2] == 0.4 and fixed.likelihood[120, 0, 2] == 0.95
    assert corrections[0].individual_map == {"m1": "m2", "m2": "m1"}
    assert corrections[0].n_points == 40 * 2 * 5
    np.testing.assert_array_equal(tr.xy, before)  # input untouched
    assert fixed.xy is not tr.xy


def side_by_side(n_frames: int = 200, seed: int = 0) -> np.ndarray:
    """Two animals walking the same way on lanes 60 px apart, turning a little."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames, dtype=float)
    heading = 0.2 * np.sin(t / 30)
    a = np.stack([100 + 2 * t, 300 + 10 * np.sin(t / 25)], -1)
    b = a + [0.0, 60.0]
    return np.stack([animal_along(a, heading, rng), animal_along(b, heading, rng)], 1)


def _partial_fix(tr: Tracks) -> tuple[Tracks, list, list]:
    whole = find_identity_swaps(tr)
    fixed = fix_identity_swaps(tr, whole)[0] if whole else tr
    parts = find_partial_identity_swaps(fixed, anchors=whole)
    return (fix_identity_swaps(fixed, parts)[0] if parts else fixed), whole, parts


def test_part_of_the_bodies_exchanged_is_undone():
    """Head keypoints (3 of 5) assembled onto the other animal for 10 frames: the
    whole-animal finder does not see it (the tail end stayed); the part is undone."""
    truth = side_by_side()
    xy = truth.copy()
    xy[100:110, :, :3] = truth[100:110, ::-1, :3]
    tr = make(xy)
    fixed, whole, parts = _partial_fix(tr)
    assert whole == []
    assert [(e.start, e.stop, set(e.keypoints)) for e in parts] == [
        (100, 110, {"snout", "leftear", "rightear"})]
    np.testing.assert_array_equal(fixed.xy, truth)
    np.testing.assert_array_equal(tr.xy, xy)  # input untouched


def test_keypoint_a_whole_animal_fix_moved_is_put_back():
    """4 of 5 keypoints exchanged: the whole-animal fix exchanges all five, and the tail
    base it moved is put back."""
    truth = side_by_side(seed=1)
    xy = truth.copy()
    xy[80:120, :, :4] = truth[80:120, ::-1, :4]
    fixed, whole, parts = _partial_fix(make(xy))
    assert [(e.start, e.stop) for e in whole] == [(80, 120)]
    assert [(e.start, e.stop, e.keypoints) for e in parts] == [(80, 120, ("tailbase",))]
    np.testing.assert_array_equal(fixed.xy, truth)


@pytest.mark.parametrize("case", ["clean", "crossing", "lone keypoint"])
def test_no_part_exchanged_without_evidence(case):
    truth = crossing_pair() if case == "crossing" else side_by_side(seed=2)
    xy = truth.copy()
    if case == "lone keypoint":  # one keypoint alone: the rules flag it, no exchange
        xy[100:110, :, 0] = truth[100:110, ::-1, 0]
    fixed, whole, parts = _partial_fix(make(xy))
    assert whole == [] and parts == []
    np.testing.assert_array_equal(fixed.xy, xy)


def test_swap_ending_when_one_animal_disappears():
    truth = crossing_pair()
    xy = truth.copy()
    xy[100:140] = truth[100:140, ::-1]
    xy[140:175, 1] = np.nan  # the swap ends as m2 drops out for 35 frames
    lik = np.where(np.isnan(xy[..., 0]), np.nan, 0.95)
    tr = Tracks.from_arrays(xy, lik, bodyparts=BODYPARTS, individuals=["m1", "m2"])
    events = find_identity_swaps(tr)
    assert [(e.start, e.stop) for e in events] == [(100, 140)]


def test_three_animals_rotation_and_unique_single_untouched():
    rng = np.random.default_rng(3)
    n = 150
    t = np.arange(n, dtype=float)
    animals = [
        animal_along(np.stack([100 + 2 * t, np.full(n, 100.0 + 120 * k)], -1),
                     np.zeros(n), rng)
        for k in range(3)
    ]
    truth = np.full((n, 4, 6, 2), np.nan)
    truth[:, :3, :5] = np.stack(animals, 1)
    truth[:, 3, 5] = [50.0, 50.0]
    xy = truth.copy()
    xy[60:90, [0, 1, 2]] = truth[60:90, [2, 0, 1]]  # a 3-cycle
    tr = Tracks.from_arrays(xy, np.full(xy.shape[:3], 0.95), bodyparts=BODYPARTS,
                            individuals=["a", "b", "c"], unique_bodyparts=["corner"])
    events = find_identity_swaps(tr)
    assert [(e.start, e.stop) for e in events] == [(60, 90)]
    assert "single" not in events[0].individuals
    fixed, _ = fix_identity_swaps(tr, events)
    np.testing.assert_array_equal(fixed.xy, truth)


def test_single_animal_has_no_identity_swaps():
    xy = crossing_pair()[:, :1]
    tr = Tracks.from_arrays(xy, np.full(xy.shape[:3], 0.9), bodyparts=BODYPARTS)
    assert find_identity_swaps(tr) == []


def test_lr_swap_found_and_fixed():
    truth = crossing_pair()[:, :1]
    xy = truth.copy()
    xy[50:70, 0, [1, 2]] = truth[50:70, 0, [2, 1]]
    tr = Tracks.from_arrays(xy, np.full(xy.shape[:3], 0.9), bodyparts=BODYPARTS)
    events = find_lr_swaps(tr)
    assert [(e.start, e.stop, e.keypoints) for e in events] == [(50, 70, ("leftear", "rightear"))]
    fixed, corr = fix_lr_swaps(tr, events)
    np.testing.assert_array_equal(fixed.xy, truth)
    assert corr[0].keypoint_map == {"leftear": "rightear", "rightear": "leftear"}
    np.testing.assert_array_equal(tr.xy, xy)


def test_lr_swap_from_the_first_frame_uses_geometry():
    truth = crossing_pair()[:, :1]
    xy = truth.copy()
    xy[:30, 0, [1, 2]] = truth[:30, 0, [2, 1]]
    tr = Tracks.from_arrays(xy, np.full(xy.shape[:3], 0.9), bodyparts=BODYPARTS)
    events = find_lr_swaps(tr)
    assert [(e.start, e.stop) for e in events] == [(0, 30)]
    assert find_lr_swaps(make(crossing_pair()), pairs=[("leftear", "rightear")]) == []


def test_bad_events_rejected():
    tr = make(crossing_pair(20))
    ev = find_identity_swaps(tr)
    assert ev == []
    from stablemotion_dlc.dlc.identity import SwapEvent

    bad = SwapEvent("identity", 10, 40, ("m1", "m2"), tuple(BODYPARTS), (1, 0), 1.0)
    with pytest.raises(ValueError, match="outside"):
        fix_identity_swaps(tr, [bad])
    with pytest.raises(ValueError, match="not in bodyparts"):
        find_lr_swaps(tr, pairs=[("leftear", "nose")])


def test_five_animals_on_a_circle():
    rng = np.random.default_rng(5)
    n = 300
    t = np.arange(n, dtype=float)
    animals = [
        animal_along(
            np.stack([300 + 200 * np.cos(0.01 * t + k), 300 + 200 * np.sin(0.01 * t + k)], -1),
            0.01 * t + k + np.pi / 2,
            rng,
        )
        for k in range(5)
    ]
    truth = np.stack(animals, 1)
    xy = truth.copy()
    xy[100:150, [0, 3, 4]] = truth[100:150, [3, 4, 0]]
    tr = Tracks.from_arrays(xy, np.full(xy.shape[:3], 0.9), bodyparts=BODYPARTS,
                            individuals=list("abcde"))
    events = find_identity_swaps(tr)
    assert [(e.start, e.stop, set(e.individuals)) for e in events] == [(100, 150, {"a", "d", "e"})]
    fixed, _ = fix_identity_swaps(tr, events)
    np.testing.assert_array_equal(fixed.xy, truth)
