"""What smoothing every point would buy on protocol B's jitter, and what it costs right points.

The classical pipelines (a median filter, Savitzky-Golay, EKS) change every point, so on
protocol B's ``jitter`` kind they also smooth the bursts no detector can tell from the
keypoint's own noise. The cleaner changes only what it finds wrong. This benchmark measures the
trade on real files: protocol B injects *only* jitter events (``corrupt_independent(...,
kinds=["jitter"])``, sigma 1-4 px, 20-200 frames), every other point keeps its truth, and each
smoother runs over every confident point (runs of confident frames at least a window long).
Reported: RMSE on the jittered points, and the share of the untouched confident points moved by
more than 2 px (protocol B's "moved" target is <= 1 %).

``clip`` variants bound each point's change by a multiple of its keypoint's own per-axis noise
(the median second difference over ``LEVEL_PER_SIGMA``, as the cleaner measures it), the most a
change could be while staying inside what the file's own noise explains: the product's
``stablemotion-dlc smooth`` (:mod:`stablemotion_dlc.dlc.denoise`).

Run (about 10 s per file)::

    python benchmarks/bench_jitter_smoothing.py --out docs/benchmarks/jitter_smoothing.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_protocol import DEFAULT_DATA, FILES  # noqa: E402

TUNING = [name for name, _, split in FILES if split == "tuning"]
#: (label, kind, window, polynomial order or None, clip in keypoint sigmas or None)
SMOOTHERS: list[tuple[str, str, int, int | None, float | None]] = [
    ("median 5", "median", 5, None, None),
    ("Savitzky-Golay 5 / 2", "savgol", 5, 2, None),
    ("Savitzky-Golay 7 / 3", "savgol", 7, 3, None),
    ("Savitzky-Golay 9 / 3", "savgol", 9, 3, None),
    ("Savitzky-Golay 7 / 2, change <= 1 sigma", "savgol", 7, 2, 1.0),
    ("Savitzky-Golay 7 / 2, change <= 2 sigma", "savgol", 7, 2, 2.0),
]
MOVED_PX = 2.0


def keypoint_sigma(xy: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``(I, K)`` each keypoint's own per-axis noise, as the cleaner's jitter detector reads it."""
    from stablemotion_dlc.dlc.jitter import noise_sigma

    return np.stack([noise_sigma(xy[:, i], ok[:, i]) for i in range(xy.shape[1])])


def smooth_all(xy: np.ndarray, ok: np.ndarray, kind: str, window: int, order: int | None,
               clip: float | None) -> np.ndarray:
    """Every run of ``ok`` frames of every keypoint, at least ``window`` long, smoothed.

    With ``clip``, the product's own :func:`~stablemotion_dlc.dlc.denoise.denoise_within_noise`
    (``stablemotion-dlc smooth``), which measures ``sigma`` the same way.
    """
    from scipy.ndimage import median_filter
    from scipy.signal import savgol_filter

    from stablemotion_dlc._arrays import true_runs
    from stablemotion_dlc.dlc.denoise import denoise_within_noise

    out = xy.copy()
    _, n_i, n_k, _ = xy.shape
    if clip is not None:
        for i in range(n_i):
            out[:, i] = denoise_within_noise(xy[:, i], ok[:, i], window=window,
                                             order=order or 2, bound=clip)[0]
        return out
    for i in range(n_i):
        for k in range(n_k):
            for a, b in zip(*true_runs(ok[:, i, k]), strict=True):
                if b - a < window:
                    continue
                seg = xy[a:b, i, k]
                sm = (median_filter(seg, size=(window, 1), mode="nearest") if kind == "median"
                      else savgol_filter(seg, window, order, axis=0, mode="interp"))
                out[a:b, i, k] = sm
    return out


def run_file(name: str, rel: str, seed: int, max_frames: int) -> dict[str, Any]:
    """One file and corruption seed: every smoother's figures."""
    from stablemotion_dlc.dlc.io import read_tracks
    from stablemotion_dlc.evaluate.protocol import corrupt_independent

    tracks = read_tracks(DEFAULT_DATA / rel)
    if max_frames and tracks.n_frames > max_frames:
        tracks = tracks.select(frames=slice(0, max_frames))
    case = corrupt_independent(tracks.xy, tracks.likelihood, seed=seed, rate=0.05,
                               kinds=["jitter"], individuals=tracks.individuals)
    jit = case.corrupted
    ok = case.confident & np.isfinite(case.xy).all(-1)
    untouched = ok & ~jit
    sigma = keypoint_sigma(case.xy, ok)
    row: dict[str, Any] = {"file": name, "seed": seed, "jittered": int(jit.sum()),
                           "untouched": int(untouched.sum()),
                           "sigma_median_px": float(np.median(sigma)), "methods": {}}

    def score(pred: np.ndarray) -> dict[str, float]:
        err = np.linalg.norm(pred - case.truth_xy, axis=-1)
        return {"jitter_rmse": float(np.sqrt(np.mean(err[jit] ** 2))),
                "moved": float(np.mean(err[untouched] > MOVED_PX))}

    row["methods"]["input"] = score(case.xy)
    for label, kind, window, order, clip in SMOOTHERS:
        row["methods"][label] = score(smooth_all(case.xy, ok, kind, window, order, clip))
    return row


def markdown(rows: list[dict[str, Any]]) -> str:
    """The report: per file and seed, jitter RMSE (x input) and untouched points moved."""
    labels = ["input", *[s[0] for s in SMOOTHERS]]
    out = ["# Smoothing every point: protocol B's jitter against right points moved", "",
           "Written by `benchmarks/bench_jitter_smoothing.py` (see its docstring). Only jitter "
           "events are injected (5 % of the confident points, sigma 1-4 px, 20-200 frames); "
           "each cell is *jittered points' RMSE in px (x the input's)* / *untouched confident "
           "points moved > 2 px*. sigma = the file's median keypoint noise per axis.", "",
           "| file, seed (sigma) | " + " | ".join(labels) + " |",
           "|---|" + "---|" * len(labels)]
    for r in rows:
        base = r["methods"]["input"]["jitter_rmse"]
        cells = [f"{m['jitter_rmse']:.2f} ({m['jitter_rmse'] / base:.2f}x) / "
                 f"{100 * m['moved']:.2f} %" for m in (r["methods"][lb] for lb in labels)]
        out.append(f"| {r['file']}, {r['seed']} ({r['sigma_median_px']:.2f} px) | "
                   + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", default=",".join(TUNING),
                    help="comma-separated names of bench_protocol.FILES (default: tuning)")
    ap.add_argument("--seeds", default="0,1,2", help="corruption seeds")
    ap.add_argument("--max-frames", type=int, default=3000)
    ap.add_argument("--out", type=Path, help="markdown report (a .json twin beside it)")
    args = ap.parse_args(argv)
    wanted = args.files.split(",")
    paths = {name: rel for name, rel, _ in FILES}
    missing = [w for w in wanted if w not in paths]
    if missing:
        ap.error(f"unknown files {missing}; known: {sorted(paths)}")
    if not DEFAULT_DATA.exists():
        print(f"no shared data at {DEFAULT_DATA}; nothing to measure")
        return 0
    rows = [run_file(name, paths[name], int(seed), args.max_frames)
            for name in wanted for seed in args.seeds.split(",")]
    text = markdown(rows)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
