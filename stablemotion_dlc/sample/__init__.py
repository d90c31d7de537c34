"""A simulated animal, its rendered video and a complete sample DeepLabCut project.

* :mod:`.simulate`: top-view mice (ground truth) and DLC-like prediction errors of the kinds
  of :mod:`stablemotion_dlc.dlc.corruption`;
* :mod:`.render`: a video of the simulated animals;
* :mod:`.project`: :func:`make_sample_project` / :func:`make_sample_experiment` write a DLC
  project with predictions, ground truth and the per-point error kinds (demo, tests,
  benchmarks).

The cleaning library (core, dlc, smpl) never imports this package.
"""

from __future__ import annotations

from .project import (
    SampleExperiment,
    SampleProject,
    load_corruption,
    make_sample_experiment,
    make_sample_project,
    sample_scorer,
)
from .simulate import (
    BODYPARTS,
    LR_PAIRS,
    SKELETON,
    CorruptionConfig,
    corrupt_predictions,
    simulate_animals,
)

__all__ = [
    "BODYPARTS",
    "SKELETON",
    "LR_PAIRS",
    "CorruptionConfig",
    "SampleProject",
    "SampleExperiment",
    "corrupt_predictions",
    "load_corruption",
    "make_sample_experiment",
    "make_sample_project",
    "sample_scorer",
    "simulate_animals",
]
