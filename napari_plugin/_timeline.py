"""Timeline plot of one keypoint: x, y and likelihood over frames, flagged spans shaded.

A matplotlib figure embedded with ``FigureCanvasQTAgg``. A vertical line marks the viewer's
current frame; clicking the plot emits :attr:`TimelineCanvas.frame_clicked` with the frame under
the mouse.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QSizePolicy

__all__ = ["TimelineCanvas", "runs"]

_RAW = "#9aa0a6"
_CLEAN = "#00c8ff"
_FLAG = "#ff4040"


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` spans of the True runs of a 1-D bool array."""
    edges = np.diff(np.concatenate([[0], np.asarray(mask, dtype=np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(),
                    strict=True))


class TimelineCanvas(FigureCanvasQTAgg):
    """x, y, likelihood of one keypoint with flagged spans and a current-frame marker."""

    frame_clicked = Signal(int)

    def __init__(self) -> None:
        fig = Figure(figsize=(4, 3.2), layout="constrained")
        fig.patch.set_facecolor("#262930")
        super().__init__(fig)
        self.setObjectName("timeline")
        self.setMinimumHeight(220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.axes = fig.subplots(3, 1, sharex=True)
        for ax, label in zip(self.axes, ("x (px)", "y (px)", "likelihood"), strict=True):
            ax.set_facecolor("#1e1f24")
            ax.set_ylabel(label, color="w", fontsize=8)
            ax.tick_params(colors="w", labelsize=7)
            for spine in ax.spines.values():
                spine.set_color("#777")
        self.axes[-1].set_xlabel("frame", color="w", fontsize=8)
        # the cursor lines are "animated": left out of full redraws and blitted on top of a
        # saved background, so following the viewer's frame costs a blit, not a redraw
        self._cursor = [ax.axvline(0, color="#ffd24a", lw=1.2, animated=True)
                        for ax in self.axes]
        self._background = None
        self.n_frames = 0
        self.current_frame = 0
        self.mpl_connect("button_press_event", self._on_click)
        self.mpl_connect("draw_event", self._on_draw)

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
    ) -> None:
        """Draw one keypoint's series (arrays of length ``frames``; NaN where missing)."""
        n = len(x)
        self.n_frames = n
        frames = np.arange(n)
        for ax in self.axes:
            for artist in list(ax.lines) + list(ax.patches) + list(ax.collections):
                if artist not in self._cursor:
                    artist.remove()
        spans = runs(flagged) if flagged is not None else []
        for ax in self.axes:
            for s, e in spans:
                ax.axvspan(s - 0.5, e - 0.5, color=_FLAG, alpha=0.25, lw=0)
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
        self._background = None  # the plot changes: the next full draw saves a new one
        self.axes[0].set_title(title, color="w", fontsize=8)
        self.axes[0].set_xlim(-0.5, max(n - 0.5, 0.5))
        for ax in self.axes[:2]:
            ax.relim()
            ax.autoscale(axis="y")
        self.set_frame(self.current_frame)

    def set_frame(self, frame: int) -> None:
        """Move the current-frame line (a blit when the plot itself is unchanged)."""
        self.current_frame = int(frame)
        for line in self._cursor:
            line.set_xdata([frame, frame])
        if self._background is None:
            self.draw_idle()
            return
        self.restore_region(self._background)
        self._blit_cursor()

    def _blit_cursor(self) -> None:
        for ax, line in zip(self.axes, self._cursor, strict=True):
            ax.draw_artist(line)
        self.blit(self.figure.bbox)

    def _on_draw(self, _event) -> None:  # noqa: ANN001 - matplotlib DrawEvent
        self._background = self.copy_from_bbox(self.figure.bbox)
        for ax, line in zip(self.axes, self._cursor, strict=True):
            ax.draw_artist(line)

    def resizeEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        self._background = None  # saved pixels no longer fit
        super().resizeEvent(event)

    def _on_click(self, event) -> None:  # noqa: ANN001 - matplotlib MouseEvent
        if event.inaxes is None or event.xdata is None or self.n_frames == 0:
            return
        frame = int(np.clip(round(event.xdata), 0, self.n_frames - 1))
        self.frame_clicked.emit(frame)
