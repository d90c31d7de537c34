"""Benchmark of the cleaner on real DLC tracks with injected, labelled corruption.

Protocol (:func:`make_benchmark_case`)
--------------------------------------
Real DLC predictions have no ground truth. Where a real track is *confident* (every keypoint of
an animal present with likelihood >= ``pcutoff`` for at least ``min_len`` consecutive frames,
see :func:`~stablemotion_dlc.dlc.corruption.confident_segments`) its values are taken as the
truth. Seeded errors are injected there with
:func:`~stablemotion_dlc.dlc.corruption.inject_corruption` (confident jitter bursts, drifts
with low likelihood, jumps onto another bodypart or into the background, left/right swaps,
identity swaps between animals, dropouts as NaN and as DeepLabCut 3's ``-1`` placeholder,
frozen points; events of 1-60 frames, log-uniform, about ``rate`` of the confident points).
The cleaner and the baselines then see the corrupted tracks (the rest of the file as it is),
and are scored on the confident points only: *corrupted* points against the original value,
*untouched* confident points against themselves (they should not move).

Runner (:func:`run_benchmark`)
------------------------------
For each file, one model is trained with :func:`~stablemotion_dlc.dlc.pipeline.train_on_tracks`
on that file's own corrupted predictions (the product's real use: a model per project trained
on its own unlabelled data, never on truth), then every method is run and scored:

``input``              the corrupted predictions as they are;
baselines              every available entry of
                       :data:`~stablemotion_dlc.evaluate.baselines.BASELINES` (the ones whose
                       package is absent are skipped with a message; ``dlc_arima`` runs on a
                       cropped segment only, see ``arima_frames``);
``ours``               :func:`~stablemotion_dlc.dlc.pipeline.clean_tracks` with its defaults;
``rules+interp``       rule-based detection (+ the same swap fixing) with linear interpolation
                       (no network at all);
``ours+interp``        exactly the points ``ours`` replaced, linearly interpolated (our
                       detection, no network for the repair);
``ours-oracle``        the network told the true corruption mask (detection solved), and its
                       twin ``oracle+interp``;
``ours-nodetect``      the network repairing what the rules flag (no learned detector);
``ours-allnet``        the network repairs every flagged run (``min_network_run=None``; by
                       default short runs are filled by body-relative interpolation);
``ours-10step``        10 sampling steps instead of one x0 prediction;
``ours-ens4``          4 repair candidates averaged;
``ours-nosits``        without the soft inpainting timestep schedule;
``ours-probdet``       ProbDet detection (averaged stochastic runs) instead of one pass.

Detection is scored for ``ours`` against likelihood < ``pcutoff`` alone and the rules alone
(precision / recall / F1 / AUROC on the confident points). *False edits*: the same model cleans
the file with nothing injected; the share of confident points it moves by more than 2 px is
reported per file. *Speed*: frames/s of cleaning and seconds of training against sequence
length (tiled copies of a real file), next to the baselines.

Files are split into a fixed *tuning* set (:data:`TUNING_FILES`, the only files any setting
may be chosen on) and *held-out* files reported separately.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._arrays import true_runs
from ..dlc.constants import DEFAULT_PCUTOFF
from ..dlc.corruption import (
    ALL_KINDS,
    CORRUPTION_KINDS,
    CorruptionEvent,
    confident_segments,
    inject_corruption,
)
from ..dlc.io import read_tracks
from ..dlc.tracks import UNIQUE_NAME, Tracks

__all__ = [
    "BENCHMARK_KINDS",
    "BenchFile",
    "BenchmarkCase",
    "DEFAULT_FILES",
    "TUNING_FILES",
    "SAMPLE_NAME",
    "make_benchmark_case",
    "interp_over",
    "run_file",
    "measure_speed",
    "run_benchmark",
    "build_benchmark_argparser",
    "add_benchmark_parser",
]

logger = logging.getLogger(__name__)

#: Kinds injected by the benchmark: every training kind plus ``-1`` placeholder dropouts.
BENCHMARK_KINDS: tuple[str, ...] = CORRUPTION_KINDS + ("dropout_neg1",)
PCUTOFF = DEFAULT_PCUTOFF
MOVED_PX = 2.0
#: Variants of our cleaner (``clean_tracks`` settings; see the module docstring).
OURS_VARIANTS: tuple[str, ...] = ("ours", "ours-oracle", "ours-nodetect", "ours-allnet",
                                  "ours-10step", "ours-nosits", "ours-ens4", "ours-probdet")
#: ``dlc_arima`` fits one SARIMAX model per coordinate column: only run on files with at most
#: this many columns (and on a cropped window, see ``arima_frames``).
ARIMA_MAX_COLUMNS = 12
#: Baselines run in quick mode (fast, no optional package).
QUICK_BASELINES: tuple[str, ...] = ("linear", "savgol", "pcutoff_interp_savgol", "dlc_median")
SAMPLE_NAME = "simulated_sample"


@dataclass(frozen=True)
class BenchFile:
    """One benchmark input.

    Attributes
    ----------
    name : str
        Short name used in the report.
    path : str
        Path relative to the data folder.
    tune : bool
        True for the fixed tuning files (any setting may only be chosen on these).
    max_frames : int, optional
        Use the first ``max_frames`` frames only (long files, to keep the run short).
    """

    name: str
    path: str
    tune: bool = False
    max_frames: int | None = None


#: The real files with enough confident frames (see ``shared/data/README.md``).
DEFAULT_FILES: tuple[BenchFile, ...] = (
    BenchFile("openfield", "openfield_m3v1/m3v1mp4DLC_resnet50_openfieldAug20shuffle1_30000.h5",
              tune=True),
    BenchFile("behaviordepot_demo1", "behaviordepot/demo1_tracking.csv", tune=True,
              max_frames=3000),
    BenchFile("bsoid", "bsoid/raw_clip1DLC_resnet50_OpenFieldHighResApr8shuffle1_1030000.h5",
              max_frames=3000),
    BenchFile("behaviordepot_demo2", "behaviordepot/demo2_tracking.csv", max_frames=3000),
    BenchFile("behaviordepot_demo4", "behaviordepot/demo4_video.csv", max_frames=3000),
    BenchFile("deepof_square_arena", "deepof/testDLC_square_arena.h5"),
    BenchFile("vame", "vame/cropped_video.csv"),
    BenchFile("sleap_centered_pair", "sleap_centered_pair/centered_pair_predictions_DLC.h5"),
    BenchFile("montblanc", "montblanc/montblanc_tracks.h5"),
)
#: Names of the tuning files (everything else is held out).
TUNING_FILES: tuple[str, ...] = tuple(f.name for f in DEFAULT_FILES if f.tune)


# ============================================================================ protocol
@dataclass
class BenchmarkCase:
    """One corrupted copy of real tracks, with its truth (output of :func:`make_benchmark_case`).

    Unpacks as ``truth, corrupted, kinds``.

    Attributes
    ----------
    truth : np.ndarray
        ``(T, I, K, 2)`` the original coordinates of the confident points used as truth; NaN
        for every other point (not scored).
    corrupted : Tracks
        The tracks given to the cleaners: the input with errors injected (dropouts are NaN in
        memory, as :func:`~stablemotion_dlc.dlc.io.read_tracks` returns both NaN and ``-1``
        placeholders).
    kinds : np.ndarray
        ``(T, I, K)`` int8 kind code per point (0 untouched; see
        :data:`~stablemotion_dlc.dlc.corruption.KIND_CODES`).
    eligible : np.ndarray
        ``(T, I, K)`` bool: the confident points (truth known, may have been corrupted).
    events : list of CorruptionEvent
        The injected events (individual indices refer to ``corrupted.individuals``).
    segments : list of (start, stop, individual)
        The confident stretches.
    min_fraction : float
        Share of an animal's keypoints that had to be confident in each frame of a stretch.
    """

    truth: np.ndarray
    corrupted: Tracks
    kinds: np.ndarray
    eligible: np.ndarray
    events: list[CorruptionEvent] = field(default_factory=list)
    segments: list[tuple[int, int, int]] = field(default_factory=list)
    min_fraction: float = 1.0

    def __iter__(self) -> Iterator[Any]:
        return iter((self.truth, self.corrupted, self.kinds))

    @property
    def mask(self) -> np.ndarray:
        """``(T, I, K)`` bool: corrupted points."""
        return self.kinds != 0


def _animal_block(tracks: Tracks) -> tuple[list[int], list[int]]:
    """Animal individuals (not the unique-bodypart ``single``) and the keypoints all of them
    carry."""
    animals = [i for i, n in enumerate(tracks.individuals) if n != UNIQUE_NAME]
    if not animals:
        return [], []
    kps = [k for k in range(tracks.n_keypoints) if tracks.present[animals, k].all()]
    return animals, kps


def make_benchmark_case(
    tracks: Tracks,
    rng: np.random.Generator,
    *,
    pcutoff: float = PCUTOFF,
    min_len: int = 64,
    rate: float = 0.05,
    kinds: Sequence[str] = BENCHMARK_KINDS,
    max_event_len: int = 60,
    min_fraction: float = 1.0,
) -> BenchmarkCase:
    """Corrupt the confident stretches of real tracks and keep them as the truth.

    Parameters
    ----------
    tracks : Tracks
        Real DLC predictions (not modified).
    rng : np.random.Generator
        Seeded source of randomness (same seed and input -> same case).
    pcutoff : float
        A point is confident when present with likelihood >= ``pcutoff``.
    min_len : int
        Shortest confident stretch (frames) used as truth.
    rate : float
        Target share of the confident points to corrupt.
    kinds : sequence of str
        Corruption kinds (see :mod:`stablemotion_dlc.dlc.corruption`); kinds that cannot apply
        (identity swaps with one animal, left/right swaps without such names) are skipped.
    max_event_len : int
        Longest event in frames (events are 1..``max_event_len`` frames, log-uniform).
    min_fraction : float
        Share of an animal's keypoints that must be confident in every frame of a stretch;
        inside a stretch only the confident points themselves are used.

    Returns
    -------
    BenchmarkCase
        Unpacks as ``(truth, corrupted, kinds)``.

    Raises
    ------
    ValueError
        When the tracks have no confident stretch of ``min_len`` frames (the message names
        the source file).
    """
    source = str(tracks.meta.get("source", "tracks"))
    animals, kps = _animal_block(tracks)
    if not animals or len(kps) == 0:
        raise ValueError(f"{source}: no animal keypoints to benchmark on")
    xy = tracks.xy[:, animals][:, :, kps]  # (T, A, Kp, 2)
    lik = None if tracks.likelihood is None else tracks.likelihood[:, animals][:, :, kps]
    confident = np.isfinite(xy).all(axis=-1)
    if lik is not None:
        with np.errstate(invalid="ignore"):
            confident &= lik >= pcutoff
    segments = confident_segments(xy, lik, pcutoff, min_len, min_fraction=min_fraction)
    if not segments:
        raise ValueError(
            f"{source}: no stretch of {min_len} frames where {min_fraction:.0%} of an animal's "
            f"keypoints have likelihood >= {pcutoff}; nothing to use as truth")
    elig_sub = np.zeros(confident.shape, dtype=bool)
    for s, e, a in segments:
        elig_sub[s:e, a] = confident[s:e, a]
    bad_kinds = [k for k in kinds if k not in ALL_KINDS]
    if bad_kinds:
        raise ValueError(f"unknown corruption kinds {bad_kinds}; known: {list(ALL_KINDS)}")
    names = [tracks.bodyparts[k] for k in kps]
    placeholder = -1.0
    cor = inject_corruption(xy, lik, rng, kinds=list(kinds), rate=rate, min_len=1,
                            max_len=max_event_len, bodyparts=names, eligible=elig_sub,
                            placeholder=placeholder)
    new_xy = cor.xy
    new_lik = cor.likelihood
    neg1 = cor.kinds == ALL_KINDS.index("dropout_neg1") + 1
    if neg1.any():
        # DeepLabCut 3 writes -1 for missing points; read_tracks returns them as NaN, so the
        # cleaners see what they would see after reading such a file.
        new_xy[neg1] = np.nan
        if new_lik is not None:
            new_lik[neg1] = np.nan
    corrupted = tracks.copy()
    grid = np.ix_(np.arange(tracks.n_frames), animals, kps)
    corrupted.xy[grid] = new_xy
    if corrupted.likelihood is not None and new_lik is not None:
        corrupted.likelihood[grid] = new_lik
    corrupted.meta = dict(corrupted.meta)
    corrupted.meta["benchmark"] = {"kinds": list(kinds), "rate": rate, "pcutoff": pcutoff}

    shape = tracks.xy.shape[:3]
    codes = np.zeros(shape, dtype=np.int8)
    codes[grid] = cor.kinds
    eligible = np.zeros(shape, dtype=bool)
    eligible[grid] = elig_sub
    truth = np.full(tracks.xy.shape, np.nan)
    truth[eligible] = tracks.xy[eligible]
    events = [
        CorruptionEvent(ev.kind, ev.start, ev.stop, tuple(animals[i] for i in ev.individuals),
                        tuple(kps[k] for k in ev.keypoints),
                        None if ev.source is None else kps[ev.source])
        for ev in cor.events
    ]
    segs = [(s, e, animals[a]) for s, e, a in segments]
    return BenchmarkCase(truth, corrupted, codes, eligible, events, segs, min_fraction)


def _case_for_file(tracks: Tracks, seed: int, min_len: int) -> BenchmarkCase:
    """The benchmark case of one file: all keypoints confident if possible, else 75 %."""
    last: ValueError | None = None
    for frac in (1.0, 0.75):
        try:
            case = make_benchmark_case(tracks, np.random.default_rng(seed), min_len=min_len,
                                       min_fraction=frac)
        except ValueError as exc:
            last = exc
            continue
        if case.eligible.any(axis=(1, 2)).sum() >= max(2 * min_len, 0.25 * tracks.n_frames):
            return case
        last = ValueError(f"too few confident frames with min_fraction {frac}")
        fallback = case
    if "fallback" in locals():
        return fallback
    assert last is not None
    raise last


# ============================================================================ methods
def interp_over(xy: np.ndarray, flag: np.ndarray, max_gap: int | None = None) -> np.ndarray:
    """Linear interpolation in time over flagged (and missing) points.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, I, K, 2)`` coordinates.
    flag : np.ndarray
        ``(T, I, K)`` bool: points to replace.
    max_gap : int, optional
        Runs of replaced frames longer than this keep their values (as the cleaner does).

    Returns
    -------
    np.ndarray
        A copy with flagged points interpolated from the nearest unflagged ones (held
        constant before the first / after the last).
    """
    out = np.array(xy, dtype=np.float64, copy=True)
    t = np.arange(xy.shape[0])
    for i in range(xy.shape[1]):
        for k in range(xy.shape[2]):
            bad = flag[:, i, k] | ~np.isfinite(xy[:, i, k]).all(-1)
            good = ~bad
            if not good.any() or not bad.any():
                continue
            fill = bad.copy()
            if max_gap is not None:
                for a, b in zip(*true_runs(bad), strict=True):
                    if b - a > max_gap:
                        fill[a:b] = False
            for c in range(2):
                out[fill, i, k, c] = np.interp(t[fill], t[good], xy[good, i, k, c])
    return out


def _likelihood_flags(tracks: Tracks, pcutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Likelihood thresholding alone: flags and a score (1 - likelihood; missing = 1)."""
    missing = ~np.isfinite(tracks.xy).all(-1)
    if tracks.likelihood is None:
        return missing, missing.astype(float)
    lik = np.nan_to_num(tracks.likelihood, nan=0.0)
    score = np.where(missing, 1.0, 1.0 - np.clip(lik, 0.0, 1.0))
    return missing | (lik < pcutoff), score


