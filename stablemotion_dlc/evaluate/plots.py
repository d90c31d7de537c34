"""Figures: before/after traces of a cleaned file (matplotlib, no GUI backend needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._arrays import true_runs
from .._atomic import atomic_path
from ..dlc.tracks import Tracks

__all__ = ["plot_before_after", "most_changed_keypoints"]


def most_changed_keypoints(raw: Tracks, cleaned: Tracks, n: int = 3) -> list[tuple[int, int]]:
    """The ``n`` (individual, keypoint) pairs whose points changed most often.

    Parameters
    ----------
    raw, cleaned : Tracks
        The input and the cleaned tracks (same shapes).
    n : int
        How many pairs to return.

    Returns
    -------
    list of (int, int)
        Individual and keypoint indices, most changed first.
    """
    a, b = raw.xy, cleaned.xy
    changed = ~(((a == b) | (np.isnan(a) & np.isnan(b))).all(axis=-1))  # (F, I, K)
    counts = changed.sum(axis=0)  # (I, K)
    order = np.argsort(counts, axis=None)[::-1][:n]
    return [tuple(int(v) for v in np.unravel_index(o, counts.shape)) for o in order]


def plot_before_after(
    raw: Tracks,
    cleaned: Tracks,
    out_png: str | Path,
    *,
    truth: Tracks | None = None,
    pairs: Sequence[tuple[int, int]] | None = None,
    frames: slice | None = None,
    overwrite: bool = False,
    title: str | None = None,
    uncertainty: np.ndarray | None = None,
    jitter: np.ndarray | None = None,
) -> Path:
    """Plot x and y over time before and after cleaning (and the truth when known).

    Parameters
    ----------
    raw, cleaned : Tracks
        Input and cleaned tracks.
    out_png : str or Path
        Figure file (written atomically).
    truth : Tracks, optional
        Ground truth (e.g. of the simulated sample), drawn in grey.
    pairs : sequence of (individual, keypoint) indices, optional
        Which keypoints to show (default: the three most changed).
    frames : slice, optional
        Frame range (default: a window around the most edited stretch, at most 600 frames).
    overwrite : bool
        Replace an existing figure.
    title : str, optional
        Figure title.
    uncertainty : np.ndarray, optional
        ``(F, I, K)`` radius (px) of each changed point's stated 90 % interval
        (``CleanResult.uncertainty``, the provenance file's ``uncertainty``); drawn as a
        band around the cleaned values where it is positive.
    jitter : np.ndarray, optional
        ``(F, I, K)`` bool, the points the learned jitter detector marked for review (the
        provenance file's ``jitter``); their frames are shaded.

    Returns
    -------
    Path
        The figure file.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    pairs = list(pairs) if pairs else most_changed_keypoints(raw, cleaned, 3)
    n_f = raw.n_frames
    if frames is None:
        i0, k0 = pairs[0]
        changed = ~((raw.xy[:, i0, k0] == cleaned.xy[:, i0, k0]).all(-1))
        centre = int(np.flatnonzero(changed).mean()) if changed.any() else n_f // 2
        half = min(300, n_f // 2)
        a = max(0, min(centre - half, n_f - 2 * half))
        frames = slice(a, a + 2 * half)
    t = np.arange(n_f)[frames]
    fig, axes = plt.subplots(len(pairs), 2, figsize=(12, 2.4 * len(pairs) + 0.6),
                             sharex=True, squeeze=False)
    for row, (i, k) in enumerate(pairs):
        for col, c in enumerate("xy"):
            ax = axes[row, col]
            if truth is not None:
                ax.plot(t, truth.xy[frames, i, k, col], color="0.6", lw=3, label="truth")
            ax.plot(t, raw.xy[frames, i, k, col], color="tab:red", lw=1, label="DLC output")
            ax.plot(t, cleaned.xy[frames, i, k, col], color="tab:blue", lw=1.2,
                    label="cleaned")
            if uncertainty is not None:
                r = np.asarray(uncertainty)[frames, i, k]
                v = cleaned.xy[frames, i, k, col]
                ax.fill_between(t, v - r, v + r, where=r > 0, color="tab:blue", alpha=0.2,
                                lw=0, label="stated 90 % interval")
            if jitter is not None:
                marked = np.asarray(jitter, bool)[frames, i, k]
                for n, (a, b) in enumerate(zip(*true_runs(marked), strict=True)):
                    ax.axvspan(t[a] - 0.5, t[b - 1] + 0.5, color="tab:orange", alpha=0.15,
                               lw=0, label="marked: jitter (kept)" if n == 0 else None)
            who = raw.bodyparts[k] if raw.n_individuals == 1 else \
                f"{raw.individuals[i]} / {raw.bodyparts[k]}"
            ax.set_ylabel(f"{who}\n{c} (px)", fontsize=8)
            if row == 0 and col == 0:
                ax.legend(loc="upper right", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("frame")
    fig.suptitle(title or "before / after cleaning")
    fig.tight_layout()
    out_png = Path(out_png)
    with atomic_path(out_png, overwrite=overwrite) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return out_png
