"""Clean every real DLC output in ../shared/data as a user would, and report the seed's metrics.

For each pose file (no injected errors): train a model on that file's own predictions, clean it
with the defaults, write the result with ``save_clean_result``, read it back the way DeepLabCut
does (a bare ``pandas.read_hdf``) and report acceleration reduction, trajectory correlation with
the input and mean displacement, plus how many points were changed.

Usage::

    python benchmarks/bench_real_files.py --data ../shared/data --out docs/benchmarks \
        --train-steps 300
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from stablemotion_dlc.dlc.io import read_tracks
from stablemotion_dlc.dlc.pipeline import clean_tracks, save_clean_result, train_on_tracks
from stablemotion_dlc.evaluate.metrics import (
    acceleration_reduction,
    mean_displacement,
    trajectory_correlation,
)

#: Pose files with likelihoods and enough frames to train on (labelled-data files excluded).
FILES = (
    "openfield_m3v1/m3v1mp4DLC_resnet50_openfieldAug20shuffle1_30000.h5",
    "openfield_m3v1/m3v1mp4DeepCut_resnet50_openfieldOct30shuffle1_15001.h5",
    "bsoid/raw_clip1DLC_resnet50_OpenFieldHighResApr8shuffle1_1030000.h5",
    "behaviordepot/demo1_tracking.csv",
    "behaviordepot/demo2_tracking.csv",
    "behaviordepot/demo4_video.csv",
    "deepof/testDLC_square_arena.h5",
    "vame/cropped_video.csv",
    "heatmapper/test.csv",
    "sleap_centered_pair/centered_pair_predictions_DLC.h5",
    "sleap_clip/clip_predictions_DLC.h5",
    "montblanc/montblanc_tracks.h5",
    "element_deeplabcut/train1_trimmedDLC_resnet50_Top_trackingAug3shuffle1_100.h5",
)


def run(data: Path, steps: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for rel in FILES:
            path = data / rel
            if not path.exists():
                continue
            row: dict = {"file": rel}
            t0 = time.perf_counter()
            try:
                tracks = read_tracks(path)
                model = train_on_tracks([tracks], Path(tmp) / f"{path.stem}.safetensors",
                                        steps=steps, progress=False, fps=tracks.meta.get("fps"))
                row["train_s"] = round(time.perf_counter() - t0, 1)
                t1 = time.perf_counter()
                result = clean_tracks(tracks, model)
                row["clean_s"] = round(time.perf_counter() - t1, 2)
                out = save_clean_result(result, Path(tmp) / (path.stem + "_filtered.h5"))
                df = pd.read_hdf(out)  # what DLC's tools do
                row["dlc_reads_back"] = bool(df.shape == tracks.to_dataframe().shape)
                before, after = tracks.xy, result.tracks.xy
                row["frames"] = tracks.n_frames
                row["shape"] = f"{tracks.n_individuals} x {tracks.n_keypoints}"
                row["changed_%"] = round(100 * float((result.status > 0).mean()), 2)
                row["acc_reduction"] = round(acceleration_reduction(before, after), 3)
                row["traj_corr"] = round(trajectory_correlation(before, after), 4)
                row["mean_disp_px"] = round(mean_displacement(before, after), 2)
                row["notes"] = "; ".join(result.report.get("notes", []))
            except Exception as exc:  # reported in the table, not hidden
                row["error"] = f"{type(exc).__name__}: {exc}"
            rows.append(row)
            print(json.dumps(row))
    return rows


def to_markdown(rows: list[dict], command: str) -> str:
    cols = ["file", "frames", "shape", "train_s", "clean_s", "changed_%", "acc_reduction",
            "traj_corr", "mean_disp_px", "dlc_reads_back", "notes", "error"]
    lines = [
        "# Cleaning the real DLC outputs as they are (no injected errors)",
        "",
        f"Made by: `{command}`",
        "",
        "Per file: a model trained on the file's own predictions, `clean_tracks` defaults, the "
        "result written with `save_clean_result` and read back with a bare `pandas.read_hdf` "
        "(what DeepLabCut's tools do). The seed's metrics compare the cleaned tracks with the "
        "input: acceleration reduction (1 - mean |2nd difference| after / before), trajectory "
        "correlation with the input (mean Pearson per coordinate), mean displacement (px, over "
        "all points). No ground truth here: these show how much the cleaner changes, not "
        "whether it is right (see real_data.md for that).",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--train-steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = run(args.data, args.train_steps)
    args.out.mkdir(parents=True, exist_ok=True)
    cmd = (f"python benchmarks/bench_real_files.py --data {args.data} --out {args.out} "
           f"--train-steps {args.train_steps}")
    (args.out / "real_files_seed_metrics.md").write_text(to_markdown(rows, cmd))
    (args.out / "real_files_seed_metrics.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
