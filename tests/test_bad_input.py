"""Hostile but realistic inputs and faults (issue 14): each gets a clear error or the right
behaviour, never a traceback, a modified input, a partial output, or code run from a file.

``test_bad_inputs_through_the_cli`` is the table of docs/reliability.md: every case runs the
real command line in-process on a copy of a small sample project, and checks that the input
files are bit-identical afterwards and that no new file (partial output, temporary) appeared.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stablemotion_dlc._atomic import atomic_outputs, check_outputs
from stablemotion_dlc._safe_pickle import UnsafePickleError, safe_load_path
from stablemotion_dlc.cli import main
from stablemotion_dlc.core.checkpoint import load_checkpoint, read_model_info
from stablemotion_dlc.core.train import TrainConfig
from stablemotion_dlc.dlc.io import read_tracks, write_tracks
from stablemotion_dlc.dlc.pipeline import (
    clean_tracks,
    needs_training,
    save_clean_result,
    train_on_tracks,
)
from stablemotion_dlc.dlc.tracks import Tracks
from stablemotion_dlc.errors import (
    FileProblemError,
    ModelError,
    OptionError,
    TrainingDataError,
)
from stablemotion_dlc.sample import make_sample_project

TINY = dict(model="tiny", window=32, batch_size=8, steps=20, log_every=10, checkpoint_every=0,
            normalizer_batches=4, warmup_steps=5)
MODEL_NAME = "model.safetensors"


# ============================================================================ fixtures
@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 10 s sample project plus a tiny model trained on it (built once, read-only)."""
    d = tmp_path_factory.mktemp("bad_input")
    s = make_sample_project(d / "proj", seed=3, duration_s=10.0, video=False, progress=False)
    train_on_tracks([read_tracks(s.predictions_h5)], d / MODEL_NAME, fps=30.0,
                    config=TrainConfig(**TINY), progress=False)
    return d


@dataclass
class Work:
    """A private copy of :func:`base`: tracks file ``h5`` (+ ``csv`` twin), ``model``."""

    root: Path
    h5: Path
    csv: Path
    model: Path
    config: Path


@pytest.fixture
def work(base: Path, tmp_path: Path) -> Work:
    shutil.copytree(base, tmp_path / "w")
    root = tmp_path / "w"
    h5 = next((root / "proj" / "videos").glob("*DLC_*shuffle1_snapshot_200.h5"))
    return Work(root, h5, h5.with_suffix(".csv"), root / MODEL_NAME, root / "proj" / "config.yaml")


def _snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (symlinks by their target name)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            out[str(p)] = "-> " + os.readlink(p)
        elif p.is_file():
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _run_cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err


# ============================================================================ the table
@dataclass
class Case:
    """A bad input: ``setup`` prepares files in the work copy and returns the argv."""

    name: str
    setup: Callable[[Work], list]
    message: str
    rc: int = 1


