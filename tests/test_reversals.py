"""Front/back reversals: found where the network took the tail for the head, never elsewhere."""

from __future__ import annotations

import numpy as np
import pytest

from stablemotion_dlc.dlc.identity import find_reversals, fix_lr_swaps
from stablemotion_dlc.dlc.tracks import Tracks

BODYPARTS = ["snout", "leftear", "rightear", "spine", "tailbase"]
#: body frame (x forward, y to the animal's left in a camera from above), px
POSE = np.array([[55.0, 0.0], [38.0, 13.0], [38.0, -13.0], [0.0, 0.0], [-60.0, 0.0]])


def walking_animal(n: int = 2400, seed: int = 0, *, uturns: int = 0, curls: int = 0,
                   mirror: bool = False) -> np.ndarray:
    """(T, K, 2) positions of an animal that walks forward, pauses and turns.

    ``uturns``: 180-degree turns in 8 frames (22 degrees a frame, twice the usual turning);
    ``curls``: the animal curls round (snout past the tail base, the body folded) and comes
    out of it facing the other way, every point moving smoothly; ``mirror``: a camera from
    below (left and right exchanged).
    """
    rng = np.random.default_rng(seed)
    turn = np.convolve(rng.normal(0.0, 0.06, n), np.ones(15) / 15, mode="same")
    speed = np.clip(np.convolve(rng.normal(2.5, 3.0, n), np.ones(30) / 30, mode="same"), 0, None)
    speed[rng.random(n) < 0.002] = 0.0
    fold = np.zeros(n)  # 0 straight, 1 folded in two
    for t0 in rng.choice(np.arange(100, n - 100), size=uturns, replace=False):
        turn[t0:t0 + 8] += np.pi / 8
    for t0 in rng.choice(np.arange(100, n - 100), size=curls, replace=False):
        turn[t0:t0 + 20] += np.pi / 20
        fold[t0:t0 + 20] = np.sin(np.linspace(0, np.pi, 20))
    heading = np.cumsum(turn)
    step = speed[:, None] * np.stack([np.cos(heading), np.sin(heading)], -1)
    centre = 400.0 + np.cumsum(step, axis=0)
    pose = np.repeat(POSE[None], n, axis=0)
    # folding: the rear half swings round the spine towards the head
    ang = np.pi * 0.9 * fold[:, None]
    rear = pose[:, -1:, :].copy()
    rot = np.stack([rear[..., 0] * np.cos(ang) - rear[..., 1] * np.sin(ang),
                    rear[..., 0] * np.sin(ang) + rear[..., 1] * np.cos(ang)], -1)
    pose[:, -1:, :] = rot
    if mirror:
        pose[..., 1] *= -1.0
    c, s = np.cos(heading)[:, None], np.sin(heading)[:, None]
    world = np.stack([pose[..., 0] * c - pose[..., 1] * s, pose[..., 0] * s + pose[..., 1] * c],
                     -1)
    return world + centre[:, None, :] + rng.normal(0.0, 0.8, (n, len(BODYPARTS), 2))


def as_tracks(xy: np.ndarray, lik: np.ndarray | None = None) -> Tracks:
    n = xy.shape[0]
    if lik is None:
        lik = np.full((n, 1, xy.shape[1]), 0.97)
    return Tracks.from_arrays(xy[:, None].copy(), lik, bodyparts=BODYPARTS, scorer="DLC_test")


