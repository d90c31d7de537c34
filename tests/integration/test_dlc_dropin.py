"""Our files against the real DeepLabCut 3: a tiny project, really trained and analysed.

* ``find_analyzed`` / ``read_tracks`` find and read what ``deeplabcut.analyze_videos`` wrote;
* a ``<stem><scorer>_filtered.h5`` written by ``write_tracks`` is read by DLC's own
  ``create_labeled_video(..., filtered=True)`` and ``analyzeskeleton(..., filtered=True)``;
* ``stablemotion_dlc.clean_h5`` is a drop-in step between ``analyze_videos`` and
  ``create_labeled_video(..., filtered=True)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import stablemotion_dlc
from stablemotion_dlc.dlc.io import read_tracks, write_tracks
from stablemotion_dlc.dlc.project import dlc_output_name, find_analyzed

from .dlc_tiny import TinyProject

pytestmark = [pytest.mark.dlc, pytest.mark.slow]


def _video_frames(path) -> int:
    """Number of decodable frames of a video (PyAV)."""
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _labelled_video(project: TinyProject, analysed_filtered) -> list:
    """The labelled mp4(s) DLC made from ``analysed_filtered`` (``..._filtered_p<cut>_...``)."""
    stem = analysed_filtered.name[: -len(analysed_filtered.suffix)]
    return sorted(project.video.parent.glob(f"{stem}*_labeled.mp4"))


def test_analysed_output_found_and_read(tiny_dlc_project: TinyProject) -> None:
    p = tiny_dlc_project
    assert p.analysed_h5.is_file()
    assert p.analysed_h5.name == dlc_output_name(p.video, p.scorer)
    assert find_analyzed(p.config, p.video) == p.analysed_h5
    assert find_analyzed(p.config, p.video, shuffle=1) == p.analysed_h5
    tracks = read_tracks(p.analysed_h5)
    n_kp = len(p.bodyparts)
    assert tracks.scorer == p.scorer
    assert tracks.bodyparts == list(p.bodyparts)
    assert not tracks.multianimal
    assert tracks.xy.shape == (p.n_frames, 1, n_kp, 2)
    assert tracks.likelihood is not None
    assert tracks.likelihood.shape == (p.n_frames, 1, n_kp)
    assert tracks.present.all()
    # DLC's bottom-up predictor places every keypoint (heatmap peak + location refinement,
    # which may reach a little past the border for a barely trained network)
    assert np.isfinite(tracks.xy).all()
    width, height = 320, 240
    assert (tracks.xy[..., 0] > -width / 2).all() and (tracks.xy[..., 0] < 1.5 * width).all()
    assert (tracks.xy[..., 1] > -height / 2).all() and (tracks.xy[..., 1] < 1.5 * height).all()
    lik = tracks.likelihood
    assert ((lik >= 0) & (lik <= 1)).all()
    # the csv twin holds the same numbers
    twin = read_tracks(p.analysed_h5.with_suffix(".csv"))
    np.testing.assert_allclose(twin.xy, tracks.xy, rtol=1e-6)
    np.testing.assert_allclose(twin.likelihood, tracks.likelihood, rtol=1e-6)
    # DLC's own reader agrees with ours
    df = pd.read_hdf(p.analysed_h5)
    np.testing.assert_array_equal(df.xs("x", level="coords", axis=1).to_numpy(),
                                  tracks.xy[:, 0, :, 0])


def test_written_filtered_file_is_read_by_dlc(tiny_dlc_copy: TinyProject) -> None:
    import deeplabcut

    p = tiny_dlc_copy
    tracks = read_tracks(p.analysed_h5)
    shifted = tracks.copy()
    shifted.xy = tracks.xy + 1.5  # a visible, checkable change
    out = p.video.parent / dlc_output_name(p.video, p.scorer, filtered=True)
    write_tracks(shifted, out)
    write_tracks(shifted, out.with_suffix(".csv"))
    assert find_analyzed(p.config, p.video, filtered=True) == out
    assert find_analyzed(p.config, p.video) == p.analysed_h5  # unfiltered still unambiguous

    deeplabcut.create_labeled_video(str(p.config), [str(p.video)], shuffle=1, filtered=True,
                                    save_frames=False, overwrite=True)
    made = _labelled_video(p, out)
    assert len(made) == 1, sorted(x.name for x in p.video.parent.iterdir())
    assert _video_frames(made[0]) == p.n_frames

    bones = deeplabcut.analyzeskeleton(str(p.config), [str(p.video)], shuffle=1, filtered=True,
                                       save_as_csv=True, return_data=True)
    assert len(bones) == 1
    skeleton = next(iter(bones.values()))  # keyed by DLC's own video path objects
    assert skeleton is not None, "analyzeskeleton did not find the filtered file"
    skel_h5 = out.with_name(out.stem + "_skeleton.h5")
    assert skel_h5.is_file()
    assert len(skeleton) == p.n_frames
    # DLC measured the bones on our (shifted) file: lengths are shift-invariant, so they
    # equal those of the unfiltered analysis (up to DLC's float32 storage, kept on write)
    a, b = p.skeleton[0]
    expected = np.hypot(*(tracks.xy[:, 0, tracks.bodyparts.index(a)]
                          - tracks.xy[:, 0, tracks.bodyparts.index(b)]).T)
    np.testing.assert_allclose(skeleton[f"{a}_{b}"]["length"].to_numpy(), expected, rtol=1e-5)
    # the skeleton file never confuses our finder
    assert find_analyzed(p.config, p.video, filtered=True) == out


def test_clean_h5_dropin(tiny_dlc_copy: TinyProject) -> None:
    if not hasattr(stablemotion_dlc, "clean_h5"):
        pytest.skip("clean_h5 not available yet")
    import deeplabcut

    p = tiny_dlc_copy
    before = p.analysed_h5.read_bytes()
    result = stablemotion_dlc.clean_h5(p.config, p.video, shuffle=1, train_steps=40,
                                       progress=False)
    out = result[0] if isinstance(result, list) else result
    assert out == p.video.parent / dlc_output_name(p.video, p.scorer, filtered=True)
    assert p.analysed_h5.read_bytes() == before  # the input is never modified
    assert find_analyzed(p.config, p.video, filtered=True) == out
    cleaned = read_tracks(out)
    raw = read_tracks(p.analysed_h5)
    assert cleaned.xy.shape == raw.xy.shape
    assert cleaned.bodyparts == raw.bodyparts and cleaned.scorer == raw.scorer
    # nothing else we wrote may look like a DLC output of this video to DLC's finder
    prefix = p.video.stem + p.scorer
    assert {f for f in out.parent.glob(f"{prefix}*.h5")} == {p.analysed_h5, out}

    deeplabcut.create_labeled_video(str(p.config), [str(p.video)], shuffle=1, filtered=True,
                                    overwrite=True)
    made = _labelled_video(p, out)
    assert len(made) == 1, sorted(x.name for x in p.video.parent.iterdir())
    assert _video_frames(made[0]) == p.n_frames
