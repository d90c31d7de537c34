"""Diffusion: schedule, per-entry noising, inpainting, SITS, DDIM, linear fill."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stablemotion_dlc.core.diffusion import (
    GaussianDiffusion,
    cosine_alpha_bar,
    linear_fill,
    sits_start_times,
)
from stablemotion_dlc.core.model import DiT, DiTConfig
from stablemotion_dlc.core.representation import LabelLayout

torch.set_num_threads(1)


def _random_model(d: int, n_lab: int) -> DiT:
    torch.manual_seed(0)
    m = DiT(d, n_lab, DiTConfig(width=32, depth=2, heads=2)).eval()
    for p in m.parameters():
        torch.nn.init.normal_(p, std=0.05)
    return m


def test_cosine_schedule() -> None:
    ab = cosine_alpha_bar(50)
    assert ab.shape == (51,) and ab[0] == 1.0
    assert np.all(np.diff(ab) < 0) and ab[-1] < 1e-3


def test_q_sample_per_entry_t_keeps_given_entries() -> None:
    diff = GaussianDiffusion()
    x0 = torch.randn(2, 10, 5)
    noise = torch.randn(2, 10, 5)
    t = torch.randint(1, 51, (2, 10, 5))
    gen = torch.rand(2, 10, 5) > 0.5
    xt = diff.q_sample(x0, t, noise, gen)
    assert torch.equal(xt[~gen], x0[~gen])
    assert not torch.equal(xt[gen], x0[gen])
    # t = 0 is the clean value
    assert torch.equal(diff.q_sample(x0, torch.zeros(2, dtype=torch.long), noise), x0)


def test_inpainting_keeps_given_entries_bit_identical() -> None:
    diff = GaussianDiffusion()
    model = _random_model(4, 2)
    x = torch.randn(3, 12, 6)
    gen = torch.zeros(3, 12, 6, dtype=torch.bool)
    gen[:, 4:8, :2] = True
    gen[1, :, 4:] = True
    for steps in (1, 5):
        out = diff.sample(model, x, gen, sampling_steps=steps,
                          generator=torch.Generator().manual_seed(1))
        assert torch.equal(out[~gen], x[~gen])
        assert not torch.equal(out[gen], x[gen])


def test_ddim_one_step_equals_x0_prediction() -> None:
    diff = GaussianDiffusion()
    model = _random_model(4, 2)
    x = torch.randn(2, 10, 6)
    gen = torch.zeros(2, 10, 6, dtype=torch.bool)
    gen[:, 2:6] = True
    out = diff.sample(model, x, gen, sampling_steps=1,
                      generator=torch.Generator().manual_seed(3))
    # same noise, one direct x0 prediction at t = T
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
    t = torch.where(gen, torch.full(x.shape, 50), torch.zeros(x.shape)).long()
    xt = diff.q_sample(x, t, noise, gen)
    x0 = model(torch.where(gen, xt, x), t, gen)
    assert torch.allclose(out[gen], x0[gen], atol=1e-6)
    assert diff.timestep_grid(1) == [50, 0]
    assert diff.timestep_grid(10)[0] == 50 and diff.timestep_grid(10)[-1] == 0
    assert len(diff.timestep_grid(10)) == 11


def _reference_sample(diff: GaussianDiffusion, model: DiT, x_given: torch.Tensor,
                      gen: torch.Tensor, steps: int, t_start: torch.Tensor | None,
                      eta: float, generator: torch.Generator) -> torch.Tensor:
    """``GaussianDiffusion.sample`` as it was: every step through ``_ddim_step`` (fp32)."""
    T = diff.num_steps
    if t_start is None:
        t_start = torch.full(gen.shape, T, dtype=torch.long)
    t_start = torch.where(gen, t_start.long().clamp(0, T), torch.zeros_like(t_start).long())
    noise = torch.randn(x_given.shape, generator=generator, dtype=x_given.dtype)
    x = diff.q_sample(x_given, t_start, noise, gen)
    grid = diff.timestep_grid(steps, int(t_start.max().item()))
    for cur, nxt in zip(grid[:-1], grid[1:], strict=True):
        t_now = torch.minimum(t_start, torch.full_like(t_start, cur))
        t_next = torch.minimum(t_start, torch.full_like(t_start, nxt))
        x0_hat = model(torch.where(gen, x, x_given), t_now, gen).to(x.dtype)
        moving = gen & (t_next < t_now)
        x = torch.where(moving, diff._ddim_step(x, x0_hat, t_now, t_next, eta, generator), x)
    return torch.where(gen, x, x_given)


@pytest.mark.parametrize("steps", [1, 2, 5])
@pytest.mark.parametrize("eta", [0.0, 0.7])
@pytest.mark.parametrize("sits", [False, True])
def test_sample_bit_identical_to_every_step_through_ddim(steps: int, eta: float,
                                                         sits: bool) -> None:
    # the last step (t_next = 0) returns x0_hat without the DDIM arithmetic; outputs and the
    # generator's state after sampling are those of the full step
    diff = GaussianDiffusion()
    model = _random_model(4, 2)
    x = torch.randn(3, 12, 6, generator=torch.Generator().manual_seed(5))
    gen = torch.zeros(3, 12, 6, dtype=torch.bool)
    gen[:, 3:9, :4] = True
    gen[2, :, 4:] = True
    t_start = (torch.randint(0, 51, gen.shape, generator=torch.Generator().manual_seed(6))
               if sits else None)
    g_new, g_ref = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    out = diff.sample(model, x, gen, sampling_steps=steps, t_start=t_start, eta=eta,
                      generator=g_new, amp=False)
    ref = _reference_sample(diff, model, x, gen, steps, t_start, eta, g_ref)
    assert torch.equal(out, ref)
    assert torch.equal(torch.randn(4, generator=g_new), torch.randn(4, generator=g_ref))


def test_sits_start_times_formula() -> None:
    p = np.array([0.0, 0.25, 0.5, 0.6, 0.75, 1.0])
    t = sits_start_times(p, 50, tau=0.5, minimum=0)
    expected = np.rint(50 * np.sin(np.pi / 2 * np.minimum(1, 2 * p - 0.5))).clip(0, 50)
    assert np.array_equal(t, expected.astype(int))
    assert t[-1] == 50 and t[-2] == 50 and t[0] == 0
    assert sits_start_times(p, 50)[0] == 1  # default floor for masked entries


def test_sits_entries_wait_for_their_start_time() -> None:
    diff = GaussianDiffusion()
    model = _random_model(4, 2)
    x = torch.randn(1, 8, 6)
    gen = torch.zeros(1, 8, 6, dtype=torch.bool)
    gen[0, 2:5, :4] = True
    t_start = torch.where(gen, torch.full(gen.shape, 50), torch.zeros(gen.shape)).long()
    t_start[0, 2, :4] = 10  # mildly suspicious frame
    seen: list[torch.Tensor] = []

    def spy(xx: torch.Tensor, tt: torch.Tensor, gg: torch.Tensor) -> torch.Tensor:
        seen.append(tt.clone())
        return model(xx, tt, gg)

    diff.sample(spy, x, gen, sampling_steps=5, t_start=t_start,
                generator=torch.Generator().manual_seed(0))
    assert all(int(s[0, 2, 0]) <= 10 for s in seen)
    assert int(seen[0][0, 3, 0]) == 50


def test_per_entry_mask_from_label_layout() -> None:
    layout = LabelLayout(n_features=5, n_labels=3, label_of_feature=(0, 0, 1, 1, 2),
                         extra_labels=((), (), (), (), (0,)))
    m = np.zeros((4, 3), dtype=bool)
    m[1, 0] = True
    m[2, 1] = True
    f = layout.feature_mask(m)
    assert f.shape == (4, 5)
    assert f[1].tolist() == [True, True, False, False, True]
    assert f[2].tolist() == [False, False, True, True, False]
    assert not f[0].any()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linear_fill_matches_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, 30, 3)).astype(np.float32)
    known = rng.random((2, 30, 3)) > 0.6
    known[1, :, 2] = False
    out = linear_fill(torch.from_numpy(x), torch.from_numpy(known)).numpy()
    idx = np.arange(30)
    for b in range(2):
        for c in range(3):
            k = known[b, :, c]
            ref = np.interp(idx, idx[k], x[b, k, c]) if k.any() else np.zeros(30)
            np.testing.assert_allclose(out[b, :, c], ref, atol=1e-5)
    assert np.array_equal(out[known], x[known])


def test_training_loss_counts_only_generated_observed_entries() -> None:
    diff = GaussianDiffusion()
    x0 = torch.randn(2, 6, 4)
    gen = torch.zeros(2, 6, 4, dtype=torch.bool)
    gen[:, :3] = True
    weight = torch.ones_like(gen)
    weight[0, 0] = False
    pred = torch.zeros_like(x0)

    def model(x: torch.Tensor, t: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        assert torch.equal(x[~g], x0[~g]) and (t[~g] == 0).all()
        return pred

    t = torch.full((2,), 10)
    noise = torch.randn_like(x0)
    sel = gen & weight
    loss = diff.training_loss(model, x0, gen, weight, t, noise)
    assert torch.allclose(loss, x0.abs()[sel].mean())
    sq = torch.zeros_like(gen)
    sq[..., 3] = True
    loss2 = diff.training_loss(model, x0, gen, weight, t, noise, squared=sq)
    ref = torch.where(sq, x0 ** 2, x0.abs())[sel].mean()
    assert torch.allclose(loss2, ref)
