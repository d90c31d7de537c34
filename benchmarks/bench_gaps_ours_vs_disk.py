"""Ours vs DISK vs linear interpolation on the identical hidden gaps of ``bench_disk.py``.

``bench_disk.py`` hid seeded gaps (1-3, 4-10, 11-30, 31-100 frames, one keypoint at a time,
inside confident stretches) in four real files and filled them with DISK (120 CPU s of
training per file) and linear interpolation; ``docs/benchmarks/disk.json`` lists every gap and
seed. This script rebuilds the same gaps with ``make_gap_benchmark`` (checked against the
listed ones), trains our model on the gappy file with a comparable CPU budget, repairs exactly
the hidden points (``clean_tracks(..., flag_mask=gaps)``: detection is solved, this compares
repairs) and adds our figures to DISK's.

Usage::

    python benchmarks/bench_gaps_ours_vs_disk.py --train-steps 300 --out docs/benchmarks
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from stablemotion_dlc.dlc.constants import DEFAULT_PCUTOFF
from stablemotion_dlc.dlc.io import read_tracks
from stablemotion_dlc.dlc.pipeline import clean_tracks, train_on_tracks
from stablemotion_dlc.evaluate.disk_baseline import gap_rmse_by_bin, make_gap_benchmark

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PCUTOFF = DEFAULT_PCUTOFF


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--disk-json", type=Path, default=Path("docs/benchmarks/disk.json"))
    ap.add_argument("--train-steps", type=int, default=300)
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/stablemotion_gaps"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    disk = json.loads(args.disk_json.read_text())
    args.work.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict] = {}
    pooled: dict[str, dict[str, list[float]]] = {}
    for rel, d in disk["files"].items():
        path = args.data / rel
        if not path.exists():
            continue
        tracks = read_tracks(path)
        xy = np.asarray(tracks.xy, np.float64)
        ok = np.asarray(tracks.likelihood) >= PCUTOFF
        gappy, mask, gaps = make_gap_benchmark(xy, ok, d["seed"], d["n_per_bin"])
        listed = [(g["keypoint"], g["start"], g["length"]) for g in d["gaps"]]
        if listed != [(int(g["keypoint"]), int(g["start"]), int(g["length"])) for g in gaps]:
            raise SystemExit(f"{rel}: the rebuilt gaps differ from disk.json")
        t_frames, n_i, n_k = xy.shape[:3]
        hidden = mask.reshape(t_frames, n_i, n_k)
        g_tracks = tracks.copy()
        g_tracks.xy = gappy.reshape(xy.shape)
        model = args.work / (path.stem + ".safetensors")
        t0 = time.perf_counter()
        train_on_tracks([g_tracks], model, steps=args.train_steps, progress=False,
                        overwrite=True, resume=False)
        train_s = time.perf_counter() - t0
        res = clean_tracks(g_tracks, model, flag_mask=hidden, fix_swaps=False, max_gap=None)
        ours = res.tracks.xy.reshape(t_frames, -1, 2)
        truth = xy.reshape(t_frames, -1, 2)
        row = {"ours": gap_rmse_by_bin(ours, truth, gaps), "disk": d.get("disk"),
               "linear": d["linear"], "train_s": round(train_s, 1),
               "repair": res.report.get("repair")}
        rows[rel] = row
        for method in ("ours", "disk", "linear"):
            for b, v in (row[method] or {}).items():
                acc = pooled.setdefault(method, {}).setdefault(b, [0.0, 0])
                acc[0] += v.get("sse", 0.0)
                acc[1] += v.get("n_points", 0)
        print(rel, {m: {b: round(v["rmse"], 1) for b, v in (row[m] or {}).items()}
                    for m in ("ours", "disk", "linear")})
    table = {m: {b: (float(np.sqrt(s / n)) if n else None) for b, (s, n) in bins.items()}
             for m, bins in pooled.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gaps_ours_vs_disk.json").write_text(json.dumps(
        {"train_steps": args.train_steps, "files": rows, "pooled": table}, indent=1,
        default=float))
    bins = ["1-3", "4-10", "11-30", "31-100", "all"]
    lines = ["# Gap filling on identical hidden gaps: ours vs DISK vs linear interpolation", "",
             f"Gaps of `bench_disk.py` (rebuilt and checked); ours trained {args.train_steps} "
             "steps on the gappy file (1 thread), then only the hidden points repaired "
             "(`flag_mask`); DISK 120 CPU s of training per file. Pooled RMSE (px) over the "
             "four files:", "", "| method | " + " | ".join(bins) + " |",
             "|---|" + "---|" * len(bins)]
    for m in ("ours", "disk", "linear"):
        lines.append(f"| {m} | " + " | ".join(
            "-" if table.get(m, {}).get(b) is None else f"{table[m][b]:.1f}" for b in bins)
            + " |")
    lines += ["", "Rerun: `python benchmarks/bench_gaps_ours_vs_disk.py --out docs/benchmarks`",
              ""]
    (args.out / "gaps_ours_vs_disk.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
