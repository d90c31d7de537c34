"""One training loop for CPU, one GPU and several GPUs/processes (``torchrun``).

Each batch mixes two tasks (StableMotion):

1. detection (share ``detection_share``): motion given, labels generated;
2. inpainting: true labels given, a random subset of frames / label entries' motion
   generated, mask ratio ``cos(pi r / 2)``, at least ``min_mask_frames`` frames.

The L1 loss counts only generated entries whose target is observed. With
``residual_to_interp`` the generated motion entries are the *correction* to a linear
interpolation (per feature channel, along time) through the given observed entries.

Distributed: when ``WORLD_SIZE > 1`` (set by ``torchrun``) the loop joins the process group
(gloo on CPU, nccl on GPU) and wraps the model in ``DistributedDataParallel``; each rank
draws ``batch_size // world_size`` windows; only rank 0 writes files.

Reproducibility and resuming: every step draws its batch, masks, times and noise from
generators seeded by ``(seed, rank, step)``, so the random stream after a resume is
exactly the one an uninterrupted run would have used; the model file stores raw and EMA
weights, AdamW state and the step.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from .checkpoint import layout_to_dict, load_checkpoint, save_checkpoint
from .device import amp_dtype, resolve_device
from .diffusion import DiffusionConfig, GaussianDiffusion, linear_fill
from .model import DiT, DiT_models
from .normalize import Normalizer, fit_normalizer
from .representation import Batch, BatchSource, LabelLayout, Representation

__all__ = ["TrainConfig", "Trainer", "train", "inpaint_label_mask", "prepare_batch"]

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Training settings (saved into the model file).

    Attributes
    ----------
    window : int
        Frames per training window (also the inference window).
    batch_size : int
        Windows per step, summed over all processes.
    steps : int
        Total optimisation steps.
    lr : float
        AdamW learning rate (no weight decay).
    warmup_steps : int
        Linear learning-rate warm-up.
    lr_schedule : {"constant", "cosine"}
        After the warm-up: ``lr`` throughout (upstream), or a cosine decay from ``lr`` to
        ``lr * min_lr_ratio`` at ``steps`` (a short run can then use a larger ``lr``).
    min_lr_ratio : float
        Final learning rate of the cosine schedule, as a share of ``lr``.
    grad_clip : float
        Gradient-norm clip.
    ema_decay : float
        EMA decay (with the usual ``(1 + s) / (10 + s)`` warm-up).
    detection_share : float
        Share of windows trained on the detection task.
    detection_full_noise_share : float
        Share of detection windows whose labels are trained from pure noise (``t = T``,
        what one-pass detection at inference starts from) instead of a uniform time. With
        uniform times most detection windows see their labels through little noise and
        learn to copy them; 0 (default) keeps upstream's uniform times and the random stream.
    min_mask_frames : int
        Minimum frames generated in an inpainting window.
    whole_frame_share : float
        Share of inpainting windows whose mask covers every label of the chosen frames
        (the others mask a random subset of labels).
    span_share : float
        Share of inpainting masks made of contiguous spans (the rest: scattered frames).
    short_gap_share : float
        Share of inpainting windows whose mask looks like pose-estimation errors instead
        (see :func:`inpaint_label_mask`): 1-3 spans, each on one random label (or a small
        random subset of 2-3 labels), of log-uniform length 1 .. min(60, window) frames.
        0 (default) disables the mode and leaves the random stream unchanged.
    per_entry_t_share : float
        Share of inpainting windows where each label entry draws its own time (trains
        the mixed noise levels SITS produces).
    residual_to_interp : bool
        Generate the correction to a linear interpolation instead of raw values.
    label_loss : str
        ``"l1"`` (upstream) or ``"l2"`` for the label channels; motion always uses L1.
        L2 makes the one-pass label prediction a calibrated probability; with L1 and few
        corrupted entries a short run predicts "good" everywhere (see the benchmark).
    model : str
        Preset in :data:`stablemotion_dlc.core.model.DiT_models`.
    dit : dict
        Overrides of the preset's :class:`DiTConfig` fields.
    diffusion_steps : int
        ``T``.
    normalizer_batches : int
        Batches used to fit the normaliser when none is given.
    seed : int
        Base seed.
    amp : bool
        Mixed precision on GPU (bf16 where supported, else fp16 with loss scaling).
    amp_cpu : bool
        bf16 autocast on CPU too (off by default: on most CPUs it is slower than float32;
        useful on CPUs with bf16 units, and to test the mixed-precision path without a GPU).
    log_every : int
        Steps between log lines / CSV rows.
    checkpoint_every : int
        Steps between model-file writes (0: only at the end).
    log_csv : str or None
        CSV file for the training log (appended on resume).
    tensorboard_dir : str or None
        TensorBoard log folder (needs the ``tensorboard`` package).
    """

    window: int = 64
    batch_size: int = 32
    steps: int = 2000
    lr: float = 1e-4
    warmup_steps: int = 50
    lr_schedule: str = "constant"
    min_lr_ratio: float = 0.05
    grad_clip: float = 1.0
    ema_decay: float = 0.995
    detection_share: float = 0.25
    detection_full_noise_share: float = 0.0
    min_mask_frames: int = 5
    whole_frame_share: float = 0.5
    span_share: float = 0.5
    short_gap_share: float = 0.0
    per_entry_t_share: float = 0.25
    residual_to_interp: bool = True
    label_loss: str = "l2"
    model: str = "small"
    dit: dict[str, Any] = field(default_factory=dict)
    diffusion_steps: int = 50
    normalizer_batches: int = 16
    seed: int = 0
    amp: bool = True
    amp_cpu: bool = False
    log_every: int = 50
    checkpoint_every: int = 500
    log_csv: str | None = None
    tensorboard_dir: str | None = None

    def __post_init__(self) -> None:
        if self.model not in DiT_models:
            raise ValueError(f"TrainConfig.model {self.model!r} unknown; choose from "
                             f"{list(DiT_models)}")
        if self.window < 2 or self.batch_size < 1 or self.steps < 1:
            raise ValueError(f"TrainConfig: window >= 2, batch_size >= 1, steps >= 1 required "
                             f"(got window={self.window}, batch_size={self.batch_size}, "
                             f"steps={self.steps}); 0 steps would write an untrained model")
        if not 0.0 <= self.detection_share <= 1.0:
            raise ValueError("TrainConfig.detection_share must be in [0, 1]")
        if not 0.0 <= self.detection_full_noise_share <= 1.0:
            raise ValueError("TrainConfig.detection_full_noise_share must be in [0, 1]")
        if not 0.0 <= self.short_gap_share <= 1.0:
            raise ValueError("TrainConfig.short_gap_share must be in [0, 1]")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"TrainConfig.lr_schedule must be 'constant' or 'cosine', got "
                             f"{self.lr_schedule!r}")
        if self.label_loss not in ("l1", "l2"):
            raise ValueError(f"TrainConfig.label_loss must be 'l1' or 'l2', got "
                             f"{self.label_loss!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict."""
        return asdict(self)


def inpaint_label_mask(rng: np.random.Generator, n_frames: int, n_labels: int,
                       config: TrainConfig) -> np.ndarray:
    """Random label-level inpainting mask ``(n_frames, n_labels)`` for one window.

    Ratio ``gamma = cos(pi r / 2)``, ``r ~ U(0, 1)``; at least ``min_mask_frames`` frames
    (capped at the window). Frames are contiguous spans or scattered; labels are all of
    them or a random non-empty subset.

    With probability ``config.short_gap_share`` the mask is "short-gap" instead (see
    :func:`_short_gap_mask`), which mimics keypoint-detector errors: short runs on one or a
    few labels.
    """
    if config.short_gap_share > 0.0 and rng.random() < config.short_gap_share:
        return _short_gap_mask(rng, n_frames, n_labels)
    gamma = math.cos(math.pi * rng.random() / 2)
    n = int(np.clip(round(gamma * n_frames), min(config.min_mask_frames, n_frames), n_frames))
    frames = np.zeros(n_frames, dtype=bool)
    if rng.random() < config.span_share:
        k = int(rng.integers(1, 4))
        lengths = np.maximum(1, np.diff(np.sort(np.r_[0, rng.integers(0, n + 1, k - 1), n])))
        for ln in lengths:
            s = int(rng.integers(0, max(1, n_frames - ln + 1)))
            frames[s:s + ln] = True
    else:
        frames[rng.choice(n_frames, size=n, replace=False)] = True
    if rng.random() < config.whole_frame_share or n_labels == 1:
        labs = np.ones(n_labels, dtype=bool)
    else:
        labs = rng.random(n_labels) < rng.uniform(0.2, 1.0)
        if not labs.any():
            labs[rng.integers(n_labels)] = True
    return frames[:, None] & labs[None, :]


#: Longest span (frames) of a short-gap mask (capped at the window).
SHORT_GAP_MAX_FRAMES = 60


def _short_gap_mask(rng: np.random.Generator, n_frames: int, n_labels: int,
                   max_frames: int = SHORT_GAP_MAX_FRAMES) -> np.ndarray:
    """Random "short-gap" inpainting mask ``(n_frames, n_labels)``.

    1-3 spans; each covers one random label (70 %) or a random subset of 2-3 labels, over a
    contiguous run of ``floor(exp(U(0, log(L + 1))))`` frames, ``L = min(max_frames,
    n_frames)`` (log-uniform in 1..L, so most spans are a few frames long, as with
    keypoint-detector errors). Spans may overlap; the mask is never empty.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source.
    n_frames, n_labels : int
        Window shape (both >= 1).
    max_frames : int
        Longest span before capping at the window.

    Returns
    -------
    numpy.ndarray
        Boolean mask ``(n_frames, n_labels)``; True = generate.
    """
    if n_frames < 1 or n_labels < 1 or max_frames < 1:
        raise ValueError(f"short_gap_mask needs n_frames, n_labels, max_frames >= 1, got "
                         f"{n_frames}, {n_labels}, {max_frames}")
    cap = min(max_frames, n_frames)
    mask = np.zeros((n_frames, n_labels), dtype=bool)
    for _ in range(int(rng.integers(1, 4))):
        length = int(np.clip(math.floor(math.exp(rng.uniform(0.0, math.log(cap + 1)))), 1, cap))
        start = int(rng.integers(0, n_frames - length + 1))
        if n_labels == 1 or rng.random() < 0.7:
            labs = [int(rng.integers(n_labels))]
        else:
            size = int(rng.integers(2, min(3, n_labels) + 1))
            labs = rng.choice(n_labels, size=size, replace=False).tolist()
        mask[start:start + length, labs] = True
    return mask


def prepare_batch(batch: Batch, layout: LabelLayout, normalizer: Normalizer,
                  config: TrainConfig, rng: np.random.Generator,
                  device: torch.device) -> dict[str, torch.Tensor]:
    """Turn a :class:`Batch` into tensors for one training step.

    Returns
    -------
    dict
        ``x0`` (targets, normalised, residual where applicable) ``(B, N, D + L)``, ``gen``
        (bool), ``weight`` (bool, observed), ``t`` (long, per entry), ``det`` (bool ``(B,)``).
    """
    feats = np.asarray(batch.features, dtype=np.float32)
    labels = np.asarray(batch.labels, dtype=np.float32)
    observed = np.asarray(batch.observed, dtype=bool)
    b, n, d = feats.shape
    n_lab = labels.shape[-1]
    if d != layout.n_features or n_lab != layout.n_labels:
        raise ValueError(f"batch has {d} features / {n_lab} labels, layout expects "
                         f"{layout.n_features} / {layout.n_labels}")
    if not np.all(np.isfinite(feats)):
        raise ValueError("batch features must be finite everywhere (fill missing values and "
                         "mark them observed=False)")
    det = rng.random(b) < config.detection_share
    gen_f = np.zeros((b, n, d), dtype=bool)
    gen_l = np.zeros((b, n, n_lab), dtype=bool)
    steps = config.diffusion_steps
    t_lab = np.broadcast_to(rng.integers(1, steps + 1, size=(b, 1, 1)), (b, n, n_lab)).copy()
    for i in range(b):
        if det[i]:
            gen_l[i] = True
            if (config.detection_full_noise_share > 0.0
                    and rng.random() < config.detection_full_noise_share):
                t_lab[i] = steps
        else:
            gen_f[i] = layout.feature_mask(inpaint_label_mask(rng, n, n_lab, config))
            if rng.random() < config.per_entry_t_share:
                t_lab[i] = rng.integers(1, steps + 1, size=(n, n_lab))
    t_feat = t_lab[..., list(layout.label_of_feature)]
    fz = torch.from_numpy(normalizer.features(feats)).to(device)
    lz = torch.from_numpy(Normalizer.labels(labels)).to(device)
    gen_f_t = torch.from_numpy(gen_f).to(device)
    obs_t = torch.from_numpy(observed).to(device)
    if config.residual_to_interp:
        fill = linear_fill(fz, (~gen_f_t) & obs_t)
        fz = torch.where(gen_f_t, fz - fill, fz)
    x0 = torch.cat([fz, lz], dim=-1)
    gen = torch.cat([gen_f_t, torch.from_numpy(gen_l).to(device)], dim=-1)
    weight = torch.cat([obs_t, torch.ones((b, n, n_lab), dtype=torch.bool, device=device)], -1)
    t = torch.from_numpy(np.concatenate([t_feat, t_lab], axis=-1)).to(device)
    return {"x0": x0, "gen": gen, "weight": weight, "t": t,
            "det": torch.from_numpy(det).to(device)}


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return world, rank, local


def _step_seed(seed: int, rank: int, step: int) -> int:
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1, np.uint64)[0]
               >> np.uint64(1))


