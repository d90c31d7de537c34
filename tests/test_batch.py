"""A DLC project parsed once, the first call on any video, and whole experiments in one call.

Sample projects without rendered videos (their video paths do not exist; the outputs are found
by name, as DeepLabCut does); training is cut to a few steps, only the code paths matter here.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from stablemotion_dlc.core.train import TrainConfig
from stablemotion_dlc.dlc import pipeline as pl
from stablemotion_dlc.dlc.batch import BatchCleaningError, clean_videos
from stablemotion_dlc.dlc.io import read_tracks, write_tracks
from stablemotion_dlc.dlc.pipeline import clean_h5
from stablemotion_dlc.dlc.project import (
    DlcProject,
    cleaned_path,
    default_model_path,
    provenance_path,
)
from stablemotion_dlc.errors import ConfigError
from stablemotion_dlc.sample import make_sample_experiment, make_sample_project

TINY = dict(model="tiny", window=32, batch_size=8, steps=8, log_every=4, checkpoint_every=0,
            normalizer_batches=2, warmup_steps=2)


@pytest.fixture
def trainings(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Cut every training to a few steps; record the outputs each one learned from."""
    calls: list[list[str]] = []
    real = pl.train_for_project

    def fast(project, tracks_list, model_path, **kwargs):
        calls.append([Path(t.meta["source"]).name for t in tracks_list])
        kwargs["config"] = TrainConfig(**TINY)
        kwargs["steps"] = None
        return real(project, tracks_list, model_path, **kwargs)

    monkeypatch.setattr(pl, "train_for_project", fast)
    return calls


@pytest.fixture
def experiment(tmp_path: Path):
    """A sample project (one video in video_sets) and 4 analysed videos outside it."""
    return make_sample_experiment(tmp_path / "proj", 4, seed=1, duration_s=4.0, video=False,
                                  progress=False)


# ============================================================================ DlcProject
def _write_config(path: Path, **changes) -> Path:
    cfg = yaml.safe_load(path.read_text())
    cfg.update(changes)
    out = path.with_name("edited.yaml")
    out.write_text(yaml.safe_dump(cfg))
    return out


def test_project_parsed_once_holds_the_settings(experiment) -> None:
    p = DlcProject.from_config(experiment.project.config)
    assert p.pcutoff == 0.6 and not p.multianimal and p.track_method is None
    assert p.bodyparts == experiment.project.bodyparts
    assert p.skeleton and all(a in p.bodyparts and b in p.bodyparts for a, b in p.skeleton)
    assert p.model_path(2) == (experiment.project.outdir / "stablemotion-models" / "shuffle2"
                               / "model.safetensors")
    assert default_model_path(experiment.project.config, 2) == p.model_path(2)
    assert p.video_sets == (experiment.project.video,)
    with pytest.raises(AttributeError):
        p.pcutoff = 0.1  # type: ignore[misc]
    # the output names DLC gives, and the finder works from the object without the file
    assert p.output_name(experiment.videos[0], experiment.project.scorer) == \
        experiment.predictions[0].name
    moved = experiment.project.config.with_name("gone.yaml")
    experiment.project.config.rename(moved)
    assert p.find_analyzed(experiment.videos[0]) == experiment.predictions[0]


@pytest.mark.parametrize("changes, key", [
    ({"pcutoff": "high"}, "pcutoff"),
    ({"pcutoff": 1.5}, "pcutoff"),
    ({"bodyparts": "MULTI!"}, "bodyparts"),
    ({"skeleton": [["snout"]]}, "skeleton"),
    ({"Task": ""}, "Task"),
    ({"video_sets": ["a.mp4"]}, "video_sets"),
    ({"multianimalproject": True}, "multianimalbodyparts"),
])
def test_project_errors_name_the_file_and_the_key(experiment, changes, key) -> None:
    bad = _write_config(experiment.project.config, **changes)
    with pytest.raises(ConfigError, match=key) as err:
        DlcProject.from_config(bad)
    assert str(bad) in str(err.value)


def test_model_records_its_label_settings_and_warns_on_others(experiment, trainings,
                                                              caplog) -> None:
    out = clean_h5(experiment.project.config, experiment.videos[0], progress=False)
    from stablemotion_dlc.core.inference import Cleaner

    cleaner = Cleaner.from_file(DlcProject.from_config(experiment.project.config).model_path())
    labels = pl.model_label_settings(cleaner)
    cfg = yaml.safe_load(experiment.project.config.read_text())
    assert labels["pcutoff"] == cfg["pcutoff"]
    assert {frozenset(b) for b in labels["skeleton"]} == {frozenset(b) for b in cfg["skeleton"]}
    tracks = read_tracks(experiment.predictions[0])
    with caplog.at_level(logging.WARNING, logger="stablemotion_dlc"):
        pl.clean_tracks(tracks, cleaner)  # no config: the model's own settings, no warning
    assert "trained with" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="stablemotion_dlc"):
        pl.clean_tracks(tracks, cleaner, pcutoff=0.3, skeleton=[("snout", "tailbase")])
    assert "trained with pcutoff 0.6 but cleaning uses 0.3" in caplog.text
    assert "trained with skeleton" in caplog.text
    assert out.exists()


