"""Clean a whole experiment in one call: many videos, one model, failures isolated.

:func:`clean_videos` is the engine behind :func:`~stablemotion_dlc.dlc.pipeline.clean_h5`
and ``stablemotion-dlc clean VIDEOS --config CONFIG``, shaped like DeepLabCut's own
``analyze_videos`` on a folder:

1. the project is parsed once (:class:`~.project.DlcProject`); every video's analysed output
   is found and its outputs checked before any work;
2. outputs that already exist are skipped with a message (unless ``overwrite``), so an
   interrupted batch resumes where it stopped when run again (every output set is written
   atomically: a video is either done or not started);
3. one model serves the project: with none yet, it is trained once on the videos being
   cleaned plus the project's other analysed outputs of the same DLC scorer (the log says
   which), and an interrupted training resumes from its checkpoint;
4. one progress bar over the videos (plus the per-video bars); a failure on one video is
   reported and the others go on; a summary table ends the run
   (:meth:`BatchReport.table`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import AnalyzedDataNotFoundError, StableMotionError
from .io import input_files, read_tracks
from .project import (
    DlcProject,
    as_project,
    cleaned_path,
    collect_videos,
    find_analyzed,
    output_files,
)
from .tracks import Tracks

if TYPE_CHECKING:  # pragma: no cover
    from ..core.inference import Cleaner

__all__ = [
    "parse_shard",
    "shard_videos",
    "VideoOutcome",
    "BatchReport",
    "BatchCleaningError",
    "clean_videos",
    "training_outputs",
]

logger = logging.getLogger(__name__)

Status = Literal["cleaned", "skipped", "failed"]


@dataclass(frozen=True)
class VideoOutcome:
    """What happened to one video of a batch.

    Attributes
    ----------
    video : Path
        The video.
    status : {"cleaned", "skipped", "failed"}
        Cleaned now, skipped (its output existed), or failed (see ``message``).
    output : Path or None
        The cleaned ``..._filtered.h5`` (existing one when skipped; None when failed).
    analysed : Path or None
        The DLC output that was (or would have been) cleaned.
    message : str
        Why it was skipped or failed (empty when cleaned).
    seconds : float
        Time spent on this video (cleaning and writing).
    counts : dict
        Points per status (``kept``, ``replaced``, ``gap-filled``, ``identity-fixed``).
    """

    video: Path
    status: Status
    output: Path | None = None
    analysed: Path | None = None
    message: str = ""
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict, compare=False)

    @property
    def changed(self) -> int:
        """Points changed (replaced, gap-filled or identity-fixed)."""
        return sum(v for k, v in self.counts.items() if k != "kept")


@dataclass
class BatchReport:
    """Result of :func:`clean_videos`.

    Attributes
    ----------
    outcomes : list of VideoOutcome
        One per video, in the order given.
    model : Path or None
        The model used (None when nothing had to be cleaned).
    trained_on : list of Path
        Analysed outputs a model was trained on in this call (empty when it existed).
    train_seconds : float
        Time spent training.
    seconds : float
        Wall time of the whole call.
    """

    outcomes: list[VideoOutcome]
    model: Path | None = None
    trained_on: list[Path] = field(default_factory=list)
    train_seconds: float = 0.0
    seconds: float = 0.0

    def _with(self, status: Status) -> list[VideoOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def cleaned(self) -> list[VideoOutcome]:
        """Videos cleaned in this call."""
        return self._with("cleaned")

    @property
    def skipped(self) -> list[VideoOutcome]:
        """Videos whose output already existed."""
        return self._with("skipped")

    @property
    def failed(self) -> list[VideoOutcome]:
        """Videos that failed (the others went on)."""
        return self._with("failed")

    @property
    def ok(self) -> bool:
        """True when no video failed."""
        return not self.failed

    @property
    def outputs(self) -> list[Path]:
        """Cleaned files of the videos cleaned or skipped, in the order given."""
        return [o.output for o in self.outcomes if o.output is not None and o.status != "failed"]

    def table(self) -> str:
        """A plain-text summary table: one row per video, then the totals."""
        rows = [("video", "status", "changed", "s", "output / reason")]
        for o in self.outcomes:
            what = o.output.name if o.status == "cleaned" and o.output else o.message
            rows.append((o.video.name, o.status, str(o.changed) if o.counts else "-",
                         f"{o.seconds:.1f}" if o.status == "cleaned" else "-",
                         what.splitlines()[0] if what else ""))
        widths = [max(len(r[c]) for r in rows) for c in range(4)]
        lines = ["  ".join([r[0].ljust(widths[0]), r[1].ljust(widths[1]),
                            r[2].rjust(widths[2]), r[3].rjust(widths[3]), r[4]]).rstrip()
                 for r in rows]
        lines.insert(1, "-" * max(len(x) for x in lines))
        lines.append(f"{len(self.cleaned)} cleaned, {len(self.skipped)} skipped, "
                     f"{len(self.failed)} failed in {self.seconds:.1f} s"
                     + (f" (training {self.train_seconds:.1f} s on "
                        f"{len(self.trained_on)} output(s))" if self.trained_on else ""))
        return "\n".join(lines)


class BatchCleaningError(StableMotionError):
    """Some videos of a batch failed; the others were cleaned. ``report`` has every outcome.

    Parameters
    ----------
    report : BatchReport
        The whole batch.
    """

    def __init__(self, report: BatchReport) -> None:
        self.report = report
        names = ", ".join(o.video.name for o in report.failed)
        super().__init__(f"{len(report.failed)} of {len(report.outcomes)} video(s) failed "
                         f"({names}); the others were cleaned:\n{report.table()}")


@dataclass
class _Job:
    video: Path
    analysed: Path
    output: Path


# ============================================================================ shards
def parse_shard(text: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"K/N"`` (K counted from 1) as ``(K, N)``; None stays None.

    Raises
    ------
    OptionError
        Not of the form ``K/N`` with ``1 <= K <= N``.
    """
    from ..errors import OptionError

    if text is None:
        return None
    if isinstance(text, tuple):
        k, n = text
    else:
        parts = str(text).strip().split("/")
        try:
            k, n = (int(p) for p in parts)
        except ValueError:
            raise OptionError(f"shard must be K/N (e.g. 2/8), got {text!r}") from None
    if isinstance(k, bool) or isinstance(n, bool) or not 1 <= int(k) <= int(n):
        raise OptionError(f"shard K/N needs 1 <= K <= N (K counts from 1, like "
                          f"'sbatch --array=1-N' with --shard $SLURM_ARRAY_TASK_ID/N), got "
                          f"{k}/{n}")
    return int(k), int(n)


