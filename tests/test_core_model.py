"""DiT model: shapes, zero-initialised output, frame modes, presets."""

from __future__ import annotations

import pytest
import torch

from stablemotion_dlc.core.model import DiT, DiT_models, DiTConfig, frame_mode, make_dit

torch.set_num_threads(1)

D, L = 6, 3


def _inputs(b: int = 2, n: int = 16) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(b, n, D + L, generator=g)
    gen = torch.zeros(b, n, D + L, dtype=torch.bool)
    gen[0, 3:7, :D] = True
    gen[1, :, D:] = True
    t = torch.where(gen, torch.full_like(x, 30), torch.zeros_like(x))
    return x, t, gen


def test_forward_shape_and_zero_init_output() -> None:
    model = DiT(D, L, DiTConfig(width=32, depth=2, heads=2))
    x, t, gen = _inputs()
    out = model(x, t, gen)
    assert out.shape == x.shape
    # adaLN-Zero + zero final layer: the untrained network predicts exactly 0
    assert torch.count_nonzero(out) == 0


def test_output_depends_on_input_after_perturbation() -> None:
    model = DiT(D, L, DiTConfig(width=32, depth=2, heads=2))
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.05)
    x, t, gen = _inputs()
    a = model(x, t, gen)
    x2 = x.clone()
    x2[0, 0, 0] += 1.0
    b = model(x2, t, gen)
    assert not torch.allclose(a, b)
    # scalar t broadcasts to the generated entries
    c = model(x, torch.tensor([30.0, 30.0]), gen)
    assert torch.allclose(a, c, atol=1e-6)


def test_any_length_sequence() -> None:
    model = DiT(D, L, DiTConfig(width=32, depth=1, heads=4, rope_fraction=1.0))
    x, t, gen = _inputs(n=37)
    assert model(x, t, gen).shape == (2, 37, D + L)


def test_frame_mode() -> None:
    _, _, gen = _inputs()
    mode = frame_mode(gen, D)
    assert mode.shape == (2, 16)
    assert mode[0, 3].item() == 2 and mode[0, 0].item() == 0
    assert (mode[1] == 1).all()


def test_presets_and_validation() -> None:
    for name in DiT_models:
        cfg = DiT_models[name]()
        assert cfg.width % cfg.heads == 0
    m = make_dit("tiny", D, L, dropout=0.1)
    assert m.config.dropout == 0.1
    with pytest.raises(ValueError, match="unknown model preset"):
        make_dit("huge", D, L)
    with pytest.raises(ValueError, match="divisible"):
        DiTConfig(width=30, heads=4)
