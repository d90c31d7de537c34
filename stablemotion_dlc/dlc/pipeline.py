"""The DeepLabCut pipeline: train a cleaner on a project's own predictions, clean tracks.

Data flow of :func:`clean_tracks` (pure, in memory):

1. identity swaps between animals and left/right swaps within one are found and undone
   (:mod:`~stablemotion_dlc.dlc.identity`), each correction recorded;
2. suspect points are labelled by robust rules (:func:`~stablemotion_dlc.dlc.labels.suspect_mask`:
   likelihood below ``pcutoff``, missing, jumps, bones, swaps, stuck points);
3. per animal, the keypoints are encoded
   (:class:`~stablemotion_dlc.dlc.representation.KeypointRepresentation`), the model's own
   detector adds what the rules missed; flagged runs shorter than ``min_network_run`` frames
   are filled by linear interpolation of the body-relative features (body centre and offsets
   from it), longer ones are inpainted by the diffusion model
   (:class:`~stablemotion_dlc.core.inference.Cleaner`) - the benchmark
   (docs/benchmarks/dlc_pipeline.md) found the network better than that interpolation on
   runs of about 16 frames and more;
4. decoded back to pixels; every point that was not flagged keeps its value bit for bit.

:func:`clean_h5` wraps this for a DLC project the way ``deeplabcut.filterpredictions`` does:
it finds the video's analysed file, trains a model first when the project has none, and
writes ``<video stem><scorer>[_tracker]_filtered.h5`` (+ ``.csv``) that
``create_labeled_video(..., filtered=True)`` reads, plus a provenance file beside it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._arrays import interp_fill, save_npz, true_runs
from .._atomic import atomic_outputs, check_outputs
from ..errors import (
    AnalyzedDataNotFoundError,
    ConfigError,
    ModelMismatchError,
    OptionError,
    TrainingDataError,
)
from .constants import DEFAULT_PCUTOFF, DETECTION_THRESHOLD
from .io import input_files, read_tracks, write_tracks
from .jitter import file_jitter, jitter_marks
from .labels import BONE, JUMP, LOW_LIKELIHOOD, ON_PART, STUCK, SWAP, SuspectLabels, suspect_mask
from .pose_prior import fit_pose_prior, pose_flags
from .project import (
    DlcProject,
    as_project,
    collect_videos,
    find_analyzed,
    output_files,
)
from .repair import repair_animal
from .representation import KeypointRepresentation
from .tracks import Tracks

if TYPE_CHECKING:  # pragma: no cover
    from ..core.inference import Cleaner
    from ..core.train import TrainConfig

__all__ = [
    "KEPT",
    "REPLACED",
    "GAP_FILLED",
    "IDENTITY_FIXED",
    "STATUS_NAMES",
    "CleanResult",
    "clean_tracks",
    "continuous_runs",
    "check_clean_options",
    "save_clean_result",
    "train_on_tracks",
    "train",
    "clean_h5",
    "needs_training",
    "DEFAULT_TRAIN_STEPS",
    "DEFAULT_MIN_NETWORK_RUN",
    "DEFAULT_TRAIN_CONFIG",
]

logger = logging.getLogger(__name__)

KEPT, REPLACED, GAP_FILLED, IDENTITY_FIXED = 0, 1, 2, 3
STATUS_NAMES = ("kept", "replaced", "gap-filled", "identity-fixed")

#: Flagged runs shorter than this (frames) are repaired by body-relative interpolation, longer
#: ones by the network (see :func:`clean_tracks`). With the true error mask, the embedded
#: default beats that interpolation on runs of 16 frames and more on both simulated tests and
#: still loses on 1-7 frame runs (docs/benchmarks/dlc_pipeline.md).
DEFAULT_MIN_NETWORK_RUN = 16

#: Training steps of the embedded default. 600 steps with a cosine decay from lr 1e-3 score as
#: the earlier 2,000 steps at a constant 1e-4 did, in about 30 % of the CPU time: the same
#: cleaned points on a simulated 10-minute file (RMSE 2.446 px both), protocol B's nine real
#: files 0.464 vs 0.458 of the best classical (held-out; 0.255 vs 0.254 tuning), the real-error
#: pair 22.96 vs 22.83 px (docs/performance.md, section 4).
DEFAULT_TRAIN_STEPS = 600

#: :class:`~stablemotion_dlc.core.train.TrainConfig` fields of the embedded default (the rest
#: are TrainConfig's defaults). The "tiny" network trains about 3x faster than "small" on a CPU.
#: Inpainting masks are mostly contiguous spans (``span_share``) over a subset of the keypoints
#: (``whole_frame_share``), down to one frame (``min_mask_frames``): DLC errors are short runs
#: on one or a few keypoints, and with the core's defaults (whole-frame masks half the time, at
#: least 5 frames) the network learned large corrections that made one-keypoint gaps worse
#: than interpolation (benchmark: 15.4 vs 11.9 px RMSE after 1,500 steps; 11.9 vs 11.8 with
#: these settings after 500). ``short_gap_share`` = 0.9: 90 % of the inpainting masks are
#: DLC-like (1-3 spans on one or 2-3 keypoints, log-uniform 1-60 frames); this cut the
#: network's error on 1-15 frame runs from 11-13 px to 4-7 px and made "network on every run"
#: better than body-relative interpolation overall (12.25 vs 12.45 px, 6.26 vs 6.39 px).
DEFAULT_TRAIN_CONFIG: dict[str, Any] = {
    "model": "tiny",
    "lr": 1e-3,
    "lr_schedule": "cosine",
    "whole_frame_share": 0.1,
    "span_share": 0.9,
    "min_mask_frames": 1,
    "short_gap_share": 0.9,
}

ProgressFn = Callable[[int, int], None]
StopFn = Callable[[], bool]


# ============================================================================ results
@dataclass
class CleanResult:
    """Output of :func:`clean_tracks`.

    Attributes
    ----------
    tracks : Tracks
        Cleaned copy of the input (same shapes, names, index and metadata).
    status : np.ndarray
        ``(frames, individuals, keypoints)`` uint8: 0 kept, 1 replaced, 2 gap-filled
        (the input point was missing), 3 identity-fixed (moved between individuals or
        left/right keypoints, values untouched). See :data:`STATUS_NAMES`.
    probability : np.ndarray
        ``(frames, individuals, keypoints)`` float32 probability that the *input* point was
        bad: the model's detection, raised to 1 where a rule flagged the point and to the
        learned jitter probability (``jitter``).
    uncertainty : np.ndarray
        ``(frames, individuals, keypoints)`` float32 spread (px) of the ensemble candidates
        for changed points (0 with a single candidate or for kept points).
    suspect : SuspectLabels
        The rule-based labels of the (swap-corrected) input.
    corrections : list
        :class:`~stablemotion_dlc.dlc.identity.Correction` records of undone swaps.
    report : dict
        Counts, settings and timing (JSON-serialisable).
    jitter : np.ndarray or None
        ``(frames, individuals, keypoints)`` float32 probability of the file's learned jitter
        detector (:func:`~stablemotion_dlc.dlc.jitter.detect_jitter`) for the confident
        points no rule flagged, 0 elsewhere; None when it did not run.
    smoothed : np.ndarray or None
        ``(frames, individuals, keypoints)`` bool, the marked points that were smoothed
        (status replaced; ``smooth_jitter``); None when the jitter detector did not run.
    """

    tracks: Tracks
    status: np.ndarray
    probability: np.ndarray
    uncertainty: np.ndarray
    suspect: SuspectLabels
    corrections: list[Any] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    jitter: np.ndarray | None = None
    smoothed: np.ndarray | None = None

    def jitter_points(self) -> np.ndarray:
        """``(frames, individuals, keypoints)`` bool: kept points the jitter detector marks."""
        if self.jitter is None:
            return np.zeros(self.status.shape, bool)
        return jitter_marks(self.jitter, skip=self.suspect.mask) & (self.status == KEPT)

    def summary(self) -> dict[str, int]:
        """Number of points per status."""
        return {name: int((self.status == code).sum()) for code, name in enumerate(STATUS_NAMES)}


# ============================================================================ helpers
def _as_cleaner(model: Any, batch_size: int = 64, device: str | None = None) -> Cleaner:
    from ..core.inference import Cleaner

    if isinstance(model, Cleaner):
        return model
    if model is None:
        raise ValueError("clean_tracks needs a model (a path or a Cleaner); see train()")
    return Cleaner.from_file(model, KeypointRepresentation, device=device, batch_size=batch_size)


def _configure_threads(cleaner: Cleaner) -> None:
    """Torch's CPU threads for cleaning (:func:`stablemotion_dlc._threads.configure_threads`)."""
    from .._threads import configure_threads, model_work

    width = getattr(getattr(cleaner.model, "config", None), "width", None)
    work = None if width is None else model_work(width, cleaner.batch_size, cleaner.window)
    configure_threads(work, device=cleaner.device.type)


