"""A synthetic multi-channel signal with known corruption, for testing and benchmarking.

A few smooth latent oscillators are mixed into ``2 * n_groups`` channels; channels come in
label groups of two (like a keypoint's x and y). Each group is corrupted independently by

* **spikes**: 1-3 frames displaced by several standard deviations;
* **dropouts**: spans whose values are unknown (``observed = False``; filled by linear
  interpolation, as a representation would);
* **drifts**: spans with a smooth offset (half-sine bump).

Training only ever sees the corrupted signal and the labels of the corruption types listed
in ``labelled`` (partial labels); :class:`SyntheticSource` can also inject extra spikes /
drifts on the fly and label them bad, which is how the detector learns error types the
training labels never marked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .._arrays import interp_fill as _interp_fill
from .representation import Batch, LabelLayout

__all__ = [
    "CORRUPTION_TYPES",
    "SyntheticConfig",
    "SyntheticData",
    "make_synthetic",
    "synthetic_layout",
    "SyntheticSource",
    "add_spikes",
    "add_drifts",
    "interp_fill",
]

CORRUPTION_TYPES = ("spike", "dropout", "drift")


@dataclass
class SyntheticConfig:
    """Signal and corruption parameters.

    Rates are expected events per group per frame.
    """

    n_groups: int = 8
    n_latent: int = 3
    period_range: tuple[float, float] = (16.0, 60.0)
    noise: float = 0.02
    spike_rate: float = 0.004
    spike_scale: tuple[float, float] = (3.0, 8.0)
    dropout_rate: float = 0.003
    dropout_len: tuple[int, int] = (4, 30)
    drift_rate: float = 0.002
    drift_len: tuple[int, int] = (15, 50)
    drift_scale: tuple[float, float] = (1.5, 4.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict."""
        return asdict(self)


@dataclass
class SyntheticData:
    """Clean and corrupted sequences.

    Attributes
    ----------
    clean : np.ndarray
        ``(S, N, C)`` true signal.
    corrupted : np.ndarray
        ``(S, N, C)`` corrupted signal; dropouts filled by interpolation.
    observed : np.ndarray
        ``(S, N, C)`` bool, False inside dropouts.
    masks : dict of str -> np.ndarray
        Per corruption type, ``(S, N, G)`` bool group-level masks.
    scale : np.ndarray
        ``(C,)`` per-channel standard deviation of the clean signal.
    """

    clean: np.ndarray
    corrupted: np.ndarray
    observed: np.ndarray
    masks: dict[str, np.ndarray]
    scale: np.ndarray
    config: SyntheticConfig = field(default_factory=SyntheticConfig)

    def subset(self, index: slice | list[int]) -> SyntheticData:
        """The sequences selected by ``index`` (e.g. a train / test split)."""
        return SyntheticData(clean=self.clean[index], corrupted=self.corrupted[index],
                             observed=self.observed[index],
                             masks={k: v[index] for k, v in self.masks.items()},
                             scale=self.scale, config=self.config)

    @property
    def any_mask(self) -> np.ndarray:
        """``(S, N, G)`` union of all corruption types."""
        return np.logical_or.reduce([m for m in self.masks.values()])


