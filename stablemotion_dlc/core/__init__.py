"""Representation-agnostic diffusion core: model, diffusion, training, inference, checkpoint.

Only :mod:`.representation` is imported eagerly (it is numpy-only); the torch-based modules
are imported on first attribute access, so ``import stablemotion_dlc.core`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from .representation import Batch, BatchSource, Encoded, LabelLayout, Representation

__all__ = [
    "LabelLayout",
    "Batch",
    "BatchSource",
    "Encoded",
    "Representation",
    "DiT",
    "DiTConfig",
    "DiT_models",
    "GaussianDiffusion",
    "DiffusionConfig",
    "Normalizer",
    "TrainConfig",
    "train",
    "Cleaner",
    "CleanupResult",
    "CleanupCancelled",
    "merge_detection",
    "detection_scores",
    "load_checkpoint",
    "save_checkpoint",
    "ModelBundle",
]

_LAZY = {
    "DiT": "model",
    "DiTConfig": "model",
    "DiT_models": "model",
    "GaussianDiffusion": "diffusion",
    "DiffusionConfig": "diffusion",
    "Normalizer": "normalize",
    "TrainConfig": "train",
    "train": "train",
    "Cleaner": "inference",
    "CleanupResult": "inference",
    "CleanupCancelled": "inference",
    "merge_detection": "inference",
    "detection_scores": "metrics",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "ModelBundle": "checkpoint",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        mod = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
