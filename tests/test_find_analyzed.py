"""Tests of find_analyzed / read_dlc_config / dlc_output_name on fake DLC project folders."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stablemotion_dlc.dlc.project import (
    dlc_output_name,
    find_analyzed,
    read_dlc_config,
    scorer_pattern,
)
from stablemotion_dlc.errors import AnalyzedDataNotFoundError, ConfigError

TASK, DATE = "openfield", "Oct30"
SCORER = f"DLC_Resnet50_{TASK}{DATE}shuffle1_snapshot_200"


def make_project(root: Path, *, multi: bool = False, files: list[str] = (),
                 extra_cfg: dict | None = None) -> tuple[Path, Path]:
    """config.yaml + videos/vid.mp4 + empty output files in videos/."""
    cfg = {"Task": TASK, "scorer": "me", "date": DATE, "project_path": str(root),
           "iteration": 0, "TrainingFraction": [0.95], "snapshotindex": -1,
           "multianimalproject": multi, "bodyparts": ["nose", "tail"]}
    if multi:
        cfg.update(multianimalbodyparts=["nose", "tail"], individuals=["m1", "m2"])
    cfg.update(extra_cfg or {})
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump(cfg))
    videos = root / "videos"
    videos.mkdir(exist_ok=True)
    video = videos / "vid.mp4"
    video.write_bytes(b"")
    for name in files:
        (videos / name).write_bytes(b"")
    return config, video


def test_sample_naming_found(tmp_path):
    name = f"vid{SCORER}.h5"
    config, video = make_project(tmp_path, files=[name, f"vid{SCORER}.csv",
                                                  f"vid{SCORER}_meta.pickle",
                                                  f"vid{SCORER}_full.pickle"])
    assert find_analyzed(config, video) == video.parent / name  # .h5 preferred over .csv
    assert find_analyzed(config, video, shuffle=1) == video.parent / name
    with pytest.raises(AnalyzedDataNotFoundError, match="shuffle2"):
        find_analyzed(config, video, shuffle=2)


def test_csv_only_is_accepted(tmp_path):
    config, video = make_project(tmp_path, files=[f"vid{SCORER}.csv"])
    assert find_analyzed(config, video).suffix == ".csv"


def test_filtered_exactly_when_asked(tmp_path):
    config, video = make_project(tmp_path, files=[f"vid{SCORER}.h5",
                                                  f"vid{SCORER}_filtered.h5"])
    assert find_analyzed(config, video).name == f"vid{SCORER}.h5"
    assert find_analyzed(config, video, filtered=True).name == f"vid{SCORER}_filtered.h5"


def test_rejections_are_listed(tmp_path):
    files = [
        f"vid{SCORER}_skeleton.h5",  # skeleton
        f"vid{SCORER}_el.h5",  # tracker in a single-animal search
        f"vid{SCORER}_xyz.h5",  # unknown suffix
        f"vid{SCORER.replace(TASK, 'other')}.h5",  # other project
        f"vid2{SCORER}.h5",  # other video (does not start with vid+scorer)
        f"vid{SCORER}_filtered.h5",  # filtered
    ]
    config, video = make_project(tmp_path, files=files)
    with pytest.raises(AnalyzedDataNotFoundError) as err:
        find_analyzed(config, video)
    msg = str(err.value)
    for name in files:
        assert name in msg
    assert "skeleton file" in msg
    assert "tracker suffix '_el'" in msg
    assert "'_xyz'" in msg
    assert "filtered file" in msg
    assert "does not start with" in msg


def test_ambiguous_lists_candidates(tmp_path):
    other = SCORER.replace("shuffle1", "shuffle2")
    config, video = make_project(tmp_path, files=[f"vid{SCORER}.h5", f"vid{other}.h5"])
    with pytest.raises(AnalyzedDataNotFoundError, match="ambiguous") as err:
        find_analyzed(config, video)
    assert f"vid{SCORER}.h5" in str(err.value) and f"vid{other}.h5" in str(err.value)
    assert find_analyzed(config, video, shuffle=2).name == f"vid{other}.h5"


def test_multianimal_tracker(tmp_path):
    files = [f"vid{SCORER}_el.h5", f"vid{SCORER}_bx.h5", f"vid{SCORER}.h5",
             f"vid{SCORER}_el_filtered.h5"]
    config, video = make_project(tmp_path, multi=True, files=files)
    assert find_analyzed(config, video).name == f"vid{SCORER}_el.h5"  # default ellipse
    assert find_analyzed(config, video, track_method="box").name == f"vid{SCORER}_bx.h5"
    assert find_analyzed(config, video, track_method="_bx").name == f"vid{SCORER}_bx.h5"
    assert find_analyzed(config, video, filtered=True).name == f"vid{SCORER}_el_filtered.h5"
    with pytest.raises(ValueError, match="unknown track_method"):
        find_analyzed(config, video, track_method="kalman")
    config2, video2 = make_project(tmp_path / "p2", multi=True,
                                   files=[f"vid{SCORER}_el.h5", f"vid{SCORER}_sk.h5"],
                                   extra_cfg={"default_track_method": "skeleton"})
    assert find_analyzed(config2, video2).name == f"vid{SCORER}_sk.h5"


def test_destfolder_and_legacy_tf_names(tmp_path):
    tf_scorer = f"DLC_resnet50_{TASK}{DATE}shuffle1_30000"
    legacy = f"DeepCut_resnet50_{TASK}{DATE}shuffle1_15001"
    config, video = make_project(tmp_path)
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / f"vid{tf_scorer}.h5").write_bytes(b"")
    assert find_analyzed(config, video, destfolder=dest).name == f"vid{tf_scorer}.h5"
    (dest / f"vid{tf_scorer}.h5").unlink()
    (dest / f"vid{legacy}.h5").write_bytes(b"")
    assert find_analyzed(config, video, destfolder=dest).name == f"vid{legacy}.h5"
    with pytest.raises(AnalyzedDataNotFoundError, match="does not exist"):
        find_analyzed(config, video, destfolder=tmp_path / "missing")


def test_missing_lists_nothing_found(tmp_path):
    config, video = make_project(tmp_path)
    with pytest.raises(AnalyzedDataNotFoundError, match="no file starts with the video name"):
        find_analyzed(config, video)


def test_model_folders_fix_the_exact_scorer(tmp_path):
    """With dlc-models-pytorch, only the configured snapshot's scorer is accepted."""
    config, video = make_project(
        tmp_path, files=[f"vid{SCORER}.h5",
                         f"vid{SCORER.replace('snapshot_200', 'snapshot_100')}.h5"])
    train = (tmp_path / "dlc-models-pytorch" / "iteration-0"
             / f"{TASK}{DATE}-trainset95shuffle1" / "train")
    train.mkdir(parents=True)
    (train / "pytorch_config.yaml").write_text(yaml.safe_dump({"net_type": "resnet_50",
                                                               "method": "bu"}))
    for e in (100, 200):
        (train / f"snapshot-{e:03d}.pt").write_bytes(b"")
    assert find_analyzed(config, video).name == f"vid{SCORER}.h5"  # snapshotindex -1
    cfg = yaml.safe_load(config.read_text())
    cfg["snapshotindex"] = 0
    config.write_text(yaml.safe_dump(cfg))
    assert find_analyzed(config, video).name == \
        f"vid{SCORER.replace('snapshot_200', 'snapshot_100')}.h5"
    # a best snapshot sorts last, as in DLC's snapshot manager
    (train / "snapshot-best-150.pt").write_bytes(b"")
    cfg["snapshotindex"] = -1
    config.write_text(yaml.safe_dump(cfg))
    best = SCORER.replace("snapshot_200", "snapshot_best-150")
    (video.parent / f"vid{best}.h5").write_bytes(b"")
    assert find_analyzed(config, video).name == f"vid{best}.h5"


