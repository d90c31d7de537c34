"""Render simulated top-view mice to an mp4 (Pillow drawing, PyAV encoding).

The drawing is deliberately simple but looks like an open-field recording: a textured,
light bedding floor inside darker walls, dark mice with a bending body outline, ears, pink
paws and a tail that trails behind (a follow-the-leader chain driven by the tail base), all
drawn at twice the resolution and reduced for smooth edges, plus optional light sensor noise.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from stablemotion_dlc._atomic import atomic_path

from .simulate import BODYPARTS, arena_for_frame

__all__ = ["FrameRenderer", "render_video", "pick_codec"]

logger = logging.getLogger(__name__)

_SS = 2  # supersampling factor
_FUR = ((52, 47, 45), (80, 71, 62), (38, 38, 42))  # per-animal body colour
_EAR = (112, 86, 86)
_PAW = (214, 160, 158)
_TAIL = (150, 118, 114)
# body half-width (px at body length ~73) along the spine, from snout (0) to tail base (1)
_PROFILE_U = np.array([0.0, 0.05, 0.14, 0.24, 0.32, 0.45, 0.62, 0.78, 0.92, 1.0])
_PROFILE_W = np.array([1.5, 4.4, 7.6, 9.0, 10.0, 13.5, 15.8, 15.2, 10.8, 4.8])
_TAIL_SEGMENTS = 12
_NOISE_SHIFT = 10


def pick_codec() -> str:
    """Return ``"libx264"`` when the installed PyAV build has it, else ``"mpeg4"``."""
    import av

    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def _to_ss(points: np.ndarray) -> np.ndarray:
    """Pixel coordinates -> supersampled drawing coordinates.

    Keypoints use pixel centres at integer coordinates (DLC's convention); after the
    ``_SS``-fold reduction a drawn point at ``x * _SS + (_SS - 1) / 2`` is centred on ``x``.
    """
    return np.asarray(points, dtype=np.float64) * _SS + (_SS - 1) / 2.0


def _disc(
    draw: ImageDraw.ImageDraw,
    centre: np.ndarray,
    r: float,
    fill: tuple[int, ...],
    outline: tuple[int, ...] | None = None,
    width: int = 1,
) -> None:
    """Filled circle at a float centre (Pillow floors ellipse boxes; +0.5 makes it round)."""
    x, y = float(centre[0]) + 0.5, float(centre[1]) + 0.5
    draw.ellipse([x - r, y - r, x + r, y + r], fill=fill, outline=outline, width=width)


def _merge_boxes(
    boxes: list[list[float]], width: int, height: int
) -> list[tuple[tuple[int, int, int, int], set[int]]]:
    """Integer boxes (clipped to the frame) with the animals they hold; overlaps merged."""
    groups = [(list(b), {i}) for i, b in enumerate(boxes)]
    merged = True
    while merged:
        merged = False
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                ba, bb = groups[a][0], groups[b][0]
                if ba[0] < bb[2] and bb[0] < ba[2] and ba[1] < bb[3] and bb[1] < ba[3]:
                    box = [
                        min(ba[0], bb[0]),
                        min(ba[1], bb[1]),
                        max(ba[2], bb[2]),
                        max(ba[3], bb[3]),
                    ]
                    groups[a] = (box, groups[a][1] | groups[b][1])
                    del groups[b]
                    merged = True
                    break
            if merged:
                break
    out = []
    for box, members in groups:
        x0 = int(np.clip(np.floor(box[0]), 0, width))
        y0 = int(np.clip(np.floor(box[1]), 0, height))
        x1 = int(np.clip(np.ceil(box[2]), 0, width))
        y1 = int(np.clip(np.ceil(box[3]), 0, height))
        if x1 > x0 and y1 > y0:
            out.append(((x0, y0, x1, y1), members))
    return out


def _chaikin(points: np.ndarray, iterations: int = 2) -> np.ndarray:
    """Corner-cutting smoothing of an open polyline (end points kept)."""
    for _ in range(iterations):
        q = 0.75 * points[:-1] + 0.25 * points[1:]
        r = 0.25 * points[:-1] + 0.75 * points[1:]
        mid = np.empty((2 * len(q), 2))
        mid[0::2], mid[1::2] = q, r
        points = np.vstack([points[:1], mid, points[-1:]])
    return points


class FrameRenderer:
    """Draw frames of simulated mice; keeps the tail state between consecutive frames.

    Parameters
    ----------
    width, height : int
        Frame size (even numbers, for yuv420p video).
    n_animals : int
        Number of animals that will be drawn.
    seed : int
        Seed of the floor texture, the animal colours and the sensor noise.
    noise : bool
        Add light per-frame sensor noise.
    bodyparts : tuple of str
        Names of axis 1 of the poses passed to :meth:`draw` (must contain the
        :data:`~stablemotion_dlc.sample.simulate.BODYPARTS`).
    """

    def __init__(
        self,
        width: int,
        height: int,
        n_animals: int,
        *,
        seed: int = 0,
        noise: bool = True,
        bodyparts: tuple[str, ...] = BODYPARTS,
    ) -> None:
        if width % 2 or height % 2 or width < 160 or height < 120:
            raise ValueError(f"frame size must be even and at least 160x120, got {width}x{height}")
        missing = [b for b in BODYPARTS if b not in bodyparts]
        if missing:
            raise ValueError(f"bodyparts lack {missing} needed for drawing")
        self.width, self.height = width, height
        self.n_animals = n_animals
        self._idx = {b: bodyparts.index(b) for b in BODYPARTS}
        rng = np.random.default_rng([seed, 7])
        self._background_ss = self._make_background(rng)
        self._background = self._background_ss.reduce(_SS)
        jitter = rng.integers(-6, 7, size=(n_animals, 3))
        self._fur = [
            tuple(int(c) for c in np.clip(np.add(_FUR[i % 3], jitter[i]), 0, 255))
            for i in range(n_animals)
        ]
        # grey sensor noise (sd 2.5 levels) stored as uint8 shifted by +_NOISE_SHIFT; every
        # drawn colour lies in [_NOISE_SHIFT, 255 - _NOISE_SHIFT], so wrapping uint8 adds give
        # the exact result without a float round trip
        self._noise = (
            [
                np.repeat(
                    np.clip(
                        np.round(rng.normal(_NOISE_SHIFT, 2.5, size=(height, width, 1))),
                        0,
                        2 * _NOISE_SHIFT,
                    ).astype(np.uint8),
                    3,
                    axis=2,
                )
                for _ in range(6)
            ]
            if noise
            else None
        )
        self._tails: list[np.ndarray | None] = [None] * n_animals
        self._count = 0

    def _make_background(self, rng: np.random.Generator) -> Image.Image:
        w, h = self.width * _SS, self.height * _SS
        arena = arena_for_frame(self.width, self.height)
        # bedding: low-frequency blotches + fine grain + a few specks
        low = Image.fromarray(rng.uniform(0, 255, size=(h // 40 + 2, w // 40 + 2)).astype(np.uint8))
        low_arr = (
            np.asarray(low.resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32) / 255.0 - 0.5
        )
        grain = (
            np.asarray(
                Image.fromarray(rng.uniform(0, 255, size=(h, w)).astype(np.uint8)).filter(
                    ImageFilter.GaussianBlur(1.2)
                ),
                dtype=np.float32,
            )
            / 255.0
            - 0.5
        )
        base = np.array([201.0, 193.0, 176.0])
        img = base[None, None, :] + (18.0 * low_arr + 40.0 * grain)[..., None]
        specks = rng.random((h, w)) < 0.0015
        img[specks] -= 45.0
        # walls: darker grey band with a lit inner edge and a soft floor shadow
        x = np.arange(w)[None, :] / _SS
        y = np.arange(h)[:, None] / _SS
        dist = np.minimum(
            np.minimum(x - arena.x0, arena.x1 - x), np.minimum(y - arena.y0, arena.y1 - y)
        )
        wall = dist < 0
        img[wall] = np.array([112.0, 110.0, 108.0]) + 6.0 * low_arr[wall][:, None]
        edge = (dist >= -2.0) & (dist < 0)
        img[edge] = np.array([150.0, 148.0, 145.0])
        shade = np.clip(1.0 - np.exp(-np.maximum(dist, 0.0) / 10.0), 0.0, 1.0)
        img = np.where(wall[..., None], img, img * (0.82 + 0.18 * shade[..., None]))
        # a gentle vignette from the overhead lamp
        cx, cy = self.width / 2, self.height / 2
        r2 = ((x - cx) / cx) ** 2 + ((y - cy) / cy) ** 2
        img *= (1.0 - 0.12 * r2)[..., None]
        img = np.clip(img, _NOISE_SHIFT, 255 - _NOISE_SHIFT)
        return Image.fromarray(img.astype(np.uint8), "RGB")

    def _update_tail(self, i: int, pose: np.ndarray, seg: float) -> np.ndarray:
        base = pose[self._idx["tailbase"]]
        back = base - pose[self._idx["spine_mid"]]
        back = back / max(float(np.linalg.norm(back)), 1e-6)
        tail = self._tails[i]
        if tail is None or len(tail) != _TAIL_SEGMENTS + 1:
            tail = base[None, :] + back[None, :] * seg * np.arange(_TAIL_SEGMENTS + 1)[:, None]
        tail = tail.copy()
        tail[0] = base
        for j in range(1, len(tail)):
            v = tail[j] - tail[j - 1]
            n = float(np.linalg.norm(v))
            v = back if n < 1e-6 else v / n
            if j == 1:  # the first segment leaves the body straight
                v = 0.5 * v + 0.5 * back
                v /= max(float(np.linalg.norm(v)), 1e-6)
            tail[j] = tail[j - 1] + v * seg
        self._tails[i] = tail
        return tail

    def _draw_animal(
        self,
        draw: ImageDraw.ImageDraw,
        i: int,
        pose: np.ndarray,
        tail: np.ndarray,
        offset: np.ndarray,
    ) -> None:
        """Draw animal ``i`` into a supersampled crop whose origin is ``offset`` (SS px)."""

        def loc(points: np.ndarray) -> np.ndarray:
            return _to_ss(points) - offset

        ix = self._idx
        length = float(
            np.linalg.norm(pose[ix["snout"]] - pose[ix["neck"]])
            + np.linalg.norm(pose[ix["neck"]] - pose[ix["spine_mid"]])
            + np.linalg.norm(pose[ix["spine_mid"]] - pose[ix["tailbase"]])
        )
        scale = float(
            np.clip(np.linalg.norm(pose[ix["spine_mid"]] - pose[ix["tailbase"]]) / 30.0, 0.8, 1.4)
        )
        ss = _SS
        fur = self._fur[i]
        light = tuple(min(255, c + 13) for c in fur)
        # tail (trailing chain), tapering
        tail = loc(tail)
        for j in range(len(tail) - 1):
            wdt = (5.0 - 3.6 * j / (len(tail) - 1)) * scale * ss
            draw.line([tuple(tail[j]), tuple(tail[j + 1])], fill=_TAIL, width=max(1, int(wdt)))
            _disc(draw, tail[j + 1], wdt / 2.0, _TAIL)
        # paws (under the body edge)
        for name in ("left_hindpaw", "right_hindpaw", "left_forepaw", "right_forepaw"):
            _disc(draw, loc(pose[ix[name]]), 3.8 * scale * ss, _PAW)
        # body outline around the smoothed spine snout -> neck -> spine_mid -> tailbase
        spine = _chaikin(
            np.stack([pose[ix[b]] for b in ("snout", "neck", "spine_mid", "tailbase")]), 3
        )
        seglen = np.linalg.norm(np.diff(spine, axis=0), axis=1)
        u = np.concatenate([[0.0], np.cumsum(seglen)]) / max(float(seglen.sum()), 1e-6)
        tang = np.gradient(spine, axis=0)
        tang /= np.maximum(np.linalg.norm(tang, axis=1, keepdims=True), 1e-6)
        normal = np.stack([-tang[:, 1], tang[:, 0]], axis=1)
        half = np.interp(u, _PROFILE_U, _PROFILE_W) * scale * (0.75 + 0.25 * length / 73.0)
        left = spine + normal * half[:, None]
        right = spine - normal * half[:, None]
        outline = loc(np.vstack([left, right[::-1]]))
        draw.polygon([tuple(p) for p in outline], fill=fur)
        back = np.vstack(
            [
                spine + normal * (0.35 * half)[:, None],
                (spine - normal * (0.35 * half)[:, None])[::-1],
            ]
        )[2:-2]
        back = loc(back)
        if len(back) > 2:
            draw.polygon([tuple(p) for p in back], fill=light)
        # ears
        for name in ("left_ear", "right_ear"):
            _disc(draw, loc(pose[ix[name]]), 4.6 * scale * ss, _EAR, outline=fur, width=ss)
        # nose tip
        _disc(draw, loc(pose[ix["snout"]]), 1.6 * scale * ss, (170, 120, 120))

    def draw(self, poses: np.ndarray) -> np.ndarray:
        """Draw the next frame.

        Parameters
        ----------
        poses : np.ndarray
            ``(individuals, keypoints, 2)`` pixel coordinates of this frame (no NaN).

        Returns
        -------
        np.ndarray
            ``(height, width, 3)`` uint8 RGB image.
        """
        poses = np.asarray(poses, dtype=np.float64)
        ix = self._idx
        tails, boxes = [], []
        for i, pose in enumerate(poses):
            scale = float(
                np.clip(
                    np.linalg.norm(pose[ix["spine_mid"]] - pose[ix["tailbase"]]) / 30.0, 0.8, 1.4
                )
            )
            tail = self._update_tail(i, pose, 6.5 * scale)
            tails.append(tail)
            pts = np.vstack([pose, tail])
            boxes.append([*(pts.min(axis=0) - 14.0), *(pts.max(axis=0) + 14.0)])
        img = self._background.copy()
        # animals lower in the image are drawn last (on top), a fixed and simple depth order
        order = [int(i) for i in np.argsort([float(p[:, 1].mean()) for p in poses])]
        for box, members in _merge_boxes(boxes, self.width, self.height):
            x0, y0, x1, y1 = box
            crop = self._background_ss.crop((x0 * _SS, y0 * _SS, x1 * _SS, y1 * _SS))
            draw = ImageDraw.Draw(crop)
            offset = np.array([x0 * _SS, y0 * _SS], dtype=np.float64)
            for i in order:
                if i in members:
                    self._draw_animal(draw, i, poses[i], tails[i], offset)
            img.paste(crop.reduce(_SS), (x0, y0))
        frame = np.asarray(img)
        if self._noise is not None:
            frame = frame + self._noise[self._count % len(self._noise)]
            frame -= np.uint8(_NOISE_SHIFT)
        self._count += 1
        return frame

    def frames(self, truth: np.ndarray) -> Iterator[np.ndarray]:
        """Yield one RGB frame per row of ``truth`` ``(frames, individuals, keypoints, 2)``."""
        for t in range(truth.shape[0]):
            yield self.draw(truth[t])


def render_video(
    truth: np.ndarray,
    path: str | Path,
    *,
    fps: float = 30.0,
    width: int = 640,
    height: int = 480,
    seed: int = 0,
    noise: bool = True,
    codec: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Render ground-truth poses to an mp4 (yuv420p) with exactly one frame per pose row.

    Parameters
    ----------
    truth : np.ndarray
        ``(frames, individuals, len(BODYPARTS), 2)`` keypoints in :data:`BODYPARTS` order.
    path : str or Path
        Output ``.mp4`` file; written atomically.
    fps : float
        Frame rate stored in the video.
    width, height : int
        Frame size.
    seed : int
        Seed of the floor texture, colours and noise.
    noise : bool
        Add light sensor noise.
    codec : str, optional
        ``"libx264"`` or ``"mpeg4"``; default :func:`pick_codec`.
    overwrite : bool
        Replace an existing file.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    Path
        The written video.
    """
    import av

    from stablemotion_dlc._progress import progress_bar

    truth = np.asarray(truth, dtype=np.float64)
    if truth.ndim != 4 or truth.shape[2:] != (len(BODYPARTS), 2):
        raise ValueError(
            f"truth must be (frames, individuals, {len(BODYPARTS)}, 2), got {truth.shape}"
        )
    if not np.all(np.isfinite(truth)):
        raise ValueError("truth contains NaN/inf; only complete ground truth can be drawn")
    codec = codec or pick_codec()
    renderer = FrameRenderer(width, height, truth.shape[1], seed=seed, noise=noise)
    path = Path(path)
    rate = Fraction(fps).limit_denominator(1001)
    with (
        atomic_path(path, overwrite) as tmp,
        av.open(str(tmp), mode="w", format="mp4") as container,
    ):
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "23", "preset": "veryfast"}
        else:
            stream.bit_rate = 2_500_000
        frames = progress_bar(
            renderer.frames(truth),
            total=truth.shape[0],
            disable=not progress,
            desc=f"rendering {path.name}",
            unit="frame",
        )
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    logger.info("wrote %s (%d frames, %s, %.3g fps)", path, truth.shape[0], codec, fps)
    return path
