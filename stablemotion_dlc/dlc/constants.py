"""DeepLabCut defaults and fixed names shared by the DLC side of the package, defined once.

Every module that needs a fallback ``pcutoff`` imports :data:`DEFAULT_PCUTOFF` from here
instead of writing the literal; a project's own value always wins
(:attr:`~stablemotion_dlc.dlc.project.DlcProject.pcutoff`).
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_PCUTOFF",
    "DETECTION_THRESHOLD",
    "REPEAT_PX",
    "VIDEO_EXTENSIONS",
    "MODELS_FOLDER",
    "MODEL_FILE",
    "TRACK_METHODS",
    "PROVENANCE_SUFFIX",
    "DEFAULT_TRACK_METHOD",
    "DEFAULT_NUMFRAMES2PICK",
]

#: DeepLabCut's default ``pcutoff`` (the value ``create_new_project`` writes). Used only when
#: neither the caller, the project's ``config.yaml`` nor the model gives one.
DEFAULT_PCUTOFF: float = 0.6

#: The model's detection probability above which a point no rule flagged is replaced. On
#: protocol B's tuning files the model's own flags between 0.5 and 0.9 were mostly false
#: (sleap_centered_pair: 13.6 % of the untouched points moved at 0.5, 1.4 % at 0.9, the
#: same as with the rules alone): a correction needs strong evidence.
DETECTION_THRESHOLD: float = 0.9

#: A point within this distance (px) of its value in the frame before repeats it: a
#: duplicated video frame or a tracker holding the last pose, no measurement of motion or
#: noise. The STUCK rule's default ``stuck_tol``, the JUMP thresholds' repeats and the
#: repair's frozen frames (``repair.FROZEN_PX``) all use it.
REPEAT_PX: float = 0.05

#: Extensions taken from a folder of videos (as DeepLabCut's ``collect_video_paths``).
VIDEO_EXTENSIONS: tuple[str, ...] = ("mp4", "avi", "mov", "mkv", "mpeg")

#: Folder inside a DLC project that holds our models: ``<project>/stablemotion-models/``.
MODELS_FOLDER = "stablemotion-models"

#: Model file name inside ``<project>/stablemotion-models/shuffle<N>/``.
MODEL_FILE = "model.safetensors"

#: DeepLabCut 3.0 tracker name -> file-name suffix (deeplabcut/core/trackingutils.py).
TRACK_METHODS: dict[str, str] = {
    "box": "_bx",
    "ctd": "_ctd",
    "skeleton": "_sk",
    "ellipse": "_el",
    "transformer": "_tr",
}

#: DeepLabCut's tracker of a multi-animal project without ``default_track_method``.
DEFAULT_TRACK_METHOD = "ellipse"

#: DeepLabCut's ``numframes2pick`` (frames extracted per video) when the config has none.
DEFAULT_NUMFRAMES2PICK = 20

#: Suffix of the provenance file written beside a cleaned file
#: (``<stem><scorer>[_tracker]_filtered_stablemotion.npz``): never an ``.h5`` that DeepLabCut's
#: ``find_analyzed_data`` could take for an analysed output.
PROVENANCE_SUFFIX = "_stablemotion.npz"