def _malicious_pickle(path: Path, marker: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path.write_bytes(pickle.dumps({"data": {"fps": 30.0, "x": Evil()}}))


def _with_values(w: Work, name: str, value: float, suffix: str = ".h5") -> Path:
    t = read_tracks(w.h5)
    t.xy = t.xy.copy()
    t.xy[40:45, 0, 1] = value
    p = w.root / f"{name}{suffix}"
    write_tracks(t, p)
    return p


def _one_frame(w: Work) -> list:
    p = w.root / "one.h5"
    write_tracks(read_tracks(w.h5).select(frames=[0]), p)
    return ["clean", p, "--train-steps", "5"]


def _labelled_tracks(w: Work, n: int = 120) -> Tracks:
    """The sample's first ``n`` frames as a DLC labelled-data file (rows are images)."""
    t = read_tracks(w.h5)
    index = pd.MultiIndex.from_arrays([["labeled-data"] * n, ["sim_mouse"] * n,
                                       [f"img{i:04d}.png" for i in range(n)]])
    return Tracks.from_arrays(t.xy[:n], None, bodyparts=t.bodyparts, index=index,
                              scorer="Annotator")


def _labelled(w: Work, with_model: bool) -> list:
    p = w.root / "CollectedData_Annotator.h5"
    write_tracks(_labelled_tracks(w), p)
    return ["clean", p, *(["--model", w.model] if with_model else ["--train-steps", "5"])]


def _all_nan(w: Work) -> list:
    t = read_tracks(w.h5)
    t.xy = np.full_like(t.xy, np.nan)
    p = w.root / "allnan.h5"
    write_tracks(t, p)
    return ["clean", p, "--train-steps", "5"]


def _bad_config(w: Work, text: str) -> Path:
    cfg = w.config.read_text()
    bad = w.root / "proj" / "config_bad.yaml"
    bad.write_text(cfg.replace("pcutoff: 0.6\n", f"pcutoff: {text}\n"))
    return bad


def _link(w: Work) -> list:
    link = w.root / "link_filtered.h5"
    link.symlink_to(w.h5)
    return ["clean", w.h5, "--model", w.model, "-o", link, "--overwrite"]


def _hardlink(w: Work) -> list:
    link = w.root / "hard.h5"
    os.link(w.h5, link)
    return ["clean", w.csv, "--model", w.model, "-o", link, "--overwrite"]


def _flip_model_byte(w: Work) -> list:
    data = bytearray(w.model.read_bytes())
    data[-100] ^= 0x01
    w.model.write_bytes(bytes(data))
    return ["clean", w.h5, "--model", w.model, "-o", w.root / "out.h5"]


def _nan_model(w: Work) -> list:
    _rewrite_model(w.model, lambda tensors, meta: tensors["ema.final.linear.weight"].fill_(
        float("nan")) if "ema.final.linear.weight" in tensors else next(
        v for k, v in tensors.items() if k.startswith("ema.")).fill_(float("nan")))
    return ["clean", w.h5, "--model", w.model, "-o", w.root / "out.h5"]


def _huge_model(w: Work) -> list:
    def grow(tensors: dict, meta: dict) -> None:
        meta["model"]["config"]["width"] = 4096
        meta["model"]["config"]["depth"] = 200

    _rewrite_model(w.model, grow)
    return ["clean", w.h5, "--model", w.model, "-o", w.root / "out.h5"]


def _absurd_model(w: Work) -> list:
    def grow(tensors: dict, meta: dict) -> None:
        meta["model"]["config"]["width"] = 10**9

    _rewrite_model(w.model, grow)
    return ["clean", w.h5, "--model", w.model, "-o", w.root / "out.h5"]


def _rewrite_model(path: Path, change: Callable[[dict, dict], object]) -> None:
    """Change a model's tensors/metadata and re-sign it (so only the deeper checks catch it)."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from stablemotion_dlc.core.checkpoint import tensor_checksum

    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["stablemotion_dlc"])
    tensors = load_file(str(path))
    change(tensors, meta)
    meta_json = json.dumps(meta)
    save_file(tensors, str(path), metadata={
        "stablemotion_dlc": meta_json,
        "stablemotion_dlc_sha256": tensor_checksum(tensors, meta_json)})


def _long_name(w: Work) -> list:
    return ["clean", w.h5, "--model", w.model, "-o", w.root / ("x" * 250 + ".h5")]


def _existing_provenance(w: Work) -> list:
    (w.root / "out_stablemotion.npz").write_bytes(b"old")
    return ["clean", w.h5, "-o", w.root / "out.h5", "--train-steps", "5"]


def _existing_csv(w: Work) -> list:
    (w.root / "out.csv").write_text("old")
    return ["clean", w.h5, "-o", w.root / "out.h5", "--train-steps", "5"]


def _readonly_folder(w: Work) -> list:
    if os.geteuid() == 0:  # root writes through permissions: use a read-only file system
        return ["clean", w.h5, "-o", "/proc/out_filtered.h5", "--train-steps", "5"]
    ro = w.root / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    return ["clean", w.h5, "-o", ro / "out.h5", "--train-steps", "5"]


def _truncated(w: Work, suffix: str) -> list:
    src = w.h5 if suffix == ".h5" else w.csv
    p = w.root / f"trunc{suffix}"
    p.write_bytes(src.read_bytes()[: src.stat().st_size // 3])
    return ["flag", p]


def _plot_over_input(w: Work) -> list:
    return ["plot", w.h5, w.h5, "-o", w.h5, "--overwrite"]


def _malicious_meta_clean(w: Work) -> list:
    _malicious_pickle(w.h5.with_name(w.h5.stem + "_meta.pickle"), w.root / "PWNED")
    return ["clean", w.h5, "--model", w.model, "-o", w.h5, "--overwrite"]


CASES = [
    Case("output is the input (-o t.h5 --overwrite)",
         lambda w: ["clean", w.h5, "--model", w.model, "-o", w.h5, "--overwrite"],
         "would overwrite the input"),
    Case("CSV twin of the output is the input (clean t.csv -o t.h5 --overwrite)",
         lambda w: ["clean", w.csv, "--model", w.model, "-o", w.h5, "--overwrite"],
         "would overwrite the input"),
    Case("output through a symlink to the input", _link, "would overwrite the input"),
    Case("output is a hard link to the input", _hardlink, "would overwrite the input"),
    Case("output spelled with ./.. onto the input",
         lambda w: ["clean", w.h5, "--model", w.model, "-o",
                    w.h5.parent / ".." / w.h5.parent.name / "." / w.h5.name, "--overwrite"],
         "would overwrite the input"),
    Case("plot over its own input", _plot_over_input, "would overwrite the input"),
    Case("malicious meta pickle, output onto input", _malicious_meta_clean,
         "would overwrite the input"),
    Case("--train-steps 0", lambda w: ["clean", w.h5, "--train-steps", "0"],
         "must be at least 1", rc=2),
    Case("--train-steps -10", lambda w: ["clean", w.h5, "--train-steps", "-10"],
         "must be at least 1", rc=2),
    Case("--ensemble 0", lambda w: ["clean", w.h5, "--model", w.model, "--ensemble", "0"],
         "must be at least 1", rc=2),
    Case("--sampling-steps -1",
         lambda w: ["clean", w.h5, "--model", w.model, "--sampling-steps", "-1"],
         "must be at least 1", rc=2),
    Case("train --steps 0", lambda w: ["train", w.config, "--steps", "0"],
         "must be at least 1", rc=2),
    Case("sample --duration 0", lambda w: ["sample", w.root / "s", "--duration", "0"],
         "above 0", rc=2),
    Case("flag --pcutoff 2", lambda w: ["flag", w.h5, "--pcutoff", "2"], "[0, 1]", rc=2),
    Case("1 frame, no model", _one_frame, "training needs at least"),
    Case("all-NaN tracks, no model", _all_nan, "no trustworthy point"),
    Case("labelled-data file (rows are images), no model", lambda w: _labelled(w, False),
         "labelled data, not a video's predictions"),
    Case("labelled-data file (rows are images), with a model", lambda w: _labelled(w, True),
         "labelled data, not a video's predictions"),
    Case("flag a labelled-data file", lambda w: ["flag", _labelled(w, False)[1]],
         "cannot be flagged"),
    Case("pcutoff: high in config.yaml",
         lambda w: ["flag", w.h5, "--config", _bad_config(w, "high")], "pcutoff"),
    Case("pcutoff: 7 in config.yaml",
         lambda w: ["clean", w.h5.parent.parent / "videos" / "sim_mouse.mp4", "--config",
                    _bad_config(w, "7")], "pcutoff"),
    Case("flipped byte in the model", _flip_model_byte, "checksum mismatch"),
    Case("NaN weights in the model (re-signed)", _nan_model, "non-finite"),
    Case("model declares a 200-block, 4096-wide network (re-signed)", _huge_model,
         "do not match the declared architecture"),
    Case("model declares width 1e9 (re-signed)", _absurd_model, "implausible"),
    Case("file name too long for the file system", _long_name, "file name too long"),
    Case("existing provenance file, no --overwrite", _existing_provenance, "exists"),
    Case("existing CSV twin, no --overwrite", _existing_csv, "exists"),
    Case("read-only output folder", _readonly_folder, "not writable"),
    Case("truncated .h5", lambda w: _truncated(w, ".h5"), "trunc.h5"),
    Case("truncated .csv", lambda w: _truncated(w, ".csv"), "trunc.csv"),
    Case("bodyparts: 5 in config.yaml",
         lambda w: ["flag", w.h5, "--config", _bad_config(w, "0.6\nbodyparts: 5")],
         "bodyparts"),
    Case("--device cuda:99 (no such GPU)",
         lambda w: ["train", w.config, "--device", "cuda:99", "--steps", "2", "--model",
                    w.root / "m.safetensors"], "'cuda:99'"),
    Case("--device nonsense",
         lambda w: ["train", w.config, "--device", "nonsense", "--steps", "2", "--model",
                    w.root / "m.safetensors"], "not a torch device name"),
    Case("output with a .txt suffix",
         lambda w: ["clean", w.h5, "--model", w.model, "-o", w.root / "out.txt"],
         "unsupported output suffix"),
    Case("missing tracks file", lambda w: ["flag", w.root / "nope.h5"], "no such file"),
    Case("a folder as tracks file", lambda w: ["flag", w.root], "not a file"),
    Case("model file missing", lambda w: ["clean", w.h5, "--model", w.root / "no.safetensors",
                                          "-o", w.root / "o.h5"], "not found"),
    Case("config.yaml missing",
         lambda w: ["clean", w.root / "v.mp4", "--config", w.root / "none.yaml"], "none.yaml"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_inputs_through_the_cli(case: Case, work: Work,
                                    capsys: pytest.CaptureFixture) -> None:
    argv = case.setup(work)
    before = _snapshot(work.root)
    try:
        rc, err = _run_cli(argv, capsys)
    except SystemExit as exc:  # argparse usage errors
        rc, err = int(exc.code or 0), capsys.readouterr().err
    assert rc == case.rc, err
    assert case.message in err, err
    assert "Traceback" not in err
    assert _snapshot(work.root) == before  # no input modified, no partial output left
    assert not (work.root / "PWNED").exists()


def test_labelled_data_is_neither_cleaned_nor_trained_on(work: Work, tmp_path: Path) -> None:
    """A labelled-data file's rows are images picked across videos: no motion to repair."""
    labels = _labelled_tracks(work)
    assert not labels.video_rows and read_tracks(work.h5).video_rows
    with pytest.raises(FileProblemError, match="labelled data.*img0000.png"):
        clean_tracks(labels, work.model)
    with pytest.raises(FileProblemError, match="cannot be trained on"):
        train_on_tracks([labels], tmp_path / "m.safetensors", fps=30.0,
                        config=TrainConfig(**TINY), progress=False)
    assert not (tmp_path / "m.safetensors").exists()
    # integer frame numbers that skip frames (a subsampled analysis) are still video rows
    t = read_tracks(work.h5)
    t.index = pd.Index(np.arange(t.n_frames, dtype=np.int64) * 3 + 5)
    assert t.video_rows
    t.index = pd.Index(np.arange(t.n_frames, dtype=np.float64))  # whole numbers as floats
    assert t.video_rows
    t.index = pd.Index(list(range(t.n_frames)), dtype=object)
    assert t.video_rows
    t.index = pd.Index(np.arange(t.n_frames) + 0.5)
    assert not t.video_rows
    t.index = pd.Index([f"img{i:04d}.png" for i in range(t.n_frames)], dtype=object)
    assert not t.video_rows


# ============================================================================ 1. no code
def test_meta_pickle_runs_no_code(work: Work, capsys: pytest.CaptureFixture) -> None:
    marker = work.root / "PWNED"
    meta = work.h5.with_name(work.h5.stem + "_meta.pickle")
    _malicious_pickle(meta, marker)
    t = read_tracks(work.h5)
    assert not marker.exists()
    assert any("ignored" in w and "refused" in w for w in t.meta["warnings"])
    assert "meta_pickle" not in t.meta and "fps" not in t.meta
    assert main(["flag", str(work.h5)]) == 0
    assert not marker.exists()
    assert "ignored" in capsys.readouterr().out


def test_plain_dlc_meta_pickles_are_still_read(work: Work) -> None:
    t = read_tracks(work.h5)  # the sample writes a meta pickle as analyze_videos does
    assert t.meta.get("meta_pickle") and t.meta["fps"] == 30.0


def test_real_dlc_meta_pickles_are_read(shared_data: Path) -> None:
    metas = sorted(shared_data.rglob("*_meta.pickle"))
    assert metas
    for m in metas:
        obj = safe_load_path(m)
        assert isinstance(obj, dict), m


@pytest.mark.parametrize("payload", [
    (eval, ("1",)), (exec, ("x = 1",)), (__import__, ("os",)),
    (subprocess.call, (["true"],)),
])
def test_restricted_unpickler_refuses_callables(tmp_path: Path, payload: tuple) -> None:
    class Evil:
        def __reduce__(self):
            return payload

    p = tmp_path / "x.pickle"
    p.write_bytes(pickle.dumps([Evil()]))
    with pytest.raises(UnsafePickleError, match="refused"):
        safe_load_path(p)


def test_no_plain_unpickling_anywhere_in_the_package() -> None:
    """A regression guard: data files are only unpickled through ``_safe_pickle``."""
    import re

    repo = Path(__file__).resolve().parents[1]
    bad = re.compile(r"pickle\.loads?\(|allow_pickle\s*=\s*True|torch\.load\(|"
                     r"yaml\.(unsafe_)?load\(|dill\.|joblib\.load")
    hits = [f"{p.relative_to(repo)}:{i}: {line.strip()}"
            for folder in ("stablemotion_dlc", "napari_plugin")
            for p in sorted((repo / folder).rglob("*.py")) if p.name != "_safe_pickle.py"
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if bad.search(line) and not line.lstrip().startswith("#")]
    assert hits == []


def test_smpl_model_pickle_runs_no_code(tmp_path: Path) -> None:
    from stablemotion_dlc.smpl.amass import SmplModelNotFoundError, skeleton_from_body_model

    marker = tmp_path / "PWNED"
    p = tmp_path / "SMPL_NEUTRAL.pkl"
    _malicious_pickle(p, marker)
    with pytest.raises(SmplModelNotFoundError, match="plain data"):
        skeleton_from_body_model(p)
    assert not marker.exists()


# ============================================================================ 2. inputs
def test_save_clean_result_refuses_the_source(work: Work) -> None:
    t = read_tracks(work.h5)
    result = clean_tracks(t, work.model)
    before = _snapshot(work.root)
    for target in (work.h5, work.csv, work.csv.with_suffix(".h5")):
        with pytest.raises(FileProblemError, match="would overwrite the input"):
            save_clean_result(result, target, overwrite=True)
    assert _snapshot(work.root) == before


# ============================================================================ 3. atomic set
def test_output_set_is_all_or_nothing_on_interrupt(tmp_path: Path) -> None:
    outs = [tmp_path / "a.h5", tmp_path / "a.csv", tmp_path / "a_stablemotion.npz"]
    with pytest.raises(KeyboardInterrupt), atomic_outputs(outs) as tmps:
        for t in tmps:
            t.write_text("new")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_the_renames_is_held_until_the_set_is_complete(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sig: int) -> None:
    from stablemotion_dlc.cli import _raise_interrupt

    outs = [tmp_path / "a.h5", tmp_path / "a.csv", tmp_path / "a_stablemotion.npz"]
    for p in outs:
        p.write_text("old")
    real = os.replace
    sent = []

    def signalling(src, dst):
        if Path(dst) == outs[0] and ".tmp" in Path(src).name and not sent:
            sent.append(sig)
            os.kill(os.getpid(), sig)  # arrives in the middle of the set's renames
            time.sleep(0.05)
        return real(src, dst)

    monkeypatch.setattr(os, "replace", signalling)
    old_term = signal.signal(signal.SIGTERM, _raise_interrupt)  # as the CLI does
    # Python's own Ctrl-C handler: a process started in the background by a non-interactive
    # shell (``cmd &``) inherits SIGINT ignored, and Python then installs none
    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), atomic_outputs(outs, overwrite=True) as tmps:
            for t in tmps:
                t.write_text("new")
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)
    assert sent and [p.read_text() for p in outs] == ["new"] * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in outs)