def _skeleton_indices(tracks: Tracks, eligible: np.ndarray) -> list[tuple[int, int]]:
    from ..dlc.labels import default_skeleton

    try:
        return [(int(a), int(b)) for a, b in default_skeleton(tracks, confident=eligible)]
    except Exception as exc:  # a skeleton is only needed for the bone-CV figure
        logger.warning("%s: no skeleton for bone CV (%s)", tracks.meta.get("source"), exc)
        return []


def _ours_methods(quick: bool, methods: Sequence[str] | None) -> list[str]:
    full = list(OURS_VARIANTS)
    quick_set = ["ours", "ours-oracle", "ours-nosits"]
    chosen = quick_set if quick else full
    if methods is not None:
        chosen = [m for m in full if m in methods]
        if "ours" not in chosen:
            chosen.insert(0, "ours")  # the ablations are defined relative to it
    return chosen


def _arima_window(kinds: np.ndarray, n: int) -> tuple[int, int]:
    """The ``n``-frame window holding the most corrupted points."""
    t = kinds.shape[0]
    if t <= n:
        return 0, t
    per_frame = (kinds != 0).sum(axis=(1, 2)).astype(float)
    csum = np.r_[0.0, np.cumsum(per_frame)]
    counts = csum[n:] - csum[:-n]
    a = int(np.argmax(counts))
    return a, a + n


