"""Tests of the real-data benchmark: corruption protocol, runner and report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stablemotion_dlc.cli import build_parser
from stablemotion_dlc.dlc.corruption import KIND_CODES
from stablemotion_dlc.dlc.tracks import Tracks
from stablemotion_dlc.evaluate.cases import (
    BENCHMARK_KINDS,
    SAMPLE_NAME,
    TUNING_FILES,
    make_benchmark_case,
)
from stablemotion_dlc.evaluate.methods import OURS_VARIANTS, interp_over, method_plan
from stablemotion_dlc.evaluate.runner import run_benchmark


def _walk(n_frames: int, n_animals: int, n_kp: int, seed: int) -> np.ndarray:
    """Smooth random-walk animals with a rigid-ish body, ``(T, A, K, 2)``."""
    rng = np.random.default_rng(seed)
    centre = np.cumsum(rng.normal(0, 1.0, (n_frames, n_animals, 1, 2)), axis=0) + 200.0
    centre += np.arange(n_animals)[None, :, None, None] * 80.0
    offsets = rng.normal(0, 12.0, (1, n_animals, n_kp, 2))
    return centre + offsets + rng.normal(0, 0.3, (n_frames, n_animals, n_kp, 2))


def _tracks(n_frames: int = 400, n_animals: int = 1, unique: bool = False,
            seed: int = 0) -> Tracks:
    bodyparts = ["nose", "left_ear", "right_ear", "tail"]
    xy = _walk(n_frames, n_animals, len(bodyparts), seed)
    lik = np.full(xy.shape[:3], 0.95)
    lik[100:180, 0, 1] = 0.2  # a low-likelihood stretch: never truth
    xy[300:310, 0, 3] = np.nan  # missing points: never truth
    if unique:
        xy = np.concatenate([xy, np.full((n_frames, n_animals, 1, 2), np.nan)], axis=2)
        single = np.full((n_frames, 1, len(bodyparts) + 1, 2), np.nan)
        single[:, 0, -1] = [50.0, 60.0]
        xy = np.concatenate([xy, single], axis=1)
        lik = np.concatenate([lik, np.full((n_frames, n_animals, 1), np.nan)], axis=2)
        lik = np.concatenate([lik, np.full((n_frames, 1, len(bodyparts) + 1), 0.99)], axis=1)
    individuals = [f"mouse{i + 1}" for i in range(n_animals)] if n_animals > 1 or unique \
        else None
    return Tracks.from_arrays(xy, lik, bodyparts=bodyparts, individuals=individuals,
                              unique_bodyparts=["corner"] if unique else ())


def test_case_only_confident_points_are_truth_and_corrupted() -> None:
    tr = _tracks()
    before = tr.xy.copy()
    case = make_benchmark_case(tr, np.random.default_rng(3), rate=0.1, min_len=32)
    truth, corrupted, kinds = case  # unpacks as documented
    assert np.array_equal(tr.xy, before, equal_nan=True)  # input untouched
    confident = np.isfinite(tr.xy).all(-1) & (tr.likelihood >= 0.6)
    assert not (case.eligible & ~confident).any()
    assert not case.eligible[100:180, 0, 1].any()
    assert not case.eligible[300:310, 0, 3].any()
    assert (kinds != 0).any()
    assert not ((kinds != 0) & ~case.eligible).any(), "corruption outside confident stretches"
    has_truth = np.isfinite(truth).all(-1)
    assert np.array_equal(has_truth, case.eligible)
    assert np.array_equal(truth[has_truth], tr.xy[has_truth])
    # untouched points are bit-identical in the corrupted copy; corrupted ones differ or vanish
    untouched = ~case.mask
    assert np.array_equal(corrupted.xy[untouched], tr.xy[untouched], equal_nan=True)
    changed = case.mask & np.isfinite(corrupted.xy).all(-1)
    moved = np.linalg.norm(corrupted.xy - tr.xy, axis=-1)[changed]
    assert (moved > 0).mean() > 0.9
    # dropouts (NaN and -1 placeholders) are NaN in memory, never -1
    drop = np.isin(kinds, [KIND_CODES["dropout"], KIND_CODES["dropout_neg1"]])
    assert np.isnan(corrupted.xy[drop]).all()
    assert not (corrupted.xy == -1).any()
    # events of at most 60 frames, kinds from the benchmark list
    assert all(1 <= ev.length <= 60 for ev in case.events)
    assert {ev.kind for ev in case.events} <= set(BENCHMARK_KINDS)
    assert 0.05 < case.mask.sum() / case.eligible.sum() < 0.4


def test_case_is_seeded_and_deterministic() -> None:
    tr = _tracks()
    a = make_benchmark_case(tr, np.random.default_rng(7))
    b = make_benchmark_case(tr, np.random.default_rng(7))
    c = make_benchmark_case(tr, np.random.default_rng(8))
    assert np.array_equal(a.kinds, b.kinds)
    assert np.array_equal(a.corrupted.xy, b.corrupted.xy, equal_nan=True)
    assert np.array_equal(a.corrupted.likelihood, b.corrupted.likelihood, equal_nan=True)
    assert not np.array_equal(a.kinds, c.kinds)


def test_case_multi_animal_identity_swaps_and_unique_bodyparts_untouched() -> None:
    tr = _tracks(n_frames=600, n_animals=2, unique=True, seed=1)
    case = make_benchmark_case(tr, np.random.default_rng(0), rate=0.2,
                               kinds=["identity_swap", "jump_bodypart"])
    single = tr.individuals.index("single")
    assert not case.eligible[:, single].any()
    assert not case.mask[:, single].any()
    assert np.array_equal(case.corrupted.xy[:, single], tr.xy[:, single], equal_nan=True)
    kinds_seen = {ev.kind for ev in case.events}
    assert "identity_swap" in kinds_seen
    swap = case.kinds == KIND_CODES["identity_swap"]
    assert swap[:, 0].any() and swap[:, 1].any()


def test_case_without_confident_stretch_names_the_file() -> None:
    tr = _tracks()
    tr.likelihood[:] = 0.1
    tr.meta["source"] = "/data/video1DLC.h5"
    with pytest.raises(ValueError, match="video1DLC.h5"):
        make_benchmark_case(tr, np.random.default_rng(0))


def test_interp_over_fills_flagged_points_only() -> None:
    xy = np.zeros((10, 1, 1, 2))
    xy[:, 0, 0, 0] = np.arange(10.0)
    xy[4:6, 0, 0] = 100.0
    flag = np.zeros((10, 1, 1), bool)
    flag[4:6] = True
    out = interp_over(xy, flag)
    assert np.allclose(out[:, 0, 0, 0], np.arange(10.0))
    assert np.array_equal(out[~flag], xy[~flag])
    assert np.array_equal(interp_over(xy, flag, max_gap=1), xy)  # run of 2 > max_gap


def test_parser_registers_benchmark() -> None:
    args = build_parser().parse_args(["benchmark", "--quick", "--files", SAMPLE_NAME,
                                      "--out", "x"])
    assert args.quick and args.files == [SAMPLE_NAME] and callable(args.handler)
    assert set(TUNING_FILES) == {"openfield", "behaviordepot_demo1"}


def test_method_plan_order() -> None:
    """input, baselines, our variants (ours first), then the interpolations."""
    full = method_plan(False, None)
    assert full[0] == "input" and full[-3:] == ["rules+interp", "ours+interp", "oracle+interp"]
    assert [m for m in full if m.startswith("ours-") or m == "ours"] == list(OURS_VARIANTS)
    quick = method_plan(True, None)
    assert [m for m in quick if m.startswith("ours")][:3] == ["ours", "ours-oracle",
                                                               "ours-nosits"]
    assert method_plan(False, ["linear", "ours-ens4"])[1:4] == ["linear", "ours", "ours-ens4"]


def test_quick_benchmark_on_sample_writes_report(tmp_path) -> None:
    # about 15 s on 2 free cores (sample generation, a 2-step model, 3 cleaning variants)
    out = tmp_path / "report"
    md = run_benchmark(None, out, quick=True, progress=False, train_steps=2,
                       speed_lengths=(200,), command="stablemotion-dlc benchmark --quick",
                       work_dir=tmp_path / "work")
    assert md == out / "real_data.md"
    text = md.read_text()
    assert text.startswith("# Benchmark on real DeepLabCut tracks")
    assert "Made by: `stablemotion-dlc benchmark --quick`" in text
    for section in ("## Protocol", "### Targets", "RMSE (px) per corruption kind",
                    "### Detection (pooled)", "## Per file", "## Speed"):
        assert section in text, section
    data = json.loads((out / "real_data.json").read_text())
    for key in ("command", "machine", "settings", "files", "pooled", "speed", "figures"):
        assert key in data
    res = data["files"][SAMPLE_NAME]
    assert res["info"]["split"] == "held-out"
    assert res["info"]["corrupted_points"] > 0
    for m in ("input", "pcutoff_interp_savgol", "ours", "rules+interp", "ours+interp",
              "ours-oracle", "oracle+interp"):
        assert m in res["methods"], m
        assert res["methods"][m]["corrupted"]["n_truth"] > 0
    assert {"ours", "likelihood", "rules"} <= set(res["detection"])
    assert 0.0 <= res["false_edits"]["moved_share"] <= 1.0
    pooled = data["pooled"]["held-out"]
    assert pooled["best_baseline"] is not None
    assert {t["target"].split(" (")[0] for t in pooled["targets"]} >= {
        "untouched points: at most 1 % moved > 2 px"}
    assert data["speed"][0]["frames"] == 200 and data["speed"][0]["clean_fps"] > 0
    for f in data["figures"]["traces"] + [data["figures"]["held-out"],
                                          data["figures"]["speed"]]:
        assert (out / f).is_file() and (out / f).stat().st_size > 1000
    with pytest.raises(FileExistsError):  # never overwrites silently
        run_benchmark(None, out, quick=True, progress=False, train_steps=2, speed=False)
