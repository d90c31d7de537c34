"""Tests of the simulated sample project (animal model, DLC-like errors, project writer)."""

from __future__ import annotations

import pickle
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from stablemotion_dlc.dlc.corruption import CORRUPTION_KINDS, KIND_CODES
from stablemotion_dlc.sample import (
    BODYPARTS,
    LR_PAIRS,
    SKELETON,
    CorruptionConfig,
    corrupt_predictions,
    load_corruption,
    make_sample_project,
    sample_scorer,
    simulate_animals,
)

FPS = 30


def _sim(seconds: float, n_animals: int, seed: int = 0) -> np.ndarray:
    return simulate_animals(int(seconds * FPS), n_animals, FPS, 640, 480,
                            np.random.default_rng(seed))


@pytest.fixture(scope="module")
def truth3() -> np.ndarray:
    """60 s of three animals (about one second to simulate)."""
    return _sim(60, 3, seed=0)


# ------------------------------------------------------------------ constants and the model
def test_names_and_skeleton_are_consistent() -> None:
    assert len(BODYPARTS) == 10 and len(set(BODYPARTS)) == 10
    for a, b in SKELETON:
        assert a in BODYPARTS and b in BODYPARTS and a != b
    # the skeleton connects every keypoint
    linked = {p for bone in SKELETON for p in bone}
    assert linked == set(BODYPARTS)
    for left, right in LR_PAIRS:
        assert left.startswith("left_") and right == "right_" + left[5:]
    # the simulator's errors are the corruption protocol's kinds, with its codes
    assert set(CORRUPTION_KINDS) == {"jitter_burst", "low_likelihood", "jump_bodypart",
                                     "jump_background", "lr_swap", "identity_swap", "dropout",
                                     "frozen"}
    assert [KIND_CODES[k] for k in CORRUPTION_KINDS] == list(range(1, 9))
    assert sample_scorer() == "DLC_Resnet50_simJan1shuffle1_snapshot_200"


def test_simulation_is_deterministic_and_seeded() -> None:
    a = _sim(3, 2, seed=5)
    b = _sim(3, 2, seed=5)
    c = _sim(3, 2, seed=6)
    assert a.shape == (90, 2, len(BODYPARTS), 2)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    slow = simulate_animals(20, 1, 10, 640, 480, np.random.default_rng(0))  # sub-stepped
    assert np.all(np.isfinite(slow)) and np.abs(np.diff(slow, axis=0)).max() < 60.0
    with pytest.raises(ValueError, match="n_animals"):
        simulate_animals(10, 4, FPS, 640, 480, np.random.default_rng(0))


def test_truth_is_smooth_realistic_and_inside_the_frame() -> None:
    truth = _sim(20, 1, seed=1)
    assert np.all(np.isfinite(truth))
    step = np.linalg.norm(np.diff(truth, axis=0), axis=-1)
    assert step.max() < 25.0  # < 750 px/s even for a swinging paw
    assert np.all((truth[..., 0] > 0) & (truth[..., 0] < 640))
    assert np.all((truth[..., 1] > 0) & (truth[..., 1] < 480))
    snout, tail = BODYPARTS.index("snout"), BODYPARTS.index("tailbase")
    length = np.linalg.norm(truth[:, 0, snout] - truth[:, 0, tail], axis=-1)
    assert 60.0 < np.median(length) < 90.0
    assert length.min() > 40.0  # rearing/grooming shortens, never collapses
    # it explores: walks part of the time and pauses part of the time
    speed = np.linalg.norm(np.diff(truth[:, 0, BODYPARTS.index("spine_mid")], axis=0), axis=-1)
    moving = speed * FPS > 30.0
    assert 0.2 < moving.mean() < 0.9
    # left is left: seen from above, the left ear is on the animal's left of the head axis
    neck = truth[:, 0, BODYPARTS.index("neck")]
    head = truth[:, 0, snout] - neck
    to_left = truth[:, 0, BODYPARTS.index("left_ear")] - neck
    cross = head[:, 0] * to_left[:, 1] - head[:, 1] * to_left[:, 0]
    assert np.all(cross < 0)  # image y points down: the animal's left is a negative cross


