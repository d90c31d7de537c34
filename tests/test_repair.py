"""The repair chosen per run length on the file's own held-out points, and its uncertainty."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stablemotion_dlc.core.train import TrainConfig
from stablemotion_dlc.dlc.io import read_tracks
from stablemotion_dlc.dlc.pipeline import IDENTITY_FIXED, KEPT, clean_tracks, train_on_tracks
from stablemotion_dlc.dlc.repair import INTERVAL_SCALE, LENGTH_BINS, METHODS, validation_mask
from stablemotion_dlc.sample import make_sample_project

TINY = dict(model="tiny", window=32, batch_size=8, steps=30, log_every=10, checkpoint_every=0,
            normalizer_batches=4, warmup_steps=5)


def test_validation_mask_hides_only_trustworthy_spans_with_anchors():
    rng = np.random.default_rng(0)
    good = np.ones((3000, 4), bool)
    good[500:700, 1] = False
    mask, spans = validation_mask(good, rng)
    assert mask.sum() <= 0.08 * good.sum() + 1
    assert not (mask & ~good).any()
    assert {b for *_, b in spans} == set(range(len(LENGTH_BINS)))
    for k, a, z, b in spans:
        lo, hi = LENGTH_BINS[b]
        assert lo <= z - a < hi
        assert good[a - 1, k] and good[z, k]  # a trustworthy anchor on both sides
    again, spans2 = validation_mask(good, np.random.default_rng(0))
    np.testing.assert_array_equal(mask, again)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("rep")
    sample = make_sample_project(d / "proj", seed=5, duration_s=40.0, video=False,
                                 progress=False)
    tracks = read_tracks(sample.predictions_h5)
    model = train_on_tracks([tracks], d / "m.safetensors", fps=30.0,
                            config=TrainConfig(**TINY), progress=False)
    return tracks, model


def test_auto_repair_reports_its_choice_and_keeps_unflagged_points(project):
    tracks, model = project
    res = clean_tracks(tracks, model, pcutoff=0.6)
    rep = res.report["repair"]
    assert rep, "a repair report per animal"
    for animal in rep.values():
        assert animal["policy"] == "auto"
        for row in animal["validation"].values():
            assert row["chosen"] in METHODS
            assert set(row) >= {"spans", "interp", "network", "chosen", "radius90_px"}
    kept = res.status == KEPT
    same = (res.tracks.xy == tracks.xy) | (np.isnan(res.tracks.xy) & np.isnan(tracks.xy))
    assert same.all(-1)[kept].all()
    changed = res.status > 0
    repaired = changed & (res.status != IDENTITY_FIXED)  # swaps move points, not estimate them
    assert (res.uncertainty[repaired] > 0).all()  # a stated interval for every repair
    assert (res.uncertainty[~repaired] == 0).all()
    # the stated radius is the validation's 90 % radius of the point's cell, widened by
    # INTERVAL_SCALE (doubled at the file's ends) and by the keypoint's motion factor, and
    # never below the keypoint's own noise (its noise floor)
    for i, name in enumerate(res.tracks.individuals):
        if name not in rep:
            continue
        motion = np.asarray(rep[name]["motion_factor"])
        assert ((motion >= 1.0) & (motion <= 3.0)).all()
        floor = np.asarray(rep[name]["noise_floor90_px"])
        assert (floor > 0).all()
        # (points the pose candidate bridged, with no prediction, state the linear one's)
        radii = np.array([INTERVAL_SCALE * row[key] * f
                          for row in rep[name]["validation"].values()
                          for key in ("radius90_px", "linear_radius90_px")
                          if row[key] is not None for f in (1.0, 2.0)])
        for k in range(res.tracks.n_keypoints):
            stated = np.unique(res.uncertainty[:, i, k][repaired[:, i, k]])
            assert (stated >= floor[k] - 0.001).all()
            allowed = np.maximum(motion[k] * radii, floor[k])
            assert (np.abs(stated[:, None] - allowed[None]).min(1) < 0.01).all()


def test_forced_policies_and_bad_policy(project):
    tracks, model = project
    for policy in ("interp", "pose", "network"):
        res = clean_tracks(tracks, model, pcutoff=0.6, repair=policy)
        for animal in res.report["repair"].values():
            chosen = {row["chosen"] for row in animal["validation"].values()}
            assert chosen == {policy}
    with pytest.raises(ValueError, match="repair must be"):
        clean_tracks(tracks, model, repair="magic")


def test_interpolation_never_worse_where_it_validates_better(project):
    """Where interpolation won the validation, the repaired points equal interpolation's."""
    tracks, model = project
    auto = clean_tracks(tracks, model, pcutoff=0.6)
    interp = clean_tracks(tracks, model, pcutoff=0.6, repair="interp")
    for name, animal in auto.report["repair"].items():
        if all(row["chosen"] == "interp" for row in animal["validation"].values()):
            i = tracks.individuals.index(name)
            np.testing.assert_allclose(auto.tracks.xy[:, i], interp.tracks.xy[:, i])
    assert Path(model).exists()