def reverse(xy: np.ndarray, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """The network's error: the animal turned round about the middle of its axis."""
    out = xy.copy()
    lik = np.full((xy.shape[0], 1, xy.shape[1]), 0.97)
    mid = 0.5 * (xy[start:stop, 0] + xy[start:stop, -1])
    out[start:stop] = 2.0 * mid[:, None, :] - xy[start:stop]
    lik[start:stop, 0, :3] = 0.35  # the head's keypoints on the tail: not sure
    return out, lik


@pytest.mark.parametrize("mirror", [False, True])
def test_reversed_stretch_found_and_undone(mirror: bool):
    truth = walking_animal(seed=1, mirror=mirror)
    xy, lik = reverse(truth, 700, 760)
    tracks = as_tracks(xy, lik)
    events = find_reversals(tracks)
    assert [(e.start, e.stop, e.keypoints) for e in events] == [(700, 760, ("snout", "tailbase"))]
    fixed, corrections = fix_lr_swaps(tracks, events)
    assert corrections[0].kind == "reversal"
    np.testing.assert_allclose(fixed.xy[700:760, 0, 0], truth[700:760, 0], atol=1e-9)
    np.testing.assert_allclose(fixed.xy[700:760, 0, -1], truth[700:760, -1], atol=1e-9)
    # the likelihoods travel with the points (the confident detection was the head's)
    assert (fixed.likelihood[700:760, 0, 0] == 0.97).all()
    assert np.array_equal(fixed.xy[:700], tracks.xy[:700])


def test_reversal_at_the_end_of_the_file():
    truth = walking_animal(seed=2)
    xy, lik = reverse(truth, 2300, 2400)
    events = find_reversals(as_tracks(xy, lik))
    assert [(e.start, e.stop) for e in events] == [(2300, 2400)]


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_no_reversal_on_fast_turns_curls_or_a_mirrored_camera(seed: int):
    for mirror in (False, True):
        xy = walking_animal(seed=seed, uturns=6, curls=6, mirror=mirror)
        assert find_reversals(as_tracks(xy)) == []


def test_no_reversal_when_the_animal_shows_no_front():
    """A body axis the animal does not move along (wing tips, a still animal): left alone."""
    truth = walking_animal(seed=6)
    xy, lik = reverse(truth, 700, 760)
    side = xy[:, [1, 2, 0, 3, 4]]  # the ears' axis across the body is now the longest one
    side[:, 0] = xy[:, 1] + 3.0 * (xy[:, 1] - xy[:, 2])
    side[:, 1] = xy[:, 2] - 3.0 * (xy[:, 1] - xy[:, 2])
    assert find_reversals(as_tracks(side, lik)) == []


def clean_with_tiny_model(tmp_path, tracks: Tracks):
    """The tracks cleaned by the rules with a 5-step model trained on them."""
    from stablemotion_dlc.core.train import TrainConfig
    from stablemotion_dlc.dlc.pipeline import clean_tracks, train_on_tracks

    model = train_on_tracks([tracks], tmp_path / "m.safetensors", progress=False,
                            config=TrainConfig(model="tiny", window=32, batch_size=8, steps=5,
                                               checkpoint_every=0, normalizer_batches=2,
                                               warmup_steps=1))
    return clean_tracks(tracks, model, detect=None)


def clean_reversed(tmp_path, seed: int, start: int, stop: int):
    """``(truth, reversed xy, tracks, clean result)``: a 1,500-frame walk reversed over
    ``[start, stop)``, cleaned by the rules with a 5-step model trained on it."""
    truth = walking_animal(n=1500, seed=seed)
    xy, lik = reverse(truth, start, stop)
    tracks = as_tracks(xy, lik)
    return truth, xy, tracks, clean_with_tiny_model(tmp_path, tracks)


def test_cleaning_undoes_a_reversal_and_flags_the_rest_of_the_body(tmp_path):
    from stablemotion_dlc.dlc.labels import SWAP
    from stablemotion_dlc.dlc.pipeline import IDENTITY_FIXED

    truth, xy, tracks, res = clean_reversed(tmp_path, 7, 600, 660)
    assert [c["kind"] for c in res.report["corrections"]] == ["reversal"]
    # both ends are relabelled detections, with the likelihood of changed points (the snout's
    # low score at the tail end said nothing about a tail base there)
    assert (res.status[600:660, 0, [0, 4]] == IDENTITY_FIXED).all()
    assert (res.tracks.likelihood[600:660, 0, [0, 4]] == 0.8).all()
    assert (res.suspect.reasons[600:660, 0, 1:4] & SWAP).all()
    err = np.linalg.norm(res.tracks.xy[600:660, 0] - truth[600:660], axis=-1)
    before = np.linalg.norm(xy[600:660] - truth[600:660], axis=-1)
    assert np.median(err[:, [0, 4]]) < 2.0 < 50.0 < np.median(before[:, [0, 4]])
    # the rest of the body follows the corrected ends (the pose prior, anchored on them)
    assert np.median(err[:, 1:4]) < 3.0 < 30.0 < np.median(before[:, 1:4])
    assert res.report["repair"]["animal"]["anchored_pose_points"] == 3 * 60
    # points outside the stretch keep their values
    assert np.array_equal(res.tracks.xy[:590], tracks.xy[:590])


def test_a_reversal_running_to_the_end_of_the_file_is_repaired_too(tmp_path):
    """Runs at the file's edges are normally left (nothing to interpolate towards); in a
    reversed stretch the corrected ends carry the rest of the body there."""
    truth, xy, _, res = clean_reversed(tmp_path, 7, 1420, 1500)
    assert res.report["repair"]["animal"]["left_at_file_edges_points"] == 0
    err = np.linalg.norm(res.tracks.xy[1420:, 0] - truth[1420:], axis=-1)
    assert (res.status[1420:, 0, 1:4] != 0).all()
    assert np.median(err[:, 1:4]) < 3.0 and err.max() < 10.0


def test_frames_where_the_snout_flickers_back_inside_a_reversal(tmp_path):
    """Inside a reversed stretch the network now and then puts the snout back on the head
    (the tail base stays there too): the tail base is bridged from its neighbouring corrected
    values and the ears follow the body there as well."""
    truth = walking_animal(n=1500, seed=7)
    xy, lik = reverse(truth, 600, 660)
    flicker = [621, 622, 640]
    xy[flicker, 0] = truth[flicker, 0]
    res = clean_with_tiny_model(tmp_path, as_tracks(xy, lik))
    err = np.linalg.norm(res.tracks.xy[flicker, 0] - truth[flicker], axis=-1)
    assert err[:, 4].max() < 5.0  # bridged between its corrected neighbours
    assert np.median(err[:, 1:4]) < 5.0 and err.max() < 10.0
    assert (res.status[flicker, 0, 1:] != 0).all()


def _offset_reversal(truth: np.ndarray, start: int, stop: int, head_frames: list[int],
                     behind: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """A reversal whose tail-base detection on the head sits ``behind`` px behind the snout
    (as a real network's does); in ``head_frames`` the snout is detected on the head too."""
    xy, lik = reverse(truth, start, stop)
    axis = truth[start:stop, 0] - truth[start:stop, -1]
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    xy[start:stop, -1] = truth[start:stop, 0] - behind * axis
    xy[head_frames, 0] = truth[head_frames, 0]
    return xy, lik


@pytest.mark.parametrize("head_frames", [list(range(610, 616)), []])
def test_the_exchanged_snout_is_corrected_by_the_files_own_offset(tmp_path, head_frames):
    """Where the network detected both ends on the head, their offset is measured and the
    exchanged snout of the stretch moved by it; with no such frames nothing is moved."""
    truth = walking_animal(n=1500, seed=7)
    xy, lik = _offset_reversal(truth, 600, 660, head_frames)
    res = clean_with_tiny_model(tmp_path, as_tracks(xy, lik))
    rest = list(range(620, 660))
    err = np.linalg.norm(res.tracks.xy[rest, 0, 0] - truth[rest, 0], axis=-1)
    moved = [n for n in res.report["notes"] if "exchanged front ends" in n]
    if head_frames:
        assert np.median(err) < 1.5 and len(moved) == 1 and "(8.0, " in moved[0]
    else:
        assert np.median(err) == pytest.approx(8.0, abs=0.5) and not moved


def test_the_shifted_ends_state_the_spread_of_the_measured_offsets(tmp_path):
    """The exchanged ends of a stretch corrected by its measured offset state a 90 % radius:
    how far the head frames' offsets scatter around the one applied (a network's tail-base
    detector answers 8 px behind the snout, give or take its own noise). Ends exchanged
    with no offset measured state none."""
    rng = np.random.default_rng(3)
    truth = walking_animal(n=1500, seed=7)
    head = list(range(610, 630))
    xy, lik = _offset_reversal(truth, 600, 660, head)
    xy[600:660, -1] += rng.normal(0.0, 1.0, (60, 2))  # the detector's own noise
    res = clean_with_tiny_model(tmp_path, as_tracks(xy, lik))
    rest = list(range(630, 660))
    stated = res.uncertainty[rest][:, 0, [0, 4]]
    assert np.unique(stated).size == 1  # one radius for the stretch, both ends
    # the head frames' offsets scatter like 2-D Gaussian noise of sigma 1 px: 90 % within
    # about 2.1 px
    assert 1.0 < stated[0, 0] < 4.0
    err = np.linalg.norm(res.tracks.xy[rest, 0, 0] - truth[rest, 0], axis=-1)
    assert (err <= stated[:, 0]).mean() >= 0.7
    _, _, _, plain = clean_reversed(tmp_path, 7, 600, 660)
    assert (plain.uncertainty[600:660, 0, [0, 4]] == 0).all()


def test_reversal_frames_with_both_ends_on_the_head_keep_the_end_that_stayed():
    """Where the network put the tail base on the head while the snout stayed, the two ends
    sit on one place: the snout (continuous with the body before) stays trusted evidence,
    the tail base is flagged and repaired."""
    from dataclasses import replace

    from stablemotion_dlc.dlc.labels import suspect_mask
    from stablemotion_dlc.dlc.pipeline import _flag_reversed

    truth = walking_animal(n=1500, seed=7)
    xy, lik = reverse(truth, 600, 660)
    xy[600:620, 0] = truth[600:620, 0]  # the snout stays; the tail base is on the head
    lik[600:620, 0, 0] = 0.97
    tracks = as_tracks(xy, lik)
    (found,) = find_reversals(tracks)
    assert (found.start, found.stop) == (620, 660)  # the body turns round at 620
    event = replace(found, start=600)  # as on the real pair, the stretch takes both in
    work, _ = fix_lr_swaps(tracks, [event])
    labels = suspect_mask(work, 0.6, swap_events=([], []))
    forced, trusted = _flag_reversed(work, labels, [event], 0.6)
    assert not forced[600:620, 0, 0].any() and trusted[600:620, 0, 0].all()
    assert forced[600:620, 0, 4].all() and not trusted[600:620, 0, 4].any()
    assert trusted[620:660, 0, [0, 4]].all() and forced[600:660, 0, 1:4].all()
    assert not labels.mask[600:660, 0, 0].any()


def test_real_weak_network_reversals(shared_data):
    """openfield_m3v1: the 15,001-iteration network reverses the mouse three times (tail base
    on the head with likelihood 0.95-1.0, checked against the 30,000-iteration network); the
    stronger network's tracks of the same video have none."""
    from stablemotion_dlc.dlc.io import read_tracks

    d = shared_data / "openfield_m3v1"
    weak = d / "m3v1mp4DeepCut_resnet50_openfieldOct30shuffle1_15001.h5"
    strong = d / "m3v1mp4DLC_resnet50_openfieldAug20shuffle1_30000.h5"
    if not (weak.exists() and strong.exists()):
        pytest.skip("openfield_m3v1 pair not present")
    events = find_reversals(read_tracks(weak))
    assert [(e.start, e.stop) for e in events] == [(107, 153), (985, 1007), (2239, 2330)]
    assert find_reversals(read_tracks(strong)) == []


def test_rejecting_a_reversal_in_review_restores_both_ends(tmp_path):
    """A swap is undone whole: rejecting the snout's span gives the tail base its raw value
    back on the same frames (else both would sit on the head)."""
    from stablemotion_dlc.dlc.pipeline import IDENTITY_FIXED
    from stablemotion_dlc.dlc.review import REJECTED, Review, apply_review, repair_spans

    _, _, tracks, res = clean_reversed(tmp_path, 8, 500, 560)
    span = next(sp for sp in repair_spans(res) if sp.keypoint_name == "snout"
                and sp.start <= 520 < sp.stop and sp.status == "identity-fixed")
    assert "front/back reversal" in span.reasons
    review = Review()
    review.decide(span, REJECTED)
    out = apply_review(tracks, res, review)
    frames = slice(span.start, span.stop)
    for k in (0, 4):  # snout and tail base: both back to the network's values
        np.testing.assert_array_equal(out.tracks.xy[frames, 0, k], tracks.xy[frames, 0, k])
        assert (out.status[frames, 0, k] == 0).all()
    assert (res.status[frames, 0, 4] == IDENTITY_FIXED).all()
    # the rest of the repair is kept
    assert np.array_equal(out.tracks.xy[frames, 0, 1:4], res.tracks.xy[frames, 0, 1:4])
