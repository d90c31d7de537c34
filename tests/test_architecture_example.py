"""The worked example of docs/architecture.md: a 3D-keypoint representation through the core.

The example lives in ``docs/examples/keypoints3d.py`` (read by newcomers); this test keeps it
working: encode/decode round trip, the core's representation protocol, training, loading
with the representation rebuilt from the model file, detection and cleanup, decode.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from stablemotion_dlc.core.representation import Representation  # noqa: E402
from stablemotion_dlc.core.train import TrainConfig, train  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "keypoints3d.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("keypoints3d_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_example_is_a_representation_and_round_trips(example) -> None:
    rep = example.Keypoints3D(["a", "b", "c", "d"], fps=30.0)
    assert isinstance(rep, Representation)
    data = example.toy_motion(50, np.random.default_rng(0))
    data[10:12, 1] = np.nan
    enc = rep.encode(data)
    assert enc.features.shape == (50, rep.layout.n_features) and np.isfinite(enc.features).all()
    assert enc.labels[10:12, 1].all() and not enc.observed[10:12, 6:9].any()
    back = rep.decode(enc.features, enc.context)
    ok = np.isfinite(data).all(-1)
    np.testing.assert_allclose(back[ok], data[ok], atol=1e-9)
    again = type(rep).from_spec(rep.spec())
    assert again.spec() == rep.spec() and again.layout == rep.layout


def test_example_trains_and_cleans_through_the_core(example, tmp_path) -> None:
    rng = np.random.default_rng(0)
    rep = example.Keypoints3D(["head", "tail", "left", "top"], fps=30.0)
    data = example.toy_motion(200, rng)
    cfg = TrainConfig(window=32, steps=3, batch_size=4, model="tiny", log_every=0,
                      checkpoint_every=0, normalizer_batches=1, warmup_steps=0)
    model = train(example.Windows3D(rep, [rep.encode(data)], 32), rep,
                  tmp_path / "model.safetensors", cfg, progress=False, device="cpu")
    bad = data.copy()
    bad[50:54, 2] += 30.0
    bad[120:122, 0] = np.nan
    cleaned, repaired = example.clean_points(bad, model)
    assert cleaned.shape == data.shape and np.isfinite(cleaned).all()
    assert repaired[120:122, 0].all()  # missing points are always repaired
    # every point that was not repaired keeps its value bit for bit
    keep = ~repaired
    assert np.array_equal(cleaned[keep], bad[keep])
