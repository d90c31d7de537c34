"""Worked example: a new representation (3D keypoints) through the unchanged core.

Read with ``docs/architecture.md``. Everything the core needs from a representation is here:
``encode`` (data -> finite features, prior labels, observed mask, decode context), ``decode``,
``layout`` (which label channel governs which feature channel), ``spec`` / ``from_spec``
(what the model file records and how the representation is rebuilt from it) and
``to_window`` / ``from_window`` (identity here: the features need no per-window placement).
A :class:`~stablemotion_dlc.core.representation.BatchSource` feeds training windows with
labelled corruption. Nothing in ``stablemotion_dlc/core`` is edited;
``tests/test_architecture_example.py`` runs this file through train -> Cleaner -> decode.

Run it (about a minute on a CPU)::

    python docs/examples/keypoints3d.py
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from stablemotion_dlc.core.inference import Cleaner
from stablemotion_dlc.core.representation import Batch, Encoded, LabelLayout
from stablemotion_dlc.core.train import TrainConfig, train


class Keypoints3D:
    """3D keypoints ``(T, K, 3)`` (NaN = missing): one label channel per keypoint.

    Features are the body centre ``(3,)`` followed by every keypoint's offset from it
    ``(3K,)``: the offsets are what the network learns (posture), the centre is the path. A
    keypoint's label governs its three offset channels; the centre is governed by the first
    keypoint's label and, as ``extra_labels``, by all others (it is their mean).
    """

    name = "keypoints3d"
    version = 1
    places_windows = False  # to_window / from_window are the identity

    def __init__(self, keypoints: Sequence[str], fps: float | None = None) -> None:
        self.keypoints = tuple(keypoints)
        self.fps = fps

    # ------------------------------------------------------------------ what the core reads
    @property
    def layout(self) -> LabelLayout:
        """Centre (3 channels) then 3 offset channels per keypoint."""
        k = len(self.keypoints)
        of_feature = (0, 0, 0) + tuple(j for j in range(k) for _ in range(3))
        extra = ((tuple(range(1, k)),) * 3) + ((),) * (3 * k)
        names = ("centre_x", "centre_y", "centre_z") + tuple(
            f"{n}_{c}" for n in self.keypoints for c in "xyz"
        )
        return LabelLayout(3 + 3 * k, k, of_feature, extra, names)

    def spec(self) -> dict[str, Any]:
        """Everything a model file must match to be used on these data."""
        return {"name": self.name, "version": self.version,
                "keypoints": list(self.keypoints), "fps": self.fps}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Keypoints3D:
        """Rebuild from a model file's spec."""
        if spec.get("name") != cls.name or int(spec.get("version", 0)) != cls.version:
            raise ValueError(f"not a {cls.name} v{cls.version} spec: {spec.get('name')!r}")
        return cls(spec["keypoints"], spec.get("fps"))

    # ------------------------------------------------------------------ data <-> features
    def encode(self, points: np.ndarray, suspect: np.ndarray | None = None) -> Encoded:
        """``(T, K, 3)`` points -> finite features, labels (suspect or missing) and mask."""
        p = np.asarray(points, np.float64)
        t, k, _ = p.shape
        missing = ~np.isfinite(p).all(-1)  # (T, K)
        filled = p.copy()
        frames = np.arange(t)
        for j in range(k):  # linear fill in time: the core needs finite features
            ok = ~missing[:, j]
            if not ok.any():
                filled[:, j] = 0.0
                continue
            for c in range(3):
                filled[:, j, c] = np.interp(frames, frames[ok], p[ok, j, c])
        centre = filled.mean(axis=1)  # (T, 3)
        offsets = (filled - centre[:, None]).reshape(t, 3 * k)
        features = np.concatenate([centre, offsets], axis=1)
        labels = missing.astype(np.float32)
        if suspect is not None:
            labels = np.maximum(labels, np.asarray(suspect, np.float32))
        observed = ~self.layout.feature_mask(missing)
        return Encoded(features, labels, observed, context=None)

    def decode(self, features: np.ndarray, context: Any = None) -> np.ndarray:
        """Features -> ``(T, K, 3)`` points."""
        f = np.asarray(features, np.float64)
        k = len(self.keypoints)
        return f[:, None, :3] + f[:, 3:].reshape(len(f), k, 3)

    def to_window(self, features: np.ndarray) -> tuple[np.ndarray, None]:
        """Identity (no per-window placement)."""
        return features, None

    def from_window(self, features: np.ndarray, frame: None = None) -> np.ndarray:
        """Identity."""
        return features


