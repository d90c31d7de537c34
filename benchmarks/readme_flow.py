"""The README's drop-in usage, run exactly, on real DLC projects (issue 15, item 4).

For each real project (``../shared/data``: config, video, DLC outputs; read only) the files are
copied into a fresh project folder as a user has them (``config.yaml``, ``videos/``), then::

    import stablemotion_dlc as sm
    config, video = "project/config.yaml", "project/videos/<video>.mp4"
    cleaned = sm.clean_h5(config, video)
    tracks = sm.read_tracks(cleaned)

runs with the defaults, as a user would, in a new process (``python -c``). Recorded: wall
time, what the user sees (stderr: log messages and progress bars, last lines kept), the files
written, the exit status; then a frame with the largest repair is drawn with the network's
points (x) and the cleaned points (o) to ``docs/img/readme_flow_<name>.png``. When the exact
call fails, the message is recorded and the smallest change a user would make is run too.

``python benchmarks/readme_flow.py [--out docs/benchmarks/readme_flow.md]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("STABLEMOTION_SHARED_DATA", REPO.parent / "shared" / "data"))

#: name -> (data folder, config file, video)
PROJECTS: dict[str, tuple[str, str, str]] = {
    "multi_mouse_short": ("multi_mouse_short", "config.yaml", "m3v1mp4short.mp4"),
    "openfield_m3v1": ("openfield_m3v1", "config_openfieldOct30.yaml", "m3v1mp4.mp4"),
}

SNIPPET = """
import time
t0 = time.perf_counter()
import stablemotion_dlc as sm

config, video = {config!r}, {video!r}
cleaned = sm.clean_h5(config, video{extra})
tracks = sm.read_tracks(cleaned)
print("RESULT", cleaned, tracks.xy.shape, round(time.perf_counter() - t0, 1))
"""


def _copy_project(name: str, dest: Path) -> tuple[Path, Path]:
    folder, config_name, video_name = PROJECTS[name]
    src = DATA / folder
    (dest / "videos").mkdir(parents=True)
    config = dest / "config.yaml"
    shutil.copy(src / config_name, config)
    stem = Path(video_name).stem
    for f in src.iterdir():  # the video and every DLC file of it, as in a user's videos/
        if f.name.startswith(stem) and f.is_file():
            shutil.copy(f, dest / "videos" / f.name)
    for f in (dest / "videos").iterdir():
        f.chmod(0o644)
    config.chmod(0o644)
    return config, dest / "videos" / video_name


def _run(config: Path, video: Path, extra: str = "") -> dict:
    code = SNIPPET.format(config=str(config), video=str(video), extra=extra)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    before = {p for p in config.parent.rglob("*") if p.is_file()}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=config.parent.parent)
    wall = time.perf_counter() - t0
    written = sorted(str(p.relative_to(config.parent)) for p in config.parent.rglob("*")
                     if p.is_file() and p not in before)
    err = [ln for ln in proc.stderr.replace("\r", "\n").splitlines() if ln.strip()]
    # progress bars redraw many times: keep each bar's last state and every other line
    seen: dict[str, str] = {}
    lines = []
    for ln in err:
        key = ln.split(":")[0] if "%|" in ln else ln
        if key in seen:
            lines[lines.index(seen[key])] = ln
        else:
            lines.append(ln)
        seen[key] = ln
    result = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
    return {"call": f"sm.clean_h5(config, video{extra})", "exit": proc.returncode,
            "wall_s": round(wall, 1), "stderr": lines[-25:], "result": result,
            "written": written}


def _draw(config: Path, video: Path, out_png: Path, name: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from stablemotion_dlc.dlc.io import read_tracks
    from stablemotion_dlc.dlc.project import find_analyzed, provenance_path
    from stablemotion_dlc.dlc.video import VideoReader

    raw_p = find_analyzed(config, video)
    cl_p = find_analyzed(config, video, filtered=True)
    raw, cl = read_tracks(raw_p), read_tracks(cl_p)
    with np.load(provenance_path(cl_p)) as z:
        status = z["status"]
    moved = np.linalg.norm(np.nan_to_num(cl.xy - raw.xy), axis=-1) * (status > 0)
    f = int(np.argmax(moved.reshape(len(moved), -1).sum(1)))
    with VideoReader(video) as r:
        frame = np.asarray(r[min(f, len(r) - 1)])
    h, w = frame.shape[:2]
    fig = plt.figure(figsize=(w / 100, h / 100), dpi=100)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.imshow(frame)
    ax.set_axis_off()
    xy_r, xy_c = raw.xy[f].reshape(-1, 2), cl.xy[f].reshape(-1, 2)
    changed = (status[f].reshape(-1) > 0)
    ax.scatter(*xy_r[~changed].T, s=30, facecolors="none", edgecolors="yellow", lw=1.2,
               label="kept")
    ax.scatter(*xy_r[changed].T, s=40, marker="x", c="red", label="DLC (replaced)")
    ax.scatter(*xy_c[changed].T, s=40, facecolors="none", edgecolors="cyan", lw=1.8,
               label="cleaned")
    for a, b in zip(xy_r[changed], xy_c[changed], strict=True):
        if np.isfinite(a).all() and np.isfinite(b).all():
            ax.plot([a[0], b[0]], [a[1], b[1]], c="white", lw=0.8)
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.6)
    ax.text(5, 15, f"{name}: frame {f}, {int(changed.sum())} point(s) changed",
            color="white", fontsize=9, backgroundcolor="black")
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png)
    plt.close(fig)
    return f"frame {f}, {int(changed.sum())} changed point(s), max move {moved[f].max():.1f} px"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks" / "readme_flow.md")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--only", nargs="*", default=list(PROJECTS))
    args = ap.parse_args(argv)
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only:
            config, video = _copy_project(name, Path(tmp) / name / "project")
            runs = [_run(config, video)]
            if runs[-1]["exit"] != 0:  # the smallest change a user would make
                msg = "\n".join(runs[-1]["stderr"])
                if "exists" in msg:
                    runs.append(_run(config, video, ", overwrite=True"))
            figure = None
            if runs[-1]["exit"] == 0:
                png = REPO / "docs" / "img" / f"readme_flow_{name}.png"
                figure = {"png": str(png.relative_to(REPO)),
                          "what": _draw(config, video, png, name)}
            report[name] = {"runs": runs, "figure": figure}
            print(json.dumps({name: report[name]}, indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