def test_failed_rename_puts_the_old_set_back(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    outs = [tmp_path / "a.h5", tmp_path / "a.csv", tmp_path / "a_stablemotion.npz"]
    for p in outs:
        p.write_text("old")
    real = os.replace
    calls = {"n": 0}

    def flaky(src, dst):
        if Path(dst) == outs[1] and ".tmp" in Path(src).name and not calls["n"]:
            calls["n"] += 1  # the second rename of the new set fails (disk full)
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OSError), atomic_outputs(outs, overwrite=True) as tmps:
        for t in tmps:
            t.write_text("new")
    assert calls["n"] == 1
    assert [p.read_text() for p in outs] == ["old"] * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in outs)


def test_concurrent_overwrites_never_mix_sets(tmp_path: Path) -> None:
    outs = [tmp_path / "a.h5", tmp_path / "a.csv", tmp_path / "a_stablemotion.npz"]
    errors: list[BaseException] = []

    def writer(tag: str) -> None:
        try:
            for i in range(40):
                with atomic_outputs(outs, overwrite=True) as tmps:
                    for t in tmps:
                        t.write_text(f"{tag}{i}")
                        time.sleep(0.0005)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(tag,)) for tag in "AB"]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert len({p.read_text() for p in outs}) == 1  # the final set is one run's
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in outs)


