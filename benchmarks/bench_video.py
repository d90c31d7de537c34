"""Benchmark the lazy video reader: next-frame and random-frame latency.

Generates a 60 s, 640x480, 30 fps mp4 of moving shapes with PyAV (libx264, keyframe every
250 frames as FFmpeg's default, B-frames) in a temporary folder, and also measures
``shared/data/openfield_m3v1/m3v1mp4.mp4`` when present. For each video it reports the median
and 95th percentile of

* ``next``: reading frame ``i + 1`` right after frame ``i`` (cache off);
* ``random``: reading a random frame (cache off, so every read seeks and decodes);
* ``napari-like`` scrubbing through ``VideoArray`` and through ``as_dask()`` (numpy result of
  one frame, as napari's slicer asks for it).

and, with the reader's background thread on (:meth:`VideoReader.start_background`, what the
napari plugin uses), ``bg_fill_s`` (seconds until the frame store holds the whole video),
``bg_random`` (random frames once it does, RGB cache cleared before each read), ``bg_random_cold``
(random frames right after opening, store still empty) and ``bg_play`` (frames read one after
the other at 30 fps with prefetching).

Targets: next frame < 10 ms and random frame < 50 ms at 640x480.

Usage::

    python benchmarks/bench_video.py [--out report.json] [--seconds 60] [--video extra.mp4]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from stablemotion_dlc.dlc.video import VideoReader

logger = logging.getLogger("bench_video")

REPO = Path(__file__).resolve().parents[1]
REAL_VIDEO = REPO.parent / "shared" / "data" / "openfield_m3v1" / "m3v1mp4.mp4"


def make_video(path: Path, seconds: float = 60.0, fps: int = 30, width: int = 640,
               height: int = 480, gop: int = 250, seed: int = 0) -> Path:
    """Write an mp4 of a few moving, coloured shapes over a textured background."""
    import av

    rng = np.random.default_rng(seed)
    n = int(round(seconds * fps))
    yy, xx = np.mgrid[0:height, 0:width]
    background = (90 + 40 * np.sin(xx / 37.0) * np.cos(yy / 23.0)).astype(np.uint8)
    background = np.repeat(background[..., None], 3, axis=2)
    noise = rng.integers(0, 6, size=(8, height, width, 1), dtype=np.uint8)  # sensor noise
    centres = rng.uniform([50, 50], [width - 50, height - 50], size=(5, 2))
    velocity = rng.normal(0, 3, size=(5, 2))
    colours = rng.integers(40, 255, size=(5, 3)).astype(np.uint8)
    disk = (np.mgrid[-30:30, -30:30] ** 2).sum(0) < 30**2
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.gop_size = gop
        if codec == "libx264":
            stream.options = {"crf": "23", "preset": "veryfast", "g": str(gop)}
        for t in range(n):
            img = background + noise[t % len(noise)]
            for c, col in zip(centres, colours, strict=True):
                x0, y0 = int(c[0]) - 30, int(c[1]) - 30
                img[y0 : y0 + 60, x0 : x0 + 60][disk] = col
            centres += velocity
            bounce = (centres < 31) | (centres > np.array([width - 31, height - 31]))
            velocity[bounce] *= -1
            centres = np.clip(centres, 31, [width - 31, height - 31])
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _stats(times: list[float]) -> dict[str, float]:
    ms = np.asarray(times) * 1e3
    return {"median_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95)),
            "mean_ms": float(ms.mean()), "n": int(ms.size)}


def measure(path: Path, n_random: int = 60, n_next: int = 300, seed: int = 0) -> dict:
    """Latencies of one video (cache disabled so every number is a real decode)."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    reader = VideoReader(path, cache_bytes=0)
    open_s = time.perf_counter() - t0
    out: dict = {"file": str(path), "frames": reader.n_frames, "size": reader.shape[:2][::-1],
                 "fps": reader.fps, "keyframes": int(reader.keyframes.size),
                 "open_ms": open_s * 1e3}
    start = int(rng.integers(0, max(reader.n_frames - n_next - 1, 1)))
    reader[start]
    times = []
    for i in range(start + 1, min(start + 1 + n_next, reader.n_frames)):
        t = time.perf_counter()
        reader[i]
        times.append(time.perf_counter() - t)
    out["next"] = _stats(times)
    times, cpu = [], []
    for i in rng.integers(0, reader.n_frames, n_random):
        t, c = time.perf_counter(), time.process_time()
        reader[int(i)]
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    out["random"] = _stats(times)
    out["random_cpu"] = _stats(cpu)
    # napari-like scrubbing: consecutive slider steps through the lazy adaptors
    arr = reader.as_array()
    times = []
    for i in range(start, min(start + 60, reader.n_frames)):
        t = time.perf_counter()
        np.asarray(arr[i])
        times.append(time.perf_counter() - t)
    out["scrub_videoarray"] = _stats(times)
    try:
        dask_arr = reader.as_dask()
    except ImportError:
        dask_arr = None
    if dask_arr is not None:
        reader2 = VideoReader(path, cache_bytes=0)
        dask_arr = reader2.as_dask()
        dask_arr[start].compute()
        times = []
        for i in range(start + 1, min(start + 61, reader.n_frames)):
            t = time.perf_counter()
            np.asarray(dask_arr[i])
            times.append(time.perf_counter() - t)
        out["scrub_dask"] = _stats(times)
        reader2.close()
    reader.close()
    return out


