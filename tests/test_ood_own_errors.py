"""The out-of-distribution guard never switches the model off on the file it was trained on.

A user's own DLC file is full of the errors the model is there to repair; those errors are
outliers of the features and must not make the file look foreign (a non-robust statistic did:
every clean fell back to the rules).
"""

from __future__ import annotations

import numpy as np

from stablemotion_dlc.core.train import TrainConfig
from stablemotion_dlc.dlc.io import read_tracks
from stablemotion_dlc.dlc.pipeline import clean_tracks, train_on_tracks
from stablemotion_dlc.evaluate.protocol import corrupt_independent
from stablemotion_dlc.sample import make_sample_project

TINY = dict(model="tiny", window=32, batch_size=8, steps=30, log_every=10, checkpoint_every=0,
            normalizer_batches=4, warmup_steps=5)


def test_model_stays_on_for_its_own_corrupted_file(tmp_path):
    sample = make_sample_project(tmp_path / "proj", seed=3, duration_s=40.0, video=False,
                                 progress=False)
    tracks = read_tracks(sample.predictions_h5)
    case = corrupt_independent(tracks.xy, tracks.likelihood, seed=0, rate=0.08,
                               individuals=tracks.individuals)
    bad = tracks.copy()
    bad.xy = case.xy
    bad.likelihood = case.likelihood
    model = train_on_tracks([bad], tmp_path / "m.safetensors", fps=30.0,
                            config=TrainConfig(**TINY), progress=False)
    res = clean_tracks(bad, model, on_ood="refuse")  # raises if the guard fires
    checks = res.report["input_check"]
    assert checks and all(c["in_distribution"] for c in checks.values())
    assert all(c["feature_shift"] < 2.0 for c in checks.values())
    assert np.isfinite(res.tracks.xy).any()
