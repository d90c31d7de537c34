"""Quality and speed of the DLC cleaner against classical post-processing, with ground truth.

Run::

    PYTHONPATH=. python benchmarks/bench_dlc_pipeline.py --out docs/benchmarks [--quick]

What it does
------------
1. Generates simulated DLC projects with :func:`stablemotion_dlc.sample.make_sample_project`
   (no video): a *training* recording (10 min, 1 animal, ``--seed``), and disjoint *test*
   recordings (1 animal, ``--seed + 1``; 3 animals, ``--seed + 2``). Ground truth and the kind
   of every simulated error come with them.
2. Trains the embedded default (:func:`~stablemotion_dlc.dlc.pipeline.train_on_tracks`) on the
   training recording's **predictions only** (never on truth) and times it. ``--model`` reuses
   a model file instead.
3. Cleans the test predictions with every method below and scores it against the truth:

   ``raw``            the DLC predictions as they are;
   ``dlc_median``     DeepLabCut's median filter (``scipy.signal.medfilt``, window 5, per column);
   ``linear``         points below ``pcutoff`` (and missing) linearly interpolated;
   ``bar``            ``pcutoff -> linear interpolation -> Savitzky-Golay`` (the classical bar);
   ``rules+interp``   our rule labels (+ swap fixing) with linear interpolation: no network;
   ``ours+interp``    our full detection (rules + the model's detector), linear interpolation
                      over exactly the points the cleaner replaced: "the network replaced by
                      interpolation";
   ``ours``           the cleaner with default settings;
   ``ours-oracle``    the cleaner told the true corruption mask (detection solved), and its
                      interpolation twin ``oracle+interp``;
   ``ours-10step``, ``ours-nosits``, ``ours-ens4``, ``ours-probdet``: variants.

   Scores per corruption kind and overall: RMSE / median error on corrupted points, error and
   movement of untouched points (median move and share moved by more than 2 px against the
   input), and detection precision / recall / F1 (ours vs likelihood < pcutoff vs rules).
4. Speed: cleaning frames/s on the 18,000-frame training recording (1 animal x 10 keypoints).

Outputs in ``--out``: ``dlc_pipeline.md`` (the command that made it at the top),
``dlc_pipeline.json`` and figures in ``img/``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from stablemotion_dlc._arrays import true_runs
from stablemotion_dlc.dlc.constants import DEFAULT_PCUTOFF
from stablemotion_dlc.dlc.io import read_tracks
from stablemotion_dlc.dlc.tracks import Tracks
from stablemotion_dlc.evaluate.methods import interp_over
from stablemotion_dlc.sample import load_corruption, make_sample_project

logger = logging.getLogger("bench_dlc_pipeline")

PCUTOFF = DEFAULT_PCUTOFF
MOVED_PX = 2.0


# ============================================================================ data
def make_projects(work: Path, seed: int, quick: bool) -> dict[str, Any]:
    """Generate (or reuse) the training and test sample projects."""
    specs = {
        "train": dict(seed=seed, n_animals=1, duration_s=120.0 if quick else 600.0),
        "test1": dict(seed=seed + 1, n_animals=1, duration_s=60.0 if quick else 180.0),
        "test3": dict(seed=seed + 2, n_animals=3, duration_s=40.0 if quick else 120.0),
    }
    out = {}
    for name, kw in specs.items():
        d = work / name
        tag = d / "spec.json"
        if tag.exists() and json.loads(tag.read_text()) == kw:
            cfg = d / "config.yaml"
            preds = sorted((d / "videos").glob("*.h5"))
            gt = d / "ground_truth"
            out[name] = {"config": cfg, "pred": preds[0],
                         "truth": next(gt.glob("*_truth.h5")),
                         "corruption": next(gt.glob("*_corruption.npz")), "spec": kw}
            continue
        p = make_sample_project(d, video=False, overwrite=True, progress=False, **kw)
        tag.write_text(json.dumps(kw))
        out[name] = {"config": p.config, "pred": p.predictions_h5, "truth": p.truth_h5,
                     "corruption": p.corruption_npz, "spec": kw}
    return out


# ============================================================================ methods
class _ZeroNet:
    """Stands in for the network: predicts a zero correction, so a residual model's repair
    becomes the linear interpolation of the *features* (body centre and body-relative
    keypoint offsets interpolated separately) over the same flagged points."""

    def __call__(self, x: Any, t: Any, gen: Any) -> Any:
        import torch

        return torch.zeros_like(x)


def zero_network(cleaner: Any) -> Any:
    """A copy of ``cleaner`` whose network is :class:`_ZeroNet` (needs a residual model)."""
    import copy

    if not cleaner.residual:
        raise ValueError("the zero-network comparison needs a residual_to_interp model")
    z = copy.copy(cleaner)
    z.model = _ZeroNet()
    return z


def run_methods(pred: Tracks, model: Path, truth_mask: np.ndarray, quick: bool,
                variants: bool = True) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Every method on one recording: ``{name: {"xy": (T, I, K, 2), "flag": (T, I, K) or None,
    "seconds": float}}`` plus the default cleaner's result for figures."""
    from stablemotion_dlc.dlc.labels import suspect_mask
    from stablemotion_dlc.dlc.pipeline import KEPT, clean_tracks
    from stablemotion_dlc.evaluate import baselines as B

    xy, lik = pred.xy, pred.likelihood
    res: dict[str, dict[str, Any]] = {}

    def timed(name: str, fn: Any) -> Any:
        t0 = time.perf_counter()
        v = fn()
        res[name] = {"xy": v[0], "flag": v[1], "seconds": time.perf_counter() - t0}
        return v

    missing = ~np.isfinite(xy).all(-1)
    low = missing | (np.nan_to_num(lik, nan=0.0) < PCUTOFF)
    timed("raw", lambda: (xy.copy(), None))
    timed("dlc_median", lambda: (B.dlc_median(xy), None))
    timed("linear", lambda: (B.interpolate_linear(xy, lik, pcutoff=PCUTOFF, max_gap=None,
                                                  long_gaps="fill"), low))
    timed("bar", lambda: (B.pcutoff_interp_savgol(xy, lik, pcutoff=PCUTOFF, max_gap=None,
                                                  long_gaps="fill"), low))
    from stablemotion_dlc.core.inference import Cleaner

    cleaner = Cleaner.from_file(model)
    defaults: dict[str, Any] = {}

    def ours(name: str, model_: Any = None, **kw: Any) -> Any:
        t0 = time.perf_counter()
        r = clean_tracks(pred, model_ or cleaner, pcutoff=PCUTOFF, **kw)
        flag = r.status != KEPT
        flag &= r.status != 3  # identity-fixed points keep their (moved) values
        res[name] = {"xy": r.tracks.xy, "flag": flag, "seconds": time.perf_counter() - t0}
        return r

    r = ours("ours")
    defaults["result"] = r
    max_gap = r.report.get("settings", {}).get("max_gap", 120)
    fixed = r.tracks.xy.copy()
    base = pred.xy.copy()
    moved = r.status == 3
    base[moved] = fixed[moved]  # swap-fixed input
    swapped = pred.copy()
    swapped.xy = base
    labels = suspect_mask(swapped, PCUTOFF)
    res["rules"] = {"xy": xy.copy(), "flag": labels.mask | missing, "seconds": 0.0}
    res["rules+interp"] = {"xy": interp_over(base, labels.mask | missing, max_gap),
                           "flag": labels.mask | missing, "seconds": 0.0}
    res["ours+interp"] = {"xy": interp_over(base, res["ours"]["flag"], max_gap),
                          "flag": res["ours"]["flag"], "seconds": 0.0}
    zero = zero_network(cleaner)
    ours("ours+body-interp", flag_mask=res["ours"]["flag"], detect=None, model_=zero,
         min_network_run=0)
    # oracle: the true corruption mask, except points the swap fixer already put back
    oracle = truth_mask & ~moved
    ours("ours-oracle", flag_mask=oracle, detect=None, max_gap=None)
    ours("oracle+body-interp", flag_mask=oracle, detect=None, max_gap=None, model_=zero,
         min_network_run=0)
    ours("ours-oracle-net-all", flag_mask=oracle, detect=None, max_gap=None,
         min_network_run=0)
    ours("ours-net-all", min_network_run=0)
    res["oracle+interp"] = {"xy": interp_over(base, oracle, None), "flag": oracle,
                            "seconds": 0.0}
    if variants:
        ours("ours-nodetect", detect=None)
        ours("ours-10step", steps=10)
        ours("ours-nosits", sits=False)
        if not quick:
            ours("ours-ens4", ensemble=4)
            ours("ours-probdet", detect="probdet")
    return res, defaults