def test_gait_moves_diagonal_paw_pairs_together() -> None:
    truth = _sim(30, 1, seed=2)[:, 0]
    mid, neck = truth[:, BODYPARTS.index("spine_mid")], truth[:, BODYPARTS.index("neck")]
    axis = (neck - mid) / np.linalg.norm(neck - mid, axis=-1, keepdims=True)

    def fore_aft(name: str) -> np.ndarray:
        return np.sum((truth[:, BODYPARTS.index(name)] - mid) * axis, axis=-1)

    speed = np.linalg.norm(np.diff(mid, axis=0), axis=-1) * FPS
    walk = np.concatenate([[False], speed > 60.0])
    d = {n: np.diff(fore_aft(n))[walk[1:]] for n in
         ("left_forepaw", "right_forepaw", "left_hindpaw", "right_hindpaw")}
    diagonal = np.corrcoef(d["left_forepaw"], d["right_hindpaw"])[0, 1]
    lateral = np.corrcoef(d["left_forepaw"], d["right_forepaw"])[0, 1]
    assert diagonal > 0.5 > lateral
    # paws swing only when the animal moves
    still = np.concatenate([[False], speed < 3.0])
    paw_speed = np.linalg.norm(np.diff(truth[:, BODYPARTS.index("left_hindpaw")], axis=0),
                               axis=-1)
    assert np.median(paw_speed[still[1:]]) < 1.5


def test_animals_meet_but_never_overlap(truth3: np.ndarray) -> None:
    centre = truth3[:, :, BODYPARTS.index("spine_mid")]
    spine = truth3[:, :, [BODYPARTS.index(b) for b in ("snout", "neck", "spine_mid",
                                                          "tailbase")]]
    for i in range(3):
        for j in range(i + 1, 3):
            dist = np.linalg.norm(centre[:, i] - centre[:, j], axis=-1)
            assert dist.min() < 80.0, f"mouse{i + 1} and mouse{j + 1} never came close"
            assert (dist < 80.0).mean() < 0.6  # they also spend time apart
            gap = np.linalg.norm(spine[:, i, :, None] - spine[:, j, None, :], axis=-1)
            assert gap.min() > 10.0  # soft collision: bodies touch, spines never cross


# ------------------------------------------------------------------------------- errors
def test_predictions_equal_truth_plus_jitter_where_clean(truth3: np.ndarray) -> None:
    xy, lik, kinds = corrupt_predictions(truth3, np.random.default_rng(0), fps=FPS)
    assert xy.shape == truth3.shape and lik.shape == kinds.shape == truth3.shape[:3]
    assert kinds.dtype == np.int8
    clean = kinds == 0
    err = (xy - truth3)[clean]
    assert np.all(np.isfinite(err))
    assert 0.8 < err.std() < 2.5 and np.abs(err).max() < 12.0
    assert lik[clean].min() >= 0.9 and lik[clean].max() <= 1.0
    assert lik[clean].std() > 0.005  # natural variation, not a constant


def test_every_kind_occurs_at_modest_rates(truth3: np.ndarray) -> None:
    xy, lik, kinds = corrupt_predictions(truth3, np.random.default_rng(0), fps=FPS)
    code = {"clean": 0, **{k: KIND_CODES[k] for k in CORRUPTION_KINDS}}
    share = {name: float(np.mean(kinds == c)) for name, c in code.items()}
    for name in CORRUPTION_KINDS:
        assert share[name] > 0, f"no {name} in a 60 s three-animal sample"
    total = 1.0 - share["clean"]
    assert 0.01 < total < 0.12, share
    drop = kinds == code["dropout"]
    assert np.all(np.isnan(xy[drop])) and np.all(np.isnan(lik[drop]))
    assert np.all(np.isfinite(xy[~drop]))
    assert np.all(lik[kinds == code["low_likelihood"]] < 0.6)
    for confident in ("jump_bodypart", "jump_background", "lr_swap"):
        assert np.nanmin(lik[kinds == code[confident]]) >= 0.6
    jumps = kinds == code["jump_background"]
    assert np.median(np.linalg.norm((xy - truth3)[jumps], axis=-1)) > 20.0
    # a left/right swap puts the left point on the right one's true place
    left, right = BODYPARTS.index("left_ear"), BODYPARTS.index("right_ear")
    sw = (kinds[:, :, left] == code["lr_swap"])
    if sw.any():
        dev = np.linalg.norm(xy[:, :, left][sw] - truth3[:, :, right][sw], axis=-1)
        assert np.median(dev) < 5.0
    # an identity swap moves whole animals
    ids = kinds == code["identity_swap"]
    assert np.all(ids.any(axis=2) == ids.all(axis=2))
    # a frozen point does not move
    f, i, k = np.argwhere(kinds == code["frozen"])[0]
    run = kinds[f:, i, k] == code["frozen"]
    n = int(np.argmin(run)) if not run.all() else run.size
    assert np.all(xy[f:f + n, i, k] == xy[f, i, k])
    # event lengths stay within 1-60 frames
    for name, c in code.items():
        if c == 0:
            continue
        m = np.concatenate([np.zeros((1,) + kinds.shape[1:], bool), kinds == c,
                            np.zeros((1,) + kinds.shape[1:], bool)])
        starts = np.argwhere(np.diff(m.astype(np.int8), axis=0) == 1)
        ends = np.argwhere(np.diff(m.astype(np.int8), axis=0) == -1)
        lengths = ends[:, 0] - starts[:, 0]
        assert lengths.max() <= 60, name


