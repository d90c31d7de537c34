"""Smoothing bounded by each keypoint's own noise (``stablemotion_dlc.dlc.denoise``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stablemotion_dlc.cli import main
from stablemotion_dlc.dlc.denoise import denoise_tracks, denoise_within_noise
from stablemotion_dlc.dlc.io import read_tracks, write_tracks
from stablemotion_dlc.dlc.tracks import Tracks
from stablemotion_dlc.errors import FileProblemError


def _track(seed: int = 0, n: int = 600, noise: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """``(truth, observed)`` of one animal, 3 keypoints: smooth motion plus noise, and a
    4-px jitter burst on keypoint 1 over the third sixth of the frames."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    truth = np.stack([np.concatenate([200 + 80 * np.sin(t / 40 + k), 150 + 60 * np.cos(t / 55 + k)],
                                     axis=1) for k in range(3)], axis=1)  # (T, 3, 2)
    obs = truth + rng.normal(0, noise, truth.shape)
    a, b = n // 3, n // 3 + n // 6  # 200-300 for 600 frames
    obs[a:b, 1] += rng.normal(0, 4.0, (b - a, 2))
    return truth, obs


def test_no_point_moves_further_than_its_keypoints_noise() -> None:
    truth, obs = _track()
    ok = np.ones(obs.shape[:2], bool)
    ok[50:53, 0] = False  # a short gap: those points are neither used nor changed
    out, changed, sigma = denoise_within_noise(obs, ok, bound=1.0)
    step = np.linalg.norm(out - obs, axis=-1)
    assert (step <= sigma[None, :] + 1e-9).all()
    assert changed[ok].mean() > 0.95 and not changed[~ok].any()
    np.testing.assert_array_equal(out[~ok], obs[~ok])
    assert np.allclose(sigma, 0.6, rtol=0.25)  # the noise it was given, measured back
    # right points stay right; the burst's error drops
    err_in = np.linalg.norm(obs - truth, axis=-1)
    err_out = np.linalg.norm(out - truth, axis=-1)
    right = np.ones(ok.shape, bool)
    right[200:300, 1] = False
    assert (err_out[right] > 2.0).mean() <= (err_in[right] > 2.0).mean()
    burst = np.s_[200:300, 1]
    assert np.sqrt(np.mean(err_out[burst] ** 2)) < 0.92 * np.sqrt(np.mean(err_in[burst] ** 2))
    # a larger bound smooths more; bound 0 changes nothing
    out2, _, _ = denoise_within_noise(obs, ok, bound=3.0)
    assert np.linalg.norm(out2 - truth, axis=-1)[burst].mean() < err_out[burst].mean()
    out0, changed0, _ = denoise_within_noise(obs, ok, bound=0.0)
    np.testing.assert_array_equal(out0, obs)
    assert not changed0.any()


def test_runs_shorter_than_the_window_are_left_alone() -> None:
    _, obs = _track(n=200)
    ok = np.zeros(obs.shape[:2], bool)
    ok[10:16] = True  # 6 frames < 7
    ok[100:200] = True
    out, changed, _ = denoise_within_noise(obs, ok)
    np.testing.assert_array_equal(out[:100], obs[:100])
    assert changed[100:].any()


@pytest.mark.parametrize("kw", [{"window": 6}, {"window": 1}, {"window": 5, "order": 5},
                                {"bound": -1.0}, {"bound": float("nan")}])
def test_bad_settings_are_refused(kw: dict) -> None:
    _, obs = _track(n=100)
    with pytest.raises(ValueError):
        denoise_within_noise(obs, np.ones(obs.shape[:2], bool), **kw)


def _tracks(n: int = 600) -> Tracks:
    _, obs = _track(n=n)
    rng = np.random.default_rng(1)
    lik = rng.uniform(0.7, 1.0, obs.shape[:2])
    lik[100:120, 2] = 0.1  # below pcutoff
    xy = obs.copy()
    xy[400:410, 0] = np.nan  # missing
    return Tracks.from_arrays(xy[:, None], lik[:, None], bodyparts=["a", "b", "c"],
                              scorer="DLC_resnet50_testJan1shuffle1_1000")


def test_tracks_below_pcutoff_and_missing_points_keep_their_values() -> None:
    tr = _tracks()
    before = tr.xy.copy()
    res = denoise_tracks(tr, 0.6)
    np.testing.assert_array_equal(tr.xy, before)  # the input is not modified
    keep = ~(tr.likelihood >= 0.6) | ~np.isfinite(tr.xy).all(-1)
    np.testing.assert_array_equal(res.tracks.xy[keep], tr.xy[keep])
    assert not res.changed[keep].any()
    np.testing.assert_array_equal(res.tracks.likelihood, tr.likelihood)
    step = np.linalg.norm(res.tracks.xy - tr.xy, axis=-1)[res.changed]
    assert step.max() <= np.nanmax(res.sigma) + 1e-9
    assert res.summary()["changed"] == int(res.changed.sum())


def test_labelled_data_is_refused() -> None:
    tr = _tracks(n=100)
    tr.index = pd.Index([f"labeled-data/v/img{i:03d}.png" for i in range(100)], dtype=object)
    with pytest.raises(FileProblemError, match="cannot be smoothed"):
        denoise_tracks(tr, 0.6)


def test_cli_writes_three_files_and_never_the_input(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "v_filtered.h5"
    write_tracks(_tracks(), src)
    raw = src.read_bytes()
    assert main(["smooth", str(src)]) == 0
    out = tmp_path / "v_filtered_smoothed.h5"
    assert out.exists() and out.with_suffix(".csv").exists()
    prov = np.load(tmp_path / "v_filtered_smoothed_smoothing.npz")
    back = read_tracks(out)
    assert prov["changed"].shape == back.xy.shape[:3]
    np.testing.assert_array_equal(back.xy[~prov["changed"]], read_tracks(src).xy[~prov["changed"]])
    assert src.read_bytes() == raw
    assert "point(s) changed" in capsys.readouterr().out
    assert main(["smooth", str(src)]) == 1  # exists: not overwritten
    assert "not overwritten" in capsys.readouterr().err
    assert main(["smooth", str(src), "-o", str(src), "--overwrite"]) == 1
    assert "would overwrite the input" in capsys.readouterr().err
    assert src.read_bytes() == raw
    with pytest.raises(SystemExit, match="odd number"):
        main(["smooth", str(src), "--window", "8", "-o", str(tmp_path / "w.h5")])
