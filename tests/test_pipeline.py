"""The DLC cleaning pipeline: in-memory cleaning contract, saving, clean_h5 on a sample project.

A tiny model is trained once per module (~30 steps on a 30 s simulated recording); it is not
meant to clean well, only to exercise the real code paths end to end. Quality is measured by
``benchmarks/bench_dlc_pipeline.py``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from stablemotion_dlc._arrays import true_runs
from stablemotion_dlc.core.train import TrainConfig
from stablemotion_dlc.dlc.io import read_tracks
from stablemotion_dlc.dlc.pipeline import (
    GAP_FILLED,
    IDENTITY_FIXED,
    KEPT,
    REPLACED,
    STATUS_NAMES,
    CleanResult,
    clean_h5,
    clean_tracks,
    save_clean_result,
    train_on_tracks,
)
from stablemotion_dlc.dlc.project import cleaned_path, default_model_path, provenance_path
from stablemotion_dlc.errors import ConfigError, ModelError, ModelMismatchError
from stablemotion_dlc.sample import make_sample_project

TINY = dict(model="tiny", window=32, batch_size=8, steps=30, log_every=10, checkpoint_every=0,
            normalizer_batches=4, warmup_steps=5)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):
    """A 30 s single-animal sample project (no video)."""
    d = tmp_path_factory.mktemp("sample")
    return make_sample_project(d / "proj", seed=3, duration_s=30.0, video=False, progress=False)


@pytest.fixture(scope="module")
def tracks(sample):
    return read_tracks(sample.predictions_h5)


@pytest.fixture(scope="module")
def model(sample, tracks, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model trained on the sample's own predictions."""
    out = tmp_path_factory.mktemp("model") / "model.safetensors"
    return train_on_tracks([tracks], out, fps=30.0, config=TrainConfig(**TINY), progress=False)


