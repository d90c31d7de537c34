"""The learned jitter detector finds noise bursts it was not told about, and not fast motion."""

from __future__ import annotations

import numpy as np

from stablemotion_dlc.dlc.jitter import (
    MAX_SKIP_FRAMES,
    MAX_TOGETHER,
    MIN_MARK_FRAMES,
    TOGETHER_FRAMES,
    detect_jitter,
    file_jitter,
    inject_bursts,
    jitter_features,
    jitter_marks,
)
from stablemotion_dlc.dlc.repair import smooth_jitter


def _animals(n: int = 3000, seed: int = 0) -> np.ndarray:
    """(T, 2, 4, 2): two bodies that wander, turn and sprint (speed up 4x for a while), with
    DLC-like 0.3 px noise on every point."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    # time warp: a sprint (4x faster) in frames 1200-1400
    speed = np.ones(n)
    speed[1200:1400] = 4.0
    tau = np.cumsum(speed)
    out = np.empty((n, 2, 4, 2))
    for i in range(2):
        centre = np.stack([300 + 150 * np.sin(tau / (90.0 + 20 * i)),
                           250 + 120 * np.sin(tau / (55.0 + 10 * i))], -1)
        heading = np.arctan2(np.gradient(centre[:, 1]), np.gradient(centre[:, 0]))
        rot = np.stack([np.cos(heading), np.sin(heading)], -1)
        normal = np.stack([-rot[:, 1], rot[:, 0]], -1)
        # snout, left ear, right ear, tail base; the body curls every 300 frames
        curl = 8 * np.sin(t / 300.0 * 2 * np.pi)
        along = np.array([25.0, 15.0, 15.0, -25.0])
        side = np.array([0.0, 8.0, -8.0, 0.0])
        for k in range(4):
            bend = side[k] + (curl if k == 3 else 0.0)
            out[:, i, k] = centre + along[k] * rot + np.reshape(bend, (-1, 1)) * normal
    return out + rng.normal(0, 0.3, out.shape)


def test_bursts_found_and_fast_turns_and_sprints_left_alone():
    clean = _animals()
    noisy = clean.copy()
    rng = np.random.default_rng(5)
    noisy[500:600, 0, 1] += rng.normal(0, 2.0, (100, 2))  # 6-7x the usual noise
    noisy[2000:2040, 1, 3] += rng.normal(0, 3.0, (40, 2))
    ok = np.ones(noisy.shape[:3], bool)
    p = detect_jitter(noisy, ok, seed=0)
    found = p > 0.5
    assert found[505:595, 0, 1].mean() > 0.8
    assert found[2005:2035, 1, 3].mean() > 0.7
    bursts = np.zeros(found.shape, bool)
    bursts[480:620, 0, 1] = True
    bursts[1980:2060, 1, 3] = True
    # the rest, sprint and curls included, is almost never marked
    assert found[~bursts].mean() < 0.002
    assert found[1200:1400][~bursts[1200:1400]].mean() < 0.005


def test_seeded_and_only_judges_the_allowed_points():
    noisy = _animals(1500)
    noisy[700:800, 0, 2] += np.random.default_rng(1).normal(0, 2.0, (100, 2))
    ok = np.ones(noisy.shape[:3], bool)
    ok[:, 1, 0] = False
    a = detect_jitter(noisy, ok, seed=3)
    np.testing.assert_array_equal(a, detect_jitter(noisy, ok, seed=3))
    # the classifier's thread count does not change the answer
    np.testing.assert_allclose(a, detect_jitter(noisy, ok, seed=3, threads=1), atol=1e-6)
    assert (a[:, 1, 0] == 0).all()
    # too little to learn from: nothing marked
    assert not detect_jitter(noisy[:100], ok[:100]).any()


def test_bursts_and_features_have_the_documented_shapes():
    xy = _animals(600)[:, 0]
    ok = np.ones(xy.shape[:2], bool)
    noisy, burst = inject_bursts(xy, ok, np.random.default_rng(0))
    assert 0.04 <= burst.mean() <= 0.2
    np.testing.assert_array_equal(noisy[~burst], xy[~burst])
    f = jitter_features(xy, ok)
    assert f.shape[:2] == xy.shape[:2] and np.isfinite(f).all()


def test_smoothing_the_detected_points_changes_exactly_them():
    clean = _animals(1500)[:, 0]
    noisy = clean.copy()
    noisy[600:700, 1] += np.random.default_rng(2).normal(0, 2.5, (100, 2))
    hot = np.zeros(noisy.shape[:2], bool)
    hot[600:700, 1] = True
    out, smoothed, radius = smooth_jitter(noisy, np.ones_like(hot), hot=hot)
    np.testing.assert_array_equal(smoothed, hot)
    np.testing.assert_array_equal(out[~hot], noisy[~hot])
    e_in = np.linalg.norm(noisy[hot] - clean[hot], axis=-1)
    e_out = np.linalg.norm(out[hot] - clean[hot], axis=-1)
    assert np.sqrt(np.mean(e_out**2)) < 0.6 * np.sqrt(np.mean(e_in**2))
    assert (radius[hot] > 0).all()


def test_marks_are_stretches_not_single_frames():
    p = np.zeros((100, 2, 3), np.float32)
    p[10:10 + MIN_MARK_FRAMES, 0, 1] = 0.9  # a stretch: marked
    p[40:40 + MIN_MARK_FRAMES - 1, 1, 2] = 0.9  # one frame short: not marked
    p[60, 0, 0] = 1.0  # a lone frame: not marked
    p[70:90, 1, 0] = 0.4  # under the threshold: not marked
    marks = jitter_marks(p)
    expected = np.zeros(p.shape, bool)
    expected[10:10 + MIN_MARK_FRAMES, 0, 1] = True
    np.testing.assert_array_equal(marks, expected)


def test_long_tracks_learn_from_chunks_and_still_find_bursts(monkeypatch):
    """Beyond MAX_COPY_FRAMES the noisy copies are chunks of the track (bounded memory)."""
    import stablemotion_dlc.dlc.jitter as jit

    monkeypatch.setattr(jit, "MAX_COPY_FRAMES", 1200)
    monkeypatch.setattr(jit, "COPY_CHUNK_FRAMES", 300)
    clean = _animals()
    noisy = clean.copy()
    noisy[2500:2600, 0, 1] += np.random.default_rng(5).normal(0, 2.0, (100, 2))
    ok = np.ones(noisy.shape[:3], bool)
    frames, feats, burst, ok_c = jit._noisy_copy(noisy[:, 0], ok[:, 0], None,
                                                 np.random.default_rng(0))
    assert len(frames) == 1200 and len(np.unique(frames)) == 1200
    assert feats.shape[:2] == burst.shape == ok_c.shape == (1200, 4) and burst.any()
    found = jitter_marks(detect_jitter(noisy, ok, seed=0))
    assert found[2510:2590, 0, 1].mean() > 0.8
    others = np.ones(found.shape, bool)
    others[2480:2620, 0, 1] = False
    assert found[others].mean() < 0.002


def test_a_mark_runs_on_across_a_few_flagged_points_but_does_not_mark_them():
    p = np.zeros((120, 1, 3), np.float32)
    skip = np.zeros(p.shape, bool)
    # 6 + 6 frames over the threshold around 2 flagged ones: one run of 12, marked
    p[10:16, 0, 0] = p[18:24, 0, 0] = 0.9
    skip[16:18, 0, 0] = True
    # the same around a flagged stretch longer than MAX_SKIP_FRAMES: two short runs
    p[40:46, 0, 1] = p[47 + MAX_SKIP_FRAMES:53 + MAX_SKIP_FRAMES, 0, 1] = 0.9
    skip[46:47 + MAX_SKIP_FRAMES, 0, 1] = True
    # flagged points with the threshold on one side only do not extend a run
    p[80:86, 0, 2] = 0.9
    skip[86:90, 0, 2] = True
    marks = jitter_marks(p, skip=skip)
    expected = np.zeros(p.shape, bool)
    expected[10:16, 0, 0] = expected[18:24, 0, 0] = True
    np.testing.assert_array_equal(marks, expected)
    # without the skip mask the 6-frame pieces are too short
    assert not jitter_marks(p).any()


def test_a_strong_burst_whose_worst_frames_a_rule_flags_is_still_found():
    """The rules flag a strong burst's largest steps as jumps; its other points are judged
    on noise levels measured across the flagged ones, and marked as one stretch."""
    clean = _animals()
    noisy = clean.copy()
    rng = np.random.default_rng(7)
    noisy[800:830, 0, 2] += rng.normal(0, 4.0, (30, 2))  # ~13x the usual noise
    flagged = np.zeros(noisy.shape[:3], bool)
    flagged[[804, 809, 813, 818, 822, 827], 0, 2] = True  # every 4-5 frames
    p = file_jitter(noisy, np.ones(flagged.shape), flagged, 0.6, seed=0)
    assert (p[flagged] == 0).all()  # the flagged points are not judged
    marks = jitter_marks(p, skip=flagged)
    burst = np.zeros(flagged.shape, bool)
    burst[800:830, 0, 2] = True
    assert marks[burst & ~flagged].mean() > 0.7
    assert not marks[flagged].any()
    near = np.zeros(flagged.shape, bool)
    near[780:850, 0, 2] = True
    assert marks[~near].mean() < 0.002


def test_keypoints_marked_together_are_motion_not_jitter():
    p = np.zeros((200, 2, 5), np.float32)
    p[20:50, 0, :MAX_TOGETHER] = 0.9  # several keypoints of one animal at once: not marked
    p[100:130, 0, :MAX_TOGETHER - 1] = 0.9  # fewer: marked
    p[150:180, 0, 0] = p[150:180, 1, 0] = p[150:180, 1, 1] = 0.9  # spread over two animals
    marks = jitter_marks(p)
    expected = p > 0.5
    expected[20:50, 0] = False
    np.testing.assert_array_equal(marks, expected)
    # a crowd's frames and TOGETHER_FRAMES around them are not marked, the rest of a run is
    q = np.zeros((200, 1, 4), np.float32)
    q[40:120, 0, 0] = 0.9
    q[100:110, 0, 1:1 + MAX_TOGETHER - 1] = 0.9
    m = jitter_marks(q)
    assert m[40:100 - TOGETHER_FRAMES, 0, 0].all()
    assert not m[100 - TOGETHER_FRAMES:120, 0].any()
    np.testing.assert_array_equal(jitter_marks(q, together=None), q > 0.5)


def test_the_generated_sample_shaking_its_head_is_not_marked(tmp_path):
    """The project's own 30 s sample: every injected burst is flagged by the rules, and the
    animal shakes its head near the end (four head keypoints 3-7x as lively as usual)."""
    from stablemotion_dlc.dlc.io import read_tracks
    from stablemotion_dlc.dlc.labels import suspect_mask
    from stablemotion_dlc.sample import make_sample_project

    sample = make_sample_project(tmp_path / "p", seed=3, duration_s=30.0, video=False,
                                 progress=False)
    tracks = read_tracks(sample.predictions_h5)
    flagged = suspect_mask(tracks, 0.6).mask
    p = file_jitter(tracks.xy, tracks.likelihood, flagged, 0.6, seed=0)
    assert jitter_marks(p, skip=flagged, together=None)[800:].sum() > 50
    assert jitter_marks(p, skip=flagged).sum() <= 20