# ============================================================================ scoring
def score(res: dict[str, dict[str, Any]], pred: Tracks, truth: np.ndarray,
          kinds: np.ndarray, kind_names: list[str]) -> dict[str, Any]:
    """Per-method error on corrupted / untouched points, per kind, and detection scores."""
    from stablemotion_dlc.evaluate.metrics import detection_scores

    corrupted = kinds > 0
    untouched = ~corrupted & np.isfinite(truth).all(-1)
    inp = pred.xy
    out: dict[str, Any] = {}
    for name, r in res.items():
        xy = r["xy"]
        err = np.sqrt(((xy - truth) ** 2).sum(-1))
        row: dict[str, Any] = {"seconds": round(float(r["seconds"]), 3)}

        def stats(sel: np.ndarray, err: np.ndarray = err) -> dict[str, float]:
            e = err[sel]
            n = int(sel.sum())
            e = e[np.isfinite(e)]
            return {"n": n, "coverage": float(e.size / n) if n else float("nan"),
                    "rmse": float(np.sqrt((e ** 2).mean())) if e.size else float("nan"),
                    "median": float(np.median(e)) if e.size else float("nan")}

        row["corrupted"] = stats(corrupted)
        row["untouched"] = stats(untouched)
        mv = np.sqrt(((xy - inp) ** 2).sum(-1))[untouched]
        mv = mv[np.isfinite(mv)]
        row["untouched_move_median"] = float(np.median(mv)) if mv.size else float("nan")
        row["untouched_moved_gt2px"] = float((mv > MOVED_PX).mean()) if mv.size else 0.0
        row["untouched_changed"] = float((mv != 0).mean()) if mv.size else 0.0
        row["kinds"] = {kind_names[c]: stats(kinds == c) for c in range(1, len(kind_names))
                        if (kinds == c).any()}
        if r["flag"] is not None:
            row["detection"] = detection_scores(r["flag"], corrupted)
        out[name] = row
    return out


