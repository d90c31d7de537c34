"""DISK baseline: the gap injection (always) and the DISK subprocess (only where DISK is installed).

DISK lives in its own virtual environment (``$STABLEMOTION_DISK_PYTHON`` or
``/root/.cache/disk-venv/bin/python``); CI does not have it, so those tests skip.
"""

from __future__ import annotations

import numpy as np
import pytest

from stablemotion_dlc.evaluate.disk_baseline import (
    GAP_BINS,
    disk_python,
    fill_gaps_disk,
    gap_rmse_by_bin,
    linear_fill,
    make_gap_benchmark,
)


def _walk(n_frames: int = 3000, n_kp: int = 5, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    body = np.cumsum(rng.normal(0, 1.0, (n_frames, 1, 2)), axis=0)
    offsets = rng.normal(0, 10.0, (1, n_kp, 2))
    return body + offsets + rng.normal(0, 0.3, (n_frames, n_kp, 2))


def test_gap_injection_is_seeded_and_inside_confident_stretches() -> None:
    xy = _walk()
    ok = np.ones(xy.shape[:2], dtype=bool)
    ok[100:140, 2] = False  # a low-likelihood stretch: no hidden gap may touch it
    gappy, mask, gaps = make_gap_benchmark(xy, ok, seed=3, n_per_bin=4)
    again = make_gap_benchmark(xy, ok, seed=3, n_per_bin=4)
    np.testing.assert_array_equal(gappy, again[0])
    np.testing.assert_array_equal(gaps, again[2])
    assert not np.array_equal(mask, make_gap_benchmark(xy, ok, seed=4, n_per_bin=4)[1])

    assert len(gaps) == 4 * len(GAP_BINS)
    assert np.bincount(gaps["bin"], minlength=len(GAP_BINS)).tolist() == [4] * len(GAP_BINS)
    covered = np.zeros_like(mask)
    for g in gaps:
        lo, hi = GAP_BINS[g["bin"]]
        assert lo <= g["length"] <= hi
        s, n, k = g["start"], g["length"], g["keypoint"]
        covered[s:s + n, k] = True
        # the gap and one neighbour on each side were confident
        assert ok[s - 1:s + n + 1, k].all()
    np.testing.assert_array_equal(covered, mask)
    # gaps are separated in time (default margin 10 frames) and never overlap
    spans = sorted((g["start"], g["start"] + g["length"]) for g in gaps)
    assert all(b[0] - a[1] >= 10 for a, b in zip(spans, spans[1:]))
    # NaN exactly on hidden and unconfident points; the rest untouched
    nan = np.isnan(gappy).any(-1)
    np.testing.assert_array_equal(nan, mask | ~ok)
    np.testing.assert_array_equal(gappy[~nan], xy[~nan])


def test_gap_injection_short_file_and_multi_animal_shapes() -> None:
    xy = _walk(n_frames=150, n_kp=6).reshape(150, 2, 3, 2)  # 2 animals x 3 keypoints
    ok = np.ones(xy.shape[:3], dtype=bool)
    gappy, mask, gaps = make_gap_benchmark(xy, ok, seed=0, n_per_bin=5)
    assert gappy.shape == (150, 6, 2) and mask.shape == (150, 6)
    assert 0 < len(gaps) < 5 * len(GAP_BINS)  # no room for all of them
    assert mask.sum() == gaps["length"].sum()
    with pytest.raises(ValueError):
        make_gap_benchmark(xy[:, 0], ok, seed=0, n_per_bin=1)


def test_scores_per_bin_and_linear_fill() -> None:
    xy = _walk()
    ok = np.ones(xy.shape[:2], dtype=bool)
    gappy, mask, gaps = make_gap_benchmark(xy, ok, seed=0, n_per_bin=3)
    lin = linear_fill(gappy)
    np.testing.assert_array_equal(lin[~mask], xy[~mask])
    res = gap_rmse_by_bin(lin, xy, gaps)
    assert set(res) == {f"{lo}-{hi}" for lo, hi in GAP_BINS} | {"all"}
    assert res["all"]["n_points"] == mask.sum()
    err = np.sqrt(np.mean(np.sum((lin - xy) ** 2, -1)[mask]))
    assert res["all"]["rmse"] == pytest.approx(err)
    assert gap_rmse_by_bin(xy, xy, gaps)["all"]["rmse"] == 0.0
    # the long gaps are harder for interpolation than the short ones on a random walk
    assert res["31-100"]["rmse"] > res["1-3"]["rmse"]


def _disk_or_skip() -> str:
    try:
        return disk_python()
    except RuntimeError as exc:
        pytest.skip(f"DISK not installed: {exc}")


def test_missing_disk_raises_a_clear_error(tmp_path) -> None:
    xy = _walk(200, 3)
    with pytest.raises(RuntimeError, match="pip install"):
        fill_gaps_disk(xy, xy, fps=30.0, python=str(tmp_path / "no-python"))


@pytest.mark.slow
def test_fill_gaps_disk_end_to_end(tmp_path) -> None:
    _disk_or_skip()
    xy = _walk(1500, 4)
    ok = np.ones(xy.shape[:2], dtype=bool)
    gappy, mask, gaps = make_gap_benchmark(xy, ok, seed=0, n_per_bin=1)
    info: dict = {}
    out = fill_gaps_disk(gappy, gappy, fps=30.0, budget_s=5, seed=0, workdir=tmp_path,
                         info=info)
    assert out.shape == gappy.shape and np.isfinite(out).all()
    keep = ~np.isnan(gappy).any(-1)
    assert np.array_equal(out[keep], gappy[keep])  # bit-identical outside the gaps
    assert info["steps"] > 0 and info["n_gaps_imputed"] == len(gaps)
    assert info["n_points_fallback"] == 0
    assert (tmp_path / "filled.npy").exists()
