"""Protocol B (``stablemotion_dlc.evaluate.protocol``): eligibility, seeds, ranges, kinds."""

from __future__ import annotations

import numpy as np
import pytest

from stablemotion_dlc.evaluate.protocol import (
    DURATIONS,
    KIND_NAMES,
    PCUTOFF,
    confident_mask,
    corrupt_independent,
    median_distances,
)

SINGLE_ANIMAL_KINDS = [k for k in KIND_NAMES if k != "identity_swap"]


def _tracks(n_frames: int = 800, n_ind: int = 2, n_kp: int = 6, seed: int = 1
            ) -> tuple[np.ndarray, np.ndarray]:
    """Animals walking and turning; 10 % low-likelihood points, a few NaN patches."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames)
    xy = np.empty((n_frames, n_ind, n_kp, 2))
    body = np.stack([np.linspace(-30, 30, n_kp), np.zeros(n_kp)], -1)  # a line of parts
    body[:, 1] = 6 * np.sin(np.arange(n_kp))
    for i in range(n_ind):
        centre = np.stack([300 + 150 * i + 80 * np.sin(t / 90 + i),
                           250 + 80 * np.cos(t / 70 + 2 * i)], -1)
        ang = t / 50 + i
        rot = np.stack([np.stack([np.cos(ang), -np.sin(ang)], -1),
                        np.stack([np.sin(ang), np.cos(ang)], -1)], -2)  # (T, 2, 2)
        xy[:, i] = centre[:, None] + np.einsum("tab,kb->tka", rot, body)
    xy += rng.normal(0, 0.3, xy.shape)
    lik = rng.uniform(0.8, 1.0, xy.shape[:3])
    lik[rng.random(lik.shape) < 0.1] = 0.3
    xy[100:130, 0, 2] = np.nan
    lik[100:130, 0, 2] = np.nan
    xy[200:210, -1, :] = np.nan
    lik[200:210, -1, :] = 0.0
    return xy, lik


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64).view(np.int64)


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_kind_corrupts_only_confident_points_and_leaves_the_rest_bit_identical(kind):
    xy, lik = _tracks()
    xy0, lik0 = xy.copy(), lik.copy()
    case = corrupt_independent(xy, lik, seed=3, rate=0.1, kinds=[kind])
    assert np.array_equal(_bits(xy), _bits(xy0)) and np.array_equal(_bits(lik), _bits(lik0))
    code = KIND_NAMES.index(kind) + 1
    bad = case.kinds > 0
    assert bad.sum() > 0
    assert set(np.unique(case.kinds)) <= {0, code}
    conf = confident_mask(xy, lik)
    assert not (bad & ~conf).any()
    np.testing.assert_array_equal(case.confident, conf)
    keep = ~bad
    assert np.array_equal(_bits(case.xy[keep]), _bits(xy[keep]))
    assert np.array_equal(_bits(case.likelihood[keep]), _bits(lik[keep]))
    assert np.array_equal(_bits(case.truth_xy), _bits(xy))
    # every corrupted point differs from its truth in position or likelihood
    changed = ~(case.xy == xy).all(-1) | (case.likelihood != lik)
    assert changed[bad].mean() > 0.99


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_reproducible_by_seed(kind):
    xy, lik = _tracks()
    a = corrupt_independent(xy, lik, seed=7, kinds=[kind])
    b = corrupt_independent(xy, lik, seed=7, kinds=[kind])
    c = corrupt_independent(xy, lik, seed=8, kinds=[kind])
    assert np.array_equal(_bits(a.xy), _bits(b.xy))
    assert np.array_equal(_bits(a.likelihood), _bits(b.likelihood))
    np.testing.assert_array_equal(a.kinds, b.kinds)
    assert a.events == b.events
    assert not np.array_equal(a.kinds, c.kinds)


def test_all_kinds_rate_and_event_durations():
    xy, lik = _tracks(n_frames=1500)
    case = corrupt_independent(xy, lik, seed=0, rate=0.05)
    counts = case.count()
    assert all(counts[k] > 0 for k in KIND_NAMES)
    share = case.corrupted.sum() / case.confident.sum()
    assert 0.04 <= share <= 0.1
    for ev in case.events:
        lo, hi = DURATIONS[ev["kind"]]
        assert lo <= ev["duration"] <= hi
        assert 0 < ev["stop"] - ev["start"] <= ev["duration"]
    # events never overlap: their point counts add up to the corrupted points
    assert sum(ev["n_points"] for ev in case.events) == int(case.corrupted.sum())
    for kind in KIND_NAMES:
        assert sum(ev["n_points"] for ev in case.events if ev["kind"] == kind) == counts[kind]
    for n, ev in enumerate(case.events, start=1):
        sel = case.event_ids == n
        assert int(sel.sum()) == ev["n_points"]
        assert (case.kinds[sel] == KIND_NAMES.index(ev["kind"]) + 1).all()
        f = np.nonzero(sel)[0]
        assert f.min() >= ev["start"] and f.max() < ev["stop"]
        assert set(np.nonzero(sel)[1]) <= set(ev["individuals"])
    np.testing.assert_array_equal(case.event_ids > 0, case.corrupted)


def _events(kind: str, seed: int = 0, rate: float = 0.15):
    xy, lik = _tracks()
    return xy, lik, corrupt_independent(xy, lik, seed=seed, rate=rate, kinds=[kind])


def _points(case, ev, k):
    i = ev["individuals"][0]
    n = case.events.index(ev) + 1
    f = np.flatnonzero(case.event_ids[:, i, k] == n)
    assert ((f >= ev["start"]) & (f < ev["stop"])).all()
    return i, f


def test_background_ranges():
    xy, lik, case = _events("background")
    dist = median_distances(xy, confident_mask(xy, lik))
    for ev in case.events:
        i, f = _points(case, ev, ev["keypoints"][0])
        lo, hi = ev["likelihood_range"]
        assert 0.05 <= lo <= hi <= 0.5
        assert ((case.likelihood[f, i, ev["keypoints"][0]] >= lo)
                & (case.likelihood[f, i, ev["keypoints"][0]] <= hi)).all()
        assert 0.5 <= ev["sigma"] <= 3.0
        err = np.linalg.norm(case.xy[f, i, ev["keypoints"][0]] - xy[f, i, ev["keypoints"][0]],
                             axis=-1)
        assert np.median(err) > 0.25 * np.nanmax(dist[i])


def test_drift_low_ranges():
    xy, lik, case = _events("drift_low")
    dist = median_distances(xy, confident_mask(xy, lik))
    assert case.events
    for ev in case.events:
        k = ev["keypoints"][0]
        i, f = _points(case, ev, k)
        assert 0.1 <= ev["amplitude_body"] <= 0.5
        off = np.linalg.norm(case.xy[f, i, k] - xy[f, i, k], axis=-1)
        assert off.max() <= 0.5 * max(np.nanmax(dist[i]), 5.0) + 1e-9
        assert (case.likelihood[f, i, k] < PCUTOFF).all()
        assert (case.likelihood[f, i, k] >= 0).all()
        # smooth: the offset changes by at most ~(pi + pi/2) * peak / span per frame
        d_off = np.diff(case.xy[f, i, k] - xy[f, i, k], axis=0) / np.diff(f)[:, None]
        peak = ev["amplitude_body"] * max(np.nanmax(dist[i]), 5.0)
        assert np.linalg.norm(d_off, axis=-1).max() <= 5 * peak / (ev["stop"] - ev["start"])


def test_jump_to_part_sits_on_another_keypoint_confidently():
    xy, lik, case = _events("jump_to_part")
    assert case.events
    for ev in case.events:
        k, j = ev["keypoints"][0], ev["target"]
        assert j != k
        i, f = _points(case, ev, k)
        lk = case.likelihood[f, i, k]
        assert ((lk >= 0.85) & (lk <= 1.0)).all()
        d_target = np.linalg.norm(case.xy[f, i, k] - xy[f, i, j], axis=-1)
        assert np.median(d_target) < 15.0
        assert 1.0 <= ev["offset_sigma"] <= 4.0 and 0.5 <= ev["frame_sigma"] <= 2.0


def test_neighbour_swap_exchanges_nearest_parts_with_high_likelihood():
    xy, lik, case = _events("neighbour_swap")
    dist = median_distances(xy, confident_mask(xy, lik))
    assert case.events
    for ev in case.events:
        a, b = ev["keypoints"]
        i, f = _points(case, ev, a)
        nearest = np.argsort(np.where(np.isfinite(dist[i, a]), dist[i, a], np.inf))[:2]
        assert b in nearest
        np.testing.assert_array_equal(case.xy[f, i, a], xy[f, i, b])
        np.testing.assert_array_equal(case.xy[f, i, b], xy[f, i, a])
        assert (case.likelihood[f, i, a] >= PCUTOFF).all()
        assert (case.likelihood[f, i, b] >= PCUTOFF).all()


def test_occlusion_modes_and_keypoints():
    xy, lik = _tracks()
    modes = set()
    for seed in range(4):
        case = corrupt_independent(xy, lik, seed=seed, rate=0.15, kinds=["occlusion"])
        for ev in case.events:
            assert 1 <= len(ev["keypoints"]) <= 3
            modes.add(ev["mode"])
            for k in ev["keypoints"]:
                i, f = _points(case, ev, k)
                if ev["mode"] == "nan":
                    assert np.isnan(case.xy[f, i, k]).all()
                else:
                    assert np.isfinite(case.xy[f, i, k]).all()
                    assert (case.likelihood[f, i, k] < 0.3).all()
    assert modes == {"nan", "stale", "noisy"}


def test_jitter_keeps_likelihood_and_noise_scale():
    xy, lik, case = _events("jitter")
    assert case.events
    for ev in case.events:
        k = ev["keypoints"][0]
        i, f = _points(case, ev, k)
        assert 1.0 <= ev["sigma"] <= 4.0
        np.testing.assert_array_equal(case.likelihood[f, i, k], lik[f, i, k])
        noise = case.xy[f, i, k] - xy[f, i, k]
        if f.size >= 20:
            assert 0.5 * ev["sigma"] < noise.std() < 1.6 * ev["sigma"]


def test_identity_swap_multi_animal():
    xy, lik, case = _events("identity_swap")
    assert case.events
    for ev in case.events:
        i, j = ev["individuals"]
        assert i != j
        code = KIND_NAMES.index("identity_swap") + 1
        n = case.events.index(ev) + 1
        ff, kk = np.nonzero(case.event_ids[:, i] == n)
        assert (case.kinds[ff, i, kk] == code).all()
        assert ((ff >= ev["start"]) & (ff < ev["stop"])).all()
        np.testing.assert_array_equal(case.xy[ff, i, kk], xy[ff, j, kk])
        np.testing.assert_array_equal(case.xy[ff, j, kk], xy[ff, i, kk])
        np.testing.assert_array_equal(case.likelihood[ff, i, kk], lik[ff, j, kk])
        assert ev["duration"] <= DURATIONS["identity_swap"][1]


def test_identity_swap_needs_two_animals_and_skips_unique_bodyparts():
    xy, lik = _tracks(n_ind=1)
    case = corrupt_independent(xy, lik, seed=0, kinds=["identity_swap"])
    assert not case.corrupted.any() and not case.events
    xy2, lik2 = _tracks(n_ind=2)
    case = corrupt_independent(xy2, lik2, seed=0, kinds=["identity_swap"],
                               individuals=["mouse", "single"])
    assert not case.corrupted.any()
    xy3, lik3 = _tracks(n_ind=3)
    case = corrupt_independent(xy3, lik3, seed=0, kinds=["identity_swap"],
                               individuals=["a", "b", "single"])
    assert case.corrupted.any()
    assert not case.corrupted[:, 2].any()


def test_nan_inputs_are_fine():
    xy, lik = _tracks()
    xy[::7, :, 1] = np.nan  # scattered missing points
    lik[::5, 1, 3] = np.nan  # NaN likelihood with finite xy: not confident
    xy[:, 1, 5] = np.nan  # a keypoint never seen
    lik[:, 1, 5] = np.nan
    case = corrupt_independent(xy, lik, seed=2, rate=0.1)
    assert case.corrupted.any()
    assert not case.corrupted[::7, :, 1].any()
    assert not case.corrupted[::5, 1, 3].any()
    assert not case.corrupted[:, 1, 5].any()
    keep = ~case.corrupted
    assert np.array_equal(_bits(case.xy[keep]), _bits(xy[keep]))
    assert np.array_equal(_bits(case.likelihood[keep]), _bits(lik[keep]))
    all_nan = np.full_like(xy, np.nan)
    empty = corrupt_independent(all_nan, np.full_like(lik, np.nan), seed=0)
    assert not empty.corrupted.any()


def test_bad_arguments():
    xy, lik = _tracks()
    with pytest.raises(ValueError, match="unknown kind"):
        corrupt_independent(xy, lik, seed=0, kinds=["teleport"])
    with pytest.raises(ValueError, match="shape"):
        corrupt_independent(xy[..., 0], lik, seed=0)
    with pytest.raises(ValueError, match="rate"):
        corrupt_independent(xy, lik, seed=0, rate=1.5)
    assert not corrupt_independent(xy, lik, seed=0, rate=0.0).corrupted.any()


def test_protocol_a_case_for_the_cross_check():
    """The other direction of the cross-check: the training generator's errors as a case,
    scored like protocol B (only confident points, the rest bit-identical, seeded)."""
    from stablemotion_dlc.dlc.corruption import CORRUPTION_KINDS
    from stablemotion_dlc.evaluate.protocol import corrupt_protocol_a

    xy, lik = _tracks()
    case = corrupt_protocol_a(xy, lik, seed=3, rate=0.05)
    assert case.kind_names == tuple(CORRUPTION_KINDS)
    conf = confident_mask(xy, lik)
    np.testing.assert_array_equal(case.confident, conf)
    # only an identity swap (whole animals exchanged) also moves points that were not
    # confident; scoring counts the confident ones only
    ident = case.kinds == CORRUPTION_KINDS.index("identity_swap") + 1
    assert case.corrupted.any() and not (case.corrupted & ~conf & ~ident).any()
    assert 0.02 < (case.corrupted & conf).sum() / conf.sum() < 0.1
    keep = ~case.corrupted
    np.testing.assert_array_equal(_bits(case.xy[keep]), _bits(xy[keep]))
    np.testing.assert_array_equal(_bits(case.truth_xy), _bits(xy))
    assert set(np.unique(case.kinds)) <= set(range(len(CORRUPTION_KINDS) + 1))
    again = corrupt_protocol_a(xy, lik, seed=3, rate=0.05)
    np.testing.assert_array_equal(_bits(again.xy), _bits(case.xy))
