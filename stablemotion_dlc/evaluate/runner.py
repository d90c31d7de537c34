"""Runner of the real-data benchmark: every method on every file, then the report.

For each file (:data:`~.cases.DEFAULT_FILES`, or the user's), :func:`run_file` builds the
case (:func:`~.cases.make_benchmark_case`, protocol A), trains one model with
:func:`~stablemotion_dlc.dlc.pipeline.train_on_tracks` on that file's own corrupted
predictions (the product's real use: a model per project trained on its own unlabelled data,
never on truth), then runs and scores every method of :func:`~.methods.method_plan`.

Detection is scored for ``ours`` against likelihood < ``pcutoff`` alone and the rules alone
(precision / recall / F1 / AUROC on the confident points). *False edits*: the same model cleans
the file with nothing injected; the share of confident points it moves by more than 2 px is
reported per file. *Speed* (:func:`~.speed.measure_speed`): frames/s of cleaning and seconds of
training against sequence length, next to the baselines. :func:`run_benchmark` runs it all and
writes the report (:func:`~.report.write_report`).
"""

from __future__ import annotations

import logging
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..dlc.corruption import ALL_KINDS
from ..dlc.io import read_tracks
from ..dlc.tracks import Tracks
from .cases import (
    BENCHMARK_KINDS,
    DEFAULT_FILES,
    MOVED_PX,
    PCUTOFF,
    SAMPLE_NAME,
    TUNING_FILES,
    BenchFile,
    BenchmarkCase,
    case_for_file,
)
from .methods import (
    ARIMA_MAX_COLUMNS,
    OURS_VARIANTS,
    QUICK_BASELINES,
    arima_window,
    interp_over,
    likelihood_flags,
    method_plan,
)
from .speed import measure_speed

__all__ = ["run_file", "run_benchmark", "default_data_dir"]

logger = logging.getLogger(__name__)


def _skeleton_indices(tracks: Tracks, eligible: np.ndarray) -> list[tuple[int, int]]:
    from ..dlc.labels import default_skeleton

    try:
        return [(int(a), int(b)) for a, b in default_skeleton(tracks, confident=eligible)]
    except Exception as exc:  # a skeleton is only needed for the bone-CV figure
        logger.warning("%s: no skeleton for bone CV (%s)", tracks.meta.get("source"), exc)
        return []


def _score_method(
    pred: np.ndarray,
    case: BenchmarkCase,
    flag: np.ndarray | None,
    score: np.ndarray | None,
    skeleton: list[tuple[int, int]],
    valid: np.ndarray | None = None,
) -> dict[str, Any]:
    """Metrics of one method on one case (``valid`` restricts the scored frames)."""
    from .metrics import evaluate, untouched_moved

    truth = case.truth
    kinds = case.kinds
    if valid is not None:
        truth = np.where(valid[:, None, None, None], truth, np.nan)
        kinds = np.where(valid[:, None, None], kinds, 0).astype(np.int8)
    corrupted = kinds != 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = evaluate(
            pred,
            truth,
            corrupted,
            kinds=kinds,
            kind_names=ALL_KINDS,
            input_xy=case.corrupted.xy,
            detection=flag,
            score=score,
            skeleton=skeleton or None,
        )
    s = res.summary
    # untouched = confident points never corrupted: their input equals the truth
    mv = untouched_moved(pred, truth, corrupted, MOVED_PX)
    out: dict[str, Any] = {
        "corrupted": {
            k: s[f"corrupted_{k}"]
            for k in ("rmse", "median_error", "mean_error", "pck5", "pck10", "coverage", "n_truth")
        },
        "untouched": {
            k: s[f"clean_{k}"]
            for k in ("rmse", "median_error", "pck5", "pck10", "coverage", "n_truth")
        },
        "moved_share": mv["moved_share"],
        "moved_median": mv["moved_median"],
        "jerk": s["jerk"],
        "truth_jerk": s["truth_jerk"],
        "bone_cv": s.get("bone_cv", float("nan")),
        "truth_bone_cv": s.get("truth_bone_cv", float("nan")),
    }
    for key in ("precision", "recall", "f1", "auroc"):
        if key in s:
            out.setdefault("detection", {})[key] = s[key]
    kinds_tab: dict[str, Any] = {}
    for row in res.per_kind.to_dict("records"):
        if row["code"] == 0:
            continue
        kinds_tab[row["kind"]] = {
            k: row[k]
            for k in ("rmse", "median_error", "pck5", "pck10", "coverage", "n_truth", "input_rmse")
            if k in row
        }
        if "recall" in row:
            kinds_tab[row["kind"]]["recall"] = row["recall"]
        if "auroc" in row:
            kinds_tab[row["kind"]]["auroc"] = row["auroc"]
    out["kinds"] = kinds_tab
    return out


