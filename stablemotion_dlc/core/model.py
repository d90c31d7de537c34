"""A small diffusion transformer (DiT) over time tokens with per-entry generation masks.

Every frame is one token ``[features (D) | labels (L)]``. The network sees, per entry, the
noisy-or-given value, whether the entry is generated, and the entry's own noise level, so
entries of the same frame may sit at different diffusion times (SITS). Each token's adaptive
layer norm is driven by ``timestep_embedding(max t over the token's entries) +
mode_embedding(frame mode)`` where the frame mode is one of four: motion given/generated x
label given/generated. The token's max ``t`` is what the frame as a whole still has to remove;
the per-entry noise-level channel tells the block which entries are the noisy ones.

Layout follows facebookresearch/DiT ``models.py``: ``TimestepEmbedder``, ``ModeEmbedder``,
``DiTBlock`` (adaLN-Zero), ``FinalLayer``, ``DiT``; presets in ``DiT_models``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DiTConfig", "DiT", "DiT_models", "make_dit", "frame_mode", "N_MODES"]

#: Number of frame modes: (motion generated?) * 2 + (label generated?).
N_MODES = 4


@dataclass
class DiTConfig:
    """Architecture hyper-parameters (the data sizes ``D``/``L`` are passed separately).

    Attributes
    ----------
    width : int
        Token width.
    depth : int
        Number of transformer blocks.
    heads : int
        Attention heads; ``width`` must be divisible by ``heads``.
    mlp_ratio : float
        SwiGLU hidden size relative to ``width`` (before the 2/3 SwiGLU correction).
    rope_fraction : float
        Fraction of each head's dimensions that get rotary position embedding.
    dropout : float
        Dropout on attention weights and MLP output (training only).
    t_max : int
        Largest diffusion timestep the model is trained on (``T``); times are scaled by it.
    """

    width: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    rope_fraction: float = 0.5
    dropout: float = 0.0
    t_max: int = 50

    def __post_init__(self) -> None:
        if self.width % self.heads:
            raise ValueError(f"DiTConfig: width {self.width} is not divisible by heads "
                             f"{self.heads}")
        if not 0.0 <= self.rope_fraction <= 1.0:
            raise ValueError(f"DiTConfig: rope_fraction {self.rope_fraction} not in [0, 1]")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (round-trips through ``DiTConfig(**d)``)."""
        return asdict(self)


def frame_mode(gen: torch.Tensor, n_features: int) -> torch.Tensor:
    """Per-frame mode index from an entry-level generation mask.

    Parameters
    ----------
    gen : torch.Tensor
        ``(B, T, D + L)`` bool, True where the entry is generated.
    n_features : int
        ``D``.

    Returns
    -------
    torch.Tensor
        ``(B, T)`` long in ``0..3``: ``2 * motion_generated + label_generated``.
    """
    motion = gen[..., :n_features].any(dim=-1)  # (B, T)
    label = gen[..., n_features:].any(dim=-1)  # (B, T)
    return motion.long() * 2 + label.long()


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """AdaLN modulation ``x * (1 + scale) + shift`` (all ``(B, T, W)``)."""
    return x * (1 + scale) + shift


class TimestepEmbedder(nn.Module):
    """Embeds (possibly fractional) diffusion times into vectors, per token."""

    def __init__(self, width: int, freq_dim: int = 128, t_max: int = 50) -> None:
        super().__init__()
        self.freq_dim = freq_dim
        self.t_max = t_max
        self.mlp = nn.Sequential(nn.Linear(freq_dim, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        # t: (B, T) float diffusion time in [0, t_max]
        half = self.freq_dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device,
                                                            dtype=torch.float32) / half)
        # scale so t_max maps to 1000, like DiT's integer timesteps
        args = (t.float() * (1000.0 / self.t_max))[..., None] * freqs  # (B, T, half)
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # (B, T, freq_dim)
        return self.mlp(emb)  # (B, T, W)


