"""SMPL benchmark: train a small StableMotion model on generated motion, score cleanup.

Trains (a few CPU minutes by default) on generated walking/turning motion with injected,
labelled BrokenAMASS-style corruption, then corrupts held-out generated motion (other seed)
and compares, against the clean motion:

- ``corrupted``: the input;
- ``model``: the model's own detection + repair;
- ``model_oracle_mask``: repair of the true corrupted frames;
- ``interp_detected`` / ``interp_oracle``: the same frames filled by slerp/linear
  interpolation (the "same detection + interpolation" baseline);
- ``savgol``: Savitzky-Golay (window 9, order 2) on all joint positions.

Usage::

    python benchmarks/bench_smpl.py --steps 600 --json /tmp/smpl_bench.json
    python benchmarks/bench_smpl.py --model-file /tmp/smpl_bench/model.pt  # skip training

With ``--amass FOLDER [--smpl-model FILE]`` the evaluation (and training) uses AMASS motions.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

METRICS = ("gmpjpe_cm", "gmpjpe_bad_cm", "mpjpe_cm", "accel_err", "jerk", "skate_cm",
           "skate_ratio", "penetration_cm")


def _table(report: dict) -> str:
    head = f"{'method':<18}" + "".join(f"{m:>15}" for m in METRICS)
    rows = [head, "-" * len(head)]
    for name, vals in report["methods"].items():
        rows.append(f"{name:<18}" + "".join(f"{vals.get(m, float('nan')):>15.3f}"
                                            for m in METRICS))
    ref = report["clean_reference"]
    rows.append(f"{'clean (reference)':<18}" + "".join(f"{ref.get(m, 0.0):>15.3f}"
                                                       for m in METRICS))
    d = report["detection"]
    rows.append(f"detection: precision {d['precision']:.3f}  recall {d['recall']:.3f}  "
                f"F1 {d['f1']:.3f}")
    rows.append(f"{report['n_motions']} motions, {report['n_frames']} frames, "
                f"{report['seconds_per_motion']:.2f} s per motion (detect + cleanup)")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; returns the report dict."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workdir", default="/tmp/smpl_bench")
    p.add_argument("--model-file", help="evaluate this model instead of training one")
    p.add_argument("--amass", help="AMASS folder (default: generated motion)")
    p.add_argument("--smpl-model", help="SMPL/SMPL-H model file or folder")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--model", default="tiny", help="DiT preset: tiny/small/base/large")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--n-train", type=int, default=200, help="generated training motions")
    p.add_argument("--n-eval", type=int, default=12, help="generated evaluation motions")
    p.add_argument("--eval-frames", type=int, default=200)
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (1 is fastest on a shared, busy CPU)")
    p.add_argument("--device", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the report here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    import torch

    from stablemotion_dlc.smpl.pipeline import evaluate_smpl, train_smpl

    torch.set_num_threads(args.threads)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    model_file = Path(args.model_file) if args.model_file else work / "model.pt"
    train_s = 0.0
    if not args.model_file:
        t0 = time.perf_counter()
        train_smpl(model_file, args.amass, smpl_model=args.smpl_model,
                   n_generated=0 if args.amass else args.n_train, window=args.window,
                   steps=args.steps, batch_size=args.batch_size, model=args.model, lr=args.lr,
                   seed=args.seed, device=args.device, resume=False, overwrite=True,
                   log_every=50, checkpoint_every=0, normalizer_batches=8)
        train_s = time.perf_counter() - t0
    report = evaluate_smpl(model_file, args.amass, smpl_model=args.smpl_model,
                           n_generated=args.n_eval, n_frames=args.eval_frames,
                           seed=10_000 + args.seed, device=args.device)
    report["train_seconds"] = train_s
    report["settings"] = vars(args)
    print(_table(report))
    print(f"training: {train_s:.0f} s for {args.steps} steps ({args.model}, batch "
          f"{args.batch_size}, window {args.window})" if train_s else "training: skipped")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
