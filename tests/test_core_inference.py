"""Cleaner: windowing and blending, suspect-only windows, bit-identical output, callbacks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from stablemotion_dlc.core.checkpoint import save_checkpoint
from stablemotion_dlc.core.diffusion import GaussianDiffusion
from stablemotion_dlc.core.inference import (
    Cleaner,
    CleanupCancelled,
    blend_weights,
    window_starts,
)
from stablemotion_dlc.core.model import DiT, DiTConfig
from stablemotion_dlc.core.normalize import Normalizer
from stablemotion_dlc.core.synthetic import interp_fill, synthetic_layout

torch.set_num_threads(1)

G = 3
D = 2 * G


def _cleaner(tmp_path: Path, randomise: bool = True, residual: bool = True,
             window: int = 32) -> Cleaner:
    torch.manual_seed(0)
    model = DiT(D, G, DiTConfig(width=32, depth=1, heads=2))
    if randomise:
        for p in model.parameters():
            torch.nn.init.normal_(p, std=0.05)
    path = tmp_path / f"m{int(randomise)}{int(residual)}.safetensors"
    save_checkpoint(path, model=model, diffusion=GaussianDiffusion(),
                    normalizer=Normalizer(np.linspace(-1, 1, D), np.linspace(1, 3, D)),
                    layout=synthetic_layout(G), spec={"representation": "test"},
                    train_config={"window": window, "residual_to_interp": residual}, step=1)
    return Cleaner.from_file(path, batch_size=4, overlap=8)


class _Counter(torch.nn.Module):
    """Wraps a model and counts the windows it is called on."""

    def __init__(self, inner: torch.nn.Module, n_features: int) -> None:
        super().__init__()
        self.inner = inner
        self.n_features = n_features
        self.rows = 0

    def forward(self, x: torch.Tensor, t: torch.Tensor, gen: torch.Tensor) -> torch.Tensor:
        self.rows += x.shape[0]
        return self.inner(x, t, gen)


class _Const(torch.nn.Module):
    def forward(self, x: torch.Tensor, t: torch.Tensor, gen: torch.Tensor) -> torch.Tensor:
        return torch.full_like(x, 0.2)


def _signal(n: int) -> np.ndarray:
    t = np.arange(n)[:, None]
    return np.sin(t / 7.0 + np.arange(D)[None, :]).astype(np.float64) * 3 + 1


def test_window_starts_and_blend_weights() -> None:
    assert window_starts(20, 32, 8) == [0]
    starts = window_starts(150, 64, 16)
    assert starts == [0, 48, 86]
    cover = np.zeros(150)
    for s in starts:
        w = blend_weights(s, 64, 150, 16)
        assert np.all(w > 0)
        cover[s:s + 64] += w
    assert np.all(cover > 0)
    w0 = blend_weights(0, 64, 150, 16)
    assert w0[0] == 1.0 and w0[-1] < 0.1


def test_blending_is_normalised_on_odd_length(tmp_path: Path) -> None:
    c = _cleaner(tmp_path)
    c.model = _Const()
    prob = c.detect(_signal(101)[:, :D], method="probdet", n_runs=2)
    assert prob.shape == (101, G)
    np.testing.assert_allclose(prob, 0.6, atol=1e-6)


def test_cleanup_keeps_unmasked_entries_bit_identical(tmp_path: Path) -> None:
    c = _cleaner(tmp_path)
    f = _signal(101)
    mask = np.zeros((101, G), dtype=bool)
    mask[30:40, 1] = True
    mask[95:, 0] = True
    r = c.cleanup(f, mask, suspicion=mask * 0.9, ensemble=3, steps=2)
    assert r.features.dtype == f.dtype and r.features.shape == f.shape
    assert np.array_equal(r.features[~r.feature_mask], f[~r.feature_mask])
    assert r.feature_mask[30:40, 2:4].all() and not r.feature_mask[30:40, :2].any()
    assert not np.array_equal(r.features[r.feature_mask], f[r.feature_mask])
    assert np.all(np.isfinite(r.features))
    assert (r.uncertainty[r.feature_mask] > 0).all() and (r.uncertainty[~r.feature_mask] == 0).all()


def test_untrained_residual_model_is_linear_interpolation(tmp_path: Path) -> None:
    c = _cleaner(tmp_path, randomise=False)  # zero-initialised output: correction = 0
    f = _signal(60)
    mask = np.zeros((60, G), dtype=bool)
    mask[20:31, 2] = True
    r = c.cleanup(f, mask)
    ref = interp_fill(f, ~r.feature_mask)
    np.testing.assert_allclose(r.features, ref, atol=1e-4)


def test_only_suspect_windows_are_run(tmp_path: Path) -> None:
    c = _cleaner(tmp_path)  # window 32, overlap 8 -> stride 24
    counter = _Counter(c.model, D)
    c.model = counter
    f = _signal(300)
    n_windows = len(window_starts(300, 32, 8))
    mask = np.zeros((300, G), dtype=bool)
    r = c.cleanup(f, mask)
    assert counter.rows == 0 and r.windows_run == 0 and np.array_equal(r.features, f)
    mask[5, 0] = True  # only in window 0
    r = c.cleanup(f, mask, steps=1, ensemble=1)
    assert counter.rows == 1 and r.windows_run == 1 and r.windows_total == n_windows
    counter.rows = 0
    mask[26, 1] = True  # frames 24..31 are shared by windows 0 and 1
    r = c.cleanup(f, mask, steps=1, ensemble=3)
    assert r.windows_run == 2 and counter.rows == 2 * 3
    counter.rows = 0
    c.detect(f, method="probdet", n_runs=2)
    assert counter.rows == 2 * n_windows


def test_progress_and_stop_callbacks(tmp_path: Path) -> None:
    c = _cleaner(tmp_path)
    f = _signal(200)
    calls: list[tuple[int, int]] = []
    c.detect(f, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1][0] == calls[-1][1] and len(calls) >= 2
    with pytest.raises(CleanupCancelled):
        c.detect(f, should_stop=lambda: True)


def test_input_validation(tmp_path: Path) -> None:
    c = _cleaner(tmp_path)
    with pytest.raises(ValueError, match="features must be"):
        c.detect(np.zeros((10, D + 1)))
    bad = _signal(10)
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        c.detect(bad)
    with pytest.raises(ValueError, match="mask must be"):
        c.cleanup(_signal(10), np.zeros((10, G + 1), dtype=bool))
    with pytest.raises(ValueError, match="method"):
        c.detect(_signal(10), method="vote")
