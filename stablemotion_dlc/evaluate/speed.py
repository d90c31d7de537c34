"""Speed of the cleaner against sequence length, next to the baselines (real-data benchmark).

:func:`measure_speed` tiles real tracks (forward and time-reversed copies, continuous at the
joins) to each length and times cleaning, a short training run and the fast baselines.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..dlc.tracks import Tracks
from .cases import PCUTOFF

__all__ = ["measure_speed"]

logger = logging.getLogger(__name__)


def _tile(tracks: Tracks, n: int) -> Tracks:
    """A ``n``-frame sequence of forward and time-reversed copies of ``tracks``.

    Continuous at the joins.
    """
    fwd = np.arange(tracks.n_frames)
    period = np.r_[fwd, fwd[::-1]]
    idx = np.resize(period, n)
    return tracks.select(frames=idx)


def measure_speed(
    model: str | Path,
    tracks: Tracks,
    lengths: Sequence[int] = (1000, 10000, 100000),
    *,
    baselines: Sequence[str] | None = None,
    train_steps: int = 20,
    progress: bool = True,
    time_budget_s: float = 240.0,
    slow_s: float = 20.0,
) -> list[dict[str, Any]]:
    """Cleaning and training time against sequence length, next to the baselines.

    Parameters
    ----------
    model : path
        A model trained on ``tracks``' project.
    tracks : Tracks
        Real tracks; tiled (forward, reversed, ...) to each length.
    lengths : sequence of int
        Sequence lengths in frames.
    baselines : sequence of str, optional
        Baselines timed alongside (default: the fast available ones).
    train_steps : int
        Steps of the timed training run (its seconds/step and set-up time are reported).
    progress : bool
        Progress bar.
    time_budget_s : float
        Lengths are skipped once the elapsed time exceeds this (noted in the result).
    slow_s : float
        A baseline that took longer than this is not timed on longer sequences.

    Returns
    -------
    list of dict
        One row per length: ``frames, individuals, keypoints, clean_seconds, clean_fps,
        train_seconds, train_s_per_step, baselines {name: seconds}``.
    """
    from .._progress import progress_bar
    from ..core.inference import Cleaner
    from ..dlc.pipeline import clean_tracks, train_on_tracks
    from .baselines import BASELINES

    cleaner = Cleaner.from_file(model)
    names = [
        b
        for b in (baselines if baselines is not None else BASELINES)
        if b in BASELINES and not BASELINES[b].slow and BASELINES[b].available()[0]
    ]
    rows: list[dict[str, Any]] = []
    too_slow: dict[str, str] = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="smdlc-speed-") as tmp:
        for n in progress_bar(list(lengths), desc="speed", leave=False, disable=not progress):
            if time.perf_counter() - start > time_budget_s:
                rows.append({"frames": int(n), "skipped": "time budget exhausted"})
                continue
            tr = _tile(tracks, int(n))
            row: dict[str, Any] = {
                "frames": int(n),
                "individuals": tr.n_individuals,
                "keypoints": tr.n_keypoints,
            }
            t0 = time.perf_counter()
            clean_tracks(tr, cleaner, pcutoff=PCUTOFF)
            dt = time.perf_counter() - t0
            row["clean_seconds"] = round(dt, 3)
            row["clean_fps"] = round(n / dt, 1)
            row["baselines"] = {}
            for b in names:
                if b in too_slow:
                    row["baselines"][b] = f"skipped: {too_slow[b]}"
                    continue
                t0 = time.perf_counter()
                try:
                    BASELINES[b](tr.xy, tr.likelihood)
                except Exception as exc:
                    row["baselines"][b] = f"failed: {exc}"
                    continue
                row["baselines"][b] = round(time.perf_counter() - t0, 3)
                if row["baselines"][b] > slow_s:
                    too_slow[b] = f"took {row['baselines'][b]:.0f} s at {n} frames"
            if train_steps <= 0:
                rows.append(row)
                continue
            t0 = time.perf_counter()
            train_on_tracks(
                [tr],
                Path(tmp) / f"speed_{n}.safetensors",
                steps=train_steps,
                resume=False,
                overwrite=True,
                progress=False,
            )
            dt = time.perf_counter() - t0
            row["train_seconds"] = round(dt, 2)
            row["train_steps"] = train_steps
            row["train_s_per_step"] = round(dt / train_steps, 4)
            rows.append(row)
    return rows