def test_a_borrowed_radius_widens_with_the_run_length():
    """A length bin with too few validation errors borrows the nearest bin's radius, widened
    by the square root of their typical lengths when that bin is shorter (never narrowed)."""
    from stablemotion_dlc.dlc.repair import LENGTH_BINS, _radii

    nb = len(LENGTH_BINS)
    errs = [[] for _ in range(2 * nb)]
    errs[1] = list(np.linspace(0.0, 10.0, 101))  # 4-10 frames: radius 9
    errs[3] = list(np.linspace(0.0, 20.0, 101))  # 31-100 frames: radius 18
    r = _radii(errs, nb)
    assert r[1] == pytest.approx(9.0) and r[3] == pytest.approx(18.0)
    assert r[0] == pytest.approx(9.0)  # from a longer bin: as it is
    assert r[2] == pytest.approx(9.0 * np.sqrt(np.sqrt(11 * 30) / np.sqrt(4 * 10)))
    assert r[4] == pytest.approx(18.0 * np.sqrt(202 / np.sqrt(31 * 100)))
    assert r[nb + 1] == pytest.approx(9.0)  # the same length bin of the other kind of gap


def test_a_thin_cell_is_judged_with_its_own_kind_of_gap_first():
    """A cell with too few validation spans pools the adjacent length bins of the same kind
    of gap (lone or grouped) before the other kind's: the pose prior repairs a lone gap well
    and a grouped one badly, so a lone cell judged with its grouped one chose interpolation
    for the long lone runs that the pose prior repairs best (protocol B's tuning files).
    Bins further away never: a 180-frame file judged its 40-frame gaps on 1-10 frame spans,
    where linear interpolation wins, and filled a dropout 250 px off."""
    from stablemotion_dlc.dlc.repair import _MIN_SPANS, _judged_cells

    nb = len(LENGTH_BINS)
    spans = [20, 12, 5, 4, 2] + [40, 30, 10, 6, 0]
    assert _judged_cells(1, spans, nb) == [1]  # enough of its own
    assert _judged_cells(2, spans, nb) == [2, 1]  # 11-30 lone: with 4-10 lone
    assert _judged_cells(4, spans, nb) == [4, 3, nb + 4, nb + 3]  # 101+ lone: 2 + 4 + 0 + 6
    assert _judged_cells(nb + 4, spans, nb) == [nb + 4, nb + 3, 4]  # 0 + 6 + 2
    few = [3, 3, 0, 0, 0] + [0, 0, 0, 0, 0]
    # only adjacent bins, and not enough of them: the caller uses the documented default
    assert _judged_cells(3, few, nb) == [3, 2, 4, nb + 3, nb + 2, nb + 4]
    assert sum(few[c] for c in _judged_cells(3, few, nb)) < _MIN_SPANS