def synthetic_layout(n_groups: int) -> LabelLayout:
    """Layout with two channels (``x``, ``y``) per label group."""
    return LabelLayout(n_features=2 * n_groups, n_labels=n_groups,
                       label_of_feature=tuple(c // 2 for c in range(2 * n_groups)),
                       names=tuple(f"g{c // 2}_{'xy'[c % 2]}" for c in range(2 * n_groups)))


def interp_fill(x: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Linear interpolation per channel along axis 0 through ``known`` entries.

    A thin ``(N, C)`` adapter of the package's one numpy linear fill,
    :func:`stablemotion_dlc._arrays.interp_fill` (nearest known value at the ends).

    Parameters
    ----------
    x : np.ndarray
        ``(N, C)`` signal; unknown entries may hold anything.
    known : np.ndarray
        ``(N, C)`` bool, True where ``x`` is known.

    Returns
    -------
    np.ndarray
        ``(N, C)`` float32; known entries as given, unknown ones interpolated, channels with
        no known entry at all 0.
    """
    filled, has_any = _interp_fill(np.asarray(x)[None], np.asarray(known, dtype=bool)[None])
    return np.where(has_any, filled[0], 0.0).astype(np.float32)


def _spans(rng: np.random.Generator, n: int, rate: float, lengths: tuple[int, int]
           ) -> list[tuple[int, int]]:
    k = rng.poisson(rate * n)
    out = []
    for _ in range(k):
        ln = int(rng.integers(lengths[0], lengths[1] + 1))
        s = int(rng.integers(0, max(1, n - ln)))
        out.append((s, min(n, s + ln)))
    return out


def add_spikes(x: np.ndarray, rng: np.random.Generator, rate: float, scale: np.ndarray,
               size: tuple[float, float], allowed: np.ndarray | None = None
               ) -> np.ndarray:
    """Add spikes in place to ``x (N, C)``; return the group mask ``(N, G)`` hit."""
    n, c = x.shape
    g = c // 2
    mask = np.zeros((n, g), dtype=bool)
    for grp in range(g):
        for s, e in _spans(rng, n, rate, (1, 3)):
            if allowed is not None and not allowed[s:e, grp].all():
                continue
            ang = rng.uniform(0, 2 * np.pi)
            amp = rng.uniform(*size)
            off = amp * np.array([np.cos(ang), np.sin(ang)]) * scale[2 * grp:2 * grp + 2]
            x[s:e, 2 * grp:2 * grp + 2] += off
            mask[s:e, grp] = True
    return mask


def add_drifts(x: np.ndarray, rng: np.random.Generator, rate: float, scale: np.ndarray,
               lengths: tuple[int, int], size: tuple[float, float],
               allowed: np.ndarray | None = None) -> np.ndarray:
    """Add smooth drifts in place to ``x (N, C)``; return the group mask ``(N, G)``."""
    n, c = x.shape
    g = c // 2
    mask = np.zeros((n, g), dtype=bool)
    for grp in range(g):
        for s, e in _spans(rng, n, rate, lengths):
            if allowed is not None and not allowed[s:e, grp].all():
                continue
            ang = rng.uniform(0, 2 * np.pi)
            amp = rng.uniform(*size)
            bump = np.sin(np.linspace(0, np.pi, e - s + 2)[1:-1])
            off = amp * np.array([np.cos(ang), np.sin(ang)]) * scale[2 * grp:2 * grp + 2]
            x[s:e, 2 * grp:2 * grp + 2] += bump[:, None] * off[None, :]
            mask[s:e, grp] = True
    return mask


def make_synthetic(n_sequences: int, n_frames: int, config: SyntheticConfig | None = None,
                   seed: int = 0) -> SyntheticData:
    """Generate clean and corrupted sequences.

    Parameters
    ----------
    n_sequences, n_frames : int
        Shape of the data set.
    config : SyntheticConfig, optional
        Signal and corruption settings.
    seed : int
        Seed of the mixing matrix, the oscillators and the corruption. Generate once and
        split the sequences into train / test so both share the same mixing.

    Returns
    -------
    SyntheticData
    """
    cfg = config or SyntheticConfig()
    rng = np.random.default_rng(seed)
    c = 2 * cfg.n_groups
    mix = rng.normal(size=(cfg.n_latent, c))
    offset = rng.normal(scale=2.0, size=c)
    t = np.arange(n_frames, dtype=np.float64)
    clean = np.zeros((n_sequences, n_frames, c))
    for s in range(n_sequences):
        lat = np.zeros((n_frames, cfg.n_latent))
        for k in range(cfg.n_latent):
            period = rng.uniform(*cfg.period_range)
            # slowly wandering frequency and amplitude
            wob = 1 + 0.2 * np.sin(2 * np.pi * t / rng.uniform(200, 600) + rng.uniform(0, 6.3))
            phase = 2 * np.pi * np.cumsum(wob) / period + rng.uniform(0, 2 * np.pi)
            lat[:, k] = np.sin(phase) * (1 + 0.3 * np.sin(2 * np.pi * t / rng.uniform(300, 900)))
        clean[s] = lat @ mix + offset + cfg.noise * rng.normal(size=(n_frames, c))
    scale = clean.reshape(-1, c).std(axis=0)
    corrupted = clean.copy()
    observed = np.ones_like(clean, dtype=bool)
    masks = {k: np.zeros((n_sequences, n_frames, cfg.n_groups), dtype=bool)
             for k in CORRUPTION_TYPES}
    for s in range(n_sequences):
        masks["drift"][s] = add_drifts(corrupted[s], rng, cfg.drift_rate, scale,
                                       cfg.drift_len, cfg.drift_scale)
        masks["spike"][s] = add_spikes(corrupted[s], rng, cfg.spike_rate, scale,
                                       cfg.spike_scale)
        for grp in range(cfg.n_groups):
            for a, b in _spans(rng, n_frames, cfg.dropout_rate, cfg.dropout_len):
                observed[s, a:b, 2 * grp:2 * grp + 2] = False
                masks["dropout"][s, a:b, grp] = True
        corrupted[s] = interp_fill(corrupted[s], observed[s])
    return SyntheticData(clean=clean.astype(np.float32), corrupted=corrupted.astype(np.float32),
                         observed=observed, masks=masks, scale=scale.astype(np.float32),
                         config=cfg)


class SyntheticSource:
    """:class:`~stablemotion_dlc.core.representation.BatchSource` over synthetic data.

    Parameters
    ----------
    data : SyntheticData
        Corrupted sequences (the clean ones are never shown).
    window : int
        Frames per window.
    labelled : tuple of str
        Corruption types the training labels mark (the others are unlabelled, i.e. "good").
    inject : dict, optional
        On-the-fly corruption labelled bad, e.g. ``{"spike": 0.004, "drift": 0.002}``
        (events per group per frame), added on entries labelled good.
    """

    def __init__(self, data: SyntheticData, window: int,
                 labelled: tuple[str, ...] = CORRUPTION_TYPES,
                 inject: dict[str, float] | None = None) -> None:
        bad = (set(labelled) - set(CORRUPTION_TYPES)) | (set(inject or {}) - {"spike", "drift"})
        if bad:
            raise ValueError(f"unknown or non-injectable corruption types: {sorted(bad)}")
        if window > data.corrupted.shape[1]:
            raise ValueError(f"window {window} longer than the sequences "
                             f"({data.corrupted.shape[1]} frames)")
        self.data = data
        self.window = window
        self.labelled = tuple(labelled)
        self.inject = dict(inject or {})
        lab = np.zeros(data.masks["spike"].shape, dtype=bool)
        for k in self.labelled:
            lab |= data.masks[k]
        self.labels = lab

    @property
    def layout(self) -> LabelLayout:
        """Layout of the synthetic channels."""
        return synthetic_layout(self.data.config.n_groups)

    def spec(self) -> dict[str, Any]:
        """Representation spec."""
        return {"representation": "synthetic", "version": 1,
                "n_groups": self.data.config.n_groups, "n_latent": self.data.config.n_latent}

    def sample(self, rng: np.random.Generator, batch_size: int) -> Batch:
        """Random windows of the corrupted data with (partial) labels."""
        s_all, n, c = self.data.corrupted.shape
        w = self.window
        feats = np.empty((batch_size, w, c), dtype=np.float32)
        labels = np.empty((batch_size, w, c // 2), dtype=np.float32)
        obs = np.empty((batch_size, w, c), dtype=bool)
        for i in range(batch_size):
            s = int(rng.integers(s_all))
            a = int(rng.integers(0, n - w + 1))
            f = self.data.corrupted[s, a:a + w].copy()
            lab = self.labels[s, a:a + w].copy()
            good = ~lab
            if "spike" in self.inject:
                lab |= add_spikes(f, rng, self.inject["spike"], self.data.scale,
                                  self.data.config.spike_scale, allowed=good)
            if "drift" in self.inject:
                lab |= add_drifts(f, rng, self.inject["drift"], self.data.scale,
                                  self.data.config.drift_len, self.data.config.drift_scale,
                                  allowed=good)
            feats[i], labels[i], obs[i] = f, lab, self.data.observed[s, a:a + w]
        return Batch(features=feats, labels=labels, observed=obs)
