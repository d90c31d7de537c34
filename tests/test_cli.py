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
    text = capsys.readouterr().out
    assert "low_likelihood" in text and "jitter" in text
    assert main(["flag", str(h5), "--no-learn-jitter"]) == 0
    assert "learned from the file" not in capsys.readouterr().out
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


def test_plot_draws_the_stated_intervals_from_the_provenance(tmp_path: Path, monkeypatch,
                                                             capsys) -> None:
    """``plot`` reads the cleaned file's provenance and draws each repaired point's stated
    90 % interval as a band around the cleaned values (none where nothing was repaired)."""
    import matplotlib.axes
    import numpy as np

    from stablemotion_dlc.dlc.io import write_tracks
    from stablemotion_dlc.dlc.project import provenance_path
    from stablemotion_dlc.dlc.tracks import Tracks

    t = np.arange(200.0)
    xy = np.stack([100 + t, 50 + 0.5 * t], -1)[:, None, None, :].repeat(2, axis=2)
    raw = Tracks.from_arrays(xy.copy(), np.full((200, 1, 2), 0.9), bodyparts=["a", "b"],
                             scorer="DLC_x")
    cleaned = raw.copy()
    cleaned.xy[90:100, 0, 0] += 5.0
    unc = np.zeros((200, 1, 2), np.float32)
    unc[90:100, 0, 0] = 3.0
    write_tracks(raw, tmp_path / "raw.h5")
    write_tracks(cleaned, tmp_path / "raw_filtered.h5")
    jitter = np.zeros((200, 1, 2), bool)
    jitter[120:140, 0, 0] = True  # a stretch marked for review, kept
    np.savez_compressed(provenance_path(tmp_path / "raw_filtered.h5"), uncertainty=unc,
                        status=(unc > 0).astype(np.int8), jitter=jitter)
    bands = []
    real = matplotlib.axes.Axes.fill_between

    def spy(self, x, y1, y2=0, where=None, **kw):
        bands.append((np.asarray(y2) - np.asarray(y1), np.asarray(where)))
        return real(self, x, y1, y2, where=where, **kw)

    shaded = []
    real_span = matplotlib.axes.Axes.axvspan

    def spy_span(self, xmin, xmax, **kw):
        shaded.append((xmin, xmax))
        return real_span(self, xmin, xmax, **kw)

    monkeypatch.setattr(matplotlib.axes.Axes, "fill_between", spy)
    monkeypatch.setattr(matplotlib.axes.Axes, "axvspan", spy_span)
    out = tmp_path / "fig.png"
    assert main(["plot", str(tmp_path / "raw.h5"), str(tmp_path / "raw_filtered.h5"),
                 "-o", str(out)]) == 0
    assert out.stat().st_size > 0
    widths = [w[m] for w, m in bands if m.any()]
    assert widths and all(np.allclose(w, 6.0) for w in widths)  # +/- 3 px, x and y of "a"
    assert sum(int(m.sum()) for _, m in bands) == 2 * 10
    # the marked stretch is shaded on both panels of "a"
    assert shaded == [(119.5, 139.5)] * 2
