"""The drop-in step in a real DeepLabCut 3 project, and the loop back into it (issue 15).

* ``clean_h5`` on a video analysed outside the project's ``video_sets``, with no model yet;
* ``extract_outlier_frames``: frames chosen by cleaning land in ``labeled-data/<video>/``
  through DeepLabCut's own ``extract_outlier_frames(outlieralgorithm="list")``, and the
  machine labels DLC reads hold our cleaned points.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import stablemotion_dlc as sm
from stablemotion_dlc.dlc.io import read_tracks
from stablemotion_dlc.dlc.project import find_analyzed

from .dlc_tiny import TinyProject

pytestmark = [pytest.mark.dlc, pytest.mark.slow]


def test_first_call_on_a_video_outside_video_sets(tiny_dlc_copy: TinyProject,
                                                  tmp_path: Path) -> None:
    from deeplabcut.utils import auxiliaryfunctions

    p = tiny_dlc_copy
    elsewhere = tmp_path / "recordings"
    elsewhere.mkdir()
    prefix = p.video.stem + p.scorer
    moved = [f for f in p.video.parent.iterdir() if f.name.startswith(prefix)]
    assert {f.suffix for f in moved} >= {".h5", ".csv", ".pickle"}
    for f in [p.video, *moved]:
        shutil.move(str(f), str(elsewhere / f.name))
    video = elsewhere / p.video.name
    assert not (p.project_dir / "stablemotion-models").exists()

    out = sm.clean_h5(p.config, video, train_steps=20, progress=False)
    assert out.parent == elsewhere and out.exists()
    assert find_analyzed(p.config, video, filtered=True) == out
    # DeepLabCut's own finder picks our file as the video's filtered output
    _, path, scorer, _ = auxiliaryfunctions.load_analyzed_data(str(elsewhere), video.stem,
                                                               p.scorer, filtered=True)
    assert Path(path) == out and scorer == p.scorer
    model = p.project_dir / "stablemotion-models" / "shuffle1" / "model.safetensors"
    assert model.exists()


def test_extract_outlier_frames_round_trip(tiny_dlc_copy: TinyProject) -> None:
    import deeplabcut
    from deeplabcut.utils import conversioncode

    p = tiny_dlc_copy
    got = sm.extract_outlier_frames(p.config, [p.video], n=4, train_steps=20, progress=False)
    assert len(got) == 1
    ov = got[0]
    assert 1 <= len(ov.frames) <= 4 and all(s > 0 for s in ov.scores)
    assert ov.folder == p.project_dir / "labeled-data" / p.video.stem
    width = int(np.ceil(np.log10(p.n_frames)))
    names = [f"img{str(f).zfill(width)}.png" for f in ov.frames]
    assert all((ov.folder / n).is_file() for n in names)
    assert ov.machine_labels == ov.folder / "machinelabels-iter0.h5"

    # read as DeepLabCut reads it (outlier_frames.py, refine GUI): the cleaned points
    df = pd.read_hdf(ov.machine_labels, "df_with_missing")
    conversioncode.guarantee_multiindex_rows(df)
    cleaned = read_tracks(p.video.parent / (p.video.stem + p.scorer + "_filtered.h5"))
    raw = read_tracks(p.analysed_h5)
    moved_somewhere = False
    for f, name in zip(ov.frames, names, strict=True):
        row = df.loc[("labeled-data", p.video.stem, name)]
        xy = np.stack([row.xs("x", level="coords").to_numpy(),
                       row.xs("y", level="coords").to_numpy()], axis=-1)
        np.testing.assert_allclose(xy, cleaned.xy[f, 0], rtol=1e-6)
        moved_somewhere |= not np.allclose(xy, raw.xy[f, 0])
    assert moved_somewhere  # the labeller starts from the corrected points, not the network's
    assert (ov.folder / "machinelabels.csv").is_file()

    # DeepLabCut extracting more frames reads our file and keeps our rows
    extra = next(f for f in range(5, p.n_frames - 5) if all(abs(f - g) > 2 for g in ov.frames))
    deeplabcut.extract_outlier_frames(str(p.config), [str(p.video)], outlieralgorithm="list",
                                      frames2use=[extra], extractionalgorithm="uniform",
                                      automatic=True)
    df2 = pd.read_hdf(ov.machine_labels, "df_with_missing")
    assert ("labeled-data", p.video.stem, f"img{str(extra).zfill(width)}.png") in df2.index
    pd.testing.assert_frame_equal(df2.loc[df.index], df)

    # asking again gives new frames only (here none is left with a confident repair; before,
    # the same frames came back), and the rows written before stay as they were
    again = sm.extract_outlier_frames(p.config, [p.video], n=4, train_steps=20, progress=False)
    for a in again:
        assert not set(a.frames) & (set(ov.frames) | {extra})
    df3 = pd.read_hdf(ov.machine_labels, "df_with_missing")
    pd.testing.assert_frame_equal(df3.loc[df2.index], df2)