def _animal_columns(tracks: Tracks, rep: KeypointRepresentation, source: str) -> list[int]:
    """Keypoint columns of the representation's bodyparts in ``tracks`` (else a clear error)."""
    names = list(tracks.bodyparts)
    missing = [b for b in rep.bodyparts if b not in names]
    if missing:
        raise ModelMismatchError(
            f"{source}: the model was trained on bodyparts {rep.bodyparts}; the tracks have "
            f"{names} (missing {missing}). Train a model for this project (stablemotion-dlc "
            f"train) or pass the right model."
        )
    return [names.index(b) for b in rep.bodyparts]


def _limit_runs(mask: np.ndarray, max_len: int | None) -> np.ndarray:
    """Drop runs longer than ``max_len`` along axis 0 of ``(T, K)``; they stay as they are."""
    if max_len is None:
        return mask
    out = mask.copy()
    for k in range(mask.shape[1]):
        for a, b in zip(*true_runs(mask[:, k])):
            if b - a > max_len:
                out[a:b, k] = False
    return out


def _limit_gaps(flag: np.ndarray, missing: np.ndarray, max_len: int | None) -> np.ndarray:
    """Drop runs of *missing* points longer than ``max_len`` (they stay missing, never invented).

    Observed flagged points stay flagged whatever their run's length: the repair keeps each
    one its validated repair does not contradict
    (:func:`~stablemotion_dlc.dlc.repair.repair_animal`), so a point 300 px off inside a long
    flagged stretch is still repaired.
    """
    return (_limit_runs(flag & missing, max_len) | (flag & ~missing))


def _changed_likelihood(pcutoff: float) -> float:
    """Likelihood written for changed points: midway between ``pcutoff`` and 1."""
    return 0.5 * (1.0 + float(pcutoff))


def check_clean_options(**options: Any) -> None:
    """Refuse invalid :func:`clean_tracks` options before any work.

    Raises
    ------
    OptionError
        Naming the option and the value (``ensemble=0``, ``steps=-1``, ``threshold=2``...).
    """
    positive = ("steps", "ensemble", "probdet_runs", "batch_size")
    for name in positive:
        v = options.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer))
                              or v < 1):
            raise OptionError(f"{name} must be a whole number >= 1, got {v!r}")
    for name in ("threshold", "pcutoff"):
        v = options.get(name)
        if v is not None and not (isinstance(v, (int, float)) and 0.0 <= float(v) <= 1.0):
            raise OptionError(f"{name} must be a number in [0, 1], got {v!r}")
    for name in ("max_gap", "min_network_run"):
        v = options.get(name)
        if v is not None and (not isinstance(v, (int, np.integer)) or v < 0):
            raise OptionError(f"{name} must be a whole number >= 0 or None, got {v!r}")
    if "detect" in options and options["detect"] not in (None, "single", "probdet"):
        raise OptionError(f"detect must be 'single', 'probdet' or None, got "
                          f"{options['detect']!r}")


def _bone_set(bones: Sequence[Sequence[str]] | None) -> set[frozenset[str]]:
    return {frozenset(b) for b in bones or []}


def model_label_settings(cleaner: Cleaner) -> dict[str, Any]:
    """The rule-label settings a model was trained with: ``pcutoff`` and ``skeleton``.

    Empty for models written before they were recorded.
    """
    labels = cleaner.bundle.spec.get("labels") or {}
    return dict(labels) if isinstance(labels, dict) else {}


def _label_settings(cleaner: Cleaner, project: DlcProject | None, pcutoff: float | None,
                    skeleton: Sequence[Sequence[str]] | None, names: Sequence[str], *,
                    warn: bool = True) -> tuple[float, list[tuple[str, str]] | None]:
    """The pcutoff and rule skeleton for cleaning: given > project > model > default.

    Logs a warning when they differ from those the model was trained with.
    """
    trained = model_label_settings(cleaner)
    if pcutoff is None:
        if project is not None:
            pcutoff = project.pcutoff
        elif trained.get("pcutoff") is not None:
            pcutoff = float(trained["pcutoff"])
        else:
            pcutoff = DEFAULT_PCUTOFF
    bones: list[tuple[str, str]] | None
    if skeleton is not None:
        bones = [(str(a), str(b)) for a, b in skeleton]
    elif project is not None:
        bones = project.skeleton_for(names)
    elif trained.get("skeleton"):
        bones = [(a, b) for a, b in trained["skeleton"] if a in names and b in names] or None
    else:
        bones = None
    if warn and trained:
        where = str(project.config_path) if project is not None else "this call"
        t_cut = trained.get("pcutoff")
        if t_cut is not None and abs(float(t_cut) - float(pcutoff)) > 1e-9:
            logger.warning("the model was trained with pcutoff %s but cleaning uses %s (%s); "
                           "the rule labels differ from training: retrain the model "
                           "(stablemotion-dlc train --restart) or pass pcutoff=%s",
                           t_cut, pcutoff, where, t_cut)
        if _bone_set(trained.get("skeleton")) != _bone_set(bones):
            logger.warning("the model was trained with skeleton %s but cleaning uses %s (%s); "
                           "the bone rule differs from training: retrain the model "
                           "(stablemotion-dlc train --restart)",
                           trained.get("skeleton") or "(learned default)",
                           bones or "(learned default)", where)
    return float(pcutoff), bones


