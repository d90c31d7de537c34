"""Short and odd AMASS files (generated .npz, never the real clip): clear errors, never a raw
traceback, short clips used whole rather than dropped."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from stablemotion_dlc.cli import main  # noqa: E402
from stablemotion_dlc.errors import TrainingDataError  # noqa: E402
from stablemotion_dlc.smpl.amass import (  # noqa: E402
    AmassFileError,
    generate_motion,
    load_amass,
    load_amass_clips,
)
from stablemotion_dlc.smpl.pipeline import training_clips  # noqa: E402


def _write(path: Path, n_frames: int, fps: float | None = 120.0, width: int = 156,
           seed: int = 0) -> Path:
    """A generated motion saved like AMASS (``width`` 72 SMPL, 156 SMPL-H, 165 SMPL-X)."""
    m = generate_motion(max(n_frames, 2), np.random.default_rng(seed), fps=fps or 120.0)
    poses = np.zeros((n_frames, width))
    k = min(66, width)
    poses[:, :k] = m.poses[:n_frames].reshape(n_frames, 66)[:, :k]
    arrays = {"poses": poses, "trans": m.trans[:n_frames], "betas": np.zeros(16)}
    if fps is not None:
        arrays["mocap_framerate"] = np.array(fps)
    np.savez(path, **arrays)
    return path


def _untrained_model(path: Path) -> Path:
    """A model file for SMPL RIFKE with untrained weights (fast; what it predicts is noise)."""
    from stablemotion_dlc.core.checkpoint import save_checkpoint
    from stablemotion_dlc.core.diffusion import DiffusionConfig, GaussianDiffusion
    from stablemotion_dlc.core.model import DiT, DiT_models
    from stablemotion_dlc.core.normalize import Normalizer
    from stablemotion_dlc.smpl.rifke import RifkeRepresentation

    rep = RifkeRepresentation()
    save_checkpoint(path, model=DiT(232, 1, DiT_models["tiny"]()),
                    diffusion=GaussianDiffusion(DiffusionConfig()),
                    normalizer=Normalizer(np.zeros(232), np.ones(232)), layout=rep.layout,
                    spec=rep.spec(), train_config={"window": 32}, step=1)
    return path


@pytest.mark.parametrize("width", [72, 156, 165])
def test_smpl_smplh_and_smplx_pose_sizes(tmp_path: Path, width: int) -> None:
    m = load_amass(_write(tmp_path / f"w{width}.npz", 60, width=width))
    assert m.poses.shape == (10, 22, 3) and m.fps == 20.0


def test_odd_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(AmassFileError, match=r"w63.npz: 'poses' must be \(T, 72\|156\|165\)"):
        load_amass(_write(tmp_path / "w63.npz", 60, width=63))
    no_rate = _write(tmp_path / "no_rate.npz", 60, fps=None)
    with pytest.raises(AmassFileError, match="no_rate.npz: no frame rate.*--source-fps"):
        load_amass(no_rate)
    assert len(load_amass(no_rate, source_fps=60.0)) == 20
    with pytest.raises(AmassFileError, match="one.npz: only 1 frame"):
        load_amass(_write(tmp_path / "one.npz", 1))
    with pytest.raises(AmassFileError, match="two.npz: 2 frames at 120 fps give 1 frame"):
        load_amass(_write(tmp_path / "two.npz", 2))


def test_short_files_are_used_whole_or_named(tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    _write(tmp_path / "short.npz", 500)  # 84 frames at 20 fps, like the AMASS sample
    _write(tmp_path / "tiny.npz", 30)  # 5 frames at 20 fps
    with caplog.at_level(logging.WARNING):
        clips = load_amass_clips(tmp_path, clip_length=100, min_length=16)
    assert [len(c) for c in clips] == [84]
    assert "tiny.npz: skipped: 5 frame(s)" in caplog.text
    # too short for the training window: a clear error naming the folder
    with pytest.raises(TrainingDataError, match="no AMASS motion of at least 100 frames"):
        training_clips(tmp_path / "tiny.npz", clip_length=100, min_length=100)
    assert len(training_clips(tmp_path, clip_length=100, min_length=64)) == 1
    # folders inside a list (as the CLI passes its arguments) are searched too
    assert len(load_amass_clips([tmp_path], clip_length=100, min_length=16)) == 1


def test_cli_short_and_odd_files_no_traceback(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    model = _untrained_model(tmp_path / "model.safetensors")
    short = _write(tmp_path / "short.npz", 500)
    # the command: a 500-frame, 120 fps capture is evaluated whole (not dropped)
    assert main(["smpl", "evaluate", str(model), str(short), "--n-generated", "0",
                 "--json", str(tmp_path / "r.json")]) == 0
    import json

    report = json.loads((tmp_path / "r.json").read_text())
    assert report["n_motions"] == 1 and report["n_frames"] == 84
    capsys.readouterr()
    for bad, message in ((_write(tmp_path / "one.npz", 1), "only 1 frame"),
                         (_write(tmp_path / "w63.npz", 60, width=63), "'poses' must be"),
                         (_write(tmp_path / "no_rate.npz", 60, fps=None), "no frame rate")):
        assert main(["smpl", "clean", str(bad), str(model)]) != 0
        err = capsys.readouterr().err
        assert bad.name in err and message in err and "Traceback" not in err
    assert main(["smpl", "clean", str(tmp_path / "no_rate.npz"), str(model),
                 "--source-fps", "60"]) == 0
    # nothing long enough to evaluate: a clear error naming the file
    assert main(["smpl", "evaluate", str(model), str(tmp_path / "one.npz"), "--n-generated",
                 "0"]) != 0
    assert "one.npz" in capsys.readouterr().err
