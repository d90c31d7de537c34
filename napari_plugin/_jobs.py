"""Training jobs the napari panel runs in a separate process.

Training never runs inside napari's process: torch's optimiser imports triton, and importing
triton after Qt/OpenGL (Mesa's llvmpipe) are loaded crashes the process (two LLVMs). The panel
starts ``python -m napari_plugin._jobs ...`` with :class:`~napari_plugin._process.JobProcess`
and reads the progress bar that the library's training prints (tqdm) from its stderr.

Commands (all call the library, nothing is trained here)::

    python -m napari_plugin._jobs train --model OUT --steps N [--config C --video V]
                                        [--tracks T] [--restart]
    python -m napari_plugin._jobs finetune --model IN --out OUT --steps N
                                           --tracks T --labels LABELS.npy [--pcutoff P]

``train`` with a config and a video is ``stablemotion_dlc.dlc.pipeline.train`` (what
``stablemotion-dlc train CONFIG VIDEO`` runs); with tracks only it is ``train_on_tracks``. An
existing model file is resumed from its last checkpoint unless ``--restart``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from stablemotion_dlc.dlc.constants import DEFAULT_PCUTOFF

__all__ = ["main", "checkpoint_every"]

logger = logging.getLogger("napari_plugin.jobs")


def checkpoint_every(steps: int) -> int:
    """Steps between checkpoints of a panel run (about ten per run, so cancel loses little)."""
    return max(10, int(steps) // 10)


def _train(args: argparse.Namespace) -> Path:
    from dataclasses import replace

    from stablemotion_dlc.core.train import TrainConfig
    from stablemotion_dlc.dlc.pipeline import DEFAULT_TRAIN_CONFIG, train, train_on_tracks

    cfg = TrainConfig(**{**DEFAULT_TRAIN_CONFIG, "steps": args.steps})
    cfg = replace(cfg, checkpoint_every=checkpoint_every(args.steps),
                  log_every=max(1, min(cfg.log_every, args.steps // 20 or 1)))
    resume, overwrite = not args.restart, args.restart
    if args.config and args.video:
        return train(args.config, [args.video], model_path=args.model, config=cfg,
                     resume=resume, overwrite=overwrite)
    if not args.tracks:
        raise SystemExit("train: give --config and --video, or --tracks")
    from stablemotion_dlc.dlc.io import read_tracks

    pcutoff, skeleton = DEFAULT_PCUTOFF, None
    if args.config:
        from stablemotion_dlc.dlc.project import DlcProject

        project = DlcProject.from_config(args.config)
        pcutoff, skeleton = project.pcutoff, list(project.skeleton) or None
    tracks = read_tracks(args.tracks)
    return train_on_tracks([tracks], args.model, skeleton=skeleton, pcutoff=pcutoff,
                           fps=tracks.meta.get("fps"), config=cfg, resume=resume,
                           overwrite=overwrite)


def _finetune(args: argparse.Namespace) -> Path:
    import numpy as np

    from stablemotion_dlc.dlc.io import read_tracks
    from stablemotion_dlc.dlc.review import fine_tune

    labels = np.load(args.labels)
    return fine_tune(args.model, [read_tracks(args.tracks)], [labels], args.out,
                     steps=args.steps, pcutoff=args.pcutoff)


def build_parser() -> argparse.ArgumentParser:
    """Command-line parser of the job runner."""
    parser = argparse.ArgumentParser(prog="python -m napari_plugin._jobs")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train (or resume) a model")
    t.add_argument("--model", type=Path, required=True)
    t.add_argument("--steps", type=int, required=True)
    t.add_argument("--config", type=Path)
    t.add_argument("--video", type=Path)
    t.add_argument("--tracks", type=Path)
    t.add_argument("--restart", action="store_true")
    t.set_defaults(run=_train)
    f = sub.add_parser("finetune", help="continue a model on reviewed labels")
    f.add_argument("--model", type=Path, required=True)
    f.add_argument("--out", type=Path, required=True)
    f.add_argument("--steps", type=int, required=True)
    f.add_argument("--tracks", type=Path, required=True)
    f.add_argument("--labels", type=Path, required=True)
    f.add_argument("--pcutoff", type=float, default=DEFAULT_PCUTOFF)
    f.set_defaults(run=_finetune)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one job; the model path is printed as ``model: PATH`` on success."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    path = args.run(args)
    sys.stdout.write(f"model: {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