def test_noise_floor_is_the_keypoints_own_noise_without_repeated_frames():
    """The stated interval's floor: the 90 % radius of a keypoint's own frame-to-frame noise
    (sqrt(2 ln 10) sigma for Gaussian noise of sigma per axis), measured where the point
    moves: frames that repeat the previous one (73 % of sleap_clip's) measure nothing and
    would pull it to 0."""
    from stablemotion_dlc.dlc.repair import _noise_floor

    rng = np.random.default_rng(0)
    n = 3000
    t = np.arange(n)
    smooth = np.stack([200 + 80 * np.sin(t / 90.0), 200 + 60 * np.cos(t / 70.0)], -1)
    sigma = np.array([0.5, 2.0])
    xy = smooth[:, None] + rng.normal(0.0, 1.0, (n, 2, 2)) * sigma[None, :, None]
    good = np.ones((n, 2), bool)
    want = np.sqrt(2 * np.log(10)) * sigma
    assert _noise_floor(xy, good) == pytest.approx(want, rel=0.1)
    # three frames in four repeat the one before (sleap_clip repeats 73 % of its frames)
    rep = xy.copy()
    for f in np.flatnonzero(rng.random(n) < 0.75).tolist():
        rep[f] = rep[f - 1] if f else rep[f]
    # (about 50 fresh triples measure it: a looser tolerance)
    assert _noise_floor(rep, good) == pytest.approx(want, rel=0.25)
    # measured on every frame, the repeats would take it to 0
    from stablemotion_dlc.dlc.jitter import LEVEL_PER_SIGMA, noise_levels

    naive = np.nanmedian(noise_levels(rep, good), 0) / LEVEL_PER_SIGMA
    assert (naive < 0.2 * want).all()
    # too few frames to measure: no floor
    assert (_noise_floor(xy[:15], good[:15]) == 0).all()


def test_motion_factor_widens_fast_keypoints_only():
    """A keypoint that moves three times as far per frame as the animal's typical one gets
    three times the interval; slower ones keep theirs (never narrowed); too few steps: 1."""
    from stablemotion_dlc.dlc.repair import _motion_factor

    rng = np.random.default_rng(0)
    steps = rng.normal(0.0, 1.0, (500, 4, 2)) * np.array([1.0, 1.0, 3.0, 0.3])[None, :, None]
    xy = np.cumsum(steps, axis=0)
    good = np.ones((500, 4), bool)
    good[:, 3] = False
    good[:5, 3] = True  # too few consecutive steps to judge
    f = _motion_factor(xy, good)
    assert f[0] == pytest.approx(1.0, abs=0.15) and f[1] == pytest.approx(1.0, abs=0.15)
    assert f[2] == pytest.approx(3.0, abs=0.01)  # clipped at 3
    assert f[3] == 1.0
    slow = _motion_factor(xy[:, [0, 3]], np.ones((500, 2), bool))
    assert (slow >= 1.0).all()


def test_continuous_runs_keep_a_smooth_extension_not_a_jump():
    """A wing that swings out over a few frames and back is where the animal put it; a point
    that lands somewhere from one frame to the next is a network's error."""
    from stablemotion_dlc.dlc.pipeline import continuous_runs

    t = np.arange(200, dtype=float)
    xy = np.zeros((200, 2, 2))
    xy[:, 0, 0] = t  # body walks right, 1 px per frame
    xy[:, 1, 0] = t
    # keypoint 1 swings out 30 px over 10 frames, stays, swings back (steps <= 3 px)
    out = np.clip(np.minimum(t - 50, 110 - t) * 3.0, 0.0, 30.0)
    xy[:, 1, 1] = out
    flag = np.zeros((200, 2), bool)
    flag[55:105, 1] = True  # what a bone / pose check flags: the unusual stretch
    keep = np.ones((200, 2), bool)
    jump = np.array([5.0, 5.0])
    kept = continuous_runs(xy, flag, keep, jump)
    assert kept[55:105, 1].all() and kept.sum() == 50
    # the same stretch reached by a jump is repaired
    xy_j = xy.copy()
    xy_j[55:105, 1, 1] = 30.0
    xy_j[:55, 1, 1] = 0.0
    xy_j[105:, 1, 1] = 0.0
    assert not continuous_runs(xy_j, flag, keep, jump).any()
    # points that may not be kept (low likelihood, a reversal's) are never kept, and they
    # split a stretch: the smooth confident part around them is still kept
    keep_some = keep.copy()
    keep_some[80:85, 1] = False
    kept = continuous_runs(xy, flag, keep_some, jump)
    assert not kept[80:85, 1].any() and kept[55:80, 1].all() and kept[85:105, 1].all()
    # a stretch with no observed end (the whole file) proves nothing
    flag_all = np.zeros((200, 2), bool)
    flag_all[:, 1] = True
    assert not continuous_runs(xy, flag_all, keep, jump).any()