def measure_background(path: Path, n_random: int = 60, seed: int = 0,
                       fill_timeout: float = 300.0) -> dict:
    """Latencies with the background prefetch and frame store (as the napari plugin reads)."""
    rng = np.random.default_rng(seed)
    out: dict = {}
    reader = VideoReader(path)
    reader.start_background()
    times = []
    for i in rng.integers(0, reader.n_frames, 10):  # store still (nearly) empty
        t = time.perf_counter()
        reader[int(i)]
        times.append(time.perf_counter() - t)
    out["bg_random_cold"] = _stats(times)
    start = int(rng.integers(0, max(reader.n_frames - 100, 1)))
    reader[start]
    times = []
    for i in range(start + 1, min(start + 90, reader.n_frames)):
        time.sleep(1 / 30)  # playing at 30 fps leaves the prefetcher time between frames
        t = time.perf_counter()
        reader[i]
        times.append(time.perf_counter() - t)
    out["bg_play"] = _stats(times)
    t0 = time.perf_counter()
    while reader.stored_frames < reader.n_frames and time.perf_counter() - t0 < fill_timeout:
        time.sleep(0.2)
    out["bg_fill_s"] = time.perf_counter() - t0
    out["bg_stored"] = reader.stored_frames
    times = []
    for i in rng.integers(0, reader.n_frames, n_random):
        with reader._lock:
            reader._cache.clear()
        t = time.perf_counter()
        reader[int(i)]
        times.append(time.perf_counter() - t)
    out["bg_random"] = _stats(times)
    reader.close()
    return out


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print (and optionally write) a JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    parser.add_argument("--seconds", type=float, default=60.0, help="generated video length")
    parser.add_argument("--video", type=Path, action="append", default=[],
                        help="extra video file to measure (repeatable)")
    parser.add_argument("--real-only", action="store_true",
                        help="skip the generated videos (measure the real/extra ones only)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for gop in () if args.real_only else (250, 30):
            path = Path(tmp) / f"shapes_640x480_g{gop}.mp4"
            t = time.perf_counter()
            make_video(path, seconds=args.seconds, gop=gop)
            logger.info("generated %s in %.1f s", path.name, time.perf_counter() - t)
            res = measure(path)
            res.update(measure_background(path))
            res["generated"] = f"{args.seconds:g} s moving shapes, keyframe every {gop} frames"
            results.append(res)
    for extra in ([REAL_VIDEO] if REAL_VIDEO.is_file() else []) + args.video:
        res = measure(extra)
        res.update(measure_background(extra))
        results.append(res)
    for r in results:
        logger.info(
            "%-34s %5d fr %4d kf | open %6.1f ms | next %5.2f ms (p95 %5.2f) | random %6.1f ms "
            "(p95 %6.1f, cpu %6.1f) | scrub array %5.2f ms, dask %s",
            Path(r["file"]).name, r["frames"], r["keyframes"], r["open_ms"],
            r["next"]["median_ms"], r["next"]["p95_ms"], r["random"]["median_ms"],
            r["random"]["p95_ms"], r["random_cpu"]["median_ms"],
            r["scrub_videoarray"]["median_ms"],
            f"{r['scrub_dask']['median_ms']:.2f} ms" if "scrub_dask" in r else "n/a",
        )
        logger.info(
            "%-34s background: random %5.1f ms (p95 %5.1f) after a %4.1f s fill, cold %5.1f ms,"
            " play %4.2f ms (p95 %4.2f)", Path(r["file"]).name, r["bg_random"]["median_ms"],
            r["bg_random"]["p95_ms"], r["bg_fill_s"], r["bg_random_cold"]["median_ms"],
            r["bg_play"]["median_ms"], r["bg_play"]["p95_ms"],
        )
    report = json.dumps(results, indent=2)
    if args.out:
        args.out.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
