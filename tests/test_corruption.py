"""Tests of the synthetic keypoint corruption (stablemotion_dlc.dlc.corruption)."""

from __future__ import annotations

import numpy as np
import pytest

from stablemotion_dlc.dlc.corruption import (
    ALL_KINDS,
    CORRUPTION_KINDS,
    KIND_CODES,
    confident_segments,
    inject_corruption,
    lr_pairs_from_names,
    sample_length,
)

BODYPARTS = ["snout", "left_ear", "right_ear", "neck", "left_paw", "right_paw", "tailbase"]
T, N_IND, K = 300, 2, len(BODYPARTS)


def _tracks(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centre = 500 + np.cumsum(rng.normal(0, 2, size=(T, N_IND, 1, 2)), axis=0)
    centre[:, 1] += 200  # the second animal elsewhere
    shape = rng.normal(0, 20, size=(1, N_IND, K, 2))
    xy = centre + shape + rng.normal(0, 0.5, size=(T, N_IND, K, 2))
    lik = rng.uniform(0.8, 1.0, size=(T, N_IND, K))
    return xy, lik


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return ~same


def _check_reports(c, xy, lik, kind: str, min_len: int, max_len: int) -> None:
    changed = _changed(c.xy, xy).any(-1) | _changed(c.likelihood, lik)
    # nothing changes where nothing is reported
    assert not (changed & (c.kinds == 0)).any()
    # reported entries carry this kind's code, and match the events exactly
    assert set(np.unique(c.kinds[c.kinds != 0])) <= {KIND_CODES[kind]}
    from_events = np.zeros_like(c.mask)
    for ev in c.events:
        assert ev.kind == kind
        assert min_len <= ev.length <= max_len
        for i in ev.individuals:
            for k in ev.keypoints:
                assert not from_events[ev.start : ev.stop, i, k].any()  # no overlap
                from_events[ev.start : ev.stop, i, k] = True
    np.testing.assert_array_equal(from_events, c.mask)


def test_kind_names_and_codes() -> None:
    assert CORRUPTION_KINDS == (
        "jitter_burst",
        "low_likelihood",
        "jump_bodypart",
        "jump_background",
        "lr_swap",
        "identity_swap",
        "dropout",
        "frozen",
    )
    assert "dropout_neg1" in ALL_KINDS and "dropout_neg1" not in CORRUPTION_KINDS
    codes = [KIND_CODES[k] for k in ALL_KINDS]
    assert len(set(codes)) == len(codes) and min(codes) == 1 and max(codes) < 128


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_each_kind_changes_only_what_it_reports(kind: str) -> None:
    xy, lik = _tracks()
    xy0, lik0 = xy.copy(), lik.copy()
    rng = np.random.default_rng(5)
    c = inject_corruption(
        xy, lik, rng, kinds=[kind], rate=0.1, min_len=2, max_len=40, bodyparts=BODYPARTS
    )
    np.testing.assert_array_equal(xy, xy0)  # inputs untouched
    np.testing.assert_array_equal(lik, lik0)
    assert c.events, kind
    assert c.mask.mean() >= 0.1 - 1e-9
    _check_reports(c, xy, lik, kind, 2, 40)
    m = c.mask
    if kind == "dropout":
        assert np.isnan(c.xy[m]).all() and np.isnan(c.likelihood[m]).all()
    elif kind == "dropout_neg1":
        assert (c.xy[m] == -1).all() and (c.likelihood[m] == -1).all()
    elif kind == "low_likelihood":
        assert (c.likelihood[m] < 0.6).all()
        for ev in c.events:
            i, k = ev.individuals[0], ev.keypoints[0]
            d = np.linalg.norm(c.xy[ev.stop - 1, i, k] - xy[ev.stop - 1, i, k])
            assert d > 3.0  # drifted away by the end
    elif kind == "jump_bodypart":
        for ev in c.events:
            i, k = ev.individuals[0], ev.keypoints[0]
            d = np.linalg.norm(
                c.xy[ev.start : ev.stop, i, k] - xy[ev.start : ev.stop, i, ev.source], axis=-1
            )
            assert ev.source != k and d.max() < 6.0
        np.testing.assert_array_equal(c.likelihood, lik)  # confident error
    elif kind == "jump_background":
        for ev in c.events:
            i, k = ev.individuals[0], ev.keypoints[0]
            d = np.linalg.norm(
                c.xy[ev.start : ev.stop, i, k] - xy[ev.start : ev.stop, i, k], axis=-1
            )
            assert d.min() > 20.0
    elif kind == "frozen":
        for ev in c.events:
            i, k = ev.individuals[0], ev.keypoints[0]
            np.testing.assert_array_equal(
                c.xy[ev.start : ev.stop, i, k],
                np.repeat(xy[ev.start - 1 : ev.start, i, k], ev.length, 0),
            )
    elif kind == "jitter_burst":
        assert np.isfinite(c.xy).all()
        np.testing.assert_array_equal(c.likelihood, lik)


def test_lr_swap_exchanges_pairs_exactly() -> None:
    xy, lik = _tracks(1)
    c = inject_corruption(
        xy, lik, np.random.default_rng(2), kinds=["lr_swap"], rate=0.05, bodyparts=BODYPARTS
    )
    assert c.events
    for ev in c.events:
        (i,), (p, q) = ev.individuals, ev.keypoints
        assert (p, q) in lr_pairs_from_names(BODYPARTS)
        sl = slice(ev.start, ev.stop)
        np.testing.assert_array_equal(c.xy[sl, i, p], xy[sl, i, q])
        np.testing.assert_array_equal(c.xy[sl, i, q], xy[sl, i, p])
        np.testing.assert_array_equal(c.likelihood[sl, i, p], lik[sl, i, q])


def test_identity_swap_exchanges_two_animals_exactly() -> None:
    xy, lik = _tracks(3)
    c = inject_corruption(xy, lik, np.random.default_rng(4), kinds=["identity_swap"], rate=0.1)
    assert c.events
    for ev in c.events:
        a, b = ev.individuals
        assert a != b and ev.keypoints == tuple(range(K))
        sl = slice(ev.start, ev.stop)
        np.testing.assert_array_equal(c.xy[sl, a], xy[sl, b])
        np.testing.assert_array_equal(c.xy[sl, b], xy[sl, a])
        np.testing.assert_array_equal(c.likelihood[sl, a], lik[sl, b])
        np.testing.assert_array_equal(c.likelihood[sl, b], lik[sl, a])
    # one animal: identity swaps cannot apply, nothing happens
    one = inject_corruption(
        xy[:, :1], lik[:, :1], np.random.default_rng(4), kinds=["identity_swap"], rate=0.1
    )
    assert not one.events and not one.mask.any()


def test_seeded_determinism() -> None:
    xy, lik = _tracks()
    a = inject_corruption(xy, lik, np.random.default_rng(11), rate=0.1, bodyparts=BODYPARTS)
    b = inject_corruption(xy, lik, np.random.default_rng(11), rate=0.1, bodyparts=BODYPARTS)
    c = inject_corruption(xy, lik, np.random.default_rng(12), rate=0.1, bodyparts=BODYPARTS)
    np.testing.assert_array_equal(a.xy, b.xy)
    np.testing.assert_array_equal(a.kinds, b.kinds)
    assert a.events == b.events
    assert not np.array_equal(a.kinds, c.kinds)


def test_mixture_respects_eligibility_and_lengths() -> None:
    xy, lik = _tracks(7)
    xy[50:60, 0, 2] = np.nan
    lik[100:150, 1] = 0.3
    elig = np.isfinite(xy).all(-1) & (lik >= 0.6)
    kinds = [k for k in CORRUPTION_KINDS if k != "identity_swap"]
    c = inject_corruption(
        xy,
        lik,
        np.random.default_rng(0),
        kinds=kinds,
        rate=0.2,
        eligible=elig,
        bodyparts=BODYPARTS,
        min_len=1,
        max_len=60,
    )
    assert not (c.mask & ~elig).any()
    assert c.mask.sum() >= 0.2 * elig.sum()
    lengths = [ev.length for ev in c.events]
    assert min(lengths) >= 1 and max(lengths) <= 60
    found = {ev.kind for ev in c.events}
    assert len(found) >= 5
    changed = _changed(c.xy, xy).any(-1) | _changed(c.likelihood, lik)
    assert not (changed & ~c.mask).any()


def test_no_likelihood_and_bad_arguments() -> None:
    xy, _ = _tracks()
    c = inject_corruption(xy, None, np.random.default_rng(0), rate=0.05, bodyparts=BODYPARTS)
    assert c.likelihood is None and c.mask.any()
    with pytest.raises(ValueError, match="unknown corruption kinds"):
        inject_corruption(xy, None, np.random.default_rng(0), kinds=["teleport"])
    with pytest.raises(ValueError, match="shape"):
        inject_corruption(xy[0], None, np.random.default_rng(0))
    with pytest.raises(ValueError, match="min_len"):
        inject_corruption(xy, None, np.random.default_rng(0), min_len=5, max_len=2)
    z = inject_corruption(xy, None, np.random.default_rng(0), rate=0.0)
    assert not z.events


def test_sample_length_distribution() -> None:
    rng = np.random.default_rng(0)
    lengths = np.array([sample_length(rng, 1, 60) for _ in range(4000)])
    assert lengths.min() >= 1 and lengths.max() <= 60
    assert 4 <= np.median(lengths) <= 10  # log-uniform: median about 7
    assert (lengths >= 40).mean() > 0.03  # long events do occur


def test_lr_pairs_from_names() -> None:
    assert lr_pairs_from_names(BODYPARTS) == [(1, 2), (4, 5)]
    assert lr_pairs_from_names(["head", "tail", "leftwing", "rightwing"]) == [(2, 3)]
    assert lr_pairs_from_names(["Front Paw R", "Front Paw L", "Snout"]) == [(0, 1)]
    assert lr_pairs_from_names(["l_ear", "r_ear", "earL", "earR", "LeftHand", "RightHand"]) == [
        (0, 1),
        (2, 3),
        (4, 5),
    ]
    assert lr_pairs_from_names(["nose", "tail"]) == []


def test_confident_segments() -> None:
    xy, lik = _tracks()
    lik[100:103, 0, 3] = 0.1
    xy[200, 1, 0] = np.nan
    segs = confident_segments(xy, lik, pcutoff=0.6, min_len=50)
    assert segs == [(0, 100, 0), (103, 300, 0), (0, 200, 1), (201, 300, 1)]
    assert confident_segments(xy, lik, min_len=150) == [(103, 300, 0), (0, 200, 1)]
    single = confident_segments(xy[:, 0], lik[:, 0], min_len=50)
    assert single == [(0, 100, 0), (103, 300, 0)]
    loose = confident_segments(xy, lik, min_len=50, min_fraction=0.8)
    assert (0, 300, 0) in loose