_WRITER = """
import contextlib, os, sys, time
from pathlib import Path
import stablemotion_dlc._atomic as atomic
folder, tag = Path(sys.argv[1]), sys.argv[2]
if sys.argv[3] == "nolock":  # to show the test is sensitive: the same writes without the lock
    atomic._folder_lock = lambda folders: contextlib.nullcontext()
real = os.replace
def slow(src, dst):  # a slow file system: renames take a while
    time.sleep(0.002)
    real(src, dst)
os.replace = slow
outs = [folder / "a.h5", folder / "a.csv", folder / "a_stablemotion.npz"]
for i in range(40):
    with atomic.atomic_outputs(outs, overwrite=True) as tmps:
        for t in tmps:
            t.write_text(f"{tag}{i}")
"""


def _mixed_sets_seen(folder: Path, lock: str) -> tuple[int, int]:
    """Run two writer processes; a reader that takes the folder lock counts mixed sets."""
    from stablemotion_dlc._atomic import _folder_lock

    outs = [folder / "a.h5", folder / "a.csv", folder / "a_stablemotion.npz"]
    for p in outs:
        p.write_text("init")
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(folder), tag, lock],
                              stderr=subprocess.PIPE, text=True) for tag in "AB"]
    mixed = reads = 0
    while any(p.poll() is None for p in procs):
        with _folder_lock([folder]):
            try:
                texts = {p.read_text() for p in outs}
            except FileNotFoundError:  # a file moved aside mid-commit: incomplete set
                texts = {"missing", "file"}
        reads += 1
        mixed += len(texts) > 1
        time.sleep(0.001)
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    return mixed, reads


