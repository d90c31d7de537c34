"""The core's out-of-distribution guard on the DLC path: a model from another camera (here:
the same animal eight times larger in the image) is never used to regenerate the tracks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from stablemotion_dlc.core.inference import (  # noqa: E402
    InputCheck,
    OutOfDistributionError,
    apply_input_check,
)
from stablemotion_dlc.core.train import TrainConfig  # noqa: E402
from stablemotion_dlc.dlc.io import read_tracks  # noqa: E402
from stablemotion_dlc.dlc.pipeline import clean_tracks, train_on_tracks  # noqa: E402
from stablemotion_dlc.sample import make_sample_project  # noqa: E402

TINY = dict(model="tiny", window=32, batch_size=8, steps=30, log_every=10, checkpoint_every=0,
            normalizer_batches=4, warmup_steps=5)


def test_policy_is_one_function() -> None:
    ok = InputCheck(0.1, 1.0, 0.0, True)
    bad = InputCheck(0.9, 9.0, 0.3, False, "the model flags 90 %")
    assert not apply_input_check(ok, "refuse", "f.h5")
    assert apply_input_check(bad, "fallback", "f.h5")
    assert not apply_input_check(bad, "ignore", "f.h5")
    with pytest.raises(OutOfDistributionError, match=r"f.h5: .*flags 90 %"):
        apply_input_check(bad, "refuse", "f.h5")
    with pytest.raises(ValueError, match="on_ood"):
        apply_input_check(ok, "maybe", "f.h5")


@pytest.mark.slow
def test_model_from_another_camera_falls_back_to_the_rules(tmp_path: Path) -> None:
    sample = make_sample_project(tmp_path / "proj", seed=3, duration_s=30.0, video=False,
                                 progress=False)
    tracks = read_tracks(sample.predictions_h5)
    model = train_on_tracks([tracks], tmp_path / "m.safetensors", fps=30.0,
                            config=TrainConfig(**TINY), progress=False)
    own = clean_tracks(tracks, model, pcutoff=0.6)
    checks = own.report["input_check"]
    assert checks and all(c["in_distribution"] for c in checks.values())

    other = tracks.copy()
    other.xy = tracks.xy * 8.0  # another camera: the same animal, eight times larger
    with pytest.raises(OutOfDistributionError, match="training standard deviations"):
        clean_tracks(other, model, pcutoff=0.6, on_ood="refuse")
    res = clean_tracks(other, model, pcutoff=0.6)
    assert not any(c["in_distribution"] for c in res.report["input_check"].values())
    assert any("unlike the model's training data" in n for n in res.report["notes"])
    assert res.report["network_points"] == 0  # the network regenerated nothing
    # the repair is still chosen on the file's own validation spans, among the candidates
    # that do not need the model (interpolation, the file's own pose prior)
    for animal in res.report["repair"].values():
        for row in animal["validation"].values():
            assert "network" not in row
            assert row["chosen"] in ("linear", "interp", "pose")
    kept = res.status == 0
    assert kept.mean() > 0.5
    assert np.array_equal(res.tracks.xy[kept], other.xy[kept], equal_nan=True)
