"""Markdown + JSON + PNG report of the real-data benchmark (:mod:`.runner`).

:func:`write_report` pools the per-file results (errors of every scored point of every file
concatenated, so medians and PCK are exact), checks the project's targets and writes
``real_data.md``, ``real_data.json`` and ``img/real_*.png``.

Targets (checked on the pooled *held-out* files; the tuning files are reported apart):

- corrupted-point RMSE at most 0.5x the best baseline overall, and no worse on any kind;
- at most 0.8x our own detection + linear interpolation (``ours+interp``);
- within 1.3x of the network told the true corruption mask (``ours-oracle``);
- untouched confident points: median displacement < 0.5 px and at most 1 % moved > 2 px;
- detection F1 at least 0.1 above likelihood < pcutoff alone.

The *best baseline* is the classical method (input excluded, partial runs excluded) with the
lowest pooled corrupted-point RMSE among those that fill at least as many corrupted points as
``ours`` (minus 1 %): a method that leaves gaps empty is not scored on them, so it could look
better by leaving the hard points out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_path, check_writable

__all__ = ["write_report", "pooled_stats", "check_targets", "BASELINE_NAMES", "TABLE_ORDER"]

logger = logging.getLogger(__name__)

BASELINE_NAMES: tuple[str, ...] = ("linear", "savgol", "pcutoff_interp_savgol", "dlc_median",
                                   "dlc_spline", "dlc_arima", "eks", "eks_pcutoff")
TABLE_ORDER: tuple[str, ...] = (
    ("input",) + BASELINE_NAMES + ("rules+interp", "ours+interp", "ours", "ours-nodetect",
                                   "ours-allnet", "ours-10step", "ours-nosits", "ours-ens4",
                                   "ours-probdet", "oracle+interp", "ours-oracle"))
KIND_COLUMNS = ("best baseline", "rules+interp", "ours+interp", "ours", "oracle+interp",
                "ours-oracle")
MOVED_PX = 2.0


# ============================================================================ pooling
def _errors(arrays: dict[str, np.ndarray], method: str) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    """Point errors, kind codes and the untouched-move of one method on one file.

    Flattened over the points that have a truth.
    """
    truth = arrays["truth"]
    has = np.isfinite(truth).all(-1)
    e = np.sqrt(((arrays[method] - truth) ** 2).sum(-1))
    return e[has], arrays["kinds"][has], has


def pooled_stats(arrays_per_file: dict[str, dict[str, np.ndarray]], method: str,
                 files: Sequence[str], partial: dict[str, Any] | None = None,
                 kind_names: Sequence[str] | None = None) -> dict[str, Any] | None:
    """Pooled error statistics of ``method`` over ``files`` (None if it ran on none).

    Returns
    -------
    dict or None
        ``corrupted`` / ``untouched`` ``{rmse, median_error, pck5, pck10, coverage, n}``,
        ``moved_share``, ``moved_median`` (untouched points vs. their input) and ``kinds``
        ``{kind: {rmse, median_error, coverage, n}}``.
    """
    if kind_names is None:
        from ..dlc.corruption import ALL_KINDS

        kind_names = ALL_KINDS
    es, ks = [], []
    for f in files:
        arr = arrays_per_file.get(f)
        if arr is None or method not in arr:
            continue
        if partial and partial.get(f):
            a, b = partial[f]
            sub = {k: v[a:b] for k, v in arr.items()}
            e, k, _ = _errors(sub, method)
        else:
            e, k, _ = _errors(arr, method)
        es.append(e)
        ks.append(k)
    if not es:
        return None
    e = np.concatenate(es)
    k = np.concatenate(ks)

    def stats(sel: np.ndarray) -> dict[str, float]:
        n = int(sel.sum())
        v = e[sel]
        v = v[np.isfinite(v)]
        if not v.size:
            return {"n": n, "coverage": 0.0 if n else float("nan"), "rmse": float("nan"),
                    "median_error": float("nan"), "pck5": float("nan"), "pck10": float("nan")}
        return {"n": n, "coverage": float(v.size / n), "rmse": float(np.sqrt((v ** 2).mean())),
                "median_error": float(np.median(v)), "pck5": float((v <= 5).mean()),
                "pck10": float((v <= 10).mean())}

    out: dict[str, Any] = {"corrupted": stats(k != 0), "untouched": stats(k == 0)}
    mv = e[(k == 0) & np.isfinite(e)]  # untouched: truth == input, so error == displacement
    out["moved_share"] = float((mv > MOVED_PX).mean()) if mv.size else float("nan")
    out["moved_median"] = float(np.median(mv)) if mv.size else float("nan")
    out["kinds"] = {kind_names[c - 1]: stats(k == c) for c in np.unique(k) if c}
    return out


def _ratio(a: float | None, b: float | None) -> float:
    if a is None or b is None or not np.isfinite(a) or not np.isfinite(b) or b == 0:
        return float("nan")
    return float(a / b)


def best_baseline(pooled: dict[str, dict[str, Any]]) -> str | None:
    """Lowest corrupted RMSE among full baselines that fill as many points as ``ours``."""
    ours_cov = pooled.get("ours", {}).get("corrupted", {}).get("coverage", 0.0) or 0.0
    cands = [(p["corrupted"]["rmse"], m) for m, p in pooled.items()
             if m in BASELINE_NAMES and m != "dlc_arima" and p is not None
             and np.isfinite(p["corrupted"]["rmse"])
             and p["corrupted"]["coverage"] >= ours_cov - 0.01]
    if not cands:
        cands = [(p["corrupted"]["rmse"], m) for m, p in pooled.items()
                 if m in BASELINE_NAMES and m != "dlc_arima" and p is not None
                 and np.isfinite(p["corrupted"]["rmse"])]
    return min(cands)[1] if cands else None


def check_targets(pooled: dict[str, dict[str, Any]], detection: dict[str, float],
                  best: str | None) -> list[dict[str, Any]]:
    """The project's targets, each ``{target, value, met}`` (``met`` None when not measurable)."""
    rows: list[dict[str, Any]] = []
    ours = pooled.get("ours")
    if ours is None:
        return rows
    r_ours = ours["corrupted"]["rmse"]

    def add(target: str, value: float, met: bool | None, detail: str = "") -> None:
        rows.append({"target": target, "value": value, "met": met, "detail": detail})

    if best is not None:
        r_best = pooled[best]["corrupted"]["rmse"]
        ratio = _ratio(r_ours, r_best)
        add(f"corrupted RMSE <= 0.5x best baseline ({best})", ratio,
            bool(ratio <= 0.5) if np.isfinite(ratio) else None,
            f"{r_ours:.2f} vs {r_best:.2f} px")
        worse = []
        for kind, st in ours["kinds"].items():
            b = pooled[best]["kinds"].get(kind)
            if b is not None and np.isfinite(st["rmse"]) and np.isfinite(b["rmse"]) and \
                    st["rmse"] > b["rmse"]:
                worse.append(f"{kind} ({st['rmse']:.1f} vs {b['rmse']:.1f})")
        add("no worse than the best baseline on any kind", float(len(worse)), not worse,
            "worse on: " + ", ".join(worse) if worse else "better or equal on every kind")
    for other, limit, label in (("ours+interp", 0.8, "our detection + interpolation"),
                                ("ours-oracle", 1.3, "the network given the true mask")):
        if other in pooled and pooled[other] is not None:
            ratio = _ratio(r_ours, pooled[other]["corrupted"]["rmse"])
            add(f"corrupted RMSE <= {limit}x {label} ({other})", ratio,
                bool(ratio <= limit) if np.isfinite(ratio) else None,
                f"{r_ours:.2f} vs {pooled[other]['corrupted']['rmse']:.2f} px")
    add("untouched points: median displacement < 0.5 px", ours["moved_median"],
        bool(ours["moved_median"] < 0.5) if np.isfinite(ours["moved_median"]) else None)
    add("untouched points: at most 1 % moved > 2 px", ours["moved_share"],
        bool(ours["moved_share"] <= 0.01) if np.isfinite(ours["moved_share"]) else None)
    f_o, f_l = detection.get("ours_f1", float("nan")), detection.get("likelihood_f1",
                                                                     float("nan"))
    diff = f_o - f_l
    add("detection F1 >= likelihood-threshold F1 + 0.1", diff,
        bool(diff >= 0.1) if np.isfinite(diff) else None, f"F1 {f_o:.3f} vs {f_l:.3f}")
    return rows