def by_run_length(res: dict[str, dict[str, Any]], truth: np.ndarray, flag: np.ndarray,
                  methods: list[str],
                  bins: tuple[int, ...] = (1, 2, 4, 8, 16, 30, 60, 121)) -> list[dict[str, Any]]:
    """RMSE on the points of ``flag`` grouped by the length of the flagged run they sit in."""
    rl = np.zeros(flag.shape, np.int64)
    for i in range(flag.shape[1]):
        for k in range(flag.shape[2]):
            for a, b in zip(*true_runs(flag[:, i, k]), strict=True):
                rl[a:b, i, k] = b - a
    rows = []
    for lo, hi in zip(bins[:-1], bins[1:], strict=True):
        sel = flag & (rl >= lo) & (rl < hi)
        if not sel.any():
            continue
        row: dict[str, Any] = {"run": f"{lo}-{hi - 1}", "n": int(sel.sum())}
        for m in methods:
            if m in res:
                e = np.sqrt(((res[m]["xy"] - truth) ** 2).sum(-1))[sel]
                e = e[np.isfinite(e)]
                row[m] = float(np.sqrt((e ** 2).mean())) if e.size else float("nan")
        rows.append(row)
    return rows


# ============================================================================ speed
def speed(model: Path, tracks: Tracks, repeats: int = 1) -> dict[str, float]:
    """Seconds and frames/s of :func:`clean_tracks` with default settings."""
    from stablemotion_dlc.core.inference import Cleaner
    from stablemotion_dlc.dlc.pipeline import clean_tracks

    cleaner = Cleaner.from_file(model)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        clean_tracks(tracks, cleaner, pcutoff=PCUTOFF)
        best = min(best, time.perf_counter() - t0)
    return {"frames": tracks.n_frames, "keypoints": len(tracks.bodyparts),
            "individuals": len(tracks.individuals), "seconds": best,
            "fps": tracks.n_frames / best}


# ============================================================================ report
ORDER = ["raw", "dlc_median", "linear", "bar", "rules+interp", "ours+interp",
         "ours+body-interp", "ours", "ours-net-all", "oracle+interp", "oracle+body-interp",
         "ours-oracle", "ours-oracle-net-all", "ours-nodetect", "ours-10step", "ours-nosits",
         "ours-ens4", "ours-probdet"]


