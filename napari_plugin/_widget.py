"""The "StableMotion cleaner" dock widget: look at DLC tracks on their video, find and clean
suspect keypoints, compare before/after and save.

The widget only arranges library calls (:mod:`stablemotion_dlc.dlc.io`,
:mod:`~stablemotion_dlc.dlc.labels`, :mod:`~stablemotion_dlc.dlc.video`,
:mod:`~stablemotion_dlc.dlc.pipeline`) and napari layers built by :mod:`napari_plugin._layers`.
Long work (suspect detection, cleaning) runs in a :class:`~napari_plugin._worker.BackgroundTask`;
its results are turned into layers here, on the main thread. Every problem (missing or corrupt
file, video/tracks mismatch, failed task) is written into the panel's message line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from napari_plugin._layers import (
    STATUS_NAMES,
    points_data,
    skeleton_pairs,
    skeleton_vectors,
    trajectory_data,
)
from napari_plugin._timeline import TimelineCanvas
from napari_plugin._worker import BackgroundTask

if TYPE_CHECKING:
    import napari

    from stablemotion_dlc.dlc.io import Tracks
    from stablemotion_dlc.dlc.labels import SuspectLabels, SuspectSegment

__all__ = ["CleanerWidget"]

logger = logging.getLogger(__name__)

VIDEO_LAYER = "video"
RAW_LAYER = "raw keypoints"
CLEAN_LAYER = "cleaned keypoints"
SKELETON_LAYER = "skeleton"
TRAJECTORY_LAYER = "trajectory"
_LEVEL_COLOURS = {"info": "#d0d0d0", "ok": "#7ee787", "warning": "#ffb347", "error": "#ff6b6b"}
_TAIL_LENGTH = 30


class CleanerWidget(QWidget):
    """Dock widget: load tracks (+ video, config), navigate flagged frames, clean, save.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer (napari passes it when it opens the widget).
    """

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.tracks: Tracks | None = None
        self.tracks_path: Path | None = None
        self.video: Any = None  # VideoReader
        self.labels: SuspectLabels | None = None
        self.result: Any = None  # pipeline.CleanResult
        self.segments: list[SuspectSegment] = []
        self.task: BackgroundTask | None = None
        self.pcutoff_from_config: float | None = None
        self.config_skeleton: list[tuple[str, str]] = []
        self._messages: list[tuple[str, str]] = []

        self.setObjectName("stablemotion_cleaner")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self._create_inputs())
        self.message = QLabel("Choose a DLC tracks file (.h5/.csv) and press Load.")
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.message)
        layout.addWidget(self._create_navigator())
        layout.addWidget(self._create_cleaning())
        layout.addWidget(self._create_inspector(), stretch=1)

        self.viewer.dims.events.current_step.connect(self._on_step)
        self._bind_keys()
        self._update_enabled()

    # ================================================================== construction
    def _button(self, text: str, name: str, slot: Callable[[], Any], tip: str = "") -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setToolTip(tip)
        button.clicked.connect(lambda _checked=False: slot())
        return button

    def _path_row(self, name: str, placeholder: str, browse: Callable[[], Any]) -> QWidget:
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        edit = QLineEdit()
        edit.setObjectName(name)
        edit.setPlaceholderText(placeholder)
        h.addWidget(edit)
        h.addWidget(self._button("…", f"browse_{name}", browse, "Browse"))
        setattr(self, f"{name}_edit", edit)
        return row

    def _create_inputs(self) -> QGroupBox:
        box = QGroupBox("Files")
        form = QFormLayout(box)
        form.addRow("config", self._path_row(
            "config_path", "DLC config.yaml (optional)",
            lambda: self._browse("config_path", "DLC config (*.yaml *.yml)")))
        form.addRow("tracks", self._path_row(
            "tracks_path", "DLC output .h5 / .csv",
            lambda: self._browse("tracks_path", "DLC tracks (*.h5 *.csv)")))
        form.addRow("video", self._path_row(
            "video_path", "guessed from the tracks name when empty",
            lambda: self._browse("video_path", "Videos (*.mp4 *.avi *.mov *.mkv)")))
        self.pcutoff_spin = QDoubleSpinBox()
        self.pcutoff_spin.setObjectName("pcutoff")
        self.pcutoff_spin.setRange(0.0, 1.0)
        self.pcutoff_spin.setSingleStep(0.05)
        self.pcutoff_spin.setDecimals(2)
        from stablemotion_dlc.dlc.labels import DEFAULT_PCUTOFF

        self.pcutoff_spin.setValue(DEFAULT_PCUTOFF)
        self.pcutoff_spin.setToolTip("likelihood threshold (the config's pcutoff when given)")
        form.addRow("pcutoff", self.pcutoff_spin)
        form.addRow(self._button("Load", "load_button", self.load,
                                 "read the tracks, open the video, flag suspect points"))
        return box

    def _create_navigator(self) -> QGroupBox:
        box = QGroupBox("Flagged frames")
        v = QVBoxLayout(box)
        self.summary_label = QLabel("")
        self.summary_label.setObjectName("summary_label")
        self.summary_label.setWordWrap(True)
        v.addWidget(self.summary_label)
        self.segment_list = QListWidget()
        self.segment_list.setObjectName("segment_list")
        self.segment_list.setMinimumHeight(90)
        self.segment_list.itemActivated.connect(self._on_segment_item)
        self.segment_list.itemClicked.connect(self._on_segment_item)
        v.addWidget(self.segment_list)
        h = QHBoxLayout()
        h.addWidget(self._button("◀ previous (Shift+←)", "prev_button", self.previous_segment,
                                 "jump to the previous flagged span (Shift+Left)"))
        h.addWidget(self._button("next (Shift+→) ▶", "next_button", self.next_segment,
                                 "jump to the next flagged span (Shift+Right)"))
        v.addLayout(h)
        return box

    def _create_cleaning(self) -> QGroupBox:
        box = QGroupBox("Clean")
        v = QVBoxLayout(box)
        v.addWidget(self._path_row(
            "model_path", "model checkpoint (optional: train on these tracks)",
            lambda: self._browse("model_path", "Models (*.safetensors *.pt *.ckpt *.json)")))
        h = QHBoxLayout()
        h.addWidget(self._button("Detect", "detect_button", self.detect,
                                 "flag suspect keypoints with the rule-based labels"))
        h.addWidget(self._button("Clean", "clean_button", self.clean,
                                 "repair suspect keypoints with the StableMotion model"))
        h.addWidget(self._button("Save…", "save_button", self.save,
                                 "write the cleaned tracks (DLC format) and their provenance"))
        v.addLayout(h)
        h = QHBoxLayout()
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("progress_bar")
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(True)
        h.addWidget(self.progress_bar, stretch=1)
        h.addWidget(self._button("Cancel", "cancel_button", self.cancel, "stop the running task"))
        v.addLayout(h)
        return box

    def _create_inspector(self) -> QGroupBox:
        box = QGroupBox("Inspect one keypoint")
        v = QVBoxLayout(box)
        h = QHBoxLayout()
        self.individual_combo = QComboBox()
        self.individual_combo.setObjectName("individual_combo")
        self.keypoint_combo = QComboBox()
        self.keypoint_combo.setObjectName("keypoint_combo")
        self.individual_combo.currentIndexChanged.connect(lambda _i: self._update_inspector())
        self.keypoint_combo.currentIndexChanged.connect(lambda _i: self._update_inspector())
        h.addWidget(self.individual_combo, stretch=1)
        h.addWidget(self.keypoint_combo, stretch=1)
        self.tails_checkbox = QCheckBox("tails")
        self.tails_checkbox.setObjectName("tails_checkbox")
        self.tails_checkbox.setChecked(True)
        self.tails_checkbox.setToolTip(f"before/after trajectory, {_TAIL_LENGTH}-frame tails")
        self.tails_checkbox.toggled.connect(lambda _on: self._update_trajectory())
        h.addWidget(self.tails_checkbox)
        v.addLayout(h)
        self.timeline = TimelineCanvas()
        self.timeline.frame_clicked.connect(self.go_to_frame)
        v.addWidget(self.timeline, stretch=1)
        return box

    def _bind_keys(self) -> None:
        def _guarded(fn: Callable[[], Any]) -> Callable[..., None]:
            def handler(_viewer: Any = None) -> None:
                try:
                    fn()
                except RuntimeError:  # the widget was closed: drop the binding
                    for key in self._key_handlers:
                        self.viewer.bind_key(key, None, overwrite=True)
            return handler

        _next, _prev = _guarded(self.next_segment), _guarded(self.previous_segment)

        # Shift+arrows: the plain arrows step one frame; n/p would clash with layer modes
        self._key_handlers = {"Shift-Right": _next, "Shift-Left": _prev}
        for key, fn in self._key_handlers.items():
            self.viewer.bind_key(key, fn, overwrite=True)

    # ================================================================== messages
    def show_message(self, text: str, level: str = "info") -> None:
        """Write ``text`` into the panel (``level``: info, ok, warning or error) and the log."""
        self._messages.append((level, text))
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {_LEVEL_COLOURS.get(level, '#d0d0d0')};")
        log = {"error": logging.ERROR, "warning": logging.WARNING}.get(level, logging.INFO)
        logger.log(log, "%s", text)

    def _browse(self, field: str, file_filter: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Choose {field.replace('_', ' ')}", "",
                                              f"{file_filter};;All files (*)")
        if path:
            getattr(self, f"{field}_edit").setText(path)

    def _update_enabled(self) -> None:
        busy = self.task is not None and self.task.is_running
        loaded = self.tracks is not None
        self.findChild(QPushButton, "load_button").setEnabled(not busy)
        self.findChild(QPushButton, "detect_button").setEnabled(loaded and not busy)
        self.findChild(QPushButton, "clean_button").setEnabled(loaded and not busy)
        self.findChild(QPushButton, "save_button").setEnabled(self.result is not None
                                                              and not busy)
        self.findChild(QPushButton, "cancel_button").setEnabled(busy)
        has_segments = bool(self.segments)
        self.findChild(QPushButton, "prev_button").setEnabled(has_segments)
        self.findChild(QPushButton, "next_button").setEnabled(has_segments)

    # ================================================================== loading
    def load(
        self,
        tracks_path: str | Path | None = None,
        video_path: str | Path | None = None,
        config_path: str | Path | None = None,
        *,
        detect: bool = True,
    ) -> bool:
        """Load tracks (and their video and config) into the viewer.

        Arguments left as None are taken from the panel's fields. A missing or corrupt tracks
        file leaves the viewer as it was; a missing/corrupt video or config, or a video that
        does not match the tracks, is reported and loading goes on.

        Returns
        -------
        bool
            Whether the tracks were loaded.
        """
        from stablemotion_dlc.dlc.io import read_tracks
        from stablemotion_dlc.dlc.video import VideoReader, check_video_matches, guess_video_path

        if self.task is not None and self.task.is_running:
            self.show_message(f"Busy ({self.task.name}); cancel it first.", "warning")
            return False
        for value, edit in ((tracks_path, self.tracks_path_edit),
                            (video_path, self.video_path_edit),
                            (config_path, self.config_path_edit)):
            if value is not None:
                edit.setText(str(value))
        tracks_text = self.tracks_path_edit.text().strip()
        if not tracks_text:
            self.show_message("Choose a DLC tracks file (.h5 or .csv) first.", "warning")
            return False
        path = Path(tracks_text).expanduser()
        try:
            tracks = read_tracks(path)
        except FileNotFoundError:
            self.show_message(f"Tracks file not found: {path}", "error")
            return False
        except Exception as exc:  # noqa: BLE001 - any reader failure is shown, viewer kept
            self.show_message(f"Cannot read tracks {path.name}: {exc}", "error")
            return False

        notes: list[str] = []
        self._read_config(notes)
        video = None
        video_text = self.video_path_edit.text().strip()
        vpath = Path(video_text).expanduser() if video_text else guess_video_path(path)
        if vpath is None:
            notes.append("no video found next to the tracks; showing the tracks only")
        else:
            try:
                video = VideoReader(vpath)
                self.video_path_edit.setText(str(vpath))
            except FileNotFoundError:
                notes.append(f"video not found: {vpath}; showing the tracks only")
            except Exception as exc:  # noqa: BLE001 - a broken video must not stop loading
                notes.append(f"cannot open video: {exc}; showing the tracks only")
        if video is not None:
            notes += [f"video/tracks mismatch: {p}" for p in check_video_matches(video, tracks)]

        self._clear()
        self.tracks, self.tracks_path, self.video = tracks, path, video
        self._add_video_layer()
        self._add_raw_layers()
        self._fill_combos()
        if self.viewer.dims.ndim == 3:
            self.viewer.dims.axis_labels = ("frame", "y", "x")
        self.viewer.reset_view()
        text = (f"Loaded {path.name}: {tracks.n_frames} frames, {len(tracks.animals)} "
                f"individual(s) × {tracks.n_keypoints} keypoints"
                + (f", video {video.shape[1]}×{video.shape[0]}" if video is not None else ""))
        if notes:
            self.show_message(text + ".\n⚠ " + "\n⚠ ".join(notes), "warning")
        else:
            self.show_message(text + ".", "ok")
        self._update_inspector()
        self._update_enabled()
        if detect:
            self.detect()
        return True

    def _read_config(self, notes: list[str]) -> None:
        from stablemotion_dlc.dlc.labels import read_config_labels

        self.pcutoff_from_config, self.config_skeleton = None, []
        text = self.config_path_edit.text().strip()
        if not text:
            return
        try:
            info = read_config_labels(Path(text).expanduser())
        except Exception as exc:  # noqa: BLE001 - the config is optional
            notes.append(f"config ignored: {exc}")
            return
        self.pcutoff_from_config = info["pcutoff"]
        self.config_skeleton = list(info["skeleton"])
        if info["pcutoff"] is not None:
            self.pcutoff_spin.setValue(float(info["pcutoff"]))

    def _clear(self) -> None:
        for name in (VIDEO_LAYER, RAW_LAYER, CLEAN_LAYER, SKELETON_LAYER, TRAJECTORY_LAYER):
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
        if self.video is not None:
            self.video.close()
        self.tracks = self.video = self.labels = self.result = None
        self.segments = []
        self.segment_list.clear()
        self.summary_label.setText("")

    def _add_video_layer(self) -> None:
        if self.video is None:
            return
        self.viewer.add_image(self.video.as_array(), name=VIDEO_LAYER, rgb=True,
                              contrast_limits=(0, 255), metadata={"path": str(self.video.path)})

    def _point_size(self) -> float:
        if self.video is not None:
            return max(5.0, max(self.video.shape[:2]) / 70)
        span = np.nanmax(self.tracks.xy) if np.isfinite(self.tracks.xy).any() else 500.0
        return max(5.0, float(span) / 70)

    def _add_raw_layers(self) -> None:
        tracks = self.tracks
        pdata = points_data(tracks)
        self.viewer.add_points(
            pdata.data, name=RAW_LAYER, features=pd.DataFrame(pdata.features),
            face_color=pdata.face_color, border_color=pdata.border_color,
            symbol=pdata.symbol if len(pdata) else "disc", size=self._point_size(),
            border_width=0.22, border_width_is_relative=True, ndim=3,
            metadata={"source": str(self.tracks_path)},
        )
        names = self.config_skeleton
        if not names:
            from stablemotion_dlc.dlc.labels import default_skeleton

            pairs = default_skeleton(tracks)
        else:
            pairs = skeleton_pairs(tracks.bodyparts, names)
        vectors = skeleton_vectors(tracks, pairs)
        if len(vectors):
            self.viewer.add_vectors(vectors, name=SKELETON_LAYER, edge_width=1.5,
                                    edge_color="#e8e8e8", opacity=0.6, vector_style="line")
            self.viewer.layers.move(self.viewer.layers.index(SKELETON_LAYER),
                                    self.viewer.layers.index(RAW_LAYER))

    def _fill_combos(self) -> None:
        for combo, names in ((self.individual_combo, self.tracks.individuals),
                             (self.keypoint_combo, self.tracks.bodyparts)):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(list(names))
            combo.blockSignals(False)

    # ================================================================== tasks
    def run_task(self, fn: Callable[..., Any], name: str,
                 on_done: Callable[[Any], None] | None = None,
                 on_progress: Callable[[float, str], None] | None = None,
                 ) -> BackgroundTask | None:
        """Run ``fn(progress, should_stop)`` in the background with the panel's progress bar.

        ``on_done`` receives the result and ``on_progress`` every ``(fraction, message)``;
        both are connected before the task starts, so no update is missed.
        Returns the started task, or None when another task is still running.
        """
        if self.task is not None and self.task.is_running:
            self.show_message(f"Busy ({self.task.name}); wait or cancel it.", "warning")
            return None
        task = BackgroundTask(fn, name=name, parent=self)
        task.progressed.connect(self._on_progress)
        if on_progress is not None:
            task.progressed.connect(on_progress)
        task.failed.connect(lambda text: self.show_message(f"{name} failed: {text}", "error"))
        task.cancelled.connect(lambda: self.show_message(f"{name} cancelled.", "warning"))
        if on_done is not None:
            task.done.connect(lambda result: self._safe(on_done, result, name))
        task.finished.connect(self._on_task_finished)
        self.task = task
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat(f"{name}… %p%")
        task.start()
        self._update_enabled()
        return task

    def _safe(self, fn: Callable[[Any], None], result: Any, name: str) -> None:
        try:
            fn(result)
        except Exception as exc:  # noqa: BLE001 - shown in the panel
            logger.exception("showing the result of %s failed", name)
            self.show_message(f"{name}: cannot show the result ({type(exc).__name__}: {exc})",
                              "error")

    def _on_progress(self, fraction: float, message: str) -> None:
        if fraction < 0:
            self.progress_bar.setRange(0, 0)  # busy indicator
        else:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(round(fraction * 1000)))
        if message:
            self.progress_bar.setFormat(f"{message} %p%")

    def _on_task_finished(self) -> None:
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setFormat("%p%")
        self._update_enabled()

    def cancel(self) -> None:
        """Ask the running task to stop."""
        if self.task is not None and self.task.is_running:
            self.task.cancel()
            self.progress_bar.setFormat("cancelling… %p%")

    # ------------------------------------------------------------------ detection
    def detect(self) -> BackgroundTask | None:
        """Flag suspect keypoints (rule-based labels) in the background."""
        if self.tracks is None:
            self.show_message("Load tracks first.", "warning")
            return None
        from stablemotion_dlc.dlc.labels import suspect_mask

        tracks, pcutoff = self.tracks, float(self.pcutoff_spin.value())
        skeleton = self.config_skeleton or None

        def work(progress: Callable[..., None], should_stop: Callable[[], bool]) -> Any:
            progress(0.0, "flagging suspects")
            try:
                labels = suspect_mask(tracks, pcutoff, skeleton=skeleton)
            except ValueError:
                if skeleton is None:
                    raise
                labels = suspect_mask(tracks, pcutoff)  # config bones that do not fit
            progress(1.0, "flagging suspects")
            return labels

        return self.run_task(work, "detection", self.show_labels)

    def show_labels(self, labels: SuspectLabels) -> None:
        """Show suspect labels: symbols of the raw points, segment list, timeline shading."""
        if self.tracks is None or labels.mask.shape != self.tracks.xy.shape[:3]:
            raise ValueError("labels do not match the loaded tracks")
        self.labels = labels
        pdata = points_data(self.tracks, suspect=labels.mask, reasons=labels.reasons,
                            reason_names=labels.reason_names)
        if RAW_LAYER in self.viewer.layers and len(pdata):
            layer = self.viewer.layers[RAW_LAYER]
            layer.features = pd.DataFrame(pdata.features)
            layer.symbol = pdata.symbol
        self.segments = labels.segments()
        self.segment_list.clear()
        for seg in self.segments:
            span = (f"frame {seg.start}" if seg.n_frames == 1
                    else f"frames {seg.start}–{seg.stop - 1}")
            item = QListWidgetItem(
                f"{span}: {', '.join(seg.keypoints)} ({', '.join(seg.individuals)}) — "
                f"{', '.join(seg.reasons)}")
            item.setData(Qt.ItemDataRole.UserRole, seg.start)
            self.segment_list.addItem(item)
        summary = labels.summary()
        counts = ", ".join(f"{k} {v}" for k, v in summary.items()
                           if k not in ("any", "frames") and v)
        self.summary_label.setText(
            f"{summary['any']} suspect points in {summary['frames']} frames, "
            f"{len(self.segments)} spans" + (f" ({counts})" if counts else ""))
        self.show_message(f"Flagged {summary['any']} suspect points in {len(self.segments)} "
                          f"spans (pcutoff {labels.pcutoff:g}).", "ok")
        self._update_inspector()
        self._update_enabled()

    # ------------------------------------------------------------------ cleaning
    def clean(self) -> BackgroundTask | None:
        """Clean the tracks with ``pipeline.clean_tracks`` in the background."""
        if self.tracks is None:
            self.show_message("Load tracks first.", "warning")
            return None
        try:
            from stablemotion_dlc.dlc.pipeline import clean_tracks
        except ImportError as exc:
            self.show_message(f"Cleaning is not available in this installation: {exc}", "error")
            return None
        model = self._model_path()
        if model is None:
            return None
        tracks, pcutoff = self.tracks, float(self.pcutoff_spin.value())
        config_text = self.config_path_edit.text().strip()
        config = Path(config_text).expanduser() if config_text else None
        if config is not None and not config.is_file():
            config = None

        def work(progress: Callable[..., None], should_stop: Callable[[], bool]) -> Any:
            return clean_tracks(tracks, model, pcutoff=pcutoff, config_path=config,
                                progress=progress, should_stop=should_stop)

        return self.run_task(work, "cleaning", self.show_result)

    def _model_path(self) -> Path | None:
        """The model file from the panel, else the project's default model; None + message."""
        text = self.model_path_edit.text().strip()
        if text:
            model = Path(text).expanduser()
            if not model.is_file():
                self.show_message(f"Model file not found: {model}", "error")
                return None
            return model
        config_text = self.config_path_edit.text().strip()
        if config_text:
            from stablemotion_dlc.dlc.pipeline import default_model_path

            try:
                model = default_model_path(Path(config_text).expanduser())
            except Exception as exc:  # noqa: BLE001 - shown in the panel
                self.show_message(f"No model: {exc}", "error")
                return None
            if model.is_file():
                self.model_path_edit.setText(str(model))
                return model
            self.show_message(
                f"No model yet for this project ({model} does not exist). Train one with "
                f"`stablemotion-dlc train {config_text}` or choose a model file.", "error")
            return None
        self.show_message("Choose a model file (or a DLC config whose project has one).",
                          "error")
        return None

    def show_result(self, result: Any) -> None:
        """Show a clean result (``.tracks``, ``.status``): cleaned points, tails, timeline."""
        if result is None:
            raise ValueError("the cleaning returned nothing")
        cleaned = result.tracks
        if self.tracks is None or cleaned.xy.shape != self.tracks.xy.shape:
            raise ValueError("the cleaned tracks do not match the loaded tracks")
        self.result = result
        status = np.asarray(result.status)
        pdata = points_data(cleaned, status=status)
        if CLEAN_LAYER in self.viewer.layers:
            self.viewer.layers.remove(CLEAN_LAYER)
        self.viewer.add_points(
            pdata.data, name=CLEAN_LAYER, features=pd.DataFrame(pdata.features),
            face_color=pdata.face_color, border_color=pdata.border_color,
            symbol=pdata.symbol if len(pdata) else "disc", size=self._point_size(),
            border_width=0.22, border_width_is_relative=True, ndim=3,
        )
        counts = {name: int((status == code).sum()) for code, name in STATUS_NAMES.items()}
        self.show_message("Cleaned: " + ", ".join(f"{v} {k}" for k, v in counts.items())
                          + ". Save… writes them.", "ok")
        self._update_inspector()
        self._update_enabled()

    # ------------------------------------------------------------------ saving
    def default_save_path(self) -> Path | None:
        """``<tracks stem>_filtered.h5`` next to the tracks (DLC's name for filtered output)."""
        if self.tracks_path is None:
            return None
        stem = self.tracks_path.stem
        stem = stem if stem.endswith("_filtered") else f"{stem}_filtered"
        return self.tracks_path.with_name(f"{stem}.h5")

    @staticmethod
    def _save_outputs(path: Path) -> list[Path]:
        """Files ``save_clean_result`` writes for ``path`` (tracks, CSV twin, provenance)."""
        outs = [path]
        if path.suffix == ".h5":
            outs.append(path.with_suffix(".csv"))
        try:
            from stablemotion_dlc.dlc.pipeline import provenance_path

            outs.append(Path(provenance_path(path)))
        except ImportError:
            pass
        return outs

    def _ask_save_path(self) -> Path | None:
        default = self.default_save_path()
        path, _ = QFileDialog.getSaveFileName(
            self, "Save cleaned tracks", str(default or ""), "DLC tracks (*.h5 *.csv)",
            options=QFileDialog.Option.DontConfirmOverwrite)
        return Path(path) if path else None

    def _confirm_overwrite(self, paths: list[Path]) -> bool:
        names = "\n".join(str(p) for p in paths)
        answer = QMessageBox.question(
            self, "Overwrite?", f"These files exist:\n{names}\nReplace them?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def save(self) -> Path | None:
        """Ask where, confirm any overwrite, and save through ``pipeline.save_clean_result``."""
        if self.result is None:
            self.show_message("Nothing to save: run Clean first.", "warning")
            return None
        path = self._ask_save_path()
        if path is None:
            return None
        outputs = self._save_outputs(path)
        if self.tracks_path is not None and any(
                p.resolve() == self.tracks_path.resolve() for p in outputs):
            self.show_message(f"Not saved: {path.name} would replace the input tracks file "
                              f"{self.tracks_path.name}; choose another name.", "error")
            return None
        existing = [p for p in outputs if p.exists()]
        overwrite = False
        if existing:
            if not self._confirm_overwrite(existing):
                self.show_message(
                    "Not saved: " + ", ".join(p.name for p in existing) + " exist(s) and "
                    "was kept.", "warning")
                return None
            overwrite = True
        try:
            from stablemotion_dlc.dlc.pipeline import save_clean_result

            written = Path(save_clean_result(self.result, path, overwrite=overwrite))
        except Exception as exc:  # noqa: BLE001 - shown in the panel
            self.show_message(f"Saving failed: {type(exc).__name__}: {exc}", "error")
            return None
        self.show_message(f"Saved {written}", "ok")
        return written

    # ================================================================== navigation
    @property
    def current_frame(self) -> int:
        """The viewer's current frame (first dimension)."""
        step = self.viewer.dims.current_step
        return int(step[0]) if len(step) else 0

    def go_to_frame(self, frame: int) -> None:
        """Move the viewer to ``frame``."""
        self.viewer.dims.set_current_step(0, int(frame))

    def next_segment(self) -> int | None:
        """Jump to the start of the next flagged span after the current frame."""
        cur = self.current_frame
        for j, seg in enumerate(self.segments):
            if seg.start > cur:
                return self._go_segment(j)
        if self.segments:
            self.show_message("No flagged span after this frame.", "info")
        return None

    def previous_segment(self) -> int | None:
        """Jump to the start of the flagged span before the current frame."""
        cur = self.current_frame
        for j in range(len(self.segments) - 1, -1, -1):
            if self.segments[j].start < cur:
                return self._go_segment(j)
        if self.segments:
            self.show_message("No flagged span before this frame.", "info")
        return None

    def _go_segment(self, j: int) -> int:
        seg = self.segments[j]
        self.segment_list.blockSignals(True)
        self.segment_list.setCurrentRow(j)
        self.segment_list.blockSignals(False)
        self.go_to_frame(seg.start)
        return seg.start

    def _on_segment_item(self, item: QListWidgetItem) -> None:
        self.go_to_frame(int(item.data(Qt.ItemDataRole.UserRole)))

    def _on_step(self, _event: Any = None) -> None:
        try:
            self.timeline.set_frame(self.current_frame)
        except RuntimeError:  # the widget was deleted before the viewer
            self.viewer.dims.events.current_step.disconnect(self._on_step)

    # ================================================================== inspector
    def selected(self) -> tuple[int, int] | None:
        """``(individual, keypoint)`` positions chosen in the combo boxes."""
        i, k = self.individual_combo.currentIndex(), self.keypoint_combo.currentIndex()
        if self.tracks is None or i < 0 or k < 0:
            return None
        return i, k

    def _update_inspector(self) -> None:
        self._update_timeline()
        self._update_trajectory()

    def _update_timeline(self) -> None:
        sel = self.selected()
        if sel is None:
            return
        i, k = sel
        tr = self.tracks
        ox, oy = tr.crop_offset
        lik = tr.likelihood[:, i, k] if tr.likelihood is not None else None
        flagged = self.labels.mask[:, i, k] if self.labels is not None else None
        clean_x = clean_y = None
        if self.result is not None:
            clean_x = self.result.tracks.xy[:, i, k, 0] + ox
            clean_y = self.result.tracks.xy[:, i, k, 1] + oy
        pcut = self.labels.pcutoff if self.labels is not None else self.pcutoff_spin.value()
        self.timeline.plot(tr.xy[:, i, k, 0] + ox, tr.xy[:, i, k, 1] + oy, lik, flagged,
                           clean_x=clean_x, clean_y=clean_y, pcutoff=pcut,
                           title=f"{tr.individuals[i]} · {tr.bodyparts[k]}")
        self.timeline.set_frame(self.current_frame)

    def _update_trajectory(self) -> None:
        sel = self.selected()
        if TRAJECTORY_LAYER in self.viewer.layers:
            self.viewer.layers.remove(TRAJECTORY_LAYER)
        if sel is None or not self.tails_checkbox.isChecked():
            return
        series = [self.tracks] + ([self.result.tracks] if self.result is not None else [])
        data, props = trajectory_data(series, *sel)
        if len(data) == 0:
            return
        from napari.utils.colormaps import Colormap

        cmap = Colormap([[1.0, 0.45, 0.3, 1.0], [0.0, 0.85, 1.0, 1.0]], name="raw_clean",
                        interpolation="zero")
        self.viewer.add_tracks(
            data, name=TRAJECTORY_LAYER, properties=props, color_by="version",
            colormaps_dict={"version": cmap}, tail_length=_TAIL_LENGTH, head_length=0,
            tail_width=3, blending="translucent",
        )