def test_rate_scale_zero_gives_jitter_only() -> None:
    truth = _sim(5, 2)
    xy, lik, kinds = corrupt_predictions(truth, np.random.default_rng(0), fps=FPS,
                                         rate_scale=0.0)
    assert not kinds.any()
    assert np.abs(xy - truth).max() < 12.0
    with pytest.raises(ValueError, match="rates"):
        CorruptionConfig(rates={"dropout": 0.1})


# ------------------------------------------------------------------------ project writer
def test_single_animal_project_layout_and_determinism(tmp_path) -> None:
    p = make_sample_project(tmp_path / "a", seed=3, duration_s=4.0, video=False)
    q = make_sample_project(tmp_path / "b", seed=3, duration_s=4.0, video=False)
    r = make_sample_project(tmp_path / "c", seed=4, duration_s=4.0, video=False)
    assert p.n_frames == 120 and p.individuals == ("animal",) and not p.multianimal
    for path in (p.config, p.predictions_h5, p.predictions_csv, p.meta_pickle, p.truth_h5,
                 p.corruption_npz):
        assert path.is_file(), path
    assert not p.video.exists()
    assert p.predictions_h5.name == "sim_mouseDLC_Resnet50_simJan1shuffle1_snapshot_200.h5"
    assert p.predictions_h5.parent == p.outdir / "videos"
    assert p.truth_h5.parent.name == "ground_truth"
    assert not any(f.name.endswith(".h5") for f in p.truth_h5.parent.parent.joinpath(
        "videos").iterdir() if "DLC_" not in f.name)

    df = pd.read_hdf(p.predictions_h5)
    assert df.columns.nlevels == 3 and df.shape == (120, 30)
    assert list(df.columns.get_level_values(0).unique()) == [p.scorer]
    assert list(df.columns.get_level_values(1).unique()) == list(BODYPARTS)
    pd.testing.assert_frame_equal(df, pd.read_hdf(q.predictions_h5))
    assert not df.equals(pd.read_hdf(r.predictions_h5))
    csv = pd.read_csv(p.predictions_csv, header=[0, 1, 2], index_col=0)
    np.testing.assert_allclose(csv.to_numpy(), df.to_numpy(), equal_nan=True)

    truth = pd.read_hdf(p.truth_h5)
    assert truth.columns.equals(df.columns)
    assert np.all(truth.xs("likelihood", axis=1, level="coords").to_numpy() == 1.0)
    corr = load_corruption(p.corruption_npz)
    assert corr["kinds"].shape == (120, 1, 10) and corr["kinds"].dtype == np.int8
    assert list(corr["kind_names"]) == ["clean", *CORRUPTION_KINDS]  # indexed by code
    np.testing.assert_array_equal(corr["corrupted"], corr["kinds"] > 0)
    np.testing.assert_array_equal(corr["kinds"], load_corruption(q.corruption_npz)["kinds"])
    assert sum(p.kind_counts.values()) == int(corr["corrupted"].sum())
    # where clean, predictions are the truth plus a little jitter
    pred_xy = df.drop(columns="likelihood", level="coords").to_numpy().reshape(120, 10, 2)
    true_xy = truth.drop(columns="likelihood", level="coords").to_numpy().reshape(120, 10, 2)
    clean = ~corr["corrupted"][:, 0]
    assert np.abs(pred_xy - true_xy)[clean].max() < 12.0

    with open(p.meta_pickle, "rb") as fh:
        meta = pickle.load(fh)["data"]
    assert meta["nframes"] == 120 and meta["fps"] == 30.0
    assert meta["frame_dimensions"] == (640, 480) and meta["cropping"] is False
    assert meta["bodyparts"] == list(BODYPARTS)