def test_tf_model_folder(tmp_path):
    tf_scorer = f"DLC_resnet50_{TASK}{DATE}shuffle1_30000"
    config, video = make_project(tmp_path, files=[f"vid{tf_scorer}.h5",
                                                  f"vid{tf_scorer[:-5]}10000.h5"])
    train = (tmp_path / "dlc-models" / "iteration-0" / f"{TASK}{DATE}-trainset95shuffle1"
             / "train")
    train.mkdir(parents=True)
    (train / "pose_cfg.yaml").write_text(yaml.safe_dump({"net_type": "resnet_50"}))
    for it in (10000, 30000):
        (train / f"snapshot-{it}.index").write_bytes(b"")
    assert find_analyzed(config, video).name == f"vid{tf_scorer}.h5"


def test_config_is_read_only_and_validated(tmp_path):
    config, _ = make_project(tmp_path)
    before = config.read_bytes()
    cfg = read_dlc_config(config)
    assert cfg["Task"] == TASK and config.read_bytes() == before
    with pytest.raises(ConfigError, match="not found"):
        read_dlc_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("Task: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        read_dlc_config(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="not a DLC config"):
        read_dlc_config(bad)
    bad.write_text("Task: x\n")
    with pytest.raises(ConfigError, match="date"):
        read_dlc_config(bad)


def test_output_name_and_pattern():
    assert dlc_output_name("/a/vid.mp4", SCORER) == f"vid{SCORER}.h5"
    assert dlc_output_name("vid.avi", SCORER, track_method="ellipse", filtered=True,
                           suffix=".csv") == f"vid{SCORER}_el_filtered.csv"
    pat = scorer_pattern({"Task": TASK, "date": DATE}, shuffle=1)
    assert pat.fullmatch(SCORER)
    assert pat.fullmatch(f"DLC_HrnetW32_{TASK}{DATE}shuffle1_detector_50_snapshot_100")
    assert pat.fullmatch(f"DLC_effnet_b0_{TASK}{DATE}shuffle1_5")
    assert not pat.fullmatch(SCORER.replace("shuffle1", "shuffle3"))


def test_sample_project_is_found(tmp_path):
    """The sample generator's DLC 3 naming is found from its own config.yaml."""
    sample = pytest.importorskip("stablemotion_dlc.sample")
    scorer = sample.sample_scorer()
    assert scorer == "DLC_Resnet50_simJan1shuffle1_snapshot_200"
    for n_animals in (1, 2):
        sp = sample.make_sample_project(tmp_path / f"p{n_animals}", n_animals=n_animals,
                                        duration_s=1.0, video=False, progress=False)
        assert find_analyzed(sp.config, sp.video) == sp.predictions_h5
