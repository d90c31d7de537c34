"""Training speed vs quality: how soon is the default model useful? (issue 17, item 3)

Run::

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_train_speed.py \
        --out /tmp/train_speed [--configs today fast ...] [--json out.json]

What it does
------------
For each training recipe (:data:`RECIPES`: today's default of 2,000 steps at a constant
learning rate of 1e-4, the same stopped early, and shorter runs at a larger learning rate
with a cosine decay), trains the DLC model on the weak file of the real-errors pair
(``openfield_m3v1``, see ``bench_real_errors.py``) in this process on one thread, records the
wall time, the process CPU time and ``/proc/loadavg``, then cleans the weak file with it
(``clean_tracks`` defaults) and scores the result against the strong model's confident points
with the real-errors metric (:func:`~stablemotion_dlc.evaluate.real_errors.score_real_errors`):
RMSE on all truth points, on the wrong ones, the share of wrong points fixed and of right
points moved. It also reports the network's own held-out error: the repair's validation
RMSE of the ``network`` candidate per run-length bin (spans of the file's trustworthy points
hidden and refilled), the signal a user has without any truth.

``--reuse`` scores the models already in ``--out`` again without training (every recipe
scored by one state of the cleaning code). ``--sample SECONDS`` trains and scores on a
simulated project of that length instead (:func:`~stablemotion_dlc.sample.make_sample_project`,
seed 0, cached in ``--out``), against its own ground truth. Prints a line per recipe and
writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WEAK = "openfield_m3v1/m3v1mp4DeepCut_resnet50_openfieldOct30shuffle1_15001.h5"
STRONG = "openfield_m3v1/m3v1mp4DLC_resnet50_openfieldAug20shuffle1_30000.h5"

#: TrainConfig overrides on top of the embedded default (DEFAULT_TRAIN_CONFIG). "today" is the
#: default before 6 Dec 2026 (constant lr 1e-4); the default is now "cosine_600_lr1e-3".
RECIPES: dict[str, dict[str, Any]] = {
    "today_2000": {"steps": 2000, "lr": 1e-4, "lr_schedule": "constant"},
    "today_600": {"steps": 600, "lr": 1e-4, "lr_schedule": "constant"},
    "cosine_600_lr1e-3": {"steps": 600, "lr": 1e-3, "lr_schedule": "cosine"},
    "cosine_400_lr2e-3": {"steps": 400, "lr": 2e-3, "lr_schedule": "cosine"},
    "cosine_800_lr1e-3": {"steps": 800, "lr": 1e-3, "lr_schedule": "cosine"},
    "today_1200": {"steps": 1200, "lr": 1e-4, "lr_schedule": "constant"},
    "cosine_1200_lr3e-4": {"steps": 1200, "lr": 3e-4, "lr_schedule": "cosine"},
}


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_recipe(name: str, overrides: dict[str, Any], weak: Any, truth: Any, out: Path,
               pcutoff: float, reuse: bool = False) -> dict[str, Any]:
    """Train one recipe, clean the weak file with it, score; seconds and scores.

    With ``reuse``, a model already in ``out`` is scored without training again (to score
    every recipe with one state of the cleaning code); its training figures are then None.
    """
    from stablemotion_dlc.core.train import TrainConfig
    from stablemotion_dlc.dlc.pipeline import (
        DEFAULT_TRAIN_CONFIG,
        DEFAULT_TRAIN_STEPS,
        clean_tracks,
        train_on_tracks,
    )
    from stablemotion_dlc.evaluate.real_errors import score_real_errors

    cfg = TrainConfig(**{**DEFAULT_TRAIN_CONFIG, "steps": DEFAULT_TRAIN_STEPS})
    cfg = replace(cfg, **overrides)
    model = out / f"model_{name}.safetensors"
    load0 = _load()
    wall = cpu = None
    if not (reuse and model.exists()):
        c0, t0 = _cpu_s(), time.perf_counter()
        train_on_tracks([weak], model, config=cfg, progress=False, pcutoff=pcutoff,
                        overwrite=True, resume=False)
        wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    load1 = _load()
    res = clean_tracks(weak, model, pcutoff=pcutoff)
    score = score_real_errors(res.tracks.xy, weak.xy, weak.likelihood, truth, pcutoff=pcutoff,
                              bodyparts=weak.bodyparts)
    val = {}
    for _animal, rep in (res.report.get("repair") or {}).items():
        for b, row in (rep.get("validation") or {}).items():
            val[b] = {"network": row.get("network"), "interp": row.get("interp"),
                      "chosen": row.get("chosen")}
        break
    keep = ("rmse_input", "rmse_all", "rmse_wrong", "fixed_share", "right_moved_share",
            "broken_share")
    return {"recipe": name, "overrides": overrides,
            "train_wall_s": None if wall is None else round(wall, 2),
            "train_cpu_s": None if cpu is None else round(cpu, 2),
            "steps_per_s": None if wall is None else round(cfg.steps / wall, 2),
            "load_before": load0, "load_after": load1,
            "score": {k: score.get(k) for k in keep if k in score}, "score_full": score,
            "validation": val}


def main() -> None:
    """Train and score each recipe; print a table; write JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=Path("/tmp/stablemotion_train_speed"))
    ap.add_argument("--configs", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    ap.add_argument("--pcutoff", type=float, default=0.6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--reuse", action="store_true",
                    help="score the models already in --out without training them again")
    ap.add_argument("--sample", type=float, default=None, metavar="SECONDS",
                    help="train and score on a simulated project of this length (its own "
                         "ground truth) instead of the real-errors pair")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from stablemotion_dlc.dlc.io import read_tracks
    from stablemotion_dlc.evaluate.real_errors import truth_from_reference

    args.out.mkdir(parents=True, exist_ok=True)
    if args.sample:
        from stablemotion_dlc.sample import make_sample_project

        proj = args.out / f"sample_{args.sample:g}s"
        if not proj.exists():
            make_sample_project(proj, seed=0, duration_s=args.sample, video=False,
                                progress=False)
        weak_path = next((proj / "videos").glob("*.h5"))
        truth_path = next((proj / "ground_truth").glob("*_truth.h5"))
        weak = read_tracks(weak_path)
        ref = read_tracks(truth_path)
        truth = truth_from_reference(ref.xy, np.ones(ref.xy.shape[:3]), source=str(truth_path))
    else:
        weak_path = args.data / WEAK
        if not weak_path.exists():
            raise SystemExit(f"{weak_path} not found")
        weak = read_tracks(weak_path)
        strong = read_tracks(args.data / STRONG)
        truth = truth_from_reference(strong.xy, strong.likelihood, source=STRONG)
    rows = []
    for name in args.configs:
        row = run_recipe(name, RECIPES[name], weak, truth, args.out, args.pcutoff,
                         reuse=args.reuse)
        rows.append(row)
        s = row["score"]
        net = {b: v["network"] for b, v in row["validation"].items()}
        trained = ("model reused" if row["train_wall_s"] is None else
                   f"train {row['train_wall_s']:.1f} s wall, {row['train_cpu_s']:.1f} s CPU, "
                   f"{row['steps_per_s']:.1f} steps/s")
        print(f"{name}: {trained}; load {row['load_before']} -> "
              f"{row['load_after']}; " + ", ".join(f"{k} {v:.4g}" for k, v in s.items()
                                                   if isinstance(v, float))
              + f"; network validation RMSE {net}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "cpus": os.cpu_count(),
                                         "weak": str(weak_path), "rows": rows}, indent=1,
                                        default=lambda o: o.item()
                                        if isinstance(o, np.generic) else str(o)))


if __name__ == "__main__":
    main()
