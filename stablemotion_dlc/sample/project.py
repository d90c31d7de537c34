"""A complete, simulated DeepLabCut project to demo and test on (no real data needed).

:func:`make_sample_project` writes, deterministically from a seed::

    outdir/
      config.yaml                                   DLC 3 project config (pytorch engine)
      videos/<name>.mp4                             rendered top-view video (optional)
      videos/<name><scorer>[_el].h5 / .csv          DLC-style predictions with errors
      videos/<name><scorer>_meta.pickle             analysis metadata, as analyze_videos writes
      ground_truth/<name>_truth.h5                  true keypoints (same layout, likelihood 1)
      ground_truth/<name>_corruption.npz            per-point error kind codes

``<name>`` is ``sim_mouse`` (one animal) or ``sim_mice`` (two or three); the scorer is
``DLC_Resnet50_simJan1shuffle1_snapshot_200``, DLC 3's naming. Multi-animal predictions carry
the ellipse tracker's ``_el`` suffix, as DLC 3's ``analyze_videos`` writes them. The ground truth
lives outside ``videos/`` so DLC never mistakes it for an analysis output.

The pure pieces (:func:`~.simulate.simulate_animals`, :func:`~.simulate.corrupt_predictions`,
:data:`~.simulate.BODYPARTS`, :data:`~.simulate.SKELETON`) come from
:mod:`stablemotion_dlc.sample.simulate`; the error kinds and their codes are those of
:mod:`stablemotion_dlc.dlc.corruption`.
"""

from __future__ import annotations

import io as _io
import logging
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stablemotion_dlc._arrays import save_npz
from stablemotion_dlc._atomic import atomic_path
from stablemotion_dlc.dlc.constants import DEFAULT_PCUTOFF, DEFAULT_TRACK_METHOD
from stablemotion_dlc.dlc.corruption import CORRUPTION_KINDS, KIND_CODES

from .simulate import (
    BODYPARTS,
    SKELETON,
    CorruptionConfig,
    corrupt_predictions,
    simulate_animals,
)

__all__ = [
    "SampleProject",
    "SampleExperiment",
    "make_sample_experiment",
    "make_sample_project",
    "sample_scorer",
    "load_corruption",
]

#: Kind names indexed by code (``"clean"`` = 0), as written to ``*_corruption.npz``.
_NAMES_BY_CODE: tuple[str, ...] = ("clean", *CORRUPTION_KINDS)
assert all(KIND_CODES[k] == c for c, k in enumerate(_NAMES_BY_CODE) if c)

logger = logging.getLogger(__name__)

TASK = "sim"
EXPERIMENTER = "stablemotion"
DATE = "Jan1"
NET_TYPE = "resnet_50"
SNAPSHOT = 200


def sample_scorer(shuffle: int = 1) -> str:
    """DLC 3 scorer of the simulated predictions, ``DLC_Resnet50_simJan1shuffle1_snapshot_200``.

    Parameters
    ----------
    shuffle : int
        Shuffle number in the name.

    Returns
    -------
    str
    """
    net = "".join(p.capitalize() for p in NET_TYPE.split("_"))
    return f"DLC_{net}_{TASK}{DATE}shuffle{shuffle}_snapshot_{SNAPSHOT}"


