"""The "StableMotion cleaner" dock widget.

Look at DLC tracks on their video, find and clean suspect keypoints, review every repair,
teach the cleaner what it missed, train and save.

The widget only arranges library calls (:mod:`stablemotion_dlc.dlc.io`,
:mod:`~stablemotion_dlc.dlc.labels`, :mod:`~stablemotion_dlc.dlc.video`,
:mod:`~stablemotion_dlc.dlc.pipeline`, :mod:`~stablemotion_dlc.dlc.review`) and napari layers
built by :mod:`napari_plugin._layers`. Short library work (suspect detection, cleaning) runs in
a :class:`~napari_plugin._worker.BackgroundTask` thread; training runs in a separate process
(:class:`~napari_plugin._process.JobProcess`), never inside napari's. Results are turned into
layers here, on the main thread. Every problem (missing or corrupt file, video/tracks mismatch,
failed task) is written into the panel; warnings about the loaded files stay visible until the
next Load.
"""

from __future__ import annotations

import logging
import os
import tempfile
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
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from napari_plugin._layers import (
    STATUS_NAMES,
    points_data,
    skeleton_vectors,
    trajectory_data,
)
from napari_plugin._timeline import TimelineCanvas
from napari_plugin._worker import BackgroundTask

if TYPE_CHECKING:
    import napari

    from napari_plugin._process import JobProcess
    from stablemotion_dlc.dlc.labels import SuspectLabels, SuspectSegment
    from stablemotion_dlc.dlc.review import RepairSpan, Review
    from stablemotion_dlc.dlc.tracks import Tracks

__all__ = ["CleanerWidget"]

logger = logging.getLogger(__name__)


def _keep_triton_out() -> None:
    """Make ``import triton`` fail softly in napari's process.

    Triton bundles its own LLVM; loading it after Mesa's llvmpipe (napari's OpenGL) crashes
    the process (two LLVMs). torch imports triton lazily, e.g. when a module is built on the
    "meta" device, and treats an ImportError as "no triton". Cleaning on the CPU never needs
    it, and training runs in a separate process (:mod:`napari_plugin._jobs`).
    """
    import sys

    if "triton" not in sys.modules:
        sys.modules["triton"] = None  # type: ignore[assignment]
        logger.debug("triton kept out of napari's process")


_keep_triton_out()

VIDEO_LAYER = "video"
RAW_LAYER = "raw keypoints"
CLEAN_LAYER = "cleaned keypoints"
SKELETON_LAYER = "skeleton"
TRAJECTORY_LAYER = "trajectory"
_OUR_LAYERS = (VIDEO_LAYER, RAW_LAYER, CLEAN_LAYER, SKELETON_LAYER, TRAJECTORY_LAYER)
_LEVEL_COLOURS = {"info": "#d0d0d0", "ok": "#7ee787", "warning": "#ffb347", "error": "#ff6b6b"}
_TAIL_LENGTH = 30
_VIEWS = ("raw", "cleaned", "both")
_LEGEND = ("● keypoint (colour), border: individual   ✕ suspect (magenta)\n"
           "cleaned:  ● kept  ◆ replaced  ■ gap-filled  ★ identity-fixed\n"
           "tail: orange raw, cyan cleaned")
_DECISION_MARK = {"accepted": "✓ ", "rejected": "✗ ", None: "   "}
_DEFAULT_TRAIN_STEPS = 600  # stablemotion_dlc.dlc.pipeline.DEFAULT_TRAIN_STEPS
_FINE_TUNE_STEPS = 200