# ============================================================================ cleaning
def clean_tracks(
    tracks: Tracks,
    model: str | Path | Cleaner,
    *,
    pcutoff: float | None = None,
    config_path: str | Path | DlcProject | None = None,
    skeleton: Sequence[Sequence[str]] | None = None,
    detect: str | None = "single",
    threshold: float = DETECTION_THRESHOLD,
    probdet_runs: int = 8,
    steps: int = 1,
    ensemble: int = 1,
    sits: bool = True,
    fix_swaps: bool = True,
    max_gap: int | None = 120,
    seed: int = 0,
    batch_size: int = 64,
    device: str | None = None,
    progress: bool | ProgressFn = False,
    should_stop: StopFn | None = None,
    flag_mask: np.ndarray | None = None,
    min_network_run: int | None = DEFAULT_MIN_NETWORK_RUN,
    check_model: bool = True,
    repair: str = "auto",
    pose_rule: bool = True,
    keep_plausible: bool = True,
    keep_low_likelihood: bool = False,
    keep_stuck: bool = False,
    smooth_jitter: bool = True,
    learn_jitter: bool = True,
    on_ood: str = "fallback",
) -> CleanResult:
    """Detect and repair bad keypoints in memory; the input is not modified.

    Parameters
    ----------
    tracks : Tracks
        Tracks to clean (any layout; unique bodyparts included): a video's predictions. A
        labelled-data file, whose rows are images, is refused
        (:meth:`Tracks.require_video_rows`).
    model : str, Path or Cleaner
        A model file written by :func:`train` / :func:`train_on_tracks`, or a loaded cleaner.
    pcutoff : float, optional
        Likelihood threshold. Default: the project's ``pcutoff`` when ``config_path`` is
        given, else the one the model was trained with, else
        :data:`~.constants.DEFAULT_PCUTOFF`.
    config_path : str, Path or DlcProject, optional
        The DLC project (pcutoff, skeleton): its ``config.yaml`` or, parsed once, a
        :class:`~.project.DlcProject`.
    skeleton : list of (str, str), optional
        Bones for the bone rule; default: the config's, else the one the model was trained
        with, else the labels' default (the same rule :func:`train_on_tracks` used). A
        pcutoff or skeleton other than the model's training ones is logged as a warning.
    detect : {"single", "probdet"} or None
        The model's own detector (one x0 prediction, or ProbDet's averaged stochastic runs);
        None uses the rule-based labels alone.
    threshold : float, default :data:`~.constants.DETECTION_THRESHOLD` (0.9)
        Detection probability above which a point is replaced.
    probdet_runs : int
        Runs averaged by ProbDet.
    steps : int
        Diffusion sampling steps for the repair (1 = one x0 prediction).
    ensemble : int
        Repair candidates averaged; their spread is the uncertainty.
    sits : bool
        Soft inpainting timestep schedule (mildly suspicious points are nudged, not replaced).
    fix_swaps : bool
        Find and undo identity swaps (multi-animal) and left/right swaps first.
    max_gap : int, optional
        Runs of missing points longer than this (per keypoint) stay missing rather than
        invented. Observed flagged points are repaired whatever their run's length, unless
        their repair does not contradict them (``keep_plausible``). None: no limit.
    seed : int
        Seed of the sampling noise.
    batch_size : int
        Windows per network call.
    device : str, optional
        Torch device (default CPU).
    progress : bool or callable
        True shows progress bars; a callable receives ``(done, total)`` steps.
    should_stop : callable, optional
        Polled regularly; returning True cancels
        (:class:`~stablemotion_dlc.core.inference.CleanupCancelled`).
    flag_mask : np.ndarray, optional
        ``(frames, individuals, keypoints)`` bool: points to repair in addition to what the
        rules and the detector flag (e.g. points marked by hand; with ``detect=None`` and an
        exact mask this is "detection solved"). It replaces the rules and the detector:
        only these points (and missing ones) are repaired.
    min_network_run : int, optional
        Flagged runs (per keypoint) shorter than this many frames are repaired by linear
        interpolation of the body-relative features (the body centre and each keypoint's
        offset from it, interpolated separately, which follows the body's motion); longer
        runs are inpainted by the network. The benchmark found the network better than
        this interpolation on runs of about 16 frames and more (see
        docs/benchmarks/dlc_pipeline.md). 0 or None: the network repairs everything.
    check_model : bool
        Warn when the pcutoff or skeleton differ from those the model was trained with
        (a batch checks once, then passes False).

    repair : {"auto", "network", "interp", "pose", "linear"}
        How flagged points are repaired. ``auto`` (default) hides spans of the animal's own
        trustworthy points, fills them with every candidate (body-relative interpolation,
        pose-anchored interpolation, the network) and uses per run length the one that
        predicted best (:mod:`~stablemotion_dlc.dlc.repair`); a name forces one.
        ``network`` is the behaviour of earlier versions (no pose prior at all).
    pose_rule : bool
        Flag points the file's pose prior finds impossible
        (:mod:`~stablemotion_dlc.dlc.pose_prior`).
    keep_plausible : bool
        Keep a flagged observed point that its repair does not contradict (see
        :func:`~stablemotion_dlc.dlc.repair.repair_animal`), and a flagged stretch of
        confident points that the point entered and left smoothly (:func:`continuous_runs`);
        never for ``flag_mask``.
    keep_low_likelihood : bool
        Let ``keep_plausible`` keep points below ``pcutoff`` too (default: they are
        always repaired, as DeepLabCut's own pcutoff convention has it).
    keep_stuck : bool
        Let ``keep_plausible`` keep points the STUCK rule flagged (a value repeated to
        0.05 px while the body moves). Default: they are always repaired: a stale value is
        not a measurement, so a repair landing near it is no evidence for it. On protocol
        A's tuning files (frozen points are one of its kinds) keeping them left 74 % of the
        frozen points as they were (edits' recall 0.26, RMSE 8.55 px); repairing them gives
        recall 0.77 and 6.31 px, with right points moved 0.19 % -> 0.18 % (0.87, 6.18 px and
        0.16 % with the STUCK rule's body travel lowered to ``min_jump``).
    smooth_jitter : bool
        Smooth (Savitzky-Golay, or a running median where the keypoint's own data show that
        it errs less, :func:`~stablemotion_dlc.dlc.repair.smooth_jitter`) the
        points found jittering, where what the fit takes off scatters every way round (noise)
        rather than along a path (a paw stepping, a head turning: those stay as observed and
        marked, :data:`~stablemotion_dlc.dlc.repair.MIN_ISOTROPY`); they count as replaced,
        with their own interval. With ``learn_jitter`` these are the learned detector's
        finds; with ``learn_jitter=False`` a fixed threshold's (8x the keypoint's usual
        frame-to-frame noise over 15 frames). On by default, chosen on the tuning files:
        injected jitter 1.28x -> 0.99x the best classical on protocol B and 1.52x -> 1.26x
        on protocol A, untouched points moved 0.22 % -> 0.21 % and 0.16 % -> 0.18 %; on the
        real-error pair right points moved 0.65 % -> 0.73 %. Reported after the choice: on
        protocol B's held-out files jitter 1.54x -> 1.48x, untouched points moved 0.92 % ->
        1.01 %, mostly a file's own noisy stretches (docs/quality.md). Without the learned
        detector (also with ``detect=None``) the fixed threshold finds them.
    learn_jitter : bool
        Learn the file's own jitter (:func:`~stablemotion_dlc.dlc.jitter.detect_jitter`, a
        classifier fitted on noise bursts added to the file's own points) and mark the
        confident points no rule flagged that it finds: their probability is raised, they
        are smoothed (``smooth_jitter``; counted in the report's ``smoothed_points``), or
        kept for review where they moved along a path (:meth:`CleanResult.jitter_points`,
        the report's ``jitter_points``).
        Only with the model's detection (``detect``) and no ``flag_mask``.
    on_ood : {"fallback", "refuse", "ignore"}
        When the core's input check (:meth:`~stablemotion_dlc.core.inference.Cleaner.
        check_input`) finds an animal unlike the model's training data (a model of another
        project or camera): ignore the model's detection and repair only what the rules flag,
        by interpolation, with a warning (``fallback``); raise (``refuse``); or go on.

    Returns
    -------
    CleanResult
        Cleaned tracks plus per-point provenance; ``uncertainty`` is the radius (px) of a
        90 % interval: the 90th percentile of the chosen repair's errors on the file's own
        held-out points, times :data:`~.repair.INTERVAL_SCALE` (twice that next to the
        file's start or end; a run below ``pcutoff`` at an end, held at the nearest
        trustworthy value, states the keypoint's own 90 % displacement over as many
        frames, see :data:`~.repair.MAX_HOLD`).

    Notes
    -----
    Changed points get the likelihood ``(1 + pcutoff) / 2`` (plotted by DLC, below truly
    confident points); kept points keep theirs. Points of individuals or keypoints that have no
    trustworthy value at all are reported and left unchanged, never invented.
    """
    check_clean_options(pcutoff=pcutoff, detect=detect, threshold=threshold,
                        probdet_runs=probdet_runs, steps=steps, ensemble=ensemble,
                        max_gap=max_gap, batch_size=batch_size, min_network_run=min_network_run)
    tracks.require_video_rows()
    t0 = time.perf_counter()
    if repair not in ("auto", "network", "interp", "pose", "linear"):
        raise ValueError(f"repair must be auto, network, interp, pose or linear, got {repair!r}")
    cleaner = _as_cleaner(model, batch_size=batch_size, device=device)
    from ..core.inference import merge_detection

    _configure_threads(cleaner)
    rep = cleaner.rep
    if not isinstance(rep, KeypointRepresentation):
        rep = KeypointRepresentation.from_spec(cleaner.bundle.spec)
    source = str(tracks.meta.get("source", "tracks"))
    cols = _animal_columns(tracks, rep, source)
    project = as_project(config_path) if config_path is not None else None
    pcutoff, skeleton = _label_settings(cleaner, project, pcutoff, skeleton, tracks.bodyparts,
                                        warn=check_model)

    work, far = _without_far_points(tracks)
    base = work.copy() if far.any() else tracks
    n_f, n_i, n_k = work.xy.shape[:3]
    status = np.zeros((n_f, n_i, n_k), np.uint8)
    smoothed = np.zeros((n_f, n_i, n_k), bool)
    corrections: list[Any] = []
    new_lik = _changed_likelihood(pcutoff)  # the likelihood of every changed point
    swaps_undone = fix_swaps and work.n_frames > 2
    reversals: list[Any] = []
    if swaps_undone:
        from .identity import (
            find_identity_swaps,
            find_lr_swaps,
            find_neighbour_swaps,
            find_partial_identity_swaps,
            find_reversals,
            fix_identity_swaps,
            fix_lr_swaps,
        )

        events = find_identity_swaps(work, pcutoff=pcutoff)
        if events:
            work, corr = fix_identity_swaps(work, events)
            corrections += corr
        parts = find_partial_identity_swaps(work, pcutoff=pcutoff, anchors=events)
        if parts:
            work, corr = fix_identity_swaps(work, parts)
            corrections += corr
        lr_events = find_lr_swaps(work, pcutoff=pcutoff)
        if lr_events:
            work, corr = fix_lr_swaps(work, lr_events)
            corrections += corr
        pair_events = find_neighbour_swaps(work, pcutoff=pcutoff, seed=seed)
        if pair_events:
            work, corr = fix_lr_swaps(work, pair_events)
            corrections += corr
        reversals = find_reversals(work, pcutoff=pcutoff)
        if reversals:
            work, corr = fix_lr_swaps(work, reversals)
            corrections += corr
            _relabel_likelihood(work, reversals, new_lik)
        moved = ~_same_points(work, base)
        status[moved] = IDENTITY_FIXED

    # the swaps found above are undone in ``work``: the SWAP rule does not search again
    labels = suspect_mask(work, pcutoff, skeleton=skeleton,
                          swap_events=([], []) if swaps_undone else None)
    forced = np.zeros(work.xy.shape[:3], bool)  # flagged on strong evidence: never kept
    trusted = np.zeros(work.xy.shape[:3], bool)  # evidence of a reversal: not detected
    shifts: dict[str, list[tuple[float, float]]] = {}
    swap_radius = np.zeros(work.xy.shape[:3], np.float32)
    if swaps_undone and reversals:
        forced, trusted = _flag_reversed(work, labels, reversals, pcutoff)
        shifts = _shift_exchanged_fronts(work, reversals, forced, trusted, swap_radius)
    given = None
    if flag_mask is not None:
        given = np.asarray(flag_mask, dtype=bool)
        if given.shape != (n_f, n_i, n_k):
            raise ValueError(f"flag_mask must have shape {(n_f, n_i, n_k)}, got {given.shape}")
    prob = labels.mask.astype(np.float32)
    p_jitter = None
    jitter_found = None  # the marks, for the smoothing
    if learn_jitter and detect is not None and given is None:
        import torch

        p_jitter = np.zeros(prob.shape, np.float32)
        p_jitter[:, :, cols] = file_jitter(
            work.xy[:, :, cols], None if work.likelihood is None else work.likelihood[:, :, cols],
            labels.mask[:, :, cols], pcutoff, exclude=status[:, :, cols] != KEPT, seed=seed,
            threads=torch.get_num_threads())
        jitter_found = jitter_marks(p_jitter, skip=labels.mask)
    unc = np.where(status == IDENTITY_FIXED, swap_radius, 0.0).astype(np.float32)
    out_xy = work.xy.copy()
    out_lik = None if work.likelihood is None else work.likelihood.copy()
    animals = [i for i in range(n_i) if work.present[i, cols].all()]
    notes: list[str] = [
        f"{name}: the exchanged front ends of {len(offs)} reversed stretch(es) moved by "
        f"{', '.join(f'({a:.1f}, {b:.1f})' for a, b in offs)} px (forward, left), measured "
        "where both ends were detected on the head" for name, offs in shifts.items()]
    n_network = 0
    n_pose = 0
    n_smooth_kept = 0
    repair_reports: dict[str, Any] = {}
    input_checks: dict[str, Any] = {}
    total = max(1, len(animals))
    for n_done, i in enumerate(animals):
        xy_i = work.xy[:, i][:, cols]  # (T, K, 2)
        sus_i = labels.mask[:, i][:, cols] if given is None else given[:, i][:, cols]
        missing = ~np.isfinite(xy_i).all(axis=-1)
        good = ~(missing | sus_i)
        if not good.any():
            notes.append(f"{work.individuals[i]}: every point is suspect; left unchanged")
            logger.warning("%s: individual %s has no trustworthy point; left unchanged",
                           source, work.individuals[i])
            continue
        enc = rep.encode(xy_i, sus_i)
        p_model = np.zeros(sus_i.shape, np.float32)
        use_network = True
        if detect is not None and given is None:
            p_all = cleaner.detect(enc.features, method=detect, n_runs=probdet_runs, seed=seed,
                                   progress=progress is True, should_stop=should_stop)
            p_model = p_all[:, : rep.n_keypoints]
            p_model[trusted[:, i][:, cols]] = 0.0
            from ..core.inference import apply_input_check

            check = cleaner.check_input(enc.features, p_all, prior=enc.labels > 0.5,
                                        threshold=threshold)
            input_checks[work.individuals[i]] = check.to_dict()
            if apply_input_check(check, on_ood, f"{source} ({work.individuals[i]})"):
                p_model = np.zeros_like(p_model)
                use_network = False
                notes.append(f"{work.individuals[i]}: unlike the model's training data "
                             f"({check.reason}); the model's detection and repair not used")
        _, flag = merge_detection(p_model, sus_i | missing, threshold)  # the core's merge
        no_anchor = ~good.any(axis=0)  # keypoints with no trustworthy value anywhere
        if no_anchor.any():
            names = [rep.bodyparts[k] for k in np.flatnonzero(no_anchor)]
            notes.append(f"{work.individuals[i]}: {names} never trustworthy; left unchanged")
            flag[:, no_anchor] = False
        flag = _limit_gaps(flag, missing, max_gap)
        good &= ~flag
        prior = fit_pose_prior(xy_i, good, seed=seed) if repair != "network" else None
        if prior is not None and prior.covered is not None:
            names = [rep.bodyparts[k] for k in np.flatnonzero(~prior.known)]
            notes.append(f"{work.individuals[i]}: the pose prior leaves out {names} (too few "
                         "frames are complete with them); they are repaired without it")
        pose_fl = np.zeros_like(flag)
        if prior is not None and given is None and pose_rule:
            # the body's own geometry: a point the other keypoints make impossible
            pose_fl, _ = pose_flags(prior, xy_i, good)
            pose_fl &= ~no_anchor[None, :] & ~trusted[:, i][:, cols]
            if pose_fl.any():
                notes.append(f"{work.individuals[i]}: {int(pose_fl.sum())} point(s) in "
                             "impossible poses flagged by the pose prior")
            flag = _limit_gaps(flag | pose_fl, missing, max_gap)
            good &= ~pose_fl
            n_pose += int(pose_fl.sum())
        prob[:, i, cols] = np.maximum(p_model, (sus_i | pose_fl).astype(np.float32))
        # points the repair may keep when it does not contradict them: never those flagged on
        # a reversal's evidence, and below pcutoff only on request
        keepable = ~forced[:, i][:, cols]
        if not keep_stuck:
            # a value repeated to 0.05 px while the body moves is stale, not a measurement:
            # it carries no evidence that the repair could fail to contradict
            keepable &= (labels.reasons[:, i][:, cols] & STUCK) == 0
        if not keep_low_likelihood:
            keepable &= (labels.reasons[:, i][:, cols] & LOW_LIKELIHOOD) == 0
        if keep_plausible and given is None and "jump_thresholds" in labels.params:
            # first, do no harm: a confident stretch the point entered and left smoothly is
            # a real pose (a wing extended in courtship), not a network's error
            conf_i = ~missing
            if work.likelihood is not None:
                conf_i &= work.likelihood[:, i][:, cols] >= pcutoff
            smooth = continuous_runs(
                xy_i, flag, conf_i & keepable,
                np.asarray(labels.params["jump_thresholds"], float)[i][cols])
            if smooth.any():
                flag &= ~smooth
                notes.append(f"{work.individuals[i]}: {int(smooth.sum())} flagged confident "
                             "point(s) kept: they moved into and out of their stretch smoothly")
                n_smooth_kept += int(smooth.sum())
        marked = (None if jitter_found is None or given is not None
                  else jitter_found[:, i][:, cols])
        if flag.any() or (smooth_jitter and marked is not None and marked.any()):
            outcome = repair_animal(
                cleaner, rep, xy_i, flag, sus_i, p_model, good, prior, policy=repair,
                use_network=use_network,
                keep_plausible=keep_plausible and given is None,
                keepable=keepable,
                min_network_run=min_network_run,
                smooth=smooth_jitter and given is None,
                jitter=marked,
                steps=steps, ensemble=ensemble, sits=sits, seed=seed + i,
                progress=progress is True, should_stop=should_stop,
                anchors=trusted[:, i][:, cols] if trusted.any() else None)
            if should_stop is not None and should_stop():
                from ..core.inference import CleanupCancelled

                raise CleanupCancelled("cleanup cancelled")
            n_network += int(outcome.report.get("network_points", 0))
            repair_reports[work.individuals[i]] = outcome.report
            ok = outcome.changed
            sub = out_xy[:, i][:, cols]
            sub[ok] = outcome.xy[ok]
            out_xy[:, i, cols] = sub
            sub_u = unc[:, i][:, cols]
            sub_u[ok] = outcome.uncertainty[ok]
            if outcome.smoothed is not None and marked is not None:
                smoothed[:, i, cols] = outcome.smoothed
            unc[:, i, cols] = sub_u
            st = status[:, i][:, cols]
            st[ok & missing] = GAP_FILLED
            st[ok & ~missing] = REPLACED
            status[:, i, cols] = st
            if out_lik is not None:
                sub_l = out_lik[:, i][:, cols]
                sub_l[ok] = new_lik
                out_lik[:, i, cols] = sub_l
        if callable(progress):
            progress(n_done + 1, total)

    if p_jitter is not None:  # every animal's map, also those the loop skipped
        prob = np.maximum(prob, p_jitter)
    _clean_unique_bodyparts(work, labels, out_xy, out_lik, status, new_lik, max_gap, cols)
    if far.any():  # absurd points were read as missing: repaired ones count as replaced,
        # the others keep their input values (never changed without being flagged)
        status[far & (status == GAP_FILLED)] = REPLACED
        prob[far] = 1.0
        keep = far & (status == KEPT)
        out_xy[keep] = tracks.xy[keep]
        notes.append(f"{int(far.sum())} point(s) with |coordinate| > {MAX_COORDINATE:g} px "
                     "treated as missing")
    cleaned = work.copy()
    cleaned.xy = out_xy
    cleaned.likelihood = out_lik
    cleaned.meta = dict(work.meta)
    cleaned.meta["stablemotion"] = {"status_counts": None}  # filled below
    result = CleanResult(cleaned, status, prob, unc, labels, corrections, jitter=p_jitter,
                         smoothed=None if p_jitter is None else smoothed)
    counts = result.summary()
    cleaned.meta["stablemotion"] = {"status_counts": counts}
    result.report = {
        "source": source,
        "frames": n_f,
        "individuals": list(work.individuals),
        "bodyparts": list(work.bodyparts),
        "pcutoff": pcutoff,
        "status_counts": counts,
        "suspect_counts": labels.summary(),
        "corrections": [_correction_dict(c) for c in corrections],
        "notes": notes,
        "settings": {"detect": detect, "threshold": threshold, "steps": steps,
                     "ensemble": ensemble, "sits": sits, "fix_swaps": fix_swaps,
                     "max_gap": max_gap, "min_network_run": min_network_run,
                     "repair": repair, "pose_rule": pose_rule,
                     "smooth_jitter": smooth_jitter, "learn_jitter": learn_jitter,
                     "keep_plausible": keep_plausible,
                     "keep_low_likelihood": keep_low_likelihood, "keep_stuck": keep_stuck,
                     "seed": seed},
        "network_points": n_network,
        "pose_flagged_points": n_pose,
        "kept_continuous_points": n_smooth_kept,
        "jitter_points": int(result.jitter_points().sum()),
        "smoothed_points": int(smoothed.sum()),
        "repair": repair_reports,
        "input_check": input_checks,
        "model": str(getattr(cleaner.bundle, "path", "") or ""),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return result


#: Points with a coordinate beyond this many pixels (or not finite) are treated as missing by
#: cleaning and training: no camera has such frames, and such values overflow the network's
#: float32 features (1e30 px gave NaN detection probabilities, 1e308 px an error).
MAX_COORDINATE = 1e6


def _without_far_points(tracks: Tracks) -> tuple[Tracks, np.ndarray]:
    """A copy of ``tracks`` with absurdly far points set to NaN, and their ``(F, I, K)`` mask."""
    work = tracks.copy()
    with np.errstate(invalid="ignore"):
        far = (np.abs(work.xy) > MAX_COORDINATE).any(axis=-1) | np.isinf(work.xy).any(axis=-1)
    if far.any():
        work.xy = np.where(far[..., None], np.nan, work.xy)
        logger.warning("%s: %d point(s) with |coordinate| > %g px treated as missing",
                       tracks.meta.get("source", "tracks"), int(far.sum()), MAX_COORDINATE)
    return work, far


def _relabel_likelihood(work: Tracks, reversals: list[Any], value: float) -> None:
    """Give the exchanged axis ends of reversed stretches the likelihood of changed points.

    Their likelihoods were the network's confidence in the wrong labels: the snout's low
    score at the tail base says nothing about a tail base there (DLC's convention would then
    throw the one detection of the tail end away). Like every changed point they get
    ``(1 + pcutoff) / 2``; the jump, bone and pose rules still judge them.
    """
    if work.likelihood is None:
        return
    finite = np.isfinite(work.xy).all(-1)
    for ev in reversals:
        i = work.individuals.index(ev.individuals[0])
        for name in ev.keypoints:
            k = work.bodyparts.index(name)
            sl = slice(ev.start, ev.stop)
            work.likelihood[sl, i, k] = np.where(finite[sl, i, k], value,
                                                 work.likelihood[sl, i, k])


def _flag_reversed(work: Tracks, labels: SuspectLabels, reversals: list[Any],
                   pcutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Flag (SWAP) what a reversal leaves wrong; returns those flags and the trusted ends.

    When the network took the animal's back for its front, the keypoints between the two
    ends (ears, spine) sit where the reversed animal would have them: wrong too, but not a
    relabelling of another keypoint. They are repaired from the corrected axis ends. So are
    the axis ends themselves in the frames of the stretch where, once exchanged, they are
    not a body length apart (the network had put both on the same end there). The evidence
    (a whole body turned round) is strong: these points are repaired even where the repair
    would not contradict them.
    """
    finite = np.isfinite(work.xy).all(-1)
    forced = np.zeros(finite.shape, bool)
    trusted = np.zeros(finite.shape, bool)
    conf = finite if work.likelihood is None else finite & (work.likelihood >= pcutoff)
    for ev in reversals:
        i = work.individuals.index(ev.individuals[0])
        f, b = (work.bodyparts.index(name) for name in ev.keypoints)
        length = np.linalg.norm(work.xy[:, i, f] - work.xy[:, i, b], axis=-1)
        sl = slice(ev.start, ev.stop)
        outside = conf[:, i, f] & conf[:, i, b]
        outside[sl] = False
        med = float(np.median(length[outside])) if outside.any() else np.nan
        others = [k for k in range(work.n_keypoints) if k not in (f, b) and work.present[i, k]]
        extra = np.zeros(finite[sl, i].shape, bool)
        extra[:, others] = finite[sl, i][:, others]
        with np.errstate(invalid="ignore"):
            short = ~((length[sl] > 0.5 * med) & (length[sl] < 1.5 * med))
        extra[:, [f, b]] = finite[sl, i][:, [f, b]] & short[:, None]
        _keep_anchored_end(extra, work.xy[:, i], conf[:, i], sl, f, b, length, med)
        # an axis end "on another part" there is on one the reversed body misplaced (the
        # snout's detection, now the tail base's, under the ear the network also put on the
        # tail): the other part is the one flagged
        reasons = labels.reasons[sl, i]  # a view: edited in place
        reasons[:, [f, b]] &= np.uint8(~ON_PART & 0xFF)
        # the exchanged ends, a body length apart, are the stretch's evidence: the rules
        # that judge them against the misplaced rest of the body (bones, on a part, jumps
        # at the stretch's edges) are not
        ends_ok = np.zeros(extra.shape, bool)
        ends_ok[:, [f, b]] = finite[sl, i][:, [f, b]] & ~extra[:, [f, b]]
        reasons[ends_ok] &= np.uint8(~(BONE | JUMP | ON_PART) & 0xFF)
        trusted[sl, i] = ends_ok
        reasons |= np.where(extra, SWAP, 0).astype(reasons.dtype)
        labels.mask[sl, i] = reasons != 0
        forced[sl, i] = extra
    return forced, trusted


#: Head frames of reversed stretches needed to measure how the back end's detector answers
#: on the head (:func:`_shift_exchanged_fronts`).
MIN_HEAD_FRAMES = 5


def _shift_exchanged_fronts(work: Tracks, reversals: list[Any], forced: np.ndarray,
                            trusted: np.ndarray, radius: np.ndarray | None = None
                            ) -> dict[str, list[tuple[float, float]]]:
    """Correct the exchanged front ends of reversed stretches by the file's own offset.

    In a reversed stretch the front end's new value is the *back* end's detection, which the
    network made on the head: not where it puts the front end (the tail base's detector
    answers some pixels behind the snout). In the stretch's frames where the network put
    both ends on the head (the front end kept, the back end flagged), both detections are
    seen together: their offset is measured in the body frame (the axis interpolated from
    the frames around). A stretch with :data:`MIN_HEAD_FRAMES` such frames that agree
    (median deviation under half the offset) is corrected by its own median offset (the
    sideways part follows the head's turn, which holds within a stretch); the other
    stretches of the animal by the forward part alone of all its head frames pooled, when
    those agree. Otherwise nothing changes. Returns the applied offsets (forward, left) per
    individual, one per corrected stretch. ``radius`` ``(F, I, K)``, when given, receives
    the stated 90 % radius of both exchanged ends of each corrected stretch: the 90th
    percentile of the head frames' distances from the offset applied (how far the back
    end's detector answers from where the offset puts the front end).
    """
    def agreed(o: np.ndarray) -> np.ndarray | None:
        o = o[np.isfinite(o).all(-1)]
        if len(o) < MIN_HEAD_FRAMES:
            return None
        med = np.median(o, axis=0)
        spread = float(np.median(np.linalg.norm(o - med, axis=-1)))
        return med if spread < 0.5 * float(np.linalg.norm(med)) else None

    applied: dict[str, list[tuple[float, float]]] = {}
    by_animal: dict[int, list[Any]] = {}
    for ev in reversals:
        by_animal.setdefault(work.individuals.index(ev.individuals[0]), []).append(ev)
    for i, evs in by_animal.items():
        spans = []
        for ev in evs:
            f, b = (work.bodyparts.index(name) for name in ev.keypoints)
            t = np.arange(ev.start, ev.stop)
            both = t[trusted[t, i, f] & trusted[t, i, b]]
            if both.size < 2:
                continue
            axis = work.xy[both, i, f] - work.xy[both, i, b]
            theta = np.unwrap(np.arctan2(axis[:, 1], axis[:, 0]))
            head = t[trusted[t, i, f] & forced[t, i, b]]
            off = _rotate(work.xy[head, i, b] - work.xy[head, i, f],
                          -np.interp(head, both, theta))
            spans.append((f, b, t, both, theta, off))
        if not spans:
            continue
        all_off = np.concatenate([sp[5] for sp in spans])
        pooled = agreed(all_off * np.array([1.0, 0.0]))
        for f, b, t, both, theta, off in spans:
            frames = t[trusted[t, i, f]]
            med = agreed(off)
            seen = off
            if med is None:
                med, seen = pooled, all_off
            if med is None:
                continue
            th = np.interp(frames, both, theta)
            work.xy[frames, i, f] += _rotate(np.broadcast_to(med, (frames.size, 2)), th)
            if radius is not None:
                dev = np.linalg.norm(seen[np.isfinite(seen).all(-1)] - med, axis=-1)
                radius[frames, i, f] = radius[t[trusted[t, i, b]], i, b] = np.quantile(dev, 0.9)
            applied.setdefault(work.individuals[i], []).append((float(med[0]),
                                                               float(med[1])))
    return applied


def _rotate(v: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """``(N, 2)`` vectors rotated by ``theta`` (N,) radians."""
    c, s = np.cos(theta), np.sin(theta)
    return np.stack([c * v[:, 0] - s * v[:, 1], s * v[:, 0] + c * v[:, 1]], axis=-1)


#: Frames searched on each side of a run for a plausible body (:func:`_keep_anchored_end`).
_END_SEARCH = 30


def _keep_anchored_end(extra: np.ndarray, xy: np.ndarray, conf: np.ndarray, sl: slice,
                       f: int, b: int, length: np.ndarray, med: float) -> None:
    """Unflag, in a reversal's frames where both ends sit on one place, the end that is right.

    There the network put both axis ends on the same end of the body (typically the tail
    base on the head while the snout stayed): one of the two is right. Each run of such
    frames is followed back (or forward) to the nearest frame just outside it with a
    plausible, confident body (ends 0.5-1.5 body lengths apart); the shared place is
    that frame's front or back, whichever end it lies within half a body length of, and
    the end of that name is kept. Runs with no such frame, or an ambiguous one, stay
    flagged whole.
    """
    if not np.isfinite(med):
        return
    n_t = xy.shape[0]
    with np.errstate(invalid="ignore"):
        body = conf[:, f] & conf[:, b] & (length > 0.5 * med) & (length < 1.5 * med)
    mid = (xy[:, f] + xy[:, b]) / 2
    for a, z in zip(*true_runs(extra[:, f] & extra[:, b])):
        a0, z0 = sl.start + a, sl.start + z
        refs = []  # (plausible frame outside the run, the run's frame next to it)
        lo = max(0, a0 - _END_SEARCH)
        before = np.flatnonzero(body[lo:a0])
        if before.size:
            refs.append((lo + before[-1], a0))
        after = np.flatnonzero(body[z0:min(n_t, z0 + _END_SEARCH)])
        if after.size:
            refs.append((z0 + after[0], z0 - 1))
        picks = set()
        for t_ref, t_in in refs:
            place = mid[t_in]
            d_f = float(np.linalg.norm(place - xy[t_ref, f]))
            d_b = float(np.linalg.norm(place - xy[t_ref, b]))
            if min(d_f, d_b) < 0.5 * med <= max(d_f, d_b):
                picks.add(f if d_f < d_b else b)
        if len(picks) == 1:
            extra[a:z, picks.pop()] = False


def continuous_runs(xy: np.ndarray, flag: np.ndarray, keepable: np.ndarray,
                    jump_px: np.ndarray) -> np.ndarray:
    """Flagged stretches of confident points that the point entered and left smoothly.

    A network that loses a part puts it elsewhere from one frame to the next; a part that
    moved into an unusual place continuously (a fly's wing extended in courtship, which the
    bone, pose and model checks all find unusual) is where the animal put it. A stretch
    qualifies when its points are all ``keepable`` and no step into it, inside it or out of
    it exceeds the keypoint's jump threshold, with at least one of its ends observed. On
    protocol B's tuning files this kept 0.33 % of the untouched points right (sleap_centered_pair's
    extended wings) at no cost to the injected errors; it keeps no injected error that
    arrives by a jump.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, K, 2)`` positions of one animal.
    flag : np.ndarray
        ``(T, K)`` bool, the points to repair.
    keepable : np.ndarray
        ``(T, K)`` bool, the points that may be kept (confident, not flagged on strong
        evidence such as a reversal's).
    jump_px : np.ndarray
        ``(K,)`` each keypoint's jump threshold (px per frame), as the JUMP rule uses.

    Returns
    -------
    np.ndarray
        ``(T, K)`` bool, the flagged points to keep.
    """
    n_t = xy.shape[0]
    out = np.zeros(flag.shape, bool)
    step = np.full(flag.shape, np.nan)  # step[t]: from frame t - 1 to t
    step[1:] = np.linalg.norm(np.diff(xy, axis=0), axis=-1)
    for k in np.flatnonzero((flag & keepable).any(axis=0)):
        thr = jump_px[k]
        for a, z in zip(*true_runs(flag[:, k] & keepable[:, k]), strict=True):
            ends = [step[a, k] if a > 0 else np.nan, step[z, k] if z < n_t else np.nan]
            seen = [v for v in ends if np.isfinite(v)]
            if seen and max(seen) <= thr and not (step[a + 1:z, k] > thr).any():
                out[a:z, k] = True
    return out


def _same_points(a: Tracks, b: Tracks) -> np.ndarray:
    """``(F, I, K)`` True where both tracks hold bitwise the same x, y (NaN equal to NaN)."""
    same = (a.xy == b.xy) | (np.isnan(a.xy) & np.isnan(b.xy))
    return same.all(axis=-1)


def _correction_dict(c: Any) -> dict[str, Any]:
    from dataclasses import asdict

    d = asdict(c)
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def _clean_unique_bodyparts(work: Tracks, labels: SuspectLabels, out_xy: np.ndarray,
                            out_lik: np.ndarray | None, status: np.ndarray, new_lik: float,
                            max_gap: int | None, animal_cols: list[int]) -> None:
    """Unique bodyparts (static landmarks such as arena corners): interpolate suspect points.

    They are not part of the animals' model; a linear interpolation in time between
    trustworthy values is the right repair for landmarks (documented behaviour).
    """
    if "single" not in work.individuals:
        return
    i = work.individuals.index("single")
    ks = [k for k in np.flatnonzero(work.present[i]) if k not in animal_cols]
    if not ks:
        return
    xy = work.xy[:, i][:, ks]  # (T, U, 2)
    missing = ~np.isfinite(xy).all(axis=-1)
    bad = labels.mask[:, i][:, ks] | missing
    good = ~bad
    has = good.any(axis=0)
    flag = _limit_runs(bad & has[None, :], max_gap)
    if not flag.any():
        return
    filled, _ = interp_fill(np.where(good[..., None], xy, np.nan)[None], good[None])
    filled = filled[0]
    for j, k in enumerate(ks):
        f = flag[:, j]
        out_xy[f, i, k] = filled[f, j]
        status[f & missing[:, j], i, k] = GAP_FILLED
        status[f & ~missing[:, j], i, k] = REPLACED
        if out_lik is not None:
            out_lik[f, i, k] = new_lik


# ============================================================================ saving
def save_clean_result(result: CleanResult, path: str | Path, *, overwrite: bool = False,
                      save_as_csv: bool = True,
                      inputs: Sequence[str | Path] = ()) -> Path:
    """Write cleaned tracks (``.h5`` + ``.csv``) and the provenance file as one atomic set.

    The three files are written to hidden temporaries and renamed together at the end (see
    :func:`~stablemotion_dlc._atomic.atomic_outputs`): an interruption (Ctrl-C, SIGTERM) or
    an error leaves the previous set or nothing, and concurrent runs never leave a mix.

    Parameters
    ----------
    result : CleanResult
        Output of :func:`clean_tracks`.
    path : str or Path
        Cleaned ``.h5`` (or ``.csv``) path, normally :func:`cleaned_path` of the input.
    overwrite : bool
        Replace existing outputs (refused otherwise, before anything is written).
    save_as_csv : bool
        Also write the ``.csv`` twin, like DLC.
    inputs : sequence of str or Path
        Input files none of the outputs may be (the tracks' own source file, its twin and
        its meta pickle are always included); refused even with ``overwrite``.

    Returns
    -------
    Path
        The cleaned tracks file.
    """
    path = Path(path)
    outs = check_outputs(output_files(path, save_as_csv), overwrite=overwrite,
                         inputs=[*input_files(result.tracks), *inputs])
    with atomic_outputs(outs, overwrite=overwrite) as tmps:
        for tmp in tmps[:-1]:  # the tracks file and its CSV twin; the last is provenance
            write_tracks(result.tracks, tmp, overwrite=True)
        with open(tmps[-1], "wb") as fh:
            save_npz(
                fh,
                status=result.status,
                status_names=np.array(STATUS_NAMES),
                probability=result.probability,
                uncertainty=result.uncertainty,
                jitter=result.jitter_points(),
                smoothed=(np.zeros(result.status.shape, bool) if result.smoothed is None
                          else result.smoothed),
                suspect_reasons=result.suspect.reasons,
                reason_names=np.array(list(result.suspect.reason_names)),
                individuals=np.array(result.tracks.individuals),
                bodyparts=np.array(result.tracks.bodyparts),
                # the wall time stays in result.report: the same run gives the same bytes
                report=np.array(json.dumps({k: v for k, v in result.report.items()
                                            if k != "seconds"}, default=str)),
            )
    logger.info("wrote %s", ", ".join(p.name for p in outs))
    return path


# ============================================================================ training
def train_on_tracks(
    tracks_list: Sequence[Tracks],
    out_path: str | Path,
    *,
    bodyparts: Sequence[str] | None = None,
    skeleton: Sequence[Sequence[str]] | None = None,
    pcutoff: float = DEFAULT_PCUTOFF,
    fps: float | None = None,
    config: TrainConfig | None = None,
    steps: int | None = None,
    p_inject: float = 0.5,
    rate: float = 0.05,
    resume: bool = True,
    overwrite: bool = False,
    progress: bool = True,
    device: str | None = None,
    corruptor: Callable[..., Any] | None = None,
) -> Path:
    """Train a cleaner on tracks (unlabelled, partly corrupted predictions).

    Parameters
    ----------
    tracks_list : sequence of Tracks
        The project's analysed outputs (videos' predictions; a labelled-data file is
        refused, :meth:`Tracks.require_video_rows`).
    out_path : str or Path
        Model file to write (also the resume checkpoint).
    bodyparts : sequence of str, optional
        Animal bodyparts to model (default: those of the first file's animals, without
        unique bodyparts).
    skeleton : list of (str, str), optional
        Bones (default: learned from the median pose).
    pcutoff : float
        Likelihood threshold for the suspect labels; recorded in the model with
        ``skeleton`` (``spec["labels"]``), so that cleaning with other settings warns.
    fps : float, optional
        Frame rate recorded in the model.
    config : TrainConfig, optional
        Training settings (default: the embedded default, :data:`DEFAULT_TRAIN_CONFIG` with
        :data:`DEFAULT_TRAIN_STEPS` steps).
    steps : int, optional
        Shortcut to override ``config.steps``.
    p_inject, rate : float
        Share of training windows with injected corruption, and its density.
    resume, overwrite, progress, device
        See :func:`stablemotion_dlc.core.train.train`.
    corruptor : callable, optional
        Another error generator for the training windows (see
        :class:`~stablemotion_dlc.dlc.dataset.KeypointWindowSource`); for cross-checks of
        the evaluation protocols only.

    Returns
    -------
    Path
        The model file.
    """
    from dataclasses import replace

    from ..core.train import TrainConfig
    from ..core.train import train as core_train
    from .dataset import KeypointWindowSource, sequences_from_tracks

    if not tracks_list:
        raise TrainingDataError("train_on_tracks: no tracks given")
    for tr in tracks_list:
        tr.require_video_rows("trained on")
    if steps is not None and (isinstance(steps, bool) or int(steps) < 1):
        raise OptionError(f"training steps must be at least 1, got {steps} (0 steps would "
                          "write an untrained model)")
    cfg = config or TrainConfig(**{**DEFAULT_TRAIN_CONFIG, "steps": DEFAULT_TRAIN_STEPS})
    if steps is not None:
        cfg = replace(cfg, steps=int(steps))
    names = ", ".join(str(t.meta.get("source", "tracks")) for t in tracks_list[:3])
    check_outputs([out_path], overwrite=True,
                  inputs=[f for t in tracks_list for f in input_files(t)])
    first = tracks_list[0]
    if bodyparts is None:
        animals = [i for i, n in enumerate(first.individuals) if n != "single"]
        bodyparts = [b for k, b in enumerate(first.bodyparts)
                     if any(first.present[i, k] for i in animals)]
    bodyparts = list(bodyparts)
    seqs = []
    pose = []
    for tr in tracks_list:
        tr, _ = _without_far_points(tr)
        labels = suspect_mask(tr, pcutoff, skeleton=skeleton)
        s = sequences_from_tracks(tr, bodyparts, labels)
        for q in s:
            good = q.xy.copy()
            good[q.suspect] = np.nan
            pose.append(good.reshape(-1, len(bodyparts), 2))
        seqs += s
    if not seqs:
        raise TrainingDataError(f"{names}: no individual carries all bodyparts {bodyparts}; "
                                "nothing to train on")
    n_frames = sum(int(np.prod(q.xy.shape[:-2])) for q in seqs)
    longest = max(int(q.xy.shape[0]) for q in seqs)
    if longest < cfg.window:  # windows are consecutive frames of one recording
        raise TrainingDataError(
            f"{names}: the longest recording has {longest} frame(s); training needs at least "
            f"{cfg.window} consecutive frames (pass a model trained on longer recordings of "
            "this project with model=... / --model)")
    n_good = sum(int(np.isfinite(p).all(axis=-1).sum()) for p in pose)
    if n_good == 0:
        raise TrainingDataError(
            f"{names}: no trustworthy point to learn from (every point is missing or below "
            f"pcutoff {pcutoff}); refusing to train a model on it")
    rep = KeypointRepresentation(bodyparts, skeleton or None, fps,
                                 pose_data=np.concatenate(pose, axis=0))
    source = KeypointWindowSource(seqs, rep, window=cfg.window, p_inject=p_inject, rate=rate,
                                  pcutoff=pcutoff, corruptor=corruptor)
    logger.info("training on %d frames of %d sequence(s), %d keypoints, %d steps",
                n_frames, len(seqs), len(bodyparts), cfg.steps)
    spec = {**rep.spec(), "labels": {
        "pcutoff": float(pcutoff),
        "skeleton": [[a, b] for a, b in skeleton] if skeleton else None}}
    return core_train(source, rep, out_path, cfg, resume=resume, extra_spec=spec,
                      progress=progress, device=device, overwrite=overwrite)


def train(
    config_path: str | Path,
    videos: str | Path | Sequence[str | Path] | None = None,
    shuffle: int = 1,
    *,
    destfolder: str | Path | None = None,
    model_path: str | Path | None = None,
    steps: int | None = None,
    config: TrainConfig | None = None,
    resume: bool = True,
    overwrite: bool = False,
    progress: bool = True,
    device: str | None = None,
    track_method: str | None = None,
) -> Path:
    """Train a cleaner on a DLC project's own analysed videos.

    Parameters
    ----------
    config_path : str, Path or DlcProject
        The project's ``config.yaml`` (read only) or the project parsed once.
    videos : path, list of paths or folder, optional
        Videos whose analysed outputs to learn from; default: every video of
        ``video_sets`` and of ``<project>/videos/`` that has one.
    shuffle : int
        DLC shuffle whose outputs to use.
    destfolder : str or Path, optional
        Where the analysed files are (default: beside each video).
    model_path : str or Path, optional
        Model file (default :func:`default_model_path`).
    steps : int, optional
        Training steps (default :data:`DEFAULT_TRAIN_STEPS`).
    config : TrainConfig, optional
        Full training settings.
    resume : bool
        Continue an interrupted run from its last checkpoint.
    overwrite : bool
        Start afresh over an existing model (with ``resume=False``).
    progress : bool
        Progress bar with the loss.
    device : str, optional
        Torch device.
    track_method : str, optional
        Multi-animal tracker suffix (``"ellipse"``, ...; default: the config's).

    Returns
    -------
    Path
        The model file.
    """
    project = as_project(config_path)
    vids = project.project_videos() if videos is None else collect_videos(videos)
    tracks_list = []
    errors = []
    for v in vids:
        try:
            f = find_analyzed(project, v, shuffle=shuffle, destfolder=destfolder,
                              track_method=track_method)
        except AnalyzedDataNotFoundError as exc:
            errors.append(str(exc))
            continue
        tracks_list.append(read_tracks(f))
    if not tracks_list:
        raise AnalyzedDataNotFoundError(
            f"{project.config_path}: no analysed output found for any video; run "
            f"deeplabcut.analyze_videos first.\n" + "\n".join(errors))
    out = Path(model_path) if model_path else project.model_path(shuffle)
    return train_for_project(project, tracks_list, out, steps=steps, config=config,
                             resume=resume, overwrite=overwrite, progress=progress,
                             device=device)


def train_for_project(
    project: DlcProject,
    tracks_list: Sequence[Tracks],
    model_path: str | Path,
    *,
    steps: int | None = None,
    config: TrainConfig | None = None,
    resume: bool = True,
    overwrite: bool = False,
    progress: bool = True,
    device: str | None = None,
) -> Path:
    """:func:`train_on_tracks` with the project's bodyparts, skeleton and pcutoff.

    Parameters
    ----------
    project : DlcProject
        The project (parsed once).
    tracks_list : sequence of Tracks
        Its analysed outputs, already read.
    model_path : str or Path
        Model file to write.
    steps, config, resume, overwrite, progress, device
        See :func:`train`.

    Returns
    -------
    Path
        The model file.
    """
    fps = next((t.meta["fps"] for t in tracks_list if t.meta.get("fps")), None)
    skeleton = project.skeleton_for([*project.bodyparts, *project.unique_bodyparts])
    return train_on_tracks(tracks_list, model_path, bodyparts=list(project.bodyparts) or None,
                           skeleton=skeleton, pcutoff=project.pcutoff, fps=fps, config=config,
                           steps=steps, resume=resume, overwrite=overwrite, progress=progress,
                           device=device)


def _check_video_frames(video: Path, tracks: Tracks) -> None:
    """Check a video against its tracks with :func:`.video.check_video_matches`.

    A frame count that differs by more than one frame is refused; a one-frame difference (a
    known DLC/codec quirk) and every other problem found (frame size, coordinates outside
    the frame) are logged as warnings. A video that does not exist is not checked.

    Raises
    ------
    ConfigError
        If the video and the tracks differ by more than one frame.
    """
    if not video.exists():
        return
    from .video import FRAME_COUNT_PROBLEM, VideoReader, check_video_matches

    with VideoReader(video) as reader:
        n = reader.n_frames
        problems = check_video_matches(reader, tracks)
    if abs(n - tracks.n_frames) > 1:
        raise ConfigError(
            f"{video}: the video has {n} frames but its tracks "
            f"({tracks.meta.get('source', '?')}) have {tracks.n_frames}; they do not belong "
            f"together")
    for problem in problems:
        if problem.startswith(FRAME_COUNT_PROBLEM):
            logger.warning("%s: %s (a one-frame difference is a known DLC/codec quirk; "
                           "cleaning all tracked frames)", video, problem)
        else:
            logger.warning("%s: %s", video, problem)


def needs_training(model_path: str | Path) -> bool:
    """Whether ``model_path`` must be trained first: absent, or an interrupted run's checkpoint.

    Training saves a checkpoint every ``checkpoint_every`` steps and on Ctrl-C/SIGTERM;
    :func:`train` / :func:`train_on_tracks` with ``resume=True`` continue it.
    """
    model_path = Path(model_path)
    if not model_path.exists():
        return True
    from ..core.checkpoint import read_model_info

    info = read_model_info(model_path)
    if info["complete"]:
        return False
    logger.warning("%s: training was interrupted at step %s of %s; resuming it first",
                   model_path, info.get("step"), (info.get("train_config") or {}).get("steps"))
    return True


def clean_h5(
    config_path: str | Path | DlcProject,
    video: str | Path | Sequence[str | Path],
    model: str | Path | None = None,
    shuffle: int = 1,
    *,
    destfolder: str | Path | None = None,
    overwrite: bool = False,
    save_as_csv: bool = True,
    video_extensions: Sequence[str] | None = None,
    track_method: str | None = None,
    train_steps: int | None = None,
    check_video: bool = True,
    progress: bool = True,
    **options: Any,
) -> Path | list[Path]:
    """Clean a video's DLC output: the drop-in step after ``deeplabcut.analyze_videos``.

    One video: its output is cleaned, or an error is raised (an existing output is refused
    unless ``overwrite``). A folder or a list of videos is a batch
    (:func:`~.batch.clean_videos`): one model for all, outputs that exist are skipped with
    a message unless ``overwrite`` (so an interrupted batch resumes when run again), and a
    failure on one video is logged while the others go on; a summary table is logged at
    the end and :class:`~.batch.BatchCleaningError` raised when any video failed.

    Parameters
    ----------
    config_path : str, Path or DlcProject
        The project's ``config.yaml`` (read only) or the project parsed once.
    video : path, list of paths or folder
        Video(s) whose analysed outputs to clean (like DLC's ``videos`` argument). They need
        not be in the project's ``video_sets``.
    model : str or Path, optional
        Model file. Default: the project's (:func:`default_model_path`); when it does not
        exist, one is trained first on the outputs being cleaned plus the project's other
        analysed outputs of the same DLC scorer (the log lists them).
    shuffle : int
        DLC shuffle.
    destfolder : str or Path, optional
        Folder of the analysed files and of the outputs (default: beside each video).
    overwrite : bool
        Replace an existing cleaned file (refused otherwise).
    save_as_csv : bool
        Also write the ``.csv`` twin.
    video_extensions : sequence of str, optional
        Extensions considered when ``video`` is a folder.
    track_method : str, optional
        Multi-animal tracker suffix (default: the config's).
    train_steps : int, optional
        Steps when a model must be trained first (default :data:`DEFAULT_TRAIN_STEPS`).
    check_video : bool
        Refuse a video whose frame count differs from its tracks' by more than one frame
        (other mismatches, such as the frame size, are logged as warnings).
    progress : bool
        Progress bars.
    **options
        Passed to :func:`clean_tracks` (``detect``, ``steps``, ``ensemble``, ``sits``, ...).

    Returns
    -------
    Path or list of Path
        The cleaned ``..._filtered.h5`` file (one video), or the cleaned and skipped
        videos' files (a folder or a list).

    Raises
    ------
    BatchCleaningError
        A folder or list where some videos failed (``.report`` has every outcome).
    """
    from .batch import BatchCleaningError, clean_videos

    single = isinstance(video, (str, Path)) and not Path(video).is_dir()
    report = clean_videos(config_path, video, model, shuffle, destfolder=destfolder,
                          overwrite=overwrite, save_as_csv=save_as_csv,
                          video_extensions=video_extensions, track_method=track_method,
                          train_steps=train_steps, check_video=check_video,
                          progress=progress, strict=single, **options)
    if single:
        out = report.outcomes[0].output
        assert out is not None  # strict mode raised otherwise
        return out
    if not report.ok:
        raise BatchCleaningError(report)
    return report.outputs
