"""Benchmark DLC file I/O: read and write of a 100,000-frame, 3-animal x 12-keypoint file.

Run::

    PYTHONPATH=. python benchmarks/bench_io.py [--frames 100000] [--repeats 3] [--json out.json]

Prints the best-of-N wall time of :func:`read_tracks` and :func:`write_tracks` for ``.h5``
(the target: read under 1 s) and ``.csv``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from stablemotion_dlc.dlc.io import read_tracks, write_tracks
from stablemotion_dlc.dlc.tracks import Tracks


def make_tracks(n_frames: int, n_animals: int = 3, n_keypoints: int = 12, seed: int = 0
                ) -> Tracks:
    """Random-walk tracks with 5 % missing points (reproducible)."""
    rng = np.random.default_rng(seed)
    xy = 300 + np.cumsum(rng.normal(0, 2, (n_frames, n_animals, n_keypoints, 2)), axis=0)
    lik = rng.uniform(0, 1, (n_frames, n_animals, n_keypoints))
    miss = rng.random((n_frames, n_animals, n_keypoints)) < 0.05
    xy[miss] = np.nan
    lik[miss] = np.nan
    return Tracks.from_arrays(xy, lik, bodyparts=[f"kp{k}" for k in range(n_keypoints)],
                              individuals=[f"animal{i}" for i in range(n_animals)],
                              scorer="DLC_Resnet50_benchJan1shuffle1_snapshot_200")


def best_of(fn, repeats: int) -> float:
    """Best wall time of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    """Run the benchmark and print (optionally save) the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--formats", default="h5,csv", help="comma-separated: h5, csv")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    tracks = make_tracks(args.frames)
    results: dict[str, float | int] = {"frames": args.frames, "animals": 3, "keypoints": 12}
    with tempfile.TemporaryDirectory() as tmp:
        for ext in [f".{f.strip()}" for f in args.formats.split(",") if f.strip()]:
            path = Path(tmp) / f"bench{ext}"
            write_s = best_of(lambda p=path: write_tracks(tracks, p, overwrite=True),
                              args.repeats)
            read_s = best_of(lambda p=path: read_tracks(p), args.repeats)
            back = read_tracks(path)
            same = back.xy.tobytes() == tracks.xy.tobytes()
            results[f"write{ext}_s"] = round(write_s, 4)
            results[f"read{ext}_s"] = round(read_s, 4)
            results[f"size{ext}_MB"] = round(path.stat().st_size / 1e6, 2)
            print(f"{ext:5s} write {write_s:7.3f} s  read {read_s:7.3f} s  "
                  f"size {path.stat().st_size / 1e6:7.1f} MB  round-trip identical: {same}")
    if "read.h5_s" in results:
        target = "OK" if results["read.h5_s"] < 1.0 else "MISSED"
        print(f"target: h5 read < 1 s for {args.frames} frames x 3 x 12 -> {target}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