def test_config_has_what_deeplabcut_needs(tmp_path) -> None:
    p = make_sample_project(tmp_path / "one", duration_s=1.0, video=False)
    cfg = yaml.safe_load(p.config.read_text())
    assert cfg["Task"] == "sim" and cfg["scorer"] == "stablemotion" and cfg["date"] == "Jan1"
    assert cfg["project_path"] == str(p.outdir) and cfg["engine"] == "pytorch"
    assert cfg["video_sets"] == {str(p.video): {"crop": "0, 640, 0, 480"}}
    assert cfg["bodyparts"] == list(BODYPARTS) and cfg["multianimalproject"] is False
    assert cfg["skeleton"] == [list(b) for b in SKELETON]
    for key, value in {"pcutoff": 0.6, "iteration": 0, "TrainingFraction": [0.95],
                       "default_net_type": "resnet_50", "snapshotindex": -1, "batch_size": 8,
                       "cropping": False}.items():
        assert cfg[key] == value, key
    for key in ("x1", "x2", "y1", "y2", "dotsize", "colormap", "alphavalue", "skeleton_color",
                "numframes2pick", "start", "stop", "corner2move2", "move2corner"):
        assert key in cfg, key

    m = make_sample_project(tmp_path / "three", n_animals=3, duration_s=1.0, video=False)
    cfg = yaml.safe_load(m.config.read_text())
    assert cfg["multianimalproject"] is True and cfg["bodyparts"] == "MULTI!"
    assert cfg["individuals"] == ["mouse1", "mouse2", "mouse3"]
    assert cfg["multianimalbodyparts"] == list(BODYPARTS) and cfg["uniquebodyparts"] == []
    assert cfg["default_track_method"] == "ellipse"


def test_multi_animal_project(tmp_path) -> None:
    p = make_sample_project(tmp_path / "mice", n_animals=2, duration_s=3.0, video=False,
                            placeholder="-1", seed=1,
                            corruption=CorruptionConfig().scaled(20.0))
    assert p.multianimal and p.individuals == ("mouse1", "mouse2")
    assert p.predictions_h5.name.endswith("_snapshot_200_el.h5")
    df = pd.read_hdf(p.predictions_h5)
    assert df.columns.nlevels == 4 and df.shape == (90, 2 * 10 * 3)
    assert list(df.columns.get_level_values("individuals").unique()) == ["mouse1", "mouse2"]
    # dropouts are written as -1 placeholders, never as NaN
    kinds = load_corruption(p.corruption_npz)["kinds"]
    drop = kinds == KIND_CODES["dropout"]
    assert drop.any()
    x = df.xs("x", axis=1, level="coords").to_numpy().reshape(90, 2, 10)
    assert np.all(x[drop] == -1.0) and not np.isnan(df.to_numpy()).any()
    from stablemotion_dlc.dlc.io import read_tracks

    tracks = read_tracks(p.predictions_h5)  # the reader turns the placeholders back into NaN
    assert np.all(np.isnan(tracks.xy[drop])) and np.all(np.isfinite(tracks.xy[~drop]))


def test_refuses_to_overwrite(tmp_path) -> None:
    out = tmp_path / "proj"
    p = make_sample_project(out, duration_s=1.0, video=False)
    before = p.predictions_h5.read_bytes()
    with pytest.raises(FileExistsError, match="not empty"):
        make_sample_project(out, duration_s=1.0, video=False, seed=9)
    assert p.predictions_h5.read_bytes() == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        make_sample_project(other, duration_s=1.0, video=False)
    q = make_sample_project(out, duration_s=1.0, video=False, seed=9, overwrite=True)
    assert q.predictions_h5 == p.predictions_h5
    assert q.predictions_h5.read_bytes() != before
    assert (other / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="placeholder"):
        make_sample_project(tmp_path / "bad", placeholder="zero", video=False)
    with pytest.raises(ValueError, match="n_animals"):
        make_sample_project(tmp_path / "bad", n_animals=4, video=False)


