"""A tiny, real DeepLabCut 3 project built from the simulated sample (for integration tests).

:func:`build_tiny_dlc_project` goes through DeepLabCut's own workflow on CPU, offline:

1. :func:`stablemotion_dlc.sample.make_sample_project` renders a short video of one
   simulated mouse; only its video and its ground truth are used.
2. ``deeplabcut.create_new_project`` (videos copied), then the sample's bodyparts and
   skeleton go into ``config.yaml`` by a ruamel round trip (comments and order kept).
3. Evenly spaced frames are decoded with PyAV into ``labeled-data/<stem>/imgNNN.png`` and
   labelled from the ground truth as ``CollectedData_<scorer>.h5`` (+ ``.csv``), in DLC 3's
   layout: row index ``("labeled-data", <stem>, "imgNNN.png")``, columns
   ``(scorer, bodyparts, coords)`` with ``coords`` ``x, y``.
4. ``deeplabcut.create_training_dataset`` with the small bottom-up ``cspnext_s`` network.
5. ``deeplabcut.train_network`` for one epoch **without pretrained weights**. DLC 3's
   ``pose_estimation_pytorch.apis.training.train`` forces ``pretrained_backbone=True`` (an
   ImageNet download from HuggingFace) unless it resumes from a snapshot or the config has a
   ``weight_init``; a ``model.backbone.pretrained: false`` key in ``pytorch_config.yaml`` is
   overwritten by ``PoseModel.build``. So the network is built here with
   ``PoseModel.build(cfg, pretrained_backbone=False)`` (random weights) and saved as an
   epoch-0 snapshot outside the project, and training starts from it via ``snapshot_path``.
6. ``deeplabcut.analyze_videos`` writes the real ``<stem>DLC_CspnextS_...snapshot_001.h5``.

Every step runs with IPv4/IPv6 connections refused (:func:`no_network`) and
``HF_HUB_OFFLINE=1``, so a download attempt fails loudly instead of hanging.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "NET_TYPE",
    "TinyProject",
    "build_tiny_dlc_project",
    "no_network",
    "set_project_path",
]

logger = logging.getLogger(__name__)

#: Smallest bottom-up single-animal network of DLC 3's PyTorch engine (CSPNeXt-s backbone).
NET_TYPE = "cspnext_s"
TASK = "tiny"
EXPERIMENTER = "sim"
WIDTH, HEIGHT = 320, 240  # small frames: fast training and analysis on 2 CPU cores
CROP = 128  # training crop around the labels (DLC's default 448 pads 320x240 frames: slow)
BATCH_SIZE = 4
EPOCHS = 1


@dataclass(frozen=True)
class TinyProject:
    """A trained and analysed tiny DLC project.

    Attributes
    ----------
    config : Path
        The DLC project's ``config.yaml``.
    video : Path
        The analysed video (``<project>/videos/sim_mouse.mp4``).
    analysed_h5 : Path
        DLC's analysis output ``<stem><scorer>.h5`` (a ``.csv`` twin sits beside it).
    scorer : str
        DLC scorer of the analysis, e.g. ``DLC_CspnextS_tinyNov25shuffle1_snapshot_001``.
    bodyparts : tuple of str
        Keypoint names, in config order.
    skeleton : tuple of tuple of str
        Bone list of the config.
    n_frames : int
        Frames in the video.
    labelled_frames : tuple of int
        Video frame indices that were labelled.
    truth : np.ndarray
        ``(frames, 1, keypoints, 2)`` ground-truth coordinates of the whole video.
    sample_dir : Path
        The simulated sample the project was built from.
    timings : dict
        Step name -> seconds.
    """

    config: Path
    video: Path
    analysed_h5: Path
    scorer: str
    bodyparts: tuple[str, ...]
    skeleton: tuple[tuple[str, str], ...]
    n_frames: int
    labelled_frames: tuple[int, ...]
    truth: np.ndarray = field(repr=False, compare=False)
    sample_dir: Path = field(repr=False)
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def project_dir(self) -> Path:
        """The DLC project folder."""
        return self.config.parent


@contextlib.contextmanager
def no_network() -> Iterator[None]:
    """Refuse IPv4/IPv6 connections and name look-ups inside the block.

    Local (``AF_UNIX``) sockets keep working. Any download attempt raises
    ``ConnectionRefusedError`` naming the target instead of waiting for a timeout.
    """
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def _refuse(what: Any) -> None:
        raise ConnectionRefusedError(f"network access attempted during the offline DLC "
                                     f"fixture: {what!r}")

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _refuse(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _refuse(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        _refuse(host)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    old_env = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({k: "1" for k in old_env})
    try:
        yield
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = real_getaddrinfo
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _keep_root_logging() -> Iterator[None]:
    """Restore the root logger's handlers and level after DLC calls.

    DLC's training calls ``destroy_file_logging``, which removes *every* root handler
    (pytest's log capture included) and leaves the root level at INFO.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for h in list(root.handlers):
            if h not in handlers:
                root.removeHandler(h)
        for h in handlers:
            if h not in root.handlers:
                root.addHandler(h)
        root.setLevel(level)


class _Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - t0, 2)
        logger.info("tiny DLC project: %s took %.1f s", name, self.timings[name])