class Windows3D:
    """Training windows of encoded sequences with injected jumps, labelled as corrupted."""

    def __init__(self, rep: Keypoints3D, encoded: Sequence[Encoded], window: int) -> None:
        self.rep, self.encoded, self.window = rep, list(encoded), window

    def sample(self, rng: np.random.Generator, batch_size: int) -> Batch:
        """``batch_size`` windows; in each, one keypoint jumps for 1-8 frames."""
        feats, labels, observed = [], [], []
        for _ in range(batch_size):
            enc = self.encoded[int(rng.integers(len(self.encoded)))]
            s = int(rng.integers(0, len(enc.features) - self.window + 1))
            f = np.array(enc.features[s : s + self.window], np.float32)
            lab = np.array(enc.labels[s : s + self.window], np.float32)
            j = int(rng.integers(lab.shape[1]))
            a = int(rng.integers(self.window - 8))
            b = a + int(rng.integers(1, 9))
            f[a:b, 3 + 3 * j : 6 + 3 * j] += rng.normal(0.0, 20.0, 3).astype(np.float32)
            lab[a:b, j] = 1.0
            feats.append(f)
            labels.append(lab)
            observed.append(enc.observed[s : s + self.window])
        return Batch(np.stack(feats), np.stack(labels), np.stack(observed))


def clean_points(points: np.ndarray, model: str | Path, threshold: float = 0.5,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Detect and repair bad 3D keypoints with a trained model.

    Returns the cleaned points and the ``(T, K)`` mask of repaired points. The core keeps
    every feature entry it was not asked to regenerate, but a repaired keypoint also moves
    the centre channels of its frames; so, as the DLC pipeline does, only repaired points
    are taken from the decoded result and every other point is copied bit for bit.
    """
    cleaner = Cleaner.from_file(model, Keypoints3D)  # the representation rebuilt from the file
    rep = cleaner.rep
    assert isinstance(rep, Keypoints3D)
    enc = rep.encode(points)
    prob = cleaner.detect(enc.features, prior_labels=enc.labels, seed=seed)
    mask = (prob > threshold) | (enc.labels > 0.5)
    result = cleaner.cleanup(enc.features, mask, suspicion=prob, seed=seed)
    decoded = rep.decode(result.features, enc.context)
    return np.where(mask[..., None], decoded, points), mask


def toy_motion(n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """A rigid four-point body walking a circle in 3D, ``(T, 4, 3)``."""
    t = np.arange(n_frames) / 30.0
    centre = np.stack([100 * np.cos(t / 3), 100 * np.sin(t / 3), 5 * np.sin(2 * t)], -1)
    body = np.array([[10.0, 0, 0], [-10, 0, 0], [0, 6, 0], [0, 0, 8]])
    return centre[:, None] + body[None] + rng.normal(0, 0.2, (n_frames, 4, 3))


def main(steps: int = 200) -> None:
    """Train on toy motion, corrupt a copy, clean it and print the error before and after."""
    rng = np.random.default_rng(0)
    rep = Keypoints3D(["head", "tail", "left", "top"], fps=30.0)
    data = toy_motion(600, rng)
    config = TrainConfig(window=32, steps=steps, batch_size=16, model="tiny", log_every=0,
                         checkpoint_every=0, normalizer_batches=4, warmup_steps=10)
    with tempfile.TemporaryDirectory() as tmp:
        model = train(Windows3D(rep, [rep.encode(data)], 32), rep,
                      Path(tmp) / "model.safetensors", config, progress=False)
        bad = data.copy()
        bad[100:106, 2] += 30.0  # one keypoint jumps away for 6 frames
        bad[300:303, 0] = np.nan  # and another is missing
        # a short training run gives low but well separated probabilities: a low threshold
        cleaned, repaired = clean_points(bad, model, threshold=0.2)
        before = np.linalg.norm(bad - data, axis=-1)[100:106, 2].mean()
        after = np.linalg.norm(cleaned - data, axis=-1)[100:106, 2].mean()
        print(f"repaired {int(repaired.sum())} points; the jump: {before:.1f} -> {after:.1f} "
              "units from the truth")


if __name__ == "__main__":
    main()