def test_video_matches_tracks(tmp_path) -> None:
    av = pytest.importorskip("av")
    cv2 = pytest.importorskip("cv2")
    p = make_sample_project(tmp_path / "vid", n_animals=2, duration_s=2.0, progress=False)
    assert p.video.is_file() and p.video.stat().st_size > 10_000
    with av.open(str(p.video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == p.n_frames == 60
    assert frames[0].shape == (480, 640, 3)
    cap = cv2.VideoCapture(str(p.video))
    n = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        assert img.shape == (480, 640, 3)
        n += 1
    cap.release()
    assert n == p.n_frames
    # the animals are drawn where the ground truth says: dark pixels at the body centre
    truth = pd.read_hdf(p.truth_h5)
    frame = frames[30].astype(float).mean(axis=-1)
    for ind in p.individuals:
        x = truth[(p.scorer, ind, "spine_mid", "x")].iloc[30]
        y = truth[(p.scorer, ind, "spine_mid", "y")].iloc[30]
        assert frame[int(round(y)), int(round(x))] < 120.0
    assert np.median(frame) > 140.0  # light floor


def test_io_reads_the_project_back(tmp_path) -> None:
    from stablemotion_dlc.dlc.io import read_tracks

    p = make_sample_project(tmp_path / "rt", n_animals=3, duration_s=2.0, video=False)
    tracks = read_tracks(p.predictions_h5)
    assert tracks.multianimal and tracks.individuals == list(p.individuals)
    assert tracks.bodyparts == list(BODYPARTS) and tracks.scorer == p.scorer
    assert tracks.meta.get("fps") == 30.0


@pytest.mark.slow
@pytest.mark.dlc
def test_deeplabcut_accepts_the_project(tmp_path) -> None:
    pytest.importorskip("deeplabcut")
    from deeplabcut.utils import auxiliaryfunctions

    p = make_sample_project(tmp_path / "dlc", n_animals=2, duration_s=1.0, video=False)
    cfg = auxiliaryfunctions.read_config(str(p.config))
    assert cfg["Task"] == "sim" and list(cfg["individuals"]) == ["mouse1", "mouse2"]
    found = auxiliaryfunctions.find_analyzed_data(str(p.video.parent), p.video.stem, p.scorer,
                                                  track_method="ellipse")
    assert found[0] == str(p.predictions_h5)
    s = make_sample_project(tmp_path / "dlc1", duration_s=1.0, video=False)
    cfg = auxiliaryfunctions.read_config(str(s.config))
    assert list(cfg["bodyparts"]) == list(BODYPARTS)
    found = auxiliaryfunctions.find_analyzed_data(str(s.video.parent), s.video.stem, s.scorer)
    assert found[0] == str(s.predictions_h5)
    shutil.rmtree(tmp_path / "dlc1")


def test_drawing_is_aligned_with_keypoints() -> None:
    from stablemotion_dlc.sample.render import _EAR, FrameRenderer

    truth = _sim(2, 1, seed=4)
    renderer = FrameRenderer(640, 480, 1, seed=0, noise=False)
    for t in range(truth.shape[0]):
        frame = renderer.draw(truth[t]).astype(float)
    for name in ("left_ear", "right_ear"):
        x, y = truth[-1, 0, BODYPARTS.index(name)]
        x0, y0 = int(x) - 8, int(y) - 8
        win = frame[y0:y0 + 17, x0:x0 + 17]
        ear = np.linalg.norm(win - np.array(_EAR, float), axis=-1) < 12.0
        ys, xs = np.nonzero(ear)
        assert ear.sum() > 20
        assert abs(xs.mean() + x0 - x) < 0.5 and abs(ys.mean() + y0 - y) < 0.5, name


def test_mpeg4_fallback_and_input_checks(tmp_path) -> None:
    av = pytest.importorskip("av")
    from stablemotion_dlc.sample.render import render_video

    truth = _sim(0.5, 1)
    out = render_video(truth, tmp_path / "m.mp4", codec="mpeg4", width=320, height=240,
                       progress=False)
    with av.open(str(out)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == truth.shape[0] and frames[0].width == 320
    with pytest.raises(FileExistsError):
        render_video(truth, out, codec="mpeg4", progress=False)
    bad = truth.copy()
    bad[3, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        render_video(bad, tmp_path / "n.mp4", progress=False)
    with pytest.raises(ValueError, match="even"):
        render_video(truth, tmp_path / "o.mp4", width=321, progress=False)
