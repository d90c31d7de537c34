"""CPU vs GPU throughput of training and cleaning, in one run (issue 17, item 4).

Run::

    PYTHONPATH=. python benchmarks/bench_gpu.py [--model tiny] [--steps 40] [--frames 18000]
        [--cpu-amp] [--json out.json]

What it does
------------
On every device present (the CPU, and ``cuda`` when ``torch.cuda.is_available()``), and in
float32 and in automatic mixed precision (bf16 where the GPU supports it, fp16 otherwise; on
the CPU only with ``--cpu-amp``):

* **training**: the core trainer (:class:`~stablemotion_dlc.core.train.Trainer`) on a
  synthetic source with 10 keypoint-like groups (the DLC default's 20 features and 10 labels),
  ``--batch-size`` windows of 64 frames a step; steps/s and windows/s over ``--steps`` steps
  after 5 warm-up steps;
* **cleaning**: :meth:`Cleaner.detect <stablemotion_dlc.core.inference.Cleaner.detect>` (the
  network's pass over every window of a file) on ``--frames`` frames, with windows batched to
  the device (:func:`~stablemotion_dlc.core.device.window_batch_size`: 64 on a CPU, as many as
  fit a quarter of the free GPU memory, up to 4,096); frames/s.

CPU threads: what :mod:`stablemotion_dlc._threads` chooses (``--threads`` to force). Prints
a table, says plainly when no GPU is present, and writes JSON with ``/proc/loadavg``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_device(device: str, amp: bool, args: argparse.Namespace, work: Path
                 ) -> dict[str, Any]:
    """Training steps/s and detection frames/s on one device and precision."""
    from stablemotion_dlc.core.device import amp_dtype, window_batch_size
    from stablemotion_dlc.core.inference import Cleaner
    from stablemotion_dlc.core.synthetic import SyntheticConfig, SyntheticSource, make_synthetic
    from stablemotion_dlc.core.train import TrainConfig, Trainer, _configure_threads

    dev = torch.device(device)
    data = make_synthetic(4, 2000, SyntheticConfig(n_groups=10), seed=0)
    src = SyntheticSource(data, 64, labelled=("dropout", "spike"))
    total = 5 + args.steps
    cfg = TrainConfig(window=64, batch_size=args.batch_size, steps=total, model=args.model,
                      amp=amp, amp_cpu=amp and dev.type == "cpu", log_every=10 ** 6,
                      checkpoint_every=0, normalizer_batches=2, seed=0)
    if not args.threads:
        _configure_threads(cfg, dev)  # what training chooses on this device
    path = work / f"model_{dev.type}_{'amp' if amp else 'fp32'}.safetensors"
    tr = Trainer(src, src.layout, src.spec(), path, cfg, progress=False, device=dev,
                 resume=False, overwrite=True)
    tr.model.train()
    for s in range(5):
        tr._train_step(s)
    _sync(dev)
    t0 = time.perf_counter()
    for s in range(5, total):
        tr._train_step(s)
    _sync(dev)
    train_s = time.perf_counter() - t0
    tr.step = total
    tr._save()
    tr.close()
    cast = amp_dtype(dev, amp, cpu=amp and dev.type == "cpu")
    width = int(tr.model.config.width)
    depth = int(tr.model.config.depth)
    batch = window_batch_size(dev, 64, src.layout.n_features + src.layout.n_labels, width,
                              depth, bytes_per_value=2 if cast is not None else 4)
    cleaner = Cleaner.from_file(path, device=dev, batch_size=batch)
    feats = make_synthetic(1, args.frames, SyntheticConfig(n_groups=10), seed=1).corrupted[0]
    with torch.autocast(device_type=dev.type, dtype=cast, enabled=cast is not None):
        cleaner.detect(feats[:2000])  # warm-up (kernels, allocator)
        _sync(dev)
        t0 = time.perf_counter()
        cleaner.detect(feats)
        _sync(dev)
    detect_s = time.perf_counter() - t0
    return {"device": str(dev), "precision": "fp32" if cast is None else str(cast).split(".")[-1],
            "threads": torch.get_num_threads(), "train_steps": args.steps,
            "train_s": round(train_s, 3), "train_steps_per_s": round(args.steps / train_s, 2),
            "train_windows_per_s": round(args.steps * args.batch_size / train_s, 1),
            "detect_frames": args.frames, "detect_batch": batch,
            "detect_s": round(detect_s, 3),
            "detect_frames_per_s": round(args.frames / detect_s, 1), "load": _load()}


def main() -> None:
    """Benchmark every device present; print the table; write JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--frames", type=int, default=18000)
    ap.add_argument("--cpu-amp", action="store_true", help="also bf16 autocast on the CPU")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    gpu = torch.cuda.is_available()
    print(f"torch {torch.__version__}; CPUs {os.cpu_count()}; load {_load()}")
    if gpu:
        print(f"GPU: {torch.cuda.get_device_name(0)} (bf16 "
              f"{'supported' if torch.cuda.is_bf16_supported() else 'not supported'})")
    else:
        print("no GPU present (torch.cuda.is_available() is False): CPU figures only")
    runs = [("cpu", False)] + ([("cpu", True)] if args.cpu_amp else [])
    if gpu:
        runs += [("cuda", False), ("cuda", True)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for device, amp in runs:
            row = bench_device(device, amp, args, Path(tmp))
            rows.append(row)
            print(f"{row['device']:>5} {row['precision']:>8}: train "
                  f"{row['train_steps_per_s']:8.2f} steps/s ({row['train_windows_per_s']:.0f} "
                  f"windows/s, batch {args.batch_size}); detect "
                  f"{row['detect_frames_per_s']:10.0f} frames/s (batch {row['detect_batch']}); "
                  f"threads {row['threads']}; load {row['load']}", flush=True)
    base = rows[0]
    for row in rows[1:]:
        row["train_x_cpu"] = round(row["train_steps_per_s"] / base["train_steps_per_s"], 2)
        row["detect_x_cpu"] = round(row["detect_frames_per_s"] / base["detect_frames_per_s"], 2)
        print(f"{row['device']} {row['precision']} vs cpu fp32: training x{row['train_x_cpu']}, "
              f"detection x{row['detect_x_cpu']}")
    if args.json:
        args.json.write_text(json.dumps({"gpu": gpu, "model": args.model,
                                         "gpu_name": torch.cuda.get_device_name(0) if gpu
                                         else None, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