def _score_method(pred: np.ndarray, case: BenchmarkCase, flag: np.ndarray | None,
                  score: np.ndarray | None, skeleton: list[tuple[int, int]],
                  valid: np.ndarray | None = None) -> dict[str, Any]:
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
        res = evaluate(pred, truth, corrupted, kinds=kinds, kind_names=ALL_KINDS,
                       input_xy=case.corrupted.xy, detection=flag, score=score,
                       skeleton=skeleton or None)
    s = res.summary
    # untouched = confident points never corrupted: their input equals the truth
    mv = untouched_moved(pred, truth, corrupted, MOVED_PX)
    out: dict[str, Any] = {
        "corrupted": {k: s[f"corrupted_{k}"] for k in
                      ("rmse", "median_error", "mean_error", "pck5", "pck10", "coverage",
                       "n_truth")},
        "untouched": {k: s[f"clean_{k}"] for k in
                      ("rmse", "median_error", "pck5", "pck10", "coverage", "n_truth")},
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
        kinds_tab[row["kind"]] = {k: row[k] for k in
                                  ("rmse", "median_error", "pck5", "pck10", "coverage",
                                   "n_truth", "input_rmse") if k in row}
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
    from tqdm.auto import tqdm

    from ..core.inference import Cleaner
    from ..dlc.labels import suspect_mask
    from ..dlc.pipeline import IDENTITY_FIXED, KEPT, clean_tracks, train_on_tracks
    from .baselines import BASELINES

    torch.manual_seed(seed)
    case = _case_for_file(tracks, seed, min_len)
    cor = case.corrupted
    n_f, n_i, n_k = cor.xy.shape[:3]
    info: dict[str, Any] = {
        "name": name, "source": str(tracks.meta.get("source", "")), "frames": n_f,
        "individuals": list(tracks.individuals), "bodyparts": list(tracks.bodyparts),
        "eligible_points": int(case.eligible.sum()),
        "eligible_frames": int(case.eligible.any(axis=(1, 2)).sum()),
        "corrupted_points": int(case.mask.sum()),
        "events": len(case.events), "min_fraction": case.min_fraction,
        "event_counts": {k: sum(ev.kind == k for ev in case.events)
                         for k in sorted({ev.kind for ev in case.events})},
        "notes": [],
    }
    skeleton = _skeleton_indices(tracks, case.eligible)
    results: dict[str, dict[str, Any]] = {}
    arrays: dict[str, np.ndarray] = {"truth": case.truth, "input": cor.xy,
                                     "kinds": case.kinds}
    # ---------------------------------------------------------------- training
    model_path = work_dir / f"{name}.safetensors"
    t0 = time.perf_counter()
    train_on_tracks([cor], model_path, pcutoff=PCUTOFF, steps=train_steps, resume=False,
                    overwrite=True, progress=False)
    info["train_seconds"] = round(time.perf_counter() - t0, 2)
    cleaner = Cleaner.from_file(model_path)
    info["train_steps"] = int(cleaner.bundle.train_config.get("steps", train_steps or 0))

    wanted = None if methods is None else set(methods)
    base_names = [b for b in BASELINES if wanted is None or b in wanted]
    if quick and wanted is None:
        base_names = [b for b in base_names if b in QUICK_BASELINES]
    ours_names = _ours_methods(quick, methods)
    plan = ["input"] + base_names + ours_names + ["rules+interp", "ours+interp",
                                                  "oracle+interp"]
    bar = tqdm(plan, desc=name, leave=False, disable=not progress)

    def put(m: str, xy: np.ndarray, seconds: float, flag: np.ndarray | None = None,
            score: np.ndarray | None = None, valid: np.ndarray | None = None,
            **extra: Any) -> None:
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
                    info["notes"].append(f"{m}: skipped ({n_i * n_k * 2} coordinate columns; "
                                         f"run only with <= {ARIMA_MAX_COLUMNS}, too slow)")
                    continue
                a, e = _arima_window(case.kinds, arima_frames)
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
            kw: dict[str, Any] = {}
            if m == "ours-oracle":
                # detection solved: the true mask, except points the swap fixer put back
                fixed = ours_res["ours"].status == IDENTITY_FIXED
                kw = {"flag_mask": case.mask & ~fixed, "detect": None, "max_gap": None}
            elif m == "ours-nodetect":
                kw = {"detect": None}
            elif m == "ours-10step":
                kw = {"steps": 10}
            elif m == "ours-nosits":
                kw = {"sits": False}
            elif m == "ours-ens4":
                kw = {"ensemble": 4}
            elif m == "ours-probdet":
                kw = {"detect": "probdet"}
            elif m == "ours-allnet":
                if "min_network_run" not in inspect.signature(clean_tracks).parameters:
                    info["notes"].append(f"{m}: skipped (clean_tracks has no min_network_run)")
                    continue
                kw = {"min_network_run": None}
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
                put(m, interp_over(base, flag, max_gap), time.perf_counter() - t0,
                    flag=flag | fixed, score=(flag | fixed).astype(float))
            elif m == "ours+interp":
                flag = (r.status != KEPT) & ~fixed
                put(m, interp_over(base, flag, max_gap), time.perf_counter() - t0)
            elif m == "oracle+interp" and "ours-oracle" in ours_res:
                put(m, interp_over(base, case.mask & ~fixed, None), time.perf_counter() - t0)
    bar.close()

    # ---------------------------------------------------------------- detection comparison
    from .metrics import auroc, detection_scores

    valid = np.isfinite(case.truth).all(-1)
    lik_flag, lik_score = _likelihood_flags(cor, PCUTOFF)
    rules = suspect_mask(cor, PCUTOFF)
    rules_flag = rules.mask | ~np.isfinite(cor.xy).all(-1)
    r = ours_res["ours"]
    ours_flag = r.status != KEPT
    ours_score = np.where(~np.isfinite(cor.xy).all(-1), 1.0, r.probability)
    detection = {}
    for dname, f, sc in (("ours", ours_flag, ours_score), ("likelihood", lik_flag, lik_score),
                         ("rules", rules_flag, rules_flag.astype(float))):
        d = detection_scores(f, case.mask, valid=valid)
        d["auroc"] = auroc(sc, case.mask, valid=valid)
        d["recall_per_kind"] = {
            ALL_KINDS[c - 1]: float(f[(case.kinds == c) & valid].mean())
            for c in np.unique(case.kinds) if c}
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

    return {"info": info, "methods": results, "detection": detection,
            "false_edits": false_edits, "_arrays": arrays,
            "_model": str(model_path), "_tracks": tracks}


# ============================================================================ speed
def _tile(tracks: Tracks, n: int) -> Tracks:
    """A ``n``-frame sequence made of forward and time-reversed copies of ``tracks``
    (continuous at the joins)."""
    fwd = np.arange(tracks.n_frames)
    period = np.r_[fwd, fwd[::-1]]
    idx = np.resize(period, n)
    return tracks.select(frames=idx)


def measure_speed(
    model: str | Path,
    tracks: Tracks,
    lengths: Sequence[int] = (1000, 10000, 100000),
    *,
    baselines: Sequence[str] | None = None,
    train_steps: int = 20,
    progress: bool = True,
    time_budget_s: float = 240.0,
    slow_s: float = 20.0,
) -> list[dict[str, Any]]:
    """Cleaning and training time against sequence length, next to the baselines.

    Parameters
    ----------
    model : path
        A model trained on ``tracks``' project.
    tracks : Tracks
        Real tracks; tiled (forward, reversed, ...) to each length.
    lengths : sequence of int
        Sequence lengths in frames.
    baselines : sequence of str, optional
        Baselines timed alongside (default: the fast available ones).
    train_steps : int
        Steps of the timed training run (its seconds/step and set-up time are reported).
    progress : bool
        Progress bar.
    time_budget_s : float
        Lengths are skipped once the elapsed time exceeds this (noted in the result).
    slow_s : float
        A baseline that took longer than this is not timed on longer sequences.

    Returns
    -------
    list of dict
        One row per length: ``frames, individuals, keypoints, clean_seconds, clean_fps,
        train_seconds, train_s_per_step, baselines {name: seconds}``.
    """
    from tqdm.auto import tqdm

    from ..core.inference import Cleaner
    from ..dlc.pipeline import clean_tracks, train_on_tracks
    from .baselines import BASELINES

    cleaner = Cleaner.from_file(model)
    names = [b for b in (baselines if baselines is not None else BASELINES)
             if b in BASELINES and not BASELINES[b].slow and BASELINES[b].available()[0]]
    rows: list[dict[str, Any]] = []
    too_slow: dict[str, str] = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="smdlc-speed-") as tmp:
        for n in tqdm(list(lengths), desc="speed", leave=False, disable=not progress):
            if time.perf_counter() - start > time_budget_s:
                rows.append({"frames": int(n), "skipped": "time budget exhausted"})
                continue
            tr = _tile(tracks, int(n))
            row: dict[str, Any] = {"frames": int(n), "individuals": tr.n_individuals,
                                   "keypoints": tr.n_keypoints}
            t0 = time.perf_counter()
            clean_tracks(tr, cleaner, pcutoff=PCUTOFF)
            dt = time.perf_counter() - t0
            row["clean_seconds"] = round(dt, 3)
            row["clean_fps"] = round(n / dt, 1)
            row["baselines"] = {}
            for b in names:
                if b in too_slow:
                    row["baselines"][b] = f"skipped: {too_slow[b]}"
                    continue
                t0 = time.perf_counter()
                try:
                    BASELINES[b](tr.xy, tr.likelihood)
                except Exception as exc:
                    row["baselines"][b] = f"failed: {exc}"
                    continue
                row["baselines"][b] = round(time.perf_counter() - t0, 3)
                if row["baselines"][b] > slow_s:
                    too_slow[b] = f"took {row['baselines'][b]:.0f} s at {n} frames"
            if train_steps <= 0:
                rows.append(row)
                continue
            t0 = time.perf_counter()
            train_on_tracks([tr], Path(tmp) / f"speed_{n}.safetensors", steps=train_steps,
                            resume=False, overwrite=True, progress=False)
            dt = time.perf_counter() - t0
            row["train_seconds"] = round(dt, 2)
            row["train_steps"] = train_steps
            row["train_s_per_step"] = round(dt / train_steps, 4)
            rows.append(row)
    return rows


