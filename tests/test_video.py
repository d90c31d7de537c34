"""Tests of the lazy PyAV video reader (stablemotion_dlc.dlc.video)."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from stablemotion_dlc.dlc.tracks import Tracks  # noqa: E402
from stablemotion_dlc.dlc.video import (  # noqa: E402
    VideoArray,
    VideoError,
    VideoReader,
    check_video_matches,
    guess_video_path,
)

W, H = 160, 96
_BITS = 10  # frame number written as 10 black/white blocks


def _frame(i: int) -> np.ndarray:
    """A frame that encodes its own index in big blocks (survives lossy compression)."""
    img = np.full((H, W, 3), 60, dtype=np.uint8)
    for b in range(_BITS):
        if (i >> b) & 1:
            img[8:40, b * 16 : b * 16 + 14] = 230
    x = (i * 3) % (W - 20)  # a moving square, so the encoder produces P/B frames
    img[60:80, x : x + 20] = (200, 40, 40)
    return img


def _decode_index(img: np.ndarray) -> int:
    bits = img[12:36, :, :].mean(axis=(0, 2))
    return sum(1 << b for b in range(_BITS) if bits[b * 16 + 2 : b * 16 + 12].mean() > 145)


def write_test_video(path: Path, n: int, fps: int = 25, gop: int = 12) -> Path:
    """Write ``n`` self-numbered frames as an mp4 (B-frames, keyframe every ``gop``)."""
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.gop_size = gop
        if codec == "libx264":
            stream.options = {"crf": "18", "preset": "ultrafast", "bf": "2",
                              "g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"}
        for i in range(n):
            for packet in stream.encode(av.VideoFrame.from_ndarray(_frame(i), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def video_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_video(tmp_path_factory.mktemp("video") / "clip.mp4", 100)


def test_metadata(video_path: Path) -> None:
    with VideoReader(video_path) as v:
        assert v.n_frames == 100 == len(v)
        assert v.shape == (H, W, 3)
        assert v.fps == pytest.approx(25.0)
        assert v.dtype == np.uint8
        assert v.duration == pytest.approx(4.0)
        assert v.keyframes[0] == 0 and v.keyframes.size > 1
        assert "clip.mp4" in repr(v)


def test_sequential_and_random_access_give_the_right_frames(video_path: Path) -> None:
    with VideoReader(video_path, cache_bytes=0) as v:
        seq = [v[i].copy() for i in range(v.n_frames)]
    assert [_decode_index(f) for f in seq] == list(range(100))
    rng = np.random.default_rng(0)
    order = list(rng.integers(0, 100, 60)) + [99, 0, 12, 11, 13, 98, 1]
    with VideoReader(video_path, cache_bytes=0) as v:
        for i in order:
            assert np.array_equal(v.read(int(i)), seq[int(i)]), int(i)
        assert np.array_equal(v[-1], seq[99])


def test_cache_returns_same_object_and_is_bounded(video_path: Path) -> None:
    frame_bytes = H * W * 3
    with VideoReader(video_path, cache_bytes=5 * frame_bytes) as v:
        a = v[10]
        assert v[10] is a
        assert not a.flags.writeable
        for i in range(20, 30):
            v[i]
        assert len(v._cache) == 5
        assert v[10] is not a and np.array_equal(v[10], a)


def test_bad_indices(video_path: Path) -> None:
    with VideoReader(video_path) as v:
        with pytest.raises(IndexError, match="out of range"):
            v[100]
        with pytest.raises(IndexError):
            v[-101]
        with pytest.raises(TypeError):
            v[1.5]  # type: ignore[index]


def test_as_array_is_lazy_and_numpy_like(video_path: Path) -> None:
    with VideoReader(video_path) as v:
        arr = v.as_array()
        assert isinstance(arr, VideoArray)
        assert arr.shape == (100, H, W, 3) and arr.ndim == 4 and arr.dtype == np.uint8
        assert len(arr) == 100 and arr.size == 100 * H * W * 3
        assert len(v._cache) == 1  # only frame 0 (decoded on open to check the stream)
        assert _decode_index(arr[37]) == 37
        crop = arr[37, 10:20, 5:9]
        assert crop.shape == (10, 4, 3)
        stack = arr[10:16:2]
        assert stack.shape == (3, H, W, 3)
        assert [_decode_index(f) for f in stack] == [10, 12, 14]
        assert arr[5, ..., 0].shape == (H, W)
        assert arr[2:4, ..., 1].shape == (2, H, W)
        assert np.asarray(arr[[3, 1]]).shape == (2, H, W, 3)


def test_as_dask(video_path: Path) -> None:
    pytest.importorskip("dask")
    with VideoReader(video_path) as v:
        d = v.as_dask()
        assert d.shape == (100, H, W, 3) and d.dtype == np.uint8
        assert _decode_index(np.asarray(d[42])) == 42


def test_thread_safety(video_path: Path) -> None:
    with VideoReader(video_path, cache_bytes=0) as v:
        expected = {i: v[i].copy() for i in range(0, 100, 7)}
        errors: list[str] = []

        def worker(seed: int) -> None:
            rng = np.random.default_rng(seed)
            for i in rng.choice(list(expected), 25):
                if not np.array_equal(v[int(i)], expected[int(i)]):
                    errors.append(f"frame {i}")

        threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothere.mp4"):
        VideoReader(tmp_path / "nothere.mp4")
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    with pytest.raises(VideoError, match="broken.mp4"):
        VideoReader(bad)
    with pytest.raises(VideoError, match="not a file"):
        VideoReader(tmp_path)


def test_truncated_video_still_counts_its_frames(video_path: Path, tmp_path: Path) -> None:
    # an mp4 cut in half loses its index (moov at the end): opening must fail clearly
    data = video_path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    try:
        v = VideoReader(cut)
    except VideoError as exc:
        assert "cut.mp4" in str(exc)
    else:  # the container kept an index: the count must be what decodes
        with v:
            assert 0 < v.n_frames <= 100


def _tracks(n_frames: int, max_xy: tuple[float, float]) -> Tracks:
    xy = np.full((n_frames, 1, 3, 2), 10.0)
    xy[n_frames // 2, 0, 1] = max_xy
    lik = np.full((n_frames, 1, 3), 0.9)
    return Tracks.from_arrays(xy, lik, bodyparts=["a", "b", "c"])


def test_check_video_matches(video_path: Path) -> None:
    assert check_video_matches(video_path, _tracks(100, (W - 1.0, H - 1.0))) == []
    problems = check_video_matches(video_path, _tracks(101, (20.0, 20.0)))
    assert problems == [
        "frame count differs: video has 100 frames, tracks have 101 (video is 1 frame shorter)"
    ]
    with VideoReader(video_path) as v:
        problems = check_video_matches(v, _tracks(97, (W * 2.0, 20.0)))
    assert len(problems) == 2
    assert "3 frames longer" in problems[0]
    assert "x reaches 320.0 px" in problems[1] and f"{W} px wide" in problems[1]


def test_pipeline_video_check_uses_check_video_matches(video_path: Path, caplog) -> None:
    import logging

    from stablemotion_dlc.dlc.pipeline import _check_video_frames
    from stablemotion_dlc.errors import ConfigError

    with caplog.at_level(logging.WARNING, logger="stablemotion_dlc.dlc.pipeline"):
        _check_video_frames(video_path, _tracks(100, (W - 1.0, H - 1.0)))
        assert not caplog.records
        _check_video_frames(video_path, _tracks(101, (W * 2.0, 20.0)))  # warned, not refused
    text = caplog.text
    assert "video has 100 frames, tracks have 101 (video is 1 frame shorter)" in text
    assert "known DLC/codec quirk" in text
    assert "x reaches 320.0 px" in text
    with pytest.raises(ConfigError, match="has 100 frames but its tracks .* have 98; they do "
                                          "not belong together"):
        _check_video_frames(video_path, _tracks(98, (20.0, 20.0)))
    _check_video_frames(video_path.with_name("absent.mp4"), _tracks(5, (20.0, 20.0)))


def test_check_video_matches_real_off_by_one(shared_data: Path) -> None:
    from stablemotion_dlc.dlc.io import read_tracks

    video = shared_data / "vame" / "cropped_video.mp4"
    tracks = read_tracks(shared_data / "vame" / "cropped_video.csv")
    with VideoReader(video) as v:
        assert v.n_frames == 749
        problems = check_video_matches(v, tracks)
    assert any("video is 1 frame shorter" in p for p in problems)


def test_real_video_random_access_matches_sequential(shared_data: Path) -> None:
    """m3v1mp4.mp4 decodes to garbage after a seek unless the decoder saw frame 0 first."""
    path = shared_data / "openfield_m3v1" / "m3v1mp4.mp4"
    with VideoReader(path, cache_bytes=0) as v:
        assert v.n_frames == 2330 and v.shape == (480, 640, 3)
        seq = [v[i].copy() for i in range(200)]
    with VideoReader(path, cache_bytes=0) as v:
        for i in (190, 183, 182, 181, 5, 199):
            assert np.array_equal(v[i], seq[i]), i


def test_guess_video_path(video_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "vids"
    folder.mkdir()
    (folder / "mouse1.mp4").write_bytes(video_path.read_bytes())
    (folder / "mouse1_long.avi").write_bytes(b"")
    tracks = folder / "mouse1DLC_resnet50_testJan1shuffle1_100.h5"
    assert guess_video_path(tracks) == folder / "mouse1.mp4"
    assert guess_video_path(folder / "otherDLC_x.h5") is None


def _wait(cond, timeout: float = 30.0) -> bool:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def test_background_store_serves_every_frame(video_path: Path) -> None:
    """The background thread stores every frame; stored frames are the right ones."""
    with VideoReader(video_path, cache_bytes=0) as exact:
        truth = [exact[i].copy() for i in range(exact.n_frames)]
    with VideoReader(video_path, cache_bytes=0) as v:
        v.start_background(prefetch=0)
        assert _wait(lambda: v.stored_frames == v.n_frames), v.background_error
        assert v.background_error is None
        for i in (57, 3, 99, 0, 41):
            frame = v[i]
            assert i in v._store  # served from the store, not decoded
            assert _decode_index(frame) == i
            assert np.abs(frame.astype(int) - truth[i]).mean() < 2.0  # JPEG q95
            assert not frame.flags.writeable
        v.stop_background()
        assert v._bg is None


def test_background_prefetches_in_the_playing_direction(video_path: Path) -> None:
    with VideoReader(video_path) as v:
        v.start_background(prefetch=6, fill=False)
        v[40]
        v[41]  # playing forward
        assert _wait(lambda: all(j in v._cache for j in range(42, 48)))
        assert 35 not in v._cache and v.stored_frames >= 6
        v[80]
        v[79]  # playing backward
        assert _wait(lambda: all(j in v._cache for j in range(73, 79)))
        assert [_decode_index(v._cache[j]) for j in range(73, 79)] == list(range(73, 79))


def test_background_respects_its_memory_budget(video_path: Path) -> None:
    with VideoReader(video_path) as v:
        v.start_background(prefetch=0, store_bytes=20_000)
        assert _wait(lambda: v._store_full)
        assert 0 < v.stored_frames < v.n_frames and v._store_size <= 20_000
