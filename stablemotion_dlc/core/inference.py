"""Detection and cleanup with a trained model, on sequences of any length.

Long sequences are cut into overlapping windows of the training length, run in batches
and blended at the seams with cross-fade weights. Cleanup runs only the windows that contain
masked entries; every entry that is not masked is returned bit-identical to the input.
With a representation, each window is placed by ``Representation.to_window`` before the
network sees it and put back by ``from_window`` (SMPL RIFKE: each window starts at the origin
facing +X, as in training). This is the one windowing / blending / detection-merge path for
every representation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ModelMismatchError, StableMotionError
from .checkpoint import ModelBundle, load_checkpoint
from .device import amp_dtype, resolve_device, window_batch_size
from .diffusion import linear_fill, sits_start_times
from .normalize import Normalizer
from .representation import Representation, layout_mismatch

__all__ = ["Cleaner", "CleanupResult", "CleanupCancelled", "InputCheck",
           "OutOfDistributionError", "apply_input_check", "window_starts", "blend_weights",
           "centred_windows", "merge_detection"]

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
StopFn = Callable[[], bool]


class CleanupCancelled(StableMotionError):
    """Raised when ``should_stop()`` returned True during detection or cleanup."""


class OutOfDistributionError(StableMotionError, ValueError):
    """The input is unlike the model's training data (raised with ``on_ood="refuse"``)."""


#: Defaults of :meth:`Cleaner.check_input`: an input is out of distribution when the model
#: flags more than this share of the entries that look clean to the rules / likelihood ...
MAX_FLAGGED_CLEAN = 0.5
#: ... or when the typical feature channel sits this many training standard deviations
#: (robust root mean square of the normalised values, median over channels) from the
#: training mean; in-distribution data sits near 1.
MAX_FEATURE_SHIFT = 3.0


