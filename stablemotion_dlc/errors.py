"""Exceptions raised by stablemotion-dlc. Every message names the file and the problem."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "StableMotionError",
    "FileProblemError",
    "DLCFileError",
    "ConfigError",
    "AnalyzedDataNotFoundError",
    "ModelError",
    "ModelMismatchError",
    "TrainingDataError",
    "OptionError",
]


class StableMotionError(Exception):
    """Base class of all errors raised by this package."""


class FileProblemError(StableMotionError, ValueError):
    """A file is unreadable or lacks what is needed; the message names it.

    Parameters
    ----------
    path : str or Path
        The offending file.
    problem : str
        What is wrong with it.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class DLCFileError(FileProblemError):
    """A pose file is not a readable DeepLabCut file."""


class ConfigError(StableMotionError, ValueError):
    """A DeepLabCut ``config.yaml`` is missing, unreadable or inconsistent."""


class AnalyzedDataNotFoundError(StableMotionError, FileNotFoundError):
    """No (or more than one) DLC output matches a video; the message lists the candidates."""


class ModelError(StableMotionError, ValueError):
    """A model file is corrupt or unreadable."""


class ModelMismatchError(ModelError):
    """A model was trained on another representation (other bodyparts, feature size...)."""


class TrainingDataError(StableMotionError, ValueError):
    """The tracks cannot train a model (too few frames, no trustworthy point...)."""


class OptionError(StableMotionError, ValueError):
    """An option has an invalid value (e.g. ``ensemble=0``); the message names it."""
