"""Training internals of issue 17: the cosine learning-rate schedule, mixed precision (the bf16
autocast path, run on CPU where no GPU is present) and the device-sized window batches."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from stablemotion_dlc.core.device import (
    CPU_WINDOW_BATCH,
    amp_dtype,
    autocast,
    window_batch_size,
)
from stablemotion_dlc.core.synthetic import SyntheticConfig, SyntheticSource, make_synthetic
from stablemotion_dlc.core.train import TrainConfig, Trainer

torch.set_num_threads(1)

TINY = {"width": 32, "depth": 2, "heads": 2}


@pytest.fixture(scope="module")
def source() -> SyntheticSource:
    data = make_synthetic(3, 300, SyntheticConfig(n_groups=3), seed=0)
    return SyntheticSource(data, 32, labelled=("dropout", "spike"))


def _trainer(source: SyntheticSource, path: Path, **kw: object) -> Trainer:
    base = {"window": 32, "batch_size": 8, "steps": 6, "lr": 2e-3, "warmup_steps": 0,
            "model": "tiny", "dit": TINY, "log_every": 2, "checkpoint_every": 0,
            "normalizer_batches": 2}
    base.update(kw)
    return Trainer(source, source.layout, source.spec(), path, TrainConfig(**base),
                   progress=False, device="cpu")


def test_cosine_schedule_warms_up_then_decays_to_the_floor(source: SyntheticSource,
                                                          tmp_path: Path) -> None:
    tr = _trainer(source, tmp_path / "m.safetensors", steps=110, warmup_steps=10, lr=1e-3,
                  lr_schedule="cosine", min_lr_ratio=0.1)
    lrs = [tr._lr(s) for s in range(111)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert lrs[10] == pytest.approx(1e-3)
    assert lrs[60] == pytest.approx(1e-4 + 0.5 * 9e-4)  # half way: the mean of lr and floor
    assert lrs[110] == pytest.approx(1e-4)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))
    const = _trainer(source, tmp_path / "c.safetensors", steps=110, warmup_steps=10, lr=1e-3)
    assert [const._lr(s) for s in range(10, 111)] == [1e-3] * 101  # upstream unchanged


def test_unknown_schedule_is_refused() -> None:
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig(lr_schedule="linear")


def test_amp_dtype_per_device() -> None:
    assert amp_dtype("cpu") is None  # float32 on CPU unless asked
    assert amp_dtype("cpu", cpu=True) == torch.bfloat16
    assert amp_dtype("cpu", enabled=False, cpu=True) is None
    if torch.cuda.is_available():  # pragma: no cover - GPU machines only
        assert amp_dtype("cuda") in (torch.bfloat16, torch.float16)
    with autocast("cpu", None):
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.float32
    with autocast("cpu", torch.bfloat16):
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.bfloat16


def test_bf16_autocast_training_on_cpu(source: SyntheticSource, tmp_path: Path) -> None:
    """The mixed-precision path of the trainer (autocast, scaler off for bf16) runs and learns;
    the weights, the EMA and the saved model stay float32."""
    tr = _trainer(source, tmp_path / "m.safetensors", steps=30, amp_cpu=True, log_every=5)
    assert tr.use_amp and tr.amp_dtype == torch.bfloat16
    assert not tr.scaler.is_enabled()
    tr.run()
    losses = [r["loss"] for r in tr.history]
    assert all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-2:]) < np.mean(losses[:2])
    assert all(p.dtype == torch.float32 for p in tr.ema.parameters())
    plain = _trainer(source, tmp_path / "p.safetensors", steps=2)
    assert not plain.use_amp and plain.amp_dtype == torch.float32


def test_window_batch_size_on_cpu() -> None:
    assert window_batch_size("cpu", 64, 20, 64, 4) == CPU_WINDOW_BATCH


def test_sampler_bf16_autocast_on_cpu() -> None:
    """The cleaning path under mixed precision: the network runs in bf16, the sampler in
    float32; given entries stay bit-identical and generated ones near the float32 result."""
    from stablemotion_dlc.core.diffusion import DiffusionConfig, GaussianDiffusion
    from stablemotion_dlc.core.model import DiT, DiT_models

    torch.manual_seed(0)
    model = DiT(4, 2, DiT_models["tiny"](**TINY, t_max=50)).eval()
    diff = GaussianDiffusion(DiffusionConfig(steps=50))
    x = torch.randn(3, 32, 6)
    gen = torch.zeros(3, 32, 6, dtype=torch.bool)
    gen[:, 10:14, :2] = True
    gen[..., 4:] = True
    seen = []
    hook = model.register_forward_hook(lambda m, a, out: seen.append(out.dtype))
    outs = {}
    for name, amp in (("fp32", False), ("bf16", torch.bfloat16), ("auto", True)):
        outs[name] = diff.sample(model, x, gen, sampling_steps=2,
                                 generator=torch.Generator().manual_seed(1), amp=amp)
        assert outs[name].dtype == torch.float32
        assert torch.equal(outs[name][~gen], x[~gen])
    hook.remove()
    assert seen[:2] == [torch.float32, torch.float32] and torch.bfloat16 in seen[2:4]
    assert torch.equal(outs["auto"], outs["fp32"])  # CPU: no autocast unless asked
    assert (outs["bf16"] - outs["fp32"]).abs().max() < 0.1


def test_cleaner_batches_windows_to_the_device(source: SyntheticSource, tmp_path: Path) -> None:
    from stablemotion_dlc.core.inference import Cleaner

    tr = _trainer(source, tmp_path / "m.safetensors", steps=2)
    tr.run()
    assert Cleaner.from_file(tmp_path / "m.safetensors").batch_size == CPU_WINDOW_BATCH
    assert Cleaner.from_file(tmp_path / "m.safetensors", batch_size=7).batch_size == 7


def test_expected_shapes_without_meta_device(source: SyntheticSource,
                                                           tmp_path: Path) -> None:
    """Reading the declared shapes builds a small network on the CPU (no meta device, whose
    initialisers imported torch._dynamo: ~1.3 s a clean) without consuming the caller's RNG;
    a large one on the meta device."""
    from stablemotion_dlc.core.checkpoint import _expected_shapes, load_checkpoint

    tr = _trainer(source, tmp_path / "m.safetensors", steps=2)
    tr.run()
    bundle = load_checkpoint(tmp_path / "m.safetensors")
    shapes = {k: tuple(v.shape) for k, v in bundle.model.state_dict().items()}
    mcfg = {"n_features": source.layout.n_features, "n_labels": source.layout.n_labels,
            "config": {**TINY, "t_max": 50}}
    torch.manual_seed(0)
    a = torch.rand(3)
    torch.manual_seed(0)
    assert _expected_shapes(mcfg) == shapes
    assert torch.equal(torch.rand(3), a)
    big = {**mcfg, "config": {"width": 2048, "depth": 24, "heads": 16, "t_max": 50}}
    assert _expected_shapes(big)["x_embed.weight"] == (2048, 3 * (mcfg["n_features"]
                                                                  + mcfg["n_labels"]))