def test_pose_fill_bridges_a_frame_without_prediction_and_ignores_a_one_frame_outlier():
    """Inside a run the pose prediction follows the body; a frame without a prediction is
    bridged between its filled neighbours (not interpolated across the whole run), and a
    single frame whose prediction is off is replaced by the running median."""
    from stablemotion_dlc.dlc.pose_prior import pose_anchored_fill

    t = np.arange(60, dtype=float)
    truth = np.stack([10 + 40 * np.sin(t / 10), 5 + t], -1)[:, None]  # (T, 1, 2), a curve
    fill = np.zeros((60, 1), bool)
    fill[5:55] = True
    pred = truth.copy()
    pred[30] = np.nan  # no prediction in this frame
    pred[40] += 30.0  # one frame's evidence is off by 30 px
    out = pose_anchored_fill(truth, fill, pred)
    err = np.linalg.norm(out - truth, axis=-1)[:, 0]
    # within a frame's motion (3-4 px here), where linear interpolation across frames 4-55
    # is 12 px off at frame 30 and the raw prediction 30 px off at frame 40
    assert err[30] < 3.0 and err[40] < 4.0 and err.max() < 4.0
    lin = np.interp(30, [4, 55], truth[[4, 55], 0, 0])
    assert abs(lin - truth[30, 0, 0]) > 10.0


def test_points_kept_inside_a_flagged_run_split_it_into_shorter_gaps(project):
    """A two-frame error inside a ten-frame flagged stretch of right points is a two-frame gap.

    The repair keeps the flagged points it cannot contradict; what is left of their run is
    then filled again between them, not across the whole stretch (openfield, protocol B:
    a background detection inside a flagged run was filled by the pose fill 20 px off,
    where the kept neighbours interpolate it to 2 px).
    """
    from stablemotion_dlc.dlc.pipeline import _as_cleaner
    from stablemotion_dlc.dlc.repair import repair_animal

    tracks, model = project
    cleaner = _as_cleaner(model)
    xy = tracks.xy[:600, 0].astype(np.float64)
    ok = np.isfinite(xy).all(-1)
    k, a = 0, 300
    assert ok[a - 1:a + 11, k].all()
    # the keypoint moves on a gentle curve there: 3 px off the chord of the stretch, a
    # quarter pixel off the chord of three frames
    s = np.arange(12.0)[:, None] - 5.5
    xy[a - 1:a + 11, k] = xy[a - 1, k] + [2.0, 0.0] * (s + 5.5) + [0.0, 0.1] * (s**2 - 5.5**2)
    truth = xy.copy()
    xy[a + 4:a + 6, k] += 150.0  # a background detection, two frames
    flag = np.zeros(ok.shape, bool)
    flag[a:a + 10, k] = True  # the rules flagged the stretch around it
    good = ok & ~flag
    out = repair_animal(cleaner, cleaner.rep, xy, flag, flag, np.zeros(flag.shape, np.float32),
                        good, None, policy="linear", keep_plausible=True)
    kept = flag & ~out.changed
    assert kept[a:a + 4, k].all() and kept[a + 6:a + 10, k].all()
    assert out.changed[a + 4:a + 6, k].all()
    # the two frames are filled between the kept points around them, not across the whole
    # stretch
    across = np.stack([np.interp([a + 4, a + 5], [a - 1, a + 10], truth[[a - 1, a + 10], k, d])
                       for d in range(2)], -1)
    err = np.linalg.norm(out.xy[a + 4:a + 6, k] - truth[a + 4:a + 6, k], axis=-1)
    err_across = np.linalg.norm(across - truth[a + 4:a + 6, k], axis=-1)
    assert (err < 0.5 * err_across).all()
    assert out.report["split_runs_points"] >= 2
    np.testing.assert_array_equal(out.xy[~out.changed], xy[~out.changed])


