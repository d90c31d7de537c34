"""The vectorised pieces of the rules (issue 17) give the same labels as the loops they replaced.

The replaced code is kept here as the reference and patched in, so the same files are labelled
twice: the masks and reason bits must be identical (they were also checked identical against
the code before the change on every file of shared/data and on two simulated 1-hour files).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from stablemotion_dlc.dlc import identity, labels
from stablemotion_dlc.dlc.io import read_tracks
from stablemotion_dlc.dlc.labels import suspect_mask


def _old_leave_one_out(a: np.ndarray) -> np.ndarray:
    n_k = a.shape[-1]
    out = np.empty(a.shape)
    for k in range(n_k):
        others = np.delete(np.arange(n_k), k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[..., k] = labels._nanmedian_last(a[..., others])
    return out


def _old_mode_state(states: np.ndarray, weight: np.ndarray) -> np.ndarray:
    uniq, inv = np.unique(states, axis=0, return_inverse=True)
    counts = np.bincount(inv.ravel(), weights=weight, minlength=len(uniq))
    return uniq[int(np.argmax(counts))]


def _both(tracks, monkeypatch):
    with np.errstate(all="ignore"):
        new = suspect_mask(tracks)
        with monkeypatch.context() as m:
            m.setattr(labels, "_nanmedian_leave_one_out", _old_leave_one_out)
            m.setattr(identity, "_mode_state", _old_mode_state)
            old = suspect_mask(tracks)
    return new, old


def test_leave_one_out_median_same_floats():
    rng = np.random.default_rng(0)
    for n_k in (2, 3, 4, 10, 12):
        a = rng.normal(size=(400, 3, n_k))
        a[rng.random(a.shape) < 0.3] = np.nan
        a[::5] = np.round(a[::5], 1)  # ties
        a[::11] = np.nan  # whole rows missing
        assert np.array_equal(labels._nanmedian_leave_one_out(a), _old_leave_one_out(a),
                              equal_nan=True)


def test_mode_state_same_choice_with_ties():
    rng = np.random.default_rng(1)
    for n in (2, 3, 6):
        pool = np.array([rng.permutation(n) for _ in range(30)])
        states = pool[rng.integers(0, 30, 2000)]
        for w in (rng.random(2000), np.ones(2000)):
            assert np.array_equal(identity._mode_state(states, w), _old_mode_state(states, w))
    wide = np.tile(np.arange(25), (10, 1))  # too wide to pack: the old way
    assert np.array_equal(identity._mode_state(wide, np.ones(10)), np.arange(25))


@pytest.mark.parametrize("n_animals", [1, 3])
def test_sample_files_same_labels(tmp_path, monkeypatch, n_animals):
    from stablemotion_dlc.sample import make_sample_project

    p = make_sample_project(tmp_path / "s", duration_s=40.0, n_animals=n_animals, video=False,
                            progress=False, seed=4)
    new, old = _both(read_tracks(p.predictions_h5), monkeypatch)
    assert np.array_equal(new.reasons, old.reasons)
    assert new.summary()["stuck"] > 0 or n_animals == 1


def test_real_files_same_labels(shared_data, monkeypatch):
    done = 0
    for f in sorted(p for p in Path(shared_data).rglob("*") if p.suffix in (".h5", ".csv")):
        try:
            tracks = read_tracks(f)
        except Exception:  # noqa: BLE001 - not a pose file
            continue
        new, old = _both(tracks, monkeypatch)
        assert np.array_equal(new.reasons, old.reasons), f
        done += 1
    assert done >= 5