@dataclass(frozen=True)
class SampleProject:
    """Paths and facts of a generated sample project.

    Attributes
    ----------
    outdir : Path
        Project folder.
    config : Path
        ``config.yaml``.
    video : Path
        ``videos/<name>.mp4`` (listed in the config; exists only when rendered).
    predictions_h5, predictions_csv : Path
        DLC-style predictions (with simulated errors).
    meta_pickle : Path
        ``<stem><scorer>_meta.pickle``.
    truth_h5 : Path
        Ground truth in the same layout (likelihood 1).
    corruption_npz : Path
        ``kinds`` (frames, individuals, keypoints) int8, ``kind_names``, ``corrupted`` bool.
    scorer : str
        DLC scorer of the predictions.
    bodyparts : tuple of str
        Keypoint names.
    individuals : tuple of str
        Animal names (``("animal",)`` for the single-animal layout).
    multianimal : bool
        Whether the project is a multi-animal one (4-level columns).
    n_frames : int
        Number of frames.
    fps : float
        Frame rate.
    width, height : int
        Frame size.
    seed : int
        Seed the project was generated from.
    has_video : bool
        Whether the video was rendered.
    kind_counts : dict
        Corruption kind name -> number of affected points.
    """

    outdir: Path
    config: Path
    video: Path
    predictions_h5: Path
    predictions_csv: Path
    meta_pickle: Path
    truth_h5: Path
    corruption_npz: Path
    scorer: str
    bodyparts: tuple[str, ...]
    individuals: tuple[str, ...]
    multianimal: bool
    n_frames: int
    fps: float
    width: int
    height: int
    seed: int
    has_video: bool
    kind_counts: dict[str, int] = field(default_factory=dict, hash=False, compare=False)

    @property
    def n_animals(self) -> int:
        """Number of animals."""
        return len(self.individuals)

    @property
    def n_points(self) -> int:
        """Number of (frame, animal, keypoint) points."""
        return self.n_frames * self.n_animals * len(self.bodyparts)

    @property
    def corrupted_share(self) -> float:
        """Share of points carrying a simulated error (any kind)."""
        return sum(self.kind_counts.values()) / max(1, self.n_points)

    def describe(self) -> str:
        """A short human-readable account of what was written."""
        lines = [
            f"sample project: {self.outdir}",
            f"  config      {self.config}",
            f"  video       {self.video if self.has_video else '(not rendered)'}",
            f"  predictions {self.predictions_h5}",
            f"              {self.predictions_csv}",
            f"  truth       {self.truth_h5}",
            f"  errors      {self.corruption_npz}",
            f"  {self.n_frames} frames at {self.fps:g} fps, {self.width}x{self.height}, "
            f"{self.n_animals} animal(s) x {len(self.bodyparts)} keypoints, seed {self.seed}",
            f"  simulated errors: {self.corrupted_share:.1%} of points",
        ]
        lines += [f"    {k:<16}{v:>7}" for k, v in self.kind_counts.items() if v]
        return "\n".join(lines)