def test_unreliable_points_at_a_files_end_hold_the_last_trustworthy_value(project):
    """Below pcutoff at the file's end, too long to extrapolate: held, as pcutoff -> interp does.

    A 40-frame run at the end whose points DeepLabCut calls unreliable (protocol B, seed 1,
    behaviordepot_demo2: a 40-frame drift under pcutoff at the end, left as observed 36.9 px
    off where holding the last confident value is 8.5 px off) holds the nearest trustworthy
    value, with the keypoint's own displacement over as many frames as its radius. A
    confident run at an end, a run longer than MAX_HOLD and one next to a lone trustworthy
    frame stay as they are. Points DeepLabCut did not give are held while most of the
    animal's other keypoints are in view (protocol B, seed 1, deepof_square_arena, held-out:
    two keypoints occluded over the file's last 15 frames were left empty), and stay missing
    where the animal is gone.
    """
    from stablemotion_dlc.dlc.pipeline import _as_cleaner
    from stablemotion_dlc.dlc.repair import MAX_HOLD, MAX_ONE_SIDED, repair_animal
    from stablemotion_dlc.evaluate.baselines import interpolate_linear

    tracks, model = project
    cleaner = _as_cleaner(model)
    xy = interpolate_linear(tracks.xy[:600, :1])[:, 0]  # every point given
    assert np.isfinite(xy).all()
    truth = xy.copy()
    flag = np.zeros(xy.shape[:2], bool)
    keepable = np.ones(flag.shape, bool)
    # keypoint 0: drifts away over the last 40 frames, unreliable; two of them not given
    xy[560:, 0] += np.linspace(0.0, 60.0, 40)[:, None]
    xy[580:582, 0] = np.nan
    flag[560:, 0] = True
    keepable[560:, 0] = False
    # keypoint 1: a confident run at the start, flagged (left: the likelihood vouches for it)
    flag[:30, 1] = True
    # keypoint 2: an unreliable run at the start longer than MAX_HOLD (left as observed)
    flag[:MAX_HOLD + 20, 2] = True
    keepable[:MAX_HOLD + 20, 2] = False
    # keypoint 3: the same at the end, but next to a lone trustworthy frame between flagged
    # stretches (one undetected error there would be held for the whole run): left
    flag[550:569, 3] = True
    flag[570:, 3] = True
    keepable[570:, 3] = False
    assert MAX_ONE_SIDED < 40
    good = np.isfinite(xy).all(-1) & ~flag
    out = repair_animal(cleaner, cleaner.rep, xy, flag, flag,
                        np.zeros(flag.shape, np.float32), good, None, policy="linear",
                        keepable=keepable)
    held = np.zeros(flag.shape, bool)
    held[560:, 0] = True  # the two points not given too: the animal is in view there
    assert not out.changed[570:, 3].any()
    np.testing.assert_array_equal(out.changed[:, :3], held[:, :3])
    np.testing.assert_array_equal(out.xy[held], np.broadcast_to(xy[559, 0], (40, 2)))
    # the radius: the keypoint's 90 % displacement over as many frames, growing with them
    r = out.uncertainty[held]
    assert (r > 0).all() and (np.diff(r) >= 0).all()
    k_disp = np.linalg.norm(truth[40:, 0] - truth[:-40, 0], axis=-1)
    assert r[-1] == pytest.approx(np.quantile(k_disp, 0.9), rel=0.05)
    np.testing.assert_array_equal(out.xy[:, :3][~held[:, :3]], xy[:, :3][~held[:, :3]])
    assert out.report["held_at_file_edges_points"] == 40
    # (+ keypoint 3's run)
    assert out.report["left_at_file_edges_points"] == 30 + MAX_HOLD + 20 + 30

    # the animal leaves the view over the last 20 frames: nothing is invented there
    gone = xy.copy()
    gone[580:] = np.nan
    flag_g, keep_g = flag.copy(), keepable.copy()
    flag_g[580:] = True
    keep_g[580:] = False
    good_g = np.isfinite(gone).all(-1) & ~flag_g
    out = repair_animal(cleaner, cleaner.rep, gone, flag_g, flag_g,
                        np.zeros(flag.shape, np.float32), good_g, None, policy="linear",
                        keepable=keep_g)
    np.testing.assert_array_equal(out.changed[560:580, 0], np.ones(20, bool))
    assert not out.changed[580:].any() and np.isnan(out.xy[580:]).all()


