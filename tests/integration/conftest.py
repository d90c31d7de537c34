"""Fixtures of the DeepLabCut integration tests: a tiny, really trained DLC project.

The project is built once per test session (about two to three minutes on two CPU cores, see
:mod:`.dlc_tiny`) and never cached between sessions. Tests that write files work on their own
copy (:func:`tiny_dlc_copy`), so they do not see each other's outputs.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from .dlc_tiny import TinyProject, build_tiny_dlc_project, set_project_path

logger = logging.getLogger(__name__)


@pytest.fixture(scope="session")
def tiny_dlc_project(tmp_path_factory: pytest.TempPathFactory) -> TinyProject:
    """A tiny DLC 3 project (simulated mouse), trained 1 epoch on CPU and analysed.

    Read-only for tests: use :func:`tiny_dlc_copy` to write next to its files.
    """
    pytest.importorskip("deeplabcut", reason="the real deeplabcut package is not installed")
    pytest.importorskip("av", reason="PyAV is needed to decode the sample video")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    project = build_tiny_dlc_project(tmp_path_factory.mktemp("tiny_dlc"))
    logger.warning("tiny DLC project built; step timings (s): %s", json.dumps(project.timings))
    return project


@pytest.fixture
def tiny_dlc_copy(tiny_dlc_project: TinyProject, tmp_path: Path) -> TinyProject:
    """A private copy of :func:`tiny_dlc_project` (config paths rewritten to the copy)."""
    src = tiny_dlc_project.project_dir
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    config = dst / "config.yaml"
    set_project_path(config, dst)
    video = dst / "videos" / tiny_dlc_project.video.name
    return replace(tiny_dlc_project, config=config, video=video,
                   analysed_h5=dst / "videos" / tiny_dlc_project.analysed_h5.name)
