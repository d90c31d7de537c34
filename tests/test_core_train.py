"""Training loop: masks, normaliser, loss falls, exact resume, refusing to overwrite."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from stablemotion_dlc.core.checkpoint import load_checkpoint
from stablemotion_dlc.core.normalize import Normalizer, fit_normalizer
from stablemotion_dlc.core.representation import Batch
from stablemotion_dlc.core.synthetic import SyntheticConfig, SyntheticSource, make_synthetic
from stablemotion_dlc.core.train import TrainConfig, inpaint_label_mask, prepare_batch, train

torch.set_num_threads(1)

TINY = {"width": 32, "depth": 2, "heads": 2}


@pytest.fixture(scope="module")
def source() -> SyntheticSource:
    data = make_synthetic(3, 400, SyntheticConfig(n_groups=3), seed=0)
    return SyntheticSource(data, 32, labelled=("dropout", "spike"), inject={"spike": 0.01})


def _cfg(**kw: object) -> TrainConfig:
    base = {"window": 32, "batch_size": 8, "steps": 6, "lr": 2e-3, "warmup_steps": 0,
            "model": "tiny", "dit": TINY, "log_every": 2, "checkpoint_every": 3,
            "normalizer_batches": 2}
    base.update(kw)
    return TrainConfig(**base)


def test_inpaint_mask_ratio_and_minimum() -> None:
    cfg = TrainConfig(min_mask_frames=5)
    rng = np.random.default_rng(0)
    for _ in range(200):
        m = inpaint_label_mask(rng, 64, 4, cfg)
        frames = m.any(axis=1)
        assert frames.sum() >= 5 or m.sum() >= 5
        assert m.shape == (64, 4) and m.any()


def _runs(col: np.ndarray) -> list[int]:
    """Lengths of the True runs of a 1-D boolean array."""
    edges = np.diff(np.r_[0, col.astype(np.int8), 0])
    return (np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).tolist()


def test_short_gap_masks_look_like_dlc_errors() -> None:
    n_frames, n_labels = 64, 10
    cfg = TrainConfig(short_gap_share=1.0)
    rng = np.random.default_rng(3)
    masks = [inpaint_label_mask(rng, n_frames, n_labels, cfg) for _ in range(2000)]
    labels_hit, runs = [], []
    for m in masks:
        assert m.shape == (n_frames, n_labels) and m.dtype == bool and m.any()
        labels_hit.append(int(m.any(axis=0).sum()))
        for j in np.flatnonzero(m.any(axis=0)):
            runs += _runs(m[:, j])
    labels_hit, runs = np.array(labels_hit), np.array(runs)
    # 1-3 spans on 1-3 labels each: never more than 9 labels, often a single one
    assert labels_hit.max() <= 9 and np.mean(labels_hit == 1) > 0.2
    # never a whole-frame mask
    assert not any(m.all(axis=1).any() for m in masks)
    # log-uniform lengths 1..60: many 1-3 frame gaps, few long ones, none over 60 unless merged
    assert runs.min() == 1 and np.mean(runs <= 3) > 0.25 and np.mean(runs <= 15) > 0.6
    assert np.mean(runs >= 30) > 0.03 and np.percentile(runs, 99) <= 64
    # capped at short windows
    short = [inpaint_label_mask(rng, 5, 2, cfg) for _ in range(200)]
    assert all(m.shape == (5, 2) and m.any() for m in short)
    # reproducible with the same seed
    again = [inpaint_label_mask(np.random.default_rng(3), n_frames, n_labels, cfg)
             for _ in range(1)]
    assert np.array_equal(again[0], masks[0])


def test_short_gap_share_mixes_and_default_is_unchanged() -> None:
    n_frames, n_labels = 64, 10
    default = [inpaint_label_mask(np.random.default_rng(7), n_frames, n_labels, TrainConfig())
               for _ in range(3)]
    explicit = [inpaint_label_mask(np.random.default_rng(7), n_frames, n_labels,
                                   TrainConfig(short_gap_share=0.0)) for _ in range(3)]
    assert all(np.array_equal(a, b) for a, b in zip(default, explicit))
    rng = np.random.default_rng(1)
    cfg = TrainConfig(short_gap_share=0.5, whole_frame_share=1.0, span_share=1.0)
    whole = [inpaint_label_mask(rng, n_frames, n_labels, cfg).all(axis=1).any()
             for _ in range(1000)]
    # whole-frame masks come only from the ordinary mode, i.e. about half of the windows
    assert 0.4 < np.mean(whole) < 0.6
    with pytest.raises(ValueError, match="short_gap_share"):
        TrainConfig(short_gap_share=1.5)


def test_prepare_batch_tasks_residual_and_weights(source: SyntheticSource) -> None:
    cfg = _cfg(detection_share=0.5)
    rng = np.random.default_rng(1)
    batch = source.sample(rng, 16)
    norm = fit_normalizer([batch], label_of_feature=source.layout.label_of_feature)
    tb = prepare_batch(batch, source.layout, norm, cfg, rng, torch.device("cpu"))
    d = source.layout.n_features
    det = tb["det"]
    assert det.any() and (~det).any()
    assert tb["gen"][det, :, d:].all() and not tb["gen"][det, :, :d].any()
    assert not tb["gen"][~det, :, d:].any() and tb["gen"][~det, :, :d].any()
    assert torch.equal(tb["weight"][..., :d], torch.from_numpy(batch.observed))
    assert (tb["t"][tb["gen"]] >= 1).all()
    # given entries are the normalised features; labels map to -1/+1
    z = torch.from_numpy(norm.features(batch.features))
    given = ~tb["gen"][..., :d]
    assert torch.equal(tb["x0"][..., :d][given], z[given])
    assert set(tb["x0"][..., d:].unique().tolist()) <= {-1.0, 1.0}


def test_detection_full_noise_share(source: SyntheticSource) -> None:
    batch = source.sample(np.random.default_rng(2), 32)
    norm = fit_normalizer([batch], label_of_feature=source.layout.label_of_feature)
    d = source.layout.n_features

    def prep(**kw: object) -> dict[str, torch.Tensor]:
        return prepare_batch(batch, source.layout, norm, _cfg(detection_share=0.5, **kw),
                             np.random.default_rng(3), torch.device("cpu"))

    full = prep(detection_full_noise_share=1.0)
    det = full["det"]
    assert det.any() and (full["t"][det][..., d:] == 50).all()  # T = 50: pure noise
    # the default draws nothing extra: same tasks, times and masks as before the option
    default, zero = prep(), prep(detection_full_noise_share=0.0)
    for key in ("t", "gen", "det", "x0"):
        assert torch.equal(default[key], zero[key])
    assert (default["t"][default["det"]][..., d:] < 50).any()
    with pytest.raises(ValueError, match="detection_full_noise_share"):
        TrainConfig(detection_full_noise_share=-0.1)


def test_normalizer_is_robust_to_spikes() -> None:
    rng = np.random.default_rng(0)
    f = rng.normal(3.0, 2.0, size=(8, 200, 2)).astype(np.float32)
    f[:, ::50, 0] += 1e4
    f[..., 1] = 5.0  # constant channel
    b = Batch(f, np.zeros((8, 200, 1), np.float32), np.ones_like(f, dtype=bool))
    n = fit_normalizer([b])
    assert abs(n.mean[0] - 3.0) < 0.2 and abs(n.std[0] - 2.0) < 0.3
    assert n.std[1] > 0
    assert Normalizer.labels(np.array([0.0, 1.0])).tolist() == [-1.0, 1.0]
    back = n.denorm_features(n.features(f))
    np.testing.assert_allclose(back, f, rtol=1e-5, atol=1e-2)


def test_normalizer_scale_is_not_taken_from_a_pile() -> None:
    # a keypoint that holds still in 60 % of the frames: its velocity sits on 0 up to float32
    # rounding there, and 1.4826 MAD of that pile (1e-7) put every moving frame millions of
    # "standard deviations" out
    rng = np.random.default_rng(1)
    f = rng.normal(0.0, 2.0, size=(8, 200, 2)).astype(np.float32)
    still = rng.random((8, 200)) < 0.6
    f[..., 0][still] = rng.normal(0.0, 1e-7, still.sum())
    b = Batch(f, np.zeros((8, 200, 1), np.float32), np.ones_like(f, dtype=bool))
    n = fit_normalizer([b])
    assert 0.3 < n.std[0] < 3.0  # the trimmed spread of the channel, not the pile's width
    assert abs(n.std[1] - 2.0) < 0.3  # an ordinary channel keeps its MAD
    moving = ~still
    assert np.median(np.abs(n.features(f)[..., 0][moving])) < 10


def test_loss_falls(tmp_path: Path, source: SyntheticSource) -> None:
    out = tmp_path / "m.safetensors"
    cfg = _cfg(steps=80, log_every=10, checkpoint_every=0, log_csv=str(tmp_path / "log.csv"))
    train(source, source, out, cfg, progress=False)
    rows = list(csv.DictReader((tmp_path / "log.csv").open()))
    losses = [float(r["loss"]) for r in rows]
    assert len(losses) == 8
    assert np.mean(losses[-2:]) < 0.8 * np.mean(losses[:2])
    b = load_checkpoint(out, expected_spec=source.spec())
    assert b.step == 80 and b.train_config["window"] == 32


def test_resume_is_exact(tmp_path: Path, source: SyntheticSource) -> None:
    straight = tmp_path / "a.safetensors"
    train(source, source, straight, _cfg(steps=6), progress=False)
    split = tmp_path / "b.safetensors"
    train(source, source, split, _cfg(steps=3), progress=False)
    assert load_checkpoint(split).step == 3
    train(source, source, split, _cfg(steps=6), progress=False)
    a = load_checkpoint(straight, training_state=True)
    b = load_checkpoint(split, training_state=True)
    assert b.step == 6
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    for k, v in a.raw_state.items():
        assert torch.equal(v, b.raw_state[k]), k
    assert np.array_equal(a.normalizer.std, b.normalizer.std)


def test_refuses_to_overwrite_without_resume(tmp_path: Path, source: SyntheticSource) -> None:
    out = tmp_path / "m.safetensors"
    train(source, source, out, _cfg(steps=1), progress=False)
    with pytest.raises(FileExistsError, match="m.safetensors"):
        train(source, source, out, _cfg(steps=1), resume=False,
              progress=False)
    train(source, source, out, _cfg(steps=2), resume=False,
          overwrite=True, progress=False)
    assert load_checkpoint(out).step == 2


def test_resume_refuses_other_representation(tmp_path: Path, source: SyntheticSource) -> None:
    from stablemotion_dlc.errors import ModelMismatchError

    out = tmp_path / "m.safetensors"
    train(source, source, out, _cfg(steps=1), progress=False)
    with pytest.raises(ModelMismatchError, match="n_groups"):
        train(source, source, out, _cfg(steps=2), progress=False, extra_spec={"n_groups": 5})


def test_core_import_is_light() -> None:
    import subprocess
    import sys

    code = ("import sys, stablemotion_dlc.core; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True,
                   env={"PYTHONPATH": str(Path(__file__).resolve().parents[1])})
