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
Real-data check (AMASS files the user has, never in the repository; corruption injected, each
file corrupted ``--repeats`` times; files shorter than ``--eval-frames`` are used whole)::

    python benchmarks/bench_smpl.py --model-file model.pt --amass /data/amass --repeats 20

The report adds ``clean_input`` (the clean files cleaned: share of frames changed) and
``input_check`` (the core's out-of-distribution check, and how often it fell back to the rules).
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
    for name, d in report["detection_ablation"].items():
        rows.append(f"detection {name:<15} precision {d['precision']:.3f}  "
                    f"recall {d['recall']:.3f}  F1 {d['f1']:.3f}")
    rows.append("recall by kind (model): " + ", ".join(
        f"{k} {v:.2f}" for k, v in report["recall_by_kind"].items() if v is not None))
    rows.append("threshold sweep (model's own detection, then with the rules):")
    for name, d in report["threshold_sweep"].items():
        rows.append(f"  {name:<10} P {d['precision']:.3f}  R {d['recall']:.3f}  "
                    f"F1 {d['f1']:.3f}")
    ci = report.get("clean_input") or {}
    if ci:
        rows.append(f"clean input cleaned: {100 * ci['frames_changed']:.1f} % of frames changed, "
                    f"world joint error {ci['gmpjpe_cm']:.3f} cm, fell back to the rules in "
                    f"{100 * ci['fallback']:.0f} % of motions")
    ic = report.get("input_check") or {}
    if ic:
        rows.append(f"input check (corrupted): model flags {100 * ic['flagged_share']:.1f} % of "
                    f"clean-looking frames, feature shift {ic['feature_shift']:.2f}, fell back "
                    f"in {100 * ic['fallback']:.0f} % of motions")
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
    p.add_argument("--threshold", type=float, default=0.8,
                   help="model detection threshold (1: the joint rules only)")
    p.add_argument("--ensemble", type=int, default=4, help="repair candidates averaged")
    p.add_argument("--repeats", type=int, default=1,
                   help="independent corruptions of each evaluation motion")
    p.add_argument("--min-frames", type=int, default=16,
                   help="shortest AMASS file evaluated (frames at 20 fps)")
    p.add_argument("--json", help="write the report here")
    p.add_argument("--figures", help="write metrics.png and example.png into this folder")
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
                           threshold=args.threshold, ensemble=args.ensemble,
                           seed=10_000 + args.seed, device=args.device,
                           n_repeats=args.repeats, min_frames=args.min_frames)
    report["train_seconds"] = train_s
    report["settings"] = vars(args)
    from stablemotion_dlc.smpl.pipeline import load_cleaner

    bundle = load_cleaner(model_file).bundle  # what the evaluated model really is
    report["model"] = {"step": bundle.step, "train_config": bundle.train_config,
                       "n_parameters": sum(p.numel() for p in bundle.model.parameters())}
    print(_table(report))
    cfg = report["model"]["train_config"]
    print(f"model: {cfg['model']}, {report['model']['n_parameters']:,} parameters, "
          f"{report['model']['step']} steps of batch {cfg['batch_size']} x {cfg['window']} "
          f"frames" + (f", trained here in {train_s:.0f} s" if train_s else ""))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    if args.figures:
        fig_dir = Path(args.figures)
        fig_dir.mkdir(parents=True, exist_ok=True)
        plot_metrics(report, fig_dir / "smpl_metrics.png")
        plot_example(model_file, fig_dir / "smpl_example.png", threshold=args.threshold,
                     ensemble=args.ensemble, seed=20_000 + args.seed)
        print(f"figures: {fig_dir}")
    return report


PLOT_METHODS = ("corrupted", "savgol", "interp_detected", "model", "model_oracle_mask")
PLOT_METRICS = (("gmpjpe_bad_cm", "world joint error on\ncorrupted frames (cm)"),
                ("accel_err", "acceleration error (m/s²)"),
                ("skate_cm", "foot skating (cm/frame)"),
                ("jerk", "jerk (m/s³)"))


def plot_metrics(report: dict, out: Path) -> None:
    """Bar chart of the main corruption metrics per method (clean reference dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PLOT_METRICS), figsize=(4 * len(PLOT_METRICS), 3.6))
    colors = ["#999999", "#4c72b0", "#dd8452", "#55a868", "#8172b3"]
    for ax, (metric, title) in zip(axes, PLOT_METRICS, strict=True):
        vals = [report["methods"][m][metric] for m in PLOT_METHODS]
        ax.bar(range(len(vals)), vals, color=colors)
        ref = report["clean_reference"].get(metric)
        if ref:
            ax.axhline(ref, color="k", ls="--", lw=1, label="clean motion")
            ax.legend(fontsize=8)
        ax.set_xticks(range(len(vals)), [m.replace("_", "\n") for m in PLOT_METHODS],
                      fontsize=7)
        ax.set_title(title, fontsize=9)
    fig.suptitle(f"SMPL cleanup on {report['n_motions']} held-out generated motions "
                 f"({report['n_frames']} frames, injected corruption)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_example(model_file: Path, out: Path, threshold: float = 0.5, ensemble: int = 1,
                 seed: int = 0) -> None:
    """One corrupted motion: pelvis path and a wrist's height before/after cleanup."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from stablemotion_dlc._arrays import true_runs
    from stablemotion_dlc.smpl.amass import generate_motion
    from stablemotion_dlc.smpl.corruption import CorruptionConfig, corrupt
    from stablemotion_dlc.smpl.pipeline import clean_motion, load_cleaner

    rng = np.random.default_rng(seed)
    motion = generate_motion(200, rng)
    bad, labels, events = corrupt(motion, rng, CorruptionConfig(n_events=(3, 3)))
    res = clean_motion(bad, load_cleaner(model_file), threshold=threshold, ensemble=ensemble,
                       seed=seed)
    t = np.arange(len(motion)) / motion.fps
    fig, axes = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True)
    series = (("pelvis x (m)", 0, 0), ("pelvis y (m)", 0, 1), ("left wrist height (m)", 20, 2))
    for ax, (name, joint, axis) in zip(axes, series, strict=True):
        ax.plot(t, motion.joints[:, joint, axis], color="k", lw=2.2, alpha=0.35, label="clean")
        ax.plot(t, bad.joints[:, joint, axis], color="#c44e52", lw=1, label="corrupted")
        ax.plot(t, res.motion.joints[:, joint, axis], color="#4c72b0", lw=1.2, label="cleaned")
        for a, b in zip(*true_runs(labels), strict=True):
            ax.axvspan(t[a], t[min(b, len(t) - 1)], color="#c44e52", alpha=0.08)
        for a, b in zip(*true_runs(res.mask), strict=True):
            ax.axvspan(t[a], t[min(b, len(t) - 1)], ymin=0, ymax=0.06, color="#4c72b0")
        ax.set_ylabel(name, fontsize=9)
    axes[0].legend(fontsize=8, ncol=3, loc="upper left")
    kinds = ", ".join(f"{e.kind} {e.start / motion.fps:.1f}-{e.stop / motion.fps:.1f} s"
                      for e in events)
    axes[0].set_title(f"injected: {kinds}  (pink: labelled bad; blue ticks: repaired)",
                      fontsize=9)
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