# ============================================================================ first call
def test_first_call_on_a_video_outside_video_sets(tmp_path, trainings, caplog) -> None:
    """The reproduction of issue 15: output and video moved away, no model yet."""
    project = make_sample_project(tmp_path / "proj", seed=2, duration_s=4.0, video=False,
                                  progress=False)
    elsewhere = tmp_path / "recordings"
    elsewhere.mkdir()
    for f in (project.predictions_h5, project.predictions_csv, project.meta_pickle):
        shutil.move(str(f), str(elsewhere / f.name))
    video = elsewhere / project.video.name
    assert not DlcProject.from_config(project.config).model_path().exists()
    with caplog.at_level(logging.WARNING, logger="stablemotion_dlc"):
        out = clean_h5(project.config, video, progress=False)
    assert out == cleaned_path(elsewhere / project.predictions_h5.name)
    assert out.exists() and provenance_path(out).exists()
    assert trainings == [[project.predictions_h5.name]]
    assert "training on 1 analysed output(s)" in caplog.text


def test_first_model_also_learns_from_the_projects_outputs_of_the_same_scorer(
        experiment, trainings, caplog) -> None:
    proj = experiment.project
    tr = read_tracks(proj.predictions_h5)
    with caplog.at_level(logging.WARNING, logger="stablemotion_dlc"):
        clean_h5(proj.config, experiment.videos[0], progress=False)
    assert trainings == [[experiment.predictions[0].name, proj.predictions_h5.name]]
    assert "(being cleaned)" in caplog.text and "same scorer" in caplog.text
    # with a model, nothing is trained again
    clean_h5(proj.config, experiment.videos[1], progress=False)
    assert len(trainings) == 1
    # a project output of another network or snapshot is not learned from (other errors)
    shutil.rmtree(proj.outdir / "stablemotion-models")
    renamed = tr.copy()
    renamed.scorer = "DLC_Resnet50_simJan1shuffle1_snapshot_100"
    proj.predictions_h5.unlink()
    proj.predictions_csv.unlink()
    write_tracks(renamed, proj.video.parent / ("sim_mouse" + renamed.scorer + ".h5"))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="stablemotion_dlc"):
        clean_h5(proj.config, experiment.videos[2], progress=False)
    assert trainings[-1] == [experiment.predictions[2].name]
    assert "not used, scorer DLC_Resnet50_simJan1shuffle1_snapshot_100" in caplog.text


# ============================================================================ batches
def test_batch_skips_existing_outputs_and_trains_one_model(experiment, trainings,
                                                          caplog) -> None:
    proj, vids = experiment.project, list(experiment.videos)
    first = clean_h5(proj.config, vids[0], progress=False)
    stamp = first.stat().st_mtime_ns
    with caplog.at_level(logging.WARNING, logger="stablemotion_dlc"):
        report = clean_videos(proj.config, vids, progress=False)
    assert [o.status for o in report.outcomes] == ["skipped", "cleaned", "cleaned", "cleaned"]
    assert "1 of 4 video(s) already cleaned, skipped" in caplog.text
    assert first.stat().st_mtime_ns == stamp  # not rewritten
    assert report.outputs == [cleaned_path(p) for p in experiment.predictions]
    assert all(p.exists() for p in report.outputs)
    assert len(trainings) == 1 and report.trained_on == []
    assert clean_h5(proj.config, vids, progress=False) == report.outputs  # all skipped now
    again = clean_videos(proj.config, vids, overwrite=True, progress=False)
    assert [o.status for o in again.outcomes] == ["cleaned"] * 4
    assert len(trainings) == 1
    table = again.table()
    assert table.splitlines()[0].split()[:2] == ["video", "status"]
    assert "4 cleaned, 0 skipped, 0 failed" in table


def test_a_failed_video_is_reported_and_the_others_go_on(experiment, trainings) -> None:
    proj, vids = experiment.project, list(experiment.videos)
    experiment.predictions[1].write_bytes(b"not an hdf5 file")  # unreadable output
    experiment.predictions[1].with_suffix(".csv").unlink()
    missing = experiment.folder / "never_analysed.mp4"  # no DLC output at all
    with pytest.raises(BatchCleaningError) as err:
        clean_h5(proj.config, [*vids, missing], progress=False)
    report = err.value.report
    assert [o.status for o in report.outcomes] == \
        ["cleaned", "failed", "cleaned", "cleaned", "failed"]
    assert report.outcomes[1].message and "never_analysed" in report.outcomes[4].message
    assert "3 cleaned, 0 skipped, 2 failed" in str(err.value)
    assert not cleaned_path(experiment.predictions[1]).exists()
    assert len(trainings) == 1  # trained once, on what could be read


