"""End-to-end time of the drop-in step on a 1-hour, 30-fps file, with its breakdown.

Run::

    PYTHONPATH=. python benchmarks/bench_e2e.py --work /tmp/e2e [--layouts 1x10 3x12]
        [--code DIR] [--json out.json]

What it does
------------
1. Generates (once, cached in ``--work``) simulated DLC outputs of one hour at 30 fps
   (108,000 frames) with :func:`stablemotion_dlc.sample.make_sample_project`: 1 animal x
   10 keypoints, and 3 animals x 12 keypoints (the simulator's 10 plus two keypoints placed
   between existing ones, with their own noise). Trains (once) a tiny model per layout on
   its first 10 minutes.
2. Runs what :func:`~stablemotion_dlc.dlc.pipeline.clean_h5` does for one video - read the
   ``.h5``, :func:`~stablemotion_dlc.dlc.pipeline.clean_tracks`, write the ``_filtered.h5``,
   its ``.csv`` twin and the provenance - in a fresh process, and times each part by
   wrapping the functions it calls: read, swaps (identity / left-right), reversals (front /
   back, where the code has them), rules
   (``suspect_mask``), detection (the network's detector), pose prior (fit and the pose
   rule), repair (validation and repair of every animal), write h5, write csv, the rest.
3. ``--code DIR`` runs the same on another checkout (e.g. the code before a change,
   exported with ``git archive``); the report says which commit ran.

Prints a table and writes JSON (with ``uptime``'s load average before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYOUTS = {"1x10": (1, 10), "3x12": (3, 12)}
FPS = 30
HOUR = 3600.0


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# ------------------------------------------------------------------------- data and models
def make_data(work: Path, layout: str, seconds: float = HOUR) -> Path:
    """The layout's 1-hour predictions file (generated once)."""
    import numpy as np

    from stablemotion_dlc.dlc.io import read_tracks, write_tracks
    from stablemotion_dlc.dlc.tracks import Tracks
    from stablemotion_dlc.sample import make_sample_project

    n_animals, n_kp = LAYOUTS[layout]
    out = work / f"hour_{layout}.h5"
    if out.exists():
        return out
    folder = work / f"sim_{layout}"
    made = sorted((folder / "videos").glob("*.h5")) if folder.exists() else []
    if made:  # a simulation made before (it takes minutes)
        pred = made[0]
    else:
        pred = make_sample_project(folder, seed=11 + n_animals, n_animals=n_animals,
                                   duration_s=seconds, fps=FPS, video=False, overwrite=True,
                                   progress=False).predictions_h5
    tr = read_tracks(pred)
    if n_kp > tr.n_keypoints:  # extra keypoints between existing ones, with their own noise
        rng = np.random.default_rng(5)
        extra = n_kp - tr.n_keypoints
        xy, lik = [tr.xy], [tr.likelihood]
        for e in range(extra):
            a, b = e, e + 2
            p = 0.5 * (tr.xy[:, :, a] + tr.xy[:, :, b]) + rng.normal(0, 0.7, tr.xy[:, :, a].shape)
            xy.append(p[:, :, None])
            lik.append(np.fmin(tr.likelihood[:, :, a], tr.likelihood[:, :, b])[:, :, None])
        animals = [i for i, n in enumerate(tr.individuals) if n != "single"]
        tr = Tracks.from_arrays(
            np.concatenate(xy, 2)[:, animals], np.concatenate(lik, 2)[:, animals],
            bodyparts=[*tr.bodyparts, *[f"mid{e}" for e in range(extra)]],
            individuals=[tr.individuals[i] for i in animals], scorer=tr.scorer,
            multianimal=tr.multianimal)
    write_tracks(tr, out, overwrite=True)
    return out


def make_model(work: Path, layout: str, data: Path, steps: int) -> Path:
    """A tiny model trained on the first 10 minutes (once)."""
    from stablemotion_dlc.dlc.io import read_tracks
    from stablemotion_dlc.dlc.pipeline import train_on_tracks

    model = work / f"model_{layout}_{steps}.safetensors"
    if model.exists():
        return model
    tr = read_tracks(data)
    train_on_tracks([tr.select(frames=slice(0, 10 * 60 * FPS))], model, pcutoff=0.6,
                    fps=float(FPS), steps=steps, progress=False)
    return model


