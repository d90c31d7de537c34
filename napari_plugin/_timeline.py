"""Timeline plot of one keypoint: x, y and likelihood around the frame, and the whole video.

x, y and likelihood around the current frame, plus a strip of the whole video.

A matplotlib figure embedded with ``FigureCanvasQTAgg``:

* three *detail* panels (x, y, likelihood) show :attr:`TimelineCanvas.detail_frames`
  frames around the current frame, so that a one-frame flag is several pixels wide; the window
  pages along when the current frame leaves its middle 80 %;
* a thin *overview strip* shows the whole video: the keypoint's flagged frames (each drawn at
  least a few pixels wide), the detail window as a frame, and the current frame.

A vertical line marks the viewer's current frame; clicking any panel emits
:attr:`TimelineCanvas.frame_clicked` with the frame under the mouse.

Following the viewer's frame costs a blit, not a redraw: the cursor lines are "animated"
artists drawn on top of a saved background. The blit is deferred to the Qt event loop (a
zero-delay timer, coalesced), never done inside the caller: a synchronous repaint from inside
napari's layer-removal callbacks re-entered vispy's drawing and crashed the viewer.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from qtpy.QtCore import QTimer, Signal
from qtpy.QtWidgets import QSizePolicy

__all__ = ["TimelineCanvas", "runs", "detail_window"]

_RAW = "#9aa0a6"
_CLEAN = "#00c8ff"
_FLAG = "#ff4040"
_MARK = "#ff00ff"
_CURSOR = "#ffd24a"
_MIN_STRIP_PX = 3.0  # a flagged frame is at least this wide in the overview strip
_PAGE_MARGIN = 0.1  # re-centre the detail window when the cursor is this close to an edge


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` spans of the True runs of a 1-D bool array."""
    edges = np.diff(np.concatenate([[0], np.asarray(mask, dtype=np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(),
                    strict=True))


def detail_window(frame: int, n_frames: int, window: int,
                  current: tuple[float, float] | None = None) -> tuple[float, float]:
    """x-limits of the detail panels for ``frame``.

    Parameters
    ----------
    frame : int
        Current frame.
    n_frames : int
        Frames in the video.
    window : int
        Frames shown at once (the whole video when it is shorter).
    current : (float, float), optional
        The limits shown now; kept while ``frame`` lies in their middle part, so that stepping
        through frames does not redraw the plot each time.

    Returns
    -------
    (float, float)
        ``(left, right)`` in frame units (frame ``f`` spans ``f - 0.5 .. f + 0.5``).
    """
    if n_frames <= window:
        return -0.5, max(n_frames - 0.5, 0.5)
    if current is not None:
        lo, hi = current
        margin = _PAGE_MARGIN * (hi - lo)
        if lo + margin <= frame <= hi - margin or (lo <= -0.5 and frame <= hi - margin) or (
                hi >= n_frames - 0.5 and frame >= lo + margin):
            return current
    left = int(np.clip(frame - window // 2, 0, n_frames - window))
    return left - 0.5, left + window - 0.5


class TimelineCanvas(FigureCanvasQTAgg):
    """x, y, likelihood of one keypoint around the current frame, whole-video strip below.

    Parameters
    ----------
    window : int
        Frames shown by the detail panels (:attr:`detail_frames`).
    """

    frame_clicked = Signal(int)

    def __init__(self, window: int = 300) -> None:
        fig = Figure(figsize=(4, 3.6), layout="constrained")
        fig.patch.set_facecolor("#262930")
        super().__init__(fig)
        self.detail_frames = int(window)
        self.setObjectName("timeline")
        self.setMinimumHeight(180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        grid = fig.add_gridspec(4, 1, height_ratios=[1, 1, 1, 0.35])
        first = fig.add_subplot(grid[0])
        self.axes = [first] + [fig.add_subplot(grid[j], sharex=first) for j in (1, 2)]
        self.strip = fig.add_subplot(grid[3])
        for ax, label in zip(self.axes + [self.strip],
                             ("x (px)", "y (px)", "likelihood", "video"), strict=True):
            ax.set_facecolor("#1e1f24")
            ax.set_ylabel(label, color="w", fontsize=8)
            ax.tick_params(colors="w", labelsize=7)
            for spine in ax.spines.values():
                spine.set_color("#777")
        for ax in self.axes[:2]:
            ax.tick_params(labelbottom=False)
        self.strip.set_yticks([])
        self.strip.set_ylim(0, 1)
        self.strip.set_xlabel("frame", color="w", fontsize=8)
        # the cursor lines are "animated": left out of full redraws and blitted on top of a
        # saved background, so following the viewer's frame costs a blit, not a redraw
        self._cursor = [ax.axvline(0, color=_CURSOR, lw=1.2, animated=True)
                        for ax in self.axes + [self.strip]]
        self._viewport = Rectangle((0, 0), 1, 1, fill=False, ec="#ffffff", lw=1.0)
        self.strip.add_patch(self._viewport)
        self._background = None
        self._blit_timer = QTimer(self)
        self._blit_timer.setSingleShot(True)
        self._blit_timer.setInterval(0)
        self._blit_timer.timeout.connect(self._flush)
        self.n_frames = 0
        self.current_frame = 0
        self.mpl_connect("button_press_event", self._on_click)
        self.mpl_connect("draw_event", self._on_draw)

    @property
    def detail_limits(self) -> tuple[float, float]:
        """x-limits (frames) of the detail panels."""
        lo, hi = self.axes[0].get_xlim()
        return float(lo), float(hi)

    def plot(
        self,
        x: np.ndarray,
        y: np.ndarray,
        likelihood: np.ndarray | None,
        flagged: np.ndarray | None = None,
        *,
        clean_x: np.ndarray | None = None,
        clean_y: np.ndarray | None = None,
        pcutoff: float | None = None,
        title: str = "",
        marked: np.ndarray | None = None,
    ) -> None:
        """Draw one keypoint's series (arrays of length ``frames``; NaN where missing).

        ``flagged`` frames are shaded red, ``marked`` ones (taught by the user) magenta.
        """
        n = len(x)
        self.n_frames = n
        frames = np.arange(n)
        for ax in self.axes + [self.strip]:
            for artist in list(ax.lines) + list(ax.patches) + list(ax.collections):
                if artist not in self._cursor and artist is not self._viewport:
                    artist.remove()
        spans = runs(flagged) if flagged is not None else []
        for ax in self.axes:
            for s, e in spans:
                ax.axvspan(s - 0.5, e - 0.5, color=_FLAG, alpha=0.25, lw=0)
        marks = runs(marked) if marked is not None else []
        for ax in self.axes:
            for s, e in marks:
                ax.axvspan(s - 0.5, e - 0.5, color=_MARK, alpha=0.35, lw=0)
        self._draw_strip(spans, n, marks)
        self.axes[0].plot(frames, x, color=_RAW, lw=0.8, label="raw")
        self.axes[1].plot(frames, y, color=_RAW, lw=0.8)
        if clean_x is not None and clean_y is not None:
            self.axes[0].plot(frames, clean_x, color=_CLEAN, lw=0.9, label="cleaned")
            self.axes[1].plot(frames, clean_y, color=_CLEAN, lw=0.9)
            self.axes[0].legend(loc="upper right", fontsize=6, facecolor="#333",
                                labelcolor="w", framealpha=0.7)
        if likelihood is not None:
            self.axes[2].plot(frames, likelihood, color="#b0ff80", lw=0.8)
            self.axes[2].set_ylim(-0.05, 1.05)
        if pcutoff is not None:
            self.axes[2].axhline(pcutoff, color="#ff9a3c", lw=0.8, ls="--")
        self.axes[0].set_title(title, color="w", fontsize=8)
        self._set_limits(detail_window(self.current_frame, n, self.detail_frames))
        self.set_frame(self.current_frame)

    def _draw_strip(self, spans: list[tuple[int, int]], n: int,
                    marks: list[tuple[int, int]] = ()) -> None:
        self.strip.set_xlim(-0.5, max(n - 0.5, 0.5))
        width_px = max(self.strip.bbox.width, 100.0)
        min_w = _MIN_STRIP_PX * max(n, 1) / width_px
        for runs_, colour, y in ((spans, _FLAG, (0.15, 0.7)), (marks, _MARK, (0.55, 0.4))):
            if runs_:
                self.strip.broken_barh(
                    [(s - 0.5, max(e - s, min_w)) for s, e in runs_], y, facecolors=colour)

    def _set_limits(self, limits: tuple[float, float]) -> None:
        lo, hi = limits
        self.axes[0].set_xlim(lo, hi)
        first, last = int(np.ceil(max(lo, 0))), int(np.floor(min(hi, self.n_frames - 1)))
        for ax in self.axes[:2]:
            lines = [ln for ln in ax.lines if ln not in self._cursor]
            values = np.concatenate([np.asarray(ln.get_ydata(), float)[first:last + 1]
                                     for ln in lines]) if lines else np.zeros(0)
            values = values[np.isfinite(values)]
            if values.size:
                pad = max(1.0, 0.08 * float(values.max() - values.min()))
                ax.set_ylim(float(values.min()) - pad, float(values.max()) + pad)
        self._viewport.set_bounds(lo, 0.02, hi - lo, 0.96)
        self._background = None  # the plot changes: the next full draw saves a new one

    def set_frame(self, frame: int) -> None:
        """Move the current-frame line; re-centres the detail panels when it leaves them.

        The screen update is deferred to the event loop (coalesced with other calls).
        """
        self.current_frame = int(frame)
        for line in self._cursor:
            line.set_xdata([frame, frame])
        if self.n_frames:
            current = self.detail_limits
            limits = detail_window(self.current_frame, self.n_frames, self.detail_frames, current)
            if limits != current:
                self._set_limits(limits)
        self._blit_timer.start()

    def invalidate(self) -> None:
        """Forget the saved background (e.g. while the viewer removes layers)."""
        self._background = None
        self._blit_timer.stop()

    def _flush(self) -> None:
        if self._background is None:
            self.draw_idle()
            return
        self.restore_region(self._background)
        for ax, line in zip(self.axes + [self.strip], self._cursor, strict=True):
            ax.draw_artist(line)
        self.blit(self.figure.bbox)

    def _on_draw(self, _event) -> None:  # noqa: ANN001 - matplotlib DrawEvent
        self._background = self.copy_from_bbox(self.figure.bbox)
        for ax, line in zip(self.axes + [self.strip], self._cursor, strict=True):
            ax.draw_artist(line)

    def resizeEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        self._background = None  # saved pixels no longer fit
        super().resizeEvent(event)

    def _on_click(self, event) -> None:  # noqa: ANN001 - matplotlib MouseEvent
        if event.inaxes is None or event.xdata is None or self.n_frames == 0:
            return
        frame = int(np.clip(round(event.xdata), 0, self.n_frames - 1))
        self.frame_clicked.emit(frame)