def shard_videos(videos: Sequence[Path], shard: tuple[int, int] | None) -> list[Path]:
    """The videos of shard ``K`` of ``N``: a deterministic split with no coordinator.

    The videos are sorted by absolute path (so every job sees the same order whatever order
    it was given them in, e.g. from a shell glob) and dealt round-robin: shard ``K`` takes
    the ``K``-th, ``K+N``-th, ... The N shards are disjoint and cover every video; their
    sizes differ by at most one.

    Parameters
    ----------
    videos : sequence of Path
        Every video of the batch (duplicates are kept once).
    shard : (int, int) or None
        ``(K, N)`` from :func:`parse_shard`; None: all videos, in the order given.

    Returns
    -------
    list of Path
    """
    if shard is None:
        return list(videos)
    k, n = shard
    order = sorted(dict.fromkeys(Path(v) for v in videos), key=lambda v: str(v.absolute()))
    return order[k - 1::n]


# ============================================================================ training data
def training_outputs(
    project: DlcProject,
    cleaned: Sequence[Tracks],
    *,
    shuffle: int | None = 1,
    destfolder: str | Path | None = None,
    track_method: str | None = None,
) -> tuple[list[Tracks], list[str]]:
    """The outputs a first model learns from: those being cleaned plus the project's others.

    The project's other analysed outputs (of ``video_sets`` and ``<project>/videos/``) are
    added when their DLC scorer is one of the cleaned outputs' scorers (the same network
    and snapshot make the same kind of errors) and they carry the project's bodyparts.

    Parameters
    ----------
    project : DlcProject
        The project.
    cleaned : sequence of Tracks
        The outputs being cleaned (read once by the caller).
    shuffle, destfolder, track_method
        As in :func:`~.project.find_analyzed`; ``destfolder`` is searched first, then the folder
        of each project video.

    Returns
    -------
    tracks : list of Tracks
        The cleaned outputs first, then the others.
    notes : list of str
        One line per output considered: used (and why) or left out (and why).
    """
    scorers = {t.scorer for t in cleaned}
    seen = {Path(str(t.meta.get("source", ""))).absolute() for t in cleaned}
    out = list(cleaned)
    notes = [f"{Path(str(t.meta.get('source', '?'))).name} (being cleaned)" for t in cleaned]
    for video in project.project_videos():
        found = None
        for folder in ([destfolder] if destfolder is not None else []) + [None]:
            try:
                found = find_analyzed(project, video, shuffle=shuffle, destfolder=folder,
                                      track_method=track_method)
                break
            except (AnalyzedDataNotFoundError, OSError):
                continue
        if found is None or found.absolute() in seen:
            continue
        seen.add(found.absolute())
        try:
            tracks = read_tracks(found)
        except (StableMotionError, OSError) as exc:
            notes.append(f"{found.name}: not used, unreadable ({exc})")
            continue
        if tracks.scorer not in scorers:
            notes.append(f"{found.name}: not used, scorer {tracks.scorer} is not "
                         f"{' / '.join(sorted(scorers))}")
            continue
        missing = [b for b in project.bodyparts if b not in tracks.bodyparts]
        if missing:
            notes.append(f"{found.name}: not used, lacks bodyparts {missing}")
            continue
        out.append(tracks)
        notes.append(f"{found.name} (project video {video.name}, same scorer)")
    return out, notes


