"""Benchmark on real DLC files with protocol B (:mod:`stablemotion_dlc.evaluate.protocol`).

Protocol B injects errors designed independently of the training generator
(``dlc/corruption.py``), so the cleaner is graded on errors it never trained on. For every real
file found in the shared data folder (read-only; absent files are skipped):

1. the file's confident points (finite, likelihood >= 0.6) are the truth; protocol-B errors
   are injected there (seed, rate; :func:`~stablemotion_dlc.evaluate.protocol.
   corrupt_independent`);
2. ``ours``: a model is trained with ``train_on_tracks`` on the corrupted tracks (never on
   the truth), then ``clean_tracks`` cleans them with its defaults; ``ours_rules`` is the
   same model with ``detect=None`` (rule-based detection only);
3. the classical baselines of :mod:`stablemotion_dlc.evaluate.baselines` clean the same
   corrupted tracks (``linear``, ``pcutoff_interp_savgol``, ``dlc_median``, ``eks_pcutoff``
   when installed; each with its default pcutoff 0.6);
4. scored on the truth points: RMSE on corrupted points (per kind, per file, pooled per split),
   coverage, share of untouched truth points moved > 2 px, detection F1 (rules, the model's
   detector + rules, the edits, likelihood < pcutoff) against the corruption mask.

Settings may only be chosen on the tuning files; the held-out files are for reporting.

Run (the report goes to docs/benchmarks/protocol_b.{json,md})::

    source scripts/env.sh
    OMP_NUM_THREADS=1 python benchmarks/bench_protocol.py --train-steps 2000

``--quick`` is a smoke test (200 frames per file, 20 training steps, writes to /tmp).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from stablemotion_dlc.dlc.constants import DEFAULT_PCUTOFF

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("STABLEMOTION_SHARED_DATA", REPO.parent / "shared" / "data"))
if not DEFAULT_DATA.is_dir():
    DEFAULT_DATA = Path("/work/shared/data")

#: (name, path under the data folder, split)
FILES: list[tuple[str, str, str]] = [
    ("openfield", "openfield_m3v1/m3v1mp4DLC_resnet50_openfieldAug20shuffle1_30000.h5",
     "tuning"),
    ("behaviordepot_demo1", "behaviordepot/demo1_tracking.csv", "tuning"),
    ("sleap_centered_pair", "sleap_centered_pair/centered_pair_predictions_DLC.h5", "tuning"),
    ("bsoid", "bsoid/raw_clip1DLC_resnet50_OpenFieldHighResApr8shuffle1_1030000.h5",
     "held-out"),
    ("deepof_square_arena", "deepof/testDLC_square_arena.h5", "held-out"),
    ("behaviordepot_demo2", "behaviordepot/demo2_tracking.csv", "held-out"),
    ("vame", "vame/cropped_video.csv", "held-out"),
    ("sleap_clip", "sleap_clip/clip_predictions_DLC.h5", "held-out"),
    ("montblanc", "montblanc/montblanc_tracks.h5", "held-out"),
]
CLASSICAL = ["linear", "pcutoff_interp_savgol", "dlc_median", "eks_pcutoff"]
OURS = ["ours", "ours_rules"]
ALL_METHODS = CLASSICAL + OURS
DETECTORS = ["rules", "model", "edits", "verdict", "likelihood"]
MOVED_PX = 2.0
PCUTOFF = DEFAULT_PCUTOFF
SPLITS = ("held-out", "tuning")

#: Figures of docs/benchmarks/real_data.md (protocol A = dlc/corruption.py, the generator the
#: model trains on; 2,000 steps; first 1,500 frames per file), copied for the cross-check.
PROTOCOL_A = {
    "source": "docs/benchmarks/real_data.md (commit c321a67)",
    "held-out": {"ours_rmse": 24.90, "best_classical": "savgol", "best_classical_rmse": 119.00,
                 "ratio": 0.209, "moved": 0.0217, "f1_model": 0.682, "f1_rules": 0.748},
    "tuning": {"ours_rmse": 16.37, "best_classical": "eks_pcutoff", "best_classical_rmse": 99.00,
               "ratio": 0.165, "moved": 0.0027, "f1_model": 0.828, "f1_rules": 0.907},
}

logger = logging.getLogger("bench_protocol")


# ============================================================================ helpers
def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=False).stdout.strip()
    except OSError:
        return ""


def _nan(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _fmt(x: Any, nd: int = 2) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    return f"{x:.{nd}f}"


def _pct(x: Any) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    return f"{100 * x:.2f} %"


def corrupted_tracks(tracks: Any, case: Any) -> Any:
    """A copy of ``tracks`` carrying the corrupted arrays of ``case``."""
    out = tracks.copy()
    out.xy = case.xy.copy()
    out.likelihood = case.likelihood.copy()
    out.meta.pop("raw_points", None)
    return out


def _det_counts(det: np.ndarray, corrupted: np.ndarray, valid: np.ndarray) -> dict[str, int]:
    from stablemotion_dlc.evaluate.metrics import detection_scores

    s = detection_scores(det, corrupted, valid)
    return {k: int(s[k]) for k in ("tp", "fp", "fn", "tn")}


def _f1(c: dict[str, int]) -> dict[str, float | None]:
    tp, fp, fn = c["tp"], c["fp"], c["fn"]
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / (tp + fn) if tp + fn else float("nan")
    f = 2 * p * r / (p + r) if tp + fp and tp + fn and p + r > 0 else (
        0.0 if tp + fp and tp + fn else float("nan"))
    return {"precision": _nan(p), "recall": _nan(r), "f1": _nan(f)}


# ============================================================================ one file
def run_file(name: str, path: Path, split: str, methods: list[str], args: argparse.Namespace,
             work: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Corrupt, clean and score one file.

    Returns
    -------
    summary : dict
        JSON-ready per-file results.
    raw : dict
        Per-point errors for pooling: ``kinds`` (codes of the corrupted truth points),
        ``err[method]`` (their errors, NaN where no value), ``moved[method]`` (moved flags of
        untouched truth points, NaN where no value) and ``det`` counts.
    """
    import torch

    from stablemotion_dlc.dlc.constants import DETECTION_THRESHOLD
    from stablemotion_dlc.dlc.io import read_tracks
    from stablemotion_dlc.dlc.pipeline import IDENTITY_FIXED, clean_tracks, train_on_tracks
    from stablemotion_dlc.evaluate.baselines import run_baseline
    from stablemotion_dlc.evaluate.metrics import point_error, rmse, untouched_moved
    from stablemotion_dlc.evaluate.protocol import (
        corrupt_independent,
        corrupt_protocol_a,
        training_corruptor,
    )

    torch.set_num_threads(args.threads)
    notes: list[str] = []
    tracks = read_tracks(path)
    n_all = tracks.n_frames
    if args.max_frames and n_all > args.max_frames:
        tracks = tracks.select(frames=slice(0, args.max_frames))
        notes.append(f"first {args.max_frames} of {n_all} frames used")
    if tracks.likelihood is None:
        raise ValueError(f"{name}: no likelihood")
    if args.test_protocol == "A":
        case = corrupt_protocol_a(tracks.xy, tracks.likelihood, seed=args.seed, rate=args.rate)
    else:
        case = corrupt_independent(tracks.xy, tracks.likelihood, seed=args.seed,
                                   rate=args.rate, individuals=tracks.individuals)
    kind_names = case.kind_names
    bad = case.corrupted
    truth = case.truth_xy
    conf = case.confident
    untouched = conf & ~bad
    corrupt_in = corrupted_tracks(tracks, case)
    preds: dict[str, np.ndarray] = {"input": case.xy}
    timing: dict[str, float] = {}
    interval: dict[str, int] = {"inside": 0, "n": 0}
    det: dict[str, dict[str, int]] = {}
    flags: dict[str, np.ndarray] = {}
    disputed: np.ndarray | None = None
    interval_undisputed: dict[str, int] = {"inside": 0, "n": 0}
    det_undisputed: dict[str, dict[str, int]] = {}
    lik_flag = ~np.isfinite(case.xy).all(-1)
    with np.errstate(invalid="ignore"):
        lik_flag |= ~(case.likelihood >= PCUTOFF)
    det["likelihood"] = _det_counts(lik_flag, bad, conf)
    flags["likelihood"] = lik_flag
    for m in methods:
        if m in CLASSICAL:
            t0 = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    preds[m] = run_baseline(m, case.xy, case.likelihood)
            except Exception as exc:  # noqa: BLE001 - report and go on
                notes.append(f"{m}: failed ({type(exc).__name__}: {exc})")
                logger.warning("%s: %s failed: %s", name, m, exc)
                continue
            timing[m] = time.perf_counter() - t0
    if any(m in OURS for m in methods):
        model = work / f"{name}.pt"
        t0 = time.perf_counter()
        if args.reuse_models and model.exists():
            notes.append(f"model reused from {model}")
        else:
            train_on_tracks([corrupt_in], model, config=_train_config(args),
                            steps=args.train_steps, progress=False,
                            overwrite=True, resume=False,
                            corruptor=(training_corruptor(rate=0.05)
                                       if args.train_protocol == "B" else None))
            timing["train"] = time.perf_counter() - t0
        if "ours" in methods:
            t0 = time.perf_counter()
            res = clean_tracks(corrupt_in, model, smooth_jitter=args.smooth_jitter)
            timing["ours"] = time.perf_counter() - t0
            preds["ours"] = res.tracks.xy
            # the swap finders (continuity + body) run before the rules and exchange the
            # points back, so the suspect mask no longer holds them: they count as found
            swapped = res.status == IDENTITY_FIXED
            flags["rules"] = res.suspect.mask | swapped
            flags["model"] = (res.probability > DETECTION_THRESHOLD) | swapped
            flags["edits"] = res.status != 0
            # the cleaner's verdict: what it changed, and what its learned jitter detector
            # marks for review (kept, never changed by default)
            flags["verdict"] = flags["edits"] | res.jitter_points()
            # calibration: corrupted truth points that ours changed, inside the stated 90 %
            # interval (CleanResult.uncertainty: a radius in px)
            changed = (res.status != 0) & bad & conf
            err_c = np.linalg.norm(res.tracks.xy - truth, axis=-1)
            inside = changed & (err_c <= res.uncertainty)
            interval = {"inside": int(inside.sum()), "n": int(changed.sum())}
            for d in ("rules", "model", "edits", "verdict"):
                det[d] = _det_counts(flags[d], bad, conf)
            # the truth is the file's own confident points, which hold the DLC network's own
            # errors: the points the same model moves on the uncorrupted file are disputed
            # (a real error fixed or a false edit; the protocol cannot tell which)
            res_orig = clean_tracks(tracks, model, smooth_jitter=args.smooth_jitter)
            with np.errstate(invalid="ignore"):
                disputed = np.linalg.norm(res_orig.tracks.xy - tracks.xy, axis=-1) > MOVED_PX
            interval_undisputed = {"inside": int((inside & ~disputed).sum()),
                                   "n": int((changed & ~disputed).sum())}
            det_undisputed = {d: _det_counts(flags[d], bad, conf & ~disputed)
                              for d in ("rules", "verdict")}
        if "ours_rules" in methods:
            t0 = time.perf_counter()
            res_r = clean_tracks(corrupt_in, model, detect=None,
                                 smooth_jitter=args.smooth_jitter)
            timing["ours_rules"] = time.perf_counter() - t0
            preds["ours_rules"] = res_r.tracks.xy
            if "rules" not in det:
                flags["rules"] = res_r.suspect.mask | (res_r.status == IDENTITY_FIXED)
                det["rules"] = _det_counts(flags["rules"], bad, conf)
    codes = case.kinds[bad & conf]
    raw: dict[str, Any] = {"kinds": codes, "kind_names": kind_names, "err": {}, "moved": {},
                           "det": det,
                           "flags": {d: f[bad & conf] for d, f in flags.items()}}
    if disputed is not None:
        raw["disputed"] = disputed[bad & conf]
        raw["disputed_untouched"] = disputed[untouched]
        raw["interval_undisputed"] = interval_undisputed
        raw["det_undisputed"] = det_undisputed
    per_method: dict[str, Any] = {}
    for m, p in preds.items():
        e = point_error(p, truth)
        raw["err"][m] = e[bad & conf]
        mv = np.sqrt(((p - truth) ** 2).sum(-1))[untouched]
        raw["moved"][m] = mv
        um = untouched_moved(p, truth, ~untouched, MOVED_PX)
        kinds_out = {}
        for c, kn in enumerate(kind_names, start=1):
            sel = case.kinds == c
            if sel.any():
                ek = e[sel]
                kinds_out[kn] = {"rmse": _nan(rmse(p, truth, sel)),
                                 "coverage": float(np.isfinite(ek).mean()),
                                 "n": int(sel.sum())}
        per_method[m] = {
            "rmse": _nan(rmse(p, truth, bad)),
            "coverage": float(np.isfinite(raw["err"][m]).mean()) if bad.any() else None,
            "moved_share": _nan(um["moved_share"]),
            "untouched_coverage": _nan(um["untouched_coverage"]),
            "kinds": kinds_out,
        }
    classical = [m for m in CLASSICAL if m in preds and per_method[m]["rmse"] is not None]
    best = min(classical, key=lambda m: per_method[m]["rmse"]) if classical else None
    summary = {
        "name": name,
        "path": str(path),
        "split": split,
        "frames": tracks.n_frames,
        "individuals": tracks.individuals,
        "bodyparts": tracks.bodyparts,
        "confident_points": int(conf.sum()),
        "corrupted_points": int(bad.sum()),
        "counts": case.count(),
        "n_events": len(case.events),
        "events": case.events,
        "methods": per_method,
        "best_classical": best,
        "ratio_ours_best": (_nan(per_method["ours"]["rmse"] / per_method[best]["rmse"])
                            if best and "ours" in per_method and per_method["ours"]["rmse"]
                            is not None else None),
        "detection": {d: {**c, **_f1(c)} for d, c in det.items()},
        "seconds": timing,
        "interval90": interval,
        "disputed": None if disputed is None else {
            "untouched_share": float(disputed[untouched].mean()) if untouched.any() else None,
            "corrupted_share": float(disputed[bad & conf].mean()) if (bad & conf).any()
            else None,
            "interval90_undisputed": interval_undisputed},
        "notes": notes,
    }
    return summary, raw


