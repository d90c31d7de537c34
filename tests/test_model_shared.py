"""DiT inference with shared conditionings (issue 17): the outputs of the standard path, bit
for bit, whether the tokens share one conditioning (detection), a few (cleanup) or many."""

from __future__ import annotations

import pytest
import torch

from stablemotion_dlc.core.model import DiT, DiTConfig


def _standard(model: DiT, x, t, gen):
    model.train()  # the standard path (dropout 0: the same function as eval)
    try:
        with torch.no_grad():
            return model(x, t, gen)
    finally:
        model.eval()


@pytest.mark.parametrize("case", ["detect", "cleanup", "fractional", "many", "small"])
def test_shared_conditioning_is_bit_identical(case):
    torch.manual_seed(0)
    d, n_lab = 22, 11
    model = DiT(d, n_lab, DiTConfig(width=64, depth=3, heads=4)).eval()
    g = torch.Generator().manual_seed(1)
    for p in model.parameters():  # adaLN and output layers start at zero: make them matter
        p.data.normal_(0, 0.2, generator=g)
    b, n = (3, 17) if case == "small" else (64, 64)
    x = torch.randn(b, n, d + n_lab, generator=g)
    gen = torch.zeros(b, n, d + n_lab, dtype=torch.bool)
    gen[..., d:] = True
    t = torch.where(gen, 25, 0)
    if case == "cleanup":
        gen = gen | (torch.rand(b, n, d + n_lab, generator=g) < 0.2)
        t = torch.where(gen, torch.randint(0, 51, gen.shape, generator=g), 0)
    elif case == "fractional":
        t = torch.where(gen, torch.rand(b, n, d + n_lab, generator=g).round(decimals=1) * 50,
                        torch.zeros(()))
    elif case == "many":  # every token its own time: the standard path is taken
        t = torch.where(gen, torch.rand(b, n, d + n_lab, generator=g) * 50, torch.zeros(()))
    ref = _standard(model, x, t, gen)
    taken = []
    inner = model._forward_shared

    def spy(*a):
        out = inner(*a)
        taken.append(out is not None)
        return out

    model._forward_shared = spy  # type: ignore[method-assign]
    with torch.inference_mode():
        got = model(x, t, gen)
    assert taken == [case != "many"]
    assert torch.equal(got, ref)
    with torch.no_grad():
        assert torch.equal(model(x, t, gen), ref)
