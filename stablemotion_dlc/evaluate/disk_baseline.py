"""DISK as an optional learned gap-filling baseline, and a seeded gap-injection benchmark.

DISK (Rose et al., *Deep Imputation for Skeleton data*, Nature Methods 2025; PyPI
``disk-impute``) trains a network on a lab's own pose data to fill missing keypoints. It
pins its own dependencies (torch, pandas, plotly, umap ...), so it lives in its **own**
virtual environment and this module drives it in a subprocess; the project's environment
never imports DISK. Install it once with::

    python3 -m venv /root/.cache/disk-venv
    /root/.cache/disk-venv/bin/pip install disk-impute torch

and point :envvar:`STABLEMOTION_DISK_PYTHON` at another interpreter if it lives elsewhere.

Two public functions:

* :func:`fill_gaps_disk` trains DISK on a file's own confident points within a wall-clock
  budget on one CPU thread and fills every NaN gap of an array (see
  ``_disk_driver.py`` for how DISK is driven and why).
* :func:`make_gap_benchmark` hides seeded gaps of 1-3, 4-10, 11-30 and 31-100 frames on one
  keypoint at a time over confident stretches, so that any method can be scored on the
  identical gaps with :func:`gap_rmse_by_bin`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from stablemotion_dlc._arrays import interp_fill, true_runs

__all__ = [
    "DEFAULT_DISK_PYTHON",
    "GAP_BINS",
    "disk_python",
    "fill_gaps_disk",
    "gap_rmse_by_bin",
    "linear_fill",
    "make_gap_benchmark",
]

LOG = logging.getLogger(__name__)

DEFAULT_DISK_PYTHON = "/root/.cache/disk-venv/bin/python"
"""Where :func:`fill_gaps_disk` looks for DISK's interpreter when the env var is unset."""

GAP_BINS: tuple[tuple[int, int], ...] = ((1, 3), (4, 10), (11, 30), (31, 100))
"""Gap-length bins in frames, both ends included."""

_DRIVER = Path(__file__).with_name("_disk_driver.py")
_INSTALL_HINT = (
    "DISK is an optional baseline installed in its own virtual environment: "
    "`python3 -m venv /root/.cache/disk-venv && /root/.cache/disk-venv/bin/pip install "
    "disk-impute torch`, or set STABLEMOTION_DISK_PYTHON to a python that can `import DISK`."
)


def disk_python(python: str | None = None, *, check: bool = True) -> str:
    """The interpreter of DISK's virtual environment.

    Parameters
    ----------
    python : str, optional
        Explicit interpreter; else ``$STABLEMOTION_DISK_PYTHON``; else
        :data:`DEFAULT_DISK_PYTHON`.
    check : bool
        Verify that the interpreter exists and can ``import DISK``.

    Returns
    -------
    str
        Path of the interpreter.

    Raises
    ------
    RuntimeError
        If ``check`` and DISK is not usable there (the message says how to install it).
    """
    exe = python or os.environ.get("STABLEMOTION_DISK_PYTHON") or DEFAULT_DISK_PYTHON
    if not check:
        return exe
    if shutil.which(exe) is None and not Path(exe).is_file():
        raise RuntimeError(f"DISK python {exe!r} not found. {_INSTALL_HINT}")
    probe = subprocess.run(
        [exe, "-c", "import DISK, torch"], capture_output=True, text=True, timeout=300,
        env=_single_thread_env(),
    )
    if probe.returncode != 0:
        tail = (probe.stderr or probe.stdout).strip().splitlines()[-1:] or ["?"]
        raise RuntimeError(f"`import DISK` fails with {exe!r}: {tail[0]}. {_INSTALL_HINT}")
    return exe


def _single_thread_env() -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "NUMEXPR_NUM_THREADS"):
        env[var] = "1"
    env["CUDA_VISIBLE_DEVICES"] = ""  # the budget is a CPU budget
    env["MPLBACKEND"] = "Agg"
    env.pop("PYTHONPATH", None)  # keep the project's packages out of DISK's interpreter
    return env


