"""Gaussian diffusion with x0 prediction, per-entry times, inpainting and respaced DDIM.

The diffusion process knows nothing about the network: it takes the model as a callable
``model(x, t, gen) -> x0`` (see :class:`stablemotion_dlc.core.model.DiT`).

Conventions
-----------
* Times are integers ``0..T``; ``t = 0`` is the clean value (``alpha_bar[0] = 1``) and
  ``t = T`` is (almost) pure noise. Training draws ``t`` from ``1..T``.
* ``gen`` is an entry-level bool mask ``(B, frames, C)``: True where the entry is generated.
  Given entries are held at their clean value at every step and never noised.
* SITS: each generated entry may start from its own time ``t_start`` (see
  :func:`sits_start_times`); it waits, unchanged, until the shared schedule reaches it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from .device import amp_dtype, autocast

__all__ = [
    "DiffusionConfig",
    "GaussianDiffusion",
    "cosine_alpha_bar",
    "sits_start_times",
    "linear_fill",
]

ModelFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class DiffusionConfig:
    """Diffusion settings saved with the model.

    Attributes
    ----------
    steps : int
        Number of training timesteps ``T``.
    schedule : str
        Noise schedule; only ``"cosine"`` (Nichol & Dhariwal) is provided.
    sits_tau : float
        SITS offset ``tau``.
    """

    steps: int = 50
    schedule: str = "cosine"
    sits_tau: float = 0.5

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict."""
        return asdict(self)


