"""npe2 sample data: a simulated mouse with its video (File > Open Sample).

The sample is a complete simulated DeepLabCut project (``stablemotion_dlc.sample``): its
``config.yaml``, the rendered video and DLC-style predictions with realistic errors. It is
generated once (about 10 s) into ``$STABLEMOTION_SAMPLE_DIR`` (default
``~/.cache/stablemotion-dlc/napari-sample``) and reused afterwards; the layers' metadata give
the paths, which the cleaner panel loads with one click.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

__all__ = ["simulated_mouse", "sample_project_dir"]

logger = logging.getLogger(__name__)


def sample_project_dir() -> Path:
    """Folder of the generated sample project."""
    root = os.environ.get("STABLEMOTION_SAMPLE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "stablemotion-dlc" / "napari-sample"
    return base / "simulated_mouse"


def _project() -> Any:
    from stablemotion_dlc.sample import make_sample_project

    out = sample_project_dir()
    done = out / ".complete"
    if not done.is_file():
        logger.info("generating the simulated mouse sample in %s", out)
        make_sample_project(out, seed=0, n_animals=1, duration_s=10.0, overwrite=True,
                            progress=False)
        done.write_text("ok\n")
    return out


def simulated_mouse() -> list[tuple[Any, dict[str, Any], str]]:
    """Layers of the simulated mouse: its video and its DLC predictions.

    Returns
    -------
    list of (data, metadata, layer type)
        ``video`` (lazy, decoded on demand) and ``raw keypoints`` (one colour per keypoint);
        both carry ``metadata["stablemotion_sample"]`` with the ``config``, ``tracks`` and
        ``video`` paths.
    """
    import pandas as pd  # noqa: F401 - napari needs it for features

    from napari_plugin._layers import points_data
    from stablemotion_dlc.dlc.io import read_tracks
    from stablemotion_dlc.dlc.video import VideoReader, guess_video_path

    out = _project()
    tracks_path = next(p for p in sorted((out / "videos").glob("*.h5"))
                       if "_filtered" not in p.stem)
    video_path = guess_video_path(tracks_path)
    paths = {"config": str(out / "config.yaml"), "tracks": str(tracks_path),
             "video": str(video_path)}
    tracks = read_tracks(tracks_path)
    reader = VideoReader(video_path)
    reader.start_background()
    pdata = points_data(tracks)
    size = max(5.0, max(reader.shape[:2]) / 70)
    return [
        (reader.as_array(), {"name": "video", "rgb": True, "contrast_limits": (0, 255),
                             "metadata": {"stablemotion_sample": paths}}, "image"),
        (pdata.data, {"name": "raw keypoints", "features": pdata.features,
                      "face_color": pdata.face_color, "border_color": pdata.border_color,
                      "size": size, "border_width": 0.22, "border_width_is_relative": True,
                      "ndim": 3, "metadata": {"stablemotion_sample": paths}}, "points"),
    ]
