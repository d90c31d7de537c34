"""Tests of the training-window source (stablemotion_dlc.dlc.dataset)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from stablemotion_dlc.core.representation import Batch, BatchSource
from stablemotion_dlc.dlc.corruption import KIND_CODES
from stablemotion_dlc.dlc.dataset import (
    KeypointSequence,
    KeypointWindowSource,
    sequences_from_tracks,
)
from stablemotion_dlc.dlc.representation import KeypointRepresentation
from stablemotion_dlc.dlc.tracks import Tracks

BODYPARTS = ["snout", "left_ear", "right_ear", "neck", "left_hip", "right_hip", "tailbase"]
K = len(BODYPARTS)


def _recording(t: int, n_ind: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centre = rng.uniform(100, 1500, size=(1, n_ind, 1, 2)) + np.cumsum(
        rng.normal(0, 2, size=(t, n_ind, 1, 2)), axis=0
    )
    xy = centre + rng.normal(0, 20, size=(1, n_ind, K, 2)) + rng.normal(0, 0.5, (t, n_ind, K, 2))
    lik = rng.uniform(0.7, 1.0, size=(t, n_ind, K))
    lik[rng.random((t, n_ind, K)) < 0.05] = 0.2
    xy[rng.random((t, n_ind, K)) < 0.03] = np.nan
    suspect = lik < 0.6
    return xy, lik, suspect


@pytest.fixture
def rep() -> KeypointRepresentation:
    return KeypointRepresentation(BODYPARTS, fps=30)


@pytest.fixture
def source(rep: KeypointRepresentation) -> KeypointWindowSource:
    seqs = []
    for s in range(3):
        xy, lik, sus = _recording(400, 1, s)
        seqs.append(KeypointSequence(xy[:, 0], lik[:, 0], sus[:, 0], name=f"rec{s}"))
    return KeypointWindowSource(seqs, rep, window=64, p_inject=1.0, rate=0.05)


def test_batch_shapes_dtypes_and_labels(
    source: KeypointWindowSource, rep: KeypointRepresentation
) -> None:
    assert isinstance(source, BatchSource)
    b = source.sample(np.random.default_rng(0), 16)
    assert isinstance(b, Batch)
    assert b.features.shape == (16, 64, rep.n_features) and b.features.dtype == np.float32
    assert b.labels.shape == (16, 64, K + 1) and b.labels.dtype == np.float32
    assert b.observed.shape == b.features.shape and b.observed.dtype == bool
    assert np.isfinite(b.features).all()
    assert set(np.unique(b.labels)) <= {0.0, 1.0}
    inj = b.extra["injected"]
    assert inj.dtype == np.int8 and inj.shape == (16, 64, K)
    assert (inj != 0).any()
    expected = b.extra["suspect"] | b.extra["missing"] | (inj != 0)
    np.testing.assert_array_equal(b.labels[..., :K] == 1, expected)
    # features decode to the (corrupted) window that was encoded
    xy = b.extra["xy"]
    dec = rep.decode(b.features, b.extra["origin"])
    ok = np.isfinite(xy).all(-1)
    assert np.abs(dec[ok] - xy[ok]).max() < 1e-4


def test_injection_only_on_confident_points(source: KeypointWindowSource) -> None:
    b = source.sample(np.random.default_rng(1), 32)
    inj = b.extra["injected"] != 0
    for n in range(32):
        s_id, ind, start = (int(b.extra[k][n]) for k in ("sequence", "individual", "start"))
        seq = source.sequences[s_id]
        sl = slice(start, start + 64)
        orig_xy = seq.xy[sl, ind]
        conf = (
            np.isfinite(orig_xy).all(-1) & ~seq.suspect[sl, ind] & (seq.likelihood[sl, ind] >= 0.6)
        )
        assert not (inj[n] & ~conf).any()
        changed = ~(
            (b.extra["xy"][n] == orig_xy) | (np.isnan(orig_xy) & np.isnan(b.extra["xy"][n]))
        )
        assert not (changed.any(-1) & ~inj[n]).any()


def test_no_injection_gives_raw_windows(rep: KeypointRepresentation) -> None:
    xy, lik, sus = _recording(200, 1, 9)
    src = KeypointWindowSource([(xy[:, 0], lik[:, 0], sus[:, 0])], rep, window=32, p_inject=0.0)
    b = src.sample(np.random.default_rng(0), 8)
    assert not b.extra["injected"].any()
    for n in range(8):
        start = int(b.extra["start"][n])
        want = rep.encode(xy[start : start + 32, 0], sus[start : start + 32, 0])
        np.testing.assert_array_equal(b.features[n], want.features)
        np.testing.assert_array_equal(b.labels[n], want.labels)


def test_seeded_and_prefers_confident_windows(rep: KeypointRepresentation) -> None:
    xy, lik, sus = _recording(600, 1, 4)
    sus[300:, 0] = True  # second half entirely suspect
    src = KeypointWindowSource([(xy[:, 0], lik[:, 0], sus[:, 0])], rep, p_confident=1.0)
    a = src.sample(np.random.default_rng(5), 24)
    c = src.sample(np.random.default_rng(5), 24)
    np.testing.assert_array_equal(a.features, c.features)
    np.testing.assert_array_equal(a.extra["injected"], c.extra["injected"])
    assert (a.extra["start"] + 64 <= 300 + 0.2 * 64).all()
    assert src.n_confident_windows < src.n_windows


def test_an_animal_tracked_worse_than_the_others_is_still_trained_on(
        rep: KeypointRepresentation) -> None:
    # the second animal is confident on 55 % of its points: none of its windows reaches the
    # 80 % of a "mostly confident" window, so the draws that prefer those never took it
    xy, lik, sus = _recording(800, 2, 6)
    rng = np.random.default_rng(1)
    low = rng.random((800, K)) < 0.45
    low[400:470] = True  # and one stretch where it is lost altogether
    lik[:, 1][low] = 0.3
    sus[:, 1] = lik[:, 1] < 0.6
    src = KeypointWindowSource([KeypointSequence(xy, lik, sus)], rep, p_confident=1.0)
    ind = src._conf[:, 1]
    share = np.mean(ind == 1)
    assert 0.15 <= share <= 0.3  # its best quarter of windows, against all of the other's
    b = src.sample(np.random.default_rng(0), 64)
    assert (b.extra["individual"] == 1).sum() >= 5
    # ... and those are its most confident windows, never inside the stretch where it is lost
    frac = src._confident[0][:, 1].mean(axis=1)
    for start in src._conf[ind == 1, 2]:
        assert frac[start:start + 64].mean() > 0.5
        assert min(start + 64, 470) - max(start, 400) < 16


def test_multi_individual_recording_with_identity_swaps(rep: KeypointRepresentation) -> None:
    xy, lik, sus = _recording(300, 2, 2)
    src = KeypointWindowSource(
        [KeypointSequence(xy, lik, sus)], rep, p_inject=1.0, rate=0.2, kinds=["identity_swap"]
    )
    b = src.sample(np.random.default_rng(0), 16)
    assert set(np.unique(b.extra["individual"])) <= {0, 1}
    code = KIND_CODES["identity_swap"]
    assert (b.extra["injected"] == code).any()
    # a swapped frame carries the other animal's points
    n, t = np.argwhere((b.extra["injected"] == code).all(-1))[0]
    ind, start = int(b.extra["individual"][n]), int(b.extra["start"][n])
    other = xy[start + t, 1 - ind]
    got = b.extra["xy"][n, t]
    ok = np.isfinite(other).all(-1)
    np.testing.assert_array_equal(got[ok], other[ok])


def test_short_sequences(rep: KeypointRepresentation) -> None:
    xy, lik, sus = _recording(40, 1, 0)
    with pytest.raises(ValueError, match="shorter window"):
        KeypointWindowSource([(xy[:, 0], lik[:, 0], sus[:, 0])], rep, window=64)
    big = _recording(100, 1, 1)
    src = KeypointWindowSource(
        [(xy[:, 0], lik[:, 0], sus[:, 0]), (big[0][:, 0], big[1][:, 0], big[2][:, 0])], rep
    )
    assert len(src.sequences) == 1 and src.n_windows == 100 - 64 + 1
    with pytest.raises(ValueError, match="suspect must have shape"):
        KeypointWindowSource([(big[0][:, 0], big[1][:, 0], big[2][:50, 0])], rep)


def test_sequences_from_tracks(rep: KeypointRepresentation) -> None:
    xy, lik, _ = _recording(120, 2, 3)
    extra = np.full((120, 1, K, 2), np.nan)  # "single" individual without these bodyparts
    tracks = Tracks(
        xy=np.concatenate([xy, extra], axis=1),
        likelihood=np.concatenate([lik, np.full((120, 1, K), np.nan)], axis=1),
        bodyparts=list(BODYPARTS),
        individuals=["m1", "m2", "single"],
        scorer="DLC_test",
        index=pd.RangeIndex(120),
        present=np.array([[True] * K, [True] * K, [False] * K]),
        multianimal=True,
    )
    seqs = sequences_from_tracks(tracks, BODYPARTS[::-1])
    assert len(seqs) == 1 and seqs[0].xy.shape == (120, 2, K, 2)
    np.testing.assert_array_equal(seqs[0].xy[..., 0, :], xy[..., K - 1, :])
    src = KeypointWindowSource(seqs, KeypointRepresentation(BODYPARTS[::-1]))
    assert src.sample(np.random.default_rng(0), 4).features.shape[0] == 4
    # a SuspectLabels-like object is accepted through its mask
    mask = np.zeros((120, 3, K), dtype=bool)
    mask[5, 1, 0] = True
    labelled = sequences_from_tracks(tracks, BODYPARTS, SimpleNamespace(mask=mask))
    assert labelled[0].suspect[5, 1, 0] and labelled[0].suspect.sum() == 1
    with pytest.raises(ValueError, match="no bodyparts"):
        sequences_from_tracks(tracks, ["wing"])


def test_speed_sanity(rep: KeypointRepresentation) -> None:
    """A batch of 64 windows x 64 frames x 10 keypoints runs (timing is in the report)."""
    rep10 = KeypointRepresentation([f"bp{i}" for i in range(10)], fps=30)
    rng = np.random.default_rng(0)
    xy = 800 + np.cumsum(rng.normal(0, 2, size=(2000, 1, 2)), 0) + rng.normal(0, 20, (1, 10, 2))
    lik = rng.uniform(0.7, 1.0, size=(2000, 10))
    src = KeypointWindowSource([(xy, lik, lik < 0.6)], rep10, p_inject=0.5)
    for _ in range(3):
        b = src.sample(rng, 64)
    assert b.features.shape == (64, 64, rep10.n_features)


def test_another_generator_replaces_the_injection(rep: KeypointRepresentation) -> None:
    """The cross-check hook: protocol B's generator corrupts the eligible points of the
    windows (given as individuals), and its codes label them."""
    from stablemotion_dlc.evaluate.protocol import training_corruptor

    seqs = [KeypointSequence(*(a[:, 0] for a in _recording(400, 1, s))) for s in range(3)]
    src = KeypointWindowSource(seqs, rep, window=64, p_inject=1.0,
                               corruptor=training_corruptor(rate=0.1))
    b = src.sample(np.random.default_rng(2), 16)
    inj = b.extra["injected"] != 0
    assert inj.any()
    np.testing.assert_array_equal(b.labels[..., :K] == 1,
                                  b.extra["suspect"] | b.extra["missing"] | inj)
    for n in range(16):
        s_id, ind, start = (int(b.extra[k][n]) for k in ("sequence", "individual", "start"))
        seq = src.sequences[s_id]
        sl = slice(start, start + 64)
        orig_xy, orig_lik = seq.xy[sl, ind], seq.likelihood[sl, ind]
        conf = np.isfinite(orig_xy).all(-1) & ~seq.suspect[sl, ind] & (orig_lik >= 0.6)
        assert not (inj[n] & ~conf).any()  # only eligible points are corrupted
        same = (b.extra["xy"][n] == orig_xy) | (np.isnan(orig_xy) & np.isnan(b.extra["xy"][n]))
        assert same.all(-1)[~inj[n]].all()  # the others keep their values and likelihoods
        np.testing.assert_array_equal(b.extra["likelihood"][n][~inj[n]], orig_lik[~inj[n]])
    # seeded: the same draw twice
    b2 = src.sample(np.random.default_rng(2), 16)
    np.testing.assert_array_equal(b2.extra["injected"], b.extra["injected"])
