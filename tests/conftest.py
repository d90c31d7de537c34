"""Shared pytest fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path | None:
    env = os.environ.get("STABLEMOTION_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "data"]
    for c in candidates:
        if c.is_dir() and any(c.iterdir()):
            return c
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of real DLC outputs (``../shared/data``); skips the test when absent."""
    d = _shared_data_dir()
    if d is None:
        pytest.skip("real DLC data folder (../shared/data) not present")
    return d


# ----------------------------------------------------------------------------- GUI tests
_GUI_FIXTURES = {"qtbot", "qapp", "make_napari_viewer", "make_napari_viewer_proxy"}
_QT_PROBE = ("from qtpy.QtWidgets import QApplication; app = QApplication([]); "
             "print(app.platformName())")


def _qt_display_problem() -> str | None:
    """Why no Qt application can start here (None when one can).

    Checked in a child process, because Qt aborts the whole interpreter ("could not connect
    to display") instead of raising. pytest-xvfb has already started Xvfb and set DISPLAY when
    Xvfb is installed, so this tests what the GUI tests will really get.
    """
    try:
        run = subprocess.run([sys.executable, "-c", _QT_PROBE], capture_output=True,
                             text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "starting a Qt application timed out"
    if run.returncode == 0:
        return None
    lines = [ln for ln in run.stderr.strip().splitlines() if ln.strip()]
    why = next((ln for ln in lines if "display" in ln.lower()), lines[-1] if lines else "")
    return (f"no display for the Qt/napari GUI tests ({why.strip()[:160]}); install Xvfb and "
            "Qt's X libraries (bash scripts/system_deps.sh as root) or set DISPLAY")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip GUI tests with a clear reason when no display can be started (never abort)."""
    gui = [it for it in items if it.get_closest_marker("gui")
           or _GUI_FIXTURES & set(getattr(it, "fixturenames", ()))]
    if not gui:
        return
    problem = _qt_display_problem()
    if problem is None:
        return
    config.issue_config_time_warning(pytest.PytestWarning(problem), stacklevel=2)
    for it in gui:
        it.add_marker(pytest.mark.skip(reason=problem))