# ============================================================================ the batch
def clean_videos(
    config: str | Path | DlcProject,
    videos: str | Path | Sequence[str | Path],
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
    strict: bool = False,
    shard: str | tuple[int, int] | None = None,
    **options: Any,
) -> BatchReport:
    """Clean the DLC outputs of many videos with one model; see the module docstring.

    Parameters
    ----------
    config : str, Path or DlcProject
        The project's ``config.yaml`` (read only) or the project parsed once.
    videos : path, list of paths or folder
        Videos whose analysed outputs to clean (like DLC's ``videos`` argument).
    model : str or Path, optional
        Model file. Default: the project's; trained first when it does not exist.
    shuffle : int
        DLC shuffle.
    destfolder : str or Path, optional
        Folder of the analysed files and of the outputs (default: beside each video).
    overwrite : bool
        Clean again videos whose output exists (default: skip them with a message).
    save_as_csv : bool
        Also write the ``.csv`` twins.
    video_extensions : sequence of str, optional
        Extensions taken from a folder.
    track_method : str, optional
        Multi-animal tracker (default: the config's).
    train_steps : int, optional
        Training steps when a model must be trained first.
    check_video : bool
        Refuse a video whose frame count differs from its tracks' by more than one frame.
    progress : bool
        Progress bars (one over the videos, plus each video's own).
    strict : bool
        Stop at the first problem and raise it, and refuse (``FileExistsError``) rather
        than skip an existing output: the behaviour of a single-video call.
    shard : str or (int, int), optional
        ``"K/N"``: clean only shard K of N of the videos (:func:`shard_videos`), so that N
        processes or cluster jobs (a SLURM array) share a batch with no coordinator. The
        model must exist (train it first: N jobs must not each train one).
    **options
        Passed to :func:`~.pipeline.clean_tracks` (``detect``, ``steps``, ``ensemble``...).

    Returns
    -------
    BatchReport
        Every video's outcome (:meth:`BatchReport.table` is also logged at INFO level; each
        failure is logged as an error when it happens).

    Raises
    ------
    FileNotFoundError
        ``model`` was given and does not exist, or no video was found.
    StableMotionError
        The config is invalid, or training failed (no video can be cleaned then).
    """
    from .._atomic import check_outputs
    from .._progress import progress_bar
    from ..core.inference import Cleaner, CleanupCancelled
    from ..errors import OptionError
    from . import pipeline as pl

    t0 = time.perf_counter()
    project = as_project(config)  # an invalid config fails here, before any work
    pl.check_clean_options(**options)
    if train_steps is not None and (isinstance(train_steps, bool) or int(train_steps) < 1):
        raise OptionError(f"train_steps must be at least 1, got {train_steps}")
    part = parse_shard(shard)
    vids = collect_videos(videos, video_extensions)
    model_path = Path(model) if model is not None else project.model_path(shuffle)
    if model is not None and not model_path.exists():
        raise FileNotFoundError(f"{model_path}: model file not found")
    if part is not None:
        n_all = len(vids)
        vids = shard_videos(vids, part)
        logger.info("shard %d/%d: %d of %d video(s)", part[0], part[1], len(vids), n_all)
        if part[1] > 1 and pl.needs_training(model_path):
            raise OptionError(
                f"{model_path}: no trained model; with shard {part[0]}/{part[1]} every job "
                f"would train its own. Train it once first (stablemotion-dlc train "
                f"{project.config_path}), then start the shards")
        if not vids:
            return BatchReport([], None, [], 0.0, round(time.perf_counter() - t0, 3))

    outcomes: dict[int, VideoOutcome] = {}
    jobs: dict[int, _Job] = {}
    cache: dict[int, Tracks] = {}
    for n, v in enumerate(vids):  # find everything and check every output before any work
        try:
            src = find_analyzed(project, v, shuffle=shuffle, destfolder=destfolder,
                                track_method=track_method)
            out = cleaned_path(src)
            if destfolder is not None:
                out = Path(destfolder) / out.name
            if out.exists() and not overwrite and not strict:
                msg = f"{out.name} exists; skipped (pass overwrite to clean it again)"
                logger.info("%s: %s", v.name, msg)
                outcomes[n] = VideoOutcome(v, "skipped", out, src, msg)
                continue
            check_outputs(output_files(out, save_as_csv), overwrite=overwrite,
                          inputs=[*input_files(src), v, project.config_path, model_path])
            if strict:  # a single video: read and check it now, once
                cache[n] = read_tracks(src)
                if check_video:
                    pl._check_video_frames(v, cache[n])
            jobs[n] = _Job(v, src, out)
        except (StableMotionError, OSError) as exc:
            if strict:
                raise
            logger.error("%s: %s", v, exc)
            outcomes[n] = VideoOutcome(v, "failed", None, None, str(exc))

    skipped = [o.video.name for o in outcomes.values() if o.status == "skipped"]
    if skipped:  # one message, not one per video (a resumed batch may skip hundreds)
        logger.warning("%d of %d video(s) already cleaned, skipped (pass overwrite to clean "
                       "them again): %s", len(skipped), len(vids),
                       ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else ""))
    trained_on: list[Path] = []
    train_s = 0.0
    cleaner: Cleaner | None = None
    if jobs:
        if pl.needs_training(model_path):
            t_train = time.perf_counter()
            trained_on = _train_first(project, jobs, cache, outcomes, model_path,
                                      shuffle=shuffle, destfolder=destfolder,
                                      track_method=track_method, steps=train_steps,
                                      progress=progress, strict=strict, videos=vids)
            train_s = time.perf_counter() - t_train
        if jobs:
            cleaner = Cleaner.from_file(model_path)
            pl._label_settings(cleaner, project, options.get("pcutoff"),
                               options.get("skeleton"),
                               [*project.bodyparts, *project.unique_bodyparts], warn=True)

    bar = progress_bar(total=len(jobs), desc="videos", unit="video",
                       disable=not progress or len(vids) < 2)  # one video: its own bars only
    for n, job in jobs.items():
        bar.set_postfix_str(job.video.name, refresh=True)
        t1 = time.perf_counter()
        try:
            tracks = cache.pop(n, None)
            if tracks is None:
                tracks = read_tracks(job.analysed)
                if check_video:
                    pl._check_video_frames(job.video, tracks)
            assert cleaner is not None  # loaded above whenever there are jobs
            result = pl.clean_tracks(tracks, cleaner, config_path=project, progress=progress,
                                     check_model=False, **options)
            pl.save_clean_result(result, job.output, overwrite=overwrite,
                                 save_as_csv=save_as_csv,
                                 inputs=[project.config_path, job.video])
        except CleanupCancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - one video's failure must not stop the rest
            if strict:
                raise
            logger.error("%s: failed: %s: %s", job.video, type(exc).__name__, exc)
            outcomes[n] = VideoOutcome(job.video, "failed", None, job.analysed,
                                       f"{type(exc).__name__}: {exc}",
                                       time.perf_counter() - t1)
        else:
            counts = result.summary()
            logger.info("%s -> %s %s", job.analysed.name, job.output.name, counts)
            outcomes[n] = VideoOutcome(job.video, "cleaned", job.output, job.analysed, "",
                                       time.perf_counter() - t1, counts)
        bar.update(1)
    bar.close()

    report = BatchReport([outcomes[n] for n in range(len(vids))],
                         model_path if cleaner is not None else None, trained_on,
                         round(train_s, 3), round(time.perf_counter() - t0, 3))
    if len(vids) > 1:  # failures were logged as errors when they happened
        logger.info("clean %s:\n%s", project.config_path, report.table())
    return report


