"""Classical baselines: shapes, gap filling, purity, and equality with DeepLabCut's own filters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.signal import medfilt

from stablemotion_dlc.evaluate import baselines as B

OPENFIELD = "openfield_m3v1/m3v1mp4DLC_resnet50_openfieldAug20shuffle1_30000.h5"
MULTI = "multi_mouse_short/m3v1mp4shortDLC_effnet_b0_multi_mouseApr12shuffle1_5_el.h5"


def _tracks(t: int = 120, i: int = 2, k: int = 3, seed: int = 0):
    """Smooth motion + 0.5 px noise, a few low-likelihood points and NaN dropouts."""
    rng = np.random.default_rng(seed)
    f = np.arange(t, dtype=float)
    xy = np.empty((t, i, k, 2))
    xy[..., 0] = 100 + 30 * np.sin(f / 15)[:, None, None] + 10 * np.arange(k)
    xy[..., 1] = 80 + 0.2 * f[:, None, None] + 5 * np.arange(i)[:, None]
    xy += rng.normal(0, 0.5, xy.shape)
    lik = rng.uniform(0.8, 1.0, xy.shape[:3])
    lik[20:23, 0, min(1, k - 1)] = 0.1
    xy[50:54, i - 1, k - 1] = np.nan
    lik[50:54, i - 1, k - 1] = np.nan
    return xy, lik


FAST = ["linear", "savgol", "pcutoff_interp_savgol", "dlc_median"]


@pytest.mark.parametrize("name", FAST)
def test_fast_baselines_keep_shape_and_do_not_modify_input(name):
    xy, lik = _tracks()
    xy0, lik0 = xy.copy(), lik.copy()
    out = B.run_baseline(name, xy, lik)
    assert out.shape == xy.shape and out.dtype == np.float64
    assert out is not xy
    np.testing.assert_array_equal(xy, xy0)
    np.testing.assert_array_equal(lik, lik0)
    # the result stays close to the (smooth) input where the input is good
    good = np.isfinite(xy).all(-1) & (lik >= 0.6)
    err = np.linalg.norm(out - xy, axis=-1)[good]
    assert np.nanmedian(err) < 1.0


def test_linear_fills_gaps_up_to_max_gap_only():
    t = 40
    xy = np.zeros((t, 1, 1, 2))
    xy[:, 0, 0, 0] = np.arange(t) * 2.0  # linear: interpolation is exact
    xy[:, 0, 0, 1] = 5.0
    lik = np.ones((t, 1, 1))
    xy[5:8, 0, 0] = np.nan  # gap of 3
    lik[20:30, 0, 0] = 0.05  # low-likelihood gap of 10
    out = B.interpolate_linear(xy, lik, pcutoff=0.6, max_gap=5)
    np.testing.assert_allclose(out[5:8, 0, 0, 0], [10.0, 12.0, 14.0])
    assert np.isnan(out[20:30]).all()
    np.testing.assert_array_equal(out[:5], xy[:5])
    filled = B.interpolate_linear(xy, lik, pcutoff=0.6, max_gap=5, long_gaps="fill")
    np.testing.assert_allclose(filled[20:30, 0, 0, 0], np.arange(20, 30) * 2.0)
    kept = B.interpolate_linear(xy, lik, pcutoff=0.6, max_gap=5, long_gaps="keep")
    np.testing.assert_array_equal(kept[20:30], xy[20:30])
    np.testing.assert_allclose(kept[5:8, 0, 0, 0], [10.0, 12.0, 14.0])
    every = B.interpolate_linear(xy, lik, pcutoff=0.6, max_gap=None)
    assert np.isfinite(every).all()
    # edge gaps hold the nearest kept value
    xy2 = xy.copy()
    xy2[:3] = np.nan
    edge = B.interpolate_linear(xy2, None, pcutoff=None, max_gap=5)
    np.testing.assert_array_equal(edge[:3, 0, 0, 0], [6.0, 6.0, 6.0])
    with pytest.raises(ValueError, match="max_gap"):
        B.interpolate_linear(xy, lik, max_gap=-1)


def test_savgol_preserves_polynomials_and_leaves_long_gaps_nan():
    t = 60
    f = np.arange(t, dtype=float)
    xy = np.zeros((t, 1, 1, 2))
    xy[:, 0, 0, 0] = 0.3 * f**2 - f
    xy[:, 0, 0, 1] = 2 * f
    out = B.savgol_smooth(xy, None, window=9, polyorder=2)
    np.testing.assert_allclose(out, xy, atol=1e-8)
    lik = np.ones((t, 1, 1))
    lik[25:40] = 0.0
    bar = B.pcutoff_interp_savgol(xy, lik, max_gap=10)
    assert np.isnan(bar[25:40]).all() and np.isfinite(bar[:25]).all()
    with pytest.raises(ValueError, match="odd"):
        B.savgol_smooth(xy, None, window=8)


def test_bar_removes_a_confident_looking_low_likelihood_spike():
    xy, lik = _tracks()
    bad = xy.copy()
    bad[20:23, 0, 1] += 80.0  # the low-likelihood points of _tracks jump away
    out = B.pcutoff_interp_savgol(bad, lik)
    err = np.linalg.norm(out[20:23, 0, 1] - xy[20:23, 0, 1], axis=-1)
    assert err.max() < 5.0


def test_dlc_median_is_scipy_medfilt_per_column():
    xy, lik = _tracks()
    out = B.dlc_median(xy, lik, windowlength=5)
    for i, k, c in [(0, 0, 0), (1, 2, 1), (0, 1, 1)]:
        np.testing.assert_array_equal(out[:, i, k, c], medfilt(xy[:, i, k, c], 5))


def test_unavailable_package_gives_clear_skip_message():
    fake = B.Baseline("fake", "needs a package that does not exist", B.dlc_median,
                      requires=(("no_such_module_xyz", "no-such-package"),))
    ok, why = fake.available()
    assert not ok
    assert "fake" in why and "no_such_module_xyz" in why and "pip install no-such-package" in why
    with pytest.raises(B.BaselineUnavailableError, match="no_such_module_xyz"):
        fake(np.zeros((5, 1, 1, 2)), None)
    with pytest.raises(KeyError, match="known"):
        B.run_baseline("nope", np.zeros((5, 1, 1, 2)))


def test_registry_entries_are_complete():
    for name, b in B.BASELINES.items():
        assert b.name == name and b.description and callable(b.function)
        ok, why = b.available()
        assert isinstance(ok, bool) and (ok or why)
    assert "pcutoff_interp_savgol" in B.available_baselines()


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match=r"\(T, I, K, 2\)"):
        B.dlc_median(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="likelihood"):
        B.interpolate_linear(np.zeros((5, 1, 1, 2)), np.zeros((4, 1, 1)))


def test_eks_fixed_smooth_param_shape_and_gaps():
    pytest.importorskip("eks")
    xy, lik = _tracks(t=100, i=1, k=2)
    xy0 = xy.copy()
    res = B.eks_smooth_detailed(xy, lik, smooth_param=5.0)
    np.testing.assert_array_equal(xy, xy0)
    assert res.xy.shape == xy.shape and np.isfinite(res.xy).all()
    assert np.allclose(res.smooth_params, 5.0)
    assert (res.posterior_var > 0).all()
    good = np.isfinite(xy).all(-1)
    assert np.median(np.linalg.norm(res.xy - xy, axis=-1)[good]) < 2.0
    # a keypoint that is never observed comes out NaN, the others are unaffected
    lost = xy.copy()
    lost[:, 0, 1] = np.nan
    res2 = B.eks_smooth_detailed(lost, lik, smooth_param=5.0)
    assert np.isnan(res2.xy[:, 0, 1]).all() and np.isfinite(res2.xy[:, 0, 0]).all()


@pytest.mark.slow
def test_eks_optimised_smooth_param():
    pytest.importorskip("eks")
    xy, lik = _tracks(t=200, i=1, k=2)
    res = B.eks_smooth_detailed(xy, lik)
    assert np.isfinite(res.smooth_params).all() and (res.smooth_params > 0).all()
    assert np.isfinite(res.xy).all()


@pytest.mark.dlc
def test_dlc_spline_fills_short_gaps():
    pytest.importorskip("deeplabcut")
    xy, lik = _tracks()
    xy0 = xy.copy()
    out = B.dlc_spline(xy, lik, pcutoff=0.6, max_gap=5)
    np.testing.assert_array_equal(xy, xy0)
    assert out.shape == xy.shape
    assert np.isfinite(out[20:23, 0, 1]).all() and np.isfinite(out[50:54, 1, 2]).all()
    short = B.dlc_spline(xy, lik, pcutoff=0.6, max_gap=2)
    assert np.isnan(short[50:54, 1, 2]).all()


@pytest.mark.dlc
@pytest.mark.slow
def test_dlc_arima_runs_and_guards_length():
    pytest.importorskip("deeplabcut")
    xy, lik = _tracks(t=80, i=1, k=1)
    xy = np.where(np.isfinite(xy), xy, 100.0)
    out = B.dlc_arima(xy, lik, progress=False)
    assert out.shape == xy.shape and np.isfinite(out).all()
    assert out[0, 0, 0, 0] == xy[0, 0, 0, 0]
    with pytest.raises(ValueError, match="max_frames"):
        B.dlc_arima(xy, lik, max_frames=10)


@pytest.mark.dlc
def test_array_filters_equal_real_filterpredictions(shared_data, tmp_path):
    """The real ``deeplabcut.filterpredictions`` gives bit-identical median and spline output."""
    pytest.importorskip("deeplabcut")
    from stablemotion_dlc.dlc.io import read_tracks, write_tracks

    tr = read_tracks(shared_data / OPENFIELD).select(frames=slice(0, 300))
    tr.xy[40:43, 0, 1] = np.nan  # a short gap for the spline
    tr.likelihood[40:43, 0, 1] = np.nan
    small = tmp_path / "small.h5"
    write_tracks(tr, small)
    before = small.read_bytes()

    out = B.run_dlc_filterpredictions(small, "median", tmp_path / "median")
    assert out.name.endswith("_filtered.h5") and "DLC_Resnet50_" in out.name
    dlc = pd.read_hdf(out)
    coords = dlc.columns.get_level_values("coords")
    dlc_xy = dlc.loc[:, coords != "likelihood"].to_numpy().reshape(tr.xy.shape)
    np.testing.assert_array_equal(B.dlc_median(tr.xy, tr.likelihood), dlc_xy)
    np.testing.assert_array_equal(dlc.loc[:, coords == "likelihood"].to_numpy(),
                                  tr.likelihood[:, 0])

    out = B.run_dlc_filterpredictions(small, "spline", tmp_path / "spline")
    dlc = pd.read_hdf(out)
    dlc_xy = dlc.loc[:, dlc.columns.get_level_values("coords") != "likelihood"]
    mine = B.dlc_spline(tr.xy, tr.likelihood, pcutoff=None, max_gap=5)
    np.testing.assert_array_equal(mine, dlc_xy.to_numpy().reshape(tr.xy.shape))
    assert np.isfinite(mine[40:43, 0, 1]).all()
    assert small.read_bytes() == before  # the input file is never modified

    # multi-animal layout (NaN-rich toy tracks, 4-level columns, tracker suffix)
    out = B.run_dlc_filterpredictions(shared_data / MULTI, "median", tmp_path / "multi")
    assert out.name.endswith("_el_filtered.h5")
    raw = pd.read_hdf(shared_data / MULTI)
    dlc = pd.read_hdf(out)
    c_in = raw.columns.get_level_values("coords") != "likelihood"
    cols = raw.loc[:, c_in].to_numpy()
    mine = B.dlc_median(cols.reshape(len(raw), 1, -1, 2), None)
    np.testing.assert_array_equal(mine.reshape(len(raw), -1),
                                  dlc.loc[:, raw.columns[c_in]].to_numpy())
    with pytest.raises(FileExistsError):
        B.run_dlc_filterpredictions(small, "median", tmp_path / "median")