class ModeEmbedder(nn.Module):
    """Embeds the per-frame mode (motion given/generated x label given/generated)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.table = nn.Embedding(N_MODES, width)

    def forward(self, mode: torch.Tensor) -> torch.Tensor:
        return self.table(mode)  # (B, T) -> (B, T, W)


class Rotary(nn.Module):
    """Rotary position embedding applied to the first ``rot_dim`` dims of each head."""

    def __init__(self, head_dim: int, fraction: float, base: float = 10000.0) -> None:
        super().__init__()
        rot = int(head_dim * fraction) // 2 * 2
        self.rot_dim = rot
        inv = 1.0 / (base ** (torch.arange(0, max(rot, 2), 2).float() / max(rot, 2)))
        self.register_buffer("inv_freq", inv, persistent=False)

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # q, k: (B, H, T, hd)
        if self.rot_dim == 0:
            return q, k
        n = q.shape[-2]
        pos = torch.arange(n, device=q.device, dtype=torch.float32)
        ang = pos[:, None] * self.inv_freq[None, :]  # (T, rot/2)
        cos = torch.cos(ang).to(q.dtype)
        sin = torch.sin(ang).to(q.dtype)
        return self._rotate(q, cos, sin), self._rotate(k, cos, sin)

    def _rotate(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        xr, xp = x[..., : self.rot_dim], x[..., self.rot_dim:]  # rotated / passed through
        x1, x2 = xr[..., 0::2], xr[..., 1::2]  # (B, H, T, rot/2)
        r1 = x1 * cos - x2 * sin
        r2 = x1 * sin + x2 * cos
        xr = torch.stack([r1, r2], dim=-1).flatten(-2)  # (B, H, T, rot)
        return torch.cat([xr, xp], dim=-1)


class Attention(nn.Module):
    """Multi-head self-attention over time with partial rotary embedding."""

    def __init__(self, width: int, heads: int, rope_fraction: float, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.rotary = Rotary(width // heads, rope_fraction)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, w = x.shape  # (B, T, W)
        qkv = self.qkv(x).view(b, n, 3, self.heads, w // self.heads)  # (B, T, 3, H, hd)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, H, T, hd)
        q, k = self.rotary(q, k)
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0)  # (B, H, T, hd)
        out = out.transpose(1, 2).reshape(b, n, w)  # (B, T, W)
        return self.proj(out)


class SwiGLU(nn.Module):
    """SwiGLU feed-forward: ``w2(silu(w1 x) * w3 x)``."""

    def __init__(self, width: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        hidden = max(8, int(round(width * mlp_ratio * 2 / 3 / 8)) * 8)
        self.w13 = nn.Linear(width, 2 * hidden)
        self.w2 = nn.Linear(hidden, width)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, g = self.w13(x).chunk(2, dim=-1)  # (B, T, hidden) each
        return self.drop(self.w2(F.silu(a) * g))  # (B, T, W)


class DiTBlock(nn.Module):
    """Transformer block with adaLN-Zero conditioning per token."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        w = cfg.width
        self.norm1 = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(w, cfg.heads, cfg.rope_fraction, cfg.dropout)
        self.norm2 = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.mlp = SwiGLU(w, cfg.mlp_ratio, cfg.dropout)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(w, 6 * w))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        # x, c: (B, T, W)
        sh1, sc1, g1, sh2, sc2, g2 = self.ada(c).chunk(6, dim=-1)  # each (B, T, W)
        x = x + g1 * self.attn(modulate(self.norm1(x), sh1, sc1))  # (B, T, W)
        x = x + g2 * self.mlp(modulate(self.norm2(x), sh2, sc2))  # (B, T, W)
        return x

    def forward_shared(self, x: torch.Tensor, c_u: torch.Tensor,
                       spread: Any) -> torch.Tensor:
        """:meth:`forward` with the conditioning of few distinct tokens (inference).

        ``c_u`` ``(1, U, W)`` holds the distinct conditionings, ``spread`` puts a
        ``(1, U, n)`` tensor on the tokens ``(B, T, n)``. The modulation (and ``1 + scale``)
        is computed once per distinct conditioning: the same values as :meth:`forward`.
        """
        sh1, sc1, g1, sh2, sc2, g2 = self.ada(c_u).chunk(6, dim=-1)  # each (1, U, W)
        sc1, sc2 = 1 + sc1, 1 + sc2
        h = self.norm1(x) * spread(sc1) + spread(sh1)
        x = x + spread(g1) * self.attn(h)
        h = self.norm2(x) * spread(sc2) + spread(sh2)
        return x + spread(g2) * self.mlp(h)