def _f(x: float, nd: int = 2) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{nd}f}"


def markdown(report: dict[str, Any], command: str) -> str:
    """The Markdown report."""
    lines = [
        "# DLC cleaner benchmark (simulated recordings with ground truth)", "",
        f"Made by: `{command}`", "",
        f"Machine: {report['machine']}. Training: {report['train']['frames']} frames "
        f"({report['train']['spec']['duration_s']:.0f} s, 1 animal x 10 keypoints, seed "
        f"{report['train']['spec']['seed']}), predictions only; "
        f"{report['train']['steps']} steps in {report['train']['seconds']:.0f} s "
        f"({report['train']['threads']} torch thread(s)).", "",
        "Errors in px against the simulated truth. *corrupted*: points carrying a simulated "
        "error (any kind); *untouched*: all other points (their input already has ~1.5 px "
        "jitter). *moved*: displacement against the input. Detection is scored against the "
        "corruption mask (for `linear`/`bar`: likelihood < pcutoff or missing). "
        "`bar` = pcutoff -> linear interpolation -> Savitzky-Golay (window 5, order 2), all "
        "gaps filled. `ours+interp` = our exact detection with the network replaced by linear "
        "interpolation (in pixels) over the same points; `ours+body-interp` = the same "
        "pipeline with a zero network, i.e. linear interpolation of the body-relative features "
        "(body centre and offsets from it) over the same points; `ours-net-all` = the network "
        "repairs every flagged run (the default gives it only runs >= "
        f"{report['settings']['min_network_run']} frames); `oracle` = told the true corruption "
        "mask (minus points the swap fixer already put back).", "",
    ]
    for rec, sc in report["results"].items():
        bar = sc["bar"]["corrupted"]["rmse"]
        lines += [f"## {rec}: {report['tests'][rec]['desc']}", "",
                  "| method | RMSE corrupted | x bar | median corrupted | coverage | RMSE "
                  "untouched | median move untouched | untouched moved > 2 px | precision | "
                  "recall | F1 | s |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for m in ORDER:
            if m not in sc:
                continue
            r = sc[m]
            d = r.get("detection", {})
            lines.append(
                f"| {m} | {_f(r['corrupted']['rmse'])} | {_f(r['corrupted']['rmse'] / bar)} | "
                f"{_f(r['corrupted']['median'])} | {_f(r['corrupted']['coverage'], 3)} | "
                f"{_f(r['untouched']['rmse'])} | {_f(r['untouched_move_median'], 3)} | "
                f"{100 * r['untouched_moved_gt2px']:.2f} % | {_f(d.get('precision'), 3)} | "
                f"{_f(d.get('recall'), 3)} | {_f(d.get('f1'), 3)} | {r['seconds']:.1f} |")
        kinds = sorted({k for m in sc.values() for k in m["kinds"]})
        show = [m for m in ["raw", "dlc_median", "linear", "bar", "rules+interp",
                            "ours+interp", "ours+body-interp", "ours", "oracle+interp",
                            "oracle+body-interp", "ours-oracle"] if m in sc]
        lines += ["", "RMSE (px) per corruption kind (points of that kind):", "",
                  "| kind | n | " + " | ".join(show) + " |",
                  "|---|---|" + "---|" * len(show)]
        for k in kinds:
            n = sc["raw"]["kinds"][k]["n"]
            lines.append(f"| {k} | {n} | " + " | ".join(
                _f(sc[m]["kinds"][k]["rmse"]) for m in show) + " |")
        rl = report.get("run_length", {}).get(rec, [])
        if rl:
            ms = [m for m in rl[0] if m not in ("run", "n")]
            lines += ["", "RMSE (px) on the true corrupted points (oracle mask) by the length "
                      "of their run: interpolation in pixels, interpolation of the body-relative "
                      "features, the network on every run, the default (network on runs >= "
                      f"{report['settings']['min_network_run']} frames):", "",
                      "| run (frames) | n | " + " | ".join(ms) + " |",
                      "|---|---|" + "---|" * len(ms)]
            for row in rl:
                lines.append(f"| {row['run']} | {row['n']} | " + " | ".join(
                    _f(row[m]) for m in ms) + " |")
        lines += ["", f"![error per kind](img/dlc_pipeline_kinds_{rec}.png)", ""]
    s = report["speed"]
    lines += ["## Speed", "",
              f"- Cleaning {s['frames']} frames of {s['individuals']} animal x {s['keypoints']} "
              f"keypoints with default settings: {s['seconds']:.1f} s ({s['fps']:.0f} frames/s, "
              f"{report['train']['threads']} torch thread(s)).",
              f"- Training the embedded default ({report['train']['steps']} steps): "
              f"{report['train']['seconds']:.0f} s ({report['train']['seconds_per_step']:.3f} "
              "s/step).", "",
              "![trace](img/dlc_pipeline_trace.png)", ""]
    if report.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in report["notes"]] + [""]
    return "\n".join(lines)