@pytest.fixture(scope="module")
def result(tracks, model) -> CleanResult:
    return clean_tracks(tracks, model, pcutoff=0.6)


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise bitwise equality with NaN equal to NaN."""
    return (a == b) | (np.isnan(a) & np.isnan(b))


# ============================================================================ clean_tracks
def test_clean_tracks_keeps_unflagged_points_and_input(tracks, model):
    xy0 = tracks.xy.copy()
    lik0 = tracks.likelihood.copy()
    res = clean_tracks(tracks, model, pcutoff=0.6)
    # the input is never modified
    assert _same(tracks.xy, xy0).all()
    assert _same(tracks.likelihood, lik0).all()
    kept = res.status == KEPT
    assert kept.any() and (~kept).any()
    # every kept point is bit-identical, coordinates and likelihood
    assert _same(res.tracks.xy, xy0)[kept].all()
    assert _same(res.tracks.likelihood, lik0)[kept].all()
    assert res.tracks.xy.shape == xy0.shape
    assert list(res.tracks.bodyparts) == list(tracks.bodyparts)
    assert res.tracks.index.equals(tracks.index)


def test_status_codes_are_consistent(tracks, result):
    missing = ~np.isfinite(tracks.xy).all(-1)
    st = result.status
    assert st.dtype == np.uint8 and set(np.unique(st)) <= set(range(len(STATUS_NAMES)))
    # gap-filled only where the input was missing, replaced only where it was present
    assert not (st == GAP_FILLED)[~missing].any()
    assert not (st == REPLACED)[missing].any()
    assert (st == GAP_FILLED).any() and (st == REPLACED).any()
    changed = (st == GAP_FILLED) | (st == REPLACED)
    assert np.isfinite(result.tracks.xy[changed]).all()
    # changed points get the documented likelihood (1 + pcutoff) / 2
    np.testing.assert_allclose(result.tracks.likelihood[changed], 0.8)
    # every suspect point (rules) is repaired or left (long run) - never silently "kept" while
    # also flagged with probability below 1
    assert (result.probability[result.suspect.mask] == 1.0).all()
    # identity-fixed points keep values that came from another keypoint of the input
    fixed = st == IDENTITY_FIXED
    if fixed.any():
        assert np.isfinite(result.tracks.xy[fixed]).all()
    counts = result.summary()
    assert sum(counts.values()) == st.size
    assert result.report["status_counts"] == counts
    assert result.uncertainty.shape == st.shape


@pytest.mark.parametrize("min_run", [0, 10_000])
def test_network_or_interpolation_only_touch_flagged_points(tracks, model, result, min_run):
    res = clean_tracks(tracks, model, pcutoff=0.6, min_network_run=min_run, repair="network")
    # same detection whatever repairs the points (which points are changed may differ:
    # an observed point that a repair does not contradict is kept)
    np.testing.assert_array_equal(res.suspect.mask, result.suspect.mask)
    kept = res.status == KEPT
    assert _same(res.tracks.xy, tracks.xy)[kept].all()
    changed = (res.status == REPLACED) | (res.status == GAP_FILLED)
    assert np.isfinite(res.tracks.xy[changed]).all()
    if min_run == 0:
        assert res.report["network_points"] > 0
    else:
        assert res.report["network_points"] == 0
    assert (res.uncertainty[~changed] == 0).all()


def _longest_run(ok: np.ndarray) -> tuple[int, int]:
    """Length and start of the longest run of True in ``ok`` (first of equals; (0, 0) if none)."""
    starts, stops = true_runs(ok)
    if not len(starts):
        return 0, 0
    j = int(np.argmax(stops - starts))
    return int(stops[j] - starts[j]), int(starts[j])


def test_stale_points_are_repaired_not_kept_as_plausible(tracks, model, result):
    """A confident point that repeats its value while the body moves (the STUCK rule) is a
    stale value, not a measurement: keep_plausible does not keep it, however close the
    repair lands; ``keep_stuck=True`` lets it (the behaviour before)."""
    from stablemotion_dlc.dlc.labels import STUCK

    free = ~result.suspect.mask[:, 0] & (result.status[:, 0] == KEPT)
    k = int(np.argmax(free.sum(0)))
    step = np.linalg.norm(np.diff(tracks.xy[:, 0, k], axis=0), axis=-1)
    # a slow stretch: the frozen value stays near the truth (the repair's own radius)
    ok = free[1:, k] & free[:-1, k] & (step < 3.0)
    n, s0 = _longest_run(ok)
    assert n >= 12
    a = s0 + 2
    frozen = tracks.copy()
    frozen.xy[a:a + 8, 0, k] = frozen.xy[a - 1, 0, k]
    stale = np.zeros(tracks.xy.shape[:3], bool)
    stale[a:a + 8, 0, k] = True
    res = clean_tracks(frozen, model, pcutoff=0.6, learn_jitter=False)
    stuck = (res.suspect.reasons & STUCK) > 0
    assert stuck[stale].mean() > 0.5
    assert (res.status[stale & stuck] == REPLACED).all()
    # the repair ends the freeze: no two repaired frames in a row hold the same value
    fixed = res.tracks.xy[a:a + 8, 0, k][stuck[a:a + 8, 0, k]]
    assert (np.linalg.norm(np.diff(fixed, axis=0), axis=-1) > 0.05).all()
    old = clean_tracks(frozen, model, pcutoff=0.6, learn_jitter=False, keep_stuck=True)
    # before, the repair landing within its own radius kept the stale value
    assert (old.status[stale & stuck] == KEPT).mean() > 0.5
    assert res.report["settings"]["keep_stuck"] is False


def test_learned_jitter_is_smoothed_or_marked_for_review(tracks, model, result):
    """A noise burst on confident points that no rule flags: the file's learned jitter
    detector finds it; by default it is smoothed (reason ``jitter`` in the review list), with
    ``smooth_jitter=False`` it is kept bit for bit and marked (probability and
    ``jitter_points``)."""
    free = ~result.suspect.mask[:, 0] & (result.status[:, 0] == KEPT)
    k = int(np.argmax(free.sum(0)))
    ok = np.isfinite(tracks.xy[:, 0, k]).all(-1) & free[:, k]
    # the longest stretch of such points
    n, s0 = _longest_run(ok)
    n = min(n, 120)
    assert n >= 60
    burst = np.zeros(tracks.xy.shape[:3], bool)
    burst[s0 + 5:s0 + n - 5, 0, k] = True
    noisy = tracks.copy()
    noisy.xy[burst] += np.random.default_rng(0).normal(0, 4.0, (int(burst.sum()), 2))
    res = clean_tracks(noisy, model, pcutoff=0.6)
    # most of it (its first and last frames look like an edge of normal noise)
    assert (res.status[burst] == REPLACED).mean() > 0.6
    assert res.report["settings"]["learn_jitter"] is True
    assert res.report["settings"]["smooth_jitter"] is True
    from stablemotion_dlc.dlc.review import repair_spans

    smoothed = [sp for sp in repair_spans(res) if sp.keypoint == k and sp.reasons == ("jitter",)]
    assert smoothed and all(sp.status == "replaced" for sp in smoothed)
    assert sum(sp.n_frames for sp in smoothed) >= 0.6 * burst.sum()
    assert res.smoothed is not None and res.smoothed[burst].mean() > 0.6
    assert res.report["smoothed_points"] == int(res.smoothed.sum())
    how = [r["smoothing"] for r in res.report["repair"].values() if "smoothing" in r]
    assert sum(h["savgol_points"] + h["median_points"] for h in how) == res.report[
        "smoothed_points"]
    assert (res.status[res.smoothed] == REPLACED).all()
    from stablemotion_dlc.dlc.review import REJECTED, Review, apply_review

    undo = Review()
    sp0 = max(smoothed, key=lambda sp: sp.n_frames)
    undo.decide(sp0, REJECTED)  # rejecting a smoothing restores the observed points
    back = apply_review(noisy, res, undo)
    rows = slice(sp0.start, sp0.stop)
    assert _same(back.tracks.xy[rows, 0, k], noisy.xy[rows, 0, k]).all()
    assert back.smoothed is not None and not back.smoothed[rows, 0, k].any()
    kept = clean_tracks(noisy, model, pcutoff=0.6, smooth_jitter=False)
    marked = kept.jitter_points()
    assert marked[burst].mean() > 0.6
    assert (kept.status[marked] == KEPT).all()
    assert _same(kept.tracks.xy, noisy.xy)[marked].all()
    assert (kept.probability[marked] > 0.5).all()
    assert kept.report["jitter_points"] == int(marked.sum())
    # the marks are listed for review: rejecting one changes nothing, accepting one labels
    # its points bad for fine-tuning
    from stablemotion_dlc.dlc.review import ACCEPTED, review_labels

    spans = [sp for sp in repair_spans(kept) if sp.status == "kept"]
    assert spans and all(sp.reasons == ("jitter",) and sp.probability > 0.5 for sp in spans)
    assert sum(sp.n_frames for sp in spans) == int(marked.sum())
    span = max(spans, key=lambda sp: sp.n_frames)
    review = Review()
    review.decide(span, REJECTED)
    back = apply_review(noisy, kept, review)
    assert _same(back.tracks.xy, kept.tracks.xy).all()
    review.decide(span, ACCEPTED)
    bad = review_labels(kept.suspect.mask, kept, review)
    assert bad[span.start:span.stop, span.individual, span.keypoint].all()
    # without the detector nothing is marked and nothing of the burst is smoothed
    off = clean_tracks(noisy, model, pcutoff=0.6, learn_jitter=False, smooth_jitter=False)
    assert off.jitter is None and not off.jitter_points().any()


def test_every_point_suspect_is_reported_and_unchanged(tracks, model):
    bad = tracks.copy()
    bad.likelihood = np.full_like(bad.likelihood, 0.05)
    res = clean_tracks(bad, model, pcutoff=0.6, fix_swaps=False)
    assert (res.status == KEPT).all()
    assert _same(res.tracks.xy, bad.xy).all()
    assert _same(res.tracks.likelihood, bad.likelihood).all()
    assert any("every point is suspect" in n for n in res.report["notes"])


def test_flag_mask_replaces_detection(tracks, model):
    flag = np.zeros(tracks.xy.shape[:3], dtype=bool)
    present = np.isfinite(tracks.xy).all(-1)
    rows = np.flatnonzero(present[:, 0, 3])[100:110]
    flag[rows, 0, 3] = True
    res = clean_tracks(tracks, model, pcutoff=0.6, detect=None, flag_mask=flag,
                       fix_swaps=False)
    changed = res.status != KEPT
    # only the given points and missing points are repaired
    assert not (changed & ~(flag | ~present)).any()
    assert changed[rows, 0, 3].all()
    with pytest.raises(ValueError, match="flag_mask"):
        clean_tracks(tracks, model, flag_mask=flag[:10])


def test_model_for_other_bodyparts_is_refused(tracks, model):
    other = tracks.copy()
    other.bodyparts = [f"part{j}" for j in range(len(tracks.bodyparts))]
    with pytest.raises(ModelMismatchError) as exc:
        clean_tracks(other, model)
    msg = str(exc.value)
    assert tracks.bodyparts[0] in msg and "part0" in msg


def test_corrupt_model_file_is_a_model_error(tracks, tmp_path):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"\x00not a model\xff" * 10)
    with pytest.raises(ModelError):
        clean_tracks(tracks, bad)


# ============================================================================ saving
def test_save_clean_result_writes_all_and_refuses_overwrite(result, tmp_path):
    out = tmp_path / "videoDLC_x_filtered.h5"
    path = save_clean_result(result, out)
    assert path == out
    csv = out.with_suffix(".csv")
    prov = provenance_path(out)
    assert out.exists() and csv.exists() and prov.exists()
    assert prov.suffix == ".npz"
    back = read_tracks(out)
    assert _same(back.xy, result.tracks.xy).all()
    assert _same(read_tracks(csv).xy, result.tracks.xy).all()
    with np.load(prov) as z:
        assert (z["status"] == result.status).all()
        assert list(z["status_names"]) == list(STATUS_NAMES)
        assert z["probability"].shape == result.status.shape
        # the points the learned jitter detector marks for review (kept)
        assert (z["jitter"] == result.jitter_points()).all()
        assert (result.status[z["jitter"]] == KEPT).all()
        # and those it smoothed (replaced)
        assert z["smoothed"].shape == result.status.shape
        assert (result.status[z["smoothed"]] == REPLACED).all()
    stamp = [p.stat().st_mtime_ns for p in (out, csv, prov)]
    with pytest.raises(FileExistsError):
        save_clean_result(result, out)
    assert [p.stat().st_mtime_ns for p in (out, csv, prov)] == stamp
    # only the three outputs, no temporary files left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (out, csv, prov))
    save_clean_result(result, out, overwrite=True)


# ============================================================================ clean_h5
@pytest.fixture()
def project(tmp_path):
    """A fresh 20 s sample project (config.yaml + predictions, no video)."""
    return make_sample_project(tmp_path / "proj", seed=5, duration_s=20.0, video=False,
                               progress=False)


def test_clean_h5_trains_first_then_writes_filtered(project, monkeypatch):
    import stablemotion_dlc.dlc.pipeline as pl

    seen = {}
    real_train = pl.train_for_project

    def small_train(*args, **kwargs):
        seen["steps"] = kwargs.get("steps")
        seen["trained_on"] = [t.meta["source"] for t in args[1]]
        kwargs["config"] = TrainConfig(**{**TINY, "steps": 10})
        return real_train(*args, **kwargs)

    monkeypatch.setattr(pl, "train_for_project", small_train)
    src = project.predictions_h5
    before = src.read_bytes()
    out = clean_h5(project.config, project.video, train_steps=10, progress=False)
    assert seen["steps"] == 10
    assert seen["trained_on"] == [str(src)]  # read once, for training and cleaning
    assert out == cleaned_path(src)
    assert out.name == src.stem + "_filtered.h5"
    assert out.exists() and out.with_suffix(".csv").exists()
    assert default_model_path(project.config).exists()
    back = read_tracks(out)
    assert back.xy.shape == read_tracks(src).xy.shape
    assert src.read_bytes() == before  # input untouched
    # an existing output is refused, unless overwrite=True (the model is now reused)
    with pytest.raises(FileExistsError):
        clean_h5(project.config, project.video, progress=False)
    outputs = [out, out.with_suffix(".csv"), provenance_path(out)]
    first = [p.read_bytes() for p in outputs]
    time.sleep(2.1)  # past the resolution of the times HDF5 and zip files can hold
    assert clean_h5(project.config, project.video, overwrite=True, progress=False) == out
    # the same run gives the same files, byte for byte (a checksum tells a rerun apart)
    assert [p.read_bytes() for p in outputs] == first


def test_interrupted_clean_h5_leaves_no_output(project, model):
    from stablemotion_dlc.core.inference import CleanupCancelled

    with pytest.raises(CleanupCancelled):
        clean_h5(project.config, project.video, model=model, progress=False,
                 should_stop=lambda: True)
    out = cleaned_path(project.predictions_h5)
    leftovers = [p.name for p in out.parent.iterdir() if "filtered" in p.name
                 or "stablemotion" in p.name]
    assert leftovers == []


def test_missing_model_file_is_clear(project, tmp_path):
    with pytest.raises(FileNotFoundError, match="model file not found"):
        clean_h5(project.config, project.video, model=tmp_path / "nope.safetensors",
                 progress=False)


def test_video_with_other_frame_count_is_refused(project, model, tmp_path):
    pytest.importorskip("stablemotion_dlc.dlc.video",
                        reason="stablemotion_dlc.dlc.video (VideoReader) not available yet")
    short = make_sample_project(tmp_path / "short", seed=6, duration_s=1.0, video=True,
                                progress=False)
    if not short.video.exists():
        pytest.skip("the sample could not render a video on this machine")
    shutil.copy(short.video, project.video)
    with pytest.raises(ConfigError, match="frames"):
        clean_h5(project.config, project.video, model=model, progress=False)
    assert not cleaned_path(project.predictions_h5).exists()
