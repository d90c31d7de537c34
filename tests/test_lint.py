"""Lint gates run with the tests (CI runs only ``scripts/test.sh``).

* ``ruff check``: the rules of ``pyproject.toml``, docstrings included (``D``, numpy
  convention);
* ``ruff format --check`` on :data:`FORMATTED`, the modules kept in ruff's format (the rest of
  the tree predates it: a file joins the list when it is reformatted as a whole);
* ``mypy`` on the typed public API (the files listed under ``[tool.mypy]`` in
  ``pyproject.toml``).

The tools are pinned in ``.ci/constraints.txt`` (installed by ``scripts/env.sh`` through the
``dev`` extra).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Files kept in ``ruff format`` style.
FORMATTED: tuple[str, ...] = (
    "stablemotion_dlc/dlc/__init__.py",
    "stablemotion_dlc/dlc/constants.py",
    "stablemotion_dlc/dlc/io.py",
    "stablemotion_dlc/dlc/project.py",
    "stablemotion_dlc/dlc/tracks.py",
    "stablemotion_dlc/evaluate/__init__.py",
    "stablemotion_dlc/evaluate/cases.py",
    "stablemotion_dlc/evaluate/methods.py",
    "stablemotion_dlc/evaluate/runner.py",
    "stablemotion_dlc/evaluate/speed.py",
    "stablemotion_dlc/sample/",
    "tests/test_lint.py",
    "tests/test_project.py",
)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=900
    )


def test_ruff_check() -> None:
    r = _run("ruff", "check", ".")
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_format() -> None:
    r = _run("ruff", "format", "--check", *FORMATTED)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_mypy_public_api() -> None:
    r = _run("mypy")
    assert r.returncode == 0, r.stdout + r.stderr