def _edit_config(config: Path, updates: dict[str, Any]) -> None:
    """Set top-level keys of a YAML file by a ruamel round trip (order and comments kept)."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    with open(config, encoding="utf-8") as fh:
        data = yaml.load(fh)
    for key, value in updates.items():
        data[key] = value
    tmp = config.with_name(config.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        yaml.dump(data, fh)
    os.replace(tmp, config)


def set_project_path(config: str | Path, project_dir: str | Path) -> None:
    """Point a copied DLC project's ``config.yaml`` at its new folder.

    Sets ``project_path`` and moves every ``video_sets`` entry that lay inside the old project
    folder to the same place inside ``project_dir`` (crop settings kept).

    Parameters
    ----------
    config : str or Path
        The copy's ``config.yaml`` (edited in place).
    project_dir : str or Path
        The copy's folder.
    """
    from ruamel.yaml import YAML

    config = Path(config)
    project_dir = Path(project_dir).absolute()
    yaml = YAML()
    with open(config, encoding="utf-8") as fh:
        data = yaml.load(fh)
    old = Path(str(data["project_path"]))
    video_sets = data.get("video_sets") or {}
    moved = type(video_sets)()
    for key, value in video_sets.items():
        path = Path(str(key))
        if path.is_relative_to(old):
            path = project_dir / path.relative_to(old)
        moved[str(path)] = value
    _edit_config(config, {"project_path": str(project_dir), "video_sets": moved})


def _decode_frames(video: Path, wanted: list[int]) -> dict[int, np.ndarray]:
    """Decode the frames ``wanted`` (indices) of a video as RGB uint8 arrays."""
    import av

    want = set(wanted)
    out: dict[int, np.ndarray] = {}
    with av.open(str(video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in want:
                out[i] = frame.to_ndarray(format="rgb24")
                if len(out) == len(want):
                    break
    missing = sorted(want - set(out))
    if missing:
        raise RuntimeError(f"{video}: could not decode frames {missing}")
    return out


def _write_labelled_data(project: Path, video: Path, scorer: str, bodyparts: list[str],
                         truth: np.ndarray, frames: list[int]) -> Path:
    """Write ``labeled-data/<stem>/imgNNN.png`` and ``CollectedData_<scorer>.h5/.csv``."""
    import pandas as pd
    from PIL import Image

    stem = video.stem
    folder = project / "labeled-data" / stem
    folder.mkdir(parents=True, exist_ok=True)
    n_total = truth.shape[0]
    width = max(1, int(np.ceil(np.log10(n_total))))  # DLC's image index width
    images = _decode_frames(video, frames)
    names = []
    for i in frames:
        name = f"img{str(i).zfill(width)}.png"
        Image.fromarray(images[i]).save(folder / name)
        names.append(name)
    h, w = images[frames[0]].shape[:2]
    xy = truth[frames, 0].astype(np.float64)  # (n, keypoints, 2)
    outside = ((xy[..., 0] < 0) | (xy[..., 0] > w - 1) | (xy[..., 1] < 0)
               | (xy[..., 1] > h - 1))
    xy[outside] = np.nan  # not visible: unlabelled, as a labeller would leave it
    columns = pd.MultiIndex.from_product([[scorer], bodyparts, ["x", "y"]],
                                         names=["scorer", "bodyparts", "coords"])
    index = pd.MultiIndex.from_tuples([("labeled-data", stem, n) for n in names])
    df = pd.DataFrame(xy.reshape(len(frames), -1), index=index, columns=columns)
    h5 = folder / f"CollectedData_{scorer}.h5"
    df.to_hdf(h5, key="df_with_missing", mode="w")  # as DLC's labelling GUI writes it
    df.to_csv(h5.with_suffix(".csv"))
    return h5


def _random_init_snapshot(pytorch_config: Path, target: Path, seed: int) -> Path:
    """Save randomly initialised weights of the shuffle's network as an epoch-0 snapshot."""
    import copy

    import torch
    from deeplabcut.pose_estimation_pytorch.config import read_config_as_dict
    from deeplabcut.pose_estimation_pytorch.models import PoseModel

    cfg = read_config_as_dict(pytorch_config)
    torch.manual_seed(seed)
    model = PoseModel.build(copy.deepcopy(cfg["model"]), pretrained_backbone=False)
    torch.save({"model": model.state_dict(), "metadata": {"epoch": 0}}, target)
    return target


