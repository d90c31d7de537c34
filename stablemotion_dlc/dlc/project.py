"""DeepLabCut project rules: the project, its scorers, its file names, its model's place.

The project is parsed once (:class:`DlcProject`).

``config.yaml`` is read and validated a single time by :meth:`DlcProject.from_config`; the
frozen object is then passed to everything below :func:`~stablemotion_dlc.dlc.pipeline.clean_h5`
and :func:`~stablemotion_dlc.dlc.pipeline.train` (finding outputs, rule labels, training,
cleaning, outlier extraction), which never read the file again. Errors name the file and the
key.

The rules DeepLabCut applies to a project's files live here too, in one place:
:func:`find_analyzed` (which analysed output belongs to a video), :func:`dlc_output_name`,
:func:`cleaned_path` / :func:`output_files` (what cleaning writes beside it) and
:func:`default_model_path` (where the project's cleaner lives).

Examples
--------
>>> project = DlcProject.from_config("project/config.yaml")  # doctest: +SKIP
>>> project.pcutoff, project.bodyparts, project.model_path(shuffle=1)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import AnalyzedDataNotFoundError, ConfigError, FileProblemError

if TYPE_CHECKING:  # pragma: no cover
    from .tracks import Tracks
from .constants import (
    DEFAULT_NUMFRAMES2PICK,
    DEFAULT_PCUTOFF,
    DEFAULT_TRACK_METHOD,
    MODEL_FILE,
    MODELS_FOLDER,
    PROVENANCE_SUFFIX,
    TRACK_METHODS,
    VIDEO_EXTENSIONS,
)

__all__ = [
    "DlcProject",
    "as_project",
    "read_dlc_config",
    "find_analyzed",
    "dlc_output_name",
    "scorer_pattern",
    "cleaned_path",
    "provenance_path",
    "output_files",
    "default_model_path",
    "model_location",
    "reviewed_path",
    "rule_skeleton",
    "collect_videos",
]

logger = logging.getLogger(__name__)


def load_yaml_mapping(config_path: str | Path) -> dict[str, Any]:
    """Load a YAML file whose top level is a mapping (read only; ``ConfigError`` otherwise).

    Parameters
    ----------
    config_path : str or Path
        The file.

    Returns
    -------
    dict
        The parsed mapping.
    """
    import yaml

    path = Path(config_path)
    if not path.is_file():
        raise ConfigError(f"{path}: DLC config file not found")
    try:
        text = path.read_text(encoding="utf-8")
        cfg = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not a readable YAML file: {exc}") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: not a DLC config (top level is not a mapping)")
    return cfg


def _str_list(cfg: Mapping[str, Any], key: str, path: Path, *, required: bool) -> list[str]:
    value = cfg.get(key)
    if value in (None, "", []):
        if required:
            raise ConfigError(f"{path}: key {key!r} is missing or empty")
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{path}: key {key!r} must be a list of names, got {value!r}")
    if len(set(value)) != len(value):
        raise ConfigError(f"{path}: key {key!r} lists a name twice: {value}")
    return list(value)


def _skeleton(cfg: Mapping[str, Any], path: Path) -> tuple[tuple[str, str], ...]:
    value = cfg.get("skeleton") or []
    if not isinstance(value, list):
        raise ConfigError(
            f"{path}: key 'skeleton' must be a list of [bodypart, bodypart] pairs, got {value!r}"
        )
    bones = []
    for bone in value:
        if (
            not isinstance(bone, (list, tuple))
            or len(bone) != 2
            or not all(isinstance(b, str) for b in bone)
        ):
            raise ConfigError(
                f"{path}: key 'skeleton' has an entry {bone!r} that is not a pair of bodypart names"
            )
        bones.append((bone[0], bone[1]))
    return tuple(bones)


def _pcutoff(cfg: Mapping[str, Any], path: Path) -> float:
    value = cfg.get("pcutoff")
    if value is None:
        logger.info("%s: no 'pcutoff'; using DeepLabCut's default %s", path, DEFAULT_PCUTOFF)
        return DEFAULT_PCUTOFF
    try:
        p = float(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{path}: key 'pcutoff' must be a number in [0, 1], got {value!r}"
        ) from None
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"{path}: key 'pcutoff' must be in [0, 1], got {p}")
    return p


@dataclass(frozen=True)
class DlcProject:
    """A DeepLabCut project's settings, parsed once from its ``config.yaml`` (read only).

    Build it with :meth:`from_config`; every field is validated there.

    Attributes
    ----------
    config_path : Path
        The absolute path of ``config.yaml``.
    task, date : str
        ``Task`` and ``date`` (they name the project's scorers).
    multianimal : bool
        ``multianimalproject``.
    bodyparts : tuple of str
        The animals' keypoints (``multianimalbodyparts`` of a multi-animal project, else
        ``bodyparts``).
    unique_bodyparts : tuple of str
        ``uniquebodyparts`` (multi-animal projects; landmarks such as arena corners).
    individuals : tuple of str
        ``individuals`` (empty for a single-animal project).
    skeleton : tuple of (str, str)
        ``skeleton`` bones (may be empty).
    pcutoff : float
        ``pcutoff`` (DeepLabCut's default :data:`~.constants.DEFAULT_PCUTOFF` when absent).
    track_method : str or None
        Tracker of a multi-animal project (``default_track_method``, else ``"ellipse"``,
        DeepLabCut's default); None for a single-animal project.
    iteration : int
        ``iteration`` (names the machine-label file of outlier extraction).
    experimenter : str
        ``scorer`` of the config (the labeller's name in ``CollectedData_<name>.h5``).
    numframes2pick : int
        ``numframes2pick``: frames DeepLabCut extracts per video.
    start, stop : float
        Share of each video DeepLabCut extracts frames from.
    video_sets : tuple of Path
        The ``video_sets`` videos, each resolved to ``<project>/videos/<name>`` when the
        listed path does not exist (a moved project).
    raw : Mapping
        The parsed file, read only (for the few keys not modelled above).
    """

    config_path: Path
    task: str
    date: str
    multianimal: bool
    bodyparts: tuple[str, ...]
    unique_bodyparts: tuple[str, ...]
    individuals: tuple[str, ...]
    skeleton: tuple[tuple[str, str], ...]
    pcutoff: float
    track_method: str | None
    iteration: int
    experimenter: str
    numframes2pick: int
    start: float
    stop: float
    video_sets: tuple[Path, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    _scorers: dict[int | None, list[str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, config_path: str | Path) -> DlcProject:
        """Read and validate a project's ``config.yaml`` (never rewritten).

        Parameters
        ----------
        config_path : str or Path
            The project's ``config.yaml``.

        Returns
        -------
        DlcProject

        Raises
        ------
        ConfigError
            Missing or unreadable file, or a key with a wrong value; the message names the
            file and the key.
        """
        path = Path(config_path).expanduser().absolute()
        cfg = load_yaml_mapping(path)
        for key in ("Task", "date"):
            if cfg.get(key) in (None, ""):
                raise ConfigError(f"{path}: DLC config lacks {[key]} (key {key!r})")
        multi = bool(cfg.get("multianimalproject", False))
        if multi:
            bodyparts = _str_list(cfg, "multianimalbodyparts", path, required=True)
            unique = _str_list(cfg, "uniquebodyparts", path, required=False)
            individuals = _str_list(cfg, "individuals", path, required=True)
            track_method = str(cfg.get("default_track_method") or DEFAULT_TRACK_METHOD)
        else:
            bodyparts = _str_list(cfg, "bodyparts", path, required=True)
            unique, individuals, track_method = [], [], None
        try:
            iteration = int(cfg.get("iteration", 0) or 0)
            numframes = int(cfg.get("numframes2pick") or DEFAULT_NUMFRAMES2PICK)
            start, stop = float(cfg.get("start", 0) or 0), float(cfg.get("stop", 1) or 1)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"{path}: 'iteration', 'numframes2pick', 'start' and 'stop' must be numbers ({exc})"
            ) from None
        if not 0.0 <= start < stop <= 1.0:
            raise ConfigError(
                f"{path}: keys 'start'/'stop' must satisfy 0 <= start < stop "
                f"<= 1, got {start}, {stop}"
            )
        video_sets = cfg.get("video_sets") or {}
        if not isinstance(video_sets, Mapping):
            raise ConfigError(
                f"{path}: key 'video_sets' must be a mapping of video paths, "
                f"got {type(video_sets).__name__}"
            )
        videos = []
        for v in video_sets:
            p = Path(str(v))
            if not p.exists():
                alt = path.parent / "videos" / p.name
                p = alt if alt.exists() else p
            videos.append(p)
        return cls(
            config_path=path,
            task=str(cfg["Task"]),
            date=str(cfg["date"]),
            multianimal=multi,
            bodyparts=tuple(bodyparts),
            unique_bodyparts=tuple(unique),
            individuals=tuple(individuals),
            skeleton=_skeleton(cfg, path),
            pcutoff=_pcutoff(cfg, path),
            track_method=track_method,
            iteration=iteration,
            experimenter=str(cfg.get("scorer") or ""),
            numframes2pick=numframes,
            start=start,
            stop=stop,
            video_sets=tuple(videos),
            raw=MappingProxyType(dict(cfg)),
        )

    # ------------------------------------------------------------------ places and names
    @property
    def project_dir(self) -> Path:
        """The project folder (the folder of ``config.yaml``)."""
        return self.config_path.parent

    def model_path(self, shuffle: int = 1) -> Path:
        """Where the project's cleaner lives.

        ``<project>/stablemotion-models/shuffle<N>/model.safetensors``.
        """
        return _model_path(self.project_dir, shuffle)

    def scorers(self, shuffle: int | None = 1) -> list[str]:
        """Full DLC scorers computable from the project's model folders (may be empty).

        Computed once per shuffle (the model folders' own config files are read then).
        """
        if shuffle not in self._scorers:
            self._scorers[shuffle] = _exact_scorers(dict(self.raw), self.project_dir, shuffle)
        return list(self._scorers[shuffle])

    def scorer_regex(self, shuffle: int | None = None) -> str:
        """Regex matching any scorer of this project (any network and snapshot)."""
        return scorer_pattern(dict(self.raw), shuffle).pattern

    def output_name(
        self, video: str | Path, scorer: str, *, filtered: bool = False, suffix: str = ".h5"
    ) -> str:
        """DLC's name of a video's output in this project (tracker suffix included)."""
        return dlc_output_name(
            video, scorer, track_method=self.track_method, filtered=filtered, suffix=suffix
        )

    def skeleton_for(self, names: Sequence[str]) -> list[tuple[str, str]] | None:
        """The config's bones between the given bodyparts (None when there are none)."""
        known = set(names)
        bones = [b for b in self.skeleton if b[0] in known and b[1] in known]
        if len(bones) < len(self.skeleton):
            logger.debug(
                "%s: %d skeleton bone(s) name other bodyparts; not used here",
                self.config_path,
                len(self.skeleton) - len(bones),
            )
        return bones or None

    def project_videos(self) -> list[Path]:
        """``video_sets`` plus the videos in ``<project>/videos/`` (each once)."""
        out: list[Path] = []
        seen: set[Path] = set()
        folder = self.project_dir / "videos"
        found = (
            sorted(p for p in folder.iterdir() if p.suffix.lower().lstrip(".") in VIDEO_EXTENSIONS)
            if folder.is_dir()
            else []
        )
        for p in [*self.video_sets, *found]:
            key = p.absolute()
            if key not in seen:
                seen.add(key)
                out.append(p)
        return out

    def find_analyzed(
        self,
        video: str | Path,
        shuffle: int | None = 1,
        destfolder: str | Path | None = None,
        *,
        filtered: bool = False,
        track_method: str | None = None,
    ) -> Path:
        """A video's DLC output in this project (:func:`find_analyzed`)."""
        return find_analyzed(
            self,
            video,
            shuffle=shuffle,
            destfolder=destfolder,
            filtered=filtered,
            track_method=track_method,
        )


def as_project(config: str | Path | DlcProject) -> DlcProject:
    """The :class:`DlcProject` of a config path (parsed now) or the project itself."""
    return config if isinstance(config, DlcProject) else DlcProject.from_config(config)


def read_dlc_config(config_path: str | Path) -> dict[str, Any]:
    """Read a DLC ``config.yaml`` read-only (never rewrites it, unlike DLC's ``read_config``).

    The file is parsed and validated by :meth:`DlcProject.from_config` (the one config
    reader); prefer that object, which also holds the parsed settings.

    Parameters
    ----------
    config_path : str or Path
        The project's ``config.yaml``.

    Returns
    -------
    dict
        The parsed configuration; ``Task`` and ``date`` are guaranteed present.

    Raises
    ------
    ConfigError
        Missing, unreadable or invalid file.
    """
    return dict(DlcProject.from_config(config_path).raw)


# ======================================================================== names and places


def _model_path(project_dir: Path, shuffle: int) -> Path:
    """``<project>/stablemotion-models/shuffle<N>/model.safetensors``."""
    return project_dir / MODELS_FOLDER / f"shuffle{int(shuffle)}" / MODEL_FILE


def default_model_path(config_path: str | Path | DlcProject, shuffle: int = 1) -> Path:
    """Where a project's model lives.

    ``<project>/stablemotion-models/shuffle<N>/model.safetensors``
    (:meth:`DlcProject.model_path`; a path is not parsed).
    """
    if isinstance(config_path, DlcProject):
        return config_path.model_path(shuffle)
    return _model_path(Path(config_path).expanduser().absolute().parent, shuffle)


def model_location(
    config: str | Path | DlcProject | None = None,
    tracks: str | Path | None = None,
    shuffle: int = 1,
) -> Path:
    """Where the model for a project, or for tracks outside any project, lives.

    Parameters
    ----------
    config : str, Path or DlcProject, optional
        The project: its model is :func:`default_model_path` (where :func:`~.pipeline.clean_h5`
        and :func:`~.pipeline.train` look).
    tracks : str or Path, optional
        Without a project: a tracks file; the model is
        ``<its folder>/stablemotion-models/model.safetensors``.
    shuffle : int
        DLC shuffle (projects only).

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        When neither is given.
    """
    if config is not None:
        return default_model_path(config, shuffle)
    if tracks is None:
        raise ValueError("model_location needs a project config or a tracks file")
    return Path(tracks).expanduser().absolute().parent / MODELS_FOLDER / MODEL_FILE


def dlc_output_name(
    video: str | Path,
    scorer: str,
    *,
    track_method: str | None = None,
    filtered: bool = False,
    suffix: str = ".h5",
) -> str:
    """DLC's file name for a video's output: ``<stem><scorer>[_tracker][_filtered]<suffix>``.

    Parameters
    ----------
    video : str or Path
        The video (only its stem is used).
    scorer : str
        Full DLC scorer, e.g. ``DLC_Resnet50_openfieldOct30shuffle1_snapshot_200``.
    track_method : str, optional
        Tracker name (``"ellipse"``) or suffix (``"_el"``).
    filtered : bool
        Add ``_filtered``.
    suffix : str
        File suffix.

    Returns
    -------
    str
    """
    tracker = _tracker_suffix(track_method)
    return f"{Path(video).stem}{scorer}{tracker}{'_filtered' if filtered else ''}{suffix}"


def _tracker_suffix(track_method: str | None) -> str:
    if not track_method:
        return ""
    if track_method in TRACK_METHODS:
        return TRACK_METHODS[track_method]
    t = track_method if track_method.startswith("_") else f"_{track_method}"
    if t in TRACK_METHODS.values():
        return t
    raise ValueError(f"unknown track_method {track_method!r}; known: {sorted(TRACK_METHODS)}")


def cleaned_path(analysed: str | Path) -> Path:
    """DLC's name for a filtered file: ``<stem><scorer>[_tracker]_filtered.h5``."""
    p = Path(analysed)
    return p.with_name(p.stem + "_filtered.h5")


def provenance_path(cleaned: str | Path) -> Path:
    """Provenance file beside a cleaned file (an ``.npz``, never an ``.h5`` DLC could pick)."""
    p = Path(cleaned)
    return p.with_name(p.stem + PROVENANCE_SUFFIX)


def reviewed_path(tracks: str | Path) -> Path:
    """Where a cleaned (and reviewed) result of a tracks file is saved by default.

    DLC's cleaned name beside it (:func:`cleaned_path`); a file that already is a cleaned
    one (``..._filtered.h5`` or ``.csv``) is saved under its own name as ``.h5``.

    Parameters
    ----------
    tracks : str or Path
        The tracks file that was cleaned.

    Returns
    -------
    Path
    """
    p = Path(tracks)
    return p.with_suffix(".h5") if p.stem.endswith("_filtered") else cleaned_path(p)


def rule_skeleton(tracks: Tracks, project: DlcProject | None = None) -> list[tuple[int, int]]:
    """The bones of the suspect rules on ``tracks``, as keypoint index pairs.

    The project's ``skeleton`` bones between the tracks' bodyparts
    (:meth:`DlcProject.skeleton_for`; bones naming other bodyparts are left out); without
    a project, or when no bone fits, the learned default
    (:func:`~.labels.default_skeleton`), as :func:`~.labels.suspect_mask` does.

    Parameters
    ----------
    tracks : Tracks
        The tracks.
    project : DlcProject, optional
        Their project.

    Returns
    -------
    list of (int, int)
    """
    bones = project.skeleton_for(tracks.bodyparts) if project is not None else None
    if bones is None:
        from .labels import default_skeleton

        return [(int(a), int(b)) for a, b in default_skeleton(tracks)]
    index = {name: j for j, name in enumerate(tracks.bodyparts)}
    return [(index[a], index[b]) for a, b in bones]


def output_files(path: str | Path, save_as_csv: bool = True) -> list[Path]:
    """Every file cleaning writes for ``path``: tracks, CSV twin, provenance.

    (:func:`~.pipeline.save_clean_result` writes them as one atomic set.)

    Raises
    ------
    FileProblemError
        If ``path`` does not end in ``.h5`` or ``.csv``.
    """
    path = Path(path)
    if path.suffix.lower() not in (".h5", ".hdf5", ".hdf", ".csv"):
        raise FileProblemError(
            path, f"unsupported output suffix {path.suffix!r} (expected .h5 or .csv)"
        )
    outs = [path]
    if save_as_csv and path.suffix == ".h5":
        outs.append(path.with_suffix(".csv"))
    outs.append(provenance_path(path))
    return outs


def collect_videos(
    videos: str | Path | Sequence[str | Path], video_extensions: Sequence[str] | None = None
) -> list[Path]:
    """Videos from a path, a list, or a folder (like DLC's ``collect_video_paths``)."""
    exts = tuple(e.lower().lstrip(".") for e in (video_extensions or VIDEO_EXTENSIONS))
    items = [videos] if isinstance(videos, (str, Path)) else list(videos)
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.suffix.lower().lstrip(".") in exts)
        else:
            out.append(p)
    if not out:
        raise FileNotFoundError(f"no videos found in {videos}")
    return out


# ============================================================= scorers and finding outputs


def _exact_scorers(cfg: Mapping[str, Any], project: Path, shuffle: int | None) -> list[str]:
    """Full scorer names computable from the project's model folders (may be empty)."""
    import yaml

    out: list[str] = []
    task, date = str(cfg["Task"]), str(cfg["date"])
    iteration = cfg.get("iteration", 0)
    fractions = cfg.get("TrainingFraction") or []
    snapshotindex = cfg.get("snapshotindex", -1)
    if snapshotindex == "all":
        snapshotindex = -1
    detindex = cfg.get("detector_snapshotindex", -1)
    if detindex == "all":
        detindex = -1
    for engine_dir, cfg_name in (
        ("dlc-models-pytorch", "pytorch_config.yaml"),
        ("dlc-models", "pose_cfg.yaml"),
    ):
        it_dir = project / engine_dir / f"iteration-{iteration}"
        if not it_dir.is_dir():
            continue
        for frac in fractions:
            pattern = re.compile(
                re.escape(f"{task}{date}-trainset{int(float(frac) * 100)}") + r"shuffle(\d+)$"
            )
            for model_dir in sorted(it_dir.iterdir()):
                m = pattern.match(model_dir.name)
                if not m or (shuffle is not None and int(m.group(1)) != shuffle):
                    continue
                train = model_dir / "train"
                try:
                    mcfg = yaml.safe_load((train / cfg_name).read_text(encoding="utf-8")) or {}
                except (OSError, yaml.YAMLError):
                    continue
                net = str(mcfg.get("net_type", ""))
                if not net:
                    continue
                shuf = m.group(1)
                if engine_dir == "dlc-models-pytorch":
                    uid = _torch_snapshot_uid(train, mcfg, snapshotindex, detindex)
                    if uid is None:
                        continue
                    name = "".join(p.capitalize() for p in net.split("_"))
                    out.append(f"DLC_{name}_{task}{date}shuffle{shuf}_{uid}")
                else:
                    its = sorted(int(s.stem.split("-")[-1]) for s in train.glob("snapshot-*.index"))
                    if not its:
                        continue
                    try:
                        n_it = its[int(snapshotindex)]
                    except (IndexError, ValueError):
                        continue
                    netname = _tf_netname(net, mcfg)
                    if netname:
                        out.append(f"DLC_{netname}_{task}{date}shuffle{shuf}_{n_it}")
    return out


def _tf_netname(net: str, mcfg: dict[str, Any]) -> str | None:
    if "resnet" in net:
        return "dlcrnetms5" if mcfg.get("multi_stage", False) else net.replace("_", "")
    if "mobilenet" in net:
        return "mobnet_" + str(int(float(net.split("_")[-1]) * 100))
    if "efficientnet" in net:
        return "effnet_" + net.split("-")[1]
    return None


def _torch_snapshot_uid(train: Path, mcfg: dict[str, Any], index: Any, detindex: Any) -> str | None:
    def snaps(prefix: str) -> list[tuple[bool, int]]:
        found = []
        for p in train.glob(f"{prefix}-*.pt"):
            m = re.match(rf"^{re.escape(prefix)}-(best-)?(\d+)\.pt$", p.name)
            if m:
                found.append((bool(m.group(1)), int(m.group(2))))
        return sorted(found)  # by epochs, best last (as DLC's snapshot manager)

    def uid(s: tuple[bool, int]) -> str:
        return f"best-{s[1]}" if s[0] else str(s[1])

    def pick(found: list[tuple[bool, int]], idx: Any) -> tuple[bool, int] | None:
        if not found:
            return None
        if isinstance(idx, str) and idx.lower() == "best":
            best = [s for s in found if s[0]]
            return best[-1] if best else None
        try:
            return found[int(idx)]
        except (IndexError, ValueError, TypeError):
            return None

    pose = pick(snaps("snapshot"), index)
    if pose is None:
        return None
    result = f"snapshot_{uid(pose)}"
    top_down = str(mcfg.get("method", "")).lower() in ("td", "top-down", "topdown")
    if top_down and detindex is not None:
        det = pick(snaps("snapshot-detector") or snaps("detector-snapshot"), detindex)
        if det is not None:
            result = f"detector_{uid(det)}_{result}"
    return result


def scorer_pattern(cfg: Mapping[str, Any], shuffle: int | None = None) -> re.Pattern[str]:
    """Regex matching any DLC scorer of this project (any network and snapshot).

    ``(DLC|DeepCut)_<net>_<Task><date>shuffle<shuffle>_<iterations or snapshot uid>``.
    """
    shuf = r"\d+" if shuffle is None else str(int(shuffle))
    return re.compile(
        r"(?:DLC|DeepCut)_.+?_"
        + re.escape(f"{cfg['Task']}{cfg['date']}")
        + rf"shuffle{shuf}_"
        + r"(?:(?:detector_(?:best-)?\d+_)?snapshot_(?:best-)?\d+|\d+)"
    )


def find_analyzed(
    config_path: str | Path | DlcProject,
    video: str | Path,
    shuffle: int | None = None,
    destfolder: str | Path | None = None,
    filtered: bool = False,
    track_method: str | None = None,
) -> Path:
    """Find the DLC output file of a video the way DeepLabCut does.

    Rules (DLC 3.0 ``find_analyzed_data``, stricter about ambiguity): the file is in
    ``destfolder`` or the video's folder; its name starts with ``<video stem><scorer>``
    where the scorer is computed from the project's model folders when they exist
    (network, iteration, snapshot), else any ``DLC_<net>_<Task><date>shuffle<n>_<uid>``;
    it does not contain ``skeleton``; after removing ``_filtered`` it ends with the tracker
    suffix (multi-animal projects: ``track_method`` or the config's
    ``default_track_method``, default ellipse) or, single-animal, with no tracker suffix;
    it contains ``filtered`` exactly when ``filtered`` is True. ``.h5`` is preferred over
    the ``.csv`` of the same name.

    Parameters
    ----------
    config_path : str, Path or DlcProject
        The project's ``config.yaml`` (read only), or the project parsed once
        (:class:`~stablemotion_dlc.dlc.project.DlcProject`).
    video : str or Path
        The analysed video.
    shuffle : int, optional
        Shuffle number; None accepts any.
    destfolder : str or Path, optional
        Folder of the outputs (default: the video's folder).
    filtered : bool
        Look for DLC's ``_filtered`` files.
    track_method : str, optional
        ``ellipse``, ``box``, ``skeleton``, ``ctd``, ``transformer`` (or the suffix).

    Returns
    -------
    Path

    Raises
    ------
    AnalyzedDataNotFoundError
        No file, or several; the message lists every candidate and why it was rejected.
    ConfigError
        Bad config file.
    """
    project = as_project(config_path)
    video = Path(video)
    stem = video.stem
    folder = Path(destfolder) if destfolder is not None else video.parent
    if track_method is None:
        track_method = project.track_method
    tracker = _tracker_suffix(track_method)
    exact = project.scorers(shuffle)
    pattern = scorer_pattern(project.raw, shuffle)
    if exact:
        names = exact + [s.replace("DLC", "DeepCut", 1) for s in exact]
        scorer_re = "(?:" + "|".join(re.escape(s) for s in names) + ")"
        wanted = f"one of {exact}"
    else:
        scorer_re = pattern.pattern
        wanted = f"a scorer matching {pattern.pattern}"
    full = re.compile(re.escape(stem) + f"({scorer_re})" + r"(.*)$")
    known = set(TRACK_METHODS.values())
    accepted: list[Path] = []
    report: list[str] = []
    if not folder.is_dir():
        raise AnalyzedDataNotFoundError(f"{folder}: output folder does not exist (video {video})")
    for f in sorted(folder.iterdir()):
        if not f.is_file() or f.suffix.lower() not in (".h5", ".csv"):
            continue
        if not f.name.startswith(stem):
            continue
        name_stem = f.name[: -len(f.suffix)]
        m = full.match(name_stem)
        reason = None
        if not m:
            reason = f"does not start with {stem}+{wanted}"
        elif "skeleton" in f.name:
            reason = "skeleton file"
        else:
            rest = m.group(2)
            is_filtered = "filtered" in f.name
            rest_nf = rest.replace("_filtered", "")
            found_tracker = next((t for t in known if rest_nf.endswith(t)), "")
            leftover = rest_nf[: len(rest_nf) - len(found_tracker)] if found_tracker else rest_nf
            if leftover:
                reason = f"unexpected text {leftover!r} after the scorer"
            elif found_tracker != tracker:
                reason = (
                    f"tracker suffix {found_tracker or 'none'!r} but wanted {tracker or 'none'!r}"
                )
            elif is_filtered != filtered:
                reason = "filtered file" if is_filtered else "not a filtered file"
        if reason is None:
            accepted.append(f)
            report.append(f"  {f.name}: matches")
        else:
            report.append(f"  {f.name}: rejected, {reason}")
    # prefer .h5 over the .csv twin
    by_stem: dict[str, list[Path]] = {}
    for f in accepted:
        by_stem.setdefault(f.name[: -len(f.suffix)], []).append(f)
    chosen = []
    for files in by_stem.values():
        h5 = [f for f in files if f.suffix.lower() == ".h5"]
        chosen.append(h5[0] if h5 else files[0])
    what = (
        f"{'filtered' if filtered else 'unfiltered'} output of video {video.name} "
        f"(scorer {wanted}, tracker {tracker or 'none'}) in {folder}"
    )
    listing = "\n".join(report) if report else "  (no file starts with the video name)"
    if not chosen:
        raise AnalyzedDataNotFoundError(f"no {what}; candidates:\n{listing}")
    if len(chosen) > 1:
        raise AnalyzedDataNotFoundError(
            f"ambiguous {what}: {len(chosen)} files match ({[c.name for c in chosen]}); "
            f"pass shuffle/track_method/destfolder to choose; candidates:\n{listing}"
        )
    return chosen[0]