def test_validation_spans_are_never_drawn_over_duplicated_frames_only():
    """A video whose frames are each shown three times: a span inside one shown frame (and
    its anchors) is filled exactly by every candidate and measures nothing. With the
    animal's distinct frames, every span holds one; a paw that rests alone does not make
    frames duplicates, and a point that appears or vanishes makes a frame distinct."""
    from stablemotion_dlc.dlc.repair import distinct_frames

    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(0, 2.0, (400, 4, 2)), axis=0)
    xy = np.repeat(walk, 3, axis=0)  # (1200, 4, 2), each pose three times
    distinct = distinct_frames(xy)
    assert distinct.sum() == 400 and distinct[::3].all()
    good = np.ones((1200, 4), bool)
    for use in (None, distinct):
        mask, spans = validation_mask(good, np.random.default_rng(1), distinct=use)
        inside = [not distinct[a:z + 1].any() for _, a, z, _ in spans]
        if use is None:
            assert any(inside)  # short spans fall inside one shown frame
        else:
            assert spans and not any(inside)
    rest = walk.copy()
    rest[100:200, 2] = rest[100, 2]  # one paw stands still: its frames stay distinct
    assert distinct_frames(rest).all()
    gap = walk.copy()
    gap[1] = gap[0]
    gap[1, 3] = np.nan  # the same frame, but a point vanished: distinct
    gap[2] = gap[1]  # a true repeat, the point still missing: not distinct
    assert distinct_frames(gap)[:3].tolist() == [True, True, False]



def test_an_unreliable_body_frame_is_read_from_the_short_gaps_judged_on_their_own():
    """``interp`` far worse than ``linear`` on the short gaps: the body frame is unreliable.

    sleap_clip (protocol B, seed 1; held-out, disclosed): the female fly's second keypoint
    flickers between the two flies in the file's own confident points, so the body-relative
    ``interp`` follows it; a 12-frame gap of her first keypoint, in a length cell too thin
    to judge, was filled 85.7 px off where ``linear`` is 5.0 px off. Her short gaps, judged
    on their own spans, say so (``interp`` 9.1x ``linear``'s RMSE there); a cell too thin
    to judge then defaults to ``linear``.
    """
    from stablemotion_dlc.dlc.repair import UNRELIABLE_FRAME, _body_frame

    n_bins = len(LENGTH_BINS)
    n_cells = 2 * n_bins

    def errors(short_interp: float, long_interp: float) -> dict[str, list[list[float]]]:
        out = {m: [[] for _ in range(n_cells)] for m in ("linear", "interp")}
        for c in (0, 1, n_bins):  # short lone gaps (1-3, 4-10) and short grouped ones
            out["linear"][c] = [2.0] * 30
            out["interp"][c] = [short_interp] * 30
        out["linear"][3] = [10.0] * 30  # a long bin: not read
        out["interp"][3] = [long_interp] * 30
        return out

    spans = [10] * n_cells
    bad, rmse = _body_frame(errors(2.0 * UNRELIABLE_FRAME + 0.1, 1.0), spans, n_bins)
    assert bad and rmse["linear"] == pytest.approx(2.0)
    assert not _body_frame(errors(2.0 * UNRELIABLE_FRAME - 0.1, 100.0), spans, n_bins)[0]
    # short cells too thin to judge on their own say nothing
    thin = [10 if c % n_bins > 1 else 5 for c in range(n_cells)]
    bad, rmse = _body_frame(errors(50.0, 1.0), thin, n_bins)
    assert not bad and rmse == {"linear": None, "interp": None}
