"""``--shard K/N``: a batch of videos split over processes or cluster jobs (issue 17)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from stablemotion_dlc.core.train import TrainConfig
from stablemotion_dlc.dlc import pipeline as pl
from stablemotion_dlc.dlc.batch import clean_videos, parse_shard, shard_videos
from stablemotion_dlc.dlc.io import read_tracks
from stablemotion_dlc.dlc.project import cleaned_path
from stablemotion_dlc.errors import OptionError
from stablemotion_dlc.sample import make_sample_experiment

TINY = dict(model="tiny", window=32, batch_size=8, steps=8, log_every=4, checkpoint_every=0,
            normalizer_batches=2, warmup_steps=2)


def test_split_is_deterministic_disjoint_and_complete():
    vids = [Path(f"/data/day{d}/mouse{m:02d}.mp4") for d in range(3) for m in range(7)]
    n = 4
    parts = [shard_videos(vids, (k, n)) for k in range(1, n + 1)]
    shuffled = vids[:]
    random.Random(0).shuffle(shuffled)
    assert parts == [shard_videos(shuffled, (k, n)) for k in range(1, n + 1)]
    flat = [v for p in parts for v in p]
    assert sorted(flat) == sorted(vids) and len(flat) == len(set(flat))
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert shard_videos(vids, (1, 1)) == sorted(vids, key=lambda v: str(v))
    assert shard_videos(vids, None) == vids
    assert shard_videos(vids[:2], (3, 3)) == []  # more shards than videos: nothing to do


@pytest.mark.parametrize("text", ["0/4", "5/4", "1", "a/b", "1/2/3", "-1/2"])
def test_bad_shard(text):
    with pytest.raises(OptionError):
        parse_shard(text)


def test_parse_shard():
    assert parse_shard("2/8") == (2, 8) and parse_shard(" 1/1 ") == (1, 1)
    assert parse_shard(None) is None and parse_shard((3, 4)) == (3, 4)


@pytest.fixture
def experiment(tmp_path: Path):
    return make_sample_experiment(tmp_path / "proj", 5, seed=2, duration_s=4.0, video=False,
                                  progress=False)


def _train(experiment) -> Path:
    project = pl.as_project(experiment.project.config)
    tracks = [read_tracks(experiment.predictions[0])]
    return pl.train_for_project(project, tracks, project.model_path(1),
                                config=TrainConfig(**TINY), progress=False)


def test_shards_clean_every_video_once_and_skip_existing(experiment):
    proj, vids = experiment.project, list(experiment.videos)
    with pytest.raises(OptionError, match="Train it once first"):
        clean_videos(proj.config, vids, shard="1/2", progress=False)
    _train(experiment)
    first = clean_videos(proj.config, vids, shard="1/2", progress=False)
    second = clean_videos(proj.config, list(reversed(vids)), shard=(2, 2), progress=False)
    got = [o.video for o in first.outcomes] + [o.video for o in second.outcomes]
    assert sorted(got) == sorted(vids) and len(got) == len(set(got))
    assert all(o.status == "cleaned" for o in first.outcomes + second.outcomes)
    assert all(cleaned_path(p).exists() for p in experiment.predictions)
    again = clean_videos(proj.config, vids, shard="1/2", progress=False)  # a re-run job
    assert [o.status for o in again.outcomes] == ["skipped"] * len(first.outcomes)


def test_cli_shard(experiment, capsys):
    from stablemotion_dlc.cli import main

    _train(experiment)
    proj = experiment.project
    vids = [str(v) for v in experiment.videos]
    assert main(["clean", *vids, "--config", str(proj.config), "--shard", "2/3"]) == 0
    out = capsys.readouterr().out
    n = len(shard_videos([Path(v) for v in vids], (2, 3)))
    assert f"{n} cleaned, 0 skipped, 0 failed" in out
    assert main(["clean", vids[0], "--config", str(proj.config), "--shard", "0/3"]) == 1
    assert "K counts from 1" in capsys.readouterr().err
