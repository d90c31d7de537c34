"""The loop back into DeepLabCut: outlier frames chosen by cleaning, relabelled from our points.

DeepLabCut improves its network by relabelling frames where it erred
(``extract_outlier_frames`` -> ``refine_labels`` -> ``merge_datasets`` -> retrain). Its own
outlier detectors look at jumps or low likelihood; cleaning knows better where the network
was *confidently wrong*, and what the right positions were. :func:`extract_outlier_frames`:

1. cleans the videos (:func:`~.batch.clean_videos`: existing cleaned outputs are reused);
2. scores every frame by its repairs (:func:`frame_scores`: the distance each replaced or
   identity-fixed point moved, times the detection probability) and picks ``n`` frames with
   the largest scores, spread over the videos and at least ``min_gap`` frames apart
   (:func:`select_frames`), never a frame whose image is already in
   ``labeled-data/<video>/`` (labelled, or extracted by an earlier call: asking again gives
   new frames);
3. hands them to ``deeplabcut.extract_outlier_frames(..., outlieralgorithm="list",
   frames2use=...)``, which writes ``labeled-data/<video>/imgNNN.png`` and its machine
   labels ``machinelabels-iter<N>.h5`` (the network's raw points);
4. overwrites those frames' rows of the machine labels with the cleaned points (atomically,
   other rows kept), so DLC's refine GUI opens on the corrected points.

DeepLabCut details this relies on (3.0.2, ``refine_training_dataset/outlier_frames.py``): with
``outlieralgorithm="list"`` the frames go through ``extractionalgorithm="uniform"``, which keeps
all of them only when there are at most ``numframes2pick`` per video (else a random subset), and
drops frame indices ``<= floor(start * n_frames)`` (frame 0 included) or ``>= ceil(stop *
n_frames)``; the machine-label file keeps its existing rows ("first wins") and its rows are
indexed ``("labeled-data", <video stem>, "img<frame, zero-padded to ceil(log10(n_frames))>.png")``
in ``<project_path>/labeled-data/<video stem>/`` (``project_path`` as written in the config).
"""

from __future__ import annotations

import contextlib
import io as _io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StableMotionError
from .io import hdf_store_without_times, read_tracks
from .project import DlcProject, as_project
from .tracks import Tracks