class CleanerWidget(QWidget):
    """Dock widget: load, flag, clean, review, teach, train and save DLC tracks.

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
        self.raw_result: Any = None  # pipeline.CleanResult as the cleaner returned it
        self.result: Any = None  # the reviewed result (rejected repairs undone)
        self.review: Review | None = None
        self.spans: list[RepairSpan] = []
        self.segments: list[SuspectSegment] = []
        self.task: BackgroundTask | None = None
        self.job: JobProcess | None = None
        self.pcutoff_from_config: float | None = None
        self.project: Any = None  # stablemotion_dlc.dlc.project.DlcProject of the config
        self._messages: list[tuple[str, str]] = []
        self._loaded_inputs: dict[str, str] = {}
        self._loading = False
        self._clean_after_training = False

        self.setObjectName("stablemotion_cleaner")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self._create_inputs())
        self.message = QLabel("Choose a DLC tracks file (.h5/.csv) and press Load.")
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.message)
        self.warnings = QLabel("")
        self.warnings.setObjectName("warnings")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet(f"color: {_LEVEL_COLOURS['warning']};")
        self.warnings.setVisible(False)
        layout.addWidget(self.warnings)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("tabs")
        self.tabs.addTab(self._create_navigator(), "Flags")
        self.tabs.addTab(self._create_cleaning(), "Clean / train")
        self.tabs.addTab(self._create_review(), "Review / teach")
        # never squeeze the tabs' buttons: the timeline below gives way instead
        self.tabs.setMinimumHeight(self.tabs.sizeHint().height())
        layout.addWidget(self.tabs)
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
        self.pcutoff_spin.setValue(self._default_pcutoff())
        self.pcutoff_spin.setToolTip("likelihood threshold (the config's pcutoff when given)")
        form.addRow("pcutoff", self.pcutoff_spin)
        form.addRow(self._button("Load", "load_button", self.load,
                                 "read the tracks, open the video, flag suspect points"))
        return box

    @staticmethod
    def _default_pcutoff() -> float:
        from stablemotion_dlc.dlc.labels import DEFAULT_PCUTOFF

        return float(DEFAULT_PCUTOFF)

    def _create_navigator(self) -> QWidget:
        box = QWidget()
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

    def _create_cleaning(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.addWidget(self._path_row(
            "model_path", "model (default: the project's, next to config.yaml)",
            lambda: self._browse("model_path", "Models (*.safetensors *.pt *.ckpt *.json)")))
        h = QHBoxLayout()
        h.addWidget(self._button("Detect", "detect_button", self.detect,
                                 "flag suspect keypoints with the rule-based labels"))
        h.addWidget(self._button("Clean", "clean_button", self.clean,
                                 "repair suspect keypoints with the StableMotion model"))
        h.addWidget(self._button("Save…", "save_button", self.save,
                                 "write the reviewed tracks (DLC format) and their provenance"))
        v.addLayout(h)
        h = QHBoxLayout()
        h.addWidget(self._button("Train", "train_button", self.train,
                                 "train (or resume) the model in a separate process"))
        self.steps_spin = QSpinBox()
        self.steps_spin.setObjectName("train_steps")
        self.steps_spin.setRange(1, 1_000_000)
        self.steps_spin.setValue(_DEFAULT_TRAIN_STEPS)
        self.steps_spin.setSuffix(" steps")
        self.steps_spin.setToolTip("training steps in total (a resumed run continues to this)")
        h.addWidget(self.steps_spin)
        self.restart_checkbox = QCheckBox("restart")
        self.restart_checkbox.setObjectName("restart_checkbox")
        self.restart_checkbox.setToolTip("start afresh instead of resuming an existing model")
        h.addWidget(self.restart_checkbox)
        v.addLayout(h)
        h = QHBoxLayout()
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("progress_bar")
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(True)
        h.addWidget(self.progress_bar, stretch=1)
        h.addWidget(self._button("Cancel", "cancel_button", self.cancel,
                                 "stop the running task or training"))
        v.addLayout(h)
        h = QHBoxLayout()
        h.addWidget(QLabel("show"))
        self.view_combo = QComboBox()
        self.view_combo.setObjectName("view_combo")
        self.view_combo.addItems(list(_VIEWS))
        self.view_combo.setToolTip("raw points, cleaned points, or both; the skeleton follows "
                                   "the cleaned points when they are shown")
        self.view_combo.currentIndexChanged.connect(lambda _i: self._apply_view())
        h.addWidget(self.view_combo, stretch=1)
        v.addLayout(h)
        return box

    def _create_review(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        self.review_label = QLabel("Clean first: every repair is listed here.")
        self.review_label.setObjectName("review_label")
        self.review_label.setWordWrap(True)
        v.addWidget(self.review_label)
        self.repair_list = QListWidget()
        self.repair_list.setObjectName("repair_list")
        self.repair_list.setMinimumHeight(90)
        self.repair_list.itemClicked.connect(lambda it: self.go_to_span(self.repair_list.row(it)))
        self.repair_list.itemActivated.connect(
            lambda it: self.go_to_span(self.repair_list.row(it)))
        v.addWidget(self.repair_list)
        h = QHBoxLayout()
        h.addWidget(self._button("✓ accept (Shift+A)", "accept_button", self.accept_span,
                                 "keep this repair and go to the next (Shift+A)"))
        h.addWidget(self._button("✗ reject (Shift+R)", "reject_button", self.reject_span,
                                 "undo this repair (raw values back) and go to the next "
                                 "(Shift+R)"))
        v.addLayout(h)
        teach = QGroupBox("Teach: mark a bad point the cleaner missed")
        t = QVBoxLayout(teach)
        t.addWidget(self._button(
            "mark selected raw point(s) (Shift+M)", "mark_selected_button", self.mark_selected,
            "select points of the 'raw keypoints' layer (select mode, click), then mark them"))
        h = QHBoxLayout()
        h.addWidget(QLabel("frames"))
        self.mark_from = QSpinBox()
        self.mark_from.setObjectName("mark_from")
        self.mark_to = QSpinBox()
        self.mark_to.setObjectName("mark_to")
        for spin in (self.mark_from, self.mark_to):
            spin.setRange(0, 0)
            h.addWidget(spin)
        h.addWidget(self._button("mark range", "mark_range_button", self.mark_range,
                                 "mark these frames of the keypoint chosen below"))
        t.addLayout(h)
        t.addWidget(self._button("Repair marked", "repair_marked_button", self.repair_marked,
                                 "clean again with the marked points flagged"))
        v.addWidget(teach)
        h = QHBoxLayout()
        h.addWidget(self._button("Fine-tune model", "finetune_button", self.fine_tune,
                                 f"continue the model for {_FINE_TUNE_STEPS} steps on these "
                                 "decisions (separate process)"))
        h.addWidget(self._button("Send to DLC…", "dlc_button", self.send_to_dlc,
                                 "hand the reviewed frames to DeepLabCut's outlier / refine "
                                 "flow"))
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

        # Shift+key: the plain arrows step one frame, plain letters are napari's layer modes
        self._key_handlers = {
            "Shift-Right": _guarded(self.next_segment),
            "Shift-Left": _guarded(self.previous_segment),
            "Shift-A": _guarded(self.accept_span),
            "Shift-R": _guarded(self.reject_span),
            "Shift-M": _guarded(self.mark_selected),
        }
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

    def _set_warnings(self, notes: list[str]) -> None:
        """Warnings about the loaded files: shown until the next Load."""
        self.warnings.setText("\n".join(f"⚠ {n}" for n in notes))
        self.warnings.setVisible(bool(notes))

    def _browse(self, field: str, file_filter: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Choose {field.replace('_', ' ')}", "",
                                              f"{file_filter};;All files (*)")
        if path:
            getattr(self, f"{field}_edit").setText(path)

    @property
    def busy(self) -> bool:
        """A background task or a training process is running."""
        return bool((self.task is not None and self.task.is_running)
                    or (self.job is not None and self.job.is_running))

    def _update_enabled(self) -> None:
        busy = self.busy
        loaded = self.tracks is not None
        reviewed = self.result is not None
        enable = {
            "load_button": not busy,
            "detect_button": loaded and not busy,
            "clean_button": loaded and not busy,
            "train_button": loaded and not busy,
            "save_button": reviewed and not busy,
            "cancel_button": busy,
            "prev_button": bool(self.segments),
            "next_button": bool(self.segments),
            "accept_button": bool(self.spans),
            "reject_button": bool(self.spans),
            "mark_selected_button": reviewed,
            "mark_range_button": reviewed,
            "repair_marked_button": reviewed and not busy,
            "finetune_button": reviewed and not busy,
            "dlc_button": reviewed and not busy,
        }
        for name, on in enable.items():
            self.findChild(QPushButton, name).setEnabled(on)

    # ================================================================== loading
    def load(
        self,
        tracks_path: str | Path | None = None,
        video_path: str | Path | None = None,
        config_path: str | Path | None = None,
        *,
        detect: bool = True,
    ) -> bool:
        """Load tracks (and their video and config) into the viewer: a full reset.

        Arguments left as None are taken from the panel's fields. When the tracks differ from
        the last loaded ones, fields the user did not change since that Load (video, model,
        pcutoff) are re-guessed for the new tracks instead of being carried over. A missing or
        corrupt tracks file leaves the viewer as it was; a missing/corrupt video or config, or
        a video that does not match the tracks, is reported (and stays visible) and loading
        goes on.

        Returns
        -------
        bool
            Whether the tracks were loaded.
        """
        from stablemotion_dlc.dlc.io import read_tracks
        from stablemotion_dlc.dlc.video import VideoReader, check_video_matches, guess_video_path

        if self.busy:
            self.show_message("Busy; cancel the running task first.", "warning")
            return False
        for value, edit in ((tracks_path, self.tracks_path_edit),
                            (video_path, self.video_path_edit),
                            (config_path, self.config_path_edit)):
            if value is not None:
                edit.setText(str(value))
        tracks_text = self.tracks_path_edit.text().strip()
        if not tracks_text and self._fill_from_sample():
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

        self._forget_previous_project(path, video_given=video_path is not None,
                                      config_given=config_path is not None)
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
        self._loading = True
        try:
            self._add_video_layer()
            self._add_raw_layers()
            self._fill_combos()
            if self.viewer.dims.ndim == 3:
                self.viewer.dims.axis_labels = ("frame", "y", "x")
            self.viewer.reset_view()
        finally:
            self._loading = False
        for spin in (self.mark_from, self.mark_to):
            spin.setRange(0, max(tracks.n_frames - 1, 0))
        self._show_legend()
        self._set_warnings(notes)
        self._loaded_inputs = {
            "tracks": str(path), "video": self.video_path_edit.text().strip(),
            "config": self.config_path_edit.text().strip(),
            "model": self.model_path_edit.text().strip(),
            "pcutoff": f"{self.pcutoff_spin.value():.4f}",
        }
        text = (f"Loaded {path.name}: {tracks.n_frames} frames, {len(tracks.animals)} "
                f"individual(s) × {tracks.n_keypoints} keypoints"
                + (f", video {video.shape[1]}×{video.shape[0]}" if video is not None else ""))
        self.show_message(text + "." + (" See the warnings below." if notes else ""),
                          "warning" if notes else "ok")
        self._update_inspector()
        self._activate(RAW_LAYER)
        self._update_enabled()
        if video is not None:
            video.start_background()
        if detect:
            self.detect()
        return True

    def _fill_from_sample(self) -> bool:
        """Fill the fields from a layer of File > Open Sample (simulated mouse), if any."""
        for layer in self.viewer.layers:
            paths = layer.metadata.get("stablemotion_sample")
            if paths:
                self.tracks_path_edit.setText(paths["tracks"])
                self.video_path_edit.setText(paths["video"])
                self.config_path_edit.setText(paths["config"])
                return True
        return False

    def _forget_previous_project(self, path: Path, *, video_given: bool,
                                 config_given: bool) -> None:
        """New tracks: drop what the panel filled in for the previous ones.

        A field is reset only when it still holds what the last Load used (the user did not
        change it): the video is guessed again from the new tracks, the model is looked up
        again (the project's default at Clean), pcutoff comes from the config or the default.
        """
        last = self._loaded_inputs
        if not last or last.get("tracks") == str(path):
            return
        if not video_given and self.video_path_edit.text().strip() == last.get("video"):
            self.video_path_edit.setText("")
        if self.model_path_edit.text().strip() == last.get("model"):
            self.model_path_edit.setText("")
        if not config_given and self.config_path_edit.text().strip() == last.get("config"):
            config = self._guess_config(path)
            self.config_path_edit.setText(str(config) if config else "")
        if f"{self.pcutoff_spin.value():.4f}" == last.get("pcutoff"):
            self.pcutoff_spin.setValue(self._default_pcutoff())

    @staticmethod
    def _guess_config(tracks: Path) -> Path | None:
        """The DLC project's ``config.yaml`` of tracks in ``<project>/videos/`` (or beside)."""
        for folder in (tracks.parent, tracks.parent.parent):
            candidate = folder / "config.yaml"
            if candidate.is_file():
                return candidate
        return None

    def _read_config(self, notes: list[str]) -> None:
        from stablemotion_dlc.dlc.project import DlcProject

        self.pcutoff_from_config, self.project = None, None
        text = self.config_path_edit.text().strip()
        if not text:
            return
        try:
            project = DlcProject.from_config(Path(text).expanduser())
        except Exception as exc:  # noqa: BLE001 - the config is optional
            notes.append(f"config ignored: {exc}")
            return
        self.pcutoff_from_config, self.project = project.pcutoff, project
        last = self._loaded_inputs
        typed = bool(last) and text == last.get("config") and (
            f"{self.pcutoff_spin.value():.4f}" != last.get("pcutoff"))
        if not typed:  # a value the user typed is kept
            self.pcutoff_spin.setValue(project.pcutoff)

    def _clear(self) -> None:
        """Remove our layers and forget the previous tracks, result and review."""
        self._loading = True  # no frame-change callbacks while layers go away
        self.timeline.invalidate()
        try:
            for name in _OUR_LAYERS:
                if name in self.viewer.layers:
                    self.viewer.layers.remove(name)
        finally:
            self._loading = False
        if self.video is not None:
            self.video.close()
        self.tracks = self.video = self.labels = self.result = self.raw_result = None
        self.review = None
        self.spans = []
        self.segments = []
        self.segment_list.clear()
        self.repair_list.clear()
        self.summary_label.setText("")
        self.review_label.setText("Clean first: every repair is listed here.")
        self.view_combo.blockSignals(True)
        self.view_combo.setCurrentText("raw")
        self.view_combo.blockSignals(False)

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
        self._draw_skeleton(tracks)

    def _skeleton_pairs(self, tracks: Tracks) -> list[tuple[int, int]]:
        """The suspect rules' bones on ``tracks`` (``project.rule_skeleton``)."""
        from stablemotion_dlc.dlc.project import rule_skeleton

        return rule_skeleton(tracks, self.project)

    def _draw_skeleton(self, tracks: Tracks) -> None:
        """(Re)draw the skeleton layer on ``tracks`` (raw or cleaned)."""
        vectors = skeleton_vectors(tracks, self._skeleton_pairs(self.tracks))
        if SKELETON_LAYER in self.viewer.layers:
            layer = self.viewer.layers[SKELETON_LAYER]
            layer.data = vectors if len(vectors) else np.zeros((0, 2, 3))
            return
        if len(vectors):
            active = self.viewer.layers.selection.active
            self.viewer.add_vectors(vectors, name=SKELETON_LAYER, edge_width=1.5,
                                    edge_color="#e8e8e8", opacity=0.6, vector_style="line")
            self.viewer.layers.move(self.viewer.layers.index(SKELETON_LAYER),
                                    self.viewer.layers.index(RAW_LAYER))
            if active is not None and active in self.viewer.layers:
                self.viewer.layers.selection.active = active

    @property
    def legend(self) -> Any:
        """The canvas text overlay that holds the symbol legend."""
        canvas = getattr(self.viewer, "canvas", None)
        overlays = getattr(canvas, "overlays", None)
        if overlays is not None and "text" in overlays:
            return overlays["text"]
        return self.viewer.text_overlay  # napari < 0.9

    def _show_legend(self) -> None:
        overlay = self.legend
        overlay.text = _LEGEND
        overlay.visible = True
        overlay.position = "bottom_left"
        overlay.font_size = 9
        overlay.color = "white"

    def _activate(self, name: str) -> None:
        if name in self.viewer.layers:
            self.viewer.layers.selection.active = self.viewer.layers[name]

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
        if self.busy:
            self.show_message("Busy; wait or cancel the running task.", "warning")
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
        """Ask the running task to stop, or stop the training process."""
        if self.task is not None and self.task.is_running:
            self.task.cancel()
            self.progress_bar.setFormat("cancelling… %p%")
        if self.job is not None and self.job.is_running:
            self._clean_after_training = False
            self.job.cancel()

    # ------------------------------------------------------------------ detection
    def detect(self) -> BackgroundTask | None:
        """Flag suspect keypoints (rule-based labels) in the background."""
        if self.tracks is None:
            self.show_message("Load tracks first.", "warning")
            return None
        from stablemotion_dlc.dlc.labels import suspect_mask

        tracks, pcutoff = self.tracks, float(self.pcutoff_spin.value())
        # the config's bones between these bodyparts (None: the rules' learned default)
        skeleton = None if self.project is None else self.project.skeleton_for(tracks.bodyparts)

        def work(progress: Callable[..., None], should_stop: Callable[[], bool]) -> Any:
            progress(0.0, "flagging suspects")
            labels = suspect_mask(tracks, pcutoff, skeleton=skeleton)
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
            layer.face_color = pdata.face_color
            layer.border_color = pdata.border_color
            layer.size = self._point_size() * pdata.scale
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
    def clean(self, flag_mask: np.ndarray | None = None) -> BackgroundTask | None:
        """Clean the tracks with ``pipeline.clean_tracks`` in the background.

        Parameters
        ----------
        flag_mask : np.ndarray, optional
            Points to repair instead of what the rules and the detector flag (Repair marked).
        """
        if self.tracks is None:
            self.show_message("Load tracks first.", "warning")
            return None
        try:
            from stablemotion_dlc.dlc.pipeline import clean_tracks
        except ImportError as exc:
            self.show_message(f"Cleaning is not available in this installation: {exc}", "error")
            return None
        model = self._model_path(offer_training=flag_mask is None)
        if model is None:
            return None
        tracks, pcutoff = self.tracks, float(self.pcutoff_spin.value())
        config = self._config_path()

        def work(progress: Callable[..., None], should_stop: Callable[[], bool]) -> Any:
            return clean_tracks(tracks, model, pcutoff=pcutoff, config_path=config,
                                progress=progress, should_stop=should_stop,
                                flag_mask=flag_mask)

        keep_review = flag_mask is not None
        return self.run_task(work, "cleaning",
                             lambda result: self.show_result(result, keep_review=keep_review))

    def _config_path(self) -> Path | None:
        text = self.config_path_edit.text().strip()
        config = Path(text).expanduser() if text else None
        return config if config is not None and config.is_file() else None

    def _project_model_path(self) -> Path | None:
        """Where ``clean_h5`` looks for this project's model (None without a config)."""
        config = self._config_path()
        if config is None:
            return None
        from stablemotion_dlc.dlc.project import default_model_path

        return default_model_path(config)

    def _model_path(self, offer_training: bool = True) -> Path | None:
        """The model file from the panel, else the project's; None + message (or training)."""
        text = self.model_path_edit.text().strip()
        if text:
            model = Path(text).expanduser()
            if not model.is_file():
                self.show_message(f"Model file not found: {model}", "error")
                return None
            return model
        try:
            model = self._project_model_path()
        except Exception as exc:  # noqa: BLE001 - shown in the panel
            self.show_message(f"No model: {exc}", "error")
            return None
        if model is not None and model.is_file():
            self.model_path_edit.setText(str(model))
            return model
        where = f" ({model} does not exist)" if model is not None else ""
        if offer_training and self._ask_train(where):
            self._clean_after_training = True
            self.train()
            return None
        self.show_message(f"No model yet for these tracks{where}. Press Train (or run "
                          "`stablemotion-dlc train CONFIG`), or choose a model file.", "error")
        return None

    def _ask_train(self, where: str) -> bool:
        steps = self.steps_spin.value()
        answer = QMessageBox.question(
            self, "No model yet",
            f"There is no model for these tracks yet{where}.\nTrain one now on these tracks "
            f"({steps} steps, in a separate process) and clean when it is done?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes)
        return answer == QMessageBox.StandardButton.Yes

    def show_result(self, result: Any, *, keep_review: bool = False) -> None:
        """Show a clean result: cleaned points, skeleton, tails, timeline, repair list.

        Parameters
        ----------
        result : CleanResult
            From ``clean_tracks`` on the loaded tracks.
        keep_review : bool
            Keep the decisions taken so far (a re-clean with marked points); else start a new
            review.
        """
        from stablemotion_dlc.dlc.review import Review

        if result is None:
            raise ValueError("the cleaning returned nothing")
        if self.tracks is None or result.tracks.xy.shape != self.tracks.xy.shape:
            raise ValueError("the cleaned tracks do not match the loaded tracks")
        self.raw_result = result
        if not keep_review or self.review is None:
            self.review = Review()
        self._refresh_review(first=True)
        counts = {name: int((np.asarray(result.status) == code).sum())
                  for code, name in STATUS_NAMES.items()}
        self.show_message("Cleaned: " + ", ".join(f"{v} {k}" for k, v in counts.items())
                          + ". Review each repair, then Save….", "ok")
        if self.view_combo.currentText() == "raw":
            self.view_combo.setCurrentText("both")  # also applies the view
        else:
            self._apply_view()

    def _refresh_review(self, first: bool = False) -> None:
        """Recompute the reviewed result and redraw what depends on it."""
        from stablemotion_dlc.dlc.review import apply_review, repair_spans

        self.result = apply_review(self.tracks, self.raw_result, self.review)
        if first:
            self.spans = repair_spans(self.raw_result, marked=self.review.marked)
        self._draw_clean_layer()
        self._fill_repair_list()
        if not first:
            self._apply_view()
        self._update_inspector()
        self._update_enabled()

    def _draw_clean_layer(self) -> None:
        pdata = points_data(self.result.tracks, status=np.asarray(self.result.status))
        active = self.viewer.layers.selection.active
        if CLEAN_LAYER in self.viewer.layers:
            self._loading = True
            try:
                self.viewer.layers.remove(CLEAN_LAYER)
            finally:
                self._loading = False
        self.viewer.add_points(
            pdata.data, name=CLEAN_LAYER, features=pd.DataFrame(pdata.features),
            face_color=pdata.face_color, border_color=pdata.border_color,
            symbol=pdata.symbol if len(pdata) else "disc", size=self._point_size(),
            border_width=0.22, border_width_is_relative=True, ndim=3,
        )
        if active is not None and active in self.viewer.layers:
            self.viewer.layers.selection.active = active

    def _apply_view(self) -> None:
        """Show raw, cleaned or both; the skeleton follows the cleaned points when shown."""
        if self.tracks is None:
            return
        view = self.view_combo.currentText()
        cleaned_shown = self.result is not None and view in ("cleaned", "both")
        if RAW_LAYER in self.viewer.layers:
            self.viewer.layers[RAW_LAYER].visible = view in ("raw", "both") or (
                self.result is None)
        if CLEAN_LAYER in self.viewer.layers:
            self.viewer.layers[CLEAN_LAYER].visible = cleaned_shown
        self._draw_skeleton(self.result.tracks if cleaned_shown else self.tracks)

    @property
    def skeleton_source(self) -> str:
        """``"cleaned"`` or ``"raw"``: which points the skeleton layer is drawn on."""
        return ("cleaned" if self.result is not None
                and self.view_combo.currentText() in ("cleaned", "both") else "raw")

    # ------------------------------------------------------------------ review
    def _fill_repair_list(self) -> None:
        current = self.repair_list.currentRow()
        self.repair_list.blockSignals(True)
        self.repair_list.clear()
        for span in self.spans:
            decision = self.review.decisions.get(span.key) if self.review else None
            item = QListWidgetItem(_DECISION_MARK.get(decision, "   ") + span.describe())
            if decision == "rejected":
                item.setForeground(Qt.GlobalColor.gray)
            self.repair_list.addItem(item)
        if 0 <= current < len(self.spans):
            self.repair_list.setCurrentRow(current)
        self.repair_list.blockSignals(False)
        counts = self.review.counts() if self.review else {}
        self.review_label.setText(
            f"{len(self.spans)} spans to review: {counts.get('accepted', 0)} accepted, "
            f"{counts.get('rejected', 0)} rejected, {counts.get('marked', 0)} points marked. "
            "Shift+A accept, Shift+R reject (raw values back), Shift+M mark.")

    def go_to_span(self, row: int) -> RepairSpan | None:
        """Select repaired span ``row``: frame, keypoint and individual follow."""
        if not 0 <= row < len(self.spans):
            return None
        span = self.spans[row]
        self.repair_list.blockSignals(True)
        self.repair_list.setCurrentRow(row)
        self.repair_list.blockSignals(False)
        self._select_keypoint(span.individual_name, span.keypoint_name)
        self.go_to_frame(span.start)
        return span

    def current_span(self) -> RepairSpan | None:
        """The repaired span selected in the list (the first one when none is)."""
        if not self.spans:
            return None
        row = self.repair_list.currentRow()
        return self.spans[row if 0 <= row < len(self.spans) else 0]

    def accept_span(self) -> None:
        """Keep the selected repair; go to the next span."""
        self._decide("accepted")

    def reject_span(self) -> None:
        """Undo the selected repair (its points keep their raw values); go to the next span.

        Rejecting an identity fix rejects the other spans of the same swap (the points it moved
        between individuals or left/right keypoints in the same frames), so that no point ends
        up in two places.
        """
        self._decide("rejected")

    def _decide(self, decision: str) -> None:
        span = self.current_span()
        if span is None or self.review is None:
            return
        row = self.spans.index(span)
        self.review.decide(span, decision)
        if span.status == "identity-fixed":
            for other in self.spans:
                if (other.status == "identity-fixed" and other is not span
                        and other.start < span.stop and span.start < other.stop):
                    self.review.decide(other, decision)
        self._refresh_review()
        self.show_message(f"{decision.capitalize()}: {span.describe()}", "ok")
        nxt = row + 1 if row + 1 < len(self.spans) else row
        self.go_to_span(nxt)

    # ------------------------------------------------------------------ teach
    def mark_selected(self) -> int:
        """Mark the points selected in the raw keypoints layer as bad; returns how many."""
        if self.review is None or RAW_LAYER not in self.viewer.layers:
            self.show_message("Clean first, then select missed points to mark.", "warning")
            return 0
        layer = self.viewer.layers[RAW_LAYER]
        rows = sorted(layer.selected_data)
        if not rows:
            self.show_message("Select points of the 'raw keypoints' layer first (select "
                              "mode, click a point).", "warning")
            return 0
        feats = layer.features
        names_i, names_k = list(self.tracks.individuals), list(self.tracks.bodyparts)
        n = 0
        for r in rows:
            n += self.review.mark(self.tracks.xy.shape[:3], [int(feats["frame"].iloc[r])],
                                  names_i.index(feats["individual"].iloc[r]),
                                  names_k.index(feats["keypoint"].iloc[r]))
        return self._after_mark(n)

    def mark_range(self, start: int | None = None, stop: int | None = None) -> int:
        """Mark frames ``start..stop`` (inclusive) of the inspected keypoint as bad."""
        sel = self.selected()
        if self.review is None or sel is None:
            self.show_message("Clean first, then choose a keypoint and frames to mark.",
                              "warning")
            return 0
        a = self.mark_from.value() if start is None else int(start)
        b = self.mark_to.value() if stop is None else int(stop)
        a, b = min(a, b), max(a, b)
        self.mark_from.setValue(a)
        self.mark_to.setValue(b)
        n = self.review.mark(self.tracks.xy.shape[:3], slice(a, b + 1), *sel)
        return self._after_mark(n)

    def _after_mark(self, n: int) -> int:
        self._fill_repair_list()
        self._update_timeline()
        self._update_enabled()
        total = self.review.counts()["marked"]
        self.show_message(f"Marked {n} point(s) ({total} in all). Press Repair marked to "
                          "repair them.", "ok")
        return n

    def repair_marked(self) -> BackgroundTask | None:
        """Clean again: the previous repairs plus the marked points (``flag_mask``)."""
        if self.raw_result is None or self.review is None:
            self.show_message("Clean first.", "warning")
            return None
        status = np.asarray(self.raw_result.status)
        flag = (status == 1) | (status == 2)
        if self.review.marked is not None:
            flag |= self.review.marked
        return self.clean(flag_mask=flag)

    # ------------------------------------------------------------------ training
    def _job_env(self) -> dict[str, str]:
        env = {"PYTHONUNBUFFERED": "1"}
        if "OMP_NUM_THREADS" not in os.environ:
            env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 2) // 2))
        return env

    def _train_model_path(self) -> Path:
        """The model field's path, else ``project.model_location`` (project or tracks)."""
        text = self.model_path_edit.text().strip()
        if text:
            return Path(text).expanduser()
        from stablemotion_dlc.dlc.project import model_location

        return model_location(self._config_path(), self.tracks_path)

    def train(self, steps: int | None = None) -> JobProcess | None:
        """Train (or resume) the model in a separate process; it lands where Clean finds it.

        With a config and a video this is ``stablemotion_dlc.dlc.pipeline.train`` (the model
        goes to the project's model path, where ``clean_h5`` finds it); otherwise the model is
        trained on the loaded tracks and written to the model field's path (default
        ``stablemotion-models/model.safetensors`` beside the tracks).
        """
        if self.tracks is None or self.tracks_path is None:
            self.show_message("Load tracks first.", "warning")
            return None
        steps = int(steps if steps is not None else self.steps_spin.value())
        model = self._train_model_path()
        args = ["train", "--model", str(model), "--steps", str(steps),
                "--tracks", str(self.tracks_path)]
        config = self._config_path()
        if config is not None:
            args += ["--config", str(config)]
            if self.video is not None:
                args += ["--video", str(self.video.path)]
        if self.restart_checkbox.isChecked():
            args.append("--restart")
        job = self._start_job(args, "training", lambda path: self._on_trained(path))
        if job is not None:
            self.model_path_edit.setText(str(model))
            resumed = " (resuming the existing model)" if model.exists() and not (
                self.restart_checkbox.isChecked()) else ""
            self.show_message(f"Training {steps} steps in a separate process{resumed} → "
                              f"{model}", "info")
        return job

    def _start_job(self, args: list[str], name: str,
                   on_done: Callable[[str], None]) -> JobProcess | None:
        from napari_plugin._process import JobProcess

        if self.busy:
            self.show_message("Busy; wait or cancel the running task.", "warning")
            return None
        job = JobProcess(args, name=name, env=self._job_env(), parent=self)
        job.progressed.connect(self._on_progress)
        job.done.connect(lambda path: self._safe(on_done, path, name))
        job.failed.connect(lambda text: self.show_message(f"{name} failed: {text}", "error"))
        job.cancelled.connect(lambda: self.show_message(
            f"{name} cancelled; Train again resumes from the last checkpoint.", "warning"))
        job.finished.connect(self._on_task_finished)
        self.job = job
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat(f"{name}: starting… %p%")
        job.start()
        self._update_enabled()
        return job

    def _on_trained(self, path: str) -> None:
        if path:
            self.model_path_edit.setText(path)
        self.progress_bar.setValue(1000)
        self.show_message(f"Model trained: {path}", "ok")
        if self._clean_after_training:
            self._clean_after_training = False
            self.clean()

    def fine_tune(self, steps: int = _FINE_TUNE_STEPS) -> JobProcess | None:
        """Continue the model on the review's labels, in a separate process (a short run).

        The labels are the rules' suspect mask plus accepted and marked points, minus rejected
        ones (:func:`stablemotion_dlc.dlc.review.review_labels`). The model is updated in
        place.
        """
        if self.result is None or self.review is None or self.tracks_path is None:
            self.show_message("Clean and review first.", "warning")
            return None
        from stablemotion_dlc.dlc.review import review_labels

        model = self._model_path(offer_training=False)
        if model is None:
            return None
        labels = review_labels(self.raw_result.suspect.mask, self.raw_result, self.review)
        fd, tmp = tempfile.mkstemp(prefix="stablemotion-review-", suffix=".npy")
        os.close(fd)
        np.save(tmp, labels)
        args = ["finetune", "--model", str(model), "--out", str(model), "--steps", str(steps),
                "--tracks", str(self.tracks_path), "--labels", tmp,
                "--pcutoff", f"{self.pcutoff_spin.value():g}"]
        return self._start_job(args, "fine-tuning",
                               lambda path: self.show_message(
                                   f"Model fine-tuned on {self.review.counts()} → {path}",
                                   "ok"))

    # ------------------------------------------------------------------ DLC
    def send_to_dlc(self, n: int = 20) -> BackgroundTask | None:
        """Hand the reviewed frames to DeepLabCut's outlier / refine flow.

        The reviewed result is saved first where the library looks for the video's cleaned
        output (``project.cleaned_path`` of the tracks; an existing file is replaced only
        after confirmation), then ``stablemotion_dlc.extract_outlier_frames(config, [video],
        n)`` runs in the background: it picks the frames with the largest accepted or taught
        repairs (rejected ones are raw again, so they are not picked), extracts them with
        ``deeplabcut.extract_outlier_frames(..., outlieralgorithm="list")`` and writes our
        points as DLC's machine labels, ready for ``deeplabcut.refine_labels(config)``.
        """
        import stablemotion_dlc

        if self.result is None:
            self.show_message("Clean and review first.", "warning")
            return None
        extract = getattr(stablemotion_dlc, "extract_outlier_frames", None)
        config = self._config_path()
        if extract is None or config is None or self.video is None:
            self.show_message("Sending frames to DeepLabCut needs the project's config.yaml, "
                              "the video and stablemotion_dlc.extract_outlier_frames.", "error")
            return None
        target = self.default_save_path()
        if self.save(target) is None:
            return None
        video = self.video.path

        def work(progress: Callable[..., None], should_stop: Callable[[], bool]) -> Any:
            progress(-1, "DeepLabCut: extracting frames")
            return extract(config, [str(video)], n=n, progress=False)

        def done(out: Any) -> None:
            frames = [f for o in out for f in o.frames]
            folders = ", ".join(str(o.folder) for o in out)
            if not frames:
                self.show_message("No confident repairs to send to DeepLabCut.", "warning")
                return
            self.show_message(f"Sent {len(frames)} frame(s) to DeepLabCut ({folders}), "
                              "labelled with the reviewed points. Next: "
                              "deeplabcut.refine_labels(config), merge_datasets, retrain.",
                              "ok")

        return self.run_task(work, "sending to DeepLabCut", done)

    # ------------------------------------------------------------------ saving
    def default_save_path(self) -> Path | None:
        """DLC's name for the cleaned file next to the tracks (``project.reviewed_path``)."""
        if self.tracks_path is None:
            return None
        from stablemotion_dlc.dlc.project import reviewed_path

        return reviewed_path(self.tracks_path)

    @staticmethod
    def _save_outputs(path: Path) -> list[Path]:
        """Files ``save_clean_result`` writes for ``path`` (``project.output_files``)."""
        from stablemotion_dlc.dlc.project import output_files

        return output_files(path)

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

    def save(self, path: str | Path | None = None) -> Path | None:
        """Save the reviewed result with its decisions (asks where when ``path`` is None).

        Existing files are replaced only after confirmation; the input is never written.
        """
        if self.result is None:
            self.show_message("Nothing to save: run Clean first.", "warning")
            return None
        path = self._ask_save_path() if path is None else Path(path)
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

            inputs = [self.tracks_path] if self.tracks_path is not None else []
            written = Path(save_clean_result(self.result, path, overwrite=overwrite,
                                             inputs=inputs))
        except Exception as exc:  # noqa: BLE001 - shown in the panel
            self.show_message(f"Saving failed: {type(exc).__name__}: {exc}", "error")
            return None
        self.show_message(f"Saved {written} (with the review decisions in its provenance "
                          "file)", "ok")
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
        self._select_segment_keypoint(seg)
        self.go_to_frame(seg.start)
        return seg.start

    def _select_segment_keypoint(self, seg: SuspectSegment) -> None:
        """Inspect the keypoint (and individual) flagged first in ``seg``."""
        if self.labels is None or self.tracks is None:
            return
        frame = self.labels.mask[seg.start]  # (individuals, keypoints)
        if not frame.any():
            return
        i, k = np.argwhere(frame)[0]
        self._select_keypoint(self.tracks.individuals[int(i)], self.tracks.bodyparts[int(k)])

    def _select_keypoint(self, individual: str, keypoint: str) -> None:
        changed = False
        for combo, name in ((self.individual_combo, individual), (self.keypoint_combo, keypoint)):
            j = combo.findText(name)
            if j >= 0 and j != combo.currentIndex():
                combo.blockSignals(True)
                combo.setCurrentIndex(j)
                combo.blockSignals(False)
                changed = True
        if changed:
            self._update_inspector()

    def _on_segment_item(self, item: QListWidgetItem) -> None:
        self._go_segment(self.segment_list.row(item))

    def _on_step(self, _event: Any = None) -> None:
        if self._loading:
            return
        try:
            frame = self.current_frame
            if self.mark_from.value() == self.mark_to.value():  # no range being composed
                self.mark_from.setValue(frame)
                self.mark_to.setValue(frame)
            self.timeline.set_frame(frame)
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
        marked = None
        if self.review is not None and self.review.marked is not None:
            marked = self.review.marked[:, i, k]
        self.timeline.current_frame = self.current_frame
        self.timeline.plot(tr.xy[:, i, k, 0] + ox, tr.xy[:, i, k, 1] + oy, lik, flagged,
                           clean_x=clean_x, clean_y=clean_y, pcutoff=pcut, marked=marked,
                           title=f"{tr.individuals[i]} · {tr.bodyparts[k]}")

    def _update_trajectory(self) -> None:
        sel = self.selected()
        active = self.viewer.layers.selection.active
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
        # adding a layer makes it the active one: keep the points layer active, so the
        # hover readout and point selection keep working
        if active is not None and active in self.viewer.layers:
            self.viewer.layers.selection.active = active
        else:
            self._activate(RAW_LAYER)

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        """Stop a training process and the video's background thread with the panel."""
        if self.job is not None and self.job.is_running:
            self.job.cancel()
        if self.video is not None:
            self.video.stop_background()
        super().closeEvent(event)