def test_an_interrupted_batch_resumes_where_it_stopped(experiment, trainings,
                                                       monkeypatch) -> None:
    proj, vids = experiment.project, list(experiment.videos)
    real = pl.clean_tracks
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(pl, "clean_tracks", interrupted)
    with pytest.raises(KeyboardInterrupt):
        clean_videos(proj.config, vids, progress=False)
    done = [cleaned_path(p).exists() for p in experiment.predictions]
    assert done == [True, True, False, False]
    leftovers = [p.name for p in experiment.folder.iterdir()
                 if p.name.startswith("mouse02") and ("filtered" in p.name
                                                      or "stablemotion" in p.name)]
    assert leftovers == []
    monkeypatch.setattr(pl, "clean_tracks", real)
    report = clean_videos(proj.config, vids, progress=False)
    assert [o.status for o in report.outcomes] == ["skipped", "skipped", "cleaned", "cleaned"]
    assert len(trainings) == 1


def test_cli_batch_prints_the_table_and_fails_when_a_video_fails(experiment, trainings,
                                                                 capsys) -> None:
    from stablemotion_dlc.cli import main

    proj = experiment.project
    vids = [str(v) for v in experiment.videos]
    code = main(["clean", *vids[:2], "--config", str(proj.config), "--train-steps", "8"])
    out = capsys.readouterr().out
    assert code == 0 and "2 cleaned, 0 skipped, 0 failed" in out
    experiment.predictions[3].write_bytes(b"broken")
    code = main(["clean", *vids, "--config", str(proj.config)])
    out = capsys.readouterr().out
    assert code == 1
    assert "2 cleaned, 2 skipped, 0 failed" not in out
    assert "1 cleaned, 2 skipped, 1 failed" in out
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()
            if line.startswith("mouse")}
    assert rows == {"mouse00.mp4": "skipped", "mouse01.mp4": "skipped",
                    "mouse02.mp4": "cleaned", "mouse03.mp4": "failed"}
    assert np.isfinite(read_tracks(cleaned_path(experiment.predictions[2])).xy).any()


def test_too_short_multi_animal_recording_is_a_clear_error(tmp_path) -> None:
    """3 animals x 31 frames is 93 frames of data, but no 32-frame window fits (real case)."""
    from stablemotion_dlc.errors import TrainingDataError

    project = make_sample_project(tmp_path / "ma", seed=4, n_animals=3, duration_s=31 / 30,
                                  video=False, progress=False)
    tracks = read_tracks(project.predictions_h5)
    with pytest.raises(TrainingDataError, match="longest recording has 31 frame"):
        pl.train_on_tracks([tracks], tmp_path / "m.safetensors", config=TrainConfig(**TINY),
                           progress=False)


def test_one_call_parses_the_config_once_and_reads_each_output_once(tmp_path, trainings,
                                                                    monkeypatch) -> None:
    from stablemotion_dlc.dlc import batch
    from stablemotion_dlc.dlc import project as project_mod

    project = make_sample_project(tmp_path / "proj", seed=2, duration_s=4.0, video=False,
                                  progress=False)
    parsed, reads = [], []
    real_yaml, real_read = project_mod.load_yaml_mapping, batch.read_tracks

    def counting_yaml(path):
        parsed.append(Path(path).name)
        return real_yaml(path)

    def counting_read(path):
        reads.append(Path(path).name)
        return real_read(path)

    monkeypatch.setattr(project_mod, "load_yaml_mapping", counting_yaml)
    monkeypatch.setattr(batch, "read_tracks", counting_read)
    clean_h5(project.config, project.video, progress=False)  # trains first, then cleans
    assert parsed == ["config.yaml"]
    assert reads == [project.predictions_h5.name]


def test_one_clean_h5_runs_each_step_once(tmp_path, monkeypatch) -> None:
    """With a model: config parsed once, the .h5 read once, the rules and each swap search
    run once (cleaning undoes the swaps it found; the SWAP rule does not search again). The
    neighbour search follows its pairs with ``find_lr_swaps``: once per animal (one here)."""
    from collections import Counter

    from stablemotion_dlc.dlc import identity, io, labels
    from stablemotion_dlc.dlc import project as project_mod

    project = make_sample_project(tmp_path / "proj", seed=2, duration_s=4.0, video=False,
                                  progress=False)
    model = pl.train_on_tracks([read_tracks(project.predictions_h5)], tmp_path / "m.safetensors",
                               config=TrainConfig(**TINY), progress=False)
    calls: Counter[str] = Counter()

    def counted(module, name, *others):
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        for m in (module, *others):
            monkeypatch.setattr(m, name, wrapper)

    counted(project_mod, "load_yaml_mapping")
    counted(io, "_read_h5")
    counted(labels, "suspect_mask", pl)
    counted(identity, "find_lr_swaps", labels)
    counted(identity, "find_identity_swaps", labels)
    counted(identity, "find_neighbour_swaps")
    clean_h5(project.config, project.video, model=model, progress=False)
    assert calls == {"load_yaml_mapping": 1, "_read_h5": 1, "suspect_mask": 1,
                     "find_lr_swaps": 2, "find_identity_swaps": 1, "find_neighbour_swaps": 1}