def test_concurrent_processes_never_mix_sets(tmp_path: Path) -> None:
    """Two processes overwriting one output set (as two ``clean --overwrite`` runs do): under
    the folder lock a reader never sees a mixed set, and the final set is one run's."""
    mixed, reads = _mixed_sets_seen(tmp_path, "lock")
    assert reads > 10 and mixed == 0
    texts = {(tmp_path / n).read_text() for n in ("a.h5", "a.csv", "a_stablemotion.npz")}
    assert texts in ({"A39"}, {"B39"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "a.h5",
                                                          "a_stablemotion.npz"]


def _cli_env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


@pytest.mark.slow
def test_sigterm_during_training_leaves_no_partial_output_and_resumes(work: Work) -> None:
    """SIGTERM while the first model trains: exit 130, no output set, a resumable model."""
    out = work.root / "out.h5"
    model = work.root / f"{work.h5.stem}_stablemotion_model.safetensors"
    cmd = [sys.executable, "-m", "stablemotion_dlc", "clean", str(work.h5), "-o", str(out),
           "--train-steps", "100000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_cli_env())
    deadline = time.time() + 120
    try:
        while time.time() < deadline and "training" not in (proc.stderr.readline() or "x"):
            pass
        time.sleep(2.0)  # some steps
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted" in err
    names = sorted(p.name for p in work.root.iterdir())
    assert "out.h5" not in names and "out.csv" not in names
    assert not [n for n in names if ".tmp" in n]
    info = read_model_info(model)  # saved on interrupt, not complete: the next run resumes
    assert 0 < info["step"] < 100000 and not info["complete"]
    assert needs_training(model)


# ============================================================================ 4. resume
def _interrupt_after(monkeypatch: pytest.MonkeyPatch, n_steps: int) -> None:
    from stablemotion_dlc.core import train as core_train

    real = core_train.Trainer._train_step

    def step(self, i):
        out = real(self, i)
        if i + 1 == n_steps:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C after this step
        return out

    monkeypatch.setattr(core_train.Trainer, "_train_step", step)


def test_interrupted_training_saves_and_resumes_exactly(work: Work,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    t = read_tracks(work.h5)
    path = work.root / "m.safetensors"
    cfg = TrainConfig(**{**TINY, "steps": 12})
    with monkeypatch.context() as m:
        _interrupt_after(m, 5)
        with pytest.raises(KeyboardInterrupt):
            train_on_tracks([t], path, config=cfg, progress=False)
    info = read_model_info(path)
    assert info["step"] == 5 and not info["complete"] and needs_training(path)
    train_on_tracks([t], path, config=cfg, progress=False)  # resumes from step 5
    assert read_model_info(path)["step"] == 12 and not needs_training(path)
    # the same as an uninterrupted run (every step's randomness is seeded by its index)
    full = work.root / "full.safetensors"
    train_on_tracks([t], full, config=cfg, progress=False)
    a, b = load_checkpoint(path), load_checkpoint(full)
    for (k, v), (_, w) in zip(a.model.state_dict().items(), b.model.state_dict().items(),
                              strict=True):
        assert np.allclose(v.numpy(), w.numpy(), atol=1e-5), k


def test_cli_clean_resumes_an_interrupted_model(work: Work, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture) -> None:
    out = work.root / "out.h5"
    model = work.root / f"{work.h5.stem}_stablemotion_model.safetensors"
    with monkeypatch.context() as m:
        _interrupt_after(m, 3)
        assert main(["clean", str(work.h5), "-o", str(out), "--train-steps", "8"]) == 130
    assert read_model_info(model)["step"] == 3 and not out.exists()
    assert main(["clean", str(work.h5), "-o", str(out), "--train-steps", "8"]) == 0
    assert read_model_info(model)["step"] == 8
    assert out.exists() and out.with_suffix(".csv").exists()


# ============================================================================ 5. models
def test_zero_steps_are_refused_everywhere(work: Work) -> None:
    t = read_tracks(work.h5)
    with pytest.raises(OptionError, match="at least 1"):
        train_on_tracks([t], work.root / "z.safetensors", steps=0, progress=False)
    with pytest.raises(ValueError, match="steps >= 1"):
        TrainConfig(steps=0)
    assert not (work.root / "z.safetensors").exists()


def test_model_checks(work: Work) -> None:
    data = bytearray(work.model.read_bytes())
    data[len(data) // 2] ^= 0x10
    bad = work.root / "flipped.safetensors"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelError):
        load_checkpoint(bad)
    shutil.copy(work.model, work.root / "nan.safetensors")
    _rewrite_model(work.root / "nan.safetensors",
                   lambda t, m: next(v for k, v in t.items() if k.startswith("ema.")).fill_(
                       float("nan")))
    with pytest.raises(ModelError, match="non-finite"):
        load_checkpoint(work.root / "nan.safetensors")
    shutil.copy(work.model, work.root / "big.safetensors")
    _rewrite_model(work.root / "big.safetensors",
                   lambda t, m: m["model"]["config"].update(width=8192, depth=256, heads=8))
    t0 = time.perf_counter()
    with pytest.raises(ModelError, match="do not match the declared architecture"):
        load_checkpoint(work.root / "big.safetensors")
    assert time.perf_counter() - t0 < 30  # built on the meta device: nothing allocated
    shutil.copy(work.model, work.root / "zero.safetensors")
    _rewrite_model(work.root / "zero.safetensors", lambda t, m: m.update(step=0))
    with pytest.raises(ModelError, match="untrained"):
        load_checkpoint(work.root / "zero.safetensors")


def test_training_on_all_nan_tracks_is_refused(work: Work) -> None:
    t = read_tracks(work.h5)
    t.xy = np.full_like(t.xy, np.nan)
    with pytest.raises(TrainingDataError, match="no trustworthy point"):
        train_on_tracks([t], work.root / "m.safetensors", steps=5, progress=False)
    assert not (work.root / "m.safetensors").exists()


# ============================================================================ 6. early checks
def test_checks_run_before_training(work: Work, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture) -> None:
    import stablemotion_dlc.dlc.pipeline as pl

    def no_training(*a, **k):
        raise AssertionError("trained before the outputs were checked")

    monkeypatch.setattr(pl, "train_on_tracks", no_training)
    for argv in (_existing_csv(work), _readonly_folder(work), _long_name(work)):
        assert main([str(a) for a in argv]) == 1


def test_video_frame_mismatch_is_found_before_training(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import stablemotion_dlc.dlc.pipeline as pl
    from stablemotion_dlc.dlc.pipeline import clean_h5
    from stablemotion_dlc.dlc.project import default_model_path
    from stablemotion_dlc.errors import ConfigError

    project = make_sample_project(tmp_path / "proj", seed=5, duration_s=4.0, video=False,
                                  progress=False)
    short = make_sample_project(tmp_path / "short", seed=6, duration_s=1.0, video=True,
                                progress=False)
    if not short.video.exists():
        pytest.skip("the sample could not render a video on this machine")
    shutil.copy(short.video, project.video)

    def no_training(*a, **k):
        raise AssertionError("trained before the video was checked")

    for name in ("train", "train_on_tracks", "train_for_project"):
        if hasattr(pl, name):
            monkeypatch.setattr(pl, name, no_training)
    with pytest.raises(ConfigError, match="frames"):
        clean_h5(project.config, project.video, progress=False)
    assert not default_model_path(project.config).exists()


# ============================================================================ 7. values
def _many_animals(bodyparts: list[str], n: int, swap: tuple[int, int]) -> Tracks:
    """``n`` animals on a grid 150 px apart, each walking slowly; ``swap`` exchanged 100-140."""
    rng = np.random.default_rng(0)
    t_frames, k = 300, len(bodyparts)
    shape = rng.normal(0.0, 12.0, size=(k, 2))
    steps = rng.normal(0.0, 1.0, size=(t_frames, n, 2)).cumsum(axis=0)
    grid = np.stack([150.0 * (np.arange(n) % 5), 150.0 * (np.arange(n) // 5)], axis=-1)
    xy = grid[None, :, None, :] + steps[:, :, None, :] + shape[None, None] + 100.0
    a, b = swap
    xy[100:140, [a, b]] = xy[100:140, [b, a]]
    lik = np.full(xy.shape[:3], 0.95)
    return Tracks.from_arrays(xy, lik, bodyparts=bodyparts,
                              individuals=[f"mouse{i}" for i in range(n)], multianimal=True)


@pytest.mark.parametrize("n", [6, 8, 20])
def test_six_to_twenty_animals_are_supported(work: Work, n: int) -> None:
    from stablemotion_dlc.dlc.identity import find_identity_swaps
    from stablemotion_dlc.dlc.labels import suspect_mask

    tracks = _many_animals(read_tracks(work.h5).bodyparts, n, swap=(1, 4))
    events = find_identity_swaps(tracks, pcutoff=0.6)
    assert [(e.start, e.stop) for e in events] == [(100, 140)]
    labels = suspect_mask(tracks, 0.6)
    assert labels.mask.shape == tracks.xy.shape[:3]
    if n == 6:
        res = clean_tracks(tracks, work.model)
        assert res.tracks.xy.shape == tracks.xy.shape
        assert (res.status[100:140, [1, 4]] == 3).all()  # identity-fixed


@pytest.mark.parametrize("value", [1e30, 1e308, -1e20, np.inf])
def test_absurd_coordinates_are_cleaned_without_nan(work: Work, value: float,
                                                    capsys: pytest.CaptureFixture) -> None:
    p = _with_values(work, "far", value)
    before = p.read_bytes()
    res = clean_tracks(read_tracks(p), work.model)
    assert np.isfinite(res.probability).all()
    assert np.isfinite(res.uncertainty).all()
    assert (res.probability[40:45, 0, 1] == 1).all()
    out = work.root / "far_out.h5"
    assert main(["clean", str(p), "--model", str(work.model), "-o", str(out)]) == 0
    z = np.load(out.with_name("far_out_stablemotion.npz"))
    assert np.isfinite(z["probability"]).all()
    assert p.read_bytes() == before


def test_literal_nan_cells_in_a_csv_are_missing_values(work: Work) -> None:
    lines = work.csv.read_text().splitlines()
    for row, text in ((5, "NaN"), (6, "nan"), (7, "NA")):
        cells = lines[row].split(",")
        cells[1] = text
        lines[row] = ",".join(cells)
    p = work.root / "nan.csv"
    p.write_text("\n".join(lines) + "\n")
    t, ref = read_tracks(p), read_tracks(work.csv)
    assert np.isnan(t.xy[2:5, 0, 0, 0]).all()
    assert np.array_equal(t.xy[5:], ref.xy[5:], equal_nan=True)


def test_clean_options_are_validated_in_the_library(work: Work) -> None:
    t = read_tracks(work.h5)
    for bad in ({"ensemble": 0}, {"steps": -1}, {"threshold": 2.0}, {"probdet_runs": 0},
                {"detect": "magic"}):
        with pytest.raises(OptionError):
            clean_tracks(t, work.model, **bad)


def test_check_outputs_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(FileProblemError, match="file name too long"):
        check_outputs([tmp_path / ("y" * 300 + ".h5")])
    (tmp_path / "d.h5").mkdir()
    with pytest.raises(FileProblemError, match="is a folder"):
        check_outputs([tmp_path / "d.h5"], overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.h5"]


def test_model_path_is_checked_before_training(work: Work, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    from stablemotion_dlc.core import train as core_train

    def no_training(*a, **k):
        raise AssertionError("trained before the model path was checked")

    monkeypatch.setattr(core_train.Trainer, "run", no_training)
    t = read_tracks(work.h5)
    before = _snapshot(work.root)
    with pytest.raises(FileProblemError, match="would overwrite the input"):
        train_on_tracks([t], work.csv, steps=5, progress=False)
    unwritable = Path("/proc/m.safetensors") if os.geteuid() == 0 else None
    if unwritable is None:
        ro = work.root / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        unwritable = ro / "m.safetensors"
    with pytest.raises(FileProblemError, match="not writable"):
        train_on_tracks([t], unwritable, steps=5, progress=False)
    with pytest.raises(FileProblemError, match="file name too long"):
        train_on_tracks([t], work.root / ("m" * 300 + ".safetensors"), steps=5, progress=False)
    if unwritable.parent != Path("/proc"):
        unwritable.parent.chmod(0o755)
        unwritable.parent.rmdir()
    assert _snapshot(work.root) == before


def test_dlc3_meta_pickle_with_enum_is_read_without_importing_dlc(tmp_path: Path) -> None:
    """DLC 3 stores a ``NetType`` enum in ``_meta.pickle``; it is read as its value."""
    import enum
    import sys
    import types

    modname = "deeplabcut.pose_estimation_pytorch.config.enums"
    fake = types.ModuleType(modname)

    class NetType(str, enum.Enum):
        RESNET_50 = "resnet_50"

    NetType.__module__ = modname
    NetType.__qualname__ = "NetType"
    fake.NetType = NetType
    parts = modname.split(".")
    names = [".".join(parts[:n]) for n in range(1, len(parts) + 1)]
    saved = {k: sys.modules.get(k) for k in names}
    for k in names[:-1]:
        sys.modules[k] = types.ModuleType(k)
    sys.modules[modname] = fake
    try:
        blob = pickle.dumps({"data": {"fps": 30.0, "net_type": NetType.RESNET_50}})
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    p = tmp_path / "v_meta.pickle"
    p.write_bytes(blob)
    obj = safe_load_path(p)
    assert obj["data"]["fps"] == 30.0
    assert obj["data"]["net_type"] == "resnet_50"


def test_cli_clean_passes_the_guard_policy_and_smoothing(work: Work) -> None:
    """``clean --on-ood refuse --smooth-jitter`` reaches the cleaning (recorded in the report);
    the model was trained on these tracks, so the guard lets it through."""
    import json

    out = work.root / "guard.h5"
    assert main(["clean", str(work.h5), "--model", str(work.model), "-o", str(out),
                 "--on-ood", "refuse", "--smooth-jitter"]) == 0
    z = np.load(out.with_name("guard_stablemotion.npz"))
    report = json.loads(str(z["report"]))
    assert report["settings"]["smooth_jitter"] is True
    assert all(c["in_distribution"] for c in report["input_check"].values())
    assert report["settings"]["learn_jitter"] is True
    # --no-smooth-jitter and --no-learn-jitter switch the (default) jitter handling off
    off = work.root / "nosmooth.h5"
    assert main(["clean", str(work.h5), "--model", str(work.model), "-o", str(off),
                 "--no-smooth-jitter", "--no-learn-jitter"]) == 0
    z = np.load(off.with_name("nosmooth_stablemotion.npz"))
    settings = json.loads(str(z["report"]))["settings"]
    assert settings["smooth_jitter"] is False and settings["learn_jitter"] is False
