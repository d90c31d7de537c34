"""Tests of the DLC keypoint representation (stablemotion_dlc.dlc.representation)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from stablemotion_dlc.core.representation import Representation
from stablemotion_dlc.dlc.representation import (
    KeypointRepresentation,
    default_skeleton,
    interp_fill,
    median_pose,
)
from stablemotion_dlc.errors import ConfigError

BODYPARTS = ["snout", "left_ear", "right_ear", "neck", "tailbase", "tailtip", "paw"]


def _linear_tracks(t: int = 80, k: int = 7, seed: int = 0) -> np.ndarray:
    """Uniform linear motion of a rigid body (expected values are known)."""
    rng = np.random.default_rng(seed)
    shape = rng.normal(0, 25, size=(k, 2))
    start = rng.uniform(200, 1800, size=2)
    vel = rng.normal(0, 3, size=2)
    frames = np.arange(t)[:, None]
    return start[None, None] + vel[None, None] * frames[:, :, None] + shape[None]


@pytest.fixture
def rep() -> KeypointRepresentation:
    return KeypointRepresentation(BODYPARTS, fps=30.0, pose_data=_linear_tracks())


def test_is_a_representation(rep: KeypointRepresentation) -> None:
    assert isinstance(rep, Representation)
    assert rep.name == "dlc-keypoints"
    lay = rep.layout
    assert lay.n_features == rep.n_features == 4 + 4 * 7 + 2 * rep.n_bones
    assert lay.n_labels == 8
    assert len(lay.label_of_feature) == len(lay.extra_labels) == len(lay.names) == lay.n_features


def test_round_trip_real_scale_with_missing(rep: KeypointRepresentation) -> None:
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 2000, size=(64, 7, 2))
    missing = rng.random((64, 7)) < 0.2
    missing[:, 3] = True  # one keypoint never seen
    xy[missing] = np.nan
    suspect = rng.random((64, 7)) < 0.2
    enc = rep.encode(xy, suspect)
    assert enc.features.dtype == np.float32 and enc.features.shape == (64, rep.n_features)
    assert np.isfinite(enc.features).all()
    out = rep.decode(enc.features, enc.origin)
    ok = ~missing
    assert np.abs(out[ok] - xy[ok]).max() < 1e-4
    assert np.isfinite(out).all()


def test_round_trip_batched_matches_single(rep: KeypointRepresentation) -> None:
    rng = np.random.default_rng(2)
    xy = rng.uniform(0, 2000, size=(5, 32, 7, 2))
    xy[rng.random((5, 32, 7)) < 0.1] = np.nan
    sus = rng.random((5, 32, 7)) < 0.1
    enc = rep.encode(xy, sus)
    assert enc.features.shape == (5, 32, rep.n_features)
    out = rep.decode(enc.features, enc.origin)
    ok = np.isfinite(xy).all(-1)
    assert np.abs(out[ok] - xy[ok]).max() < 1e-4
    one = rep.encode(xy[3], sus[3])
    np.testing.assert_array_equal(one.features, enc.features[3])
    np.testing.assert_array_equal(one.labels, enc.labels[3])
    np.testing.assert_array_equal(one.observed, enc.observed[3])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    missing=hnp.arrays(bool, (12, 4)),
    suspect=hnp.arrays(bool, (12, 4)),
    scale=st.floats(1.0, 2000.0),
    seed=st.integers(0, 2**16),
)
def test_no_nan_for_any_missing_pattern(
    missing: np.ndarray, suspect: np.ndarray, scale: float, seed: int
) -> None:
    rep = KeypointRepresentation(["a", "b", "c", "d"], fps=25)
    xy = np.random.default_rng(seed).uniform(0, scale, size=(12, 4, 2))
    xy[missing] = np.nan
    enc = rep.encode(xy, suspect)
    assert np.isfinite(enc.features).all()
    assert set(np.unique(enc.labels)) <= {0.0, 1.0}
    # missing or suspect points are labelled bad, the others good
    np.testing.assert_array_equal(enc.labels[:, :4] == 1, missing | suspect)
    rel = rep.slices()["rel"]
    obs_rel = enc.observed[:, rel].reshape(12, 4, 2)
    np.testing.assert_array_equal(obs_rel[..., 0], ~missing)
    out = rep.decode(enc.features, enc.origin)
    assert np.isfinite(out).all()
    if (~missing).any():
        assert np.abs(out[~missing] - xy[~missing]).max() < 1e-4


def test_layout_feature_mask(rep: KeypointRepresentation) -> None:
    sl = rep.slices()
    lay = rep.layout
    k = rep.n_keypoints
    j = BODYPARTS.index("neck")
    mask = np.zeros(rep.n_labels, dtype=bool)
    mask[j] = True
    fm = lay.feature_mask(mask)
    expect = np.zeros(rep.n_features, dtype=bool)
    for name in ("rel", "rel_vel"):
        start = sl[name].start
        expect[start + 2 * j : start + 2 * j + 2] = True
    for b, (a, c) in enumerate(rep.skeleton):
        if j in (BODYPARTS.index(a), BODYPARTS.index(c)):
            expect[sl["bone"].start + b] = True
            expect[sl["bone_vel"].start + b] = True
    np.testing.assert_array_equal(fm, expect)
    # the reference label governs exactly the reference channels
    ref_only = np.zeros(rep.n_labels, dtype=bool)
    ref_only[rep.reference_label] = True
    fm = lay.feature_mask(ref_only)
    assert fm[sl["ref"]].all() and fm[sl["ref_vel"]].all()
    assert fm.sum() == 4
    # all keypoints masked: everything but the reference
    allk = np.ones(rep.n_labels, dtype=bool)
    allk[k] = False
    fm = lay.feature_mask(allk)
    assert not fm[:4].any() and fm[4:].all()


def test_single_bad_keypoint_does_not_move_reference(rep: KeypointRepresentation) -> None:
    xy = _linear_tracks()
    clean = rep.encode(xy)
    bad = xy.copy()
    bad[30:40, 0] += 300.0  # a confident jump of the snout, flagged suspect
    sus = np.zeros(xy.shape[:2], dtype=bool)
    sus[30:40, 0] = True
    enc = rep.encode(bad, sus, origin=clean.origin)
    sl = rep.slices()
    np.testing.assert_allclose(enc.features[:, sl["ref"]], clean.features[:, sl["ref"]], atol=1e-3)
    assert enc.labels[:, rep.reference_label].sum() == 0
    assert enc.labels[30:40, 0].all() and enc.labels[:, 1:7].sum() == 0
    # and the bad keypoint itself decodes back exactly
    out = rep.decode(enc.features, enc.origin)
    assert np.abs(out - bad).max() < 1e-4


def test_reference_label_when_most_keypoints_bad(rep: KeypointRepresentation) -> None:
    xy = _linear_tracks()
    sus = np.zeros(xy.shape[:2], dtype=bool)
    sus[10:15, :4] = True  # 4 of 7 >= half
    sus[20:25, :3] = True  # 3 of 7 < half
    enc = rep.encode(xy, sus)
    ref = enc.labels[:, rep.reference_label]
    assert ref[10:15].all()
    assert ref.sum() == 5


def test_missing_points_filled_by_interpolation(rep: KeypointRepresentation) -> None:
    xy = _linear_tracks()
    truth = rep.encode(xy)
    holes = xy.copy()
    holes[20:30, 2] = np.nan  # interior gap: linear interpolation is exact for linear motion
    holes[:5, 4] = np.nan  # gap at the start: nearest value
    enc = rep.encode(holes, origin=truth.origin)
    sl = rep.slices()
    rel = enc.features[:, sl["rel"]].reshape(-1, 7, 2)
    rel_true = truth.features[:, sl["rel"]].reshape(-1, 7, 2)
    np.testing.assert_allclose(rel[20:30, 2], rel_true[20:30, 2], atol=1e-3)
    dec = rep.decode(enc.features, enc.origin)
    np.testing.assert_allclose(dec[:5, 4], np.repeat(xy[5:6, 4], 5, axis=0), atol=1e-3)
    assert not enc.observed[20:30, sl["rel"]].reshape(10, 7, 2)[:, 2].any()
    assert (enc.labels[20:30, 2] == 1).all()


def test_all_missing_keypoint_placed_at_centre_plus_offset() -> None:
    xy = _linear_tracks(k=5)
    offsets = median_pose(xy)
    rep = KeypointRepresentation(list("abcde"), offsets=offsets)
    holes = xy.copy()
    holes[:, 1] = np.nan
    enc = rep.encode(holes)
    dec = rep.decode(enc.features, enc.origin)
    # the reference (median of 4 points) is not the 5-point median, so allow a body-size error
    assert np.abs(dec[:, 1] - xy[:, 1]).max() < 60.0
    assert np.isfinite(enc.features).all()


def test_all_missing_window() -> None:
    rep = KeypointRepresentation(["a", "b", "c"])
    xy = np.full((10, 3, 2), np.nan)
    enc = rep.encode(xy)
    assert np.isfinite(enc.features).all()
    assert not enc.observed.any()
    assert (enc.labels == 1).all()


def test_velocities_and_bones_linear_motion(rep: KeypointRepresentation) -> None:
    xy = _linear_tracks()
    enc = rep.encode(xy)
    sl = rep.slices()
    disp = xy[1, 0] - xy[0, 0]
    np.testing.assert_allclose(enc.features[:, sl["ref_vel"]], np.tile(disp, (80, 1)), atol=1e-3)
    np.testing.assert_allclose(enc.features[:, sl["rel_vel"]], 0.0, atol=1e-3)
    np.testing.assert_allclose(enc.features[:, sl["bone_vel"]], 0.0, atol=1e-3)
    a, b = (BODYPARTS.index(n) for n in rep.skeleton[0])
    length = np.linalg.norm(xy[0, a] - xy[0, b])
    np.testing.assert_allclose(enc.features[:, sl["bone"].start], length, rtol=1e-5)


def test_spec_round_trip(rep: KeypointRepresentation) -> None:
    spec = json.loads(json.dumps(rep.spec()))
    assert spec["name"] == "dlc-keypoints" and spec["bodyparts"] == BODYPARTS
    assert spec["n_features"] == rep.n_features and spec["fps"] == 30.0
    again = KeypointRepresentation.from_spec(spec)
    assert again.layout == rep.layout
    assert again.spec() == rep.spec()
    none = KeypointRepresentation(["a", "b", "c", "d", "e"], [])  # chain default
    assert len(none.skeleton) == 4
    spec = none.spec()
    spec["skeleton"] = []
    spec["n_features"] = 4 + 4 * 5
    assert KeypointRepresentation.from_spec(spec).n_bones == 0
    with pytest.raises(ConfigError, match="expected"):
        KeypointRepresentation.from_spec({**rep.spec(), "name": "smpl-rifke"})


def test_skeletons() -> None:
    assert default_skeleton(["a", "b", "c"]) == [("a", "b"), ("a", "c"), ("b", "c")]
    xy = _linear_tracks(k=7)
    bones = default_skeleton(BODYPARTS, xy)
    assert len(bones) == 6  # a spanning tree
    names = {n for bone in bones for n in bone}
    assert names == set(BODYPARTS)
    rep = KeypointRepresentation(
        ["a", "b", "c"], [["a", "b"], ["b", "a"], ["a", "zzz"], ["c", "c"]]
    )
    assert rep.skeleton == [("a", "b")]
    with pytest.raises(ConfigError):
        KeypointRepresentation(["a", "a"])


def test_bad_input_shapes(rep: KeypointRepresentation) -> None:
    with pytest.raises(ValueError, match="xy must have shape"):
        rep.encode(np.zeros((10, 3, 2)))
    with pytest.raises(ValueError, match="suspect"):
        rep.encode(np.zeros((10, 7, 2)), np.zeros((10, 6), bool))
    with pytest.raises(ValueError, match="features"):
        rep.decode(np.zeros((10, 5)))


def test_interp_fill() -> None:
    v = np.array([[np.nan, 1.0, np.nan, 3.0, np.nan]]).T[None]  # (1, 5, 1)
    out, has = interp_fill(v, np.isfinite(v))
    np.testing.assert_allclose(out[0, :, 0], [1, 1, 2, 3, 3])
    assert has.all()
    out, has = interp_fill(np.full((1, 4, 1), np.nan), np.zeros((1, 4, 1), bool))
    assert not has.any() and np.isnan(out).all()


def test_round_trip_real_file(shared_data) -> None:
    pd = pytest.importorskip("pandas")
    path = shared_data / "bsoid" / "raw_clip1DLC_resnet50_OpenFieldHighResApr8shuffle1_1030000.h5"
    if not path.exists():
        pytest.skip(f"{path} not present")
    df = pd.read_hdf(path)
    bodyparts = list(dict.fromkeys(df.columns.get_level_values("bodyparts")))
    arr = df.to_numpy(dtype=float).reshape(len(df), len(bodyparts), 3)
    xy, lik = arr[..., :2], arr[..., 2]
    rep = KeypointRepresentation(bodyparts, fps=60, pose_data=xy)
    enc = rep.encode(xy, lik < 0.6)
    assert np.isfinite(enc.features).all()
    out = rep.decode(enc.features, enc.origin)
    ok = np.isfinite(xy).all(-1)
    assert np.abs(out[ok] - xy[ok]).max() < 1e-4
    # windows of 64 frames decode exactly too
    w = xy[: 64 * 20].reshape(20, 64, len(bodyparts), 2)
    e = rep.encode(w, (lik[: 64 * 20] < 0.6).reshape(20, 64, -1))
    assert np.abs(rep.decode(e.features, e.origin) - w).max() < 1e-4


def test_absurd_coordinates_are_a_clear_error() -> None:
    rep = KeypointRepresentation(["a", "b"])
    xy = np.zeros((5, 2, 2))
    xy[2, 1] = 1e39  # beyond float32
    with pytest.raises(ValueError, match="too large"):
        rep.encode(xy)
    xy[2, 1] = 1.6e7  # DLC's untrained-model outputs: encoded, coarse but finite
    enc = rep.encode(xy)
    assert np.isfinite(enc.features).all()