def _pooled_detection(files: dict[str, Any], names: Sequence[str]) -> dict[str, float]:
    """Detection P/R/F1 of ours / likelihood / rules pooled over files (from TP/FP/FN)."""
    out: dict[str, float] = {}
    for d in ("ours", "likelihood", "rules"):
        tp = fp = fn = 0.0
        for n in names:
            det = files[n].get("detection", {}).get(d)
            if det:
                tp, fp, fn = tp + det["tp"], fp + det["fp"], fn + det["fn"]
        p = tp / (tp + fp) if tp + fp else float("nan")
        r = tp / (tp + fn) if tp + fn else float("nan")
        f1 = 2 * p * r / (p + r) if np.isfinite(p) and np.isfinite(r) and p + r > 0 else \
            float("nan")
        out.update({f"{d}_precision": p, f"{d}_recall": r, f"{d}_f1": f1})
    return out


# ============================================================================ markdown
def _f(x: Any, nd: int = 2) -> str:
    if x is None:
        return "n/a"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    return "n/a" if not np.isfinite(v) else f"{v:.{nd}f}"


def _pct(x: Any) -> str:
    return "n/a" if x is None or not np.isfinite(float(x)) else f"{100 * float(x):.2f} %"


def _pooled_table(pooled: dict[str, Any], best: str | None) -> list[str]:
    lines = ["| method | RMSE corrupted | x best baseline | median corrupted | coverage | "
             "PCK5 | PCK10 | RMSE untouched | median move untouched | moved > 2 px |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    r_best = pooled[best]["corrupted"]["rmse"] if best else float("nan")
    for m in TABLE_ORDER:
        p = pooled.get(m)
        if p is None:
            continue
        c, u = p["corrupted"], p["untouched"]
        name = f"**{m}**" if m in ("ours", best) else m
        lines.append(f"| {name} | {_f(c['rmse'])} | {_f(_ratio(c['rmse'], r_best))} | "
                     f"{_f(c['median_error'])} | {_f(c['coverage'], 3)} | {_f(c['pck5'], 3)} | "
                     f"{_f(c['pck10'], 3)} | {_f(u['rmse'])} | {_f(p['moved_median'], 3)} | "
                     f"{_pct(p['moved_share'])} |")
    return lines


def _kind_table(pooled: dict[str, Any], best: str | None) -> list[str]:
    cols = [best if c == "best baseline" else c for c in KIND_COLUMNS]
    cols = [c for c in cols if c is not None and pooled.get(c) is not None]
    head = ["input"] + cols
    lines = ["| kind | n | " + " | ".join(
        f"{c} (best baseline)" if c == best else c for c in head) + " | ours / best |",
        "|---|---|" + "---|" * (len(head) + 1)]
    kinds = sorted({k for m in head for k in pooled[m]["kinds"]})
    for k in kinds:
        n = pooled["input"]["kinds"].get(k, {}).get("n", 0)
        vals = [pooled[m]["kinds"].get(k, {}).get("rmse") for m in head]
        ours = pooled["ours"]["kinds"].get(k, {}).get("rmse") if "ours" in pooled else None
        b = pooled[best]["kinds"].get(k, {}).get("rmse") if best else None
        lines.append(f"| {k} | {n} | " + " | ".join(_f(v) for v in vals) +
                     f" | {_f(_ratio(ours, b))} |")
    return lines


def _markdown(report: dict[str, Any], figs: dict[str, str]) -> str:
    s = report["settings"]
    m = report["machine"]
    files = report["files"]
    lines = [
        "# Benchmark on real DeepLabCut tracks with injected errors", "",
        f"Made by: `{report['command']}`", "",
        f"Machine: {m['platform']}, {m['cpus']} CPU(s) (shared with other jobs), torch "
        f"{m['torch']} with {m['torch_threads']} thread(s); total {report['seconds']:.0f} s.",
        "",
        "## Protocol", "",
        "Real DLC outputs have no ground truth. In each file, the stretches of at least 64 "
        f"frames where an animal's keypoints are all present with likelihood >= {s['pcutoff']} "
        "(75 % of them for files with fewer such frames) are taken as truth. Seeded errors are "
        "injected there with `stablemotion_dlc.dlc.corruption.inject_corruption` "
        f"(kinds: {', '.join(s['kinds'])}; events of {s['event_len'][0]}-{s['event_len'][1]} "
        f"frames, log-uniform; about {100 * s['rate']:.0f} % of the confident points; seed "
        f"{s['seed']}). `dropout_neg1` is a dropout written as DeepLabCut 3's -1 placeholder "
        "(the cleaners see it as read_tracks returns it, NaN). The public function "
        "`stablemotion_dlc.evaluate.cases.make_benchmark_case` does this on any user's "
        "tracks.", "",
        "For every file a model is trained with `train_on_tracks` on that file's own "
        "corrupted predictions (never on truth), with "
        f"{s['train_steps'] if s['train_steps'] else 'the default number of'} training steps, "
        "then every method cleans the same corrupted tracks. Errors (px) are measured on the "
        "confident points only: *corrupted* = injected points vs their original value; "
        "*untouched* = the other confident points (any movement is a false edit). "
        "*coverage* = share of those points that got a value (methods may leave gaps empty; "
        "RMSE and medians are over the points with a value).", "",
        "Methods: `input` (corrupted tracks as they are); the baselines of "
        "`stablemotion_dlc.evaluate.baselines` (`pcutoff_interp_savgol` is the classical "
        "bar); `ours` = `clean_tracks` with its defaults; `rules+interp` = rule-based "
        "detection with linear interpolation (no network); `ours+interp` = exactly the points "
        "`ours` replaced, linearly interpolated (our detection, no network repair); "
        "`ours-oracle` = the network given the true corruption mask (detection solved) and "
        "`oracle+interp` its interpolation twin; `ours-nodetect` (rules only, network "
        "repair), `ours-allnet` (the network repairs every flagged run; by default runs "
        "shorter than `min_network_run` frames get body-relative interpolation), "
        "`ours-10step` (10 sampling steps), `ours-nosits` (no soft inpainting "
        "schedule), `ours-ens4` (4 candidates averaged), `ours-probdet` (ProbDet detection).",
        "",
        f"Tuning files (the only files any setting may be chosen on): "
        f"{', '.join(s['tuning_files'])}. All other files are held out and reported "
        "separately.", "",
    ]
    pooled = report["pooled"]
    for split, title in (("held-out", "Held-out files (never tuned on)"),
                         ("tuning", "Tuning files")):
        p = pooled.get(split)
        if not p or not p.get("methods"):
            continue
        best = p["best_baseline"]
        lines += [f"## {title}: {', '.join(p['files'])}", ""]
        if p.get("targets"):
            lines += ["### Targets", "", "| target | value | met | detail |", "|---|---|---|---|"]
            for t in p["targets"]:
                met = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
                lines.append(f"| {t['target']} | {_f(t['value'], 3)} | {met} | "
                             f"{t['detail']} |")
            lines.append("")
        lines += [f"### All corrupted points pooled (best baseline: `{best}`)", ""]
        lines += _pooled_table(p["methods"], best) + [""]
        lines += ["### RMSE (px) per corruption kind", ""]
        lines += _kind_table(p["methods"], best) + [""]
        if split in figs:
            lines += [f"![error per kind]({figs[split]})", ""]
        d = p["detection"]
        lines += ["### Detection (pooled)", "",
                  "| detector | precision | recall | F1 |", "|---|---|---|---|"]
        for det in ("ours", "likelihood", "rules"):
            lines.append(f"| {det} | {_f(d[f'{det}_precision'], 3)} | "
                         f"{_f(d[f'{det}_recall'], 3)} | {_f(d[f'{det}_f1'], 3)} |")
        lines.append("")
    # per file
    lines += ["## Per file", "",
              "| file | split | frames | animals x keypoints | confident points | corrupted | "
              "input RMSE | ours | best baseline | rules+interp | ours+interp | ours-oracle | "
              "F1 ours / likelihood / rules | AUROC ours / likelihood | false edits ours / bar "
              "| train s | clean s |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in files.items():
        info = r["info"]
        if "skipped" in info:
            lines.append(f"| {name} | {info.get('split', '')} | skipped: {info['skipped']} |"
                         + " |" * 14)
            continue
        mth = r["methods"]
        bb = r.get("best_baseline")

        def rm(k: str, mth: dict[str, Any] = mth) -> str:
            return _f(mth[k]["corrupted"]["rmse"]) if k in mth else "n/a"

        det = r["detection"]
        fe = r["false_edits"]
        n_animals = sum(1 for x in info["individuals"] if x != "single")
        lines.append(
            f"| {name} | {info['split']} | {info['frames']} | {n_animals} x "
            f"{len(info['bodyparts'])} | {info['eligible_points']} | "
            f"{info['corrupted_points']} | {rm('input')} | {rm('ours')} | "
            f"{rm(bb) if bb else 'n/a'} ({bb}) | {rm('rules+interp')} | {rm('ours+interp')} | "
            f"{rm('ours-oracle')} | {_f(det['ours']['f1'], 2)} / "
            f"{_f(det['likelihood']['f1'], 2)} / {_f(det['rules']['f1'], 2)} | "
            f"{_f(det['ours']['auroc'], 2)} / {_f(det['likelihood']['auroc'], 2)} | "
            f"{_pct(fe['moved_share'])} / {_pct(fe.get('bar_moved_share'))} | "
            f"{_f(info['train_seconds'], 0)} | "
            f"{_f(mth['ours']['seconds'], 1) if 'ours' in mth else 'n/a'} |")
    lines += ["", "*false edits*: the same model cleans the file with **nothing injected**; "
              "share of its confident points moved by more than 2 px (ours / the bar).", ""]
    # bone CV and jerk
    lines += ["### Anatomy and smoothness (held-out files, mean over files)", "",
              "| method | bone-length CV | jerk (px/frame^3) |", "|---|---|---|"]
    held = [n for n, r in files.items() if r["info"].get("split") == "held-out"
            and "methods" in r]
    for mname in ("input", "pcutoff_interp_savgol", "eks", "rules+interp", "ours",
                  "ours-oracle"):
        cv = [files[n]["methods"][mname]["bone_cv"] for n in held
              if mname in files[n]["methods"] and files[n]["methods"][mname]["bone_cv"]
              is not None]
        jk = [files[n]["methods"][mname]["jerk"] for n in held
              if mname in files[n]["methods"] and files[n]["methods"][mname]["jerk"]
              is not None]
        if cv or jk:
            lines.append(f"| {mname} | {_f(np.mean(cv) if cv else None, 3)} | "
                         f"{_f(np.mean(jk) if jk else None, 2)} |")
    truth_cv = [files[n]["methods"]["input"]["truth_bone_cv"] for n in held
                if files[n]["methods"].get("input", {}).get("truth_bone_cv") is not None]
    if truth_cv:
        lines.append(f"| (truth) | {_f(np.mean(truth_cv), 3)} | |")
    lines.append("")
    if figs.get("traces"):
        lines += ["## Examples", ""] + [f"![trace]({f})" for f in figs["traces"]] + [""]
    # speed
    sp = report.get("speed") or []
    if sp:
        names = sorted({b for r in sp for b in r.get("baselines", {})})
        lines += ["## Speed", "",
                  f"File tiled to each length (forward and reversed copies): "
                  f"{sp[0].get('file', '')}. Cleaning = `clean_tracks` defaults; training = "
                  f"`train_on_tracks` with {sp[0].get('train_steps', 'no (not timed)')} steps "
                  "(set-up + steps; s/step includes the set-up). Seconds on the shared CPU.", "",
                  "| frames | animals x keypoints | clean s | clean frames/s | train s | "
                  "train s/step | " + " | ".join(f"{b} s" for b in names) + " |",
                  "|---|---|---|---|---|---|" + "---|" * len(names)]
        for r in sp:
            if "skipped" in r:
                lines.append(f"| {r['frames']} | skipped: {r['skipped']} |" + " |" * (
                    4 + len(names)))
                continue
            lines.append(
                f"| {r['frames']} | {r['individuals']} x {r['keypoints']} | "
                f"{_f(r['clean_seconds'], 1)} | {_f(r['clean_fps'], 0)} | "
                f"{_f(r.get('train_seconds'), 1)} | {_f(r.get('train_s_per_step'), 3)} | " +
                " | ".join(_f(r['baselines'].get(b), 2) for b in names) + " |")
        lines.append("")
        lines += ["Cleaning speed per file (default settings, from the runs above):", "",
                  "| file | frames | animals x keypoints | clean s | frames/s |",
                  "|---|---|---|---|---|"]
        for name, r in files.items():
            if "methods" in r and "ours" in r["methods"]:
                info = r["info"]
                n_animals = sum(1 for x in info["individuals"] if x != "single")
                sec = r["methods"]["ours"]["seconds"]
                lines.append(f"| {name} | {info['frames']} | {n_animals} x "
                             f"{len(info['bodyparts'])} | {_f(sec, 1)} | "
                             f"{_f(info['frames'] / sec if sec else None, 0)} |")
        lines.append("")
        if figs.get("speed"):
            lines += [f"![speed]({figs['speed']})", ""]
    notes = [(n, x) for n, r in files.items() for x in r["info"].get("notes", [])]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}: {x}" for n, x in notes] + [""]
    return "\n".join(lines)


# ============================================================================ figures
def _kind_figure(pooled: dict[str, Any], best: str | None, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    show = [m for m in ("input", "pcutoff_interp_savgol", best, "rules+interp", "ours+interp",
                        "ours", "oracle+interp", "ours-oracle")
            if m is not None and pooled.get(m) is not None]
    show = list(dict.fromkeys(show))
    kinds = sorted({k for m in show for k in pooled[m]["kinds"]})
    labels = kinds + ["all corrupted"]
    fig, ax = plt.subplots(figsize=(12, 5.5))
    w = 0.8 / max(1, len(show))
    floor = 0.1  # log axis: errors of 0 (e.g. swaps undone exactly) are drawn at 0.1
    x = np.arange(len(labels))
    for j, m in enumerate(show):
        vals = [pooled[m]["kinds"].get(k, {}).get("rmse", np.nan) for k in kinds]
        vals.append(pooled[m]["corrupted"]["rmse"])
        lab = f"{m} (best baseline)" if m == best else m
        v = np.asarray(vals, dtype=float)
        ax.bar(x + j * w, np.where(np.isfinite(v), np.maximum(v, floor), 0.0), w, label=lab)
    ax.set_xticks(x + 0.4 - w / 2)
    ax.set_xticklabels(labels, rotation=20, ha="right")
    ax.set_ylabel("RMSE vs truth (px, log; 0 drawn at 0.1)")
    ax.set_yscale("log")
    ax.set_title(title + " (no bar: the method left all such points empty)")
    ax.legend(ncol=4, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _trace_figure(arr: dict[str, np.ndarray], name: str, best: str | None, path: Path,
                  span: int = 200) -> None:
    """Plot before/after x, y where ``ours`` differs most from the best baseline.

    The keypoint and stretch of the largest difference, with the truth.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    truth, kinds = arr["truth"], arr["kinds"]
    ref = best if best in arr else "input"
    e_ref = np.sqrt(((arr[ref] - truth) ** 2).sum(-1))
    e_ours = np.sqrt(((arr["ours"] - truth) ** 2).sum(-1))
    gain = np.nan_to_num(np.abs(e_ref - e_ours))
    gain[kinds == 0] = 0
    flat = gain.reshape(gain.shape[0], -1)
    col = int(np.argmax(flat.sum(0)))
    i, k = divmod(col, truth.shape[2])
    n_t = truth.shape[0]
    span = min(span, n_t)
    c = int(np.argmax(np.convolve(flat[:, col], np.ones(span), "same")))
    a = max(0, min(c - span // 2, n_t - span))
    b = a + span
    t = np.arange(a, b)
    fig, axes = plt.subplots(2, 1, figsize=(11, 5), sharex=True)
    for ci, ax in enumerate(axes):
        ax.plot(t, arr["input"][a:b, i, k, ci], ".", color="tab:red", ms=3,
                label="corrupted input")
        ax.plot(t, truth[a:b, i, k, ci], "-", color="k", lw=2.5, alpha=0.35, label="truth")
        if ref != "input":
            ax.plot(t, arr[ref][a:b, i, k, ci], "-", color="tab:orange", lw=1,
                    label=f"{ref} (best baseline)")
        if "ours+interp" in arr:
            ax.plot(t, arr["ours+interp"][a:b, i, k, ci], "--", color="tab:green", lw=1,
                    label="ours+interp")
        ax.plot(t, arr["ours"][a:b, i, k, ci], "-", color="tab:blue", lw=1.3, label="ours")
        bad = kinds[a:b, i, k] != 0
        if bad.any():
            lo, hi = ax.get_ylim()
            ax.fill_between(t, lo, hi, where=bad, color="tab:red", alpha=0.08, step="mid")
            ax.set_ylim(lo, hi)
        ax.set_ylabel("xy"[ci] + " (px)")
    from ..dlc.corruption import ALL_KINDS

    kd = [ALL_KINDS[x - 1] for x in np.unique(kinds[a:b, i, k]) if x]
    axes[0].set_title(f"{name}: individual {i}, keypoint {k}, frames {a}-{b} "
                      f"(shaded: injected {', '.join(kd) or 'none'})")
    axes[0].legend(ncol=5, fontsize=8)
    axes[1].set_xlabel("frame")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _speed_figure(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if "clean_seconds" in r]
    if not rows:
        return
    n = [r["frames"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.loglog(n, [r["clean_seconds"] for r in rows], "o-", lw=2, label="ours: clean")
    if all("train_seconds" in r for r in rows):
        ax.loglog(n, [r["train_seconds"] for r in rows], "s--",
                  label=f"ours: train ({rows[0]['train_steps']} steps)")
    names = sorted({b for r in rows for b in r["baselines"]})
    for b in names:
        pts = [(r["frames"], r["baselines"][b]) for r in rows
               if isinstance(r["baselines"].get(b), (int, float)) and r["baselines"][b] > 0]
        if pts:
            ax.loglog(*zip(*pts, strict=True), ".:", label=b)
    ax.set_xlabel("frames")
    ax.set_ylabel("seconds")
    ax.set_title("Time vs sequence length (shared CPU)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ============================================================================ entry point
def write_report(report: dict[str, Any], arrays: dict[str, dict[str, np.ndarray]],
                 out_dir: str | Path, *, overwrite: bool = False,
                 strip: Callable[[Any], Any] | None = None) -> Path:
    """Pool, check targets, draw the figures and write ``real_data.md`` / ``.json``.

    Parameters
    ----------
    report : dict
        Built by :func:`~stablemotion_dlc.evaluate.runner.run_benchmark` (``files``,
        ``speed``, ``settings``, ``machine``, ``command``, ``seconds``).
    arrays : dict
        ``{file: {"truth", "input", "kinds", <method>: xy}}`` predictions for pooling and
        figures.
    out_dir : str or Path
        Report folder (figures in ``img/``).
    overwrite : bool
        Replace existing report files.
    strip : callable, optional
        Makes the report JSON-safe (default: NaN -> null via ``json`` defaults).

    Returns
    -------
    Path
        ``real_data.md``.
    """
    out = Path(out_dir)
    img = out / "img"
    md_path, json_path = out / "real_data.md", out / "real_data.json"
    for p in (md_path, json_path):
        check_writable(p, overwrite)
    img.mkdir(parents=True, exist_ok=True)
    files = report["files"]
    # per-file best baseline
    for r in files.values():
        if "methods" not in r:
            continue
        single = {m: {"corrupted": v["corrupted"]} for m, v in r["methods"].items()
                  if not v.get("partial")}
        r["best_baseline"] = best_baseline(single)
    pooled: dict[str, Any] = {}
    figs: dict[str, Any] = {"traces": []}
    for split in ("held-out", "tuning"):
        names = [n for n, r in files.items() if r["info"].get("split") == split
                 and "methods" in r]
        if not names:
            continue
        methods = sorted({m for n in names for m in files[n]["methods"]})
        partial = {m: {n: files[n]["methods"][m].get("partial") for n in names
                       if m in files[n]["methods"]} for m in methods}
        per_method = {m: pooled_stats(arrays, m, names, partial.get(m)) for m in methods}
        per_method = {m: v for m, v in per_method.items() if v is not None}
        best = best_baseline(per_method)
        det = _pooled_detection(files, names)
        pooled[split] = {"files": names, "methods": per_method, "best_baseline": best,
                         "detection": det,
                         "targets": check_targets(per_method, det, best)}
        tag = "heldout" if split == "held-out" else "tuning"
        f = img / f"real_kinds_{tag}.png"
        _kind_figure(per_method, best, f, f"{split} files: RMSE on corrupted points per kind")
        figs[split] = f"img/{f.name}"
    # traces: the held-out file with the most corrupted points, and the first tuning file
    picks = []
    held = [n for n, r in files.items() if r["info"].get("split") == "held-out"
            and n in arrays and "ours" in arrays[n]]
    if held:
        picks.append(max(held, key=lambda n: files[n]["info"]["corrupted_points"]))
    tune = [n for n, r in files.items() if r["info"].get("split") == "tuning" and n in arrays
            and "ours" in arrays[n]]
    if tune:
        picks.append(tune[0])
    for n in picks:
        f = img / f"real_trace_{n}.png"
        try:
            _trace_figure(arrays[n], n, files[n].get("best_baseline"), f)
            figs["traces"].append(f"img/{f.name}")
        except Exception as exc:  # a figure must never lose the numbers
            logger.warning("trace figure for %s failed: %s", n, exc)
    if report.get("speed"):
        f = img / "real_speed.png"
        _speed_figure(report["speed"], f)
        if f.exists():
            figs["speed"] = f"img/{f.name}"
    report["pooled"] = pooled
    report["figures"] = figs
    md = _markdown(report, figs)
    clean = strip(report) if strip is not None else report
    with atomic_path(json_path, overwrite=overwrite) as tmp:
        Path(tmp).write_text(json.dumps(clean, indent=1, default=str))
    with atomic_path(md_path, overwrite=overwrite) as tmp:
        Path(tmp).write_text(md)
    logger.info("report written to %s", md_path)
    return md_path
