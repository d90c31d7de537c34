"""Pure conversions from stablemotion-dlc data to napari layer data (no Qt, no napari).

Every function takes library objects (:class:`~stablemotion_dlc.dlc.tracks.Tracks`,
:class:`~stablemotion_dlc.dlc.labels.SuspectLabels`, a clean-result status array) and returns
numpy arrays and dicts in napari's conventions:

* Points: ``(N, 3)`` rows ``(frame, y, x)`` plus a per-point feature table;
* Tracks: ``(M, 4)`` rows ``(track_id, frame, y, x)``, sorted by track then frame;
* Vectors (skeleton): ``(B, 2, 3)`` ``[[frame, y0, x0], [0, dy, dx]]``.

Missing (NaN) points are left out; coordinates get the DLC crop offset added so they line up
with the full video frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stablemotion_dlc.dlc.tracks import Tracks

__all__ = [
    "STATUS_NAMES",
    "STATUS_SYMBOLS",
    "PointsData",
    "keypoint_colors",
    "individual_colors",
    "points_data",
    "trajectory_data",
    "skeleton_pairs",
    "skeleton_vectors",
    "reason_text",
]

STATUS_NAMES: dict[int, str] = {0: "kept", 1: "replaced", 2: "gap-filled", 3: "identity-fixed"}
"""Clean-result status code -> name."""
STATUS_SYMBOLS: dict[int, str] = {0: "disc", 1: "diamond", 2: "square", 3: "star"}
"""Clean-result status code -> napari point symbol."""
NORMAL_SYMBOL = "disc"
SUSPECT_SYMBOL = "x"
SUSPECT_FACE = np.array([1.0, 0.0, 1.0, 1.0])
"""Face colour of suspect points: magenta, a colour the keypoint colormap never uses."""
SUSPECT_BORDER = np.array([0.0, 0.0, 0.0, 1.0])
SUSPECT_SCALE = 1.6
"""Suspect points are drawn this much larger than the others."""


@dataclass
class PointsData:
    """Everything needed for one napari Points layer.

    Attributes
    ----------
    data : np.ndarray
        ``(N, 3)`` float rows ``(frame, y, x)``.
    features : dict of str to np.ndarray
        Per-point columns: ``frame``, ``individual``, ``keypoint``, ``likelihood``,
        ``suspect`` (bool), ``reason`` (str) and, for cleaned tracks, ``status``.
    face_color : np.ndarray
        ``(N, 4)`` RGBA, one colour per keypoint.
    border_color : np.ndarray
        ``(N, 4)`` RGBA, one colour per individual.
    symbol : np.ndarray
        ``(N,)`` symbol names (``"x"`` for suspect points, status symbols for cleaned ones).
    index : np.ndarray
        ``(N, 3)`` int ``(frame, individual, keypoint)`` of each point in the Tracks arrays.
    scale : np.ndarray
        ``(N,)`` size factor (:data:`SUSPECT_SCALE` for suspect points, else 1).
    """

    data: np.ndarray
    features: dict[str, np.ndarray]
    face_color: np.ndarray
    border_color: np.ndarray
    symbol: np.ndarray
    index: np.ndarray
    scale: np.ndarray = field(default_factory=lambda: np.zeros(0))
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.data.shape[0])


def keypoint_colors(n: int, cmap: str = "turbo") -> np.ndarray:
    """``(n, 4)`` RGBA colours evenly spread over a matplotlib colormap (as DLC's plots do).

    Parameters
    ----------
    n : int
        Number of keypoints.
    cmap : str
        Matplotlib colormap name (DLC uses ``"rainbow"``; ``"turbo"`` is brighter).
    """
    import matplotlib

    if n <= 0:
        return np.zeros((0, 4))
    cm = matplotlib.colormaps[cmap]
    pos = np.linspace(0.05, 0.95, n) if n > 1 else np.array([0.5])
    return np.asarray(cm(pos), dtype=np.float64)


def individual_colors(n: int) -> np.ndarray:
    """``(n, 4)`` RGBA border colours that tell individuals apart (white first, then tab10)."""
    import matplotlib

    base = [np.array([1.0, 1.0, 1.0, 1.0])]
    tab = matplotlib.colormaps["tab10"]
    base += [np.asarray(tab(i % 10)) for i in range(max(n - 1, 0))]
    return np.vstack(base[:n]) if n else np.zeros((0, 4))


def reason_text(bits: np.ndarray, reason_names: dict[int, str]) -> np.ndarray:
    """Comma-separated reason names for an array of reason bit flags."""
    bits = np.asarray(bits)
    out = np.full(bits.shape, "", dtype=object)
    for value in np.unique(bits):
        if value == 0:
            continue
        names = [n for b, n in reason_names.items() if int(value) & b]
        out[bits == value] = ",".join(names)
    return out


def points_data(
    tracks: Tracks,
    *,
    suspect: np.ndarray | None = None,
    reasons: np.ndarray | None = None,
    reason_names: dict[int, str] | None = None,
    status: np.ndarray | None = None,
    cmap: str = "turbo",
) -> PointsData:
    """Convert tracks to napari Points data, one point per present, non-NaN keypoint.

    Parameters
    ----------
    tracks : Tracks
        Pose tracks.
    suspect : np.ndarray, optional
        ``(frames, individuals, keypoints)`` bool; suspect points are drawn high-contrast:
        symbol ``"x"``, magenta face, black border, :data:`SUSPECT_SCALE` times larger.
    reasons : np.ndarray, optional
        Same shape, uint8 reason bits (with ``reason_names``) for the ``reason`` feature.
    reason_names : dict, optional
        Bit -> rule name.
    status : np.ndarray, optional
        Same shape, uint8 clean-result status (:data:`STATUS_NAMES`); sets the symbols
        (:data:`STATUS_SYMBOLS`) and a ``status`` feature.
    cmap : str
        Colormap for the keypoint colours.

    Returns
    -------
    PointsData
    """
    shape3 = tracks.xy.shape[:3]
    for name, arr in (("suspect", suspect), ("reasons", reasons), ("status", status)):
        if arr is not None and np.shape(arr) != shape3:
            raise ValueError(f"{name} has shape {np.shape(arr)}, expected {shape3}")
    ok = np.isfinite(tracks.xy).all(-1) & tracks.present[None]
    idx = np.argwhere(ok)  # (N, 3) sorted by frame, individual, keypoint
    f, i, k = idx[:, 0], idx[:, 1], idx[:, 2]
    ox, oy = tracks.crop_offset
    xy = tracks.xy[f, i, k]
    data = np.column_stack([f.astype(np.float64), xy[:, 1] + oy, xy[:, 0] + ox])
    lik = (tracks.likelihood[f, i, k] if tracks.likelihood is not None
           else np.full(f.size, np.nan))
    sus = np.zeros(f.size, bool) if suspect is None else np.asarray(suspect)[f, i, k]
    features: dict[str, np.ndarray] = {
        "frame": f.astype(np.int64),
        "individual": np.asarray(tracks.individuals, dtype=object)[i],
        "keypoint": np.asarray(tracks.bodyparts, dtype=object)[k],
        "likelihood": lik.astype(np.float64),
        "suspect": sus.astype(bool),
    }
    if reasons is not None:
        features["reason"] = reason_text(np.asarray(reasons)[f, i, k], reason_names or {})
    symbol = np.where(sus, SUSPECT_SYMBOL, NORMAL_SYMBOL).astype(object)
    if status is not None:
        st = np.asarray(status)[f, i, k].astype(np.int64)
        features["status"] = np.array([STATUS_NAMES.get(int(s), str(s)) for s in st],
                                      dtype=object) if st.size else np.zeros(0, object)
        symbol = np.array([STATUS_SYMBOLS.get(int(s), NORMAL_SYMBOL) for s in st],
                          dtype=object) if st.size else np.zeros(0, object)
    face = keypoint_colors(tracks.n_keypoints, cmap)[k] if f.size else np.zeros((0, 4))
    border = individual_colors(tracks.n_individuals)[i] if f.size else np.zeros((0, 4))
    scale = np.ones(f.size)
    if status is None and sus.any():
        face, border = face.copy(), border.copy()
        face[sus], border[sus], scale[sus] = SUSPECT_FACE, SUSPECT_BORDER, SUSPECT_SCALE
    return PointsData(data=data, features=features, face_color=face, border_color=border,
                      symbol=symbol, index=idx, scale=scale)


def trajectory_data(
    series: Sequence[Tracks],
    individual: int,
    keypoint: int,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Tracks-layer data of one keypoint of one individual for several versions of the tracks.

    Parameters
    ----------
    series : sequence of Tracks
        E.g. ``[raw, cleaned]``; version ``j`` becomes track id ``j``.
    individual, keypoint : int
        Positions along axes 1 and 2.

    Returns
    -------
    data : np.ndarray
        ``(M, 4)`` rows ``(track_id, frame, y, x)`` without NaN rows, sorted by track, frame.
    properties : dict
        ``{"version": (M,) int}`` (same as the track id, for colouring).
    """
    rows = []
    for j, tr in enumerate(series):
        xy = tr.xy[:, individual, keypoint]
        ok = np.isfinite(xy).all(-1)
        frames = np.flatnonzero(ok)
        ox, oy = tr.crop_offset
        rows.append(np.column_stack([np.full(frames.size, j, dtype=np.float64),
                                     frames.astype(np.float64),
                                     xy[ok, 1] + oy, xy[ok, 0] + ox]))
    data = np.vstack(rows) if rows else np.zeros((0, 4))
    return data, {"version": data[:, 0].astype(np.int64)}


def skeleton_pairs(bodyparts: Sequence[str],
                   skeleton: Sequence[Sequence[str | int]]) -> list[tuple[int, int]]:
    """Resolve a DLC ``skeleton`` (pairs of names or indices) to index pairs.

    Bones naming a bodypart the tracks do not have are dropped (DLC configs often list
    bones of other projects' bodyparts).
    """
    pos = {name: j for j, name in enumerate(bodyparts)}
    out: list[tuple[int, int]] = []
    for bone in skeleton:
        if len(bone) != 2:
            continue
        ends = []
        for end in bone:
            if isinstance(end, (int, np.integer)):
                ends.append(int(end) if 0 <= int(end) < len(bodyparts) else None)
            else:
                ends.append(pos.get(str(end)))
        a, b = ends
        if a is not None and b is not None and a != b and (a, b) not in out:
            out.append((a, b))
    return out


def skeleton_vectors(tracks: Tracks, pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """Vectors-layer data of every bone in every frame where both ends are known.

    Returns
    -------
    np.ndarray
        ``(B, 2, 3)``: ``[[frame, y0, x0], [0, y1 - y0, x1 - x0]]``.
    """
    if not pairs:
        return np.zeros((0, 2, 3))
    ox, oy = tracks.crop_offset
    out = []
    for a, b in pairs:
        pa, pb = tracks.xy[:, :, a], tracks.xy[:, :, b]  # (F, I, 2)
        ok = np.isfinite(pa).all(-1) & np.isfinite(pb).all(-1)
        ok &= tracks.present[None, :, a] & tracks.present[None, :, b]
        f, i = np.nonzero(ok)
        start = np.column_stack([f.astype(np.float64), pa[f, i, 1] + oy, pa[f, i, 0] + ox])
        delta = np.column_stack([np.zeros(f.size), pb[f, i, 1] - pa[f, i, 1],
                                 pb[f, i, 0] - pa[f, i, 0]])
        out.append(np.stack([start, delta], axis=1))
    return np.concatenate(out, axis=0)
