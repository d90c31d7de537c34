"""The StableMotion cleaner dock widget in a real napari viewer (under Xvfb).

Uses a small simulated DLC project with a rendered video (stablemotion_dlc.sample).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from qtpy.QtWidgets import QPushButton  # noqa: E402

from stablemotion_dlc.dlc.io import read_tracks  # noqa: E402
from stablemotion_dlc.dlc.labels import suspect_mask  # noqa: E402
from stablemotion_dlc.dlc.tracks import Tracks  # noqa: E402

pytestmark = pytest.mark.gui

REPO = Path(__file__).resolve().parents[1]
PLUGIN = "stablemotion-dlc"
WIDGET = "StableMotion cleaner"
DOCS_IMG = REPO / "docs" / "img"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):
    from stablemotion_dlc.sample import make_sample_project

    out = tmp_path_factory.mktemp("napari_sample")
    return make_sample_project(out / "proj", seed=3, n_animals=2, duration_s=5.0, fps=30,
                               width=320, height=240, progress=False)


def _register_manifest() -> None:
    """Register the packaged manifest when the napari.manifest entry point is not installed."""
    import npe2

    pm = npe2.PluginManager.instance()
    if PLUGIN not in pm._manifests:
        pm.register(npe2.PluginManifest.from_file(REPO / "napari_plugin" / "napari.yaml"))


@pytest.fixture
def viewer_widget(make_napari_viewer, qtbot, request):
    from napari_plugin._widget import CleanerWidget

    viewer = make_napari_viewer(show=any(w in request.node.name for w in ("screenshot", "real")))
    _register_manifest()
    _dock, widget = viewer.window.add_plugin_dock_widget(plugin_name=PLUGIN,
                                                         widget_name=WIDGET)
    assert isinstance(widget, CleanerWidget)
    yield viewer, widget
    if widget.task is not None and widget.task.is_running:
        widget.task.cancel()
        qtbot.waitUntil(lambda: not widget.task.is_running, timeout=20000)


def _wait_task(qtbot, widget) -> None:
    qtbot.waitUntil(lambda: widget.task is not None and not widget.task.is_running,
                    timeout=60000)


def _load(qtbot, widget, sample) -> None:
    assert widget.load(sample.predictions_h5, config_path=sample.config)
    _wait_task(qtbot, widget)


def test_load_builds_layers(viewer_widget, qtbot, sample) -> None:
    viewer, widget = viewer_widget
    _load(qtbot, widget, sample)
    names = [layer.name for layer in viewer.layers]
    for name in ("video", "skeleton", "raw keypoints", "trajectory"):
        assert name in names
    tracks = read_tracks(sample.predictions_h5)
    video = viewer.layers["video"]
    assert video.rgb and video.data.shape == (sample.n_frames, 240, 320, 3)
    assert widget.video_path_edit.text() == str(sample.video)  # guessed from the tracks name
    raw = viewer.layers["raw keypoints"]
    expected = int((np.isfinite(tracks.xy).all(-1) & tracks.present[None]).sum())
    assert len(raw.data) == expected
    # one colour per keypoint, one border colour per individual (suspect points: magenta)
    feats = raw.features
    ok = ~feats["suspect"].to_numpy()
    face = {tuple(np.round(c, 3)) for c in raw.face_color[ok]}
    assert len(face) == tracks.n_keypoints
    for kp in tracks.bodyparts:
        colours = np.unique(np.round(raw.face_color[ok & (feats["keypoint"] == kp)], 3), axis=0)
        assert len(colours) == 1
    np.testing.assert_allclose(raw.face_color[~ok], np.tile([1, 0, 1, 1], (int((~ok).sum()), 1)))
    assert (raw.size[~ok] > raw.size[ok].max()).all()  # suspect points drawn larger
    borders = {ind: np.unique(np.round(raw.border_color[ok & (feats["individual"] == ind)], 3),
                              axis=0)
               for ind in tracks.individuals}
    assert all(len(b) == 1 for b in borders.values())
    assert len({tuple(b[0]) for b in borders.values()}) == len(tracks.individuals)
    # suspect points drawn as x, exactly those of suspect_mask
    labels = suspect_mask(tracks, widget.pcutoff_spin.value(), config_path=sample.config)
    symbols = np.array([str(s.value if hasattr(s, "value") else s) for s in raw.symbol])
    n_suspect_drawn = int((labels.mask & np.isfinite(tracks.xy).all(-1)).sum())
    assert n_suspect_drawn > 0
    assert int((symbols == "x").sum()) == n_suspect_drawn
    assert feats["suspect"].sum() == n_suspect_drawn
    assert widget.segment_list.count() == len(labels.segments()) > 0
    assert "suspect points" in widget.summary_label.text()


def test_navigator_and_keys_move_the_frame(viewer_widget, qtbot, sample) -> None:
    viewer, widget = viewer_widget
    _load(qtbot, widget, sample)
    segs = widget.segments
    widget.go_to_frame(0)
    first_after_0 = next(s.start for s in segs if s.start > 0)
    widget.findChild(QPushButton, "next_button").click()
    assert viewer.dims.current_step[0] == first_after_0
    assert widget.timeline.current_frame == first_after_0  # cursor follows the viewer
    second = next(s.start for s in segs if s.start > first_after_0)
    from app_model.types import KeyBinding

    bound = dict(viewer.keymap.items())
    bound[KeyBinding.from_str("Shift+Right")](viewer)  # what napari calls on Shift+Right
    assert viewer.dims.current_step[0] == second
    bound[KeyBinding.from_str("Shift+Left")](viewer)
    assert viewer.dims.current_step[0] == first_after_0
    # clicking a list item jumps to its span
    item = widget.segment_list.item(len(segs) - 1)
    widget.segment_list.itemClicked.emit(item)
    assert viewer.dims.current_step[0] == segs[-1].start


def test_timeline_click_jumps(viewer_widget, qtbot, sample) -> None:
    from matplotlib.backend_bases import MouseEvent

    viewer, widget = viewer_widget
    _load(qtbot, widget, sample)
    canvas = widget.timeline
    canvas.draw()
    ax = canvas.axes[1]
    x_disp, y_disp = ax.transData.transform((57.2, np.mean(ax.get_ylim())))
    event = MouseEvent("button_press_event", canvas, x_disp, y_disp, button=1)
    canvas.callbacks.process("button_press_event", event)
    assert viewer.dims.current_step[0] == 57
    widget.keypoint_combo.setCurrentIndex(2)
    assert "trajectory" in viewer.layers
    assert widget.timeline.axes[0].get_title().endswith(widget.tracks.bodyparts[2])


def _chunked_suspects(tracks: Tracks, chunk: int, delay: float = 0.0):
    """A real library computation in chunks that reports progress and honours stop."""
    import time

    def run(progress, should_stop):
        masks = []
        for start in range(0, tracks.n_frames, chunk):
            if should_stop():
                return None
            part = tracks.select(frames=slice(start, start + chunk))
            masks.append(suspect_mask(part, rules=("low_likelihood", "missing")).mask)
            progress(min(start + chunk, tracks.n_frames), tracks.n_frames, "chunks")
            time.sleep(delay)
        return np.concatenate(masks)

    return run


def test_worker_progress_done(viewer_widget, qtbot, sample) -> None:
    _viewer, widget = viewer_widget
    tracks = read_tracks(sample.predictions_h5)
    seen: list[float] = []
    results: list[np.ndarray] = []
    task = widget.run_task(_chunked_suspects(tracks, 30), "chunked", results.append,
                           on_progress=lambda f, _m: seen.append(f))
    with qtbot.waitSignal(task.finished, timeout=30000):
        pass
    assert results and results[0].shape == tracks.xy.shape[:3]
    direct = suspect_mask(tracks, rules=("low_likelihood", "missing")).mask
    assert np.array_equal(results[0], direct)
    assert seen and seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
    assert widget.progress_bar.value() == 1000


def test_worker_cancel_keeps_gui_responsive(viewer_widget, qtbot, sample) -> None:
    _viewer, widget = viewer_widget
    _load(qtbot, widget, sample)
    tracks = widget.tracks
    results: list = []
    task = widget.run_task(_chunked_suspects(tracks, 5, delay=0.2), "slow", results.append)
    cancel = widget.findChild(QPushButton, "cancel_button")
    assert cancel.isEnabled() and not widget.findChild(QPushButton, "clean_button").isEnabled()
    qtbot.waitUntil(lambda: widget.progress_bar.value() > 0, timeout=20000)
    widget.go_to_frame(3)  # the GUI keeps working while the task runs
    assert widget.timeline.current_frame == 3
    with qtbot.waitSignal(task.cancelled, timeout=20000):
        cancel.click()
    assert results == []
    assert "slow cancelled" in widget.message.text()
    assert not cancel.isEnabled()
    assert widget.run_task(lambda p, s: 1, "second", results.append) is not None
    _wait_task(qtbot, widget)
    assert results == [1]


def test_worker_error_is_shown_in_panel(viewer_widget, qtbot, sample, tmp_path) -> None:
    _viewer, widget = viewer_widget
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"not an hdf5 file")

    def fail(progress, should_stop):
        progress(0.5, "reading")
        return read_tracks(broken)

    task = widget.run_task(fail, "reading", lambda r: None)
    with qtbot.waitSignal(task.failed, timeout=20000):
        pass
    assert "reading failed" in widget.message.text() and "broken.h5" in widget.message.text()


def test_bad_inputs_keep_viewer_working(viewer_widget, qtbot, sample, tmp_path) -> None:
    viewer, widget = viewer_widget
    assert not widget.load(tmp_path / "missing.h5")
    assert "not found" in widget.message.text() and "missing.h5" in widget.message.text()
    assert len(viewer.layers) == 0
    bad = tmp_path / "corruptDLC.h5"
    bad.write_bytes(b"\x89HDF garbage")
    assert not widget.load(bad)
    assert "Cannot read tracks corruptDLC.h5" in widget.message.text()
    _load(qtbot, widget, sample)
    n_layers = len(viewer.layers)
    assert not widget.load(bad)  # a failed reload keeps what is shown
    assert len(viewer.layers) == n_layers and widget.tracks is not None


def test_mismatched_video_warns_and_still_loads(viewer_widget, qtbot, sample, tmp_path) -> None:
    viewer, widget = viewer_widget
    tracks = read_tracks(sample.predictions_h5)
    longer = tracks.select(frames=np.r_[np.arange(tracks.n_frames), tracks.n_frames - 1])
    from stablemotion_dlc.dlc.io import write_tracks

    folder = tmp_path / "mm"
    folder.mkdir()
    shutil.copy(sample.video, folder / sample.video.name)
    longer_path = write_tracks(longer, folder / sample.predictions_h5.name)
    assert widget.load(longer_path, video_path="", config_path="")
    _wait_task(qtbot, widget)
    # the warning stays visible after the detection message replaced the load message
    assert "video is 1 frame shorter" in widget.warnings.text()
    assert widget.warnings.isVisibleTo(widget) and "Flagged" in widget.message.text()
    assert "raw keypoints" in viewer.layers and "video" in viewer.layers
    # a missing video is reported, tracks are still shown
    assert widget.load(longer_path, video_path=tmp_path / "nope.mp4")
    _wait_task(qtbot, widget)
    assert "video not found" in widget.warnings.text()
    assert "video" not in viewer.layers and "raw keypoints" in viewer.layers


_TRAIN_TINY = """
import sys
from stablemotion_dlc.core.train import TrainConfig
from stablemotion_dlc.dlc.io import read_tracks
from stablemotion_dlc.dlc.pipeline import train_on_tracks

