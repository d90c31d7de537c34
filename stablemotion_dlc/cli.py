"""Command-line interface: ``stablemotion-dlc <command> ...``.

Thin by design: it parses arguments, configures logging and calls the library. Heavy modules
(torch, deeplabcut) are imported inside the handlers so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ._version import __version__
from .errors import StableMotionError

logger = logging.getLogger("stablemotion_dlc")

Handler = Callable[[argparse.Namespace], int]


# ----------------------------------------------------------------------------- handlers
def _cmd_sample(args: argparse.Namespace) -> int:
    from .dlc.sample import make_sample_project

    project = make_sample_project(
        args.outdir,
        seed=args.seed,
        n_animals=args.animals,
        duration_s=args.duration,
        fps=args.fps,
        placeholder=args.placeholder,
        video=not args.no_video,
        overwrite=args.overwrite,
    )
    print(project.describe())
    return 0


# ----------------------------------------------------------------------------- parsers
def _add_sample(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sample",
        help="generate a simulated DLC sample project (video, config.yaml, predictions, truth)",
        description=(
            "Simulate one or more animals seen from above, render them to an mp4 and write a "
            "DeepLabCut project folder with DLC-format predictions that contain realistic "
            "errors, plus the ground truth beside them. Deterministic from --seed."
        ),
    )
    p.add_argument("outdir", type=Path, help="folder to create (must be empty or absent)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--animals", type=int, default=1, choices=[1, 2, 3],
                   help="number of animals (default: 1)")
    p.add_argument("--duration", type=float, default=60.0,
                   help="length in seconds (default: 60)")
    p.add_argument("--fps", type=int, default=30, help="frames per second (default: 30)")
    p.add_argument("--placeholder", choices=["nan", "-1"], default="nan",
                   help="how dropouts are stored in the predictions (default: nan)")
    p.add_argument("--no-video", action="store_true", help="skip rendering the mp4")
    p.add_argument("--overwrite", action="store_true", help="replace an existing sample")
    p.set_defaults(handler=_cmd_sample)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="stablemotion-dlc",
        description="Learned cleaning of DeepLabCut pose tracks (StableMotion diffusion).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_sample,):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except (StableMotionError, FileNotFoundError, FileExistsError) as exc:
        print(f"stablemotion-dlc {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; no partial output was left", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
