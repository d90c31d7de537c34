"""Real errors, nothing injected: a weak DLC model's tracks graded by a strong model's (or labels).

The default pair is ``openfield_m3v1`` of ``../shared/data``: the same video tracked by an
under-trained model (Oct30, 15,001 iterations) and a well-trained one (Aug20, 30,000); the
strong model's points with likelihood >= 0.95 are the truth. Any pair of tracks of one video
works (``--weak``, ``--strong``), and labelled frames (``--labels CollectedData_x.h5``, row
names ending in the frame number, e.g. ``img0042.png``) can replace the strong model.

Every method cleans the weak file alone (ours trains its model on the weak file, as the
``clean`` CLI does with no model). Reported: RMSE on all truth points, on the wrong ones (> 10
px off) and on the confidently wrong ones, the share of wrong points brought within 10 px,
the share of right points (<= 5 px) moved by more than 2 px, per keypoint, plus a figure of
video frames with the truth, the input and our result.

Usage::

    python benchmarks/bench_real_errors.py --out docs/benchmarks [--train-steps N]
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stablemotion_dlc.dlc.constants import DEFAULT_PCUTOFF
from stablemotion_dlc.dlc.io import read_tracks
from stablemotion_dlc.dlc.pipeline import clean_tracks, train_on_tracks
from stablemotion_dlc.evaluate.baselines import available_baselines, run_baseline
from stablemotion_dlc.evaluate.real_errors import (
    score_real_errors,
    truth_from_labels,
    truth_from_reference,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WEAK = "openfield_m3v1/m3v1mp4DeepCut_resnet50_openfieldOct30shuffle1_15001.h5"
STRONG = "openfield_m3v1/m3v1mp4DLC_resnet50_openfieldAug20shuffle1_30000.h5"
VIDEO = "openfield_m3v1/m3v1mp4.mp4"
BASELINES = ("linear", "pcutoff_interp_savgol", "dlc_median", "eks_pcutoff")
OURS = {
    "ours": {},
    "ours_network_only": {"repair": "network", "pose_rule": False},
    "ours_rules_only": {"detect": None},
}


def _labels_truth(path: Path, tracks: Any) -> Any:
    lab = read_tracks(path)
    frames = []
    for name in lab.index:  # image paths such as labeled-data/video/img0042.png
        m = re.findall(r"(\d+)", str(name if isinstance(name, str) else name[-1]))
        frames.append(int(m[-1]) if m else -1)
    cols = [lab.bodyparts.index(b) for b in tracks.bodyparts]  # the tracks' keypoint order
    return truth_from_labels(lab.xy[:, :, cols], frames, tracks.n_frames,
                             source=f"labels {path.name}")


def _figure(video: Path, frames: list[int], truth: np.ndarray, inp: np.ndarray,
            ours: np.ndarray, names: list[str], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from stablemotion_dlc.dlc.video import VideoReader

    fig, axes = plt.subplots(1, len(frames), figsize=(5 * len(frames), 4.2))
    with VideoReader(video) as reader:
        for ax, f in zip(np.atleast_1d(axes), frames):
            ax.imshow(reader[f])
            for arr, mk, col, lab in ((truth, "o", "lime", "truth (strong model)"),
                                      (inp, "x", "red", "input (weak model)"),
                                      (ours, "+", "cyan", "ours")):
                p = arr[f, 0]
                ax.scatter(p[:, 0], p[:, 1], marker=mk, s=70, c=col, label=lab, linewidths=2)
                for k, n in enumerate(names):
                    if np.isfinite(p[k]).all() and arr is truth:
                        ax.annotate(n, p[k], color="white", fontsize=7,
                                    xytext=(4, 4), textcoords="offset points")
            ax.set_title(f"frame {f}")
            ax.axis("off")
    np.atleast_1d(axes)[0].legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--weak", default=WEAK)
    ap.add_argument("--strong", default=STRONG)
    ap.add_argument("--labels", type=Path, default=None)
    ap.add_argument("--video", default=VIDEO)
    ap.add_argument("--pcutoff", type=float, default=DEFAULT_PCUTOFF)
    ap.add_argument("--train-steps", type=int, default=None,
                    help="training steps (default: the pipeline's DEFAULT_TRAIN_STEPS)")
    ap.add_argument("--model", type=Path, default=None, help="reuse a model file")
    ap.add_argument("--frames", type=int, nargs="*", default=[151, 2237, 2253])
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks"))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if args.train_steps is None:
        from stablemotion_dlc.dlc.pipeline import DEFAULT_TRAIN_STEPS

        args.train_steps = DEFAULT_TRAIN_STEPS
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    weak_path = args.data / args.weak
    if not weak_path.exists():
        print(f"{weak_path} not found: nothing to do")
        return 0
    weak = read_tracks(weak_path)
    if args.labels is not None:
        truth = _labels_truth(args.labels, weak)
    else:
        strong = read_tracks(args.data / args.strong)
        truth = truth_from_reference(strong.xy, strong.likelihood, source=args.strong)
    pc = args.pcutoff
    rows: dict[str, Any] = {}
    preds: dict[str, np.ndarray] = {"input": weak.xy}
    for name in BASELINES:
        if name not in available_baselines():
            continue
        kw = {} if name == "dlc_median" else {"pcutoff": pc}
        preds[name] = run_baseline(name, weak.xy, weak.likelihood, **kw)
    model = args.model
    train_s = None
    if model is None:
        import tempfile

        # never next to the report (docs/benchmarks): a 4 MB model does not belong there
        model = Path(tempfile.mkdtemp(prefix="real_errors_")) / "model.safetensors"
        t0 = time.perf_counter()
        train_on_tracks([weak], model, steps=args.train_steps, progress=False, pcutoff=pc,
                        overwrite=True, resume=False)
        train_s = time.perf_counter() - t0
    reports = {}
    for name, kw in OURS.items():
        t0 = time.perf_counter()
        res = clean_tracks(weak, model, pcutoff=pc, **kw)
        preds[name] = res.tracks.xy
        reports[name] = {"seconds": round(time.perf_counter() - t0, 2),
                         "status_counts": res.summary(),
                         "repair": res.report.get("repair"),
                         "pose_flagged_points": res.report.get("pose_flagged_points")}
        if name == "ours":
            changed = res.status > 0
            e = np.linalg.norm(res.tracks.xy - truth.xy, axis=-1)
            inside = (e <= res.uncertainty) & changed & truth.ok
            n = int((changed & truth.ok).sum())
            reports[name]["interval90_coverage"] = (round(float(inside.sum() / n), 3)
                                                    if n else None)
    for name, xy in preds.items():
        rows[name] = score_real_errors(xy, weak.xy, weak.likelihood, truth, pcutoff=pc,
                                       bodyparts=weak.bodyparts)
    result = {"weak": args.weak, "truth": truth.source, "pcutoff": pc,
              "train_steps": args.train_steps, "train_s": train_s, "threads": args.threads,
              "scores": rows, "ours": reports}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "real_errors.json").write_text(json.dumps(result, indent=1, default=float))
    inp = rows["input"]
    lines = [
        "# Real errors: weak vs strong DLC model on the same video",
        "",
        f"Weak: `{args.weak}`; truth: `{truth.source}` (likelihood >= 0.95). pcutoff {pc}. "
        + (f"Ours trained {args.train_steps} steps (the pipeline's training recipe) on the weak "
         f"file alone ({train_s:.0f} s, {args.threads} thread). " if args.model is None else
         f"Ours: the model `{args.model}` reused (`--model`), cleaning with "
         f"{args.threads} thread. ")
        + "Nothing is injected: these are the weak network's own errors.",
        "",
        f"Truth points {inp['n_truth']}; wrong (> 10 px) {inp['n_wrong']}; confidently "
        f"wrong {inp['n_confident_wrong']}; right (<= 5 px) {inp['n_right']}.",
        "",
        "| method | RMSE all (px) | x input | RMSE wrong | RMSE conf. wrong | x input | "
        "wrong fixed (< 10 px) | right moved > 2 px | right broken (> 10 px) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def f(v: Any, d: int = 2) -> str:
        return "-" if v is None else f"{v:.{d}f}"

    for name, r in rows.items():
        lines.append(
            f"| {name} | {f(r['rmse_all'])} | {f(r['rmse_all'] / inp['rmse_all'])} | "
            f"{f(r['rmse_wrong'])} | {f(r['rmse_confident_wrong'])} | "
            f"{f((r['rmse_confident_wrong'] or 0) / inp['rmse_confident_wrong'])} | "
            f"{f(100 * (r['fixed_share'] or 0), 1)} % | "
            f"{f(100 * (r['right_moved_share'] or 0), 2)} % | "
            f"{f(100 * (r['broken_share'] or 0), 2)} % |")
    lines += ["", "Per keypoint (ours vs input):", "",
              "| keypoint | wrong | RMSE wrong in -> out | median wrong in -> out | fixed | "
              "right moved |", "|---|---|---|---|---|---|"]
    for k, r in rows["ours"]["per_keypoint"].items():
        lines.append(f"| {k} | {r['n_wrong']} | {f(r['rmse_wrong_input'])} -> "
                     f"{f(r['rmse_wrong'])} | {f(r['median_wrong_input'])} -> "
                     f"{f(r['median_wrong'])} | {f(100 * (r['fixed_share'] or 0), 1)} % | "
                     f"{f(100 * (r['right_moved_share'] or 0), 2)} % |")
    lines += ["", "Our repair choice (validation on the file's own trustworthy points):", "",
              "```", json.dumps(reports["ours"].get("repair"), indent=1), "```", "",
              f"Stated 90 % intervals of changed points that hold the truth: "
              f"{reports['ours'].get('interval90_coverage')}", ""]
    video = args.data / args.video
    if video.exists() and args.labels is None:
        img = args.out / "img" / "real_errors_frames.png"
        img.parent.mkdir(parents=True, exist_ok=True)
        _figure(video, [f for f in args.frames if f < weak.n_frames], truth.xy, weak.xy,
                preds["ours"], list(weak.bodyparts), img)
        lines += [f"![frames](img/{img.name})", ""]
    lines += ["Rerun: `python benchmarks/bench_real_errors.py --out docs/benchmarks`", ""]
    (args.out / "real_errors.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
