"""stablemotion-dlc: learned cleaning of DeepLabCut pose tracks.

The top-level names are imported lazily, so ``import stablemotion_dlc`` is fast and never
imports torch, deeplabcut, napari or Qt.

Examples
--------
>>> import stablemotion_dlc as sm
>>> tracks = sm.read_tracks("videoDLC_Resnet50_taskJan1shuffle1_snapshot_200.h5")  # doctest: +SKIP
>>> out = sm.clean_h5("project/config.yaml", "project/videos/video.mp4")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "Tracks": "stablemotion_dlc.dlc.tracks",
    "read_tracks": "stablemotion_dlc.dlc.io",
    "write_tracks": "stablemotion_dlc.dlc.io",
    "find_analyzed": "stablemotion_dlc.dlc.project",
    "read_dlc_config": "stablemotion_dlc.dlc.project",
    "suspect_mask": "stablemotion_dlc.dlc.labels",
    "make_sample_project": "stablemotion_dlc.sample",
    "clean_h5": "stablemotion_dlc.dlc.pipeline",
    "clean_videos": "stablemotion_dlc.dlc.batch",
    "DlcProject": "stablemotion_dlc.dlc.project",
    "extract_outlier_frames": "stablemotion_dlc.dlc.outliers",
    "clean_tracks": "stablemotion_dlc.dlc.pipeline",
    "save_clean_result": "stablemotion_dlc.dlc.pipeline",
    "train": "stablemotion_dlc.dlc.pipeline",
    "train_on_tracks": "stablemotion_dlc.dlc.pipeline",
    "CleanResult": "stablemotion_dlc.dlc.pipeline",
}

__all__ = [
    "__version__",
    "CleanResult",
    "DlcProject",
    "Tracks",
    "clean_h5",
    "clean_videos",
    "extract_outlier_frames",
    "clean_tracks",
    "find_analyzed",
    "make_sample_project",
    "read_dlc_config",
    "read_tracks",
    "save_clean_result",
    "suspect_mask",
    "train",
    "train_on_tracks",
    "write_tracks",
]
assert set(__all__[1:]) == set(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from .dlc.batch import clean_videos
    from .dlc.io import Tracks, read_tracks, write_tracks
    from .dlc.labels import suspect_mask
    from .dlc.outliers import extract_outlier_frames
    from .dlc.pipeline import (
        CleanResult,
        clean_h5,
        clean_tracks,
        save_clean_result,
        train,
        train_on_tracks,
    )
    from .dlc.project import DlcProject, find_analyzed, read_dlc_config
    from .sample import make_sample_project


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stablemotion_dlc' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
