"""One DeepLabCut project, parsed once: :class:`DlcProject`.

``config.yaml`` is read and validated a single time by :meth:`DlcProject.from_config`; the
frozen object is then passed to everything below :func:`~stablemotion_dlc.dlc.pipeline.clean_h5`
and :func:`~stablemotion_dlc.dlc.pipeline.train` (finding outputs, rule labels, training,
cleaning, outlier extraction), which never read the file again. Errors name the file and the
key.

Examples
--------
>>> project = DlcProject.from_config("project/config.yaml")  # doctest: +SKIP
>>> project.pcutoff, project.bodyparts, project.model_path(shuffle=1)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError
from .constants import DEFAULT_PCUTOFF, MODEL_FILE, MODELS_FOLDER, VIDEO_EXTENSIONS
from .io import _exact_scorers, dlc_output_name, load_yaml_mapping, scorer_pattern

__all__ = ["DlcProject", "as_project"]

logger = logging.getLogger(__name__)


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
        raise ConfigError(f"{path}: key 'skeleton' must be a list of [bodypart, bodypart] "
                          f"pairs, got {value!r}")
    bones = []
    for bone in value:
        if (not isinstance(bone, (list, tuple)) or len(bone) != 2
                or not all(isinstance(b, str) for b in bone)):
            raise ConfigError(f"{path}: key 'skeleton' has an entry {bone!r} that is not a "
                              f"pair of bodypart names")
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
        raise ConfigError(f"{path}: key 'pcutoff' must be a number in [0, 1], "
                          f"got {value!r}") from None
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
    _scorers: dict[int | None, list[str]] = field(default_factory=dict, init=False,
                                                  repr=False, compare=False)

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
            track_method = str(cfg.get("default_track_method") or "ellipse")
        else:
            bodyparts = _str_list(cfg, "bodyparts", path, required=True)
            unique, individuals, track_method = [], [], None
        try:
            iteration = int(cfg.get("iteration", 0) or 0)
            numframes = int(cfg.get("numframes2pick", 20) or 20)
            start, stop = float(cfg.get("start", 0) or 0), float(cfg.get("stop", 1) or 1)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: 'iteration', 'numframes2pick', 'start' and 'stop' "
                              f"must be numbers ({exc})") from None
        if not 0.0 <= start < stop <= 1.0:
            raise ConfigError(f"{path}: keys 'start'/'stop' must satisfy 0 <= start < stop "
                              f"<= 1, got {start}, {stop}")
        video_sets = cfg.get("video_sets") or {}
        if not isinstance(video_sets, Mapping):
            raise ConfigError(f"{path}: key 'video_sets' must be a mapping of video paths, "
                              f"got {type(video_sets).__name__}")
        videos = []
        for v in video_sets:
            p = Path(str(v))
            if not p.exists():
                alt = path.parent / "videos" / p.name
                p = alt if alt.exists() else p
            videos.append(p)
        return cls(
            config_path=path, task=str(cfg["Task"]), date=str(cfg["date"]), multianimal=multi,
            bodyparts=tuple(bodyparts), unique_bodyparts=tuple(unique),
            individuals=tuple(individuals), skeleton=_skeleton(cfg, path),
            pcutoff=_pcutoff(cfg, path), track_method=track_method, iteration=iteration,
            experimenter=str(cfg.get("scorer") or ""), numframes2pick=numframes,
            start=start, stop=stop, video_sets=tuple(videos),
            raw=MappingProxyType(dict(cfg)))

    # ------------------------------------------------------------------ places and names
    @property
    def project_dir(self) -> Path:
        """The project folder (the folder of ``config.yaml``)."""
        return self.config_path.parent

    def model_path(self, shuffle: int = 1) -> Path:
        """Where the project's cleaner lives.

        ``<project>/stablemotion-models/shuffle<N>/model.safetensors``.
        """
        return self.project_dir / MODELS_FOLDER / f"shuffle{int(shuffle)}" / MODEL_FILE

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

    def output_name(self, video: str | Path, scorer: str, *, filtered: bool = False,
                    suffix: str = ".h5") -> str:
        """DLC's name of a video's output in this project (tracker suffix included)."""
        return dlc_output_name(video, scorer, track_method=self.track_method,
                               filtered=filtered, suffix=suffix)

    def skeleton_for(self, names: Sequence[str]) -> list[tuple[str, str]] | None:
        """The config's bones between the given bodyparts (None when there are none)."""
        known = set(names)
        bones = [b for b in self.skeleton if b[0] in known and b[1] in known]
        if len(bones) < len(self.skeleton):
            logger.debug("%s: %d skeleton bone(s) name other bodyparts; not used here",
                         self.config_path, len(self.skeleton) - len(bones))
        return bones or None

    def project_videos(self) -> list[Path]:
        """``video_sets`` plus the videos in ``<project>/videos/`` (each once)."""
        out: list[Path] = []
        seen: set[Path] = set()
        folder = self.project_dir / "videos"
        found = sorted(p for p in folder.iterdir()
                       if p.suffix.lower().lstrip(".") in VIDEO_EXTENSIONS) \
            if folder.is_dir() else []
        for p in [*self.video_sets, *found]:
            key = p.absolute()
            if key not in seen:
                seen.add(key)
                out.append(p)
        return out

    def find_analyzed(self, video: str | Path, shuffle: int | None = 1,
                      destfolder: str | Path | None = None, *, filtered: bool = False,
                      track_method: str | None = None) -> Path:
        """A video's DLC output in this project (:func:`~.io.find_analyzed`)."""
        from .io import find_analyzed

        return find_analyzed(self, video, shuffle=shuffle, destfolder=destfolder,
                             filtered=filtered, track_method=track_method)


def as_project(config: str | Path | DlcProject) -> DlcProject:
    """The :class:`DlcProject` of a config path (parsed now) or the project itself."""
    return config if isinstance(config, DlcProject) else DlcProject.from_config(config)