# ============================================================================ pooling
def _pooled_rmse(e: np.ndarray) -> tuple[float | None, float | None]:
    if e.size == 0:
        return None, None
    ok = np.isfinite(e)
    r = float(np.sqrt(np.mean(e[ok] ** 2))) if ok.any() else float("nan")
    return _nan(r), float(ok.mean())


def pool(raws: list[dict[str, Any]], methods: list[str]) -> dict[str, Any]:
    """Pooled statistics over the files of one split."""
    if not raws:
        return {}
    kind_names = raws[0]["kind_names"]
    kinds = np.concatenate([r["kinds"] for r in raws])
    present = [m for m in ["input", *methods] if all(m in r["err"] for r in raws)]
    err = {m: np.concatenate([r["err"][m] for r in raws]) for m in present}
    moved = {m: np.concatenate([r["moved"][m] for r in raws]) for m in present}
    out: dict[str, Any] = {"n_corrupted": int(kinds.size), "methods": {}, "kinds": {}}
    common = np.ones(kinds.size, dtype=bool)
    for m in present:
        common &= np.isfinite(err[m])
    for m in present:
        r, cov = _pooled_rmse(err[m])
        mv = moved[m]
        ok = np.isfinite(mv)
        rc = float(np.sqrt(np.mean(err[m][common] ** 2))) if common.any() else None
        out["methods"][m] = {"rmse": r, "coverage": cov, "rmse_common": rc,
                             "moved_share": float((mv[ok] > MOVED_PX).mean()) if ok.any()
                             else None}
    classical = [m for m in CLASSICAL if m in present and out["methods"][m]["rmse"] is not None]
    best = min(classical, key=lambda m: out["methods"][m]["rmse"]) if classical else None
    out["best_classical"] = best
    out["n_common"] = int(common.sum())
    if best and "ours" in present:
        om, bm = out["methods"]["ours"], out["methods"][best]
        out["ratio_ours_best"] = om["rmse"] / bm["rmse"]
        best_c = min(classical, key=lambda m: out["methods"][m]["rmse_common"])
        out["best_classical_common"] = best_c
        out["ratio_ours_best_common"] = om["rmse_common"] / out["methods"][best_c]["rmse_common"]
    for c, kn in enumerate(kind_names, start=1):
        sel = kinds == c
        if not sel.any():
            continue
        row: dict[str, Any] = {"n": int(sel.sum())}
        for m in present:
            r, cov = _pooled_rmse(err[m][sel])
            row[m] = {"rmse": r, "coverage": cov}
        kc = [m for m in CLASSICAL if m in present and row[m]["rmse"] is not None]
        kb = min(kc, key=lambda m: row[m]["rmse"]) if kc else None
        row["best_classical"] = kb
        if kb and "ours" in present and row["ours"]["rmse"] is not None:
            row["ratio_ours_best"] = row["ours"]["rmse"] / row[kb]["rmse"]
        # the same on the points every method filled (a method that leaves the hard points
        # empty is not scored on them above)
        sc = sel & common
        if kc and "ours" in present and sc.any():
            rc = {m: float(np.sqrt(np.mean(err[m][sc] ** 2))) for m in [*kc, "ours"]}
            kbc = min(kc, key=rc.get)
            row["n_common"] = int(sc.sum())
            row["best_classical_common"] = kbc
            row["ratio_ours_best_common"] = rc["ours"] / rc[kbc] if rc[kbc] > 0 else None
        for d in DETECTORS:
            if all(d in r["flags"] for r in raws):
                fl = np.concatenate([r["flags"][d] for r in raws])
                row[f"recall_{d}"] = float(fl[sel].mean())
        out["kinds"][kn] = row
    det: dict[str, Any] = {}
    for d in DETECTORS:
        cs = [r["det"][d] for r in raws if d in r["det"]]
        if cs:
            tot = {k: sum(c[k] for c in cs) for k in ("tp", "fp", "fn", "tn")}
            det[d] = {**tot, **_f1(tot)}
    out["detection"] = det
    if "ours" in present and all("disputed" in r for r in raws):
        out["undisputed"] = _undisputed(raws, kinds, err, classical, kind_names)
    return out


