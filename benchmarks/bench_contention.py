"""Training and cleaning beside other CPU-bound processes: no collapse on a busy machine.

Run::

    PYTHONPATH=. python benchmarks/bench_contention.py --work /tmp/contention
        [--code DIR] [--only train clean] [--json out.json]

What it does
------------
Whole-process wall time (imports included, as a user sees it) of

* ``train``: ``stablemotion-dlc train CONFIG --steps 150 --restart`` on a 30-s simulated
  sample project (the measurement of issue 17);
* ``clean``: ``stablemotion-dlc clean TRACKS --model M`` on a 2-minute simulated file
  (3,600 frames, 1 animal x 10 keypoints) with a model trained once beforehand;

alone, and beside competitors started just before and stopped right after:

* ``pyloop``: one pure-Python busy loop (one core);
* ``torch``: a second torch process doing small matrix products with torch's default
  threads (another model training on the machine);
* ``2 pyloops``: two busy loops (on a 2-core machine: every core taken);
* ``self x2`` (clean only): two of our own cleans at once (the time of the slower).

``--code DIR`` runs the workloads from another checkout (``PYTHONPATH=DIR``), e.g. the code
before the thread fix exported with ``git archive``; the competitors are the same. The ratio
to the idle figure is what matters: a fair share on a machine with one competitor is <= 2x.
The load average (``/proc/loadavg``) before each run is recorded.
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

COMPETITORS = {
    "pyloop": ["-c", "while True:\n    pass"],
    "torch": ["-c", "import torch\na = torch.randn(128, 128)\nwhile True:\n    b = a @ a"
                    "\n    b = torch.relu(b) + a"],
}
SCENARIOS = {
    "idle": [],
    "pyloop": ["pyloop"],
    "torch": ["torch"],
    "2 pyloops": ["pyloop", "pyloop"],
}


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def prepare(work: Path, train_steps: int = 150) -> dict[str, Path]:
    """The sample project, the 2-minute file and a model for it (made once)."""
    from stablemotion_dlc.dlc.io import read_tracks
    from stablemotion_dlc.dlc.pipeline import train_on_tracks
    from stablemotion_dlc.sample import make_sample_project

    work.mkdir(parents=True, exist_ok=True)
    proj = work / "train30s"
    if not (proj / "config.yaml").exists():
        make_sample_project(proj, duration_s=30.0, seed=3, video=False, overwrite=True,
                            progress=False)
    clip = work / "clean2min"
    if not (clip / "config.yaml").exists():
        make_sample_project(clip, duration_s=120.0, seed=4, video=False, overwrite=True,
                            progress=False)
    tracks = sorted((clip / "videos").glob("*.h5"))[0]
    model = work / "clean_model.safetensors"
    if not model.exists():
        train_on_tracks([read_tracks(tracks)], model, steps=train_steps, progress=False)
    return {"config": proj / "config.yaml", "tracks": tracks, "model": model}


def _workload(kind: str, paths: dict[str, Path], work: Path, tag: str) -> list[str]:
    cli = [sys.executable, "-m", "stablemotion_dlc.cli"]
    if kind == "train":
        return cli + ["train", str(paths["config"]), "--steps", "150", "--restart",
                      "--model", str(work / f"trained_{tag}.safetensors")]
    return cli + ["clean", str(paths["tracks"]), "--model", str(paths["model"]),
                  "--output", str(work / f"cleaned_{tag}_filtered.h5"), "--overwrite"]


def run_case(kind: str, scenario: str, paths: dict[str, Path], work: Path, code: Path,
             threads: int | None = None, timeout: float = 600.0) -> dict:
    """Time one workload (or two at once for ``self x2``) beside the scenario's competitors."""
    env = dict(os.environ, PYTHONPATH=str(code))
    env.pop("OMP_NUM_THREADS", None)
    env.pop("STABLEMOTION_NUM_THREADS", None)
    if threads is not None:
        env["STABLEMOTION_NUM_THREADS"] = str(threads)
    comp_env = dict(os.environ)
    comp_env.pop("OMP_NUM_THREADS", None)
    names = SCENARIOS.get(scenario, [])
    competitors = [subprocess.Popen([sys.executable, *COMPETITORS[n]], env=comp_env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for n in names]
    load = _load()
    try:
        time.sleep(1.0 if competitors else 0.0)  # they are running when we start
        n_self = 2 if scenario == "self x2" else 1
        t0 = time.perf_counter()
        procs = [subprocess.Popen(_workload(kind, paths, work, f"{kind}{j}"), env=env,
                                  cwd=str(work), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for j in range(n_self)]
        ends = []
        for p in procs:
            try:
                out, err = p.communicate(timeout=max(1.0, timeout - (time.perf_counter() - t0)))
            except subprocess.TimeoutExpired:  # collapsed: record "more than timeout"
                for q in procs:
                    q.kill()
                    q.wait()
                return {"kind": kind, "scenario": scenario, "seconds": None,
                        "timed_out_after_s": timeout, "load_before": load}
            ends.append(time.perf_counter() - t0)
            if p.returncode != 0:
                raise SystemExit(f"{kind}/{scenario} failed:\n{err[-3000:]}")
    finally:
        for c in competitors:
            c.kill()
            c.wait()
    return {"kind": kind, "scenario": scenario, "seconds": round(max(ends), 2),
            "load_before": load}


def main() -> None:
    """Run every case and print the table (ratios to the idle figure)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/stablemotion_contention"))
    ap.add_argument("--code", type=Path, default=None)
    ap.add_argument("--only", nargs="+", default=["train", "clean"], choices=["train", "clean"])
    ap.add_argument("--scenarios", nargs="+", default=None)
    ap.add_argument("--threads", type=int, default=None,
                    help="force the workloads' torch threads (STABLEMOTION_NUM_THREADS)")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="stop a workload after this many seconds (recorded as more than it)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    code = (args.code or REPO).resolve()
    paths = prepare(args.work)
    rows = []
    for kind in args.only:
        scen = args.scenarios or list(SCENARIOS) + (["self x2"] if kind == "clean" else [])
        idle = None
        for s in scen:
            r = run_case(kind, s, paths, args.work, code, args.threads, args.timeout)
            if s == "idle":
                idle = r["seconds"]
            secs = r["seconds"]
            r["ratio_to_idle"] = round(secs / idle, 2) if idle and secs else None
            rows.append(r)
            shown = f"{secs:7.2f} s" if secs else f">{args.timeout:.0f} s (stopped)"
            print(f"{kind:5s} {s:10s} {shown}  x{r['ratio_to_idle'] or 0:.2f}  "
                  f"load {r['load_before']}", flush=True)
    commit = ""
    if (code / "COMMIT").exists():
        commit = (code / "COMMIT").read_text().strip()
    report = {"code": str(code), "commit": commit, "cpus": os.cpu_count(),
              "threads": args.threads, "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