def _window_length(xy_gappy: np.ndarray) -> int:
    """DISK window: the longest gap plus context on both sides, a multiple of 8 in [32, 256]."""
    nan = ~np.isfinite(xy_gappy).all(-1)
    longest = 0
    for k in range(nan.shape[1]):
        starts, stops = true_runs(nan[:, k])
        if len(starts):
            longest = max(longest, int((stops - starts).max()))
    length = longest + 2 * max(8, longest // 8)
    return int(np.clip(-(-length // 8) * 8, 32, 256))


def linear_fill(xy_gappy: np.ndarray) -> np.ndarray:
    """Linear interpolation in time over NaN points (nearest value before/after the ends).

    Parameters
    ----------
    xy_gappy : np.ndarray
        ``(frames, keypoints, 2)`` with NaN for missing.

    Returns
    -------
    np.ndarray
        Filled copy (float64); keypoints that are never observed stay NaN.
    """
    xy = np.asarray(xy_gappy, dtype=np.float64)
    valid = np.isfinite(xy).all(-1)
    filled, _ = interp_fill(xy[None], valid[None])
    return filled[0]


def fill_gaps_disk(
    xy_train: np.ndarray,
    xy_gappy: np.ndarray,
    *,
    fps: float | None,
    budget_s: float = 120,
    seed: int = 0,
    python: str | None = None,
    workdir: str | Path | None = None,
    network: str = "gru",
    length: int | None = None,
    lr: float = 1e-3,
    swap: float = 0.5,
    mu_sigma: bool | None = None,
    info: dict[str, Any] | None = None,
) -> np.ndarray:
    """Train DISK on a file's confident points and fill every NaN gap of ``xy_gappy``.

    DISK runs in a subprocess with its own interpreter (``python``, else
    ``$STABLEMOTION_DISK_PYTHON``, else :data:`DEFAULT_DISK_PYTHON`), one thread, on CPU;
    data go through ``.npy`` files in a temporary folder.

    Parameters
    ----------
    xy_train : np.ndarray
        ``(frames, keypoints, 2)`` float, the file's confident points, NaN elsewhere. DISK
        trains on its fully observed windows of ``length`` frames (every start frame;
        gaps of <= 3 frames filled linearly first, DISK's ``fill_gap``) with its own gap
        simulation (learned from this array's own gaps). A file without any such window
        makes DISK fail (``RuntimeError`` with DISK's message).
    xy_gappy : np.ndarray
        ``(frames, keypoints, 2)`` float with NaN gaps to fill (may be ``xy_train``).
    fps : float or None
        Frame rate; recorded only (DISK works in frames here: no resampling).
    budget_s : float
        CPU seconds of training on one thread (the DISK process's CPU time, so that a busy
        machine does not shrink the budget; training also stops after ``4 * budget_s`` wall
        seconds). Data preparation and inference come on top and are reported in ``info``.
    seed : int
        Seed of torch, numpy and the data order.
    python : str, optional
        DISK's interpreter.
    workdir : str or Path, optional
        Keep DISK's files there (a fresh temporary folder, deleted afterwards, if None).
    network : {"gru", "transformer"}
        ``"gru"``: DISK's bidirectional GRU, 2 x 128 (the default). ``"transformer"``: DISK's
        transformer with one token per frame, 2 layers x 64.
    length : int, optional
        DISK window (frames); default: the longest gap of ``xy_gappy`` plus context, a
        multiple of 8 in [32, 256]. Gaps longer than ``length - 2`` are not imputable by
        DISK and are filled by linear interpolation instead (counted in ``info``).
    lr : float
        Adam learning rate (DISK's default for the GRU is 1e-4 over 1,500 epochs; 1e-3 suits
        a budget of minutes).
    swap : float
        Probability of DISK's keypoint-swap augmentation (DISK's default 0.5).
    mu_sigma : bool, optional
        DISK's probabilistic output head (Gaussian NLL loss, gives an uncertainty) or a plain
        L1 loss; default: the network's setting (GRU: True).
    info : dict, optional
        Filled with DISK's report: timings (``prep_s``, ``train_s``, ``train_cpu_s``,
        ``impute_s``), ``steps``, ``epochs``, ``n_train_windows``, ``n_gaps``,
        ``n_gaps_imputed``, ``n_points_fallback`` and the configuration.

    Returns
    -------
    np.ndarray
        ``xy_gappy`` with its NaN points filled (float64). Points that were not NaN are
        returned bit-identical.

    Raises
    ------
    RuntimeError
        If DISK is not installed, or its run fails (the message carries DISK's last error
        lines).
    ValueError
        If the arrays do not have shape ``(frames, keypoints, 2)``.
    """
    xy_train = np.asarray(xy_train, dtype=np.float64)
    xy_gappy = np.asarray(xy_gappy, dtype=np.float64)
    for name, a in (("xy_train", xy_train), ("xy_gappy", xy_gappy)):
        if a.ndim != 3 or a.shape[-1] != 2:
            raise ValueError(f"{name} must have shape (frames, keypoints, 2); got {a.shape}")
    if xy_train.shape[1] != xy_gappy.shape[1]:
        raise ValueError("xy_train and xy_gappy must have the same keypoints")
    exe = disk_python(python)
    length = int(length) if length is not None else _window_length(xy_gappy)
    tmp = None
    if workdir is None:
        tmp = tempfile.mkdtemp(prefix="stablemotion-disk-")
        wd = Path(tmp)
    else:
        wd = Path(workdir)
        wd.mkdir(parents=True, exist_ok=True)
    try:
        np.save(wd / "train.npy", xy_train)
        np.save(wd / "gappy.npy", xy_gappy)
        cmd = [exe, str(_DRIVER), "--workdir", str(wd), "--budget-s", str(float(budget_s)),
               "--seed", str(int(seed)), "--length", str(length), "--network", network,
               "--lr", str(float(lr)), "--swap", str(float(swap)),
               "--mu-sigma", str(-1 if mu_sigma is None else int(mu_sigma))]
        LOG.info("DISK: training %.0f CPU s on %d frames x %d keypoints (window %d, %s)",
                 budget_s, *xy_train.shape[:2], length, network)
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=wd,
                              env=_single_thread_env(), timeout=max(600.0, 4 * budget_s + 600))
        (wd / "driver.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stderr + proc.stdout).splitlines()
                     if ln.strip() and "it/s]" not in ln and "s/it]" not in ln]
            raise RuntimeError(
                f"DISK failed (exit {proc.returncode}):\n" + "\n".join(lines[-15:]))
        filled = np.load(wd / "filled.npy")
        report = json.loads((wd / "report.json").read_text())
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    missing = ~np.isfinite(xy_gappy).all(-1)
    out = xy_gappy.copy()
    out[missing] = filled[missing]
    left = missing & ~np.isfinite(out).all(-1)
    if left.any():
        out[left] = linear_fill(xy_gappy)[left]
        LOG.warning("DISK left %d points unfilled (gaps longer than its window): linear "
                    "interpolation used there", int(left.sum()))
    report.update(n_points_fallback=int(left.sum()), fps=fps, python=exe)
    if info is not None:
        info.update(report)
    return out


def make_gap_benchmark(
    xy: np.ndarray,
    ok: np.ndarray,
    seed: int,
    n_per_bin: int,
    *,
    bins: tuple[tuple[int, int], ...] = GAP_BINS,
    margin: int = 10,
    max_tries: int = 2000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hide seeded gaps on one keypoint at a time inside confident stretches.

    For each bin (longest first) up to ``n_per_bin`` gaps are drawn: a length uniform in
    the bin, a keypoint, a start such that the gap and one frame on each side are confident
    (so every method, linear interpolation included, has both neighbours), at least
    ``margin`` frames away from every other hidden gap (on any keypoint). A bin gets fewer
    gaps when the file has no room left (short files).

    Parameters
    ----------
    xy : np.ndarray
        ``(frames, keypoints, 2)`` truth coordinates (a multi-animal ``(frames, individuals,
        keypoints, 2)`` array is flattened to ``individuals * keypoints``).
    ok : np.ndarray
        ``(frames, keypoints)`` (or ``(frames, individuals, keypoints)``) bool, True where
        the truth is trusted (e.g. likelihood >= 0.6).
    seed : int
        Seed of the draw.
    n_per_bin : int
        Gaps wanted per bin.
    bins : tuple of (int, int)
        Inclusive gap-length bins.
    margin : int
        Minimum number of frames between two hidden gaps.
    max_tries : int
        Draws per bin before giving up on the remaining gaps.

    Returns
    -------
    gappy : np.ndarray
        ``(frames, keypoints, 2)`` float64: ``xy`` with NaN where ``~ok`` and on the hidden
        gaps.
    mask : np.ndarray
        ``(frames, keypoints)`` bool, True on the hidden points (the points to score).
    gaps : np.ndarray
        Structured array, one row per hidden gap, fields ``keypoint``, ``start``,
        ``length`` and ``bin`` (index into ``bins``).
    """
    xy = np.asarray(xy, dtype=np.float64)
    ok = np.asarray(ok, dtype=bool)
    if xy.ndim == 4:
        xy = xy.reshape(xy.shape[0], -1, xy.shape[-1])
        ok = ok.reshape(ok.shape[0], -1)
    if xy.ndim != 3 or ok.shape != xy.shape[:2]:
        raise ValueError(f"xy must be (frames, keypoints, 2) and ok (frames, keypoints); got "
                         f"{xy.shape} and {ok.shape}")
    ok = ok & np.isfinite(xy).all(-1)
    n_frames, n_kp = ok.shape
    rng = np.random.default_rng(seed)
    blocked = np.zeros(n_frames, dtype=bool)  # frames within `margin` of a hidden gap
    mask = np.zeros((n_frames, n_kp), dtype=bool)
    rows: list[tuple[int, int, int, int]] = []
    order = sorted(range(len(bins)), key=lambda j: -bins[j][1])
    for j in order:
        lo, hi = bins[j]
        placed = 0
        for _ in range(max_tries):
            if placed >= n_per_bin:
                break
            length = int(rng.integers(lo, hi + 1))
            if length + 2 > n_frames:
                continue
            k = int(rng.integers(n_kp))
            start = int(rng.integers(1, n_frames - length))
            span = slice(start - 1, start + length + 1)
            if not ok[span, k].all() or blocked[span].any():
                continue
            mask[start:start + length, k] = True
            blocked[max(0, start - margin):start + length + margin] = True
            rows.append((k, start, length, j))
            placed += 1
        if placed < n_per_bin:
            LOG.info("gap bin %d-%d: placed %d of %d gaps", lo, hi, placed, n_per_bin)
    gappy = xy.copy()
    gappy[~ok | mask] = np.nan
    gaps = np.array(sorted(rows, key=lambda r: (r[1], r[0])),
                    dtype=[("keypoint", int), ("start", int), ("length", int), ("bin", int)])
    return gappy, mask, gaps


def gap_rmse_by_bin(
    pred: np.ndarray,
    truth: np.ndarray,
    gaps: np.ndarray,
    *,
    bins: tuple[tuple[int, int], ...] = GAP_BINS,
) -> dict[str, dict[str, float]]:
    """RMSE (Euclidean, pixels) of the hidden points per gap-length bin.

    Parameters
    ----------
    pred, truth : np.ndarray
        ``(frames, keypoints, 2)``.
    gaps : np.ndarray
        As returned by :func:`make_gap_benchmark`.
    bins : tuple of (int, int)
        The bins ``gaps['bin']`` indexes.

    Returns
    -------
    dict
        ``{"1-3": {"rmse": ..., "n_gaps": ..., "n_points": ..., "sse": ...}, ...,
        "all": {...}}``; ``sse`` (sum of squared errors) lets results be pooled across
        files. A bin without gaps has ``rmse`` NaN.
    """
    pred = np.asarray(pred, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    sq = np.sum((pred - truth) ** 2, axis=-1)
    out: dict[str, dict[str, float]] = {}
    tot_sse = 0.0
    tot_n = 0
    for j, (lo, hi) in enumerate(bins):
        sel = gaps[gaps["bin"] == j]
        sse = float(sum(sq[g["start"]:g["start"] + g["length"], g["keypoint"]].sum()
                        for g in sel))
        n = int(sel["length"].sum()) if len(sel) else 0
        out[f"{lo}-{hi}"] = {"rmse": float(np.sqrt(sse / n)) if n else float("nan"),
                             "n_gaps": len(sel), "n_points": n, "sse": sse}
        tot_sse += sse
        tot_n += n
    out["all"] = {"rmse": float(np.sqrt(tot_sse / tot_n)) if tot_n else float("nan"),
                  "n_gaps": len(gaps), "n_points": tot_n, "sse": tot_sse}
    return out


if __name__ == "__main__":  # pragma: no cover - manual check of the installation
    logging.basicConfig(level=logging.INFO)
    sys.exit(0 if disk_python() else 1)