class _DeferredInterrupt:
    """Turn SIGINT/SIGTERM into ``KeyboardInterrupt`` at the next :meth:`check` (step boundary).

    A second signal interrupts at once. Outside the main thread (where handlers cannot be
    installed) it does nothing and the default behaviour applies.
    """

    def __init__(self) -> None:
        self.pending: int | None = None
        self._old: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        if self.pending is not None:
            raise KeyboardInterrupt(f"signal {signum}")
        self.pending = signum

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if a signal arrived since the last check."""
        if self.pending is not None:
            raise KeyboardInterrupt(f"signal {self.pending}")

    def __enter__(self) -> _DeferredInterrupt:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        import signal

        for sig, old in self._old.items():
            signal.signal(sig, old)
        if exc_type is None:
            self.check()  # a signal during the last step still interrupts


class Trainer:
    """The training loop; :func:`train` is the one-call wrapper.

    Parameters are those of :func:`train`. After :meth:`run`, ``model`` (raw weights,
    unwrapped) and ``ema`` hold the trained networks on every rank.
    """

    def __init__(self, source: BatchSource, layout: LabelLayout, spec: dict[str, Any],
                 out_path: str | Path, config: TrainConfig, normalizer: Normalizer | None = None,
                 resume: bool = True, progress: bool = True,
                 device: str | torch.device | None = None, overwrite: bool = False) -> None:
        self.source, self.layout, self.spec = source, layout, dict(spec)
        self.out_path = Path(out_path)
        self.config = config
        self.progress = progress
        self.world, self.rank, self.local_rank = _dist_info()
        self.owns_group = False
        if device is None:
            device = f"cuda:{self.local_rank}" if torch.cuda.is_available() else "cpu"
        self.device = resolve_device(device)
        if self.world > 1:
            import torch.distributed as dist

            if not dist.is_initialized():
                backend = "nccl" if self.device.type == "cuda" else "gloo"
                if self.device.type == "cuda":
                    torch.cuda.set_device(self.device)
                dist.init_process_group(backend=backend)
                self.owns_group = True
        self.history: list[dict[str, float]] = []
        try:
            self._setup(normalizer, resume, overwrite)
        except BaseException:
            self.close()
            raise

    def _setup(self, normalizer: Normalizer | None, resume: bool, overwrite: bool) -> None:
        config, layout = self.config, self.layout
        if config.batch_size < self.world:
            raise ValueError(f"batch_size {config.batch_size} < {self.world} processes")
        self.local_batch = config.batch_size // self.world
        self.step = 0
        self._ema_init: dict[str, torch.Tensor] | None = None
        with torch.random.fork_rng(devices=[]):  # seeded init, caller's RNG untouched
            torch.manual_seed(config.seed)
            self.model = DiT(layout.n_features, layout.n_labels,
                             DiT_models[config.model](**{**config.dit,
                                                         "t_max": config.diffusion_steps}))
        self.diffusion = GaussianDiffusion(DiffusionConfig(steps=config.diffusion_steps))
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr,
                                           weight_decay=0.0)
        exists = self.out_path.exists()
        if exists and resume:
            self._resume()
        else:
            if exists and not overwrite:
                raise FileExistsError(f"{self.out_path}: exists; pass resume=True to continue "
                                      "it or overwrite=True to replace it")
            self.normalizer = normalizer or self._fit_normalizer()
        self.ema = DiT(layout.n_features, layout.n_labels, self.model.config)
        self.ema.load_state_dict(self._ema_init if self._ema_init is not None
                                 else self.model.state_dict())
        self.ema.requires_grad_(False).eval()
        self.model.to(self.device)
        self.ema.to(self.device)
        self.diffusion.to(self.device)
        # optimizer state tensors follow the parameters
        for st in self.optimizer.state.values():
            for k, v in st.items():
                if torch.is_tensor(v) and k != "step":
                    st[k] = v.to(self.device)
        self.net: torch.nn.Module = self.model
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DDP(self.model, device_ids=ids)
        self.amp_dtype = amp_dtype(self.device, config.amp, cpu=config.amp_cpu)
        self.use_amp = self.amp_dtype is not None
        if self.amp_dtype is None:
            self.amp_dtype = torch.float32
        # loss scaling only for fp16 (bf16 has float32's range)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp
                                           and self.amp_dtype == torch.float16)

    # ------------------------------------------------------------------ setup helpers
    def _fit_normalizer(self) -> Normalizer:
        rng = np.random.default_rng([self.config.seed, 7919])
        batches = [self.source.sample(rng, max(1, self.config.batch_size))
                   for _ in range(self.config.normalizer_batches)]
        return fit_normalizer(batches, label_of_feature=self.layout.label_of_feature)

    def _resume(self) -> None:
        bundle = load_checkpoint(self.out_path, expected_spec=self.spec, training_state=True)
        if layout_to_dict(bundle.layout) != layout_to_dict(self.layout):
            raise ValueError(f"{self.out_path}: stored label layout differs from the data's; "
                             "cannot resume")
        if bundle.raw_state is None or bundle.optimizer_state is None:
            raise ValueError(f"{self.out_path}: no training state stored; cannot resume")
        self.model.load_state_dict(bundle.raw_state)
        self.optimizer.load_state_dict(bundle.optimizer_state)
        self._ema_init = bundle.model.state_dict()
        self.normalizer = bundle.normalizer
        self.step = bundle.step
        self.history = list(bundle.extra.get("history", []))
        log.info("resuming %s from step %d", self.out_path, self.step)

    # ------------------------------------------------------------------ loop
    def _lr(self, step: int) -> float:
        cfg = self.config
        if cfg.warmup_steps > 0 and step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        if cfg.lr_schedule == "cosine":
            span = max(1, cfg.steps - cfg.warmup_steps)
            done = min(1.0, max(0.0, (step - cfg.warmup_steps) / span))
            low = cfg.lr * cfg.min_lr_ratio
            return low + 0.5 * (cfg.lr - low) * (1.0 + math.cos(math.pi * done))
        return cfg.lr

    def _train_step(self, step: int) -> dict[str, float]:
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, self.rank, step])
        batch = self.source.sample(rng, self.local_batch)
        tb = prepare_batch(batch, self.layout, self.normalizer, cfg, rng, self.device)
        gen_t = torch.Generator(device=self.device).manual_seed(
            _step_seed(cfg.seed, self.rank, step))
        torch.manual_seed(_step_seed(cfg.seed + 1, self.rank, step))  # dropout
        noise = torch.randn(tb["x0"].shape, generator=gen_t, device=self.device)
        for g in self.optimizer.param_groups:
            g["lr"] = self._lr(step)
        squared = None
        if cfg.label_loss == "l2":
            squared = torch.zeros_like(tb["gen"])
            squared[..., self.layout.n_features:] = True
        with torch.autocast(device_type=self.device.type, dtype=self.amp_dtype,
                            enabled=self.use_amp):
            loss = self.diffusion.training_loss(self.net, tb["x0"], tb["gen"], tb["weight"],
                                                tb["t"], noise, squared=squared)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        gnorm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        decay = min(cfg.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(self.ema.parameters(), self.model.parameters(), strict=True):
                e.lerp_(p.detach(), 1 - decay)
        return {"loss": float(loss.detach()), "grad_norm": float(gnorm)}

    def _save(self) -> None:
        if self.rank != 0:
            return
        save_checkpoint(self.out_path, model=self.ema, diffusion=self.diffusion,
                        normalizer=self.normalizer, layout=self.layout, spec=self.spec,
                        train_config=self.config.to_dict(), step=self.step,
                        raw_state=self.model.state_dict(),
                        optimizer_state=self.optimizer.state_dict(),
                        extra={"history": self.history[-200:], "world_size": self.world},
                        overwrite=True)

    def _log_row(self, row: dict[str, float], writer: Any) -> None:
        if self.rank != 0:
            return
        self.history.append(row)
        if self.config.log_csv:
            p = Path(self.config.log_csv)
            new = not p.exists()
            p.parent.mkdir(parents=True, exist_ok=True)
            with p.open("a", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=list(row))
                if new:
                    w.writeheader()
                w.writerow(row)
        if writer is not None:
            for k, v in row.items():
                if k != "step":
                    writer.add_scalar(f"train/{k}", v, int(row["step"]))
        log.info("step %d loss %.4f", int(row["step"]), row["loss"])

    def run(self) -> Path:
        """Train up to ``config.steps``; write the model file (rank 0); return its path."""
        from .._progress import progress_bar

        cfg = self.config
        writer = None
        if cfg.tensorboard_dir and self.rank == 0:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:
                raise ImportError("TrainConfig.tensorboard_dir needs the 'tensorboard' "
                                  "package (pip install tensorboard)") from exc
            writer = SummaryWriter(cfg.tensorboard_dir)
        devices = [self.device] if self.device.type == "cuda" else []
        bar = progress_bar(total=cfg.steps, initial=self.step, desc="training", unit="step",
                           disable=not self.progress or self.rank != 0)
        self.model.train()
        t0 = time.perf_counter()
        start_step = self.step
        try:
            with torch.random.fork_rng(devices=devices):
                try:
                    with _DeferredInterrupt() as interrupt:
                        self._loop(bar, writer, t0, interrupt)
                except KeyboardInterrupt:  # Ctrl-C, or SIGTERM turned into one by the CLI
                    if self.step > start_step:
                        self._save()
                        log.warning("training interrupted at step %d of %d; saved to %s: run "
                                    "the same command again to resume", self.step, cfg.steps,
                                    self.out_path)
                    raise
            self._save()
            if self.world > 1:
                import torch.distributed as dist

                dist.barrier()
        finally:
            bar.close()
            if writer is not None:
                writer.close()
        self.model.eval()
        return self.out_path

    def _loop(self, bar: Any, writer: Any, t0: float, interrupt: _DeferredInterrupt) -> None:
        """Run the optimisation steps from ``self.step`` to ``config.steps``.

        Ctrl-C / SIGTERM end the run between two steps (``interrupt``), so the checkpoint
        saved on interruption is exactly the state after ``self.step`` steps.
        """
        cfg = self.config
        acc: list[float] = []
        while self.step < cfg.steps:
            interrupt.check()
            out = self._train_step(self.step)
            self.step += 1
            acc.append(out["loss"])
            bar.update(1)
            bar.set_postfix(loss=f"{out['loss']:.4f}")
            if self.step % max(1, cfg.log_every) == 0 or self.step == cfg.steps:
                mean = float(np.mean(acc))
                if self.world > 1:
                    import torch.distributed as dist

                    v = torch.tensor([mean], device=self.device)
                    dist.all_reduce(v)
                    mean = float(v.item()) / self.world
                self._log_row({"step": self.step, "loss": mean,
                               "grad_norm": out["grad_norm"], "lr": self._lr(self.step),
                               "seconds": time.perf_counter() - t0}, writer)
                acc = []
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                self._save()


    def close(self) -> None:
        """Leave the process group if this trainer created it."""
        if self.owns_group:
            import torch.distributed as dist

            dist.destroy_process_group()
            self.owns_group = False


def _configure_threads(config: TrainConfig, device: str | torch.device | None) -> None:
    """Torch's CPU threads for this run (:func:`stablemotion_dlc._threads.configure_threads`).

    Processes of one ``torchrun`` on one machine share its CPUs (``LOCAL_WORLD_SIZE``).
    """
    from .._threads import configure_threads, model_work
    from .model import DiT_models

    preset = DiT_models.get(config.model)
    width = preset().width if preset is not None else None
    world = max(1, _dist_info()[0])
    work = None if width is None else model_work(width, max(1, config.batch_size // world),
                                                 config.window)
    try:
        kind = torch.device(device).type if device is not None else (
            "cuda" if torch.cuda.is_available() else "cpu")
    except (RuntimeError, TypeError):  # not a device: the trainer says so clearly
        kind = "cpu"
    configure_threads(work, device=kind,
                      processes=max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))


class _SpecLike(Protocol):
    """The part of a :class:`Representation` that training needs (layout and spec)."""

    @property
    def layout(self) -> LabelLayout: ...

    def spec(self) -> dict[str, Any]: ...


def train(source: BatchSource, rep: Representation | _SpecLike, out_path: str | Path,
          config: TrainConfig, normalizer: Normalizer | None = None,
          resume: bool = True, progress: bool = True,
          device: str | torch.device | None = None, overwrite: bool = False, *,
          extra_spec: dict[str, Any] | None = None) -> Path:
    """Train a cleanup model and write it to ``out_path`` (one self-describing file).

    Parameters
    ----------
    source : BatchSource
        Training windows (length ``config.window``), encoded by ``rep``.
    rep : Representation
        The representation: its ``layout`` and ``spec()`` are stored in the model, checked
        on resume and load, and rebuilt by ``from_spec`` when cleaning.
    out_path : str or Path
        Model file; also the resume checkpoint.
    config : TrainConfig
        Settings.
    normalizer : Normalizer, optional
        Default: fitted from ``config.normalizer_batches`` batches. On resume the
        normaliser stored in ``out_path`` is used.
    resume : bool
        Continue from ``out_path`` if it exists (to ``config.steps`` in total).
    progress : bool
        Show a tqdm bar with the loss.
    device : str or torch.device, optional
        Default ``cuda:LOCAL_RANK`` when available, else CPU.
    overwrite : bool
        With ``resume=False``, replace an existing ``out_path`` (else FileExistsError).
    extra_spec : dict, optional
        Keys added to ``rep.spec()`` in the stored spec (e.g. the label rules a DLC model
        was trained with).

    Returns
    -------
    Path
        ``out_path``.
    """
    layout = rep.layout
    spec = {**rep.spec(), **(extra_spec or {})}
    _configure_threads(config, device)
    if _dist_info()[1] == 0:  # a folder that cannot take the model fails now, not at the end
        from .._atomic import check_outputs

        check_outputs([out_path], overwrite=True)
    trainer = Trainer(source, layout, spec, out_path, config, normalizer=normalizer,
                      resume=resume, progress=progress, device=device, overwrite=overwrite)
    try:
        return trainer.run()
    finally:
        trainer.close()
