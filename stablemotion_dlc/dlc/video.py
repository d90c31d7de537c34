"""Lazy, frame-accurate video reading (PyAV) for viewing pose tracks on their video.

:class:`VideoReader` opens a video once and serves single RGB frames by index:

* the frame table (presentation time stamp of every frame, keyframes) is built once by
  demultiplexing the file without decoding it (milliseconds for thousands of frames), so
  :attr:`VideoReader.n_frames` is exact even where the container's own count is missing or
  wrong, and frame ``i`` is the ``i``-th frame in presentation order, as DeepLabCut counts;
* sequential reads keep the decoder where it is (the next frame costs one decode);
* random access seeks to the nearest keyframe at or before the target and decodes forward,
  converting only the requested frame to RGB;
* recently read frames stay in a small LRU cache (bounded in bytes);
* a lock makes it safe to call from napari's asynchronous slicing thread;
* for scrubbing in a viewer, :meth:`VideoReader.start_background` adds a background thread
  with its own decoder that (1) prefetches the next frames in the playing direction into the
  cache and (2) fills a *frame store*: every frame, JPEG-compressed (quality 95, no chroma
  subsampling; ~40 KB and ~2 ms to decode at 640x480), so that a random jump costs a JPEG
  decode instead of a seek plus up to a whole keyframe interval of decoding.

:meth:`VideoReader.as_array` wraps the reader in :class:`VideoArray`, a read-only, numpy-like
``(frames, height, width, 3)`` uint8 array that decodes only the frames it is indexed with, so
napari can show it as an image layer without decoding the whole video.
:func:`check_video_matches` lists the ways a video and its pose tracks disagree.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from stablemotion_dlc.errors import FileProblemError

if TYPE_CHECKING:
    from stablemotion_dlc.dlc.tracks import Tracks

__all__ = [
    "FRAME_COUNT_PROBLEM",
    "VIDEO_EXTENSIONS",
    "VideoError",
    "VideoReader",
    "VideoArray",
    "check_video_matches",
    "guess_video_path",
]

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".mpg", ".mpeg", ".webm")
"""Video suffixes looked for next to a DLC output (DLC's own defaults plus a few)."""

FRAME_COUNT_PROBLEM = "frame count differs"
"""How a frame-count problem of :func:`check_video_matches` starts."""

_DEFAULT_CACHE_BYTES = 256 * 2**20
_COORD_TOLERANCE = 0.02  # coordinates may overshoot the frame by 2 % (at least 4 px)
_COORD_TOLERANCE_PX = 4.0
_SKIP_MARGIN = 16  # frames before the target from which every frame is decoded
_DEFAULT_STORE_BYTES = 512 * 2**20
_STORE_QUALITY = 95


class VideoError(FileProblemError):
    """A video file cannot be opened or decoded."""


@dataclass(frozen=True)
class _FrameTable:
    """Presentation time stamps of every frame and the keyframe positions."""

    pts: np.ndarray  # (n_frames,) int64, sorted ascending
    keyframes: np.ndarray  # (n_keyframes,) int64 frame indices, sorted ascending
    stamped: bool = True  # False: frames known only by decoding order (no seeking)


class VideoReader:
    """Random and sequential access to the frames of one video file.

    Parameters
    ----------
    path : str or Path
        Video file (anything FFmpeg reads: mp4, avi, mov, mkv, ...).
    cache_bytes : int, default 256 MiB
        Size of the LRU cache of decoded RGB frames (at least one frame is always kept).
    threads : {"AUTO", "FRAME", "SLICE", "NONE"}, default "SLICE"
        FFmpeg decoder threading. ``"SLICE"`` keeps seek latency low; ``"AUTO"``/``"FRAME"``
        decode faster in long sequential runs but delay every seek by a few frames.

    Attributes
    ----------
    path : Path
        The video file.
    n_frames : int
        Exact number of frames (from the demultiplexed packets, not the header).
    fps : float
        Average frame rate.
    shape : tuple of int
        ``(height, width, 3)`` of one RGB frame.
    header_frames : int
        Frame count stored in the container header (0 when absent); differs from
        :attr:`n_frames` when the header is wrong.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    VideoError
        If the file is not a readable video or has no video stream.

    Examples
    --------
    >>> with VideoReader("m3v1mp4.mp4") as video:  # doctest: +SKIP
    ...     frame = video[100]          # (480, 640, 3) uint8
    ...     layer_data = video.as_array()  # lazy (2330, 480, 640, 3)
    """

    def __init__(
        self,
        path: str | Path,
        *,
        cache_bytes: int = _DEFAULT_CACHE_BYTES,
        threads: str = "SLICE",
    ) -> None:
        import av

        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: no such video file")
        if not self.path.is_file():
            raise VideoError(self.path, "not a file")
        threads = threads.upper()
        if threads not in ("AUTO", "FRAME", "SLICE", "NONE"):
            raise ValueError(
                f"threads must be 'AUTO', 'FRAME', 'SLICE' or 'NONE', got {threads!r}"
            )
        self._lock = threading.RLock()
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_bytes = max(int(cache_bytes), 0)
        self._decoder: Iterator[Any] | None = None
        self._next = 0  # frame index the decoder iterator yields next
        self._skipping = False  # decoder currently drops non-reference frames
        self._store: dict[int, bytes] = {}  # frame -> JPEG bytes (see start_background)
        self._store_size = 0
        self._store_limit = 0
        self._bg: threading.Thread | None = None
        self._bg_stop = threading.Event()
        self._bg_wake = threading.Event()
        self._fg_busy = threading.Event()
        self._last_read = 0
        self._direction = 1
        self._prefetch = 0
        self._fill = False
        self._fill_cursor = 0
        self._store_full = False
        self._bg_error: str | None = None
        try:
            self._container = av.open(str(self.path), mode="r")
        except av.error.FileNotFoundError as exc:
            raise FileNotFoundError(f"{self.path}: no such video file") from exc
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise VideoError(self.path, f"cannot open as a video ({exc})") from exc
        try:
            if not self._container.streams.video:
                raise VideoError(self.path, "contains no video stream")
            self._stream = self._container.streams.video[0]
            if threads != "NONE":
                self._stream.thread_type = threads
            ctx = self._stream.codec_context
            if not ctx.width or not ctx.height:
                raise VideoError(self.path, "video stream has no frame size")
            self.shape: tuple[int, int, int] = (int(ctx.height), int(ctx.width), 3)
            self.header_frames = int(self._stream.frames or 0)
            self._time_base = self._stream.time_base
            self._table = self._scan()
        except VideoError:
            self._container.close()
            raise
        except (av.error.FFmpegError, OSError) as exc:
            self._container.close()
            raise VideoError(self.path, f"cannot read the video stream ({exc})") from exc
        self.n_frames = int(self._table.pts.size)
        if self.n_frames == 0:
            self._container.close()
            raise VideoError(self.path, "video stream has no frames")
        self.fps = self._frame_rate()
        # Decoding frame 0 first checks that the stream decodes and primes the decoder with
        # what only the first packet carries (e.g. FFmpeg needs x264's version SEI to apply
        # its encoder-bug workarounds; without it frames decoded after a seek are garbage).
        try:
            self.read(0)
        except VideoError:
            self._container.close()
            raise
        if self.header_frames and self.header_frames != self.n_frames:
            logger.warning(
                "%s: header says %d frames, the stream has %d; using %d",
                self.path, self.header_frames, self.n_frames, self.n_frames,
            )
        logger.debug(
            "opened %s: %d frames, %.4g fps, %dx%d, %d keyframes",
            self.path, self.n_frames, self.fps, self.shape[1], self.shape[0],
            self._table.keyframes.size,
        )

    # ------------------------------------------------------------------ frame table
    def _scan(self) -> _FrameTable:
        """Demultiplex (without decoding) to find every frame's pts and the keyframes."""
        pts: list[int] = []
        key: list[int] = []
        missing = 0
        for packet in self._container.demux(self._stream):
            if packet.size == 0:  # flush packet at the end of the stream
                continue
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is None:
                missing += 1
                continue
            pts.append(int(stamp))
            key.append(bool(packet.is_keyframe))
        if missing and not pts:
            return self._scan_decoding()
        if missing:
            logger.warning("%s: %d packets without time stamps were skipped", self.path, missing)
        order = np.argsort(np.asarray(pts, dtype=np.int64), kind="stable")
        pts_sorted = np.asarray(pts, dtype=np.int64)[order]
        if pts_sorted.size and np.any(np.diff(pts_sorted) == 0):
            raise VideoError(self.path, "several frames share one time stamp; cannot index it")
        keyframes = np.flatnonzero(np.asarray(key, dtype=bool)[order]).astype(np.int64)
        if keyframes.size == 0 or (pts_sorted.size and keyframes[0] != 0):
            keyframes = np.concatenate([[0], keyframes]).astype(np.int64)
        self._rewind()
        return _FrameTable(pts=pts_sorted, keyframes=keyframes)

    def _scan_decoding(self) -> _FrameTable:
        """Fallback for streams without packet time stamps: decode once, count frames."""
        logger.info("%s: no packet time stamps; decoding once to count frames", self.path)
        self._rewind()
        n = sum(1 for _ in self._container.decode(self._stream))
        self._rewind()
        # decoded frames are then addressed by their order only (no seeking possible)
        return _FrameTable(pts=np.arange(n, dtype=np.int64), keyframes=np.array([0]),
                           stamped=False)

    def _frame_rate(self) -> float:
        for rate in (self._stream.average_rate, self._stream.guessed_rate,
                     self._stream.base_rate):
            if rate:
                return float(rate)
        if self.n_frames > 1:
            span = float((self._table.pts[-1] - self._table.pts[0]) * self._time_base)
            if span > 0:
                return (self.n_frames - 1) / span
        return float("nan")

    def _rewind(self) -> None:
        self._container.seek(0, stream=self._stream, backward=True, any_frame=False)
        self._stream.codec_context.flush_buffers()
        self._decoder = None
        self._next = 0

    # ------------------------------------------------------------------ public API
    @property
    def dtype(self) -> np.dtype:
        """``uint8``."""
        return np.dtype(np.uint8)

    @property
    def duration(self) -> float:
        """Duration in seconds (``n_frames / fps``)."""
        return self.n_frames / self.fps if self.fps and np.isfinite(self.fps) else float("nan")

    @property
    def keyframes(self) -> np.ndarray:
        """Frame indices of the keyframes (seek points)."""
        return self._table.keyframes.copy()

    def __len__(self) -> int:
        return self.n_frames

    def __repr__(self) -> str:
        h, w, _ = self.shape
        return (f"VideoReader({str(self.path)!r}, n_frames={self.n_frames}, {w}x{h}, "
                f"fps={self.fps:.4g})")

    def __getitem__(self, index: int | np.integer) -> np.ndarray:
        return self.read(index)

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(self.n_frames):
            yield self.read(i)

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the background thread, close the file and drop the caches."""
        self.stop_background()
        with self._lock:
            self._decoder = None
            self._cache.clear()
            self._container.close()

    def read(self, index: int | np.integer) -> np.ndarray:
        """Return frame ``index`` as a read-only ``(height, width, 3)`` RGB uint8 array.

        Parameters
        ----------
        index : int
            Frame index in presentation order; negative values count from the end.

        Returns
        -------
        np.ndarray
            The frame (shared with the cache: do not modify, copy first).

        Raises
        ------
        IndexError
            If ``index`` is out of range.
        VideoError
            If the frame cannot be decoded.
        """
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"frame index must be an integer, got {type(index).__name__}")
        i = int(index)
        if i < 0:
            i += self.n_frames
        if not 0 <= i < self.n_frames:
            raise IndexError(f"{self.path}: frame {index} out of range (0..{self.n_frames - 1})")
        self._note_position(i)
        with self._lock:
            cached = self._cache.get(i)
            if cached is not None:
                self._cache.move_to_end(i)
                return cached
            stored = self._store.get(i)
        if stored is not None:
            frame = _decode_jpeg(stored)
            with self._lock:
                self._remember(i, frame)
            return frame
        self._fg_busy.set()
        try:
            with self._lock:
                frame = self._decode(i)
                self._remember(i, frame)
                return frame
        finally:
            self._fg_busy.clear()

    # ------------------------------------------------------------------ background
    def start_background(
        self,
        *,
        prefetch: int = 24,
        store_bytes: int = _DEFAULT_STORE_BYTES,
        fill: bool = True,
    ) -> None:
        """Decode ahead in a background thread, for fast scrubbing in a viewer.

        The thread has its own decoder (its own file handle), so it never holds up a read.
        It pauses while a read decodes in the foreground (two decoders on a busy machine
        would slow that read down) and, in this order of priority,

        1. prefetches the ``prefetch`` frames after the last one read, in the direction the
           reads go (playing backwards prefetches the frames before it), into the cache;
        2. with ``fill``, decodes the video sequentially from the last frame read onwards
           (wrapping around) into the frame store, until every frame is stored or the store
           holds ``store_bytes``.

        Frames served from the store are JPEG-compressed (quality 95, no chroma subsampling):
        the mean absolute difference to the decoded frame is well under one grey level, but
        they are not bit-exact. A reader without :meth:`start_background` always returns the
        decoded frames.

        Parameters
        ----------
        prefetch : int
            Frames decoded ahead of the last read.
        store_bytes : int
            Memory budget of the frame store (0: no store).
        fill : bool
            Fill the store while nothing else is asked for.
        """
        if self._bg is not None and self._bg.is_alive():
            return
        self._prefetch = max(int(prefetch), 0)
        self._store_limit = max(int(store_bytes), 0)
        self._fill = bool(fill) and self._store_limit > 0
        self._fill_cursor = self._keyframe_before(self._last_read)
        self._bg_stop.clear()
        self._bg = threading.Thread(target=self._background, name=f"video-bg:{self.path.name}",
                                    daemon=True)
        self._bg.start()

    def stop_background(self, timeout: float = 5.0) -> None:
        """Stop the background thread (the store and cache are kept)."""
        thread = self._bg
        if thread is None:
            return
        self._bg_stop.set()
        self._bg_wake.set()
        thread.join(timeout)
        self._bg = None

    @property
    def stored_frames(self) -> int:
        """Number of frames in the frame store (see :meth:`start_background`)."""
        return len(self._store)

    @property
    def background_error(self) -> str | None:
        """Why the background thread stopped early, if it did."""
        return self._bg_error

    def _note_position(self, i: int) -> None:
        last = self._last_read
        if i != last:
            self._direction = 1 if i > last else -1
        self._last_read = i
        self._bg_wake.set()

    def _wanted(self, have: dict[int, bytes]) -> int | None:
        """Next frame for the background thread to decode, or None."""
        n, last, ahead = self.n_frames, self._last_read, self._prefetch
        if ahead:
            if self._direction > 0:
                candidates = range(last + 1, min(last + 1 + ahead, n))
            else:  # ascending, so the background decoder reads forward
                candidates = range(max(last - ahead, 0), last)
            with self._lock:
                for j in candidates:
                    if j not in self._cache and j not in self._store:
                        return j
        if self._fill and not self._store_full and len(self._store) < n:
            for _ in range(n):  # amortised O(1): the cursor only moves forward
                j = self._fill_cursor
                self._fill_cursor = (j + 1) % n
                if j not in have:
                    return j
        return None

    def _background(self) -> None:
        bg: VideoReader | None = None
        try:
            bg = VideoReader(self.path, cache_bytes=0)
            while not self._bg_stop.is_set():
                if self._fg_busy.is_set():
                    time.sleep(0.002)
                    continue
                j = self._wanted(self._store)
                if j is None:
                    self._bg_wake.wait(0.5)
                    self._bg_wake.clear()
                    continue
                frame = bg.read(j)
                near = abs(j - self._last_read) <= self._prefetch
                with self._lock:
                    if near:
                        self._remember(j, frame)
                if self._store_limit and j not in self._store:
                    data = _encode_jpeg(frame)
                    if self._store_size + len(data) <= self._store_limit:
                        self._store[j] = data
                        self._store_size += len(data)
                    else:  # full: stop filling (prefetching goes on)
                        self._store_full = True
        except Exception as exc:  # noqa: BLE001 - the foreground keeps working without it
            self._bg_error = f"{type(exc).__name__}: {exc}"
            logger.warning("%s: background decoding stopped (%s)", self.path, self._bg_error)
        finally:
            if bg is not None:
                bg.close()

    def as_array(self) -> VideoArray:
        """A lazy numpy-like ``(n_frames, height, width, 3)`` view (see :class:`VideoArray`)."""
        return VideoArray(self)

    def as_dask(self) -> Any:
        """A dask array with one chunk per frame, each decoded on demand by this reader.

        Returns
        -------
        dask.array.Array
            ``(n_frames, height, width, 3)`` uint8.

        Raises
        ------
        ImportError
            If dask is not installed.
        """
        import dask.array as da

        def load(block_id: tuple[int, ...] | None = None) -> np.ndarray:
            return self.read(block_id[0])[None] if block_id else np.empty((0, *self.shape))

        h, w, c = self.shape
        return da.map_blocks(
            load, dtype=np.uint8, chunks=((1,) * self.n_frames, (h,), (w,), (c,)),
            meta=np.empty((0, 0, 0, 0), dtype=np.uint8),
        )

    # ------------------------------------------------------------------ decoding
    def _remember(self, i: int, frame: np.ndarray) -> None:
        self._cache[i] = frame
        total = len(self._cache) * frame.nbytes
        while len(self._cache) > 1 and total > self._cache_bytes:
            self._cache.popitem(last=False)
            total -= frame.nbytes

    def _keyframe_before(self, i: int) -> int:
        kf = self._table.keyframes
        return int(kf[np.searchsorted(kf, i, side="right") - 1])

    def _decode(self, i: int) -> np.ndarray:
        import av

        key = self._keyframe_before(i)
        must_seek = self._decoder is None or i < self._next or key > self._next
        try:
            if must_seek and self._table.stamped:
                self._seek_to(key)
            elif must_seek:  # no time stamps: restart from the beginning
                self._rewind()
            frame = self._decode_forward(i, skip=True)
            if frame is None:  # the target was a skipped frame: decode again, skipping none
                self._seek_to(key) if self._table.stamped else self._rewind()
                frame = self._decode_forward(i, skip=False)
        except av.error.FFmpegError as exc:
            self._decoder = None
            raise VideoError(self.path, f"cannot decode frame {i} ({exc})") from exc
        if frame is None:
            raise VideoError(self.path, f"the decoder did not produce frame {i}")
        return frame

    def _seek_to(self, key: int) -> None:
        target = int(self._table.pts[key])
        self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
        self._stream.codec_context.flush_buffers()  # drop reference frames from before the seek
        self._decoder = None
        self._next = key  # refined by the first decoded frame's pts

    def _set_skip(self, skip: bool) -> None:
        ctx = self._stream.codec_context
        want = "NONREF" if skip else "DEFAULT"
        if self._skipping != skip:
            ctx.skip_frame = want
            self._skipping = skip

    def _decode_forward(self, i: int, skip: bool) -> np.ndarray | None:
        """Decode up to frame ``i``; None if ``skip`` dropped it (caller retries)."""
        if self._decoder is None:
            self._decoder = self._container.decode(self._stream)
        pts = self._table.pts
        # Catching up over many frames, let the decoder drop frames nothing refers to
        # (B-frames); switch back well before the target (output lags input by the
        # reordering delay, a few frames).
        self._set_skip(skip and i - self._next > _SKIP_MARGIN)
        try:
            for frame in self._decoder:
                if frame.pts is None or not self._table.stamped:
                    idx = self._next
                else:
                    idx = int(np.searchsorted(pts, frame.pts, side="left"))
                    idx = min(idx, self.n_frames - 1)
                self._next = idx + 1
                if idx < i:
                    if self._skipping and i - idx <= _SKIP_MARGIN:
                        self._set_skip(False)
                    continue
                if idx > i:
                    if self._skipping or skip:
                        self._set_skip(False)
                        return None
                    logger.warning("%s: frame %d not produced by the decoder; showing frame %d",
                                   self.path, i, idx)
                rgb = frame.to_ndarray(format="rgb24")
                if rgb.shape != self.shape:
                    rgb = frame.reformat(width=self.shape[1], height=self.shape[0]).to_ndarray(
                        format="rgb24")
                rgb.flags.writeable = False
                return rgb
        finally:
            self._set_skip(False)
        self._decoder = None
        raise VideoError(self.path, f"the decoder stopped before frame {i} "
                                    f"(the stream seems truncated)")


def _encode_jpeg(frame: np.ndarray) -> bytes:
    """JPEG bytes of an RGB frame (quality 95, 4:4:4)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=_STORE_QUALITY, subsampling=0)
    return buf.getvalue()