def cosine_alpha_bar(steps: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """Cumulative signal fraction ``alpha_bar[t]``, ``t = 0..steps`` (``alpha_bar[0] = 1``).

    Parameters
    ----------
    steps : int
        ``T``.
    s : float
        Cosine schedule offset.
    max_beta : float
        Per-step beta clip, as in improved DDPM.

    Returns
    -------
    np.ndarray
        ``(steps + 1,)`` float64, decreasing from 1.
    """

    def f(t: float) -> float:
        return math.cos((t / steps + s) / (1 + s) * math.pi / 2) ** 2

    betas = [min(1 - f(i + 1) / f(i), max_beta) for i in range(steps)]
    ab = np.cumprod([1.0] + [1 - b for b in betas])
    return ab


def sits_start_times(suspicion: np.ndarray | torch.Tensor, steps: int, tau: float = 0.5,
                     minimum: int = 1) -> np.ndarray:
    """SITS start time per entry: ``T * sin(pi/2 * min(1, 2 p - 1 + tau))``.

    Parameters
    ----------
    suspicion : array
        Per-entry suspicion ``p`` in ``[0, 1]``.
    steps : int
        ``T``.
    tau : float
        Offset; 0.5 means ``p >= 0.75`` starts from pure noise.
    minimum : int
        Floor on the start time of an entry that is generated at all (negative angles are
        clipped here, so a masked entry is always at least re-predicted from ``t = minimum``).

    Returns
    -------
    np.ndarray
        Integer start times, same shape as ``suspicion``, in ``[minimum, T]``.
    """
    p = np.clip(np.asarray(suspicion, dtype=np.float64), 0.0, 1.0)
    arg = np.minimum(1.0, 2.0 * p - 1.0 + tau)
    t = steps * np.sin(np.pi / 2 * arg)
    return np.clip(np.rint(t), minimum, steps).astype(np.int64)


def linear_fill(x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Linear interpolation along time, per channel, through the ``known`` entries.

    Entries before the first / after the last known entry take its value; a channel with
    no known entry is filled with 0 (the mean, in normalised units).

    Parameters
    ----------
    x : torch.Tensor
        ``(B, frames, C)`` values.
    known : torch.Tensor
        ``(B, frames, C)`` bool.

    Returns
    -------
    torch.Tensor
        ``(B, frames, C)``; equal to ``x`` where ``known``.
    """
    b, n, c = x.shape
    idx = torch.arange(n, device=x.device)[None, :, None].expand(b, n, c)  # (B, N, C)
    neg = torch.full_like(idx, -1)
    prev = torch.cummax(torch.where(known, idx, neg), dim=1).values  # (B, N, C)
    big = torch.full_like(idx, n)
    nxt = torch.where(known, idx, big).flip(1)
    nxt = (-torch.cummax(-nxt, dim=1).values).flip(1)  # (B, N, C) next known index or n
    has_prev, has_next = prev >= 0, nxt < n
    pv = torch.gather(x, 1, prev.clamp(min=0))  # (B, N, C)
    nv = torch.gather(x, 1, nxt.clamp(max=n - 1))  # (B, N, C)
    span = (nxt - prev).clamp(min=1).to(x.dtype)
    w = ((idx - prev).to(x.dtype) / span).clamp(0, 1)
    both = pv + w * (nv - pv)
    out = torch.where(has_prev & has_next, both,
                      torch.where(has_prev, pv, torch.where(has_next, nv, torch.zeros_like(x))))
    return torch.where(known, x, out)


class GaussianDiffusion(torch.nn.Module):
    """Cosine-schedule Gaussian diffusion predicting ``x0``.

    Schedule tensors are buffers, so they follow ``.to(device)``.

    Parameters
    ----------
    config : DiffusionConfig
        Number of steps and SITS offset.
    """

    def __init__(self, config: DiffusionConfig | None = None) -> None:
        super().__init__()
        self.config = config or DiffusionConfig()
        if self.config.schedule != "cosine":
            raise ValueError(f"unknown noise schedule {self.config.schedule!r}; only 'cosine'")
        ab = torch.tensor(cosine_alpha_bar(self.config.steps), dtype=torch.float64)
        self.register_buffer("alpha_bar", ab.float(), persistent=False)
        self.register_buffer("sqrt_ab", ab.sqrt().float(), persistent=False)
        self.register_buffer("sqrt_1mab", (1 - ab).clamp(min=0).sqrt().float(),
                             persistent=False)

    @property
    def num_steps(self) -> int:
        """``T``."""
        return self.config.steps

    # ------------------------------------------------------------------ forward process
    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor,
                 gen: torch.Tensor | None = None) -> torch.Tensor:
        """Noise ``x0`` to per-entry times ``t``; entries not in ``gen`` stay exactly ``x0``.

        Parameters
        ----------
        x0 : torch.Tensor
            ``(B, frames, C)`` clean values.
        t : torch.Tensor
            Integer times, ``(B,)`` or ``(B, frames, C)``.
        noise : torch.Tensor
            Standard normal noise like ``x0``.
        gen : torch.Tensor, optional
            Bool mask of generated entries; others are returned bit-identical.
        """
        if t.dim() == 1:
            t = t[:, None, None].expand_as(x0)
        t = t.long()
        xt = self.sqrt_ab[t].to(x0.dtype) * x0 + self.sqrt_1mab[t].to(x0.dtype) * noise
        if gen is not None:
            xt = torch.where(gen, xt, x0)
        return xt

    def training_loss(self, model: ModelFn, x0: torch.Tensor, gen: torch.Tensor,
                      weight: torch.Tensor, t: torch.Tensor, noise: torch.Tensor,
                      squared: torch.Tensor | None = None) -> torch.Tensor:
        """L1 between predicted and true ``x0`` on the generated, observed entries.

        Parameters
        ----------
        model : callable
            ``model(x, t, gen) -> x0``.
        x0 : torch.Tensor
            ``(B, frames, C)`` clean (target) values.
        gen : torch.Tensor
            ``(B, frames, C)`` bool generated entries.
        weight : torch.Tensor
            ``(B, frames, C)`` bool/float: entries whose target counts (observed).
        t : torch.Tensor
            ``(B,)`` or ``(B, frames, C)`` integer times in ``1..T``.
        noise : torch.Tensor
            Standard normal noise.
        squared : torch.Tensor, optional
            Bool mask of entries scored with the squared error instead (e.g. the label
            channels: their x0 prediction then estimates ``2 P(bad) - 1``, a calibrated
            probability, where L1 would give the median, almost always "good").

        Returns
        -------
        torch.Tensor
            Scalar mean error over the counted entries.
        """
        if t.dim() == 1:
            t = t[:, None, None].expand_as(x0)
        t = torch.where(gen, t, torch.zeros_like(t))
        xt = self.q_sample(x0, t, noise, gen)
        pred = model(xt, t, gen)
        w = (gen & weight.bool()).to(pred.dtype)
        diff = pred.float() - x0.float()
        err = diff.abs() if squared is None else torch.where(squared, diff ** 2, diff.abs())
        err = err * w
        return err.sum() / w.sum().clamp(min=1.0)

    # ------------------------------------------------------------------ sampling
    def timestep_grid(self, sampling_steps: int, t_start: int | None = None) -> list[int]:
        """Respaced decreasing times from ``t_start`` (default ``T``) to 0.

        ``sampling_steps = 1`` gives ``[T, 0]``: a single x0 prediction.
        """
        top = self.num_steps if t_start is None else int(t_start)
        k = max(1, min(int(sampling_steps), top))
        grid = np.unique(np.rint(np.linspace(0, top, k + 1)).astype(int))[::-1]
        return [int(v) for v in grid]

    @torch.no_grad()
    def sample(self, model: ModelFn, x_given: torch.Tensor, gen: torch.Tensor, *,
               sampling_steps: int = 1, t_start: torch.Tensor | None = None,
               x_start: torch.Tensor | None = None, eta: float = 0.0,
               generator: torch.Generator | None = None,
               amp: bool | torch.dtype | None = True) -> torch.Tensor:
        """Respaced DDIM inpainting with per-entry start times.

        Parameters
        ----------
        model : callable
            ``model(x, t, gen) -> x0``.
        x_given : torch.Tensor
            ``(B, frames, C)`` clean values of the given entries (other entries ignored
            unless ``x_start`` is None and ``t_start`` < T, see below).
        gen : torch.Tensor
            ``(B, frames, C)`` bool, entries to generate.
        sampling_steps : int
            Number of model calls; 1 = one x0 prediction.
        t_start : torch.Tensor, optional
            ``(B, frames, C)`` integer start time per entry (SITS); default ``T`` for all
            generated entries. An entry with ``t_start < T`` starts from ``x_start`` noised to
            its start time.
        x_start : torch.Tensor, optional
            Values to noise for entries starting below ``T`` (default ``x_given``).
        eta : float
            DDIM stochasticity (0 = deterministic after the initial noise).
        generator : torch.Generator, optional
            Seeded generator for all noise.
        amp : bool or torch.dtype, optional
            Mixed precision of the network calls: True (default) autocasts on CUDA (bf16
            where supported, else fp16; see :func:`~stablemotion_dlc.core.device.amp_dtype`)
            and runs float32 elsewhere; a dtype forces autocast to it (bf16 on CPU tests the
            path without a GPU); False or None: float32. The sampler's own arithmetic stays
            in the input's dtype.

        Returns
        -------
        torch.Tensor
            ``(B, frames, C)``: generated entries filled, given entries bit-identical to
            ``x_given``.
        """
        T = self.num_steps
        gen = gen.bool()
        dev = x_given.device
        if t_start is None:
            t_start = torch.full(gen.shape, T, dtype=torch.long, device=dev)
        t_start = torch.where(gen, t_start.long().clamp(0, T), torch.zeros_like(t_start).long())
        base = x_given if x_start is None else x_start
        noise = torch.randn(x_given.shape, generator=generator, device=dev,
                            dtype=x_given.dtype)
        x = self.q_sample(base, t_start, noise, gen)  # (B, N, C)
        top = int(t_start.max().item()) if gen.any() else 0
        if top == 0:
            return torch.where(gen, base, x_given)
        grid = self.timestep_grid(sampling_steps, top)
        cast = (amp if isinstance(amp, torch.dtype)
                else amp_dtype(dev, enabled=bool(amp)))
        for cur, nxt in zip(grid[:-1], grid[1:], strict=True):
            t_now = torch.minimum(t_start, torch.full_like(t_start, cur))  # (B, N, C)
            t_next = torch.minimum(t_start, torch.full_like(t_start, nxt))
            x_in = torch.where(gen, x, x_given)
            with autocast(dev, cast):
                x0_hat = model(x_in, t_now, gen)
            x0_hat = x0_hat.to(x.dtype)
            moving = gen & (t_next < t_now)
            if nxt == 0:
                # every t_next is 0 (t_start >= 0): the DDIM step is x0_hat itself; only the
                # generator's draw is kept, so later draws from it stay the same.
                if eta > 0:
                    torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
                step = x0_hat
            else:
                step = self._ddim_step(x, x0_hat, t_now, t_next, eta, generator)
            x = torch.where(moving, step, x)
        return torch.where(gen, x, x_given)

    def _ddim_step(self, x: torch.Tensor, x0_hat: torch.Tensor, t: torch.Tensor,
                   t_next: torch.Tensor, eta: float,
                   generator: torch.Generator | None) -> torch.Tensor:
        ab, ab_next = self.alpha_bar[t].to(x.dtype), self.alpha_bar[t_next].to(x.dtype)
        eps = (x - ab.sqrt() * x0_hat) / (1 - ab).clamp(min=1e-12).sqrt()
        sigma = eta * ((1 - ab_next) / (1 - ab).clamp(min=1e-12)
                       * (1 - ab / ab_next.clamp(min=1e-12))).clamp(min=0).sqrt()
        dir_coef = (1 - ab_next - sigma ** 2).clamp(min=0).sqrt()
        out = ab_next.sqrt() * x0_hat + dir_coef * eps
        if eta > 0:
            out = out + sigma * torch.randn(x.shape, generator=generator, device=x.device,
                                            dtype=x.dtype)
        return torch.where(t_next == 0, x0_hat, out)
