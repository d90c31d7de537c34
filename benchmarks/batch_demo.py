"""A whole experiment in one call: ``clean_h5(config, folder)`` on 20+ generated videos.

A sample project (one video in ``video_sets``) plus ``N`` rendered videos with their DLC
outputs in ``<project>/experiment/`` (outside ``video_sets``), no model yet. Then, timed:

1. ``clean_videos(config, folder)`` (the engine of ``clean_h5(config, folder)``, returning
   its report): one model trained first (on the experiment's outputs plus the project's own
   one, same scorer), every video cleaned, summary table;
2. ``clean_h5(config, folder)`` again: every output exists, every video is skipped, nothing
   is trained.

Small on purpose (short videos, few training steps): it shows the batch behaviour and its
costs, not cleaning quality (see docs/benchmarks/dlc_pipeline.md for that).

``python benchmarks/batch_demo.py [--videos 20] [--seconds 5] [--train-steps 200]``
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--videos", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=5.0, help="length of each video")
    ap.add_argument("--train-steps", type=int, default=200)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    import stablemotion_dlc as sm
    from stablemotion_dlc.dlc import pipeline as pl
    from stablemotion_dlc.sample import make_sample_experiment

    trainings = []
    real_train = pl.train_for_project

    def counted(*a, **k):  # count trainings; the call itself is unchanged
        trainings.append(len(a[1]))
        return real_train(*a, **k)

    pl.train_for_project = counted
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        exp = make_sample_experiment(Path(tmp) / "project", args.videos, seed=10,
                                     duration_s=args.seconds, progress=False)
        out["generate_s"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        first = sm.clean_videos(exp.project.config, exp.folder, train_steps=args.train_steps)
        out["first_call_s"] = round(time.perf_counter() - t0, 1)
        print(first.table())
        per_video = [o.seconds for o in first.cleaned]
        t0 = time.perf_counter()
        again = sm.clean_h5(exp.project.config, exp.folder, progress=False)  # the user's call
        out["second_call_s"] = round(time.perf_counter() - t0, 1)
        report = sm.clean_videos(exp.project.config, exp.folder, progress=False)
        out["second_call"] = {"outputs": len(again), "cleaned": len(report.cleaned),
                              "skipped": len(report.skipped), "failed": len(report.failed)}
        out.update({
            "videos": args.videos, "frames_per_video": exp.project.n_frames,
            "cleaned": len(first.cleaned), "failed": len(first.failed),
            "trainings": len(trainings), "trained_on_outputs": trainings[0] if trainings else 0,
            "train_steps": args.train_steps, "train_s": first.train_seconds,
            "per_video_s": {"median": round(statistics.median(per_video), 2),
                            "min": round(min(per_video), 2), "max": round(max(per_video), 2),
                            "sum": round(sum(per_video), 1)},
        })
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