# ============================================================================ runner
def _load_files(data_dir: Path | None, files: Sequence[str] | None, quick: bool,
                work: Path, seed: int, max_frames: int | None = None
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
            raise ValueError(f"unknown benchmark file(s) {unknown}; known: {sorted(known)} "
                             "or paths to DLC .h5/.csv files")
        specs = [f for f in DEFAULT_FILES if f.name in wanted]
        specs += [BenchFile(Path(f).stem, str(Path(f).resolve())) for f in files
                  if f not in known]
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
        caps = [c for c in (spec.max_frames, max_frames, 600 if quick else None)
                if c is not None]
        cap = min(caps) if caps else None
        if cap is not None and tr.n_frames > cap:
            note = f"first {cap} of {tr.n_frames} frames used"
            tr = tr.select(frames=slice(0, cap))
        out.append((spec.name, spec.tune, tr, note))
    if files is None or SAMPLE_NAME in files:
        sample = make_sample_project(work / "sample", seed=seed, n_animals=1,
                                     duration_s=20.0 if quick else 40.0, video=False,
                                     overwrite=True, progress=False)
        tr = read_tracks(sample.predictions_h5)
        out.append((SAMPLE_NAME, False, tr,
                    "simulated project (stablemotion-dlc sample); its own simulated errors are "
                    "part of the input, scored only against the injected ones"))
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
    from tqdm.auto import tqdm

    from .._atomic import check_writable
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
        inputs = _load_files(Path(data_dir) if data_dir else None, files, quick, work, seed,
                             max_frames)
        per_file: dict[str, Any] = {}
        for name, tune, tr, note in tqdm(inputs, desc="files", disable=not progress):
            try:
                res = run_file(tr, name, work, seed=seed, quick=quick, train_steps=train_steps,
                               methods=methods, progress=progress,
                               arima_frames=0 if quick else 150)
            except ValueError as exc:
                logger.warning("%s skipped: %s", name, exc)
                per_file[name] = {"info": {"name": name, "skipped": str(exc),
                                           "split": "tuning" if tune else "held-out"}}
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
                steps_sp = speed_train_steps if speed_train_steps is not None else (
                    0 if quick else 10)
                speed_rows = measure_speed(ref["_model"], ref["_tracks"], lengths,
                                           baselines=QUICK_BASELINES if quick else None,
                                           train_steps=steps_sp, progress=progress,
                                           slow_s=20.0,
                                           time_budget_s=60 if quick else 300)
                for row in speed_rows:
                    row["file"] = ref["info"]["name"]
        report = {
            "command": cmd,
            "machine": {"platform": platform.platform(), "python": platform.python_version(),
                        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                        "cpus": os.cpu_count()},
            "settings": {"quick": quick, "seed": seed, "pcutoff": PCUTOFF,
                         "moved_px": MOVED_PX, "train_steps": train_steps,
                         "kinds": list(BENCHMARK_KINDS), "rate": 0.05, "event_len": [1, 60],
                         "tuning_files": list(TUNING_FILES)},
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

                keep = {n: {k: v for k, v in r.items() if k != "_tracks"}
                        for n, r in per_file.items()}
                with open(work / "benchmark_results.pkl", "wb") as fh:
                    pickle.dump({"report": {**report, "files": keep}, "arrays": arrays}, fh)
                logger.error("report failed; raw results kept in %s",
                             work / "benchmark_results.pkl")
            raise
    finally:
        if tmp_ctx is not None:
            tmp_ctx.cleanup()


# ============================================================================ CLI
def build_benchmark_argparser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``benchmark`` options to ``parser`` (and its handler as ``handler``)."""
    parser.add_argument("--data", type=Path, default=None,
                        help="folder of real DLC outputs (default: ../shared/data when present)")
    parser.add_argument("--out", "-o", type=Path, default=Path("docs/benchmarks"),
                        help="report folder (default: docs/benchmarks)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: simulated sample only, few steps (< 1 min)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--files", nargs="+", default=None,
                        help="benchmark files by name (" + ", ".join(
                            [f.name for f in DEFAULT_FILES] + [SAMPLE_NAME]) + ") or path")
    parser.add_argument("--train-steps", type=int, default=None,
                        help="training steps per file (default: the pipeline's default)")
    parser.add_argument("--methods", nargs="+", default=None,
                        help="restrict methods (baseline names, ours-* variants)")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed test")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep models here (default: a temporary folder)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    parser.add_argument("--max-frames", type=int, default=1500,
                        help="frames used per real file (default: 1500; 0: whole files)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing report")
    parser.set_defaults(handler=_cmd_benchmark)
    return parser


def _default_data_dir() -> Path | None:
    env = os.environ.get("STABLEMOTION_SHARED_DATA")
    for c in ([Path(env)] if env else []) + [Path.cwd().parent / "shared" / "data",
                                              Path(__file__).resolve().parents[3] / "shared"
                                              / "data"]:
        if c.is_dir():
            return c
    return None


def _cmd_benchmark(args: argparse.Namespace) -> int:
    data = args.data if args.data is not None else _default_data_dir()
    cmd = "stablemotion-dlc benchmark " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else \
        "stablemotion-dlc benchmark"
    path = run_benchmark(data, args.out, quick=args.quick, seed=args.seed, files=args.files,
                         train_steps=args.train_steps, methods=args.methods,
                         progress=not args.no_progress, overwrite=args.overwrite,
                         speed=not args.no_speed, command=cmd, work_dir=args.work_dir,
                         threads=args.threads, max_frames=args.max_frames or None)
    print(f"report: {path}")
    return 0


def add_benchmark_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the ``benchmark`` subcommand on an ``add_subparsers()`` object."""
    p = sub.add_parser(
        "benchmark",
        help="benchmark the cleaner on real DLC tracks with injected errors",
        description=(
            "Take the confident stretches of real DLC outputs as truth, inject seeded errors, "
            "train a model per file on its own corrupted predictions, clean, and compare with "
            "the classical baselines and ablations. Writes real_data.md/.json and figures."
        ),
    )
    return build_benchmark_argparser(p)


ProgressFn = Callable[[int, int], None]