def build_tiny_dlc_project(
    workdir: str | Path,
    *,
    seed: int = 0,
    n_frames_labelled: int = 20,
    duration_s: float = 4,
) -> TinyProject:
    """Build, train (1 epoch, CPU, no pretrained weights) and analyse a tiny DLC project.

    Parameters
    ----------
    workdir : str or Path
        Empty or missing folder; receives ``sample/`` (the simulated source),
        ``dlc/<project>/`` (the DLC project) and ``random_init.pt``.
    seed : int
        Seed of the simulated sample (motion, rendering) and of the network initialisation.
    n_frames_labelled : int
        Frames to label from the ground truth (evenly spaced over the video, at least 2).
    duration_s : float
        Video length in seconds (30 fps).

    Returns
    -------
    TinyProject
        Paths of the trained and analysed project, with per-step timings.

    Raises
    ------
    ValueError
        ``n_frames_labelled`` is below 2 or above the number of frames.
    RuntimeError
        A DLC step did not produce what it should.
    """
    import deeplabcut
    import yaml

    from stablemotion_dlc.dlc.io import read_tracks
    from stablemotion_dlc.sample import make_sample_project

    workdir = Path(workdir).absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    timer = _Timer()
    with no_network(), _keep_root_logging():
        with timer("sample"):
            sample = make_sample_project(workdir / "sample", seed=seed, duration_s=duration_s,
                                         width=WIDTH, height=HEIGHT, video=True, progress=False)
        n_frames = sample.n_frames
        if not 2 <= n_frames_labelled <= n_frames:
            raise ValueError(f"n_frames_labelled must be in [2, {n_frames}], "
                             f"got {n_frames_labelled}")
        truth = read_tracks(sample.truth_h5).xy
        sample_cfg = yaml.safe_load(sample.config.read_text(encoding="utf-8"))
        bodyparts = list(sample_cfg["bodyparts"])
        skeleton = [list(b) for b in sample_cfg["skeleton"]]

        with timer("create_new_project"):
            config = deeplabcut.create_new_project(
                TASK, EXPERIMENTER, [str(sample.video)], working_directory=str(workdir / "dlc"),
                copy_videos=True, multianimal=False)
        if config == "nothingcreated" or not Path(config).is_file():
            raise RuntimeError(f"deeplabcut.create_new_project created nothing in {workdir}")
        config = Path(config)
        project = config.parent
        video = project / "videos" / sample.video.name
        if not video.is_file():
            raise RuntimeError(f"{video}: create_new_project did not copy the video")
        _edit_config(config, {
            "bodyparts": bodyparts,
            "skeleton": skeleton,
            "numframes2pick": n_frames_labelled,
            "default_net_type": NET_TYPE,
            "batch_size": 8,
            "pcutoff": 0.01,  # set from the analysis below (a 1-epoch network is unsure)
        })

        with timer("label_frames"):
            frames = sorted({int(round(v)) for v in
                             np.linspace(0, n_frames - 1, n_frames_labelled)})
            _write_labelled_data(project, video, EXPERIMENTER, bodyparts, truth, frames)

        with timer("create_training_dataset"):
            deeplabcut.create_training_dataset(str(config), num_shuffles=1, net_type=NET_TYPE,
                                               userfeedback=False)
        train_dirs = sorted(project.glob("dlc-models-pytorch/iteration-0/*shuffle1/train"))
        if len(train_dirs) != 1:
            raise RuntimeError(f"{project}: expected one shuffle-1 train folder, got "
                               f"{[str(d) for d in train_dirs]}")
        pytorch_config = train_dirs[0] / "pytorch_config.yaml"

        with timer("train_network"):
            init = _random_init_snapshot(pytorch_config, workdir / "random_init.pt", seed)
            deeplabcut.train_network(
                str(config), shuffle=1, epochs=EPOCHS, save_epochs=EPOCHS,
                batch_size=BATCH_SIZE, device="cpu", snapshot_path=str(init),
                display_iters=1000,
                pytorch_cfg_updates={
                    "data.train.crop_sampling.width": CROP,
                    "data.train.crop_sampling.height": CROP,
                    "runner.eval_interval": EPOCHS,
                    "train_settings.seed": seed,
                })
        if not list(train_dirs[0].glob("snapshot-*.pt")):
            raise RuntimeError(f"{train_dirs[0]}: train_network saved no snapshot")

        with timer("analyze_videos"):
            scorer = deeplabcut.analyze_videos(str(config), [str(video)], shuffle=1,
                                               save_as_csv=True, device="cpu",
                                               batch_size=8)
        analysed = video.parent / f"{video.stem}{scorer}.h5"
        if not analysed.is_file():
            raise RuntimeError(f"analyze_videos did not write {analysed}; videos folder has "
                               f"{sorted(p.name for p in video.parent.iterdir())}")
        # a 1-epoch network's likelihoods vary from run to run (all may fall below 0.01):
        # pcutoff at their 20th percentile leaves most points trustworthy, as in a real project
        lik = read_tracks(analysed).likelihood
        _edit_config(config, {"pcutoff": float(f"{np.nanquantile(lik, 0.2):.3g}")})
    logger.info("tiny DLC project ready in %.1f s: %s", sum(timer.timings.values()), timer.timings)
    return TinyProject(
        config=config, video=video, analysed_h5=analysed, scorer=str(scorer),
        bodyparts=tuple(bodyparts), skeleton=tuple((a, b) for a, b in skeleton),
        n_frames=n_frames, labelled_frames=tuple(frames), truth=truth,
        sample_dir=sample.outdir, timings=dict(timer.timings))


def main(argv: list[str] | None = None) -> int:
    """Build the tiny project in a folder and print the step timings (a manual benchmark).

    ``python tests/integration/dlc_tiny.py [WORKDIR]`` (default: a temporary folder).
    """
    import argparse
    import json
    import sys
    import tempfile

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("workdir", nargs="?", help="empty folder (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or stack.enter_context(tempfile.TemporaryDirectory())
        t0 = time.perf_counter()
        project = build_tiny_dlc_project(workdir, seed=args.seed)
        timings = {**project.timings, "total": round(time.perf_counter() - t0, 2)}
        json.dump({"analysed_h5": str(project.analysed_h5), "scorer": project.scorer,
                   "timings_s": timings}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