# ------------------------------------------------------------------------- the timed run
def run_once(data: Path, model: Path, out_dir: Path) -> dict:
    """clean_h5's work on one file, in this process, with the breakdown (seconds)."""
    import numpy as np

    import stablemotion_dlc
    from stablemotion_dlc.core import inference
    from stablemotion_dlc.dlc import identity, io, labels, pipeline, pose_prior, repair

    times: dict[str, float] = {}
    cpu: dict[str, float] = {}  # process CPU seconds (all threads): steadier on a busy machine

    def timed(owner: object, name: str, key: str | None = None, by_suffix: bool = False):
        fn = getattr(owner, name, None)
        if fn is None:  # not in this version of the code (--code)
            return

        def wrapper(*a, **k):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **k)
            finally:
                label = key or name
                if by_suffix:
                    label = f"write {Path(str(a[1])).suffix.lstrip('.')}"
                times[label] = times.get(label, 0.0) + time.perf_counter() - t0
                cpu[label] = cpu.get(label, 0.0) + time.process_time() - c0
        setattr(owner, name, wrapper)

    timed(pipeline, "suspect_mask", "rules")
    timed(identity, "find_identity_swaps", "swaps")
    timed(identity, "find_lr_swaps", "swaps")
    timed(identity, "fix_identity_swaps", "swaps")
    timed(identity, "fix_lr_swaps", "swaps")
    timed(identity, "find_reversals", "reversals")
    timed(pipeline, "_flag_reversed", "reversals")
    timed(inference.Cleaner, "detect", "detection")
    timed(pipeline, "fit_pose_prior", "pose prior")
    timed(pipeline, "pose_flags", "pose prior")
    timed(pipeline, "repair_animal", "repair")
    timed(pipeline, "write_tracks", by_suffix=True)
    timed(pipeline, "_as_cleaner", "load model")
    _ = (labels, pose_prior, repair)
    t_all, c_all = time.perf_counter(), time.process_time()
    t0, c0 = time.perf_counter(), time.process_time()
    tracks = io.read_tracks(data)
    times["read"] = time.perf_counter() - t0
    cpu["read"] = time.process_time() - c0
    # the rules run inside the swap search too (labels' SWAP rule): count them once, as rules
    result = pipeline.clean_tracks(tracks, model)
    out = out_dir / "cleaned_filtered.h5"
    pipeline.save_clean_result(result, out, overwrite=True, save_as_csv=True)
    total = time.perf_counter() - t_all
    total_cpu = time.process_time() - c_all
    times["other"] = total - sum(times.values())
    cpu["other"] = total_cpu - sum(cpu.values())
    import hashlib

    import torch

    def _sha(*arrays: object) -> str:
        h = hashlib.sha256()
        for a in arrays:
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()[:16]

    # fingerprints of the outputs: equal fingerprints = bit-identical results
    digest = {"xy": _sha(result.tracks.xy), "likelihood": _sha(result.tracks.likelihood),
              "status": _sha(result.status), "probability": _sha(result.probability),
              "uncertainty": _sha(result.uncertainty),
              "csv": hashlib.sha256(out.with_suffix(".csv").read_bytes()).hexdigest()[:16]}

    return {"total_s": round(total, 3), "parts_s": {k: round(v, 3) for k, v in times.items()},
            "cpu_s": round(total_cpu, 3), "parts_cpu_s": {k: round(v, 3) for k, v in cpu.items()},
            "summary": result.summary(), "frames": tracks.n_frames, "sha256": digest,
            "torch_threads": torch.get_num_threads(),
            "code": str(Path(stablemotion_dlc.__file__).parent)}


def _child(args: argparse.Namespace) -> None:
    if args.profile:
        import cProfile

        prof = cProfile.Profile()
        out = prof.runcall(run_once, Path(args.data), Path(args.model), Path(args.out_dir))
        prof.dump_stats(args.profile)
    else:
        out = run_once(Path(args.data), Path(args.model), Path(args.out_dir))
    print("RESULT " + json.dumps(out))


def main() -> None:
    """Generate, train, then time each layout in a fresh process."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/stablemotion_e2e"))
    ap.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=list(LAYOUTS))
    ap.add_argument("--train-steps", type=int, default=300)
    ap.add_argument("--code", type=Path, default=None,
                    help="checkout whose stablemotion_dlc runs the timed part (default: this)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--profile", type=Path, default=None,
                    help="folder: write a cProfile of each run there (LAYOUT_N.pstats)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--data", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--model", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out-dir", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    code = (args.code or REPO).resolve()
    commit = ""
    if (code / "COMMIT").exists():
        commit = (code / "COMMIT").read_text().strip()
    else:
        commit = subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip() + " + worktree"
    report = {"code": str(code), "commit": commit, "cpus": os.cpu_count(), "runs": {}}
    for layout in args.layouts:
        data = make_data(args.work, layout)
        model = make_model(args.work, layout, data, args.train_steps)
        out_dir = args.work / f"out_{layout}"
        out_dir.mkdir(exist_ok=True)
        runs = []
        for _ in range(args.repeats):
            env = dict(os.environ, PYTHONPATH=str(code))
            load0 = _load()
            extra = []
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                extra = ["--profile", str(args.profile.resolve() / f"{layout}_{len(runs)}.pstats")]
            proc = subprocess.run([sys.executable, __file__, "--child", "--data", str(data),
                                   "--model", str(model), "--out-dir", str(out_dir), *extra],
                                  capture_output=True, text=True, env=env, cwd=str(code))
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode != 0 or not line:
                raise SystemExit(f"{layout}: child failed:\n{proc.stderr[-3000:]}")
            res = json.loads(line[0][7:])
            res["load_before"], res["load_after"] = load0, _load()
            runs.append(res)
            parts = "  ".join(f"{k} {v:.2f}" for k, v in res["parts_s"].items())
            print(f"{layout}: {res['total_s']:.2f} s  [{parts}]  load {load0} -> "
                  f"{res['load_after']}  ({res['code']})", flush=True)
            cparts = "  ".join(f"{k} {v:.2f}" for k, v in res["parts_cpu_s"].items())
            print(f"  CPU {res['cpu_s']:.2f} s  [{cparts}]", flush=True)
            print(f"  outputs sha256: {res['sha256']}", flush=True)
        report["runs"][layout] = runs
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