def load_corruption(path: str | Path) -> dict[str, np.ndarray]:
    """Read a ``*_corruption.npz`` written by :func:`make_sample_project`.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    dict
        ``kinds`` (frames, individuals, keypoints) int8, ``kind_names`` (str array indexed by
        code), ``corrupted`` bool, ``bodyparts`` and ``individuals``.
    """
    with np.load(Path(path), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _config_dict(
    outdir: Path, video: Path, multianimal: bool, individuals: list[str], width: int, height: int
) -> dict[str, Any]:
    """A DLC 3 ``config.yaml`` content, key order as ``deeplabcut.create_new_project``."""
    skeleton = [list(b) for b in SKELETON]
    cfg: dict[str, Any] = {
        "Task": TASK,
        "scorer": EXPERIMENTER,
        "date": DATE,
        "multianimalproject": multianimal,
        "identity": False if multianimal else None,
        "project_path": str(outdir),
        "engine": "pytorch",
        "video_sets": {str(video): {"crop": f"0, {width}, 0, {height}"}},
    }
    if multianimal:
        cfg.update(
            {
                "individuals": individuals,
                "uniquebodyparts": [],
                "multianimalbodyparts": list(BODYPARTS),
                "bodyparts": "MULTI!",
            }
        )
    else:
        cfg["bodyparts"] = list(BODYPARTS)
    cfg.update(
        {
            "start": 0,
            "stop": 1,
            "numframes2pick": 20,
            "skeleton": skeleton,
            "skeleton_color": "black",
            "pcutoff": DEFAULT_PCUTOFF,
            "dotsize": 6,
            "alphavalue": 0.7,
            "colormap": "rainbow",
            "TrainingFraction": [0.95],
            "iteration": 0,
            "default_net_type": NET_TYPE,
            "default_augmenter": "albumentations" if multianimal else "default",
            "snapshotindex": -1,
            "detector_snapshotindex": -1,
            "batch_size": 8,
            "detector_batch_size": 1,
            "cropping": False,
            "x1": 0,
            "x2": width,
            "y1": 0,
            "y2": height,
            "corner2move2": [50, 50],
            "move2corner": True,
        }
    )
    if multianimal:
        cfg["default_track_method"] = DEFAULT_TRACK_METHOD
    if not multianimal:
        del cfg["identity"]
    return cfg


def _write_bytes(path: Path, data: bytes, overwrite: bool) -> None:
    with atomic_path(path, overwrite) as tmp:
        tmp.write_bytes(data)


def make_sample_project(
    outdir: str | Path,
    *,
    seed: int = 0,
    n_animals: int = 1,
    duration_s: float = 60.0,
    fps: int = 30,
    width: int = 640,
    height: int = 480,
    placeholder: str = "nan",
    video: bool = True,
    overwrite: bool = False,
    corruption: CorruptionConfig | None = None,
    noise: bool = True,
    progress: bool = True,
) -> SampleProject:
    """Generate a simulated DLC project: config, video, predictions, ground truth.

    Parameters
    ----------
    outdir : str or Path
        Project folder; created if needed. Must be empty unless ``overwrite``.
    seed : int
        Everything (motion, errors, drawing) is a deterministic function of it.
    n_animals : int
        1 (single-animal project, 3-level columns) or 2-3 (multi-animal project, individuals
        ``mouse1..``, 4-level columns).
    duration_s : float
        Length in seconds (``round(duration_s * fps)`` frames, at least 1).
    fps : int
        Frame rate.
    width, height : int
        Frame size (even numbers).
    placeholder : {"nan", "-1"}
        How dropped points are written: NaN (x, y, likelihood) or ``-1``.
    video : bool
        Render the mp4 (the slow part; tests mostly skip it).
    overwrite : bool
        Allow a non-empty ``outdir`` and replace the files this function writes.
    corruption : CorruptionConfig, optional
        Error rates and lengths (default :class:`CorruptionConfig()`).
    noise : bool
        Light sensor noise in the video.
    progress : bool
        Show a progress bar while rendering.

    Returns
    -------
    SampleProject
        Paths and facts of the generated project.

    Raises
    ------
    FileExistsError
        ``outdir`` is not empty and ``overwrite`` is False.
    ValueError
        An argument is out of range.
    """
    import yaml

    from stablemotion_dlc.dlc.io import write_tracks
    from stablemotion_dlc.dlc.project import dlc_output_name
    from stablemotion_dlc.dlc.tracks import Tracks

    if placeholder not in ("nan", "-1"):
        raise ValueError(f"placeholder must be 'nan' or '-1', got {placeholder!r}")
    if not 1 <= n_animals <= 3:
        raise ValueError(f"n_animals must be 1, 2 or 3, got {n_animals}")
    if duration_s <= 0 or fps <= 0:
        raise ValueError(f"duration_s and fps must be > 0, got {duration_s}, {fps}")
    if width % 2 or height % 2:
        raise ValueError(f"width and height must be even (yuv420p video), got {width}x{height}")
    outdir = Path(outdir).expanduser().absolute()
    if outdir.exists() and not outdir.is_dir():
        raise FileExistsError(f"{outdir}: exists and is not a folder")
    if outdir.is_dir() and any(outdir.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{outdir}: folder is not empty; pass overwrite=True to write "
            "the sample project into it anyway"
        )
    t0 = time.perf_counter()
    n_frames = max(1, int(round(duration_s * fps)))
    multianimal = n_animals > 1
    name = "sim_mice" if multianimal else "sim_mouse"
    individuals = [f"mouse{i + 1}" for i in range(n_animals)] if multianimal else None
    scorer = sample_scorer()
    videos_dir = outdir / "videos"
    gt_dir = outdir / "ground_truth"
    video_path = videos_dir / f"{name}.mp4"
    tracker = DEFAULT_TRACK_METHOD if multianimal else None
    pred_h5 = videos_dir / dlc_output_name(video_path, scorer, track_method=tracker)
    pred_csv = pred_h5.with_suffix(".csv")
    meta_path = videos_dir / f"{name}{scorer}_meta.pickle"
    truth_h5 = gt_dir / f"{name}_truth.h5"
    corr_npz = gt_dir / f"{name}_corruption.npz"

    sim_seq, corr_seq, render_seq = np.random.SeedSequence(seed).spawn(3)
    truth = simulate_animals(
        n_frames, n_animals, float(fps), width, height, np.random.default_rng(sim_seq)
    )
    xy, lik, kinds = corrupt_predictions(
        truth,
        np.random.default_rng(corr_seq),
        fps=float(fps),
        width=width,
        height=height,
        config=corruption,
    )
    outdir.mkdir(parents=True, exist_ok=True)
    videos_dir.mkdir(exist_ok=True)
    gt_dir.mkdir(exist_ok=True)

    common: dict[str, Any] = dict(
        bodyparts=list(BODYPARTS), individuals=individuals, scorer=scorer, multianimal=multianimal
    )
    pred = Tracks.from_arrays(xy, lik, placeholder=placeholder, **common)
    write_tracks(pred, pred_h5, overwrite=overwrite)
    write_tracks(pred, pred_csv, overwrite=overwrite)
    true_tracks = Tracks.from_arrays(truth, np.ones(truth.shape[:3]), **common)
    write_tracks(true_tracks, truth_h5, overwrite=overwrite)
    buf = _io.BytesIO()
    save_npz(
        buf,
        kinds=kinds,
        kind_names=np.array(_NAMES_BY_CODE),
        corrupted=kinds > 0,
        bodyparts=np.array(BODYPARTS),
        individuals=np.array(pred.individuals),
    )
    _write_bytes(corr_npz, buf.getvalue(), overwrite)

    if video:
        from .render import render_video

        render_video(
            truth,
            video_path,
            fps=float(fps),
            width=width,
            height=height,
            seed=int(render_seq.generate_state(1)[0]),
            noise=noise,
            overwrite=overwrite,
            progress=progress,
        )
    elif video_path.exists():
        video_path.unlink()  # a stale video from an earlier run would not match these tracks
        logger.info("removed stale %s (video=False)", video_path)

    run_s = time.perf_counter() - t0
    meta = {
        "data": {
            "start": 0.0,
            "stop": run_s,
            "run_duration": run_s,
            "Scorer": scorer,
            "pytorch-config": {
                "net_type": NET_TYPE,
                "method": "bu",
                "metadata": {
                    "project_path": str(outdir),
                    "pose_config_path": "",
                    "bodyparts": list(BODYPARTS),
                    "unique_bodyparts": [],
                    "individuals": list(pred.individuals),
                    "with_identity": None,
                },
            },
            "fps": float(fps),
            "batch_size": 8,
            "frame_dimensions": (width, height),
            "nframes": n_frames,
            "iteration (active-learning)": 0,
            "training set fraction": 0.95,
            "cropping": False,
            "cropping_parameters": [0, width, 0, height],
            "individuals": list(pred.individuals),
            "bodyparts": list(BODYPARTS),
            "unique_bodyparts": [],
            "simulated": True,
            "seed": seed,
        }
    }
    _write_bytes(meta_path, pickle.dumps(meta, protocol=4), overwrite)
    cfg = _config_dict(outdir, video_path, multianimal, list(pred.individuals), width, height)
    text = yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False)
    _write_bytes(outdir / "config.yaml", text.encode("utf-8"), overwrite)

    counts = {n: int(np.sum(kinds == KIND_CODES[n])) for n in CORRUPTION_KINDS}
    project = SampleProject(
        outdir=outdir,
        config=outdir / "config.yaml",
        video=video_path,
        predictions_h5=pred_h5,
        predictions_csv=pred_csv,
        meta_pickle=meta_path,
        truth_h5=truth_h5,
        corruption_npz=corr_npz,
        scorer=scorer,
        bodyparts=tuple(BODYPARTS),
        individuals=tuple(pred.individuals),
        multianimal=multianimal,
        n_frames=n_frames,
        fps=float(fps),
        width=width,
        height=height,
        seed=seed,
        has_video=bool(video),
        kind_counts=counts,
    )
    logger.info(
        "sample project %s: %d frames, %d animal(s), %.1f%% points corrupted, %.1f s",
        outdir,
        n_frames,
        n_animals,
        100 * project.corrupted_share,
        time.perf_counter() - t0,
    )
    return project