def _decode_jpeg(data: bytes) -> np.ndarray:
    """Read-only RGB array of :func:`_encode_jpeg` bytes."""
    import io

    from PIL import Image

    frame = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    frame.flags.writeable = False
    return frame


class VideoArray:
    """Read-only numpy-like ``(frames, height, width, 3)`` uint8 view of a :class:`VideoReader`.

    Indexing decodes only the frames asked for: ``arr[i]`` is one frame, ``arr[a:b:s]`` a
    stacked array, ``arr[i, y0:y1, x0:x1]`` a crop. napari takes it directly as image data.

    Parameters
    ----------
    reader : VideoReader
        The reader to draw frames from.
    """

    def __init__(self, reader: VideoReader) -> None:
        self.reader = reader

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(n_frames, height, width, 3)``."""
        return (self.reader.n_frames, *self.reader.shape)

    @property
    def dtype(self) -> np.dtype:
        """``uint8``."""
        return np.dtype(np.uint8)

    @property
    def ndim(self) -> int:
        """4."""
        return 4

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        """Bytes the whole video would take decoded."""
        return self.size

    def __len__(self) -> int:
        return self.reader.n_frames

    def __repr__(self) -> str:
        return f"VideoArray(shape={self.shape}, dtype=uint8, file={str(self.reader.path)!r})"

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, tuple):
            key = (key,)
        if any(k is Ellipsis for k in key):
            pos = next(j for j, k in enumerate(key) if k is Ellipsis)
            fill = (slice(None),) * (4 - (len(key) - 1))
            key = key[:pos] + fill + key[pos + 1 :]
        if len(key) > 4:
            raise IndexError(f"too many indices for a 4-d video array: {len(key)}")
        first, rest = key[0], key[1:]
        if isinstance(first, (int, np.integer)) and not isinstance(first, (bool, np.bool_)):
            return self.reader.read(first)[rest] if rest else self.reader.read(first)
        frames = np.arange(self.reader.n_frames)[first]
        out = np.empty((frames.size, *self.reader.shape), dtype=np.uint8)
        for j, f in enumerate(frames):
            out[j] = self.reader.read(int(f))
        return out[(slice(None), *rest)] if rest else out

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        logger.warning("decoding all %d frames of %s into memory", len(self), self.reader.path)
        out = self[:]
        return out.astype(dtype) if dtype is not None else out


# ------------------------------------------------------------------------------ checks
def guess_video_path(tracks_path: str | Path) -> Path | None:
    """Guess the video a DLC output was made from (``<video stem><scorer>...h5`` -> video).

    DLC names its outputs ``<video stem><scorer>[_tracker][_filtered].h5`` next to the
    video (or in a ``destfolder``), so the video is the file in the same folder whose stem
    is the longest prefix of the output's stem.

    Parameters
    ----------
    tracks_path : str or Path
        A DLC ``.h5``/``.csv`` output.

    Returns
    -------
    Path or None
        The video, or None when no video in that folder matches.
    """
    tracks_path = Path(tracks_path)
    folder = tracks_path.parent
    if not folder.is_dir():
        return None
    best: Path | None = None
    for cand in folder.iterdir():
        if cand.suffix.lower() not in VIDEO_EXTENSIONS or not cand.is_file():
            continue
        if tracks_path.stem.startswith(cand.stem) and (
            best is None or len(cand.stem) > len(best.stem)
        ):
            best = cand
    return best


def check_video_matches(video: VideoReader | str | Path, tracks: Tracks) -> list[str]:
    """List the ways a video and its pose tracks disagree.

    Parameters
    ----------
    video : VideoReader, str or Path
        The video (opened here when a path is given).
    tracks : Tracks
        Its pose tracks.

    Returns
    -------
    list of str
        Human-readable problems; empty when the frame count matches and every coordinate
        lies inside the frame (within a small tolerance). A frame-count difference says by
        how much (a video one frame shorter than its tracks is a known real case); a frame
        smaller than the coordinates' extent or than DLC's recorded frame size is reported.

    Examples
    --------
    >>> check_video_matches("cropped_video.mp4", read_tracks("cropped_video.csv"))  # doctest: +SKIP
    ['frame count differs: video has 749 frames, tracks have 750 (video is 1 frame shorter)']
    """
    own = not isinstance(video, VideoReader)
    reader = VideoReader(video) if own else video
    try:
        problems: list[str] = []
        nv, nt = reader.n_frames, tracks.n_frames
        if nv != nt:
            diff = abs(nv - nt)
            which = "shorter" if nv < nt else "longer"
            problems.append(
                f"{FRAME_COUNT_PROBLEM}: video has {nv} frames, tracks have {nt} "
                f"(video is {diff} frame{'s' if diff != 1 else ''} {which})"
            )
        h, w, _ = reader.shape
        size = tracks.meta.get("frame_size")
        if size is not None and (int(size[0]), int(size[1])) != (w, h):
            problems.append(
                f"frame size differs: video is {w}x{h}, DLC analysed {int(size[0])}x{int(size[1])}"
            )
        ox, oy = tracks.crop_offset
        xy = tracks.xy
        finite = np.isfinite(xy).all(-1)
        if finite.any():
            x = xy[..., 0][finite] + ox
            y = xy[..., 1][finite] + oy
            for name, values, extent in (("x", x, w), ("y", y, h)):
                tol = max(_COORD_TOLERANCE * extent, _COORD_TOLERANCE_PX)
                hi, lo = float(values.max()), float(values.min())
                if hi > extent + tol:
                    n_out = int((values > extent + tol).sum())
                    problems.append(
                        f"video is smaller than the tracks: {name} reaches {hi:.1f} px but the "
                        f"frame is {extent} px {'wide' if name == 'x' else 'high'} "
                        f"({n_out} points outside)"
                    )
                if lo < -tol:
                    n_out = int((values < -tol).sum())
                    problems.append(
                        f"{name} coordinates go down to {lo:.1f} px, outside the frame "
                        f"({n_out} points)"
                    )
        return problems
    finally:
        if own:
            reader.close()