cfg = TrainConfig(window=32, batch_size=8, steps=4, lr=2e-3, warmup_steps=0, model="tiny",
                  dit={"width": 32, "depth": 2, "heads": 2}, log_every=2,
                  checkpoint_every=0, normalizer_batches=2)
train_on_tracks([read_tracks(sys.argv[1])], sys.argv[2], config=cfg, progress=False)
"""


@pytest.fixture(scope="module")
def tiny_model(sample, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny StableMotion model trained for a few steps on the sample's own tracks.

    Trained in a separate process: the optimiser imports triton, and importing triton after
    Qt/OpenGL (Mesa's llvmpipe) are loaded crashes the process (two LLVMs).
    """
    import subprocess
    import sys

    pytest.importorskip("stablemotion_dlc.dlc.pipeline")
    out = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    proc = subprocess.run([sys.executable, "-c", _TRAIN_TINY, str(sample.predictions_h5),
                           str(out)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture
def tiny_model_1(train_sample, tmp_path) -> Path:
    """A tiny model for the one-mouse ``train_sample`` (trained in a separate process)."""
    import subprocess
    import sys

    out = tmp_path / "tiny1.safetensors"
    proc = subprocess.run([sys.executable, "-c", _TRAIN_TINY, str(train_sample.predictions_h5),
                           str(out)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_clean_with_corrupt_or_missing_model(viewer_widget, qtbot, sample, tmp_path) -> None:
    _viewer, widget = viewer_widget
    _load(qtbot, widget, sample)
    widget.model_path_edit.setText(str(tmp_path / "none.safetensors"))
    widget.findChild(QPushButton, "clean_button").click()
    assert "Model file not found" in widget.message.text() and widget.task.name == "detection"
    bad_model = tmp_path / "model.safetensors"
    bad_model.write_bytes(b"corrupt")
    widget.model_path_edit.setText(str(bad_model))
    task = widget.clean()
    assert task is not None
    with qtbot.waitSignal(task.finished, timeout=60000):
        pass
    assert "cleaning failed" in widget.message.text() and "model.safetensors" in (
        widget.message.text())
    assert widget.result is None and "cleaned keypoints" not in _viewer.layers


def test_clean_show_and_save(viewer_widget, qtbot, sample, tiny_model, tmp_path,
                             monkeypatch) -> None:
    """Clean through the real pipeline, show the result, save without silent overwrite."""
    viewer, widget = viewer_widget
    _load(qtbot, widget, sample)
    widget.model_path_edit.setText(str(tiny_model))
    task = widget.clean()
    with qtbot.waitSignal(task.finished, timeout=120000):
        pass
    assert widget.result is not None, widget.message.text()
    # the panel's bar got the pipeline's progress (connected before the task started)
    assert widget.progress_bar.value() == widget.progress_bar.maximum() == 1000
    status = np.asarray(widget.result.status)
    assert status.shape == widget.tracks.xy.shape[:3]
    clean = viewer.layers["cleaned keypoints"]
    ok = np.isfinite(widget.result.tracks.xy).all(-1) & widget.result.tracks.present[None]
    assert len(clean.data) == int(ok.sum())
    assert set(clean.features["status"]) <= {"kept", "replaced", "gap-filled", "identity-fixed"}
    traj = viewer.layers["trajectory"]
    assert set(np.unique(traj.data[:, 0])) == {0, 1}  # raw and cleaned tails
    assert traj.tail_length == 30
    assert len(widget.timeline.axes[0].lines) >= 3  # cursor, raw and cleaned x

    target = tmp_path / "out_filtered.h5"
    asked: list = []
    monkeypatch.setattr(widget, "_ask_save_path", lambda: target)
    monkeypatch.setattr(widget, "_confirm_overwrite", lambda paths: asked.append(paths) or False)
    assert widget.save() == target and target.is_file() and target.with_suffix(".csv").is_file()
    saved = read_tracks(target)
    np.testing.assert_array_equal(saved.xy, widget.result.tracks.xy)
    before = target.read_bytes()
    assert widget.save() is None  # exists, the user says no
    assert asked and target in asked[0]
    assert "Not saved" in widget.message.text() and target.read_bytes() == before
    monkeypatch.setattr(widget, "_confirm_overwrite", lambda paths: True)
    assert widget.save() == target  # confirmed
    monkeypatch.setattr(widget, "_ask_save_path",
                        lambda: sample.predictions_h5.with_suffix(".h5"))
    assert widget.save() is None  # never the input file
    assert "input tracks file" in widget.message.text()


def test_cancel_cleaning(viewer_widget, qtbot, sample, tiny_model) -> None:
    _viewer, widget = viewer_widget
    _load(qtbot, widget, sample)
    widget.model_path_edit.setText(str(tiny_model))
    task = widget.clean()
    task.cancel()  # before the first should_stop poll
    with qtbot.waitSignal(task.finished, timeout=120000):
        pass
    assert widget.result is None
    assert "cleaning cancelled" in widget.message.text()


def test_screenshot_is_not_trivial(viewer_widget, qtbot, sample) -> None:
    viewer, widget = viewer_widget
    _load(qtbot, widget, sample)
    frame = widget.segments[len(widget.segments) // 2].start
    widget.go_to_frame(frame)
    viewer.window._qt_window.resize(1500, 950)
    qtbot.wait(200)
    viewer.reset_view()
    qtbot.wait(300)
    canvas = viewer.screenshot(canvas_only=True, flash=False)
    full = viewer.screenshot(canvas_only=False, flash=False)
    if os.environ.get("STABLEMOTION_SAVE_SCREENSHOTS"):
        from PIL import Image

        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        Image.fromarray(full[..., :3]).save(DOCS_IMG / "napari_cleaner.png")
    for shot in (canvas, full):
        rgb = shot[..., :3].reshape(-1, 3)
        assert rgb.mean() > 20  # not black
        colours = np.unique(rgb[:: max(1, len(rgb) // 200000)] // 16, axis=0)
        assert len(colours) > 50


def test_real_openfield_video(viewer_widget, qtbot, shared_data) -> None:
    """The DLC openfield demo (real video, weaker model's tracks) loads and scrubs."""
    viewer, widget = viewer_widget
    folder = shared_data / "openfield_m3v1"
    tracks = folder / "m3v1mp4DeepCut_resnet50_openfieldOct30shuffle1_15001.h5"
    assert widget.load(tracks, config_path=folder / "config_openfieldOct30.yaml")
    _wait_task(qtbot, widget)
    assert widget.video_path_edit.text() == str(folder / "m3v1mp4.mp4")
    assert viewer.layers["video"].data.shape == (2330, 480, 640, 3)
    assert widget.pcutoff_spin.value() == pytest.approx(0.4)  # from the config
    assert widget.segments, widget.message.text()
    assert not any("mismatch" in m for _lvl, m in widget._messages)
    seg = max(widget.segments, key=lambda s: s.n_points)
    widget.go_to_frame(seg.start)
    widget.keypoint_combo.setCurrentIndex(widget.tracks.bodyparts.index(seg.keypoints[0]))
    viewer.window._qt_window.resize(1500, 950)
    qtbot.wait(200)
    viewer.reset_view()
    qtbot.wait(300)
    full = viewer.screenshot(canvas_only=False, flash=False)
    if os.environ.get("STABLEMOTION_SAVE_SCREENSHOTS"):
        from PIL import Image

        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        Image.fromarray(full[..., :3]).save(DOCS_IMG / "napari_openfield.png")
    rgb = full[..., :3].reshape(-1, 3)
    assert rgb.mean() > 20 and len(np.unique(rgb[::7] // 16, axis=0)) > 50


# ---------------------------------------------------------------------------------- issue 19
@pytest.fixture(scope="module")
def other_sample(tmp_path_factory: pytest.TempPathFactory):
    """A second project (one mouse, other size, pcutoff 0.4) to load after the first."""
    import yaml

    from stablemotion_dlc.sample import make_sample_project

    out = tmp_path_factory.mktemp("napari_other")
    project = make_sample_project(out / "proj", seed=5, n_animals=1, duration_s=3.0, fps=30,
                                  width=256, height=192, progress=False)
    cfg = yaml.safe_load(project.config.read_text())
    cfg["pcutoff"] = 0.4
    project.config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return project


def test_real_window_reload_is_a_full_reset(viewer_widget, qtbot, sample, other_sample) -> None:
    """Load, Load another project, Load the first again in a shown window: no crash, no
    leftovers of the previous project, warnings visible, raw keypoints active."""
    viewer, widget = viewer_widget
    viewer.window._qt_window.resize(1400, 900)
    _load(qtbot, widget, sample)
    widget.go_to_frame(40)
    qtbot.wait(100)  # let the canvas and the timeline draw (the old crash needed a drawn
    widget.model_path_edit.setText(str(sample.config.parent / "stale.safetensors"))  # window)
    widget._loaded_inputs["model"] = widget.model_path_edit.text()
    for _ in range(2):
        # the user only changes the tracks field: video, model, config, pcutoff follow
        widget.tracks_path_edit.setText(str(other_sample.predictions_h5))
        assert widget.load()
        _wait_task(qtbot, widget)
        qtbot.wait(100)
        assert widget.video_path_edit.text() == str(other_sample.video)
        assert widget.config_path_edit.text() == str(other_sample.config)
        assert widget.model_path_edit.text() == ""
        assert widget.pcutoff_spin.value() == pytest.approx(0.4)
        assert viewer.layers["video"].data.shape[1:3] == (192, 256)
        assert widget.tracks.individuals == read_tracks(other_sample.predictions_h5).individuals
        assert viewer.layers.selection.active is viewer.layers["raw keypoints"]
        assert widget.legend.visible and "suspect" in widget.legend.text
        widget.go_to_frame(60)
        qtbot.wait(50)
        widget.tracks_path_edit.setText(str(sample.predictions_h5))
        assert widget.load()
        _wait_task(qtbot, widget)
        qtbot.wait(100)
        assert widget.video_path_edit.text() == str(sample.video)
        assert widget.config_path_edit.text() == str(sample.config)
        assert widget.pcutoff_spin.value() == pytest.approx(0.6)
        assert viewer.layers["video"].data.shape[1:3] == (240, 320)
    assert sum(layer.name == "raw keypoints" for layer in viewer.layers) == 1
    assert widget.timeline.current_frame == widget.current_frame
    # a value the user typed is kept on the next Load
    widget.pcutoff_spin.setValue(0.55)
    assert widget.load()
    _wait_task(qtbot, widget)
    assert widget.pcutoff_spin.value() == pytest.approx(0.55)


def test_span_jump_selects_keypoint_and_individual(viewer_widget, qtbot, sample) -> None:
    viewer, widget = viewer_widget
    _load(qtbot, widget, sample)
    widget.go_to_frame(0)
    for _ in range(3):
        start = widget.next_segment()
        i, k = widget.selected()
        assert widget.labels.mask[start, i, k]  # the inspected keypoint is flagged there
        assert widget.timeline.axes[0].get_title() == (
            f"{widget.tracks.individuals[i]} · {widget.tracks.bodyparts[k]}")
    assert viewer.layers.selection.active is viewer.layers["raw keypoints"]


def test_timeline_zooms_around_the_frame_with_a_whole_video_strip(viewer_widget, qtbot,
                                                                   sample) -> None:
    from napari_plugin._timeline import detail_window

    _viewer, widget = viewer_widget
    _load(qtbot, widget, sample)
    canvas = widget.timeline
    canvas.detail_frames = 40
    widget.go_to_frame(100)
    widget._update_timeline()
    lo, hi = canvas.detail_limits
    assert hi - lo == 40 and lo < 100 < hi
    assert canvas.strip.get_xlim() == (-0.5, widget.tracks.n_frames - 0.5)
    bars = canvas.strip.collections[0].get_paths()
    assert len(bars) > 0
    widths = [p.get_extents().width for p in bars]
    assert min(widths) >= 3.0 * widget.tracks.n_frames / max(canvas.strip.bbox.width, 100) - 1e-6
    widget.go_to_frame(103)  # inside the window: no re-centring (a blit)
    assert canvas.detail_limits == (lo, hi)
    widget.go_to_frame(10)
    assert canvas.detail_limits == detail_window(10, widget.tracks.n_frames, 40)
    assert detail_window(5, 30, 40) == (-0.5, 29.5)  # short videos: everything


def test_view_toggle_and_skeleton_follow_cleaned(viewer_widget, qtbot, sample,
                                                 tiny_model) -> None:
    viewer, widget = viewer_widget
    _load(qtbot, widget, sample)
    raw_vectors = np.array(viewer.layers["skeleton"].data)
    widget.model_path_edit.setText(str(tiny_model))
    with qtbot.waitSignal(widget.clean().finished, timeout=120000):
        pass
    assert widget.view_combo.currentText() == "both" and widget.skeleton_source == "cleaned"
    clean_vectors = np.array(viewer.layers["skeleton"].data)
    changed = np.asarray(widget.result.status) != 0
    assert changed.any() and not np.array_equal(raw_vectors, clean_vectors)
    from napari_plugin._layers import skeleton_vectors

    pairs = widget._skeleton_pairs(widget.tracks)
    np.testing.assert_allclose(clean_vectors, skeleton_vectors(widget.result.tracks, pairs))
    widget.view_combo.setCurrentText("raw")
    assert not viewer.layers["cleaned keypoints"].visible
    assert viewer.layers["raw keypoints"].visible and widget.skeleton_source == "raw"
    np.testing.assert_allclose(np.array(viewer.layers["skeleton"].data), raw_vectors)
    widget.view_combo.setCurrentText("cleaned")
    assert viewer.layers["cleaned keypoints"].visible
    assert not viewer.layers["raw keypoints"].visible


def _press(viewer, key: str) -> None:
    """Call what napari calls for ``key`` (e.g. "Shift+A")."""
    from app_model.types import KeyBinding

    dict(viewer.keymap.items())[KeyBinding.from_str(key)](viewer)


def _clean(qtbot, widget, model) -> None:
    widget.model_path_edit.setText(str(model))
    task = widget.clean()
    assert task is not None, widget.message.text()
    with qtbot.waitSignal(task.finished, timeout=180000):
        pass
    assert widget.result is not None, widget.message.text()


def test_review_accept_reject_teach_save_and_read_back(viewer_widget, qtbot, sample, tiny_model,
                                                       tmp_path, monkeypatch) -> None:
    """Accept and reject repairs with single keys, mark a missed point, repair it, save the
    decisions in the provenance file and open that file with the plugin's reader."""
    from stablemotion_dlc.dlc.review import read_review

    viewer, widget = viewer_widget
    _load(qtbot, widget, sample)
    _clean(qtbot, widget, tiny_model)
    raw = widget.tracks
    spans = widget.spans
    assert len(spans) >= 2 and widget.repair_list.count() == len(spans)
    assert all(sp.reasons and 0.0 <= sp.probability <= 1.0 for sp in spans)
    first = spans[0]
    assert "p=" in widget.repair_list.item(0).text() and first.keypoint_name in (
        widget.repair_list.item(0).text())
    # a replaced span to reject (a rejected gap fill is a missing point again), then accept
    j = next(n for n, sp in enumerate(spans) if sp.status == "replaced")
    widget.go_to_span(j)
    assert widget.current_frame == spans[j].start
    assert widget.selected() == (spans[j].individual, spans[j].keypoint)
    _press(viewer, "Shift+R")
    rej = spans[j]
    sl = (slice(rej.start, rej.stop), rej.individual, rej.keypoint)
    np.testing.assert_array_equal(widget.result.tracks.xy[sl], raw.xy[sl])  # raw values back
    np.testing.assert_array_equal(widget.result.tracks.likelihood[sl], raw.likelihood[sl])
    assert (widget.result.status[sl] == 0).all()
    assert not np.array_equal(widget.raw_result.tracks.xy[sl], raw.xy[sl])  # it was repaired
    assert widget.repair_list.currentRow() == min(j + 1, len(spans) - 1)  # moved on
    acc = widget.current_span()
    _press(viewer, "Shift+A")
    decisions = widget.review.decisions
    assert decisions[rej.key] == "rejected" and decisions[acc.key] == "accepted"
    partners = {sp.key for sp in spans if acc.status == "identity-fixed"
                and sp.status == "identity-fixed" and sp.start < acc.stop
                and acc.start < sp.stop}  # an identity fix is decided as one swap
    assert set(decisions) == {rej.key, acc.key} | partners
    assert widget.repair_list.item(j).text().startswith("✗")
    # the cleaned points layer shows the reviewed result
    clean_layer = viewer.layers["cleaned keypoints"]
    f = clean_layer.features
    rows = (f["frame"] == rej.start) & (f["individual"] == rej.individual_name) & (
        f["keypoint"] == rej.keypoint_name)
    assert (f["status"][rows] == "kept").all()

    # teach: a kept, confident stretch of one keypoint is marked and repaired
    status = np.asarray(widget.raw_result.status)
    k = widget.tracks.bodyparts.index(spans[0].keypoint_name)
    i = spans[0].individual
    kept = np.flatnonzero((status[:, i, k] == 0) & np.isfinite(raw.xy[:, i, k]).all(-1))
    a = int(kept[len(kept) // 2])
    b = a + 2
    assert (status[a:b + 1, i, k] == 0).all()
    widget._select_keypoint(raw.individuals[i], raw.bodyparts[k])
    assert widget.mark_range(a, b) == 3
    # ... and one point by clicking it (selection in the raw layer)
    layer = viewer.layers["raw keypoints"]
    rf = layer.features
    c = int(kept[len(kept) // 4])
    row = int(np.flatnonzero((rf["frame"] == c) & (rf["individual"] == raw.individuals[i])
                             & (rf["keypoint"] == raw.bodyparts[k]))[0])
    layer.selected_data = {row}
    _press(viewer, "Shift+M")
    assert widget.review.counts()["marked"] == 4
    task = widget.repair_marked()
    with qtbot.waitSignal(task.finished, timeout=180000):
        pass
    new_status = np.asarray(widget.result.status)
    assert (new_status[a:b + 1, i, k] != 0).all() and new_status[c, i, k] != 0
    assert not np.allclose(widget.result.tracks.xy[a:b + 1, i, k], raw.xy[a:b + 1, i, k])
    marked_spans = [sp for sp in widget.spans if "marked" in sp.reasons]
    assert any(sp.start <= a < sp.stop and sp.keypoint == k for sp in marked_spans)
    assert widget.review.decisions.get(rej.key) == "rejected"  # decisions survive a re-clean
    np.testing.assert_array_equal(widget.result.tracks.xy[sl], raw.xy[sl])

    # save: decisions in the provenance file
    target = tmp_path / (sample.predictions_h5.stem + "_filtered.h5")
    monkeypatch.setattr(widget, "_ask_save_path", lambda: target)
    assert widget.save() == target
    from stablemotion_dlc.dlc.project import provenance_path

    prov = provenance_path(target)
    stored = read_review(prov)
    assert stored is not None and stored.decisions == widget.review.decisions
    assert np.array_equal(stored.marked, widget.review.marked)
    np.testing.assert_array_equal(read_tracks(target).xy, widget.result.tracks.xy)

    # reader: open the provenance file the napari way
    for name in ("cleaned keypoints", "raw keypoints", "video", "skeleton", "trajectory"):
        if name in viewer.layers:
            viewer.layers.remove(name)
    shutil.copy(sample.video, tmp_path / sample.video.name)
    shutil.copy(sample.predictions_h5, tmp_path / sample.predictions_h5.name)
    viewer.open(str(prov), plugin=PLUGIN)
    names = [layer.name for layer in viewer.layers]
    assert {"video", "raw keypoints", "cleaned keypoints"} <= set(names)
    opened = viewer.layers["cleaned keypoints"]
    feats = opened.features
    assert {"status", "probability", "uncertainty", "decision"} <= set(feats.columns)
    assert (feats["decision"] == "rejected").any() and (feats["decision"] == "marked").any()
    assert len(opened.data) == int((np.isfinite(widget.result.tracks.xy).all(-1)).sum())


def test_open_sample_and_load_it(viewer_widget, qtbot, tmp_path, monkeypatch) -> None:
    viewer, widget = viewer_widget
    monkeypatch.setenv("STABLEMOTION_SAMPLE_DIR", str(tmp_path))
    viewer.open_sample(PLUGIN, "simulated_mouse")
    assert viewer.layers["video"].data.shape == (300, 480, 640, 3)
    assert len(viewer.layers["raw keypoints"].data) > 0
    assert widget.load()  # the empty panel picks up the sample's paths
    _wait_task(qtbot, widget)
    assert widget.config_path_edit.text().endswith("config.yaml")
    assert widget.segments and viewer.layers["video"].data.shape[0] == 300
    again = tmp_path / "simulated_mouse" / ".complete"
    assert again.is_file()  # generated once, reused next time


@pytest.fixture
def train_sample(tmp_path):
    """A fresh one-mouse project without a model."""
    from stablemotion_dlc.sample import make_sample_project

    return make_sample_project(tmp_path / "proj", seed=7, n_animals=1, duration_s=4.0, fps=30,
                               width=256, height=192, progress=False)


def _wait_job(qtbot, widget, timeout: int = 240000) -> None:
    qtbot.waitUntil(lambda: widget.job is not None and not widget.job.is_running,
                    timeout=timeout)


def test_train_tiny_in_a_separate_process_then_clean_resume_cancel(
        viewer_widget, qtbot, train_sample, monkeypatch) -> None:
    """First Clean without a model offers to train; training runs in another process with
    progress and a time estimate, lands where clean_h5 looks, resumes, and can be cancelled."""
    from stablemotion_dlc.core.checkpoint import load_checkpoint
    from stablemotion_dlc.dlc.project import default_model_path

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    viewer, widget = viewer_widget
    assert widget.load(train_sample.predictions_h5, config_path=train_sample.config)
    _wait_task(qtbot, widget)
    model = default_model_path(train_sample.config)
    assert not model.exists()
    asked: list[str] = []
    monkeypatch.setattr(widget, "_ask_train", lambda where: asked.append(where) or True)
    widget.steps_spin.setValue(6)
    assert widget.clean() is None and asked  # no model: offered to train, training started
    job = widget.job
    pid = job.proc.processId()
    assert pid > 0 and pid != os.getpid()  # training runs in another process
    # its stderr is a pipe: the bar must still update at tqdm's pace, not a log's
    assert job.proc.processEnvironment().value("STABLEMOTION_PROGRESS_INTERVAL") == "0.1"
    seen: list[tuple[float, str]] = []
    job.progressed.connect(lambda f, m: seen.append((f, m)))
    assert job.is_running and not widget.findChild(QPushButton, "clean_button").isEnabled()
    _wait_job(qtbot, widget)
    assert "model: " in job.stdout, job.stderr[-2000:]
    assert model.is_file() and widget.model_path_edit.text() == str(model)
    assert seen and seen[-1][0] == pytest.approx(1.0) and "step 6/6" in seen[-1][1]
    assert any("left" in m for _f, m in seen)  # time estimate
    assert load_checkpoint(model).step == 6
    # ... and Clean ran by itself once the model was there
    _wait_task(qtbot, widget)
    assert widget.result is not None and widget.task.name == "cleaning"

    # resume: more steps continue the same model file
    widget.steps_spin.setValue(9)
    job = widget.train()
    _wait_job(qtbot, widget)
    assert job.resumed_from == 6, job.stderr[-2000:]
    assert load_checkpoint(model).step == 9

    # cancel: the process stops, the model file is still the last good one
    widget.steps_spin.setValue(5000)
    job = widget.train()
    qtbot.waitUntil(lambda: "step" in widget.progress_bar.format(), timeout=120000)
    with qtbot.waitSignal(job.cancelled, timeout=30000):
        widget.findChild(QPushButton, "cancel_button").click()
    assert "cancelled" in widget.message.text() and not widget.busy
    assert load_checkpoint(model).step >= 9


def _shot(viewer, qtbot, name: str) -> np.ndarray:
    qtbot.wait(400)
    full = viewer.screenshot(canvas_only=False, flash=False)
    if os.environ.get("STABLEMOTION_SAVE_SCREENSHOTS"):
        from PIL import Image

        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        Image.fromarray(full[..., :3]).save(DOCS_IMG / name)
    rgb = full[..., :3].reshape(-1, 3)
    assert rgb.mean() > 20 and len(np.unique(rgb[::7] // 16, axis=0)) > 50
    return full


def test_screenshot_review_and_teach(viewer_widget, qtbot, sample, tiny_model) -> None:
    """The review state (a rejected and an accepted repair) and the teach state (a marked,
    repaired range) in a shown window; saved to docs/img with STABLEMOTION_SAVE_SCREENSHOTS."""
    viewer, widget = viewer_widget
    viewer.window._qt_window.resize(1600, 1000)
    _load(qtbot, widget, sample)
    _clean(qtbot, widget, tiny_model)
    widget.tabs.setCurrentIndex(2)
    j = next(n for n, sp in enumerate(widget.spans) if sp.n_frames > 3
             and sp.status == "replaced")
    widget.go_to_span(j)
    widget.accept_span()
    widget.go_to_span(j + 1)
    widget.reject_span()
    widget.go_to_span(j)
    viewer.reset_view()
    viewer.camera.zoom *= 1.6
    span = widget.spans[j]
    frame_xy = widget.result.tracks.xy[span.start, span.individual]
    centre = np.nanmean(frame_xy, axis=0)
    viewer.camera.center = (float(centre[1]), float(centre[0]))
    _shot(viewer, qtbot, "napari_review.png")
    # teach: mark 6 frames of a kept keypoint, repair them
    status = np.asarray(widget.raw_result.status)
    i, k = span.individual, span.keypoint
    kept = np.flatnonzero(status[:, i, k] == 0)
    a = int(kept[len(kept) // 2])
    widget.mark_range(a, a + 5)
    task = widget.repair_marked()
    with qtbot.waitSignal(task.finished, timeout=180000):
        pass
    row = next(n for n, sp in enumerate(widget.spans) if "marked" in sp.reasons)
    widget.go_to_span(row)
    widget.go_to_frame(a + 3)
    centre = np.nanmean(widget.result.tracks.xy[a + 3, i], axis=0)
    viewer.camera.center = (float(centre[1]), float(centre[0]))
    _shot(viewer, qtbot, "napari_teach.png")


def test_send_reviewed_frames_to_dlc(viewer_widget, qtbot, train_sample, tiny_model_1,
                                     monkeypatch) -> None:
    """Send to DLC saves the reviewed result where the library looks, then calls
    stablemotion_dlc.extract_outlier_frames on it in the background; DLC's own errors are shown.

    The DeepLabCut round trip itself (frames, machine labels) is tested with a real DLC
    project in tests/integration/test_dlc_loop.py.
    """
    pytest.importorskip("deeplabcut")
    import stablemotion_dlc
    from stablemotion_dlc.dlc.outliers import OutlierVideo
    from stablemotion_dlc.dlc.project import cleaned_path, provenance_path
    from stablemotion_dlc.dlc.review import read_review

    viewer, widget = viewer_widget
    assert widget.load(train_sample.predictions_h5, config_path=train_sample.config)
    _wait_task(qtbot, widget)
    _clean(qtbot, widget, tiny_model_1)
    widget.accept_span()
    widget.reject_span()
    # the real library and DeepLabCut: this project has no trained DLC network -> DLC's error
    task = widget.send_to_dlc(n=3)
    assert task is not None, widget.message.text()
    with qtbot.waitSignal(task.finished, timeout=300000):
        pass
    out = cleaned_path(train_sample.predictions_h5)
    assert out.is_file() and "sending to DeepLabCut failed" in widget.message.text()
    assert "shuffle" in widget.message.text()  # DLC's own explanation
    assert read_review(provenance_path(out)).decisions == widget.review.decisions
    np.testing.assert_array_equal(read_tracks(out).xy, widget.result.tracks.xy)

    calls: list = []

    def fake(config, videos, n=20, **kw):
        calls.append((config, videos, n, read_tracks(out).xy.copy()))
        return [OutlierVideo(Path(videos[0]), (12, 40), (3.0, 2.0), out.parent, out)]

    monkeypatch.setattr(stablemotion_dlc, "extract_outlier_frames", fake)
    monkeypatch.setattr(widget, "_confirm_overwrite", lambda paths: True)
    widget.go_to_span(0)
    widget.reject_span()  # a new decision: the file is saved again before sending
    task = widget.send_to_dlc(n=3)
    with qtbot.waitSignal(task.finished, timeout=60000):
        pass
    (config, videos, n, xy), = calls
    assert Path(config) == train_sample.config and videos == [str(train_sample.video)]
    assert n == 3
    np.testing.assert_array_equal(xy, widget.result.tracks.xy)
    assert "Sent 2 frame(s) to DeepLabCut" in widget.message.text()
