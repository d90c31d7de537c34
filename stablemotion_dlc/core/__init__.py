"""Representation-agnostic diffusion core: model, diffusion, training, inference, checkpoint.

Only :mod:`.representation` is imported eagerly (it is numpy-only); the torch-based modules
are imported on first attribute access, so ``import stablemotion_dlc.core`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from .representation import Batch, BatchSource, LabelLayout, Representation

__all__ = [
    "LabelLayout",
    "Batch",
    "BatchSource",
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
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "ModelBundle": "checkpoint",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        mod = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