def run_file(
    tracks: Tracks,
    name: str,
    work_dir: Path,
    *,
    seed: int = 0,
    quick: bool = False,
    train_steps: int | None = None,
    methods: Sequence[str] | None = None,
    min_len: int = 64,
    arima_frames: int = 150,
    progress: bool = True,
) -> dict[str, Any]:
    """Benchmark every method on one file (see the module docstring).

    Parameters
    ----------
    tracks : Tracks
        The real predictions of one file.
    name : str
        Name in the report.
    work_dir : Path
        Where the file's model is written.
    seed : int
        Seed of the corruption and of the training.
    quick : bool
        Fewer ablations.
    train_steps : int, optional
        Training steps (default: :data:`~stablemotion_dlc.dlc.pipeline.DEFAULT_TRAIN_STEPS`).
    methods : sequence of str, optional
        Restrict to these method names (baseline names and ``ours*`` variants).
    min_len : int
        Shortest confident stretch used as truth.
    arima_frames : int
        ``dlc_arima`` (very slow) runs on the window of this many frames holding the most
        corrupted points and is scored there only (0 skips it).
    progress : bool
        Progress bar over the methods.

    Returns
    -------
    dict
        JSON-serialisable results plus ``"_arrays"`` (predictions for figures; dropped before
        writing JSON).
    """
    import torch

    from .._progress import progress_bar
    from ..core.inference import Cleaner
    from ..dlc.labels import suspect_mask
    from ..dlc.pipeline import IDENTITY_FIXED, KEPT, clean_tracks, train_on_tracks
    from .baselines import BASELINES

    torch.manual_seed(seed)
    case = case_for_file(tracks, seed, min_len)
    cor = case.corrupted
    n_f, n_i, n_k = cor.xy.shape[:3]
    info: dict[str, Any] = {
        "name": name,
        "source": str(tracks.meta.get("source", "")),
        "frames": n_f,
        "individuals": list(tracks.individuals),
        "bodyparts": list(tracks.bodyparts),
        "eligible_points": int(case.eligible.sum()),
        "eligible_frames": int(case.eligible.any(axis=(1, 2)).sum()),
        "corrupted_points": int(case.mask.sum()),
        "events": len(case.events),
        "min_fraction": case.min_fraction,
        "event_counts": {
            k: sum(ev.kind == k for ev in case.events)
            for k in sorted({ev.kind for ev in case.events})
        },
        "notes": [],
    }
    skeleton = _skeleton_indices(tracks, case.eligible)
    results: dict[str, dict[str, Any]] = {}
    arrays: dict[str, np.ndarray] = {"truth": case.truth, "input": cor.xy, "kinds": case.kinds}
    # ---------------------------------------------------------------- training
    model_path = work_dir / f"{name}.safetensors"
    t0 = time.perf_counter()
    train_on_tracks(
        [cor],
        model_path,
        pcutoff=PCUTOFF,
        steps=train_steps,
        resume=False,
        overwrite=True,
        progress=False,
    )
    info["train_seconds"] = round(time.perf_counter() - t0, 2)
    cleaner = Cleaner.from_file(model_path)
    info["train_steps"] = int(cleaner.bundle.train_config.get("steps", train_steps or 0))

    plan = method_plan(quick, methods)
    bar = progress_bar(plan, desc=name, leave=False, disable=not progress)

    def put(
        m: str,
        xy: np.ndarray,
        seconds: float,
        flag: np.ndarray | None = None,
        score: np.ndarray | None = None,
        valid: np.ndarray | None = None,
        **extra: Any,
    ) -> None:
        r = _score_method(xy, case, flag, score, skeleton, valid)
        r["seconds"] = round(float(seconds), 3)
        r["fps"] = round(n_f / seconds, 1) if seconds > 0 else None
        r.update(extra)
        results[m] = r
        arrays[m] = xy

    ours_res: dict[str, Any] = {}
    for m in bar:
        bar.set_postfix_str(m)
        t0 = time.perf_counter()
        if m == "input":
            put(m, cor.xy.copy(), 0.0)
        elif m in BASELINES:
            b = BASELINES[m]
            ok, why = b.available()
            if not ok:
                info["notes"].append(why)
                logger.warning("%s: %s", name, why)
                continue
            if b.slow:
                if arima_frames <= 0:
                    info["notes"].append(f"{m}: skipped (arima_frames=0)")
                    continue
                if n_i * n_k * 2 > ARIMA_MAX_COLUMNS:
                    info["notes"].append(
                        f"{m}: skipped ({n_i * n_k * 2} coordinate columns; "
                        f"run only with <= {ARIMA_MAX_COLUMNS}, too slow)"
                    )
                    continue
                a, e = arima_window(case.kinds, arima_frames)
                out = np.full(cor.xy.shape, np.nan)
                lik = None if cor.likelihood is None else cor.likelihood[a:e]
                try:
                    out[a:e] = b(cor.xy[a:e], lik)
                except Exception as exc:  # a baseline failing must not stop the benchmark
                    info["notes"].append(f"{m} failed: {exc}")
                    logger.warning("%s: baseline %s failed: %s", name, m, exc)
                    continue
                valid = np.zeros(n_f, bool)
                valid[a:e] = True
                put(m, out, time.perf_counter() - t0, valid=valid, partial=[a, e])
                fps_note = f"{m}: run on frames {a}-{e} only (slow); scored there"
                info["notes"].append(fps_note)
                continue
            try:
                out = b(cor.xy, cor.likelihood)
            except Exception as exc:
                info["notes"].append(f"{m} failed: {exc}")
                logger.warning("%s: baseline %s failed: %s", name, m, exc)
                continue
            put(m, np.asarray(out, dtype=np.float64), time.perf_counter() - t0)
        elif m in OURS_VARIANTS:
            kw: dict[str, Any] = dict(OURS_VARIANTS[m])
            if m == "ours-oracle":
                # detection solved: the true mask, except points the swap fixer put back
                fixed = ours_res["ours"].status == IDENTITY_FIXED
                kw["flag_mask"] = case.mask & ~fixed
            r = clean_tracks(cor, cleaner, pcutoff=PCUTOFF, seed=seed, **kw)
            ours_res[m] = r
            flag = r.status != KEPT
            prob = np.where(~np.isfinite(cor.xy).all(-1), 1.0, r.probability)
            put(m, r.tracks.xy, time.perf_counter() - t0, flag=flag, score=prob)
        else:
            r = ours_res["ours"]
            fixed = r.status == IDENTITY_FIXED
            base = cor.xy.copy()
            base[fixed] = r.tracks.xy[fixed]  # the swap-fixed input, as the cleaner sees it
            max_gap = r.report.get("settings", {}).get("max_gap", 120)
            if m == "rules+interp":
                swapped = cor.copy()
                swapped.xy = base
                lab = suspect_mask(swapped, PCUTOFF).mask
                flag = lab | ~np.isfinite(base).all(-1)
                put(
                    m,
                    interp_over(base, flag, max_gap),
                    time.perf_counter() - t0,
                    flag=flag | fixed,
                    score=(flag | fixed).astype(float),
                )
            elif m == "ours+interp":
                flag = (r.status != KEPT) & ~fixed
                put(m, interp_over(base, flag, max_gap), time.perf_counter() - t0)
            elif m == "oracle+interp" and "ours-oracle" in ours_res:
                put(m, interp_over(base, case.mask & ~fixed, None), time.perf_counter() - t0)
    bar.close()

    # ---------------------------------------------------------------- detection comparison
    from .metrics import auroc, detection_scores

    valid = np.isfinite(case.truth).all(-1)
    lik_flag, lik_score = likelihood_flags(cor, PCUTOFF)
    rules = suspect_mask(cor, PCUTOFF)
    rules_flag = rules.mask | ~np.isfinite(cor.xy).all(-1)
    r = ours_res["ours"]
    ours_flag = r.status != KEPT
    ours_score = np.where(~np.isfinite(cor.xy).all(-1), 1.0, r.probability)
    detection = {}
    for dname, f, sc in (
        ("ours", ours_flag, ours_score),
        ("likelihood", lik_flag, lik_score),
        ("rules", rules_flag, rules_flag.astype(float)),
    ):
        d = detection_scores(f, case.mask, valid=valid)
        d["auroc"] = auroc(sc, case.mask, valid=valid)
        d["recall_per_kind"] = {
            ALL_KINDS[c - 1]: float(f[(case.kinds == c) & valid].mean())
            for c in np.unique(case.kinds)
            if c
        }
        detection[dname] = d

    # ---------------------------------------------------------------- false edits (no injection)
    t0 = time.perf_counter()
    clean_run = clean_tracks(tracks, cleaner, pcutoff=PCUTOFF, seed=seed)
    conf = case.eligible
    mv = np.sqrt(((clean_run.tracks.xy - tracks.xy) ** 2).sum(-1))[conf]
    mv = mv[np.isfinite(mv)]
    false_edits = {
        "confident_points": int(conf.sum()),
        "moved_share": float((mv > MOVED_PX).mean()) if mv.size else float("nan"),
        "changed_share": float((mv > 0).mean()) if mv.size else float("nan"),
        "moved_median": float(np.median(mv)) if mv.size else float("nan"),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    bar_name = "pcutoff_interp_savgol"
    if BASELINES[bar_name].available()[0]:
        bm = BASELINES[bar_name](tracks.xy, tracks.likelihood)
        mvb = np.sqrt(((bm - tracks.xy) ** 2).sum(-1))[conf]
        mvb = mvb[np.isfinite(mvb)]
        false_edits["bar_moved_share"] = float((mvb > MOVED_PX).mean()) if mvb.size else None

    return {
        "info": info,
        "methods": results,
        "detection": detection,
        "false_edits": false_edits,
        "_arrays": arrays,
        "_model": str(model_path),
        "_tracks": tracks,
    }


def _load_files(
    data_dir: Path | None,
    files: Sequence[str] | None,
    quick: bool,
    work: Path,
    seed: int,
    max_frames: int | None = None,
) -> list[tuple[str, bool, Tracks, str]]:
    """``(name, tune, tracks, note)`` of every input; the simulated sample is always added."""
    from ..sample import make_sample_project

    out: list[tuple[str, bool, Tracks, str]] = []
    specs = list(DEFAULT_FILES)
    if files is not None:
        wanted = set(files)
        known = {f.name for f in DEFAULT_FILES} | {SAMPLE_NAME}
        unknown = [f for f in wanted if f not in known and not Path(f).exists()]
        if unknown:
            raise ValueError(
                f"unknown benchmark file(s) {unknown}; known: {sorted(known)} "
                "or paths to DLC .h5/.csv files"
            )
        specs = [f for f in DEFAULT_FILES if f.name in wanted]
        specs += [BenchFile(Path(f).stem, str(Path(f).resolve())) for f in files if f not in known]
    if data_dir is not None and not data_dir.is_dir():
        logger.warning("data folder %s not found; only the simulated sample is used", data_dir)
        data_dir = None
    for spec in specs:
        path = Path(spec.path)
        if not path.is_absolute():
            if data_dir is None:
                continue
            path = data_dir / path
        if not path.exists():
            logger.warning("%s: %s not found; skipped", spec.name, path)
            continue
        tr = read_tracks(path)
        note = ""
        caps = [c for c in (spec.max_frames, max_frames, 600 if quick else None) if c is not None]
        cap = min(caps) if caps else None
        if cap is not None and tr.n_frames > cap:
            note = f"first {cap} of {tr.n_frames} frames used"
            tr = tr.select(frames=slice(0, cap))
        out.append((spec.name, spec.tune, tr, note))
    if files is None or SAMPLE_NAME in files:
        sample = make_sample_project(
            work / "sample",
            seed=seed,
            n_animals=1,
            duration_s=20.0 if quick else 40.0,
            video=False,
            overwrite=True,
            progress=False,
        )
        tr = read_tracks(sample.predictions_h5)
        out.append(
            (
                SAMPLE_NAME,
                False,
                tr,
                "simulated project (stablemotion-dlc sample); its own simulated errors are "
                "part of the input, scored only against the injected ones",
            )
        )
    if not out:
        raise ValueError("no benchmark input found")
    return out


def _strip(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {str(k): _strip(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, (list, tuple)):
        return [_strip(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if np.isfinite(v) else None
    if isinstance(obj, np.ndarray):
        return _strip(obj.tolist())
    return obj


def run_benchmark(
    data_dir: str | Path | None,
    out_dir: str | Path,
    *,
    quick: bool = False,
    seed: int = 0,
    files: Sequence[str] | None = None,
    train_steps: int | None = None,
    methods: Sequence[str] | None = None,
    progress: bool = True,
    overwrite: bool = False,
    speed: bool = True,
    speed_lengths: Sequence[int] | None = None,
    command: str | None = None,
    work_dir: str | Path | None = None,
    threads: int | None = 2,
    max_frames: int | None = 1500,
    speed_train_steps: int | None = None,
) -> Path:
    """Run the real-data benchmark and write its report.

    Parameters
    ----------
    data_dir : str or Path or None
        Folder of real DLC outputs (``shared/data``); missing files are skipped, and without
        it only the simulated sample is used.
    out_dir : str or Path
        Report folder: ``real_data.md``, ``real_data.json`` and ``img/real_*.png``.
    quick : bool
        Smoke-test mode: at most 600 frames per file, few training steps, fewer ablations,
        short speed test (default files: the simulated sample only).
    seed : int
        Seed of corruption, training and sampling.
    files : sequence of str, optional
        Names from :data:`DEFAULT_FILES`, ``"simulated_sample"`` or paths of DLC files.
    train_steps : int, optional
        Training steps per file (default: the pipeline's default; quick: 60).
    methods : sequence of str, optional
        Restrict the methods (baseline names and ``ours*`` variants).
    progress : bool
        Progress bars.
    overwrite : bool
        Replace an existing report.
    speed : bool
        Run the speed test.
    speed_lengths : sequence of int, optional
        Sequence lengths of the speed test (default 1k, 10k, 100k; quick: 1k).
    command : str, optional
        The command line printed at the top of the report (default: ``sys.argv``).
    work_dir : str or Path, optional
        Where models and the sample project go (default: a temporary folder).
    threads : int, optional
        ``torch.set_num_threads`` (default 2).
    max_frames : int, optional
        Use at most the first ``max_frames`` frames of each real file (default 1500, to keep
        a run on a 2-core CPU within ~20 minutes; None: whole files).
    speed_train_steps : int, optional
        Training steps timed in the speed test (default 10; quick: 0, no training timed).

    Returns
    -------
    Path
        The Markdown report.
    """
    import torch

    from .._atomic import check_writable
    from .._progress import progress_bar
    from .report import write_report

    out_dir = Path(out_dir)
    outputs = [out_dir / "real_data.md", out_dir / "real_data.json"]
    for p in outputs:
        check_writable(p, overwrite)
    if threads:
        torch.set_num_threads(int(threads))
    if quick and files is None:
        files = [SAMPLE_NAME]
    if quick and train_steps is None:
        train_steps = 5
    cmd = command or " ".join(["stablemotion-dlc benchmark"] + sys.argv[1:])
    t_start = time.perf_counter()
    tmp_ctx = tempfile.TemporaryDirectory(prefix="smdlc-bench-") if work_dir is None else None
    work = Path(tmp_ctx.name) if tmp_ctx is not None else Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    try:
        inputs = _load_files(
            Path(data_dir) if data_dir else None, files, quick, work, seed, max_frames
        )
        per_file: dict[str, Any] = {}
        for name, tune, tr, note in progress_bar(inputs, desc="files", disable=not progress):
            try:
                res = run_file(
                    tr,
                    name,
                    work,
                    seed=seed,
                    quick=quick,
                    train_steps=train_steps,
                    methods=methods,
                    progress=progress,
                    arima_frames=0 if quick else 150,
                )
            except ValueError as exc:
                logger.warning("%s skipped: %s", name, exc)
                per_file[name] = {
                    "info": {
                        "name": name,
                        "skipped": str(exc),
                        "split": "tuning" if tune else "held-out",
                    }
                }
                continue
            res["info"]["split"] = "tuning" if tune else "held-out"
            if note:
                res["info"]["notes"].insert(0, note)
            per_file[name] = res
        speed_rows: list[dict[str, Any]] = []
        if speed:
            ref = next((r for r in per_file.values() if "_model" in r), None)
            if ref is not None:
                lengths = speed_lengths or ((500,) if quick else (1000, 10000, 100000))
                steps_sp = (
                    speed_train_steps if speed_train_steps is not None else (0 if quick else 10)
                )
                speed_rows = measure_speed(
                    ref["_model"],
                    ref["_tracks"],
                    lengths,
                    baselines=QUICK_BASELINES if quick else None,
                    train_steps=steps_sp,
                    progress=progress,
                    slow_s=20.0,
                    time_budget_s=60 if quick else 300,
                )
                for row in speed_rows:
                    row["file"] = ref["info"]["name"]
        report = {
            "command": cmd,
            "machine": {
                "platform": platform.platform(),
                "python": platform.python_version(),
                "torch": torch.__version__,
                "torch_threads": torch.get_num_threads(),
                "cpus": os.cpu_count(),
            },
            "settings": {
                "quick": quick,
                "seed": seed,
                "pcutoff": PCUTOFF,
                "moved_px": MOVED_PX,
                "train_steps": train_steps,
                "kinds": list(BENCHMARK_KINDS),
                "rate": 0.05,
                "event_len": [1, 60],
                "tuning_files": list(TUNING_FILES),
            },
            "files": per_file,
            "speed": speed_rows,
            "seconds": round(time.perf_counter() - t_start, 1),
        }
        arrays = {n: r["_arrays"] for n, r in per_file.items() if "_arrays" in r}
        try:
            return write_report(report, arrays, out_dir, overwrite=overwrite, strip=_strip)
        except Exception:
            if tmp_ctx is None:  # keep the raw results when the caller keeps the work folder
                import pickle

                keep = {
                    n: {k: v for k, v in r.items() if k != "_tracks"} for n, r in per_file.items()
                }
                with open(work / "benchmark_results.pkl", "wb") as fh:
                    pickle.dump({"report": {**report, "files": keep}, "arrays": arrays}, fh)
                logger.error(
                    "report failed; raw results kept in %s", work / "benchmark_results.pkl"
                )
            raise
    finally:
        if tmp_ctx is not None:
            tmp_ctx.cleanup()


def default_data_dir() -> Path | None:
    """The shared folder of real DLC outputs, when present.

    ``$STABLEMOTION_SHARED_DATA``, else ``../shared/data`` from the working folder or from
    the repository.
    """
    env = os.environ.get("STABLEMOTION_SHARED_DATA")
    for c in ([Path(env)] if env else []) + [
        Path.cwd().parent / "shared" / "data",
        Path(__file__).resolve().parents[3] / "shared" / "data",
    ]:
        if c.is_dir():
            return c
    return None
