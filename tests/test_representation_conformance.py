"""Every representation runs through the same core: encode -> train -> Cleaner -> decode.

A new representation (3D keypoints, another skeleton) is added to ``CASES`` and must pass
these tests without any change to ``stablemotion_dlc.core``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")

from stablemotion_dlc.core.inference import Cleaner  # noqa: E402
from stablemotion_dlc.core.representation import Batch, Representation  # noqa: E402
from stablemotion_dlc.core.train import TrainConfig, train  # noqa: E402
from stablemotion_dlc.dlc.representation import KeypointRepresentation  # noqa: E402
from stablemotion_dlc.errors import ModelMismatchError  # noqa: E402
from stablemotion_dlc.smpl.amass import generate_motion  # noqa: E402
from stablemotion_dlc.smpl.rifke import RifkeRepresentation  # noqa: E402

N_FRAMES = 70
WINDOW = 16


@dataclass
class Case:
    """One representation with data, and how to compare its data."""

    rep: Representation
    data: Any
    positions: Callable[[Any], np.ndarray]  # data -> (T, ...) array compared after decode
    tolerance: float


def _dlc_case() -> Case:
    rng = np.random.default_rng(0)
    t = np.arange(N_FRAMES)[:, None]
    centre = np.stack([200 + 40 * np.cos(t / 9), 150 + 30 * np.sin(t / 7)], -1)  # (T, 1, 2)
    offsets = np.array([[0, -12], [-6, 0], [6, 0], [0, 15]], float)
    xy = centre + offsets[None] + rng.normal(0, 0.5, (N_FRAMES, 4, 2))
    xy[30:33, 1] = np.nan  # a gap: filled by encode, never a NaN in the features
    rep = KeypointRepresentation(["nose", "left", "right", "tail"], pose_data=xy, fps=30)
    return Case(rep, xy, lambda d: np.asarray(d, np.float64), 1e-3)


def _smpl_case() -> Case:
    motion = generate_motion(N_FRAMES, np.random.default_rng(1))
    return Case(
        RifkeRepresentation(motion.skeleton, fps=motion.fps), motion, lambda m: m.joints, 1e-4
    )


CASES = {"dlc-keypoints": _dlc_case, "smpl-rifke": _smpl_case}


class _EncodedSource:
    """Training windows of one encoded sequence, placed as the core places them, with one
    frame of each window labelled bad (enough for a few training steps)."""

    def __init__(self, rep: Representation, encoded: Any, window: int) -> None:
        self.rep, self.enc, self.window = rep, encoded, window

    def sample(self, rng: np.random.Generator, batch_size: int) -> Batch:
        n, w = len(self.enc.features), self.window
        feats, labels, observed = [], [], []
        for _ in range(batch_size):
            s = int(rng.integers(0, n - w + 1))
            placed, _ = self.rep.to_window(self.enc.features[s : s + w])
            lab = np.array(self.enc.labels[s : s + w], np.float32)
            lab[int(rng.integers(w)), 0] = 1.0
            feats.append(placed)
            labels.append(lab)
            observed.append(self.enc.observed[s : s + w])
        return Batch(
            np.stack(feats).astype(np.float32), np.stack(labels), np.stack(observed).astype(bool)
        )


@pytest.fixture(scope="module", params=sorted(CASES))
def trained(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Case, Path]:
    case = CASES[request.param]()
    enc = case.rep.encode(case.data)
    out = tmp_path_factory.mktemp(request.param) / "model.safetensors"
    cfg = TrainConfig(
        window=WINDOW,
        steps=2,
        batch_size=4,
        model="tiny",
        seed=0,
        normalizer_batches=1,
        checkpoint_every=0,
        log_every=0,
        warmup_steps=0,
    )
    train(_EncodedSource(case.rep, enc, WINDOW), case.rep, out, cfg, progress=False, device="cpu")
    return case, out


@pytest.mark.parametrize("name", sorted(CASES))
def test_encode_decode_round_trip(name: str) -> None:
    case = CASES[name]()
    rep = case.rep
    assert isinstance(rep, Representation)
    enc = rep.encode(case.data)
    d, n_lab = rep.layout.n_features, rep.layout.n_labels
    assert enc.features.shape == (N_FRAMES, d) and np.isfinite(enc.features).all()
    assert enc.labels.shape == (N_FRAMES, n_lab)
    assert enc.observed.shape == (N_FRAMES, d) and enc.observed.dtype == bool
    back = rep.decode(enc.features, enc.context)
    err = np.abs(case.positions(back) - case.positions(case.data))
    assert np.nanmax(err) < case.tolerance  # (a gap in the data decodes to its fill)
    # placing a window and putting it back is exact (up to float rounding)
    win = np.asarray(enc.features[10 : 10 + WINDOW], np.float64)
    placed, frame = rep.to_window(win)
    assert placed.shape == win.shape
    restored = rep.from_window(placed, frame)
    same = (
        np.ones(d, bool)
        if not rep.places_windows
        else ~np.isin(np.arange(d), _first_row_velocity_channels(rep))
    )
    assert np.allclose(restored[:, same], win[:, same], atol=1e-6)
    # the spec rebuilds an equivalent representation
    again = type(rep).from_spec(rep.spec())
    assert again.spec() == rep.spec() and again.layout == rep.layout


def _first_row_velocity_channels(rep: Representation) -> np.ndarray:
    """Channels ``to_window`` may overwrite in the first row (SMPL: velocities)."""
    names = rep.layout.names
    return np.array([i for i, n in enumerate(names) if "vel" in n], int)


def test_core_cleans_through_the_representation(trained: tuple[Case, Path]) -> None:
    case, path = trained
    rep = case.rep
    cleaner = Cleaner.from_file(path, type(rep), batch_size=4)  # rebuilt from the model
    assert cleaner.rep is not None and cleaner.rep.spec() == rep.spec()
    assert Cleaner.from_file(path, rep).rep is rep  # an instance is checked, then used
    other = (
        RifkeRepresentation if isinstance(rep, KeypointRepresentation) else KeypointRepresentation
    )
    with pytest.raises(ModelMismatchError, match=str(path.name)):
        Cleaner.from_file(path, other)

    enc = rep.encode(case.data)
    prob = cleaner.detect(enc.features, seed=0)
    assert prob.shape == (N_FRAMES, rep.layout.n_labels)
    assert np.all((prob >= 0) & (prob <= 1))
    check = cleaner.check_input(enc.features, prob, prior=enc.labels > 0.5)
    assert np.isfinite(check.feature_shift) and isinstance(check.in_distribution, bool)

    mask = np.zeros((N_FRAMES, rep.layout.n_labels), bool)
    mask[20:26, 0] = True
    mask[60:63, 0] = True
    for placement in ("grid", "centred"):
        res = cleaner.cleanup(enc.features, mask, steps=2, ensemble=2, seed=0, placement=placement)
        keep = ~res.feature_mask
        assert res.feature_mask[20:26].any() and not res.feature_mask[:15].any()
        assert np.array_equal(res.features[keep], np.asarray(enc.features)[keep])
        assert np.isfinite(res.features).all() and res.windows_run >= 1
        out = case.positions(rep.decode(res.features, enc.context))
        ref = case.positions(rep.decode(enc.features, enc.context))
        assert out.shape == ref.shape
        assert np.array_equal(out[:15], ref[:15])  # frames far from the mask decode the same