class FinalLayer(nn.Module):
    """adaLN (shift/scale) then a zero-initialised projection to ``D + L`` outputs."""

    def __init__(self, width: int, out_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))
        self.linear = nn.Linear(width, out_dim)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.ada(c).chunk(2, dim=-1)  # (B, T, W) each
        return self.linear(modulate(self.norm(x), shift, scale))  # (B, T, D + L)

    def forward_shared(self, x: torch.Tensor, c_u: torch.Tensor,
                       spread: Any) -> torch.Tensor:
        """:meth:`forward` with few distinct conditionings (see :meth:`DiTBlock.forward_shared`)."""
        shift, scale = self.ada(c_u).chunk(2, dim=-1)  # (1, U, W) each
        return self.linear(self.norm(x) * spread(1 + scale) + spread(shift))


class DiT(nn.Module):
    """Diffusion transformer predicting the clean token ``x0`` from a partly noised one.

    Parameters
    ----------
    n_features : int
        Motion feature channels ``D``.
    n_labels : int
        Label channels ``L``.
    config : DiTConfig
        Architecture.
    """

    def __init__(self, n_features: int, n_labels: int, config: DiTConfig | None = None) -> None:
        super().__init__()
        self.config = config or DiTConfig()
        self.n_features = int(n_features)
        self.n_labels = int(n_labels)
        c = self.n_features + self.n_labels
        w = self.config.width
        # per entry: value, is-generated flag, own noise level (t / t_max)
        self.x_embed = nn.Linear(3 * c, w)
        self.t_embed = TimestepEmbedder(w, t_max=self.config.t_max)
        self.mode_embed = ModeEmbedder(w)
        self.blocks = nn.ModuleList(DiTBlock(self.config) for _ in range(self.config.depth))
        self.final = FinalLayer(w, c)
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """Xavier for linear layers; zero for every adaLN modulation and the output layer."""

        def _basic(m: nn.Module) -> None:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

        self.apply(_basic)
        nn.init.normal_(self.t_embed.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embed.mlp[2].weight, std=0.02)
        nn.init.normal_(self.mode_embed.table.weight, std=0.02)
        for blk in self.blocks:
            nn.init.zeros_(blk.ada[-1].weight)
            nn.init.zeros_(blk.ada[-1].bias)
        nn.init.zeros_(self.final.ada[-1].weight)
        nn.init.zeros_(self.final.ada[-1].bias)
        nn.init.zeros_(self.final.linear.weight)
        nn.init.zeros_(self.final.linear.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, mode: torch.Tensor) -> torch.Tensor:
        """Predict ``x0``.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, T, D + L)`` noisy (generated) or clean (given) normalised values.
        t : torch.Tensor
            ``(B, T, D + L)`` per-entry diffusion time in ``[0, t_max]`` (0 for given
            entries); ``(B,)`` is broadcast to every generated entry.
        mode : torch.Tensor
            ``(B, T, D + L)`` bool, True where the entry is generated.

        Returns
        -------
        torch.Tensor
            ``(B, T, D + L)`` predicted clean values.
        """
        gen = mode.bool()  # (B, T, C)
        if t.dim() == 1:
            t = t[:, None, None].expand_as(x)  # (B, T, C)
        t = torch.where(gen, t.float(), torch.zeros_like(x, dtype=torch.float32))  # (B, T, C)
        h = torch.cat([x, gen.to(x.dtype), (t / self.config.t_max).to(x.dtype)], dim=-1)
        h = self.x_embed(h)  # (B, T, W)
        t_tok = t.amax(dim=-1)  # (B, T)
        mode = frame_mode(gen, self.n_features)  # (B, T)
        if not (self.training or torch.is_grad_enabled()) and x.device.type == "cpu":
            shared = self._forward_shared(h, t_tok, mode)
            if shared is not None:
                return shared
        c = self.t_embed(t_tok) + self.mode_embed(mode)  # (B, T, W)
        for blk in self.blocks:
            h = blk(h, c)  # (B, T, W)
        return self.final(h, c)  # (B, T, C)

    #: Distinct conditionings are computed on at least this many rows: a matrix product of
    #: 1-3 rows takes another kernel (matrix-vector) whose sums may differ in the last bit.
    SHARED_MIN_ROWS = 64

    def _forward_shared(self, h: torch.Tensor, t_tok: torch.Tensor,
                        mode: torch.Tensor) -> torch.Tensor | None:
        """The rest of :meth:`forward` when few tokens differ in conditioning, else None.

        Every token's conditioning (and so its adaLN modulation, a third of the network's
        multiply-adds) depends only on its ``(max t, frame mode)``: in detection all the
        tokens share one, in cleanup a few dozen. Each distinct one is computed once (padded
        to :attr:`SHARED_MIN_ROWS` rows, the same matrix-product kernel as over all tokens)
        and spread to the tokens, a broadcast for one, a gather for several. On the CPU the
        outputs are the same as :meth:`forward`'s, bit for bit (``tests/test_model_shared.py``).
        """
        b, n = t_tok.shape
        key = torch.stack([t_tok.reshape(-1), mode.reshape(-1).to(t_tok.dtype)], dim=1)
        uniq, inv = torch.unique(key, dim=0, return_inverse=True)
        n_u = uniq.shape[0]
        if n_u * 4 > b * n:
            return None
        rows = torch.arange(max(n_u, self.SHARED_MIN_ROWS), device=h.device) % n_u
        padded = uniq[rows][None]  # (1, M, 2)
        c_u = self.t_embed(padded[..., 0]) + self.mode_embed(padded[..., 1].long())  # (1, M, W)
        if n_u == 1:
            def spread(v: torch.Tensor) -> torch.Tensor:
                return v[:, :1]  # (1, 1, n): broadcast over the tokens
        else:
            idx = inv.reshape(b, n)

            def spread(v: torch.Tensor) -> torch.Tensor:
                return v[0][idx]  # (B, T, n)
        for blk in self.blocks:
            h = blk.forward_shared(h, c_u, spread)  # (B, T, W)
        return self.final.forward_shared(h, c_u, spread)  # (B, T, C)


def _factory(width: int, depth: int, heads: int) -> Any:
    def make(**kw: Any) -> DiTConfig:
        return DiTConfig(**{"width": width, "depth": depth, "heads": heads, **kw})

    return make


#: Presets: name -> factory returning a :class:`DiTConfig` (keyword overrides allowed).
DiT_models: dict[str, Any] = {
    "tiny": _factory(64, 3, 4),
    "small": _factory(128, 4, 4),
    "base": _factory(256, 6, 8),
    "large": _factory(512, 8, 8),
}


def make_dit(preset: str, n_features: int, n_labels: int, **overrides: Any) -> DiT:
    """Build a :class:`DiT` from a preset name in :data:`DiT_models`."""
    if preset not in DiT_models:
        raise ValueError(f"unknown model preset {preset!r}; choose from {list(DiT_models)}")
    return DiT(n_features, n_labels, DiT_models[preset](**overrides))
