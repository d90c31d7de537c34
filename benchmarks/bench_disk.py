"""DISK (learned gap-filler, Rose et al. 2025) vs linear interpolation on identical hidden gaps.

Run (DISK installed in its own venv, see ``stablemotion_dlc/evaluate/disk_baseline.py``)::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_disk.py \
        [--data ../shared/data] [--budget-s 120] [--out docs/benchmarks]

For each real DLC file: the points with likelihood >= 0.6 are the truth (the rest is NaN and
not scored); :func:`~stablemotion_dlc.evaluate.disk_baseline.make_gap_benchmark` hides seeded
gaps of 1-3, 4-10, 11-30 and 31-100 frames on one keypoint at a time inside confident
stretches (``n_per_bin`` per bin, fewer on short files); DISK is trained on the same file with
the gaps hidden (``--budget-s`` seconds of training on one CPU thread) and fills them, as does
linear interpolation. Reported: RMSE (pixels) per gap-length bin, per file and pooled over the
files, in ``disk.json`` and ``disk.md``. The JSON lists every hidden gap so another method can
be scored on the identical gaps (or call ``make_gap_benchmark`` with the same seed).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np

from stablemotion_dlc.dlc.constants import DEFAULT_PCUTOFF
from stablemotion_dlc.dlc.io import read_tracks
from stablemotion_dlc.evaluate.disk_baseline import (
    GAP_BINS,
    fill_gaps_disk,
    gap_rmse_by_bin,
    linear_fill,
    make_gap_benchmark,
)

REPO = Path(__file__).resolve().parents[1]
LOG = logging.getLogger("bench_disk")

FILES = (
    "openfield_m3v1/m3v1mp4DLC_resnet50_openfieldAug20shuffle1_30000.h5",
    "deepof/testDLC_square_arena.h5",
    "bsoid/raw_clip1DLC_resnet50_OpenFieldHighResApr8shuffle1_1030000.h5",
    "behaviordepot/demo1_tracking.csv",
)
PCUTOFF = DEFAULT_PCUTOFF
METHODS = ("disk", "linear")


def _default_data() -> Path:
    env = os.environ.get("STABLEMOTION_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def n_gaps_for(n_frames: int, cap: int) -> int:
    """Gaps per bin: one per 500 frames, between 1 and ``cap``.

    DISK trains only on fully observed windows (~130 frames here), so hiding many gaps in a
    short file would leave it nothing to train on.
    """
    return int(np.clip(n_frames // 500, 1, cap))


def run_file(path: Path, seed: int, budget_s: float, cap: int) -> dict:
    """Hide gaps in one file, fill them with DISK and linear interpolation, score per bin."""
    tracks = read_tracks(path)
    xy = np.asarray(tracks.xy, dtype=np.float64)
    ok = np.asarray(tracks.likelihood) >= PCUTOFF
    n_frames = xy.shape[0]
    truth = xy.reshape(n_frames, -1, 2)
    n_per_bin = n_gaps_for(n_frames, cap)
    gappy, mask, gaps = make_gap_benchmark(xy, ok, seed, n_per_bin)
    res: dict = {"frames": n_frames, "keypoints": truth.shape[1], "n_per_bin": n_per_bin,
                 "seed": seed, "gaps": [dict(zip(gaps.dtype.names, map(int, g)))
                                        for g in gaps]}
    preds = {"linear": linear_fill(gappy)}
    info: dict = {}
    t0 = time.perf_counter()
    try:
        preds["disk"] = fill_gaps_disk(gappy, gappy, fps=None, budget_s=budget_s, seed=seed,
                                       info=info)
        res["disk_info"] = info
    except RuntimeError as exc:  # reported, not hidden: DISK's exact error
        LOG.error("DISK failed on %s: %s", path.name, exc)
        res["disk_error"] = str(exc)
    res["disk_wall_s"] = round(time.perf_counter() - t0, 1)
    for name, pred in preds.items():
        assert np.array_equal(pred[~mask & ok.reshape(mask.shape)],
                              gappy[~mask & ok.reshape(mask.shape)])
        res[name] = gap_rmse_by_bin(pred, truth, gaps)
    return res


def pooled(results: dict) -> dict:
    """Pool the per-file sums of squared errors into one RMSE per bin and method."""
    out: dict = {}
    keys = [f"{lo}-{hi}" for lo, hi in GAP_BINS] + ["all"]
    for m in METHODS:
        files = [r for r in results.values() if m in r]
        if not files:
            continue
        out[m] = {}
        for key in keys:
            sse = sum(r[m][key]["sse"] for r in files)
            n = sum(r[m][key]["n_points"] for r in files)
            out[m][key] = {"rmse": float(np.sqrt(sse / n)) if n else float("nan"),
                           "n_gaps": sum(r[m][key]["n_gaps"] for r in files),
                           "n_points": n}
    # linear on the same files as DISK, for a like-for-like pooled ratio
    both = [r for r in results.values() if "disk" in r]
    out["linear_on_disk_files"] = {
        key: float(np.sqrt(sum(r["linear"][key]["sse"] for r in both)
                           / max(1, sum(r["linear"][key]["n_points"] for r in both))))
        for key in keys}
    return out


def markdown(report: dict) -> str:
    """The markdown table of ``disk.md``."""
    keys = [f"{lo}-{hi}" for lo, hi in GAP_BINS] + ["all"]
    lines = [
        "# DISK vs linear interpolation on hidden gaps",
        "",
        "Made by: `OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_disk.py "
        f"--budget-s {report['budget_s']:.0f} --out docs/benchmarks` (DISK in its own venv, "
        "`/root/.cache/disk-venv`; see `stablemotion_dlc/evaluate/disk_baseline.py`).",
        "",
        "DISK (Rose et al., Nature Methods 2025; `disk-impute` "
        f"{report['disk_version']}) is trained on each file with the gaps hidden, "
        f"{report['budget_s']:.0f} CPU seconds of training on one thread "
        f"({report['network']}); gaps of 1-3, 4-10, 11-30 and 31-100 frames are hidden on one "
        "keypoint at a time inside confident stretches (likelihood >= 0.6 is the truth), "
        "seeded (`make_gap_benchmark`). RMSE in pixels over the hidden points "
        "(n = gaps / points). Produced by `benchmarks/bench_disk.py`; every gap is listed in "
        "`disk.json`.",
        "",
        "| file | method | " + " | ".join(f"{k} frames" if k != "all" else "all gaps"
                                         for k in keys) + " |",
        "|---|---|" + "---|" * len(keys),
    ]
    for fname, r in report["files"].items():
        short = fname.split("/")[0]
        for m in METHODS:
            if m not in r:
                lines.append(f"| {short} | {m} | " + " | ".join("failed" for _ in keys) + " |")
                continue
            cells = [f"{r[m][k]['rmse']:.2f} ({r[m][k]['n_gaps']}/{r[m][k]['n_points']})"
                     for k in keys]
            lines.append(f"| {short} | {m} | " + " | ".join(cells) + " |")
    for m in METHODS:
        if m in report["pooled"]:
            p = report["pooled"][m]
            cells = [f"**{p[k]['rmse']:.2f}** ({p[k]['n_gaps']}/{p[k]['n_points']})"
                     for k in keys]
            lines.append(f"| pooled | {m} | " + " | ".join(cells) + " |")
    lines += ["", "DISK cost per file (one thread; train CPU s is the budgeted quantity, wall "
              "seconds depend on the machine's load):", "",
              "| file | window (frames) | train windows | train CPU s (wall s) | steps | epochs | "
              "prep s | impute s | gaps imputed / all NaN runs | points left to linear |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for fname, r in report["files"].items():
        i = r.get("disk_info")
        if i is None:
            lines.append(f"| {fname.split('/')[0]} | DISK failed: "
                         f"`{r.get('disk_error', '?').splitlines()[-1]}` ||||||||")
            continue
        lines.append(
            f"| {fname.split('/')[0]} | {i['length']} | {i['n_train_windows']} | "
            f"{i['train_cpu_s']:.0f} ({i['train_s']:.0f}) | {i['steps']} | {i['epochs']} | "
            f"{i['prep_s']:.0f} | "
            f"{i['impute_s']:.1f} | {i['n_gaps_imputed']} / {i['n_gaps']} | "
            f"{i['n_points_fallback']} |")
    errors = {f: r["disk_error"] for f, r in report["files"].items() if "disk_error" in r}
    if errors:
        lines += ["", "DISK errors (exact):", ""]
        for f, e in errors.items():
            lines += [f"- `{f}`:", "", "```", e, "```"]
    lines += ["", f"Machine: {report['machine']}; total wall time {report['wall_s']:.0f} s.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write ``disk.json`` / ``disk.md``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=_default_data())
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks")
    ap.add_argument("--budget-s", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cap", type=int, default=10, help="max gaps per bin and file")
    ap.add_argument("--files", nargs="*", default=list(FILES))
    ap.add_argument("--update", action="store_true",
                    help="rerun only --files and keep the other files' results of "
                         "OUT/disk.json")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    t0 = time.perf_counter()
    results: dict = {}
    wall_before = 0.0
    if args.update and (args.out / "disk.json").exists():
        old = json.loads((args.out / "disk.json").read_text())
        results = old["files"]
        wall_before = old.get("wall_s", 0.0)
    for f in args.files:
        i = FILES.index(f) if f in FILES else len(FILES) + args.files.index(f)
        LOG.info("%s", f)
        results[f] = run_file(args.data / f, args.seed + i, args.budget_s, args.cap)
        for m in METHODS:
            if m in results[f]:
                LOG.info("  %s: %s", m, {k: round(v["rmse"], 2)
                                         for k, v in results[f][m].items()})
    infos = [r["disk_info"] for r in results.values() if "disk_info" in r]
    report = {
        "budget_s": args.budget_s, "pcutoff": PCUTOFF, "bins": GAP_BINS,
        "disk_version": infos[0]["disk_version"] if infos else "not run",
        "network": (f"{infos[0]['network']} {infos[0]['network_config']}" if infos
                    else "n/a"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, OMP_NUM_THREADS="
                   f"{os.environ.get('OMP_NUM_THREADS', 'unset')}",
        "files": results, "pooled": pooled(results),
        "wall_s": round(wall_before + time.perf_counter() - t0, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "disk.json").write_text(json.dumps(report, indent=1, default=float) + "\n")
    (args.out / "disk.md").write_text(markdown(report))
    LOG.info("wrote %s and %s", args.out / "disk.json", args.out / "disk.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
