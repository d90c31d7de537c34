"""Benchmark of the suspect-keypoint rules and of identity / left-right swap detection.

Prints (and optionally writes as JSON) three tables:

1. Simulated mice with known corruption (:mod:`stablemotion_dlc.sample.simulate`): per rule, the
   precision (share of flagged points that are corrupted) and the recall per corruption kind.
   Identity swaps: frame-level precision/recall of :func:`find_identity_swaps` and the error
   before/after :func:`fix_identity_swaps`. When the simulator is missing, corruption is
   injected into confident stretches of a real file instead.
2. False-flag rate of each rule on near-clean real DLC files (share of present, non-missing
   points flagged).
3. openfield_m3v1: the early DeepCut 15001 model against the Aug20 30k reference; points more
   than 20 px from the reference count as errors (proxy truth).
4. Speed of each rule on 100k frames.

Usage::

    PYTHONPATH=. python benchmarks/bench_labels.py [--data ../shared/data] [--frames 9000]
        [--seeds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from stablemotion_dlc.dlc.identity import find_identity_swaps, fix_identity_swaps
from stablemotion_dlc.dlc.io import read_tracks
from stablemotion_dlc.dlc.labels import ALL_RULES, REASON_NAMES, suspect_mask
from stablemotion_dlc.dlc.tracks import Tracks

RULE_BITS = {v: k for k, v in REASON_NAMES.items()}
CLEAN_FILES = [
    "openfield_m3v1/m3v1mp4DLC_resnet50_openfieldAug20shuffle1_30000.h5",
    "deepof/testDLC_square_arena.h5",
    "behaviordepot/demo1_tracking.csv",
    "bsoid/raw_clip1DLC_resnet50_OpenFieldHighResApr8shuffle1_1030000.h5",
]
OPENFIELD_NOISY = "openfield_m3v1/m3v1mp4DeepCut_resnet50_openfieldOct30shuffle1_15001.h5"
OPENFIELD_REF = "openfield_m3v1/m3v1mp4DLC_resnet50_openfieldAug20shuffle1_30000.h5"


def _pr(flag: np.ndarray, truth: np.ndarray) -> tuple[float, float, int]:
    tp = int((flag & truth).sum())
    nf = int(flag.sum())
    nt = int(truth.sum())
    return (tp / nf if nf else float("nan")), (tp / nt if nt else float("nan")), nf


def simulated(n_frames: int, seeds: int, n_animals: int) -> dict:
    """Per-rule precision and per-kind recall on simulated data."""
    from stablemotion_dlc.dlc.corruption import CORRUPTION_KINDS, KIND_CODES
    from stablemotion_dlc.sample import simulate as sim

    kinds = ("clean", *CORRUPTION_KINDS)  # indexed by code
    acc: dict = {"n_animals": n_animals, "rules": {}, "kind_points": {}}
    flags_all: dict[str, list] = {r: [] for r in (*ALL_RULES, "any")}
    codes_all = []
    id_stats = []
    for seed in range(seeds):
        rng = np.random.default_rng(1000 * n_animals + seed)
        truth = sim.simulate_animals(n_frames, n_animals, 30.0, 640, 480, rng)
        xy, lik, code = sim.corrupt_predictions(truth, rng, fps=30.0)
        names = [f"mouse{i + 1}" for i in range(n_animals)] if n_animals > 1 else None
        tr = Tracks.from_arrays(xy, lik, bodyparts=list(sim.BODYPARTS), individuals=names)
        labels = suspect_mask(tr, skeleton=list(sim.SKELETON))
        for r in ALL_RULES:
            flags_all[r].append(labels.reason_mask(r))
        flags_all["any"].append(labels.mask)
        codes_all.append(code)
        if n_animals > 1:
            ev = find_identity_swaps(tr)
            swapped_frames = np.zeros(n_frames, dtype=bool)
            for e in ev:
                swapped_frames[e.start : e.stop] = True
            true_frames = (code == KIND_CODES["identity_swap"]).any((1, 2))
            fixed, _ = fix_identity_swaps(tr, ev)
            err_before = np.nanmean(np.linalg.norm(tr.xy - truth, axis=-1)[true_frames])
            err_after = np.nanmean(np.linalg.norm(fixed.xy - truth, axis=-1)[true_frames])
            id_stats.append((swapped_frames, true_frames, err_before, err_after, len(ev)))
    code = np.concatenate(codes_all)
    bad = code != 0
    for r, fl in flags_all.items():
        f = np.concatenate(fl)
        p, _, nf = _pr(f, bad)
        rec = {kinds[c]: float((f & (code == c)).sum() / max(1, (code == c).sum()))
               for c in range(1, len(kinds)) if (code == c).any()}
        fpr = float((f & ~bad).sum() / max(1, (~bad).sum()))
        acc["rules"][r] = {"precision": p, "n_flagged": nf, "recall_by_kind": rec,
                           "false_flag_rate_on_clean_points": fpr}
    acc["kind_points"] = {kinds[c]: int((code == c).sum()) for c in range(len(kinds))}
    if id_stats:
        sf = np.concatenate([s[0] for s in id_stats])
        tf = np.concatenate([s[1] for s in id_stats])
        p, rcl, _ = _pr(sf, tf)
        acc["identity"] = {
            "frame_precision": p,
            "frame_recall": rcl,
            "events": int(sum(s[4] for s in id_stats)),
            "true_swap_frames": int(tf.sum()),
            "mean_err_px_on_swap_frames_before": float(np.nanmean([s[2] for s in id_stats])),
            "mean_err_px_on_swap_frames_after": float(np.nanmean([s[3] for s in id_stats])),
        }
    return acc


def real_injected(data: Path, seed: int = 0, rate: float = 0.03) -> dict:
    """Per-rule precision and per-kind recall on near-clean real files with injected errors.

    Uses :func:`stablemotion_dlc.dlc.corruption.inject_corruption` (the project's benchmark
    protocol). Flags on points that were not injected count as false, including any real error
    already in the file, so precision is a lower bound.
    """
    from stablemotion_dlc.dlc.corruption import KIND_CODES, inject_corruption

    names = {v: k for k, v in KIND_CODES.items()}
    flags: dict[str, list] = {r: [] for r in (*ALL_RULES, "any")}
    codes = []
    for j, rel in enumerate(CLEAN_FILES):
        path = data / rel
        if not path.exists():
            continue
        tr = read_tracks(path)
        rng = np.random.default_rng(seed + j)
        kinds = [k for k in ("jitter_burst", "low_likelihood", "jump_bodypart",
                             "jump_background", "lr_swap", "dropout", "frozen")
                 if k in KIND_CODES]
        cor = inject_corruption(tr.xy, tr.likelihood, rng, kinds=kinds, rate=rate,
                                max_len=40, bodyparts=tr.bodyparts)
        ct = Tracks(xy=cor.xy, likelihood=cor.likelihood, bodyparts=tr.bodyparts,
                    individuals=tr.individuals, scorer=tr.scorer, index=tr.index,
                    present=tr.present, multianimal=tr.multianimal, meta={})
        labels = suspect_mask(ct)
        valid = tr.present[None] & np.isfinite(tr.xy).all(-1)
        for r in ALL_RULES:
            flags[r].append(labels.reason_mask(r)[valid])
        flags["any"].append(labels.mask[valid])
        codes.append(cor.kinds[valid])
    if not codes:
        return {}
    code = np.concatenate(codes)
    bad = code != 0
    out: dict = {"kind_points": {names[c]: int((code == c).sum()) for c in np.unique(code)
                                 if c != 0}}
    for r, fl in flags.items():
        f = np.concatenate(fl)
        p, _, nf = _pr(f, bad)
        rec = {names[c]: float((f & (code == c)).sum() / (code == c).sum())
               for c in np.unique(code) if c != 0}
        out[r] = {"precision": p, "n_flagged": nf, "recall_by_kind": rec}
    return out


def false_flags(data: Path) -> dict:
    """Share of present, non-missing points flagged by each rule on near-clean real files."""
    out = {}
    for rel in CLEAN_FILES:
        path = data / rel
        if not path.exists():
            continue
        tr = read_tracks(path)
        t0 = time.perf_counter()
        labels = suspect_mask(tr)
        dt = time.perf_counter() - t0
        valid = np.isfinite(tr.xy).all(-1) & tr.present[None]
        row = {r: float((labels.reason_mask(r) & valid).sum() / valid.sum()) for r in ALL_RULES}
        geo = labels.mask & ~labels.reason_mask("low_likelihood") & ~labels.reason_mask("missing")
        row["any_geometric"] = float(geo.sum() / valid.sum())
        row["seconds"] = dt
        row["shape"] = list(tr.xy.shape[:3])
        out[rel] = row
    return out


def openfield_proxy(data: Path, px: float = 20.0) -> dict:
    """Rules on the early openfield model; points > ``px`` from the 30k reference are errors."""
    noisy, ref = data / OPENFIELD_NOISY, data / OPENFIELD_REF
    if not (noisy.exists() and ref.exists()):
        return {}
    tn, tr = read_tracks(noisy), read_tracks(ref)
    err = np.linalg.norm(tn.xy - tr.xy, axis=-1) > px
    out: dict = {"error_points": int(err.sum()), "points": int(err.size)}
    for pc in (0.6, 0.4):
        labels = suspect_mask(tn, pc)
        res = {}
        for r in (*ALL_RULES, "any"):
            f = labels.mask if r == "any" else labels.reason_mask(r)
            p, rcl, nf = _pr(f, err)
            res[r] = {"precision": p, "recall": rcl, "n_flagged": nf}
        out[f"pcutoff={pc}"] = res
    return out


def speed(n_frames: int = 100_000) -> dict:
    """Seconds per rule on ``n_frames`` frames of one simulated 10-keypoint mouse."""
    try:
        from stablemotion_dlc.sample import simulate as sim

        rng = np.random.default_rng(0)
        truth = sim.simulate_animals(2000, 1, 30.0, 640, 480, rng)
        xy, lik, _ = sim.corrupt_predictions(truth, rng)
        bps = list(sim.BODYPARTS)
    except ImportError:
        rng = np.random.default_rng(0)
        xy = np.cumsum(rng.normal(size=(2000, 1, 10, 2)), 0) + 200
        lik = rng.uniform(0.5, 1, (2000, 1, 10))
        bps = [f"kp{i}" for i in range(10)]
    reps = n_frames // xy.shape[0]
    tr = Tracks.from_arrays(np.tile(xy, (reps, 1, 1, 1)), np.tile(lik, (reps, 1, 1)),
                            bodyparts=bps)
    out = {}
    for r in ALL_RULES:
        t0 = time.perf_counter()
        suspect_mask(tr, rules=(r,))
        out[r] = time.perf_counter() - t0
    t0 = time.perf_counter()
    suspect_mask(tr)
    out["all"] = time.perf_counter() - t0
    return out


def _fmt(x: float) -> str:
    return "  -  " if x != x else f"{x:5.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path,
                    default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--frames", type=int, default=9000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    report: dict = {}
    try:
        for n in (1, 2, 3):
            report[f"simulated_{n}"] = simulated(args.frames, args.seeds, n)
    except ImportError as exc:
        print(f"simulator not available ({exc}); skipped simulated benchmark")
    for key in ("simulated_1", "simulated_2", "simulated_3"):
        if key not in report:
            continue
        res = report[key]
        kinds = [k for k in res["kind_points"] if k != "clean"]
        print(f"\n== {key}: precision / recall per kind "
              f"({args.seeds} x {args.frames} frames, {res['n_animals']} animal(s))")
        print("rule            prec  fpr_clean " + " ".join(f"{k[:9]:>9}" for k in kinds))
        for r, v in res["rules"].items():
            print(f"{r:14s} {_fmt(v['precision'])}  {v['false_flag_rate_on_clean_points']:.4f}   "
                  + " ".join(f"{_fmt(v['recall_by_kind'].get(k, float('nan'))):>9}"
                             for k in kinds))
        print("points per kind:", res["kind_points"])
        if "identity" in res:
            print("identity swaps:", json.dumps(res["identity"]))
    if args.data.is_dir():
        report["false_flags"] = false_flags(args.data)
        print("\n== false-flag rate on near-clean real files (share of valid points)")
        for f, row in report["false_flags"].items():
            print(f"{f.split('/')[0]:16s} " + " ".join(
                f"{k}={row[k]:.4f}" for k in (*ALL_RULES, "any_geometric")
            ) + f"  ({row['seconds']:.2f}s)")
        report["real_injected"] = real_injected(args.data)
        res = report["real_injected"]
        if res:
            kinds = list(res["kind_points"])
            print("\n== near-clean real files with injected errors (inject_corruption, 3%)")
            print("rule            prec  " + " ".join(f"{k[:9]:>9}" for k in kinds))
            for r in (*ALL_RULES, "any"):
                v = res[r]
                print(f"{r:14s} {_fmt(v['precision'])}  " + " ".join(
                    f"{_fmt(v['recall_by_kind'].get(k, float('nan'))):>9}" for k in kinds))
            print("points per kind:", res["kind_points"])
        report["openfield_proxy"] = openfield_proxy(args.data)
        for key, res in report["openfield_proxy"].items():
            if not key.startswith("pcutoff"):
                continue
            print(f"\n== openfield 15001 vs 30k reference (>20 px = error), {key}; "
                  f"{report['openfield_proxy']['error_points']} error points")
            for r, v in res.items():
                print(f"{r:14s} prec {_fmt(v['precision'])} recall {_fmt(v['recall'])} "
                      f"n={v['n_flagged']}")
    report["speed_100k_s"] = speed()
    print("\n== seconds on 100k frames x 10 keypoints:",
          {k: round(v, 2) for k, v in report["speed_100k_s"].items()})
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=float))


if __name__ == "__main__":
    main()