@dataclass(frozen=True)
class SampleExperiment:
    """A sample project plus an experiment folder of analysed videos outside ``video_sets``.

    Attributes
    ----------
    project : SampleProject
        The project (its own video is the one in ``video_sets``).
    folder : Path
        ``<project>/<folder>/``: the experiment's videos and their DLC outputs.
    videos : tuple of Path
        ``<folder>/mouseNN.mp4`` (exist only when rendered).
    predictions : tuple of Path
        Their DLC outputs ``mouseNN<scorer>[_el].h5`` (with ``.csv`` and meta pickle).
    truths : tuple of Path
        Their ground truth, ``<project>/ground_truth/mouseNN_truth.h5``.
    """

    project: SampleProject
    folder: Path
    videos: tuple[Path, ...]
    predictions: tuple[Path, ...]
    truths: tuple[Path, ...]


def make_sample_experiment(
    outdir: str | Path,
    n_videos: int = 20,
    *,
    seed: int = 0,
    folder: str = "experiment",
    n_animals: int = 1,
    duration_s: float = 10.0,
    fps: int = 30,
    width: int = 320,
    height: int = 240,
    video: bool = True,
    progress: bool = True,
) -> SampleExperiment:
    """A sample project with ``n_videos`` more analysed videos in a folder of their own.

    As a lab runs DeepLabCut: the project lists one video in ``video_sets``; the experiment's
    videos are analysed from elsewhere (``<outdir>/<folder>/``), each with its own simulated
    animal and errors (seeds ``seed + 1 ...``) and DLC's output beside it.

    Parameters
    ----------
    outdir : str or Path
        Project folder (empty or absent).
    n_videos : int
        Videos in the experiment folder.
    seed : int
        Seed of the project; video ``i`` uses ``seed + 1 + i``.
    folder : str
        Name of the experiment folder inside the project.
    n_animals, duration_s, fps, width, height, video, progress
        As in :func:`make_sample_project`.

    Returns
    -------
    SampleExperiment
    """
    import shutil
    import tempfile

    if n_videos < 1:
        raise ValueError(f"n_videos must be at least 1, got {n_videos}")
    common: dict[str, Any] = dict(
        n_animals=n_animals,
        duration_s=duration_s,
        fps=fps,
        width=width,
        height=height,
        video=video,
        progress=progress,
    )
    project = make_sample_project(outdir, seed=seed, **common)
    exp = project.outdir / folder
    exp.mkdir(exist_ok=False)
    videos, preds, truths = [], [], []
    with tempfile.TemporaryDirectory(dir=project.outdir) as tmp:
        for i in range(n_videos):
            sub = make_sample_project(Path(tmp) / f"s{i}", seed=seed + 1 + i, **common)
            stem = f"mouse{i:02d}"
            old = sub.video.stem

            def moved(p: Path, dest: Path, old: str = old, stem: str = stem) -> Path:
                target = dest / (stem + p.name[len(old) :])
                shutil.move(str(p), str(target))
                return target

            preds.append(moved(sub.predictions_h5, exp))
            moved(sub.predictions_csv, exp)
            moved(sub.meta_pickle, exp)
            truths.append(moved(sub.truth_h5, project.truth_h5.parent))
            moved(sub.corruption_npz, project.truth_h5.parent)
            videos.append(exp / f"{stem}{sub.video.suffix}")
            if sub.video.exists():
                moved(sub.video, exp)
    logger.info("sample experiment: %d videos in %s", n_videos, exp)
    return SampleExperiment(project, exp, tuple(videos), tuple(preds), tuple(truths))
