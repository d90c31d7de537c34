"""The protocol benchmark's pooling: disputed truth is reported apart, never hidden."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_protocol.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_protocol", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _raw(n_bad: int, n_unt: int, disputed_bad: np.ndarray, disputed_unt: np.ndarray,
         ours_bad: np.ndarray, ours_moved: np.ndarray) -> dict:
    counts = {"tp": 1, "fp": 1, "fn": 1, "tn": 1}
    return {
        "kinds": np.ones(n_bad, np.int16), "kind_names": ("jitter",),
        "err": {"input": np.full(n_bad, 10.0), "linear": np.full(n_bad, 4.0),
                "ours": ours_bad},
        "moved": {"input": np.zeros(n_unt), "linear": np.zeros(n_unt), "ours": ours_moved},
        "det": {"rules": counts, "model": counts},
        "flags": {"rules": np.zeros(n_bad, bool), "model": np.zeros(n_bad, bool)},
        "disputed": disputed_bad, "disputed_untouched": disputed_unt,
        "interval_undisputed": {"inside": 3, "n": 4},
    }


def test_disputed_points_are_reported_apart(bench, monkeypatch):
    monkeypatch.setattr(bench, "CLASSICAL", ["linear"])
    # four corrupted points: ours 2 px on three, 20 px on the disputed one; ten untouched
    # points, two moved (one of them disputed)
    ours_bad = np.array([2.0, 2.0, 2.0, 20.0])
    moved = np.zeros(10)
    moved[[0, 1]] = 5.0
    disp_u = np.zeros(10, bool)
    disp_u[0] = True
    raw = _raw(4, 10, np.array([False, False, False, True]), disp_u, ours_bad, moved)
    out = bench.pool([raw], ["linear", "ours"])
    assert out["methods"]["ours"]["moved_share"] == pytest.approx(0.2)  # all points count
    u = out["undisputed"]
    assert u["moved_share"] == pytest.approx(1 / 9)
    assert u["untouched_disputed_share"] == pytest.approx(0.1)
    assert u["ratio_ours_best"] == pytest.approx(2.0 / 4.0)
    assert out["ratio_ours_best"] == pytest.approx(np.sqrt((3 * 4 + 400) / 4) / 4.0)
    assert u["kinds"]["jitter"]["n"] == 3 and u["interval90"] == pytest.approx(0.75)


def test_added_files_are_scored_as_held_out(bench):
    names = [f[0] for f in bench.FILES]
    assert [f[0] for f in bench.selected_files(set(), [])] == names
    got = bench.selected_files({"none"}, ["fresh=behaviordepot/demo4_video.csv"])
    assert got == [("fresh", "behaviordepot/demo4_video.csv", "held-out")]
    assert bench.selected_files({"openfield"}, [])[0][0] == "openfield"
    with pytest.raises(SystemExit, match="NAME=PATH"):
        bench.selected_files(set(), ["no_path"])


def _report(seed: int, ratio: float, verdict: float, rules: float, jitter: float) -> dict:
    files = [{"name": "a", "split": "held-out", "ratio_ours_best": ratio,
              "interval90": {"inside": 9, "n": 10}},
             {"name": "b", "split": "held-out", "ratio_ours_best": 0.5,
              "interval90": {"inside": 8, "n": 10}}]
    pooled = {"held-out": {
        "ratio_ours_best": ratio,
        "methods": {"ours": {"moved_share": 0.01 * seed}},
        "detection": {"verdict": {"f1": verdict}, "rules": {"f1": rules}},
        "undisputed": {"f1": {"verdict": verdict + 0.01, "rules": rules}},
        "kinds": {"jitter": {"ratio_ours_best": jitter}, "jump": {"ratio_ours_best": 0.2}},
    }}
    return {"settings": {"seed": seed, "threads": 1, "train_steps": 600, "rate": 0.05,
                         "train_protocol": "A", "test_protocol": "B"},
            "git_head": "abc", "files": files, "pooled": pooled}


def test_a_summary_over_seeds_gives_each_seed_and_the_spread(bench):
    runs = [_report(0, 0.4, 0.83, 0.78, 1.2), _report(1, 1.2, 0.80, 0.77, 0.9)]
    out = bench.summarize(runs, ["s0.json", "s1.json"])
    s = out["splits"]["held-out"]
    assert [r["seed"] for r in s["rows"]] == [0, 1]
    assert s["rows"][0]["kinds_worse"] == {"jitter": 1.2} and not s["rows"][1]["kinds_worse"]
    assert s["rows"][1]["files_worse"] == ["a"]
    assert s["rows"][0]["interval90"] == pytest.approx(17 / 20)
    gain = s["stats"]["f1_gain"]
    assert gain["mean"] == pytest.approx(0.04) and gain["min"] == pytest.approx(0.03)
    assert s["stats"]["f1_gain_undisputed"]["max"] == pytest.approx(0.06)
    assert s["seeds_with_a_kind_worse"] == 1 and s["seeds_with_a_file_worse"] == 1
    md = bench.summary_markdown(out)
    assert "| mean (range) |" in md and "jitter 1.20x" in md


def test_a_summary_refuses_runs_of_different_setups(bench):
    a, b = _report(0, 0.4, 0.83, 0.78, 1.2), _report(1, 0.4, 0.83, 0.78, 1.2)
    b["settings"]["train_steps"] = 2000
    with pytest.raises(SystemExit, match="differ"):
        bench.summarize([a, b], ["a.json", "b.json"])
    with pytest.raises(SystemExit, match="repeat a seed"):
        bench.summarize([a, _report(0, 0.5, 0.8, 0.7, 1.0)], ["a.json", "c.json"])
    with pytest.raises(SystemExit, match="two or more"):
        bench.summarize([a], ["a.json"])
