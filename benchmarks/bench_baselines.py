"""Speed and sanity-check quality of the classical baselines (``stablemotion_dlc.evaluate``).

Run::

    PYTHONPATH=. python benchmarks/bench_baselines.py [--quick] [--json out.json]

1. **Speed**: frames/s of every baseline on 1 animal x 10 keypoints at 1,000 and 10,000
   frames (random-walk tracks with 5 % low-likelihood points). The first EKS call is timed
   separately (it includes jax compilation); ARIMA runs on ``--arima-keypoints`` keypoints at
   1,000 frames only (it is slow; frames/s is scaled to 10 keypoints).
2. **Quality**: real, confident DLC tracks (openfield Aug20 model, BehaviorDEPOT demo 1) are
   taken as truth (points with likelihood >= 0.9; the rest is not scored); a small seeded
   injector adds confident jumps, low-likelihood drifts and NaN dropouts; every baseline is
   scored with :func:`stablemotion_dlc.evaluate.metrics.evaluate`.
3. **Tuning the bar**: sweep of the Savitzky-Golay window and the max gap of
   ``pcutoff -> linear interpolation -> Savitzky-Golay`` on the same two data sets.

Needs the shared data folder (``../shared/data`` or ``$STABLEMOTION_SHARED_DATA``) for parts 2
and 3. Baselines whose package is missing are skipped with the reason.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stablemotion_dlc.evaluate import baselines as B
from stablemotion_dlc.evaluate.metrics import evaluate, rmse

REPO = Path(__file__).resolve().parents[1]
KIND_NAMES = ["jump", "low_likelihood_drift", "dropout"]
OPENFIELD = "openfield_m3v1/m3v1mp4DLC_resnet50_openfieldAug20shuffle1_30000.h5"
DEPOT = "behaviordepot/demo1_tracking.csv"
TRUTH_LIKELIHOOD = 0.9


# ============================================================================ data
def random_walk(n_frames: int, n_keypoints: int = 10, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray]:
    """1 animal: a smooth random walk of the body plus per-keypoint offsets and 1 px noise."""
    rng = np.random.default_rng(seed)
    body = 300 + np.cumsum(np.cumsum(rng.normal(0, 0.05, (n_frames, 2)), axis=0), axis=0)
    offsets = rng.normal(0, 20, (n_keypoints, 2))
    xy = body[:, None, None, :] + offsets[None, None] + rng.normal(0, 1, (n_frames, 1,
                                                                         n_keypoints, 2))
    lik = rng.uniform(0.7, 1.0, (n_frames, 1, n_keypoints))
    lik[rng.random(lik.shape) < 0.05] = 0.1
    return xy, lik


def shared_dir() -> Path | None:
    """The shared real-data folder, if present."""
    env = os.environ.get("STABLEMOTION_SHARED_DATA")
    for c in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if c.is_dir():
            return c
    return None


def load_openfield(root: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(xy, likelihood, bodyparts)`` of the openfield Aug20 file (pandas.read_hdf)."""
    df = pd.read_hdf(root / OPENFIELD)
    return _arrays(df)


