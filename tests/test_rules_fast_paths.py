"""The rules' and the swap search's fast paths give the same floats as the code they replace.

Reference implementations (the code before the change) are kept here and compared bit for
bit on the sample project (one animal, and three animals with NaN placeholders) and on a file
with injected collapses, NaN coordinates and dropped individuals.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from stablemotion_dlc._arrays import true_runs
from stablemotion_dlc.dlc import identity, labels
from stablemotion_dlc.dlc.io import read_tracks
from stablemotion_dlc.sample import make_sample_project


def _ref_rule_on_part(xy, conf, finite, min_px, frac=0.25, apart=0.5, max_rows=20000):
    """``labels._rule_on_part`` before the broadcast over pairs (with its later median of the
    frames before a collapse, ``labels._moves_into``)."""
    n_t, n_i, n_k = finite.shape
    flags = np.zeros(finite.shape, dtype=bool)
    if n_t < 3 or n_k < 2:
        return flags
    rows = labels._sample_rows(n_t, max_rows)
    for i, (a, b) in itertools.product(range(n_i), itertools.combinations(range(n_k), 2)):
        both = conf[rows, i, a] & conf[rows, i, b]
        if both.sum() < 50:
            continue
        d_s = np.linalg.norm(xy[rows, i, a] - xy[rows, i, b], axis=-1)[both]
        med = float(np.median(d_s))
        if med <= 2.0 * min_px or float(np.quantile(d_s, 0.1)) < apart * med:
            continue
        ok = finite[:, i, a] & finite[:, i, b]
        with np.errstate(invalid="ignore"):
            close = ok & (np.linalg.norm(xy[:, i, a] - xy[:, i, b], axis=-1) < frac * med)
        for s, e in zip(*true_runs(close), strict=True):
            moved = labels._moves_into(xy[:, i], ok, s, e, a, b)
            if moved is None:
                continue
            da, db = moved
            if da >= 0.5 * med and da > 2.0 * db:
                flags[s:e, i, a] = True
            elif db >= 0.5 * med and db > 2.0 * da:
                flags[s:e, i, b] = True
    return flags


def _ref_rule_bone(xy, conf, finite, skeleton, k, rel):
    """``labels._rule_bone`` before the bone- and keypoint-major copies."""
    flags = np.zeros(conf.shape, dtype=bool)
    if not skeleton:
        return flags, {"bone_median": []}
    e = np.asarray(skeleton, dtype=np.intp)
    a, b = e[:, 0], e[:, 1]
    length = np.linalg.norm(xy[:, :, a] - xy[:, :, b], axis=-1)
    both_conf = conf[:, :, a] & conf[:, :, b]
    med, mad = labels._robust(length, both_conf, axis=0)
    dev = np.abs(length - med[None])
    with np.errstate(invalid="ignore"):
        bad = (dev > k * mad[None]) & (dev > rel * med[None])
    bad &= finite[:, :, a] & finite[:, :, b] & np.isfinite(med)[None]
    if not bad.any():
        return flags, {"bone_median": med.tolist()}
    valid_bone = (finite[:, :, a] & finite[:, :, b]).astype(np.int32)
    nb = np.zeros(conf.shape, dtype=np.int32)
    nv = np.zeros(conf.shape, dtype=np.int32)
    bad_i = bad.astype(np.int32)
    for j in range(len(e)):
        nb[:, :, a[j]] += bad_i[:, :, j]
        nb[:, :, b[j]] += bad_i[:, :, j]
        nv[:, :, a[j]] += valid_bone[:, :, j]
        nv[:, :, b[j]] += valid_bone[:, :, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(nv > 0, nb / np.maximum(nv, 1), 0.0)
    for j in range(len(e)):
        fa, fb = frac[:, :, a[j]], frac[:, :, b[j]]
        ca, cb = conf[:, :, a[j]], conf[:, :, b[j]]
        blame_a = np.where(ca != cb, ~ca, fa > fb)
        blame_b = np.where(ca != cb, ~cb, fb > fa)
        flags[:, :, a[j]] |= bad[:, :, j] & blame_a
        flags[:, :, b[j]] |= bad[:, :, j] & blame_b
    return flags, {"bone_median": med.tolist()}


def _ref_pair_costs(pos, valid, velocity):
    """``identity._pair_costs`` before the explicit norm."""
    last, last_ok = identity._ffill(pos, valid)
    prev = identity._shift(last, np.nan)
    prev_ok = identity._shift(last_ok, False)
    if velocity:
        seen1 = identity._shift(valid, False)
        seen2 = identity._shift(seen1, False)
        p2 = identity._shift(prev, np.nan)
        vel = np.where((seen1 & seen2)[..., None], prev - p2, 0.0)
        prev = prev + vel
    d = np.linalg.norm(prev[:, :, None] - pos[:, None, :], axis=-1)
    both = prev_ok[:, :, None] & valid[:, None, :]
    d = np.where(both, d, 0.0)
    cnt = both.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, d.sum(-1) / np.maximum(cnt, 1), np.nan)


def _project(tmp: Path, n_animals: int, seed: int):
    proj = make_sample_project(tmp / f"p{n_animals}_{seed}", seed=seed, n_animals=n_animals,
                               duration_s=40.0, video=False, progress=False)
    tr = read_tracks(proj.predictions_h5)
    return np.array(tr.xy, dtype=float), np.array(tr.likelihood, dtype=float), tr


def _inputs(tmp: Path, n_animals: int, seed: int, damage: bool):
    xy, lik, tr = _project(tmp, n_animals, seed)
    rng = np.random.default_rng(seed)
    if damage:
        t, n, k = lik.shape
        # collapses: a keypoint jumps onto another one for a while (both directions)
        for _ in range(6):
            i, a, b = rng.integers(n), *rng.choice(k, 2, replace=False)
            s = int(rng.integers(0, t - 80))
            xy[s:s + int(rng.integers(5, 80)), i, a] = xy[s:s + 80, i, b][:1] + 0.3
        xy[:40, 0, 1] = xy[:40, 0, 2]  # a collapse at the start of the file
        nan = rng.random(lik.shape) < 0.05
        xy[nan] = np.nan
        xy[rng.random(lik.shape) < 0.01, 0] = np.nan  # x alone missing
        if n > 1:
            xy[100:400, 1] = np.nan  # an individual absent for a while
    finite = np.isfinite(xy).all(-1)
    conf = finite & (np.nan_to_num(lik) >= 0.6)
    tr.xy[...] = xy
    return xy, conf, finite, tr


@pytest.mark.parametrize(("n_animals", "seed", "damage"),
                         [(1, 0, False), (1, 1, True), (3, 2, False), (3, 3, True)])
def test_fast_paths_equal_references(tmp_path: Path, n_animals: int, seed: int,
                                     damage: bool) -> None:
    xy, conf, finite, tr = _inputs(tmp_path, n_animals, seed, damage)
    for min_px, max_rows in ((2.0, 20000), (5.0, 300), (0.5, 20000)):
        new = labels._rule_on_part(xy, conf, finite, min_px, max_rows=max_rows)
        ref = _ref_rule_on_part(xy, conf, finite, min_px, max_rows=max_rows)
        np.testing.assert_array_equal(new, ref)
    if damage:
        assert _ref_rule_on_part(xy, conf, finite, 2.0).any()  # the comparison saw flags
    n_k = conf.shape[2]
    for skel in (labels.default_skeleton(tr, conf), [(0, 1)], [(k, k + 1) for k in range(n_k - 1)]
                 + [(0, n_k - 1), (2, 5)], []):
        for k, rel in ((6.0, 0.35), (2.0, 0.05)):
            got = labels._rule_bone(xy, conf, finite, skel, k, rel)
            want = _ref_rule_bone(xy, conf, finite, skel, k, rel)
            np.testing.assert_array_equal(got[0], want[0])
            assert repr(got[1]) == repr(want[1])
    for velocity in (False, True):
        new_c = identity._pair_costs(xy, conf, velocity)
        ref_c = _ref_pair_costs(xy, conf, velocity)
        assert new_c.tobytes() == ref_c.tobytes()


def test_dist_is_linalg_norm() -> None:
    rng = np.random.default_rng(0)
    v = rng.standard_normal((5000, 2)) * 10.0 ** rng.integers(-200, 200, (5000, 2))
    v[::7, 0] = np.nan
    v[::11, 1] = np.inf
    v[::13] = 0.0
    v[::17, 0] = -0.0
    got = labels._dist(v[:, 0].copy(), v[:, 1].copy())
    assert got.tobytes() == np.linalg.norm(v, axis=-1).tobytes()


def _norm_dist(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.stack([dx, dy], -1), axis=-1)


@pytest.mark.parametrize(("n_animals", "seed", "damage"), [(1, 0, False), (3, 3, True)])
def test_suspect_mask_same_with_linalg_norm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            n_animals: int, seed: int, damage: bool) -> None:
    # every rule's distances through _dist give the flags and thresholds of np.linalg.norm
    _, _, _, tr = _inputs(tmp_path, n_animals, seed, damage)
    new = labels.suspect_mask(tr)
    monkeypatch.setattr(labels, "_dist", _norm_dist)
    ref = labels.suspect_mask(tr)
    np.testing.assert_array_equal(new.reasons, ref.reasons)
    assert new.mask.any()
    assert repr(new.params) == repr(ref.params)