__all__ = [
    "OutlierVideo",
    "frame_scores",
    "select_frames",
    "extract_outlier_frames",
    "write_machine_labels",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutlierVideo:
    """Frames extracted from one video for relabelling.

    Attributes
    ----------
    video : Path
        The video.
    frames : tuple of int
        Frame indices extracted (sorted).
    scores : tuple of float
        Their repair scores (px, see :func:`frame_scores`).
    folder : Path
        ``<project>/labeled-data/<video stem>/`` (the PNG frames).
    machine_labels : Path
        ``machinelabels-iter<N>.h5`` there, whose rows for ``frames`` hold our cleaned points.
    """

    video: Path
    frames: tuple[int, ...]
    scores: tuple[float, ...]
    folder: Path
    machine_labels: Path


# ============================================================================ choosing frames
def frame_scores(raw: Tracks, cleaned: Tracks, status: np.ndarray,
                 probability: np.ndarray) -> np.ndarray:
    """Per-frame score of the errors cleaning repaired with confidence.

    Parameters
    ----------
    raw, cleaned : Tracks
        The DLC output and its cleaned version (same shape).
    status : np.ndarray
        ``(frames, individuals, keypoints)`` provenance codes
        (:data:`~.pipeline.STATUS_NAMES`).
    probability : np.ndarray
        ``(frames, individuals, keypoints)`` probability that the input point was bad.

    Returns
    -------
    np.ndarray
        ``(frames,)``: the sum, over points replaced or identity-fixed, of the distance (px)
        between the network's and the cleaned position times that probability (identity
        fixes count fully). Gap-filled points (the network gave no position) count 0.
    """
    from .pipeline import IDENTITY_FIXED, REPLACED

    if raw.xy.shape != cleaned.xy.shape or status.shape != raw.xy.shape[:3]:
        raise ValueError(f"shapes differ: raw {raw.xy.shape}, cleaned {cleaned.xy.shape}, "
                         f"status {status.shape}")
    moved = np.linalg.norm(cleaned.xy - raw.xy, axis=-1)
    weight = np.where(status == IDENTITY_FIXED, 1.0,
                      np.where(status == REPLACED, np.clip(probability, 0.0, 1.0), 0.0))
    per_point = np.where(np.isfinite(moved), moved, 0.0) * weight
    return per_point.reshape(per_point.shape[0], -1).sum(axis=1)


def select_frames(
    scores: Sequence[np.ndarray],
    n: int,
    *,
    min_gap: int | Sequence[int] = 1,
    per_video: int | None = None,
    allowed: Sequence[np.ndarray] | None = None,
) -> list[list[int]]:
    """Pick ``n`` frames with the largest scores, spread over videos and in time.

    Greedy: each step takes, over all videos, the best remaining frame at least ``min_gap``
    frames from those already taken in its video, its score divided by ``1 + frames already
    taken from that video`` (so a second frame of one video must score twice as high as a
    first frame of another).

    Parameters
    ----------
    scores : sequence of np.ndarray
        ``(frames,)`` score per frame of each video (:func:`frame_scores`); frames scoring 0
        are never chosen.
    n : int
        Frames wanted in total.
    min_gap : int or sequence of int
        Least distance (frames) between two frames of one video (per video if a sequence).
    per_video : int, optional
        Most frames from one video.
    allowed : sequence of np.ndarray, optional
        ``(frames,)`` bool per video: frames that may be chosen.

    Returns
    -------
    list of list of int
        Sorted frame indices per video.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    gaps = [int(min_gap)] * len(scores) if isinstance(min_gap, (int, np.integer)) \
        else [int(g) for g in min_gap]
    cands = []
    for v, s in enumerate(scores):
        s = np.asarray(s, dtype=np.float64)
        ok = np.isfinite(s) & (s > 0)
        if allowed is not None:
            ok &= np.asarray(allowed[v], dtype=bool)
        idx = np.flatnonzero(ok)
        cands.append(idx[np.argsort(-s[idx], kind="stable")])
    chosen: list[list[int]] = [[] for _ in scores]
    ptr = [0] * len(scores)
    cap = per_video if per_video is not None else n
    while sum(len(c) for c in chosen) < n:
        best: tuple[float, int] | None = None
        for v, order in enumerate(cands):
            if len(chosen[v]) >= cap:
                continue
            while ptr[v] < len(order) and any(abs(int(order[ptr[v]]) - c) < gaps[v]
                                               for c in chosen[v]):
                ptr[v] += 1
            if ptr[v] >= len(order):
                continue
            eff = float(scores[v][order[ptr[v]]]) / (1 + len(chosen[v]))
            if best is None or eff > best[0]:
                best = (eff, v)
        if best is None:
            break
        v = best[1]
        chosen[v].append(int(cands[v][ptr[v]]))
        ptr[v] += 1
    return [sorted(c) for c in chosen]


# ============================================================================ machine labels
def _image_name(frame: int, n_frames: int) -> str:
    """DLC's image name of a frame: ``img`` + index zero-padded to ``ceil(log10(n))``."""
    width = int(np.ceil(np.log10(n_frames))) if n_frames > 1 else 1
    return "img" + str(frame).zfill(width) + ".png"


def write_machine_labels(machine_file: str | Path, video_stem: str, frames: Sequence[int],
                         raw_h5: str | Path, cleaned_h5: str | Path) -> int:
    """Replace the rows of ``frames`` in a DLC machine-label file by the cleaned points.

    DLC wrote those rows from the network's output (shifted when the analysis was cropped);
    each row gets the cleaned file's values instead, shifted the same way: the median
    difference between the row and the raw output over the points the cleaning left
    unchanged on that frame (over those of the other frames when it changed every point of
    this one). Writing the same frames again changes nothing, also after DeepLabCut kept
    the rows an earlier call wrote (it keeps an existing row when a frame is extracted
    again). Other rows and the column layout are kept; the ``.h5`` and DLC's
    ``machinelabels.csv`` twin are replaced atomically.

    Parameters
    ----------
    machine_file : str or Path
        ``labeled-data/<video>/machinelabels-iter<N>.h5``.
    video_stem : str
        The video's stem (second level of the row index).
    frames : sequence of int
        Frame indices whose rows to replace.
    raw_h5, cleaned_h5 : str or Path
        The DLC output and its cleaned version (same columns).

    Returns
    -------
    int
        Rows replaced.

    Raises
    ------
    StableMotionError
        A frame's row is missing or the columns do not match.
    """
    import pandas as pd

    from .._atomic import atomic_path

    machine_file = Path(machine_file)
    machine = pd.read_hdf(machine_file, "df_with_missing")
    raw = pd.read_hdf(raw_h5)
    cleaned = pd.read_hdf(cleaned_h5)
    cols = [c for c in machine.columns if c in cleaned.columns and c in raw.columns]
    xy_cols = [c for c in machine.columns if c[-1] in ("x", "y")]
    if set(xy_cols) - set(cols):
        raise StableMotionError(
            f"{machine_file}: columns {sorted(set(xy_cols) - set(cols))[:4]} are not in "
            f"{cleaned_h5}; cannot write the cleaned points")
    n_frames = len(raw)
    index = list(machine.index)
    coord = np.array([c[-1] for c in cols])
    rows = []
    for f in frames:
        key = ("labeled-data", video_stem, _image_name(int(f), n_frames))
        if key not in index:
            raise StableMotionError(f"{machine_file}: no row {key} (frame {f}) was written by "
                                    f"DeepLabCut")
        rows.append((key, machine.loc[key, cols].to_numpy(dtype=np.float64),
                     raw.iloc[int(f)][cols].to_numpy(dtype=np.float64),
                     cleaned.iloc[int(f)][cols].to_numpy(dtype=np.float64)))
    # the row less the raw output is DLC's crop shift where the cleaning changed nothing:
    # there a row holds the network's point, shifted, whether DeepLabCut wrote it just now
    # or an earlier call wrote the cleaned points into it (DeepLabCut keeps an existing row
    # when a frame is extracted again), so writing the same frames twice changes nothing
    unchanged: dict[str, list[np.ndarray]] = {"x": [], "y": []}
    for _key, have, net, new in rows:
        for c in ("x", "y"):
            same = (coord == c) & np.isfinite(have) & (new == net)
            unchanged[c].append(have[same] - net[same])
    pooled = {c: np.concatenate(unchanged[c]) for c in ("x", "y")}
    for j, (key, have, net, new) in enumerate(rows):
        for c in ("x", "y"):
            sel = coord == c
            own = unchanged[c][j]
            if own.size:  # this row's unchanged points
                shift = float(np.median(own))
            elif pooled[c].size:  # every point of this row changed: the other rows'
                shift = float(np.median(pooled[c]))
            else:  # nothing unchanged anywhere: the whole row, as DeepLabCut wrote it
                diff = have[sel] - net[sel]
                shift = float(np.nanmedian(diff)) if np.isfinite(diff).any() else 0.0
            new[sel] += shift
        machine.loc[key, cols] = new
    csv = machine_file.with_name("machinelabels.csv")
    # DeepLabCut's to_hdf(key="df_with_missing", mode="w"): fixed format, here without the
    # creation times PyTables would stamp, so the same frames give the same bytes
    with atomic_path(machine_file, overwrite=True) as tmp, hdf_store_without_times(tmp) as st:
        st.put("df_with_missing", machine, format="fixed")
    with atomic_path(csv, overwrite=True) as tmp:
        machine.to_csv(tmp)
    return len(frames)


# ============================================================================ the whole loop
def _allowed(n_frames: int, project: DlcProject) -> np.ndarray:
    """Frames DLC's ``uniform`` selection keeps: floor(start n) < f < ceil(stop n), f < n-1."""
    f = np.arange(n_frames)
    lo = math.floor(n_frames * project.start)
    hi = min(math.ceil(n_frames * project.stop), n_frames - 1)  # the video may be 1 shorter
    return (f > lo) & (f < hi)


def _extracted(folder: Path, n_frames: int) -> np.ndarray:
    """Frames whose image DLC already wrote into ``folder`` (``img<frame>.png``)."""
    have = np.zeros(n_frames, bool)
    if folder.is_dir():
        for png in folder.glob("img*.png"):
            stem = png.stem[3:]
            if stem.isdigit() and int(stem) < n_frames:
                have[int(stem)] = True
    return have


def extract_outlier_frames(
    config: str | Path | DlcProject,
    videos: str | Path | Sequence[str | Path],
    n: int = 20,
    *,
    shuffle: int = 1,
    trainingsetindex: int = 0,
    destfolder: str | Path | None = None,
    video_extensions: Sequence[str] | None = None,
    min_gap: int | None = None,
    model: str | Path | None = None,
    train_steps: int | None = None,
    copy_videos: bool = False,
    progress: bool = True,
    **clean_options: Any,
) -> list[OutlierVideo]:
    """Extract the frames cleaning found confidently wrong, labelled with the cleaned points.

    See the module docstring. Afterwards, relabel with ``deeplabcut.refine_labels(config)``
    (the frames open on our corrected points), then ``deeplabcut.merge_datasets(config)``
    and retrain.

    Parameters
    ----------
    config : str, Path or DlcProject
        The project's ``config.yaml`` (DeepLabCut adds the videos to ``video_sets``).
    videos : path, list of paths or folder
        Analysed videos.
    n : int
        Frames wanted in total (at most the config's ``numframes2pick`` per video, since
        DeepLabCut subsamples beyond that).
    shuffle, trainingsetindex : int
        DLC shuffle and training-set index whose outputs to use.
    destfolder : str or Path, optional
        Folder of the analysed files (default: beside each video).
    video_extensions : sequence of str, optional
        Extensions taken from a folder.
    min_gap : int, optional
        Least distance in frames between two frames of one video. Default: one second, or
        less on short videos (``n_frames // (4 n)``), at least 1.
    model : str or Path, optional
        Cleaning model (default: the project's, trained first when absent).
    train_steps : int, optional
        Training steps when a model must be trained first.
    copy_videos : bool
        Passed to DeepLabCut (copy rather than link new videos into the project).
    progress : bool
        Progress bars while cleaning.
    **clean_options
        Passed to :func:`~.pipeline.clean_tracks` for videos not cleaned yet.

    Returns
    -------
    list of OutlierVideo
        One per video with frames extracted.

    Raises
    ------
    StableMotionError
        DeepLabCut wrote no frames or no machine labels for a video it was given frames of.
    """
    import deeplabcut

    from .batch import clean_videos
    from .project import provenance_path

    project = as_project(config)
    report = clean_videos(project, videos, model, shuffle, destfolder=destfolder,
                          video_extensions=video_extensions, train_steps=train_steps,
                          progress=progress, **clean_options)
    done = [o for o in report.outcomes if o.status != "failed"]
    for o in report.failed:
        logger.warning("%s: not cleaned, no frames from it: %s", o.video, o.message)
    labeled = Path(str(project.raw.get("project_path") or project.project_dir)) / "labeled-data"
    scores, allowed, gaps, raws = [], [], [], []
    for o in done:
        assert o.output is not None and o.analysed is not None
        raw, cleaned = read_tracks(o.analysed), read_tracks(o.output)
        with np.load(provenance_path(o.output), allow_pickle=False) as prov:
            s = frame_scores(raw, cleaned, prov["status"], prov["probability"])
        scores.append(s)
        had = _extracted(labeled / o.video.stem, raw.n_frames)
        if had.any():
            logger.info("%s: %d frame(s) already in %s are not picked again", o.video.name,
                        int(had.sum()), labeled / o.video.stem)
        allowed.append(_allowed(raw.n_frames, project) & ~had)
        fps = float(raw.meta.get("fps") or 30.0)
        gaps.append(max(1, min_gap if min_gap is not None
                        else min(round(fps), raw.n_frames // (4 * max(1, n)))))
        raws.append(o.analysed)
    picks = select_frames(scores, n, min_gap=gaps, per_video=project.numframes2pick,
                          allowed=allowed)
    total = sum(len(p) for p in picks)
    if total < n:
        logger.warning("only %d frame(s) with confident repairs found (asked for %d; at most "
                       "numframes2pick = %d per video)", total, n, project.numframes2pick)
    out: list[OutlierVideo] = []
    for o, frames, s, raw_h5 in zip(done, picks, scores, raws, strict=True):
        if not frames:
            continue
        captured = _io.StringIO()
        with contextlib.redirect_stdout(captured):
            deeplabcut.extract_outlier_frames(
                str(project.config_path), [str(o.video)], shuffle=shuffle,
                trainingsetindex=trainingsetindex, outlieralgorithm="list",
                frames2use=list(frames), extractionalgorithm="uniform", automatic=True,
                destfolder=None if destfolder is None else str(destfolder),
                copy_videos=copy_videos, savelabeled=False,
                track_method=project.track_method or "")
        logger.debug("deeplabcut.extract_outlier_frames said:\n%s", captured.getvalue())
        folder = labeled / o.video.stem
        machine = folder / f"machinelabels-iter{project.iteration}.h5"
        n_frames = len(s)
        missing = [f for f in frames if not (folder / _image_name(f, n_frames)).is_file()]
        if missing or not machine.is_file():
            raise StableMotionError(
                f"{o.video}: deeplabcut.extract_outlier_frames did not write "
                f"{'frames ' + str(missing) if missing else machine}; its output:\n"
                f"{captured.getvalue()[-2000:]}")
        assert o.output is not None
        write_machine_labels(machine, o.video.stem, frames, raw_h5, o.output)
        logger.info("%s: %d frame(s) %s -> %s (machine labels: the cleaned points)",
                    o.video.name, len(frames), frames, folder)
        out.append(OutlierVideo(o.video, tuple(frames), tuple(float(s[f]) for f in frames),
                                folder, machine))
    return out
