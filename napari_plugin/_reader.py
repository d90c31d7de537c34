"""npe2 reader: open a cleaned DLC file through its provenance file (``*_stablemotion.npz``).

Only the provenance file is claimed: the cleaned tracks themselves have DeepLabCut's own name
(``<video><scorer>[_tracker]_filtered.h5``), which ``deeplabcut.filterpredictions`` also
writes, so claiming ``.h5`` names would take DLC's files from napari-deeplabcut. Opening
``…_filtered_stablemotion.npz`` (drag and drop, File > Open) shows

* ``video``: the video the tracks were made from, when it lies beside them (decoded lazily);
* ``raw keypoints``: the input tracks (``…_filtered`` without the suffix), when present;
* ``cleaned keypoints``: the cleaned tracks, with each point's status symbol (● kept,
  ◆ replaced, ■ gap-filled, ★ identity-fixed), detection probability, uncertainty and the
  review decision in its features (napari's status bar shows them on hover).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["get_reader", "read_provenance_layers", "PROVENANCE_SUFFIX"]

logger = logging.getLogger(__name__)

PROVENANCE_SUFFIX = "_stablemotion.npz"
LayerData = tuple[Any, dict[str, Any], str]


def _cleaned_file(provenance: Path) -> Path | None:
    """The cleaned tracks beside a provenance file (``.h5``, else ``.csv``)."""
    stem = provenance.name[: -len(PROVENANCE_SUFFIX)]
    for suffix in (".h5", ".csv"):
        candidate = provenance.with_name(stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def get_reader(path: str | list[str]) -> Callable[[str], list[LayerData]] | None:
    """npe2 reader hook: a reader for one ``*_stablemotion.npz`` with its tracks, else None."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    p = Path(path)
    if not p.name.endswith(PROVENANCE_SUFFIX) or not p.is_file():
        return None
    if _cleaned_file(p) is None:
        return None
    return read_provenance_layers


def _points_layer(tracks: Any, name: str, size: float, status: np.ndarray | None = None,
                  extra: dict[str, np.ndarray] | None = None, **kwargs: Any) -> LayerData:
    from napari_plugin._layers import points_data

    pdata = points_data(tracks, status=status)
    features = dict(pdata.features)
    f, i, k = pdata.index.T if len(pdata) else (np.zeros(0, int),) * 3
    for key, values in (extra or {}).items():
        features[key] = np.asarray(values)[f, i, k]
    meta = {"name": name, "features": features, "face_color": pdata.face_color,
            "border_color": pdata.border_color, "size": size, "border_width": 0.22,
            "border_width_is_relative": True, "ndim": 3,
            "symbol": pdata.symbol if len(pdata) else "disc", **kwargs}
    return pdata.data, meta, "points"


def read_provenance_layers(path: str | list[str]) -> list[LayerData]:
    """Layers of a provenance file: video (if found), raw and cleaned keypoints.

    Parameters
    ----------
    path : str
        A ``*_stablemotion.npz`` written by ``pipeline.save_clean_result``.

    Returns
    -------
    list of (data, metadata, layer type)
    """
    from stablemotion_dlc.dlc.io import read_tracks
    from stablemotion_dlc.dlc.review import ACCEPTED, REJECTED, Review
    from stablemotion_dlc.dlc.video import VideoReader, guess_video_path

    prov = Path(path[0] if isinstance(path, list) else path)
    cleaned_path = _cleaned_file(prov)
    if cleaned_path is None:
        raise FileNotFoundError(f"{prov}: no cleaned tracks (.h5/.csv) beside it")
    cleaned = read_tracks(cleaned_path)
    with np.load(prov, allow_pickle=False) as z:
        status = z["status"]
        probability = z["probability"] if "probability" in z.files else None
        uncertainty = z["uncertainty"] if "uncertainty" in z.files else None
        report = json.loads(str(z["report"])) if "report" in z.files else {}
    if status.shape != cleaned.xy.shape[:3]:
        raise ValueError(f"{prov}: provenance {status.shape} does not match "
                         f"{cleaned_path.name} {cleaned.xy.shape[:3]}")
    decision = np.full(status.shape, "", dtype=object)
    if report.get("review"):
        review = Review.from_dict(report["review"], status.shape)
        decision[review.mask(status.shape, ACCEPTED)] = ACCEPTED
        decision[review.mask(status.shape, REJECTED)] = REJECTED
        if review.marked is not None:
            decision[review.marked] = "marked"
    layers: list[LayerData] = []
    video_path = guess_video_path(cleaned_path)
    size = 6.0
    if video_path is not None:
        try:
            reader = VideoReader(video_path)
            reader.start_background()
            size = max(5.0, max(reader.shape[:2]) / 70)
            layers.append((reader.as_array(), {"name": "video", "rgb": True,
                                               "contrast_limits": (0, 255),
                                               "metadata": {"path": str(video_path)}}, "image"))
        except Exception as exc:  # noqa: BLE001 - the tracks are shown without it
            logger.warning("%s: video not shown (%s)", video_path, exc)
    stem = cleaned_path.stem
    if stem.endswith("_filtered"):
        for suffix in (".h5", ".csv"):
            raw_path = cleaned_path.with_name(stem[: -len("_filtered")] + suffix)
            if raw_path.is_file():
                raw = read_tracks(raw_path)
                if raw.xy.shape == cleaned.xy.shape:
                    layers.append(_points_layer(raw, "raw keypoints", size, visible=False,
                                                metadata={"source": str(raw_path)}))
                break
    extra = {"decision": decision}
    if probability is not None:
        extra["probability"] = probability
    if uncertainty is not None:
        extra["uncertainty"] = uncertainty
    layers.append(_points_layer(cleaned, "cleaned keypoints", size, status=status, extra=extra,
                                metadata={"source": str(cleaned_path),
                                          "provenance": str(prov), "report": report}))
    return layers
