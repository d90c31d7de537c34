"""Project rules the napari panel and the pipeline share: names, model location, skeleton."""

from __future__ import annotations

from pathlib import Path

import pytest

from stablemotion_dlc.dlc.io import read_tracks
from stablemotion_dlc.dlc.labels import default_skeleton
from stablemotion_dlc.dlc.project import (
    DlcProject,
    cleaned_path,
    default_model_path,
    model_location,
    output_files,
    provenance_path,
    reviewed_path,
    rule_skeleton,
)
from stablemotion_dlc.sample import make_sample_project


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("proj")
    return make_sample_project(d / "p", seed=1, duration_s=3.0, video=False, progress=False)


def test_output_names(tmp_path: Path) -> None:
    raw = tmp_path / "vidDLC_Resnet50_tJan1shuffle1_snapshot_200.h5"
    out = cleaned_path(raw)
    assert out.name == "vidDLC_Resnet50_tJan1shuffle1_snapshot_200_filtered.h5"
    assert output_files(out) == [out, out.with_suffix(".csv"), provenance_path(out)]
    assert provenance_path(out).suffix == ".npz"  # never an .h5 DLC could pick up
    assert reviewed_path(raw) == out
    # a file that already is a cleaned one is saved under its own name, as .h5
    assert reviewed_path(out.with_suffix(".csv")) == out


def test_model_location(sample, tmp_path: Path) -> None:
    assert model_location(sample.config) == default_model_path(sample.config)
    assert model_location(DlcProject.from_config(sample.config), shuffle=2) == default_model_path(
        sample.config, 2
    )
    assert (
        model_location(tracks=tmp_path / "a.h5")
        == tmp_path / "stablemotion-models" / "model.safetensors"
    )
    with pytest.raises(ValueError):
        model_location()


def test_rule_skeleton_uses_the_fitting_config_bones(sample, tmp_path: Path) -> None:
    import yaml

    tracks = read_tracks(sample.predictions_h5)
    project = DlcProject.from_config(sample.config)
    names = tracks.bodyparts
    assert rule_skeleton(tracks, project) == [
        (names.index(a), names.index(b)) for a, b in project.skeleton
    ]
    assert rule_skeleton(tracks) == default_skeleton(tracks)
    # bones of other bodyparts are left out; none left: the learned default
    cfg = yaml.safe_load(sample.config.read_text())
    cfg["skeleton"] = [["nose", "tail"], *cfg["skeleton"][:1]]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    edited = DlcProject.from_config(tmp_path / "config.yaml")
    a, b = cfg["skeleton"][1]
    assert rule_skeleton(tracks, edited) == [(names.index(a), names.index(b))]
    cfg["skeleton"] = [["nose", "tail"]]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert rule_skeleton(
        tracks, DlcProject.from_config(tmp_path / "config.yaml")
    ) == default_skeleton(tracks)