def _undisputed(raws: list[dict[str, Any]], kinds: np.ndarray, err: dict[str, np.ndarray],
                classical: list[str], kind_names: Sequence[str]) -> dict[str, Any]:
    """The pooled figures again without the points whose truth is disputed.

    The truth is the real file's own confident points, and those hold the DLC network's own
    errors. A point the same model moves by more than ``MOVED_PX`` on the *uncorrupted* file
    is disputed: either a real error that the cleaning fixes (then *moved* counts a fix as
    harm, and a classical method that leaves it scores better) or a false edit on real data.
    The protocol cannot tell them apart, so both figures are reported.
    """
    disp = np.concatenate([r["disputed"] for r in raws])
    disp_u = np.concatenate([r["disputed_untouched"] for r in raws])
    mv = np.concatenate([r["moved"]["ours"] for r in raws])
    keep = ~disp
    ok_u = ~disp_u & np.isfinite(mv)

    def ratio(sel: np.ndarray) -> tuple[float | None, str | None]:
        cl = {m: _pooled_rmse(err[m][sel])[0] for m in classical}
        cl = {m: v for m, v in cl.items() if v}
        o = _pooled_rmse(err["ours"][sel])[0]
        if not cl or o is None:
            return None, None
        b = min(cl, key=cl.get)
        return o / cl[b], b

    r_all, b_all = ratio(keep)
    kinds_out = {}
    for c, kn in enumerate(kind_names, start=1):
        sel = keep & (kinds == c)
        if sel.any():
            rk, bk = ratio(sel)
            kinds_out[kn] = {"n": int(sel.sum()), "ratio_ours_best": rk, "best_classical": bk}
    iv = [r["interval_undisputed"] for r in raws]
    n_iv = sum(v["n"] for v in iv)
    f1 = {}
    for d in ("rules", "verdict"):
        cs = [r["det_undisputed"][d] for r in raws if d in r.get("det_undisputed", {})]
        if cs:
            f1[d] = _f1({k: sum(c[k] for c in cs) for k in ("tp", "fp", "fn")})["f1"]
    return {
        "f1": f1,
        "untouched_disputed_share": float(disp_u.mean()) if disp_u.size else None,
        "corrupted_disputed_share": float(disp.mean()) if disp.size else None,
        "moved_share": float((mv[ok_u] > MOVED_PX).mean()) if ok_u.any() else None,
        "ratio_ours_best": r_all, "best_classical": b_all,
        "kinds": kinds_out,
        "interval90": sum(v["inside"] for v in iv) / n_iv if n_iv else None,
    }