@dataclass
class InputCheck:
    """Whether an input looks like the model's training data (see :meth:`Cleaner.check_input`).

    Attributes
    ----------
    flagged_share : float
        Share of the label entries that look clean to the prior (rules, likelihood) which
        the model flags above the threshold (NaN when none look clean).
    feature_shift : float
        Median over feature channels of the robust root mean square of the normalised
        features, ``sqrt(median**2 + (1.4826 MAD)**2)`` (about 1 for data like the training
        data; the errors to repair, which are outliers, do not move it).
    outlier_share : float
        Share of normalised feature entries beyond 6 training standard deviations.
    in_distribution : bool
        False when ``flagged_share`` or ``feature_shift`` exceeds its limit.
    reason : str
        Why not (empty when in distribution).
    """

    flagged_share: float
    feature_shift: float
    outlier_share: float
    in_distribution: bool
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (reports, provenance)."""
        return {"flagged_share": self.flagged_share, "feature_shift": self.feature_shift,
                "outlier_share": self.outlier_share, "in_distribution": self.in_distribution,
                "reason": self.reason}


def apply_input_check(check: InputCheck, on_ood: str, source: str) -> bool:
    """Act on an :class:`InputCheck`: the one out-of-distribution policy for every path.

    Parameters
    ----------
    check : InputCheck
        From :meth:`Cleaner.check_input`.
    on_ood : {"fallback", "refuse", "ignore"}
        ``fallback``: warn and return True (the caller then ignores the model's detection
        and repairs only what its rules flag, without the network); ``refuse``: raise
        :class:`OutOfDistributionError`; ``ignore``: log and return False.
    source : str
        The input's name, for the messages.

    Returns
    -------
    bool
        True when the caller must fall back to its rules.
    """
    if on_ood not in ("fallback", "refuse", "ignore"):
        raise ValueError(f"on_ood must be 'fallback', 'refuse' or 'ignore', got {on_ood!r}")
    if check.in_distribution:
        return False
    msg = (f"{source}: input unlike the model's training data ({check.reason}); ")
    if on_ood == "refuse":
        raise OutOfDistributionError(msg + "refusing to clean it: train a model on data like "
                                     "it, or pass on_ood='fallback' to repair only what the "
                                     "rules flag")
    if on_ood == "fallback":
        log.warning("%sthe model's detection and repair are not used: only the rules' "
                    "frames are repaired, without the network (train on data like it to use "
                    "the model)", msg)
        return True
    log.warning("%scleaning with the model anyway (on_ood='ignore')", msg)
    return False


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


def centred_windows(flagged: np.ndarray, window: int, margin: int = 8
                    ) -> list[tuple[int, np.ndarray]]:
    """Plan cleanup windows centred on runs of flagged frames.

    Runs are grouped while a group (plus ``margin`` good frames on each side) fits in one
    window; a run longer than that is split. Each window is centred on its group (clipped to
    the sequence), so the model sees good frames on both sides whenever possible.

    Parameters
    ----------
    flagged : np.ndarray
        ``(T,)`` bool frames to repair (any label flagged).
    window : int
        Window length (at most ``T``).
    margin : int
        Good frames wanted on each side of a group.

    Returns
    -------
    list of (int, np.ndarray)
        Window start and the ``(T,)`` bool frames this window is responsible for (disjoint,
        together exactly ``flagged``).
    """
    flagged = np.asarray(flagged, bool)
    n = len(flagged)
    window = min(window, n)
    span = max(1, window - 2 * margin)
    idx = np.flatnonzero(np.diff(np.concatenate([[0], flagged.view(np.int8), [0]])))
    runs = list(zip(idx[::2].tolist(), idx[1::2].tolist(), strict=True))
    chunks: list[tuple[int, int]] = []
    for a, b in runs:  # split long runs
        for c in range(a, b, span):
            chunks.append((c, min(c + span, b)))
    plan: list[tuple[int, np.ndarray]] = []
    i = 0
    while i < len(chunks):
        g0, g1 = chunks[i]
        while i + 1 < len(chunks) and chunks[i + 1][1] - g0 <= span:
            i += 1
            g1 = chunks[i][1]
        start = int(np.clip((g0 + g1) // 2 - window // 2, 0, n - window))
        own = np.zeros(n, bool)
        own[g0:g1] = flagged[g0:g1]
        plan.append((start, own))
        i += 1
    return plan


def merge_detection(model_prob: np.ndarray, prior: np.ndarray | None = None,
                    threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Merge the model's detection with a prior (rules, likelihood): the one merge step.

    An entry is flagged when the model's probability exceeds ``threshold`` or the prior
    marks it; the merged probability is the larger of the two (a prior entry counts as
    certain when boolean).

    Parameters
    ----------
    model_prob : np.ndarray
        Model detection probability, any shape.
    prior : np.ndarray, optional
        Same shape, bool or probability in ``[0, 1]`` (> 0.5 flags).
    threshold : float
        Model probability above which an entry is flagged (1 or more: never).

    Returns
    -------
    prob : np.ndarray
        float32 merged probability.
    flagged : np.ndarray
        bool entries to repair.
    """
    p = np.asarray(model_prob, dtype=np.float32)
    flagged = p > threshold
    if prior is None:
        return p.copy(), flagged
    q = np.asarray(prior)
    if q.shape != p.shape:
        raise ValueError(f"prior must have shape {p.shape}, got {q.shape}")
    q = q.astype(np.float32)
    return np.maximum(p, q), flagged | (q > 0.5)