def _train_first(project: DlcProject, jobs: dict[int, _Job], cache: dict[int, Tracks],
                 outcomes: dict[int, VideoOutcome], model_path: Path, *, shuffle: int,
                 destfolder: str | Path | None, track_method: str | None, steps: int | None,
                 progress: bool, strict: bool, videos: Sequence[Path]) -> list[Path]:
    """Train the project's model on the jobs' outputs plus its other ones (read once)."""
    from .._atomic import check_outputs
    from . import pipeline as pl

    resuming = model_path.exists()
    if not resuming:
        check_outputs([model_path], inputs=[project.config_path, *videos])
    for n in list(jobs):
        if n in cache:
            continue
        try:
            cache[n] = read_tracks(jobs[n].analysed)
        except (StableMotionError, OSError) as exc:
            if strict:
                raise
            logger.error("%s: %s", jobs[n].video, exc)
            outcomes[n] = VideoOutcome(jobs[n].video, "failed", None, jobs[n].analysed,
                                       str(exc))
            del jobs[n]
    if not jobs:
        return []
    tracks, notes = training_outputs(project, [cache[n] for n in jobs], shuffle=shuffle,
                                     destfolder=destfolder, track_method=track_method)
    used = [Path(str(t.meta.get("source", "?"))) for t in tracks]
    logger.warning("%s model for %s (%s): training on %d analysed output(s) of scorer %s:\n  %s",
                   "resuming the interrupted" if resuming else "no", project.config_path,
                   model_path, len(tracks), " / ".join(sorted({t.scorer for t in tracks})),
                   "\n  ".join(notes))
    pl.train_for_project(project, tracks, model_path, steps=steps, progress=progress)
    return used