def figures(report: dict[str, Any], out: Path, trace: dict[str, Any]) -> list[str]:
    """Bar chart per kind per method and a before/after trace with truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img = out / "img"
    img.mkdir(parents=True, exist_ok=True)
    files = []
    show = ["dlc_median", "bar", "rules+interp", "ours+interp", "ours+body-interp", "ours",
            "oracle+body-interp", "ours-oracle"]
    for rec, sc in report["results"].items():
        kinds = sorted({k for m in sc.values() for k in m["kinds"]})
        fig, ax = plt.subplots(figsize=(11, 4))
        w = 0.8 / len(show)
        for j, m in enumerate(show):
            if m not in sc:
                continue
            vals = [sc[m]["kinds"][k]["rmse"] for k in kinds] + [sc[m]["corrupted"]["rmse"]]
            ax.bar(np.arange(len(kinds) + 1) + j * w, vals, w, label=m)
        ax.set_xticks(np.arange(len(kinds) + 1) + 0.4 - w / 2)
        ax.set_xticklabels(kinds + ["all corrupted"], rotation=20)
        ax.set_ylabel("RMSE vs truth (px)")
        ax.set_yscale("log")
        ax.set_title(f"{rec}: error on corrupted points per kind")
        ax.legend(ncol=4, fontsize=8)
        fig.tight_layout()
        f = img / f"dlc_pipeline_kinds_{rec}.png"
        fig.savefig(f, dpi=90)
        plt.close(fig)
        files.append(str(f))
    # trace: the keypoint/stretch with the largest raw error
    fig, axes = plt.subplots(2, 1, figsize=(11, 5), sharex=True)
    t = np.arange(trace["a"], trace["b"])
    for c, ax in enumerate(axes):
        ax.plot(t, trace["truth"][:, c], "k--", lw=1.2, label="truth", zorder=5)
        ax.plot(t, trace["raw"][:, c], "r.", ms=3, label="DLC prediction")
        ax.plot(t, trace["bar"][:, c], "-", color="tab:orange", lw=1, label="bar")
        ax.plot(t, trace["ours"][:, c], "-", color="tab:blue", lw=1.2, label="ours")
        ax.set_ylabel("xy"[c] + " (px)")
    axes[0].set_title(trace["title"])
    axes[0].legend(ncol=4, fontsize=8)
    axes[1].set_xlabel("frame")
    fig.tight_layout()
    f = img / "dlc_pipeline_trace.png"
    fig.savefig(f, dpi=90)
    plt.close(fig)
    files.append(str(f))
    return files


def pick_trace(res: dict[str, Any], truth: np.ndarray, kinds: np.ndarray, names: list[str],
               span: int = 240) -> dict[str, Any]:
    """A stretch around the corrupted run where ``ours`` gains most over ``bar``."""
    e_bar = np.sqrt(((res["bar"]["xy"] - truth) ** 2).sum(-1))
    e_ours = np.sqrt(((res["ours"]["xy"] - truth) ** 2).sum(-1))
    gain = np.nan_to_num(e_bar - e_ours)[:, 0]  # (T, K), first animal
    gain[kinds[:, 0] == 0] = 0
    k = int(np.argmax(gain.sum(0)))
    t0 = int(np.argmax(np.convolve(gain[:, k], np.ones(span), "same")))
    a = max(0, t0 - span // 2)
    b = min(truth.shape[0], a + span)
    kd = [names[c] for c in np.unique(kinds[a:b, 0, k]) if c]
    return {"a": a, "b": b, "truth": truth[a:b, 0, k], "raw": res["raw"]["xy"][a:b, 0, k],
            "bar": res["bar"]["xy"][a:b, 0, k], "ours": res["ours"]["xy"][a:b, 0, k],
            "title": f"keypoint {k}, frames {a}-{b}; errors: {', '.join(kd) or 'none'}"}


# ============================================================================ main
def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns the report dict."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks"))
    ap.add_argument("--work", type=Path, default=None,
                    help="folder for generated projects and the model (default: "
                         "<tmp>/smdlc_bench_dlc_pipeline)")
    ap.add_argument("--quick", action="store_true", help="shorter recordings, fewer variants")
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--train-steps", type=int, default=None,
                    help="training steps (default: the embedded DEFAULT_TRAIN_STEPS)")
    ap.add_argument("--model", type=Path, default=None, help="reuse this model file")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--no-variants", action="store_true")
    ap.add_argument("--no-speed", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import torch

    torch.set_num_threads(args.threads)
    from stablemotion_dlc.dlc.pipeline import (
        DEFAULT_MIN_NETWORK_RUN,
        DEFAULT_TRAIN_STEPS,
        train_on_tracks,
    )

    out = args.out
    work = args.work or Path(tempfile.gettempdir()) / "smdlc_bench_dlc_pipeline"
    work.mkdir(parents=True, exist_ok=True)
    projects = make_projects(work, args.seed, args.quick)
    train_tracks = read_tracks(projects["train"]["pred"])
    steps = args.train_steps or DEFAULT_TRAIN_STEPS
    model = args.model
    t_train = float("nan")
    if model is None:
        model = work / f"model_{steps}.safetensors"
        t0 = time.perf_counter()
        train_on_tracks([train_tracks], model, pcutoff=PCUTOFF, fps=30.0, steps=steps,
                        resume=False, overwrite=True, progress=True)
        t_train = time.perf_counter() - t0
    report: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                   f"python {sys.version.split()[0]}, torch {torch.__version__}",
        "train": {"steps": steps, "seconds": t_train, "seconds_per_step": t_train / steps,
                  "frames": train_tracks.n_frames, "spec": projects["train"]["spec"],
                  "threads": args.threads, "model": str(model)},
        "tests": {}, "results": {}, "notes": [],
        "settings": {"min_network_run": DEFAULT_MIN_NETWORK_RUN, "pcutoff": PCUTOFF},
    }
    trace = None
    for name in ("test1", "test3"):
        p = projects[name]
        pred = read_tracks(p["pred"])
        truth = read_tracks(p["truth"]).xy
        corr = load_corruption(p["corruption"])
        kinds, names = corr["kinds"], [str(s) for s in corr["kind_names"]]
        res, _ = run_methods(pred, model, kinds > 0, args.quick,
                             variants=not args.no_variants and name == "test1")
        report["tests"][name] = {
            "desc": f"{pred.n_frames} frames, {len(pred.individuals)} animal(s) x "
                    f"{len(pred.bodyparts)} keypoints, seed {p['spec']['seed']}, "
                    f"{100 * (kinds > 0).mean():.1f} % of points corrupted",
            "spec": p["spec"]}
        report["results"][name] = score(res, pred, truth, kinds, names)
        report.setdefault("run_length", {})[name] = by_run_length(
            res, truth, res["oracle+interp"]["flag"],
            ["oracle+interp", "oracle+body-interp", "ours-oracle-net-all", "ours-oracle"])
        if name == "test1":
            trace = pick_trace(res, truth, kinds, names)
        sc = report["results"][name]
        logger.info("%s: RMSE corrupted %s", name, ", ".join(
            f"{m} {sc[m]['corrupted']['rmse']:.2f}" for m in ORDER if m in sc))
    if not args.no_speed:
        report["speed"] = speed(model, train_tracks)
    else:
        report["speed"] = {"frames": 0, "keypoints": 0, "individuals": 0,
                           "seconds": float("nan"), "fps": float("nan")}
    command = "PYTHONPATH=. python benchmarks/bench_dlc_pipeline.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    report["command"] = command
    out.mkdir(parents=True, exist_ok=True)
    report["figures"] = figures(report, out, trace)
    (out / "dlc_pipeline.json").write_text(json.dumps(report, indent=1, default=str))
    (out / "dlc_pipeline.md").write_text(markdown(report, command))
    logger.info("wrote %s", out / "dlc_pipeline.md")
    return report


if __name__ == "__main__":
    main()
