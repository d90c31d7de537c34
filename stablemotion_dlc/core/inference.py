"""Detection and cleanup with a trained model, on sequences of any length.

Long sequences are cut into overlapping windows of the training length, run in batches
and blended at the seams with cross-fade weights. Cleanup runs only the windows that contain
masked entries; every entry that is not masked is returned bit-identical to the input.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import StableMotionError
from .checkpoint import ModelBundle, load_checkpoint
from .device import resolve_device
from .diffusion import linear_fill, sits_start_times
from .normalize import Normalizer

__all__ = ["Cleaner", "CleanupResult", "CleanupCancelled", "window_starts", "blend_weights"]

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
StopFn = Callable[[], bool]


class CleanupCancelled(StableMotionError):
    """Raised when ``should_stop()`` returned True during detection or cleanup."""


@dataclass
class CleanupResult:
    """Output of :meth:`Cleaner.cleanup`.

    Attributes
    ----------
    features : np.ndarray
        ``(T, D)`` cleaned features (input dtype); unmasked entries equal the input exactly.
    uncertainty : np.ndarray
        ``(T, D)`` spread (std) of the ensemble candidates in raw units; 0 where not masked
        or with a single candidate.
    feature_mask : np.ndarray
        ``(T, D)`` bool, entries that were regenerated.
    windows_run : int
        Windows that contained masked entries and were run.
    windows_total : int
        Windows covering the sequence.
    """

    features: np.ndarray
    uncertainty: np.ndarray
    feature_mask: np.ndarray
    windows_run: int
    windows_total: int


def window_starts(n_frames: int, window: int, overlap: int) -> list[int]:
    """Start frames of overlapping windows covering ``n_frames`` (last one flush right)."""
    if n_frames <= window:
        return [0]
    stride = max(1, window - overlap)
    starts = list(range(0, n_frames - window + 1, stride))
    if starts[-1] != n_frames - window:
        starts.append(n_frames - window)
    return starts


def blend_weights(start: int, length: int, n_frames: int, overlap: int) -> np.ndarray:
    """Cross-fade weights ``(length,)`` of a window: linear ramps on edges shared with others."""
    w = np.ones(length, dtype=np.float64)
    ov = min(overlap, length // 2)
    if ov > 0:
        ramp = (np.arange(ov) + 1.0) / (ov + 1.0)
        if start > 0:
            w[:ov] = ramp
        if start + length < n_frames:
            w[length - ov:] = ramp[::-1]
    return w


class Cleaner:
    """A trained model ready for detection and cleanup (EMA weights, eval mode, no grad).

    Parameters
    ----------
    bundle : ModelBundle
        Loaded model file (see :meth:`from_file`).
    device : str or torch.device, optional
        Default: the bundle's device (CPU unless moved).
    batch_size : int
        Windows per network call.
    overlap : int, optional
        Frames shared by neighbouring windows (default: a quarter of the window).
    """

    def __init__(self, bundle: ModelBundle, device: str | torch.device | None = None,
                 batch_size: int = 64, overlap: int | None = None) -> None:
        self.bundle = bundle
        self.device = torch.device(device) if device is not None else next(
            bundle.model.parameters()).device
        self.model = bundle.model.to(self.device).eval()
        self.model.requires_grad_(False)
        self.diffusion = bundle.diffusion.to(self.device)
        self.normalizer: Normalizer = bundle.normalizer
        self.layout = bundle.layout
        self.window = int(bundle.train_config.get("window", 64))
        self.residual = bool(bundle.train_config.get("residual_to_interp", False))
        self.batch_size = max(1, int(batch_size))
        self.overlap = self.window // 4 if overlap is None else int(overlap)
        self.T = self.diffusion.num_steps
        self.sits_tau = self.diffusion.config.sits_tau

    @classmethod
    def from_file(cls, path: str | Path, expected_spec: dict[str, Any] | None = None,
                  device: str | torch.device | None = None, **kwargs: Any) -> Cleaner:
        """Load a model file (raises ``ModelError`` / ``ModelMismatchError``)."""
        device = resolve_device(device) if device is not None else None
        bundle = load_checkpoint(path, expected_spec=expected_spec,
                                 device=device if device is not None else "cpu")
        return cls(bundle, device=device, **kwargs)

    # ------------------------------------------------------------------ checks
    def _check(self, features: np.ndarray, name: str = "features") -> np.ndarray:
        f = np.asarray(features)
        d = self.layout.n_features
        if f.ndim != 2 or f.shape[1] != d:
            raise ValueError(f"{name} must be (frames, {d}); got {f.shape}")
        if f.shape[0] == 0:
            raise ValueError(f"{name} has no frames")
        if not np.all(np.isfinite(f)):
            raise ValueError(f"{name} must be finite (fill missing values and mask them)")
        return f

    def _check_labels(self, x: np.ndarray | None, n: int, name: str) -> np.ndarray | None:
        if x is None:
            return None
        a = np.asarray(x)
        if a.shape != (n, self.layout.n_labels):
            raise ValueError(f"{name} must be ({n}, {self.layout.n_labels}); got {a.shape}")
        return a

    # ------------------------------------------------------------------ window engine
    def _run(self, z: np.ndarray, gen: np.ndarray, t_start: np.ndarray, x_start: np.ndarray,
             windows: list[int], n_cand: int, steps: int, seed: int, progress: bool | ProgressFn,
             should_stop: StopFn | None, desc: str) -> np.ndarray:
        """Sample ``n_cand`` candidates per window; return blended ``(n_cand, N, C)``.

        With a residual model the interpolation is computed once over the whole sequence
        (anchors outside a window count too), and each window generates the correction.
        """
        d = self.layout.n_features
        fill_all = None
        if self.residual and gen[:, :d].any():
            fill_all = linear_fill(torch.from_numpy(z[None, :, :d]),
                                   torch.from_numpy(~gen[None, :, :d]))[0].numpy()
        from tqdm.auto import tqdm

        n, c = z.shape
        w = min(self.window, n)
        acc = np.zeros((n_cand, n, c), dtype=np.float64)
        wsum = np.zeros(n, dtype=np.float64)
        jobs = [(s, k) for s in windows for k in range(n_cand)]
        total = len(jobs)
        bar = tqdm(total=total, desc=desc, unit="window", disable=progress is not True)
        gen_t = torch.Generator(device=self.device).manual_seed(int(seed))
        done = 0
        try:
            for b0 in range(0, total, self.batch_size):
                if should_stop is not None and should_stop():
                    raise CleanupCancelled(f"{desc} cancelled after {done} of {total} windows")
                chunk = jobs[b0:b0 + self.batch_size]
                sl = [slice(s, s + w) for s, _ in chunk]
                zg = torch.from_numpy(np.stack([z[s] for s in sl])).to(self.device)
                gg = torch.from_numpy(np.stack([gen[s] for s in sl])).to(self.device)
                ts = torch.from_numpy(np.stack([t_start[s] for s in sl])).to(self.device)
                xs = torch.from_numpy(np.stack([x_start[s] for s in sl])).to(self.device)
                fill = None
                if fill_all is not None:
                    gf = gg[..., :d]
                    fill = torch.from_numpy(np.stack([fill_all[s] for s in sl])).to(self.device)
                    # generated motion entries live in residual space
                    xs = xs.clone()
                    xs[..., :d] = torch.where(gf, xs[..., :d] - fill, xs[..., :d])
                with torch.inference_mode():
                    out = self.diffusion.sample(self.model, zg, gg, sampling_steps=steps,
                                                t_start=ts, x_start=xs, generator=gen_t)
                    if fill is not None:
                        out[..., :d] = torch.where(gg[..., :d], out[..., :d] + fill,
                                                   out[..., :d])
                out_np = out.float().cpu().numpy()
                for j, (s, k) in enumerate(chunk):
                    wt = blend_weights(s, w, n, self.overlap)
                    acc[k, s:s + w] += wt[:, None] * out_np[j]
                    if k == 0:
                        wsum[s:s + w] += wt
                done += len(chunk)
                bar.update(len(chunk))
                if callable(progress):
                    progress(done, total)
        finally:
            bar.close()
        covered = wsum > 0
        acc[:, covered] /= wsum[covered][None, :, None]
        return acc

    # ------------------------------------------------------------------ detection
    def detect(self, features: np.ndarray, prior_labels: np.ndarray | None = None,
               method: str = "single", n_runs: int = 8, steps: int = 1, seed: int = 0,
               prior_t: int | None = None, progress: bool | ProgressFn = False,
               should_stop: StopFn | None = None) -> np.ndarray:
        """Probability that each label entry is corrupted.

        Parameters
        ----------
        features : np.ndarray
            ``(T, D)`` raw features (finite).
        prior_labels : np.ndarray, optional
            ``(T, L)`` prior labels in ``[0, 1]`` (e.g. from likelihood rules). When given,
            the label channel starts from the prior noised to ``prior_t`` (default ``T // 2``)
            instead of pure noise, so the model refines the prior.
        method : {"single", "probdet"}
            ``single``: one x0 prediction (``steps`` model calls); ``probdet``: ``n_runs``
            stochastic runs averaged into a probability.
        n_runs : int
            Runs for ProbDet.
        steps : int
            Sampling steps per run (1 = one x0 prediction).
        seed : int
            Noise seed.
        prior_t : int, optional
            Start time for the prior (see above).
        progress : bool or callable
            True: tqdm bar; a callable gets ``(done, total)`` windows.
        should_stop : callable, optional
            Polled between batches; True raises :class:`CleanupCancelled`.

        Returns
        -------
        np.ndarray
            ``(T, L)`` float32 probabilities in ``[0, 1]``.
        """
        if method not in ("single", "probdet"):
            raise ValueError(f"detect: method must be 'single' or 'probdet', got {method!r}")
        f = self._check(features)
        n = f.shape[0]
        prior = self._check_labels(prior_labels, n, "prior_labels")
        d, n_lab = self.layout.n_features, self.layout.n_labels
        z = np.concatenate([self.normalizer.features(f),
                            np.zeros((n, n_lab), np.float32)], axis=1)
        gen = np.zeros((n, d + n_lab), dtype=bool)
        gen[:, d:] = True
        t0 = self.T if prior is None else int(self.T // 2 if prior_t is None else prior_t)
        t_start = np.where(gen, t0, 0).astype(np.int64)
        x_start = z.copy()
        if prior is not None:
            x_start[:, d:] = Normalizer.labels(prior)
        n_cand = 1 if method == "single" else max(1, int(n_runs))
        starts = window_starts(n, self.window, self.overlap)
        out = self._run(z, gen, t_start, x_start, starts, n_cand, steps, seed, progress,
                        should_stop, "detect")
        prob = Normalizer.label_prob(out[:, :, d:]).mean(axis=0)
        return prob.astype(np.float32)

    # ------------------------------------------------------------------ cleanup
    def feature_start_times(self, suspicion: np.ndarray) -> np.ndarray:
        """SITS start time per feature entry ``(T, D)`` from label suspicion ``(T, L)``."""
        t_lab = sits_start_times(suspicion, self.T, self.sits_tau)
        t = t_lab[:, list(self.layout.label_of_feature)]
        for j, extra in enumerate(self.layout.extra_labels):
            for lab in extra:
                t[:, j] = np.maximum(t[:, j], t_lab[:, lab])
        return t

    def cleanup(self, features: np.ndarray, mask: np.ndarray,
                suspicion: np.ndarray | None = None, steps: int = 1, ensemble: int = 1,
                sits: bool = True, seed: int = 0, combine: str = "mean",
                progress: bool | ProgressFn = False,
                should_stop: StopFn | None = None) -> CleanupResult:
        """Regenerate the masked entries as "good" motion; keep every other entry exactly.

        Parameters
        ----------
        features : np.ndarray
            ``(T, D)`` raw features (finite; fill missing values before).
        mask : np.ndarray
            ``(T, L)`` bool label entries to regenerate (expanded to features via the layout).
        suspicion : np.ndarray, optional
            ``(T, L)`` suspicion in ``[0, 1]`` for SITS (e.g. detection probability);
            ignored when ``sits`` is False. Without it every masked entry starts from noise.
        steps : int
            Sampling steps (1 = one x0 prediction).
        ensemble : int
            Candidates per window; combined by ``combine``, spread returned as uncertainty.
        sits : bool
            Use the soft inpainting timestep schedule.
        seed : int
            Noise seed.
        combine : {"mean", "median"}
            How candidates are merged.
        progress, should_stop
            As in :meth:`detect`.

        Returns
        -------
        CleanupResult
        """
        if combine not in ("mean", "median"):
            raise ValueError(f"cleanup: combine must be 'mean' or 'median', got {combine!r}")
        f = self._check(features)
        n = f.shape[0]
        m = self._check_labels(mask, n, "mask")
        m = np.asarray(m, dtype=bool)
        susp = self._check_labels(suspicion, n, "suspicion")
        d, n_lab = self.layout.n_features, self.layout.n_labels
        fmask = self.layout.feature_mask(m)
        starts = window_starts(n, self.window, self.overlap)
        w = min(self.window, n)
        run = [s for s in starts if fmask[s:s + w].any()]
        out_f = np.array(f, copy=True)
        unc = np.zeros(f.shape, dtype=np.float32)
        if not run:
            return CleanupResult(out_f, unc, fmask, 0, len(starts))
        z = np.concatenate([self.normalizer.features(f),
                            np.full((n, n_lab), -1.0, np.float32)], axis=1)  # labels "good"
        gen = np.zeros((n, d + n_lab), dtype=bool)
        gen[:, :d] = fmask
        t_start = np.zeros((n, d + n_lab), dtype=np.int64)
        if sits and susp is not None:
            t_start[:, :d] = np.where(fmask, self.feature_start_times(susp), 0)
        else:
            t_start[:, :d] = np.where(fmask, self.T, 0)
        n_cand = max(1, int(ensemble))
        out = self._run(z, gen, t_start, z, run, n_cand, steps, seed, progress, should_stop,
                        "cleanup")[:, :, :d]
        cand = self.normalizer.denorm_features(out)  # (K, T, D)
        merged = cand.mean(axis=0) if combine == "mean" else np.median(cand, axis=0)
        out_f[fmask] = merged[fmask].astype(out_f.dtype)
        if n_cand > 1:
            unc[fmask] = cand.std(axis=0)[fmask]
        return CleanupResult(out_f, unc, fmask, len(run), len(starts))