# ============================================================================ report
def write_markdown(report: dict[str, Any], path: Path) -> None:
    """Write the markdown report."""
    from stablemotion_dlc.dlc.constants import DETECTION_THRESHOLD
    from stablemotion_dlc.evaluate.protocol import DURATIONS, KIND_NAMES

    s = report["settings"]
    train_p, test_p = s.get("train_protocol", "A"), s.get("test_protocol", "B")
    kind_names = s.get("kind_names") or list(KIND_NAMES)
    title = ("# Protocol B: real DLC files, errors designed independently of the training "
             "generator" if (train_p, test_p) == ("A", "B") else
             f"# Cross-check: trained on protocol {train_p}, tested on protocol {test_p}")
    lines = [
        title,
        "",
        f"Rerun (one command, from the repository root): `{report['command']}`",
        "",
        f"Code: the working tree at {report.get('started', 'the start')}, commit "
        f"`{report['git_head']}`"
        + (f" with uncommitted changes in {', '.join(report['git_dirty'])}"
           if report["git_dirty"] else "") + ".",
        f"Machine: {report['machine']}; torch {report['torch']} with {s['threads']} thread(s); "
        f"total {report['total_seconds']:.0f} s."
        + ("" if s.get("smooth_jitter", True)
           else " Cleaned with `smooth_jitter=False` (the marked jitter kept as observed)."),
        "",
        "## Protocol",
        "",
    ]
    if (train_p, test_p) != ("A", "B"):
        lines += [
            f"The models train on protocol {train_p}'s errors "
            + ("(`dlc/corruption.py`, the pipeline's own training generator)" if train_p == "A"
               else "(`evaluate.protocol.training_corruptor`: protocol B's generator, for "
                    "this cross-check only)")
            + f" and are tested on protocol {test_p}'s "
            + ("(`evaluate.protocol.corrupt_protocol_a`: `dlc/corruption.py`'s kinds "
               f"{', '.join(kind_names)})" if test_p == "A" else "(below)")
            + ". Everything else is as in `docs/benchmarks/protocol_b.md`.", ""]
    lines += [
        ("Errors are injected by `stablemotion_dlc.evaluate.protocol.corrupt_independent` "
         "(protocol B), written without looking at the training generator "
         "`dlc/corruption.py` (protocol A) and used only for evaluation."
         if test_p == "B" else "Errors are injected by `dlc/corruption.py` (protocol A).")
        + " The confident points of each real file (finite, likelihood >= 0.6) are the "
        f"truth; {100 * s['rate']:.0f} % of them are corrupted (seed {s['seed']})"
        + (", split equally among the kinds:" if test_p == "B" else "."),
        "",
    ]
    if test_p == "B":
        lines += ["| kind | frames | what |", "|---|---|---|"]
    what = {
        "neighbour_swap": "two neighbouring keypoints (2 nearest in the median pose) exchange "
                          "positions, likelihoods stay high",
        "background": "point on a random arena location (>= 0.5 body length away), "
                      "likelihood 0.05-0.5",
        "drift_low": "smooth drift up to 0.5 body length and back (or snapping back), "
                     "likelihood < 0.6 falling with the offset",
        "jump_to_part": "point on another keypoint of the same animal (far parts likelier) "
                        "+ 1-4 px offset, likelihood 0.85-1.0",
        "occlusion": "1-3 neighbouring keypoints NaN, or stale / noisy (3-15 px) with "
                     "likelihood < 0.3",
        "jitter": "Gaussian noise sigma 1-4 px, likelihood unchanged",
        "identity_swap": "two animals exchange all keypoints (multi-animal files)",
    }
    if test_p == "B":
        for k in KIND_NAMES:
            lo, hi = DURATIONS[k]
            lines.append(f"| {k} | {lo}-{hi} | {what[k]} |")
    lines += [
        "",
        f"`ours`: `train_on_tracks` on the file's own corrupted tracks ({s['train_steps']} "
        f"steps{_recipe(s)}; never sees the truth), then `clean_tracks` with its defaults; "
        "`ours_rules`: the same model with `detect=None` (rule-based detection only). "
        "Classical methods: `stablemotion_dlc.evaluate.baselines` with their defaults "
        "(pcutoff 0.6). "
        "RMSE is over the corrupted truth points that got a value (coverage = share that got "
        "one); *common* RMSE is over the points every method filled. *moved* = share of the "
        "untouched truth points moved > 2 px. Detection is scored on the truth points: "
        "`rules` = `CleanResult.suspect.mask`, `model` = `CleanResult.probability > "
        f"{DETECTION_THRESHOLD}` (the model's detector + rules: the flags the cleaning "
        "uses), both with the points the swap finders exchanged back (status "
        "`IDENTITY_FIXED`: they run before the rules, whose mask no longer holds them), "
        "`edits` = points `ours` changed, `likelihood` = "
        "likelihood < 0.6 or missing.",
        "",
        "Tuning files (settings may be chosen on these only): "
        + ", ".join(f["name"] for f in report["files"] if f["split"] == "tuning")
        + ". Held-out files (reporting only): "
        + ", ".join(f["name"] for f in report["files"] if f["split"] == "held-out") + ".",
        "",
    ]
    lines += _targets(report)
    lines += _disputed_section(report)
    for split in SPLITS:
        pooled = report["pooled"].get(split)
        if not pooled:
            continue
        best = pooled.get("best_classical")
        lines += [f"## {split.capitalize()} files", "", "### Pooled", ""]
        if "ratio_ours_best" in pooled:
            lines += [
                f"**ours / best classical ({best}) = {pooled['ratio_ours_best']:.3f}** "
                f"(common points: {pooled['ratio_ours_best_common']:.3f} vs "
                f"{pooled['best_classical_common']}; {pooled['n_common']} of "
                f"{pooled['n_corrupted']} corrupted points filled by every method).",
                "",
            ]
        lines += ["| method | RMSE corrupted | x best classical | coverage | RMSE common | "
                  "moved > 2 px |", "|---|---|---|---|---|---|"]
        for m, v in pooled["methods"].items():
            ratio = (v["rmse"] / pooled["methods"][best]["rmse"]
                     if best and v["rmse"] is not None else None)
            nm = f"**{m}**" if m in (best, "ours") else m
            lines.append(f"| {nm} | {_fmt(v['rmse'])} | {_fmt(ratio, 3)} | "
                         f"{_fmt(v['coverage'], 3)} | {_fmt(v['rmse_common'])} | "
                         f"{_pct(v['moved_share'])} |")
        meths = list(pooled["methods"])
        lines += ["", "### RMSE (px) per kind (coverage in brackets where < 1)", "",
                  "| kind | n | " + " | ".join(meths) + " | best classical | ours / best | "
                  "ours / best, common points |",
                  "|---|---|" + "---|" * (len(meths) + 3)]
        for kn, row in pooled["kinds"].items():
            cells = []
            for m in meths:
                v = row[m]
                c = "" if v["coverage"] is None or v["coverage"] >= 0.9995 else \
                    f" ({v['coverage']:.2f})"
                cells.append(_fmt(v["rmse"]) + c)
            lines.append(f"| {kn} | {row['n']} | " + " | ".join(cells)
                         + f" | {row.get('best_classical')} | "
                           f"{_fmt(row.get('ratio_ours_best'), 2)} | "
                           f"{_fmt(row.get('ratio_ours_best_common'), 2)} "
                           f"({row.get('n_common', 0)} pts) |")
        dets = [d for d in DETECTORS
                if all(f"recall_{d}" in r for r in pooled["kinds"].values())]
        lines += ["", "### Recall per kind (share of its corrupted points flagged)", "",
                  "| kind | " + " | ".join(dets) + " |", "|---|" + "---|" * len(dets)]
        for kn, row in pooled["kinds"].items():
            lines.append(f"| {kn} | " + " | ".join(_fmt(row[f'recall_{d}'], 3) for d in dets)
                         + " |")
        lines += ["", "### Detection (pooled over truth points)", "",
                  "| detector | precision | recall | F1 |", "|---|---|---|---|"]
        for d, v in pooled["detection"].items():
            lines.append(f"| {d} | {_fmt(v['precision'], 3)} | {_fmt(v['recall'], 3)} | "
                         f"{_fmt(v['f1'], 3)} |")
        inside, n_iv = _calibration(report, split)
        if n_iv:
            lines += ["", f"Calibration: {inside / n_iv:.3f} of the {n_iv} corrupted points "
                      "that `ours` changed lie inside their stated 90 % interval "
                      "(target 0.85-0.95)."]
        lines.append("")
    lines += ["## Per file", "",
              "| file | split | frames | animals x keypoints | confident | corrupted | input | "
              "ours | ours_rules | best classical | ours / best | moved ours / best | "
              "F1 rules / verdict | train s |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for f in report["files"]:
        m = f["methods"]
        b = f["best_classical"]
        n_anim = len([i for i in f["individuals"] if i != "single"])
        det = f["detection"]
        lines.append(
            f"| {f['name']} | {f['split']} | {f['frames']} | {n_anim} x {len(f['bodyparts'])} "
            f"| {f['confident_points']} | {f['corrupted_points']} | "
            f"{_fmt(m['input']['rmse'])} | {_fmt(m.get('ours', {}).get('rmse'))} | "
            f"{_fmt(m.get('ours_rules', {}).get('rmse'))} | "
            f"{_fmt(m[b]['rmse']) if b else 'n/a'} ({b}) | {_fmt(f['ratio_ours_best'], 3)} | "
            f"{_pct(m.get('ours', {}).get('moved_share'))} / "
            f"{_pct(m[b]['moved_share']) if b else 'n/a'} | "
            f"{_fmt(det.get('rules', {}).get('f1'), 3)} / "
            f"{_fmt(det.get('verdict', det.get('model', {})).get('f1'), 3)} | "
            f"{_fmt(f['seconds'].get('train'), 0)} |")
    lines += ["", "### RMSE (px) per file and kind: ours / best classical on that kind", "",
              "| file | " + " | ".join(kind_names) + " |", "|---|" + "---|" * len(kind_names)]
    for f in report["files"]:
        cells = []
        for kn in kind_names:
            ours = f["methods"].get("ours", {}).get("kinds", {}).get(kn)
            if not ours:
                cells.append("-")
                continue
            cl = [(f["methods"][m]["kinds"][kn]["rmse"], m) for m in CLASSICAL
                  if m in f["methods"] and f["methods"][m]["kinds"].get(kn, {}).get("rmse")
                  is not None]
            bk = min(cl) if cl else (None, None)
            cells.append(f"{_fmt(ours['rmse'], 1)} / {_fmt(bk[0], 1)}")
        lines.append(f"| {f['name']} | " + " | ".join(cells) + " |")
    cx = report["cross_check"]
    lines += [
        "", "## Cross-check: protocol A (the training generator) vs protocol B", "",
        "The model always trains on protocol A (`train_on_tracks` injects `dlc/corruption.py` "
        "errors). Tested on A = the existing benchmark (" + cx["A"]["source"] + ": 2,000 steps, "
        "first 1,500 frames per file, its own file split); tested on B = this report. "
        "Both directions on these files, with these settings (`--train-protocol` x "
        "`--test-protocol`), are in `protocol_cross_AA.md`, `protocol_cross_BA.md` and "
        "`protocol_cross_BB.md` next to this report.", "",
        "| split | test protocol | ours RMSE | best classical | ours / best | moved > 2 px | "
        "F1 rules | F1 model |", "|---|---|---|---|---|---|---|---|"]
    for split in SPLITS:
        a = cx["A"][split]
        lines.append(f"| {split} | A (trained-on generator) | {a['ours_rmse']:.2f} | "
                     f"{a['best_classical_rmse']:.2f} ({a['best_classical']}) | "
                     f"{a['ratio']:.3f} | {_pct(a['moved'])} | {a['f1_rules']:.3f} | "
                     f"{a['f1_model']:.3f} |")
        b = cx["B"].get(split)
        if b:
            lines.append(f"| {split} | **B (independent)** | {_fmt(b['ours_rmse'])} | "
                         f"{_fmt(b['best_classical_rmse'])} ({b['best_classical']}) | "
                         f"{_fmt(b['ratio'], 3)} | {_pct(b['moved'])} | "
                         f"{_fmt(b['f1_rules'], 3)} | {_fmt(b['f1_model'], 3)} |")
    lines += ["", "## Notes", ""]
    from stablemotion_dlc.dlc.pipeline import DEFAULT_TRAIN_STEPS

    if s["train_steps"] != DEFAULT_TRAIN_STEPS:
        lines.append(f"- Models trained {s['train_steps']} steps, not the pipeline's default "
                     f"{DEFAULT_TRAIN_STEPS}: the run had to fit about 40 min on 2 CPU cores "
                     "shared with other jobs (1 torch thread); rerun with "
                     f"`--train-steps {DEFAULT_TRAIN_STEPS}` where time allows.")
    for f in report["files"]:
        for n in f["notes"]:
            lines.append(f"- {f['name']}: {n}")
    for n in report["notes"]:
        lines.append(f"- {n}")
    path.write_text("\n".join(lines) + "\n")


def _calibration(report: dict[str, Any], split: str) -> tuple[int, int]:
    """(inside, n): the split's changed corrupted points inside their stated 90 % interval."""
    files = [f for f in report["files"] if f["split"] == split]
    return (sum(f.get("interval90", {}).get("inside", 0) for f in files),
            sum(f.get("interval90", {}).get("n", 0) for f in files))


def _kinds_worse(kinds: dict[str, Any]) -> dict[str, float]:
    """The kinds whose ours / best classical ratio is over 1, with the ratio."""
    return {k: v["ratio_ours_best"] for k, v in kinds.items()
            if v.get("ratio_ours_best") is not None and v["ratio_ours_best"] > 1}


def _files_worse(report: dict[str, Any], split: str) -> dict[str, float]:
    """The split's files whose ours / best classical ratio is over 1, with the ratio."""
    return {f["name"]: f["ratio_ours_best"] for f in report["files"]
            if f["split"] == split and f.get("ratio_ours_best") is not None
            and f["ratio_ours_best"] > 1}


def _verdict_f1(detection: dict[str, Any]) -> float | None:
    """The cleaner's verdict F1 (the probability map's in reports made before it existed)."""
    return detection.get("verdict", {}).get("f1", detection.get("model", {}).get("f1"))


def _targets(report: dict[str, Any]) -> list[str]:
    """Markdown table of the issue-20 targets on this protocol, per split."""
    test_p = report["settings"].get("test_protocol", "B")
    lines = [f"## Targets (issue 20) on protocol {test_p}", "",
             "| split | pooled ours / best classical <= 0.5 | kinds worse than the best "
             "classical | files worse than the best classical | untouched moved > 2 px "
             "<= 1 % | F1 model >= rules + 0.05 |", "|---|---|---|---|---|---|"]
    for split in SPLITS:
        p = report["pooled"].get(split)
        if not p or "ratio_ours_best" not in p:
            continue
        r = p["ratio_ours_best"]
        kinds = [f"{k} ({v:.2f}x)" for k, v in _kinds_worse(p["kinds"]).items()]
        files = [f"{k} ({v:.2f}x)" for k, v in _files_worse(report, split).items()]
        mv = p["methods"]["ours"]["moved_share"]
        fr = p["detection"].get("rules", {}).get("f1")
        fp_ = p["detection"].get("model", {}).get("f1")
        fm = _verdict_f1(p["detection"])
        f1_ok = fr is not None and fm is not None and fm >= fr + 0.05
        lines.append(
            f"| {split} | {r:.3f} ({'met' if r <= 0.5 else '**not met**'}) | "
            f"{', '.join(kinds) or 'none'} | {', '.join(files) or 'none'} | "
            f"{_pct(mv)} ({'met' if mv is not None and mv <= 0.01 else '**not met**'}) | "
            f"{_fmt(fm, 3)} vs {_fmt(fr, 3)} ({'met' if f1_ok else '**not met**'}); "
            f"probability map {_fmt(fp_, 3)} |")
    return [*lines, "", "The model's F1 is the cleaner's verdict: the points it changed plus those "
            "its learned jitter detector marks for review (`verdict`). The probability map "
            "(`model`: rules, pose prior, network and jitter probabilities over 0.9, "
            "`DETECTION_THRESHOLD`) keeps "
            "the rules' every flag, also those the repair then keeps.", ""]


def _disputed_section(report: dict[str, Any]) -> list[str]:
    """Markdown: the targets again on the points whose truth the cleaning does not dispute."""
    rows = [(split, report["pooled"][split]) for split in SPLITS
            if split in report["pooled"] and "undisputed" in report["pooled"][split]]
    if not rows:
        return []
    lines = [
        "## Where the truth itself is disputed", "",
        "The truth is each real file's own confident points, so it holds the DLC network's "
        "own errors (e.g. bsoid's `Hind Paw L` sits 80-90 px off the body at likelihood 1.0 "
        "in frames 503-630). The same model cleaning the *uncorrupted* file moves some "
        "confident points by more than 2 px: those points are *disputed*, either a real "
        "error fixed (then *moved* counts the fix as harm) or a false edit on real data; "
        "this protocol cannot tell which. The figures below leave the disputed points out; "
        "the targets above count them.", "",
        "| split | untouched points disputed | moved > 2 px, all / undisputed | pooled ours / "
        "best, all / undisputed | kinds worse than the best classical, undisputed | "
        "calibration, all / undisputed | F1 verdict / rules, undisputed |",
        "|---|---|---|---|---|---|---|"]
    for split, p in rows:
        u = p["undisputed"]
        worse = [f"{k} ({v:.2f}x)" for k, v in _kinds_worse(u["kinds"]).items()]
        inside, n_iv = _calibration(report, split)
        cal = inside / n_iv if n_iv else None
        lines.append(
            f"| {split} | {_pct(u['untouched_disputed_share'])} | "
            f"{_pct(p['methods']['ours']['moved_share'])} / {_pct(u['moved_share'])} | "
            f"{_fmt(p.get('ratio_ours_best'), 3)} / {_fmt(u['ratio_ours_best'], 3)} | "
            f"{', '.join(worse) or 'none'} | {_fmt(cal, 3)} / {_fmt(u['interval90'], 3)} | "
            f"{_fmt(u.get('f1', {}).get('verdict'), 3)} / "
            f"{_fmt(u.get('f1', {}).get('rules'), 3)} |")
    return [*lines, ""]


def cross_check(pooled: dict[str, Any]) -> dict[str, Any]:
    """Protocol A figures (copied) beside protocol B's pooled ones."""
    b: dict[str, Any] = {}
    for split in SPLITS:
        p = pooled.get(split)
        if not p or "ours" not in p["methods"]:
            continue
        best = p["best_classical"]
        b[split] = {"ours_rmse": p["methods"]["ours"]["rmse"], "best_classical": best,
                    "best_classical_rmse": p["methods"][best]["rmse"],
                    "ratio": p.get("ratio_ours_best"),
                    "moved": p["methods"]["ours"]["moved_share"],
                    "f1_rules": p["detection"].get("rules", {}).get("f1"),
                    "f1_model": p["detection"].get("verdict",
                                                   p["detection"].get("model", {})).get("f1")}
    return {"A": PROTOCOL_A, "B": b}


# ============================================================================ main
def _recipe(settings: dict[str, Any]) -> str:
    """``", lr 0.001, cosine"`` when the run overrode the training defaults, else ``""``."""
    parts = [f"lr {settings['lr']:g}" if settings.get("lr") is not None else "",
             str(settings.get("lr_schedule") or "")]
    return "".join(f", {p}" for p in parts if p)


def _train_config(args: argparse.Namespace) -> Any:
    """The pipeline's default training settings, with ``--lr`` / ``--lr-schedule`` applied."""
    from stablemotion_dlc.core.train import TrainConfig
    from stablemotion_dlc.dlc.pipeline import DEFAULT_TRAIN_CONFIG

    cfg = dict(DEFAULT_TRAIN_CONFIG, steps=args.train_steps)
    if args.lr is not None:
        cfg["lr"] = args.lr
    if args.lr_schedule is not None:
        cfg["lr_schedule"] = args.lr_schedule
    return TrainConfig(**cfg)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    p.add_argument("--out", type=Path, default=None,
                   help="report path without suffix (default docs/benchmarks/protocol_b; "
                        "/tmp/protocol_b_quick with --quick)")
    p.add_argument("--train-steps", type=int, default=2000)
    p.add_argument("--lr", type=float, default=None,
                   help="training learning rate (default: the pipeline's)")
    p.add_argument("--lr-schedule", default=None,
                   help="training lr schedule, e.g. cosine (default: the pipeline's)")
    p.add_argument("--methods", default=",".join(ALL_METHODS),
                   help=f"comma-separated, from {ALL_METHODS}")
    p.add_argument("--files", default="", help="comma-separated file names (default all)")
    p.add_argument("--add-file", action="append", default=[], metavar="NAME=PATH",
                   help="also score this file (path under --data) as held-out; repeatable "
                        "(a file the settings never saw, e.g. behaviordepot_demo4="
                        "behaviordepot/demo4_video.csv); with --files none, only these")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 200 frames per file, 20 training steps")
    p.add_argument("--train-protocol", choices=("A", "B"), default="A",
                   help="errors the models train on: A = the pipeline's generator "
                        "(default), B = protocol B's (the cross-check)")
    p.add_argument("--test-protocol", choices=("A", "B"), default="B",
                   help="errors injected for scoring (default B)")
    p.add_argument("--smooth-jitter", action=argparse.BooleanOptionalAction, default=True,
                   help="clean_tracks(smooth_jitter=...) (default on, as the pipeline's; "
                        "--no-smooth-jitter keeps the marked jitter as observed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rate", type=float, default=0.05)
    p.add_argument("--max-frames", type=int, default=0, help="0 = whole files")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--work-dir", type=Path, default=None, help="model files (default: temp)")
    p.add_argument("--reuse-models", action="store_true",
                   help="use <work-dir>/<file>.pt when it exists instead of training again "
                        "(to iterate on cleaning settings; each file's notes say so)")
    p.add_argument("--render", type=Path, default=None,
                   help="only rewrite the markdown of this JSON report (next to it)")
    p.add_argument("--summarize", type=Path, nargs="+", default=None, metavar="REPORT",
                   help="only summarise these JSON reports of one setup run with different "
                        "--seed values (the targets' figures per seed, their mean and range) "
                        "into <out>.{json,md}")
    a = p.parse_args(argv)
    if a.quick:
        a.train_steps = min(a.train_steps, 20)
        a.max_frames = a.max_frames or 200
    if a.out is None:
        a.out = Path("/tmp/protocol_b_quick") if a.quick else (
            REPO / "docs" / "benchmarks" / "protocol_b")
    return a


def selected_files(wanted: set[str], added: list[str]) -> list[tuple[str, str, str]]:
    """The files to score: :data:`FILES` in ``wanted``, then ``added`` as held-out.

    ``wanted`` empty means all of :data:`FILES`; ``added`` holds ``NAME=PATH`` entries
    (``--files none`` scores only those).

    Raises
    ------
    SystemExit
        For an ``added`` entry that is not ``NAME=PATH``.
    """
    out = [f for f in FILES if not wanted or f[0] in wanted]
    for spec in added:
        name, sep, rel = spec.partition("=")
        if not sep or not name or not rel:
            raise SystemExit(f"--add-file wants NAME=PATH, got {spec!r}")
        out.append((name, rel, "held-out"))
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write ``<out>.json`` and ``<out>.md``."""
    import torch

    args = parse_args(argv)
    if args.render is not None:
        write_markdown(json.loads(args.render.read_text()), args.render.with_suffix(".md"))
        return 0
    if args.summarize is not None:
        paths = [str(x) for x in args.summarize]
        summary = summarize([json.loads(x.read_text()) for x in args.summarize], paths)
        summary["out"] = str(args.out)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(summary, indent=1))
        args.out.with_suffix(".md").write_text(summary_markdown(summary))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("stablemotion_dlc").setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        raise SystemExit(f"unknown method(s) {unknown}; known: {ALL_METHODS}")
    from stablemotion_dlc.evaluate.baselines import available_baselines

    avail = available_baselines([m for m in methods if m in CLASSICAL])
    notes = [f"{m}: not installed, skipped" for m in methods
             if m in CLASSICAL and m not in avail]
    methods = [m for m in methods if m not in CLASSICAL or m in avail]
    wanted = {f.strip() for f in args.files.split(",") if f.strip()}
    # the code state the run imports (taken before it starts: others may commit meanwhile)
    git_head = _git("rev-parse", "--short", "HEAD")
    dirty = [ln[3:] for ln in _git("status", "--porcelain").splitlines()
             if ln[3:].startswith("stablemotion_dlc/") and not ln.startswith("??")]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    t_start = time.perf_counter()
    summaries, raws = [], []
    with tempfile.TemporaryDirectory(prefix="protocol_b_") as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for name, rel, split in selected_files(wanted, args.add_file):
            path = args.data / rel
            if not path.is_file():
                notes.append(f"{name}: {path} absent, skipped")
                logger.warning("%s absent, skipped", path)
                continue
            t0 = time.perf_counter()
            s, r = run_file(name, path, split, methods, args, work)
            logger.info("%s (%s): ours %s, best %s %s, ratio %s, %.0f s", name, split,
                        _fmt(s["methods"].get("ours", {}).get("rmse")), s["best_classical"],
                        _fmt(s["methods"][s["best_classical"]]["rmse"])
                        if s["best_classical"] else "n/a",
                        _fmt(s["ratio_ours_best"], 3), time.perf_counter() - t0)
            summaries.append(s)
            raws.append((split, r))
    pooled = {split: pool([r for sp, r in raws if sp == split], methods) for split in SPLITS}
    pooled = {k: v for k, v in pooled.items() if v}
    cmd = ("source scripts/env.sh && OMP_NUM_THREADS=1 python benchmarks/bench_protocol.py "
           + " ".join(shlex.quote(x) for x in (argv if argv is not None else sys.argv[1:])))
    report = {
        "command": cmd.strip(),
        "started": started,
        "git_head": git_head,
        "git_dirty": dirty,
        "machine": f"{platform.platform()}, {os.cpu_count()} CPU(s) (shared)",
        "torch": torch.__version__,
        "settings": {"train_steps": args.train_steps, "lr": args.lr,
                     "lr_schedule": args.lr_schedule, "seed": args.seed, "rate": args.rate,
                     "max_frames": args.max_frames, "threads": args.threads,
                     "methods": methods, "pcutoff": PCUTOFF, "moved_px": MOVED_PX,
                     "train_protocol": args.train_protocol,
                     "smooth_jitter": args.smooth_jitter,
                     "test_protocol": args.test_protocol,
                     "kind_names": list(raws[0][1]["kind_names"]) if raws else None},
        "files": summaries,
        "pooled": pooled,
        "cross_check": cross_check(pooled),
        "notes": notes,
        "total_seconds": time.perf_counter() - t_start,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1, default=_json_default))
    write_markdown(report, args.out.with_suffix(".md"))
    logger.info("wrote %s.{json,md} in %.0f s", args.out, report["total_seconds"])
    return 0


#: The settings that may differ between the runs a summary pools (everything else must match).
_SEED_FREE = ("seed", "threads")


def _seed_row(report: dict[str, Any], split: str) -> dict[str, Any]:
    """The targets' figures of one report's split."""
    p = report["pooled"][split]
    inside, n = _calibration(report, split)
    det, und = p["detection"], p.get("undisputed", {})
    verdict = _verdict_f1(det)
    rules = det["rules"]["f1"]
    u_f1 = und.get("f1", {})
    return {
        "seed": report["settings"]["seed"],
        "ratio_ours_best": p["ratio_ours_best"],
        "moved_share": p["methods"]["ours"]["moved_share"],
        "f1_verdict": verdict,
        "f1_rules": rules,
        "f1_gain": None if verdict is None or rules is None else verdict - rules,
        "f1_gain_undisputed": (u_f1["verdict"] - u_f1["rules"]
                               if u_f1.get("verdict") is not None
                               and u_f1.get("rules") is not None else None),
        "interval90": inside / n if n else None,
        "kinds_worse": _kinds_worse(p["kinds"]),
        "files_worse": list(_files_worse(report, split)),
    }


def summarize(reports: list[dict[str, Any]], paths: list[str]) -> dict[str, Any]:
    """The targets' figures of several runs of one setup that differ only in ``--seed``.

    Per split: one row per run, their mean and their range (a single corruption seed's
    figure for a kind or a file can be decided by one or two long events).

    Raises
    ------
    SystemExit
        When the runs differ in anything but the seed (and threads), or in their files.
    """
    if len(reports) < 2:
        raise SystemExit("--summarize wants two or more reports")

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        st = {k: v for k, v in r["settings"].items() if k not in _SEED_FREE}
        return json.dumps(st, sort_keys=True), tuple(f["name"] for f in r["files"])

    for path, r in zip(paths[1:], reports[1:], strict=True):
        if key(r) != key(reports[0]):
            raise SystemExit(f"{path}: its settings or files differ from {paths[0]}'s in "
                             "more than the seed; a summary pools runs of one setup only")
    seeds = [r["settings"]["seed"] for r in reports]
    if len(set(seeds)) != len(seeds):
        raise SystemExit(f"--summarize: the reports repeat a seed ({seeds})")
    out: dict[str, Any] = {"reports": paths, "settings": reports[0]["settings"],
                           "git_heads": [r.get("git_head") for r in reports], "splits": {}}
    for split in SPLITS:
        if not all(split in r["pooled"] for r in reports):
            continue
        rows = [_seed_row(r, split) for r in reports]
        stats = {}
        for k in ("ratio_ours_best", "moved_share", "f1_verdict", "f1_rules", "f1_gain",
                  "f1_gain_undisputed", "interval90"):
            vals = [r[k] for r in rows if r[k] is not None]
            stats[k] = ({"mean": float(np.mean(vals)), "min": float(min(vals)),
                         "max": float(max(vals))} if vals else None)
        out["splits"][split] = {
            "rows": rows, "stats": stats,
            "seeds_with_a_kind_worse": sum(1 for r in rows if r["kinds_worse"]),
            "seeds_with_a_file_worse": sum(1 for r in rows if r["files_worse"]),
        }
    return out


def _span(stats: dict[str, Any], key: str, pct: bool = False) -> str:
    """``mean (min to max)`` of one of :func:`summarize`'s statistics."""
    v = stats.get(key)
    if v is None:
        return "n/a"
    f = _pct if pct else (lambda x: _fmt(x, 3))
    return f"{f(v['mean'])} ({f(v['min'])} to {f(v['max'])})"


def summary_markdown(summary: dict[str, Any]) -> str:
    """The markdown of :func:`summarize`'s output."""
    st = summary["settings"]
    lines = [f"# Protocol {st.get('test_protocol', 'B')} over {len(summary['reports'])} "
             "corruption seeds", "",
             "Made by: `python benchmarks/bench_protocol.py --summarize "
             + " ".join(summary["reports"]) + " --out "
             + summary.get("out", "<this file without suffix>") + "`", "",
             f"Reports: {', '.join(summary['reports'])} (commits "
             f"{', '.join(str(h) for h in summary['git_heads'])}); trained on protocol "
             f"{st.get('train_protocol')}, {st.get('train_steps')} steps, "
             f"{_pct(st.get('rate'))} of the confident points corrupted. Each seed draws "
             "other errors on the same files (and, run with its own --work-dir, trains its "
             "models on its own corrupted files).", ""]
    for split, s in summary["splits"].items():
        lines += [f"## {split}", "",
                  "| seed | ours / best classical (target <= 0.5) | untouched moved "
                  "(target <= 1 %) | verdict F1 / rules F1 (target +0.05) | undisputed "
                  "F1 gain | inside 90 % interval (target 0.85-0.95) | kinds worse than "
                  "the best classical | files worse |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in s["rows"]:
            kinds = ", ".join(f"{k} {v:.2f}x" for k, v in r["kinds_worse"].items()) or "none"
            lines.append(
                f"| {r['seed']} | {_fmt(r['ratio_ours_best'], 3)} | {_pct(r['moved_share'])} "
                f"| {_fmt(r['f1_verdict'], 3)} / {_fmt(r['f1_rules'], 3)} "
                f"(gain {_fmt(r['f1_gain'], 3)}) | {_fmt(r['f1_gain_undisputed'], 3)} "
                f"| {_fmt(r['interval90'], 3)} | {kinds} | "
                f"{', '.join(r['files_worse']) or 'none'} |")
        m = s["stats"]
        lines += [f"| mean (range) | {_span(m, 'ratio_ours_best')} | "
                  f"{_span(m, 'moved_share', pct=True)} | {_span(m, 'f1_verdict')} / "
                  f"{_span(m, 'f1_rules')} (gain {_span(m, 'f1_gain')}) "
                  f"| {_span(m, 'f1_gain_undisputed')} | {_span(m, 'interval90')} "
                  f"| {s['seeds_with_a_kind_worse']} of {len(s['rows'])} seeds | "
                  f"{s['seeds_with_a_file_worse']} of {len(s['rows'])} seeds |", ""]
    return "\n".join(lines) + "\n"


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return _nan(float(o))
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


if __name__ == "__main__":
    sys.exit(main())