class Cleaner:
    """A trained model ready for detection and cleanup (EMA weights, eval mode, no grad).

    Parameters
    ----------
    bundle : ModelBundle
        Loaded model file (see :meth:`from_file`).
    device : str or torch.device, optional
        Default: the bundle's device (CPU unless moved).
    batch_size : int, optional
        Windows per network call; default sized to the device
        (:func:`~stablemotion_dlc.core.device.window_batch_size`: 64 on a CPU, as many as fit
        a quarter of the free memory of a GPU, up to 4,096).
    overlap : int, optional
        Frames shared by neighbouring windows (default: a quarter of the window).
    rep : Representation, optional
        The data's representation: places each window (``to_window``/``from_window``) and
        is checked against the model's layout. Without one, windows are used as they are.
    """

    def __init__(self, bundle: ModelBundle, device: str | torch.device | None = None,
                 batch_size: int | None = None, overlap: int | None = None,
                 rep: Representation | None = None) -> None:
        if rep is not None:
            why = layout_mismatch(bundle.layout, rep.layout)
            if why is not None or rep.name != bundle.spec.get("name", rep.name):
                raise ModelMismatchError(
                    f"model is for representation {bundle.spec.get('name')!r} "
                    f"(v{bundle.spec.get('version')}), not {rep.name!r} v{rep.version}"
                    + (f": {why}" if why else ""))
        self.rep = rep
        self._placing = rep is not None and bool(getattr(rep, "places_windows", False))
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
        if batch_size is None:
            cfg = self.model.config
            batch_size = window_batch_size(
                self.device, self.window, self.layout.n_features + self.layout.n_labels,
                int(getattr(cfg, "width", 128)), int(getattr(cfg, "depth", 4)),
                bytes_per_value=2 if amp_dtype(self.device) is not None else 4)
        self.batch_size = max(1, int(batch_size))
        self.overlap = self.window // 4 if overlap is None else int(overlap)
        self.T = self.diffusion.num_steps
        self.sits_tau = self.diffusion.config.sits_tau

    @classmethod
    def from_file(cls, path: str | Path,
                  rep: Representation | type[Representation] | None = None, *,
                  expected_spec: dict[str, Any] | None = None,
                  device: str | torch.device | None = None, **kwargs: Any) -> Cleaner:
        """Load a model file for a representation.

        Parameters
        ----------
        path : str or Path
            Model file written by :func:`stablemotion_dlc.core.train.train`.
        rep : Representation or Representation class, optional
            An instance is checked against the model (name, layout); a class is rebuilt
            from the model's spec with ``from_spec``. None: no representation (windows
            used as they are).
        expected_spec : dict, optional
            A spec that must equal the stored one key by key.
        device : str or torch.device, optional
            Where to run.
        **kwargs
            :class:`Cleaner` options (``batch_size``, ``overlap``).

        Raises
        ------
        ModelError, ModelMismatchError
            Unreadable file; a model for other data (the message names the file).
        """
        device = resolve_device(device) if device is not None else None
        bundle = load_checkpoint(path, expected_spec=expected_spec,
                                 device=device if device is not None else "cpu")
        if isinstance(rep, type):
            name = getattr(rep, "name", None)
            if bundle.spec.get("name") != name:
                raise ModelMismatchError(
                    f"{path}: model is for representation {bundle.spec.get('name')!r} "
                    f"(v{bundle.spec.get('version')}), not {name!r}")
            try:
                rep = rep.from_spec(bundle.spec)
            except (ValueError, KeyError, TypeError) as exc:
                raise ModelMismatchError(f"{path}: cannot rebuild the model's representation "
                                         f"({exc})") from exc
        try:
            return cls(bundle, device=device, rep=rep, **kwargs)
        except ModelMismatchError as exc:
            raise ModelMismatchError(f"{path}: {exc}") from exc

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
    def _place(self, z: np.ndarray, s: int, w: int) -> tuple[np.ndarray, Any]:
        """Window ``s:s+w`` of the normalised sequence ``z`` as the network sees it."""
        zw = z[s:s + w]
        if not self._placing:
            return zw, None
        d = self.layout.n_features
        raw = self.normalizer.denorm_features(zw[:, :d])
        placed, frame = self.rep.to_window(raw)
        zw = zw.copy()
        zw[:, :d] = self.normalizer.features(placed)
        return zw, frame

    def _unplace(self, out: np.ndarray, frame: Any) -> np.ndarray:
        """Network output ``(w, C)`` back in the sequence's frame (normalised)."""
        if not self._placing:
            return out
        d = self.layout.n_features
        raw = self.rep.from_window(self.normalizer.denorm_features(out[:, :d]), frame)
        out = out.copy()
        out[:, :d] = self.normalizer.features(raw)
        return out

    def _run(self, z: np.ndarray, gen: np.ndarray, t_start: np.ndarray, x_start: np.ndarray,
             windows: list[int] | list[tuple[int, np.ndarray]], n_cand: int, steps: int,
             seed: int, progress: bool | ProgressFn, should_stop: StopFn | None,
             desc: str) -> np.ndarray:
        """Sample ``n_cand`` candidates per window; return blended ``(n_cand, N, C)``.

        ``windows`` holds window starts (cross-faded at their seams) or ``(start, own)``
        pairs whose ``(N,)`` bool ``own`` says which frames each window alone provides.
        ``x_start`` must equal ``z`` on the feature channels (they are placed together).
        With a residual model the interpolation is computed once over the whole sequence
        (anchors outside a window count too), and each window generates the correction;
        with a representation that places windows, over each placed window.
        """
        d = self.layout.n_features
        fill_all = None
        if self.residual and not self._placing and gen[:, :d].any():
            fill_all = linear_fill(torch.from_numpy(z[None, :, :d]),
                                   torch.from_numpy(~gen[None, :, :d]))[0].numpy()
        from .._progress import progress_bar

        n, c = z.shape
        w = min(self.window, n)
        acc = np.zeros((n_cand, n, c), dtype=np.float64)
        wsum = np.zeros(n, dtype=np.float64)
        plan = [(int(x), None) if not isinstance(x, tuple) else (int(x[0]), x[1])
                for x in windows]
        jobs = [(j, k) for j in range(len(plan)) for k in range(n_cand)]
        total = len(jobs)
        bar = progress_bar(total=total, desc=desc, unit="window", disable=progress is not True)
        gen_t = torch.Generator(device=self.device).manual_seed(int(seed))
        placed: dict[int, tuple[np.ndarray, np.ndarray, Any]] = {}
        for j, (s, _) in enumerate(plan):
            zw, frame = self._place(z, s, w)
            xw = zw.copy()
            xw[:, d:] = x_start[s:s + w, d:]
            placed[j] = (zw, xw, frame)
        done = 0
        try:
            for b0 in range(0, total, self.batch_size):
                if should_stop is not None and should_stop():
                    raise CleanupCancelled(f"{desc} cancelled after {done} of {total} windows")
                chunk = jobs[b0:b0 + self.batch_size]
                sl = [slice(plan[j][0], plan[j][0] + w) for j, _ in chunk]
                zg = torch.from_numpy(np.stack([placed[j][0] for j, _ in chunk])).to(self.device)
                gg = torch.from_numpy(np.stack([gen[s] for s in sl])).to(self.device)
                ts = torch.from_numpy(np.stack([t_start[s] for s in sl])).to(self.device)
                xs = torch.from_numpy(np.stack([placed[j][1] for j, _ in chunk])).to(self.device)
                fill = None
                if self.residual and bool(gg[..., :d].any()):
                    gf = gg[..., :d]
                    if fill_all is not None:
                        fill = torch.from_numpy(np.stack([fill_all[s] for s in sl]))
                    else:
                        fill = linear_fill(zg[..., :d], ~gf)
                    fill = fill.to(self.device, zg.dtype)
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
                for i, (j, k) in enumerate(chunk):
                    s, own = plan[j]
                    wt = (blend_weights(s, w, n, self.overlap) if own is None
                          else own[s:s + w].astype(np.float64))
                    acc[k, s:s + w] += wt[:, None] * self._unplace(out_np[i], placed[j][2])
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

    # ------------------------------------------------------------------ input check
    def check_input(self, features: np.ndarray, prob: np.ndarray,
                    prior: np.ndarray | None = None, threshold: float = 0.5,
                    max_flagged: float = MAX_FLAGGED_CLEAN,
                    max_shift: float = MAX_FEATURE_SHIFT) -> InputCheck:
        """Check whether the input is like the model's training data (out-of-distribution guard).

        Two signals, both cheap: (1) the detector's verdict on the stretches that look
        clean to the prior: a model that flags most of them sees the whole input as
        corrupted, which is what a model trained on other data does; (2) the feature
        statistics against the normaliser's (fitted on the training windows), on the
        windows as the network sees them (placed by the representation).

        Parameters
        ----------
        features : np.ndarray
            ``(T, D)`` raw features (as given to :meth:`detect`).
        prob : np.ndarray
            ``(T, L)`` the model's detection probability.
        prior : np.ndarray, optional
            ``(T, L)`` bool (or probability) entries the rules / likelihood already find
            suspect; the others "look clean". None: every entry looks clean.
        threshold : float
            Detection threshold of the caller.
        max_flagged, max_shift : float
            Limits of ``flagged_share`` and ``feature_shift`` (see :class:`InputCheck`).

        Returns
        -------
        InputCheck
        """
        f = self._check(features)
        n = f.shape[0]
        p = np.asarray(self._check_labels(prob, n, "prob"))
        clean = np.ones(p.shape, bool)
        if prior is not None:
            q = self._check_labels(prior, n, "prior")
            clean = ~(np.asarray(q, dtype=np.float32) > 0.5)
        n_clean = int(clean.sum())
        flagged = float((np.asarray(p) > threshold)[clean].sum() / n_clean) if n_clean \
            else float("nan")
        d = self.layout.n_features
        w = min(self.window, n)
        if self._placing and self.rep is not None:
            starts = window_starts(n, self.window, self.overlap)
            z = np.concatenate([self.normalizer.features(self.rep.to_window(f[s:s + w])[0])
                                for s in starts], axis=0)
        else:
            z = self.normalizer.features(f)
        z = np.asarray(z[:, :d], dtype=np.float64)
        # robust per channel (median and MAD): the errors the model is there to repair are
        # outliers of the features (a 300 px jump is a huge velocity) and must not make the
        # user's own file look foreign (a root mean square read 7.6 on the corrupted file a
        # DLC model was trained on, and the check then switched the model off)
        loc = np.nanmedian(z, axis=0)
        scale = 1.4826 * np.nanmedian(np.abs(z - loc), axis=0)
        shift = float(np.nanmedian(np.sqrt(loc ** 2 + scale ** 2)))
        outliers = float(np.mean(np.abs(z) > 6.0))
        reasons = []
        if n_clean and flagged > max_flagged:
            reasons.append(f"the model flags {100 * flagged:.0f} % of the entries that look "
                           f"clean (limit {100 * max_flagged:.0f} %)")
        if shift > max_shift:
            reasons.append(f"features sit {shift:.1f} training standard deviations from the "
                           f"training mean (limit {max_shift:g})")
        return InputCheck(flagged, shift, outliers, not reasons, "; ".join(reasons))

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
                should_stop: StopFn | None = None, placement: str = "grid",
                margin: int = 8) -> CleanupResult:
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
        placement : {"grid", "centred"}
            ``grid``: the detection windows that contain masked entries, cross-faded;
            ``centred``: one window per group of masked frames, centred on it so that good
            frames anchor both sides, each masked frame taken from exactly one window
            (:func:`centred_windows`).
        margin : int
            Good frames wanted on each side of a group (``centred``).

        Returns
        -------
        CleanupResult
        """
        if combine not in ("mean", "median"):
            raise ValueError(f"cleanup: combine must be 'mean' or 'median', got {combine!r}")
        if placement not in ("grid", "centred"):
            raise ValueError(f"cleanup: placement must be 'grid' or 'centred', got {placement!r}")
        f = self._check(features)
        n = f.shape[0]
        m = self._check_labels(mask, n, "mask")
        m = np.asarray(m, dtype=bool)
        susp = self._check_labels(suspicion, n, "suspicion")
        d, n_lab = self.layout.n_features, self.layout.n_labels
        fmask = self.layout.feature_mask(m)
        starts = window_starts(n, self.window, self.overlap)
        w = min(self.window, n)
        run: list[int] | list[tuple[int, np.ndarray]]
        if placement == "grid":
            run = [s for s in starts if fmask[s:s + w].any()]
        else:
            run = centred_windows(fmask.any(axis=1), w, margin=min(int(margin), w // 8))
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
