"""Train, clean and evaluate StableMotion models on SMPL motion (AMASS or generated).

The diffusion core sees 232-dim RIFKE windows. Because those features contain the global
trajectory and heading, every window is placed on its own (frame 0 at the origin facing +X,
floor at z = 0), as in training: :class:`~stablemotion_dlc.smpl.rifke.RifkeRepresentation`'s
``to_window``/``from_window``, called by the core's :class:`~stablemotion_dlc.core.inference.
Cleaner`, which does the windowing, the detection, its merge with the rules and the repair for
every representation. Frames that are not flagged keep their input values bit-for-bit.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.ndimage import binary_dilation

from stablemotion_dlc._arrays import save_npz
from stablemotion_dlc._atomic import atomic_path, check_outputs, check_writable
from stablemotion_dlc._progress import progress_bar
from stablemotion_dlc.errors import TrainingDataError
from stablemotion_dlc.smpl.amass import (
    TARGET_FPS,
    AmassFileError,
    SmplMotion,
    generate_motion,
    load_amass,
    load_amass_clips,
)
from stablemotion_dlc.smpl.corruption import (
    CORRUPTION_KINDS,
    CorruptionConfig,
    SmplClipSource,
    corrupt,
)
from stablemotion_dlc.smpl.labels import suspect_frames
from stablemotion_dlc.smpl.metrics import detection_scores, motion_report
from stablemotion_dlc.smpl.rifke import RifkeRepresentation
from stablemotion_dlc.smpl.skeleton import axis_angle_to_matrix, forward_kinematics

if TYPE_CHECKING:
    from stablemotion_dlc.core.inference import Cleaner, InputCheck

__all__ = [
    "DEFAULT_ENSEMBLE",
    "DEFAULT_THRESHOLD",
    "REPAIR_RULES",
    "SMPL_TRAIN_DEFAULTS",
    "SWEEP_THRESHOLDS",
    "SmplCleanResult",
    "training_clips",
    "train_smpl",
    "load_cleaner",
    "clean_motion",
    "clean_smpl",
    "interpolate_frames",
    "savgol_joints",
    "evaluate_smpl",
]

logger = logging.getLogger(__name__)

#: :class:`~stablemotion_dlc.core.train.TrainConfig` fields :func:`train_smpl` sets unless
#: given. Half the windows train detection, half of those from pure label noise (what
#: one-pass detection sees): with the core's defaults (a quarter, uniform noise levels) a
#: tiny model's frame detection stayed at AUC 0.70 after 8,000 steps.
#: Joint rules whose frames :func:`clean_motion` repairs. The ``jitter`` rule finds jittered
#: stretches reliably, but regenerating 5-30 frames of gait is less accurate than the jittered
#: input with our CPU-trained models (validation: 10.7 vs 7.3 cm world joint error), so they
#: are left to the model's own detection.
REPAIR_RULES: tuple[str, ...] = ("pop", "frozen")

#: Model detection threshold and repair ensemble of :func:`clean_motion`, chosen on 12
#: validation motions by world joint error (docs/smpl.md): the network's detector is sharp
#: above 0.8 (precision 0.97) and its false alarms cost more than lower thresholds gain;
#: averaging 4 repairs lowers their jerk.
DEFAULT_THRESHOLD = 0.8
DEFAULT_ENSEMBLE = 4

SMPL_TRAIN_DEFAULTS: dict[str, Any] = {
    "detection_share": 0.5,
    "detection_full_noise_share": 0.5,
}


@dataclass
class SmplCleanResult:
    """Output of :func:`clean_motion` / :func:`clean_smpl`.

    Attributes
    ----------
    motion : SmplMotion
        Cleaned motion (same frames and world frame as the input).
    probability : np.ndarray
        ``(T,)`` detection probability that each frame is corrupted.
    mask : np.ndarray
        ``(T,)`` bool frames that were regenerated.
    seconds : float
        Wall time of detection + cleanup.
    out_path : Path or None
        File written by :func:`clean_smpl`.
    check : InputCheck or None
        The core's out-of-distribution check of the motion (None when the model's detection
        did not run).
    fallback : bool
        True when the check found the motion unlike the training data and only the rules'
        frames were repaired, by interpolation.
    """

    motion: SmplMotion
    probability: np.ndarray
    mask: np.ndarray
    seconds: float
    out_path: Path | None = None
    check: InputCheck | None = None
    fallback: bool = False


# ------------------------------------------------------------------------------- training
def training_clips(amass: str | Path | Iterable[str | Path] | None = None, *,
                   smpl_model: str | Path | None = None, n_generated: int = 0,
                   generated_frames: int = 200, clip_length: int = 100,
                   min_length: int = 2, seed: int = 0,
                   source_fps: float | None = None) -> list[SmplMotion]:
    """Clips for training: AMASS files/folder and/or generated walking motion.

    Parameters
    ----------
    amass : path, folder or iterable of paths, optional
        AMASS ``.npz`` motions (see :func:`~stablemotion_dlc.smpl.amass.load_amass_clips`).
    smpl_model : str or Path, optional
        SMPL/SMPL-H model file or folder (default: generated approximate skeleton).
    n_generated : int
        Number of generated motions to add (each ``generated_frames`` long, canonical).
    generated_frames : int
        Frames per generated motion.
    clip_length : int
        Frames per AMASS clip; a file shorter than that (but at least ``min_length``) is one
        clip of its own length.
    min_length : int
        Shorter files are skipped with a warning that names them.
    seed : int
        Seed of the generated motions.
    source_fps : float, optional
        Frame rate of AMASS files that do not record one.

    Returns
    -------
    list of SmplMotion
    """
    clips: list[SmplMotion] = []
    if amass is not None:
        clips += load_amass_clips(amass, smpl_model, clip_length=clip_length,
                                  min_length=min_length, source_fps=source_fps)
    if n_generated > 0:
        rng = np.random.default_rng(seed)
        clips += [generate_motion(generated_frames, rng)
                  for _ in progress_bar(range(n_generated), desc="generating motion",
                                       disable=n_generated < 200)]
    if not clips:
        raise TrainingDataError(
            "no training data: " + (f"no AMASS motion of at least {min_length} frames at "
                                    f"{TARGET_FPS:g} fps in {amass}" if amass is not None
                                    else "give AMASS files or n_generated > 0"))
    return clips


def train_smpl(out_path: str | Path, amass: str | Path | Iterable[str | Path] | None = None, *,
               smpl_model: str | Path | None = None, n_generated: int = 0,
               window: int = 64, steps: int = 2000, batch_size: int = 32,
               model: str = "small", lr: float = 1e-4, p_corrupt: float = 0.9,
               corruption: CorruptionConfig | None = None, seed: int = 0,
               device: str | None = None, resume: bool = True, overwrite: bool = False,
               progress: bool = True, source_fps: float | None = None,
               **train_options: Any) -> Path:
    """Train a StableMotion cleanup model on SMPL motion with injected, labelled corruption.

    Parameters
    ----------
    out_path : str or Path
        Model file to write (also the resume checkpoint).
    amass : path, folder or iterable of paths, optional
        AMASS motions; ``n_generated`` generated motions are added (or used alone).
    smpl_model : str or Path, optional
        SMPL/SMPL-H body model (default: the generated approximate skeleton).
    n_generated : int
        Generated walking motions to train on (200 frames each).
    window : int
        Frames per window (upstream: 100 at 20 fps).
    steps, batch_size, model, lr : int, int, str, float
        Training length, windows per step, DiT preset (tiny/small/base/large), AdamW rate.
    p_corrupt : float
        Share of windows that receive synthetic corruption.
    corruption : CorruptionConfig, optional
        Corruption kinds and strengths.
    seed : int
        Seed of data generation and training.
    device : str, optional
        Torch device (default: CUDA when available).
    resume, overwrite, progress : bool
        As in :func:`stablemotion_dlc.core.train.train`.
    source_fps : float, optional
        Frame rate of AMASS files that do not record one.
    **train_options
        Further :class:`~stablemotion_dlc.core.train.TrainConfig` fields (over
        :data:`SMPL_TRAIN_DEFAULTS`).

    Returns
    -------
    Path
        The model file.

    Notes
    -----
    The model's spec records the first clip's rest skeleton (its hash); cleaning decodes each
    motion with that motion's own skeleton, so subjects of other shapes can be cleaned. It
    also records what the model was trained on (``spec["training_data"]``, see
    :func:`training_record`): AMASS files and frames, generated motions, body model. AMASS
    files shorter than ``window`` frames (at 20 fps) are skipped with a warning naming them;
    files shorter than 100 frames are used whole.
    """
    from stablemotion_dlc.core.train import TrainConfig, train

    clips = training_clips(amass, smpl_model=smpl_model, n_generated=n_generated,
                           clip_length=max(window, 100), min_length=window, seed=seed,
                           source_fps=source_fps)
    rep = RifkeRepresentation(clips[0].skeleton, fps=clips[0].fps)
    source = SmplClipSource(clips, rep, window=window, p_corrupt=p_corrupt,
                            config=corruption or CorruptionConfig())
    config = TrainConfig(window=window, steps=steps, batch_size=batch_size, model=model, lr=lr,
                         seed=seed, **{**SMPL_TRAIN_DEFAULTS, **train_options})
    logger.info("training %s on %d clips (%s skeleton), %d steps", model, len(clips),
                rep.skeleton.source, steps)
    return train(source, rep, out_path, config, resume=resume, progress=progress,
                 device=device, overwrite=overwrite,
                 extra_spec={"training_data": training_record(clips, n_generated, smpl_model)})


def training_record(clips: Sequence[SmplMotion], n_generated: int = 0,
                    smpl_model: str | Path | None = None) -> dict[str, Any]:
    """What a model was trained on, as stored in its spec (``spec["training_data"]``).

    Parameters
    ----------
    clips : sequence of SmplMotion
        The training clips (AMASS clips name their file in ``source``).
    n_generated : int
        Generated motions among them.
    smpl_model : str or Path, optional
        Body model used for the joints.

    Returns
    -------
    dict
        ``amass_files`` (file names, at most 200, and their count), ``amass_clips``,
        ``amass_frames``, ``generated_motions``, ``generated_frames``, ``fps``,
        ``body_model``.
    """
    real = [c for c in clips if not c.source.startswith("generated")]
    files = sorted({c.source.split("[", 1)[0] for c in real})
    return {
        "amass_files": [Path(f).name for f in files[:200]],
        "amass_file_count": len(files),
        "amass_clips": len(real),
        "amass_frames": int(sum(len(c) for c in real)),
        "generated_motions": int(n_generated),
        "generated_frames": int(sum(len(c) for c in clips if c.source.startswith("generated"))),
        "fps": float(clips[0].fps) if clips else TARGET_FPS,
        "body_model": Path(smpl_model).name if smpl_model else "generated skeleton",
    }


# -------------------------------------------------------------------------------- cleanup
def load_cleaner(model_file: str | Path, device: str | None = None) -> Cleaner:
    """Load a model file trained by :func:`train_smpl` as a core ``Cleaner``.

    The cleaner carries the model's :class:`RifkeRepresentation`, which places every window
    as training did.

    Raises
    ------
    ModelMismatchError
        When the file holds a model for another representation (e.g. DLC keypoints).
    """
    from stablemotion_dlc.core.inference import Cleaner

    return Cleaner.from_file(model_file, RifkeRepresentation, device=device)


def _rule_frames(motion: SmplMotion) -> tuple[np.ndarray, np.ndarray]:
    """Frames the :data:`REPAIR_RULES` flag, and frames any rule finds suspicious."""
    n = len(motion)
    repair, suspicious = np.zeros(n, bool), np.zeros(n, bool)
    if n < 3:  # no rule can judge fewer frames
        return repair, suspicious
    found = suspect_frames(motion).rules
    for name, frames in found.items():
        suspicious |= frames
        if name in REPAIR_RULES:
            repair |= frames
    return repair, suspicious


def clean_motion(motion: SmplMotion, cleaner: Cleaner, *, threshold: float = DEFAULT_THRESHOLD,
                 detect_method: str = "single", n_runs: int = 8, steps: int = 1,
                 ensemble: int = DEFAULT_ENSEMBLE, sits: bool = True, dilate: int = 0,
                 rules: bool = True,
                 mask: np.ndarray | None = None, known_bad: np.ndarray | None = None,
                 seed: int = 0, progress: bool = False,
                 on_ood: str = "fallback") -> SmplCleanResult:
    """Detect and repair corrupted frames of one motion.

    A frame is repaired when the model's detection probability exceeds ``threshold`` or
    (with ``rules``) one of the :data:`REPAIR_RULES` flags it (pops, frozen poses; see
    :func:`~stablemotion_dlc.smpl.labels.suspect_frames`); rule frames count as certain.
    Detection, the merge with the rules and the repair are the core's
    (:class:`~stablemotion_dlc.core.inference.Cleaner`, one windowing path for every
    representation). Before repairing, the core's out-of-distribution check compares the
    motion with the model's training data (:meth:`Cleaner.check_input`): a motion the model
    does not know (e.g. real capture for a model trained on generated walking) is never
    regenerated; by default only the rules' frames are then repaired, by interpolation.

    Parameters
    ----------
    motion : SmplMotion
        Input at the model's frame rate, any world placement, any length (a motion shorter
        than the model's window is cleaned with one shorter window).
    cleaner : stablemotion_dlc.core.inference.Cleaner
        Loaded model (see :func:`load_cleaner`).
    threshold : float
        Detection probability above which a frame is repaired (1 or more: only the rules).
    detect_method : {"single", "probdet"}
        One x0 prediction, or ``n_runs`` stochastic runs averaged (ProbDet).
    n_runs : int
        Runs for ProbDet.
    steps : int
        Sampling steps of cleanup (1 = one x0 prediction).
    ensemble : int
        Cleanup candidates averaged.
    sits : bool
        Soft inpainting schedule (mildly suspicious frames are nudged, not replaced).
    dilate : int
        Frames added on each side of every detected run.
    rules : bool
        Add the rule-based suspect frames to the model's detections.
    mask : np.ndarray, optional
        ``(T,)`` frames to repair; skips detection, rules and the check (e.g. known
        corruption).
    known_bad : np.ndarray, optional
        ``(T,)`` frames always repaired in addition to the detections.
    seed : int
        Noise seed.
    progress : bool
        Show a progress bar over windows.
    on_ood : {"fallback", "refuse", "ignore"}
        What to do when the check finds the motion out of distribution: repair only the
        rules' frames by interpolation (with a warning), raise
        :class:`~stablemotion_dlc.core.inference.OutOfDistributionError`, or go on.

    Returns
    -------
    SmplCleanResult
    """
    from stablemotion_dlc.core.inference import apply_input_check, merge_detection

    t0 = time.perf_counter()
    fps = float(cleaner.bundle.spec.get("fps", TARGET_FPS))
    if not np.isclose(motion.fps, fps):
        raise ValueError(f"{motion.source}: motion is at {motion.fps} fps, the model at {fps}")
    n = len(motion)
    if n < 2:
        raise AmassFileError(motion.source or "motion", f"only {n} frame(s) at {fps:g} fps; "
                             "cleaning needs at least 2")
    rep = RifkeRepresentation(motion.skeleton, fps=fps)  # decodes with the subject's skeleton
    enc = rep.encode(motion)
    check = None
    fallback = False
    if mask is None:
        repair_rules, suspicious = _rule_frames(motion)
        if not rules:
            repair_rules = np.zeros(n, bool)
        model_prob = np.zeros(n, np.float32)
        if threshold < 1.0:  # the model's own detection
            model_prob = cleaner.detect(enc.features, method=detect_method, n_runs=n_runs,
                                        seed=seed, progress=progress)[:, 0]
            check = cleaner.check_input(enc.features, model_prob[:, None],
                                        prior=suspicious[:, None], threshold=threshold)
            fallback = apply_input_check(check, on_ood, motion.source or "motion")
            if fallback:
                model_prob = np.zeros(n, np.float32)
        prob, flagged = merge_detection(model_prob, repair_rules, threshold)
        prob = prob.astype(np.float64)
    else:
        flagged = np.asarray(mask, bool).copy()
        if flagged.shape != (n,):
            raise ValueError(f"mask must have shape ({n},), got {flagged.shape}")
        prob = flagged.astype(float)
    if known_bad is not None:
        flagged |= np.asarray(known_bad, bool)
    if dilate > 0 and flagged.any():
        flagged = binary_dilation(flagged, iterations=dilate)

    if fallback:
        out = interpolate_frames(motion, flagged)
    elif flagged.any():
        # one window per group of flagged runs, centred on it so that good frames anchor
        # both sides; each flagged frame is taken from exactly one window
        res = cleaner.cleanup(enc.features, flagged[:, None], suspicion=prob[:, None],
                              steps=steps, ensemble=ensemble, sits=sits and mask is None,
                              seed=seed, progress=progress, placement="centred")
        decoded = rep.decode(res.features, enc.context)
        poses, trans, joints = motion.poses.copy(), motion.trans.copy(), motion.joints.copy()
        poses[flagged] = decoded.poses[flagged]
        trans[flagged] = decoded.trans[flagged]
        joints[flagged] = decoded.joints[flagged]
        out = replace(motion, poses=poses, trans=trans, joints=joints)
    else:
        out = replace(motion)
    out = replace(out, source=f"{motion.source} cleaned")
    return SmplCleanResult(out, prob, flagged, time.perf_counter() - t0, check=check,
                           fallback=fallback)


def clean_smpl(input_path: str | Path, model_file: str | Path,
               out_path: str | Path | None = None, *, smpl_model: str | Path | None = None,
               threshold: float = DEFAULT_THRESHOLD, detect_method: str = "single",
               steps: int = 1, ensemble: int = DEFAULT_ENSEMBLE, dilate: int = 0,
               rules: bool = True, seed: int = 0,
               device: str | None = None, overwrite: bool = False,
               progress: bool = True, on_ood: str = "fallback",
               source_fps: float | None = None) -> SmplCleanResult:
    """Clean one AMASS ``.npz`` motion and write the result as an AMASS-style ``.npz``.

    The output holds ``poses`` ``(T, 66)`` (22 body rotations; hands are not modelled),
    ``trans``, ``joints`` ``(T, 24, 3)``, ``mocap_framerate`` (the model's, 20 fps),
    ``betas`` (copied), ``detection_probability`` and ``cleaned_mask`` per frame. The input
    file is never modified.

    Parameters
    ----------
    input_path : str or Path
        AMASS motion.
    model_file : str or Path
        Model from :func:`train_smpl`.
    out_path : str or Path, optional
        Output file (default: ``<input stem>_cleaned.npz`` beside the input).
    smpl_model : str or Path, optional
        SMPL/SMPL-H model (default: generated approximate skeleton).
    threshold, detect_method, steps, ensemble, dilate, rules, seed, on_ood
        See :func:`clean_motion`.
    source_fps : float, optional
        Frame rate of a file that does not record one.
    device : str, optional
        Torch device.
    overwrite : bool
        Replace an existing output.
    progress : bool
        Progress bars.

    Returns
    -------
    SmplCleanResult
    """
    input_path = Path(input_path)
    out = Path(out_path) if out_path is not None else \
        input_path.with_name(f"{input_path.stem}_cleaned.npz")
    check_outputs([out], overwrite=overwrite,
                  inputs=[input_path, model_file, smpl_model if smpl_model else None])
    cleaner = load_cleaner(model_file, device=device)
    fps = float(cleaner.bundle.spec.get("fps", TARGET_FPS))
    motion = load_amass(input_path, smpl_model, fps=fps, source_fps=source_fps)
    result = clean_motion(motion, cleaner, threshold=threshold, detect_method=detect_method,
                          steps=steps, ensemble=ensemble, dilate=dilate, rules=rules,
                          seed=seed, progress=progress, on_ood=on_ood)
    m = result.motion
    arrays: dict[str, Any] = {
        "poses": m.poses.reshape(len(m), -1), "trans": m.trans, "joints": m.joints,
        "mocap_framerate": np.array(fps), "detection_probability": result.probability,
        "cleaned_mask": result.mask, "source": np.array(str(input_path)),
        "model_fallback": np.array(result.fallback),
    }
    if m.betas is not None:
        arrays["betas"] = m.betas
    with atomic_path(out, overwrite) as tmp, open(tmp, "wb") as fh:
        save_npz(fh, compress=False, **arrays)
    logger.info("%s: %d of %d frames cleaned -> %s", input_path, int(result.mask.sum()),
                len(m), out)
    result.out_path = out
    return result


# -------------------------------------------------------------------------- baselines
def interpolate_frames(motion: SmplMotion, mask: np.ndarray) -> SmplMotion:
    """Replace ``mask`` frames by slerp (rotations) / linear (pelvis) between good neighbours.

    Runs touching the start or end hold the nearest good frame. This is the "same detection +
    interpolation" baseline.
    """
    from scipy.spatial.transform import Rotation

    from stablemotion_dlc.smpl.amass import _quat_slerp  # the loader's vectorised slerp

    mask = np.asarray(mask, bool)
    n = len(motion)
    good = np.flatnonzero(~mask)
    if mask.all() or not mask.any():
        return replace(motion)
    bad = np.flatnonzero(mask)
    right = np.searchsorted(good, bad)
    lo = good[np.clip(right - 1, 0, len(good) - 1)]
    hi = good[np.clip(right, 0, len(good) - 1)]
    lo = np.where(right == 0, hi, lo)
    hi = np.where(right == len(good), lo, hi)
    a = np.where(hi > lo, (bad - lo) / np.maximum(hi - lo, 1), 0.0)
    quats = Rotation.from_rotvec(motion.poses.reshape(-1, 3)).as_quat().reshape(n, 22, 4)
    q = _quat_slerp(quats[lo], quats[hi], a)
    poses = motion.poses.copy()
    poses[bad] = Rotation.from_quat(q.reshape(-1, 4)).as_rotvec().reshape(len(bad), 22, 3)
    pel = motion.joints[:, 0]
    pelvis = (1 - a)[:, None] * pel[lo] + a[:, None] * pel[hi]
    trans = motion.trans.copy()
    trans[bad] = pelvis - motion.skeleton.rest_joints[0]
    joints = motion.joints.copy()
    joints[bad] = forward_kinematics(axis_angle_to_matrix(poses[bad]), pelvis, motion.skeleton)
    return replace(motion, poses=poses, trans=trans, joints=joints)


def savgol_joints(joints: np.ndarray, window: int = 9, order: int = 2) -> np.ndarray:
    """Savitzky-Golay smoothing of joint positions over time (the classical smoother)."""
    from scipy.signal import savgol_filter

    win = min(window, len(joints) - (1 - len(joints) % 2))
    if win <= order:
        return joints.copy()
    return savgol_filter(joints, win, order, axis=0, mode="interp")


# ------------------------------------------------------------------------------ evaluate
#: Detection thresholds scored by :func:`evaluate_smpl`'s ``threshold_sweep``.
SWEEP_THRESHOLDS: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def _mean_reports(reports: Sequence[dict[str, float]]) -> dict[str, float]:
    """Mean of each key over reports, skipping NaN (e.g. precision with nothing detected)."""
    keys = reports[0].keys()
    out = {}
    for k in keys:
        v = np.asarray([r[k] for r in reports], dtype=np.float64)
        out[k] = float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else float("nan")
    return out


def evaluate_smpl(model_file: str | Path, amass: str | Path | Iterable[str | Path] | None = None,
                  *, smpl_model: str | Path | None = None, n_generated: int = 16,
                  n_frames: int = 200, corruption: CorruptionConfig | None = None,
                  threshold: float = DEFAULT_THRESHOLD, detect_method: str = "single",
                  steps: int = 1, ensemble: int = DEFAULT_ENSEMBLE, seed: int = 12345,
                  device: str | None = None,
                  out_json: str | Path | None = None, overwrite: bool = False,
                  progress: bool = True, on_ood: str = "fallback",
                  min_frames: int = 16, source_fps: float | None = None,
                  n_repeats: int = 1) -> dict[str, Any]:
    """Corrupt clean motion, clean it, and compare with classical baselines.

    Methods scored (joint metrics against the clean motion, averaged over motions):
    ``corrupted`` (the input), ``model`` (model + rule detection, model repair: what
    :func:`clean_smpl` does), ``model_no_rules`` (the model's own detection only, at
    ``threshold`` or 0.5 when ``threshold`` is 1 or more),
    ``model_oracle_mask`` (repair of the true corrupted frames), ``interp_detected``
    (``model``'s frames filled by slerp / linear interpolation), ``interp_oracle`` (true frames
    interpolated), ``savgol`` (Savitzky-Golay on all joint positions). Detection
    precision/recall/F1 compare frames with the true labels (``detection``: ``model``'s;
    ``detection_ablation``: also the model alone and the rules alone); ``recall_by_kind`` is
    ``model``'s recall of the labelled frames inside each kind's intervals;
    ``threshold_sweep`` scores the model's own detection at :data:`SWEEP_THRESHOLDS`, alone
    and with the rules (the model's own detection is scored even where the input check
    would fall back). ``clean_input`` cleans the uncorrupted motions too: the share of
    frames changed (do no harm) and the joint error that caused. ``input_check`` averages the
    core's out-of-distribution check over the corrupted motions, with the share of motions
    that fell back to the rules.

    With ``amass`` (real captures, e.g. a folder of AMASS files the user has), each file is
    cut into ``n_frames`` clips; a file shorter than that but at least ``min_frames`` long is
    used whole, a shorter one is skipped with a warning naming it.

    Parameters
    ----------
    model_file : str or Path
        Model from :func:`train_smpl`.
    amass : path, folder or iterable of paths, optional
        Clean AMASS motions, cut into ``n_frames`` clips; default: ``n_generated`` generated
        motions (seeded by ``seed``, distinct from training's default seeds).
    smpl_model : str or Path, optional
        SMPL/SMPL-H model.
    n_generated, n_frames : int
        Generated motions and their length.
    corruption : CorruptionConfig, optional
        Injected corruption.
    threshold, detect_method, steps, ensemble : float, str, int, int
        See :func:`clean_motion`.
    seed : int
        Seed of motions and corruption.
    device : str, optional
        Torch device.
    out_json : str or Path, optional
        Write the report there (atomically).
    overwrite : bool
        Replace an existing ``out_json``.
    progress : bool
        Progress bar over motions.
    on_ood : {"fallback", "refuse", "ignore"}
        See :func:`clean_motion` (applies to ``model``).
    min_frames : int
        Shortest AMASS file used (frames at the model's rate).
    source_fps : float, optional
        Frame rate of AMASS files that do not record one.
    n_repeats : int
        Independent corruptions of each motion (a few real clips give a steadier average).

    Returns
    -------
    dict
        ``{"methods": {method: {metric: value}}, "detection": {...}, "n_motions": ...,
        "seconds_per_motion": ...}``.

    Raises
    ------
    TrainingDataError
        No motion to evaluate (e.g. every file too short); the message names the input.
    """
    if out_json is not None:
        check_writable(out_json, overwrite)
    cleaner = load_cleaner(model_file, device=device)
    rng = np.random.default_rng(seed)
    fps = float(cleaner.bundle.spec.get("fps", TARGET_FPS))
    if amass is not None:
        motions = load_amass_clips(amass, smpl_model, clip_length=n_frames, fps=fps,
                                   min_length=min_frames, source_fps=source_fps)
    else:
        motions = [generate_motion(n_frames, rng, fps=fps) for _ in range(n_generated)]
    if not motions:
        raise TrainingDataError(
            f"no motions to evaluate: {amass} holds no motion of at least {min_frames} frames "
            f"at {fps:g} fps" if amass is not None else "no motions to evaluate: "
            "n_generated is 0 and no AMASS files were given")
    config = corruption or CorruptionConfig()
    own_threshold = threshold if threshold < 1.0 else 0.5
    reports: dict[str, list[dict[str, float]]] = {}
    det: dict[str, list[dict[str, float]]] = {}
    sweep: dict[str, list[dict[str, float]]] = {}
    by_kind = {k: [0, 0] for k in CORRUPTION_KINDS}  # labelled frames found, labelled frames
    seconds = []
    checks: list[dict[str, float]] = []
    clean_runs: list[dict[str, float]] = []
    runs = [m for m in motions for _ in range(max(1, int(n_repeats)))]
    for motion in progress_bar(runs, desc="evaluate", disable=not progress):
        bad, labels, events = corrupt(motion, rng, config)
        res = clean_motion(bad, cleaner, threshold=threshold, detect_method=detect_method,
                           steps=steps, ensemble=ensemble, seed=seed, on_ood=on_ood)
        seconds.append(res.seconds)
        if res.check is not None:
            checks.append({"flagged_share": res.check.flagged_share,
                           "feature_shift": res.check.feature_shift,
                           "outlier_share": res.check.outlier_share,
                           "fallback": float(res.fallback)})
        untouched = clean_motion(motion, cleaner, threshold=threshold,
                                 detect_method=detect_method, steps=steps, ensemble=ensemble,
                                 seed=seed, on_ood=on_ood)
        changed = np.any(untouched.motion.joints != motion.joints, axis=(1, 2))
        clean_runs.append({"frames_changed": float(changed.mean()),
                           "gmpjpe_cm": motion_report(untouched.motion.joints, motion.joints,
                                                      motion.fps)["gmpjpe_cm"],
                           "fallback": float(untouched.fallback)})
        oracle = clean_motion(bad, cleaner, mask=labels, steps=steps, ensemble=ensemble,
                              seed=seed)
        no_rules = clean_motion(bad, cleaner, threshold=own_threshold,
                                detect_method=detect_method, steps=steps, ensemble=ensemble,
                                seed=seed, rules=False, on_ood="ignore")
        ruled = suspect_frames(bad).mask
        preds = {
            "corrupted": bad.joints,
            "model": res.motion.joints,
            "model_no_rules": no_rules.motion.joints,
            "model_oracle_mask": oracle.motion.joints,
            "interp_detected": interpolate_frames(bad, res.mask).joints,
            "interp_oracle": interpolate_frames(bad, labels).joints,
            "savgol": savgol_joints(bad.joints),
        }
        for name, joints in preds.items():
            reports.setdefault(name, []).append(
                motion_report(joints, motion.joints, motion.fps, bad=labels))
        for name, found in (("model", res.mask), ("model_no_rules", no_rules.mask),
                            ("rules", ruled)):
            det.setdefault(name, []).append(detection_scores(found, labels))
        for th in SWEEP_THRESHOLDS:
            own = no_rules.probability > th
            sweep.setdefault(f"{th:.1f}", []).append(detection_scores(own, labels))
            sweep.setdefault(f"{th:.1f}+rules", []).append(detection_scores(own | ruled, labels))
        for ev in events:
            lab = labels[ev.start:ev.stop]
            by_kind[ev.kind][0] += int((res.mask[ev.start:ev.stop] & lab).sum())
            by_kind[ev.kind][1] += int(lab.sum())
    report: dict[str, Any] = {
        "methods": {k: _mean_reports(v) for k, v in reports.items()},
        "clean_reference": _mean_reports([motion_report(m.joints, m.joints, m.fps)
                                          for m in motions]),
        "detection": _mean_reports(det["model"]),
        "detection_ablation": {k: _mean_reports(v) for k, v in det.items()},
        "recall_by_kind": {k: (f / t if t else None) for k, (f, t) in by_kind.items()},
        "threshold_sweep": {k: _mean_reports(v) for k, v in sweep.items()},
        "clean_input": _mean_reports(clean_runs),
        "input_check": _mean_reports(checks) if checks else {},
        "n_motions": len(motions),
        "n_repeats": max(1, int(n_repeats)),
        "sources": sorted({m.source.split("[", 1)[0] for m in motions})[:50],
        "n_frames": int(sum(len(m) for m in motions)),
        "seconds_per_motion": float(np.mean(seconds)),
        "model_file": str(model_file),
    }
    if out_json is not None:
        with atomic_path(out_json, overwrite) as tmp:
            tmp.write_text(json.dumps(report, indent=2))
    return report
