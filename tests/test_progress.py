"""Progress bars: in place in a terminal, whole lines (and few of them) in a log."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from stablemotion_dlc._progress import LOG_INTERVAL, log_interval, progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_gets_whole_lines_and_the_final_state(monkeypatch):
    monkeypatch.setenv("STABLEMOTION_PROGRESS_INTERVAL", "0")
    log = io.StringIO()
    for _ in progress_bar(range(50), desc="training", unit="step", file=log):
        pass
    text = log.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert len(lines) >= 2
    assert all(line.startswith("training:") for line in lines)
    assert "50/50" in lines[-1]
    assert all(len(line) <= 80 for line in lines)


def test_log_lines_are_rate_limited(monkeypatch):
    monkeypatch.delenv("STABLEMOTION_PROGRESS_INTERVAL", raising=False)
    log = io.StringIO()
    bar = progress_bar(total=10_000, desc="windows", file=log)
    for _ in range(10_000):
        bar.update(1)
    bar.close()
    lines = log.getvalue().splitlines()
    # the start, the end, and nothing in between for a run far shorter than the interval
    assert len(lines) <= 3 and "10000/10000" in lines[-1]


def test_terminal_keeps_tqdm_redraws(monkeypatch):
    monkeypatch.setenv("STABLEMOTION_PROGRESS_INTERVAL", "0")
    term = _Terminal()
    for _ in progress_bar(range(5), desc="x", file=term, mininterval=0):
        pass
    assert "\r" in term.getvalue()


def test_disabled_bar_writes_nothing():
    log = io.StringIO()
    for _ in progress_bar(range(5), file=log, disable=True):
        pass
    assert log.getvalue() == ""


@pytest.mark.parametrize(("raw", "want"), [("", LOG_INTERVAL), ("2.5", 2.5), ("0", 0.0),
                                           ("-1", LOG_INTERVAL), ("soon", LOG_INTERVAL)])
def test_log_interval_from_environment(monkeypatch, raw, want):
    monkeypatch.setenv("STABLEMOTION_PROGRESS_INTERVAL", raw)
    assert log_interval() == want


def test_redirected_stderr_of_a_real_process_has_one_line_per_update(tmp_path):
    code = ("from stablemotion_dlc._progress import progress_bar\n"
            "for _ in progress_bar(range(20), desc='videos'): pass\n")
    env = {**os.environ, "STABLEMOTION_PROGRESS_INTERVAL": "0"}
    err = tmp_path / "err.log"
    with open(err, "w") as fh:
        subprocess.run([sys.executable, "-c", code], stderr=fh, check=True, env=env)
    text = err.read_text()
    assert "\r" not in text
    assert text.splitlines()[-1].startswith("videos: 100%")


def test_postfix_updates_do_not_bypass_the_interval(monkeypatch):
    """The training bar sets its loss on every step; a log still gets few lines."""
    monkeypatch.delenv("STABLEMOTION_PROGRESS_INTERVAL", raising=False)
    log = io.StringIO()
    bar = progress_bar(total=600, desc="training", unit="step", file=log)
    for i in range(600):
        bar.update(1)
        bar.set_postfix(loss=f"{1 / (i + 1):.4f}")
    bar.close()
    lines = log.getvalue().splitlines()
    assert len(lines) <= 3
    assert "600/600" in lines[-1] and "loss=0.0017" in lines[-1]


def test_no_stderr_at_all_is_no_bar(monkeypatch):
    monkeypatch.setattr(sys, "stderr", None)
    bar = progress_bar(range(3), desc="x")
    assert bar.disable and list(bar) == [0, 1, 2]