def load_depot(root: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(xy, likelihood, bodyparts)`` of BehaviorDEPOT demo 1 (pandas.read_csv)."""
    df = pd.read_csv(root / DEPOT, header=[0, 1, 2], index_col=0)
    return _arrays(df)


def _arrays(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
    bodyparts = list(dict.fromkeys(df.columns.get_level_values(-2)))
    vals = df.to_numpy(dtype=np.float64).reshape(len(df), len(bodyparts), 3)
    return vals[:, None, :, :2].copy(), vals[:, None, :, 2].copy(), bodyparts


def inject(xy: np.ndarray, lik: np.ndarray, rate: float = 0.02, seed: int = 0,
           jitter: float = 0.0) -> dict[str, np.ndarray]:
    """Small seeded injector: confident jumps, low-likelihood drifts, NaN dropouts.

    Each kind corrupts about ``rate`` of the points in non-overlapping events:
    ``jump`` 1-5 frames displaced 30-80 px, likelihood U(0.9, 1); ``low_likelihood_drift``
    5-30 frames drifting linearly to 20-60 px away, likelihood U(0.01, 0.5); ``dropout`` 3-40
    frames of NaN. ``jitter > 0`` adds i.i.d. N(0, jitter²) px noise to every input point
    (detector jitter the truth does not have; it is not counted as corruption, so smoothing
    can be rewarded). Returns ``xy, likelihood, kinds`` (codes 1..3 as :data:`KIND_NAMES`).
    """
    rng = np.random.default_rng(seed)
    t, n_i, n_k, _ = xy.shape
    out, lk = xy.copy(), lik.copy()
    kinds = np.zeros((t, n_i, n_k), np.int8)
    target = rate * t * n_i * n_k
    specs = {1: (1, 5), 2: (5, 30), 3: (3, 40)}
    for code, (lo, hi) in specs.items():
        done = 0
        tries = 0
        while done < target and tries < 100_000:
            tries += 1
            n = int(rng.integers(lo, hi + 1))
            s = int(rng.integers(0, t - n))
            i, k = int(rng.integers(n_i)), int(rng.integers(n_k))
            if kinds[max(0, s - 1): s + n + 1, i, k].any():
                continue
            ang = rng.uniform(0, 2 * np.pi)
            direction = np.array([np.cos(ang), np.sin(ang)])
            if code == 1:
                out[s:s + n, i, k] += rng.uniform(30, 80) * direction
                lk[s:s + n, i, k] = rng.uniform(0.9, 1.0, n)
            elif code == 2:
                ramp = np.linspace(0, 1, n + 1)[1:, None]
                out[s:s + n, i, k] += ramp * rng.uniform(20, 60) * direction
                lk[s:s + n, i, k] = rng.uniform(0.01, 0.5, n)
            else:
                out[s:s + n, i, k] = np.nan
                lk[s:s + n, i, k] = np.nan
            kinds[s:s + n, i, k] = code
            done += n
    if jitter > 0:
        out = out + rng.normal(0.0, jitter, out.shape)
    return {"xy": out, "likelihood": lk, "kinds": kinds}


# ============================================================================ speed
def _time(fn: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_speed(frames: list[int], repeats: int, arima_keypoints: int) -> list[dict[str, Any]]:
    """Frames/s of each baseline (1 animal x 10 keypoints)."""
    rows: list[dict[str, Any]] = []
    avail = B.available_baselines()
    for n in frames:
        xy, lik = random_walk(n)
        for name, base in avail.items():
            if name == "dlc_arima":
                if n > 1000:
                    continue
                k = arima_keypoints
                sec = _time(lambda b=base, k=k, a=xy, p=lik: b(a[:, :, :k], p[:, :, :k],
                                                                progress=False), 1)
                rows.append({"baseline": name, "frames": n, "keypoints": k, "seconds": sec,
                             "frames_per_s_10kp": n / (sec * 10 / k)})
                continue
            if name == "eks":
                for label, opts in (("eks(optimised s)", {}),
                                    ("eks(fixed s=10)", {"smooth_param": 10.0})):
                    t0 = time.perf_counter()
                    base(xy, lik, **opts)
                    first = time.perf_counter() - t0
                    sec = _time(lambda b=base, o=opts, a=xy, p=lik: b(a, p, **o), 1)
                    rows.append({"baseline": label, "frames": n, "keypoints": 10,
                                 "seconds": sec, "first_call_s": first,
                                 "compile_s_est": max(first - sec, 0.0),
                                 "frames_per_s_10kp": n / sec})
                continue
            if name == "dlc_spline":
                base(xy[:50], lik[:50])  # import deeplabcut outside the timing
            sec = _time(lambda b=base, a=xy, p=lik: b(a, p), repeats)
            rows.append({"baseline": name, "frames": n, "keypoints": 10, "seconds": sec,
                         "frames_per_s_10kp": n / sec})
            print(f"  speed {name:24s} {n:6d} frames: {sec:8.3f} s", flush=True)
    return rows


# ============================================================================ quality
SUMMARY_KEYS = ["rmse_no_jump", "all_rmse", "corrupted_rmse", "corrupted_median_error",
                "corrupted_coverage", "clean_rmse", "moved_share", "moved_median", "all_pck5",
                "all_pck10", "acceleration_reduction", "seconds"]


def bench_quality(root: Path, rate: float, seed: int, arima_frames: int,
                  eks_opts: dict[str, Any], jitter: float = 0.0, only: list[str] | None = None
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Score every baseline on both real data sets with injected corruption."""
    summary: list[dict[str, Any]] = []
    kinds_rows: list[dict[str, Any]] = []
    for ds_name, loader in (("openfield", load_openfield), ("behaviordepot1", load_depot)):
        xy, lik, bodyparts = loader(root)
        truth = np.where((lik >= TRUTH_LIKELIHOOD)[..., None], xy, np.nan)
        c = inject(xy, lik, rate=rate, seed=seed, jitter=jitter)
        corrupted = c["kinds"] != 0
        no_jump = c["kinds"] != 1
        print(f"  {ds_name}: {xy.shape[0]} frames x {xy.shape[2]} keypoints, "
              f"{np.isfinite(truth).all(-1).mean():.1%} confident, "
              f"{corrupted.mean():.1%} corrupted", flush=True)
        runs: list[tuple[str, Callable[..., np.ndarray], dict[str, Any]]] = [
            ("input (no cleaning)", lambda a, b: a.copy(), {})]
        for name, base in B.available_baselines(only).items():
            opts = dict(eks_opts) if name.startswith("eks") else {}
            runs.append((name, base, opts))
        for name, fn, opts in runs:
            sl = slice(None)
            if name == "dlc_arima":
                sl = slice(0, min(arima_frames, xy.shape[0]))
                opts = {"progress": False}
            t0 = time.perf_counter()
            pred = fn(c["xy"][sl], c["likelihood"][sl], **opts)
            sec = time.perf_counter() - t0
            res = evaluate(pred, truth[sl], corrupted[sl], c["kinds"][sl], KIND_NAMES,
                           input_xy=c["xy"][sl], keypoint_names=bodyparts)
            row = {"data": ds_name, "baseline": name,
                   "frames": int(pred.shape[0])}
            row.update({k: res.summary.get(k, float("nan")) for k in SUMMARY_KEYS
                        if k not in ("seconds", "rmse_no_jump")})
            row["rmse_no_jump"] = rmse(pred, truth[sl], no_jump[sl])
            row["seconds"] = sec
            summary.append(row)
            for _, r in res.per_kind.iterrows():
                kinds_rows.append({"data": ds_name, "baseline": name, "kind": r["kind"],
                                   "rmse": r["rmse"], "median_error": r["median_error"],
                                   "coverage": r["coverage"], "pck10": r["pck10"],
                                   "input_median_error": r.get("input_median_error")})
            print(f"    {name:24s} all RMSE {row['all_rmse']:7.2f}  corrupted RMSE "
                  f"{row['corrupted_rmse']:7.2f}  clean RMSE {row['clean_rmse']:5.2f}  "
                  f"({sec:.1f} s)", flush=True)
    return summary, kinds_rows


def bench_tuning(root: Path, rate: float, seed: int, windows: list[int],
                 gaps: list[int | None], jitters: list[float]) -> list[dict[str, Any]]:
    """Window / max-gap sweep of the bar on both data sets and jitter levels.

    The objective ``rmse_no_jump`` is the RMSE over every scored point except the confident
    jumps (which no likelihood-based pipeline can see; wide windows only smear them, trading
    clean-point accuracy for a lower jump error).
    """
    rows = []
    for ds_name, loader in (("openfield", load_openfield), ("behaviordepot1", load_depot)):
        xy, lik, _ = loader(root)
        truth = np.where((lik >= TRUTH_LIKELIHOOD)[..., None], xy, np.nan)
        for jitter in jitters:
            c = inject(xy, lik, rate=rate, seed=seed, jitter=jitter)
            corrupted = c["kinds"] != 0
            no_jump = c["kinds"] != 1
            for gap in gaps:
                for w in [0, *windows]:  # 0: interpolation only (no smoothing), reference
                    if w == 0:
                        pred = B.interpolate_linear(c["xy"], c["likelihood"], max_gap=gap)
                    else:
                        pred = B.pcutoff_interp_savgol(c["xy"], c["likelihood"], window=w,
                                                       max_gap=gap)
                    s = evaluate(pred, truth, corrupted, c["kinds"], KIND_NAMES,
                                 input_xy=c["xy"]).summary
                    rows.append({"data": ds_name, "jitter": jitter,
                                 "max_gap": "none" if gap is None else gap, "window": w,
                                 "rmse_no_jump": rmse(pred, truth, no_jump),
                                 "all_rmse": s["all_rmse"],
                                 "corrupted_rmse": s["corrupted_rmse"],
                                 "corrupted_coverage": s["corrupted_coverage"],
                                 "clean_rmse": s["clean_rmse"]})
    return rows


def best_settings(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best Savitzky-Golay window per (data, jitter, max_gap) by ``rmse_no_jump``."""
    df = pd.DataFrame(rows)
    df = df[df["window"] > 0]
    best = df.loc[df.groupby(["data", "jitter", "max_gap"], sort=False)["rmse_no_jump"]
                  .idxmin()]
    return best.to_dict("records")


# ============================================================================ main
def _md(rows: list[dict[str, Any]], cols: list[str] | None = None) -> str:
    if not rows:
        return "(nothing)"
    df = pd.DataFrame(rows)
    if cols:
        df = df[[c for c in cols if c in df.columns]]
    return df.to_markdown(index=False, floatfmt=".3g") if _has_tabulate() else df.to_string(
        index=False, float_format=lambda v: f"{v:.3g}")


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    """Run the benchmark and print (optionally save) the report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1k frames only, fewer sweeps")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rate", type=float, default=0.02, help="share of points per kind")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jitter", type=float, default=0.0,
                    help="px of i.i.d. noise added to every input point (quality part)")
    ap.add_argument("--arima-keypoints", type=int, default=2)
    ap.add_argument("--arima-frames", type=int, default=600)
    ap.add_argument("--eks-smooth-param", type=float, default=None,
                    help="fixed EKS s for the quality part (default: optimised)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["speed", "quality", "tuning"])
    ap.add_argument("--only", nargs="*", default=None,
                    help="baselines to run in the quality part (default: all available)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    report: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_avg_1min": os.getloadavg()[0]},
    }
    print(f"# bench_baselines  (cpus={os.cpu_count()}, load {os.getloadavg()[0]:.1f})")
    for b in B.BASELINES.values():
        ok, why = b.available()
        if not ok:
            print(f"SKIP {why}")
    if "speed" not in args.skip:
        print("\n## Speed (1 animal x 10 keypoints)", flush=True)
        frames = [1000] if args.quick else [1000, 10_000]
        report["speed"] = bench_speed(frames, args.repeats, args.arima_keypoints)
        print(_md(report["speed"]))
    root = shared_dir()
    if root is None:
        print("shared data folder not found: quality and tuning parts skipped")
    else:
        if "quality" not in args.skip:
            print(f"\n## Quality (truth = likelihood >= {TRUTH_LIKELIHOOD}; injected "
                  f"{args.rate:.0%} per kind)", flush=True)
            eks_opts = ({} if args.eks_smooth_param is None
                        else {"smooth_param": args.eks_smooth_param})
            summary, kinds = bench_quality(root, args.rate, args.seed, args.arima_frames,
                                           eks_opts, args.jitter, args.only)
            report["quality"] = summary
            report["quality_per_kind"] = kinds
            print(_md(summary))
            print("\nper kind:")
            print(_md(kinds))
        if "tuning" not in args.skip:
            print("\n## Tuning the bar (pcutoff 0.6 -> linear -> Savitzky-Golay order 2)",
                  flush=True)
            windows = [5, 7, 11] if args.quick else [5, 7, 9, 11, 15]
            gaps: list[int | None] = [30] if args.quick else [10, 30, 60]
            jitters = [0.0, 1.0] if args.jitter == 0 else [0.0, args.jitter]
            report["tuning"] = bench_tuning(root, args.rate, args.seed, windows, gaps, jitters)
            print(_md(report["tuning"]))
            report["tuning_best"] = best_settings(report["tuning"])
            print("\nbest window per setting (min RMSE without confident jumps):")
            print(_md(report["tuning_best"]))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1, default=float))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
