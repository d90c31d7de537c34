"""The command line: every subcommand has --help, and the light commands run for real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stablemotion_dlc import __version__
from stablemotion_dlc.cli import build_parser, main

COMMANDS = [["sample"], ["train"], ["clean"], ["flag"], ["plot"], ["benchmark"],
            ["smpl"], ["smpl", "train"], ["smpl", "clean"], ["smpl", "evaluate"]]


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c))
def test_every_subcommand_has_help(cmd: list[str], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*cmd, "--help"])
    assert exc.value.code == 0
    assert "usage: stablemotion-dlc " + " ".join(cmd) in capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert __version__ in capsys.readouterr().out


def test_import_and_parser_stay_light() -> None:
    code = ("import sys, stablemotion_dlc, stablemotion_dlc.cli as c; c.build_parser(); "
            "heavy = [m for m in ('torch', 'deeplabcut', 'napari', 'PyQt6', 'qtpy') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_python_dash_m_is_the_cli() -> None:
    out = subprocess.run([sys.executable, "-m", "stablemotion_dlc", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"stablemotion-dlc {__version__}"


def test_sample_then_flag(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "s"
    assert main(["sample", str(out), "--duration", "4", "--no-video", "--seed", "3"]) == 0
    text = capsys.readouterr().out
    assert "sample project" in text and "config.yaml" in text
    h5 = next((out / "videos").glob("*DLC_*.h5"))
    assert main(["flag", str(h5), "--config", str(out / "config.yaml")]) == 0
    assert "low_likelihood" in capsys.readouterr().out
    # an existing sample is refused without --overwrite, with a clear error and exit code 1
    assert main(["sample", str(out), "--duration", "4", "--no-video"]) == 1
    assert "overwrite" in capsys.readouterr().err


def test_clean_rejects_a_non_tracks_file(tmp_path: Path) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text("Task: x\n")
    with pytest.raises(SystemExit, match="not a tracks file"):
        main(["clean", str(bad)])


def test_parser_lists_all_commands() -> None:
    text = build_parser().format_help()
    for name in ("sample", "train", "clean", "flag", "plot", "smpl", "benchmark"):
        assert name in text
