"""Command-line interface: ``stablemotion-dlc <command> ...``.

Thin by design: it parses arguments, configures logging and calls the library. Heavy modules
(torch, deeplabcut) are imported inside the handlers so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ._version import __version__
from .dlc.constants import DEFAULT_PCUTOFF
from .errors import StableMotionError

logger = logging.getLogger("stablemotion_dlc")

Handler = Callable[[argparse.Namespace], int]


# ----------------------------------------------------------------------------- validators
def _positive_int(text: str) -> int:
    """Argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    """Argparse type: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _positive_float(text: str) -> float:
    """Argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def _unit_float(text: str) -> float:
    """Argparse type: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


# ----------------------------------------------------------------------------- handlers
def _cmd_sample(args: argparse.Namespace) -> int:
    from .sample import make_sample_project

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


def _cmd_train(args: argparse.Namespace) -> int:
    from .dlc.pipeline import train

    path = train(
        args.config,
        args.videos or None,
        shuffle=args.shuffle,
        destfolder=args.destfolder,
        model_path=args.model,
        steps=args.steps,
        resume=not args.restart,
        overwrite=args.restart,
        device=args.device,
    )
    print(f"model: {path}")
    return 0


def _clean_options(args: argparse.Namespace) -> dict:
    return {
        "detect": None if args.detect == "rules" else args.detect,
        "steps": args.sampling_steps,
        "ensemble": args.ensemble,
        "seed": args.seed,
        "on_ood": args.on_ood,
        "smooth_jitter": args.smooth_jitter,
        "learn_jitter": args.learn_jitter,
    }


def _add_guard_options(p: argparse.ArgumentParser) -> None:
    """The out-of-distribution policy and the jitter detection and smoothing of a clean."""
    p.add_argument("--on-ood", choices=["fallback", "refuse", "ignore"], default="fallback",
                   help="tracks unlike the model's training data (a model of another "
                        "project or camera): repair only what the rules flag, with a "
                        "warning (fallback, default), stop with an error (refuse), or use "
                        "the model anyway (ignore)")
    p.add_argument("--learn-jitter", action=argparse.BooleanOptionalAction, default=True,
                   help="learn the file's own jitter (a classifier fitted on noise bursts "
                        "added to the file's own points) and mark the points it finds for "
                        "review (default on; see docs/quality.md)")
    p.add_argument("--smooth-jitter", action=argparse.BooleanOptionalAction, default=True,
                   help="smooth the points found jittering where they scatter every way "
                        "round (noise); those that move along a path (a paw stepping) stay "
                        "as observed, marked for review (default on; see docs/quality.md). "
                        "With --no-learn-jitter a fixed threshold finds them instead (8x the "
                        "usual frame-to-frame noise over 15 frames)")


def _cmd_clean(args: argparse.Namespace) -> int:
    from .dlc import pipeline

    targets = [Path(t) for t in args.target]
    if args.config is not None:
        if args.output is not None and Path(args.output).suffix:
            raise SystemExit("clean: with --config, --output is a folder (DLC's destfolder)")
        from .dlc.batch import clean_videos

        single = len(targets) == 1 and not targets[0].is_dir() and args.shard is None
        report = clean_videos(
            args.config,
            targets[0] if single else targets,
            model=args.model,
            shuffle=args.shuffle,
            destfolder=args.output,
            overwrite=args.overwrite,
            train_steps=args.train_steps,
            strict=single,
            shard=args.shard,
            **_clean_options(args),
        )
        if single:
            print(f"cleaned: {report.outcomes[0].output}")
            return 0
        print(report.table())
        return 0 if report.ok else 1
    if args.shard is not None:
        raise SystemExit("clean: --shard splits a list of videos; it needs --config")
    if len(targets) != 1:
        raise SystemExit("clean: without --config, give one tracks file (.h5/.csv)")
    target = targets[0]
    # a bare tracks file
    from ._atomic import check_outputs
    from .dlc.io import input_files, read_tracks
    from .dlc.project import cleaned_path, output_files

    if target.suffix.lower() not in (".h5", ".csv"):
        raise SystemExit(
            f"clean: {target} is not a tracks file (.h5/.csv); to clean a video's DLC output "
            f"pass --config CONFIG")
    tracks = read_tracks(target)
    tracks.require_video_rows()  # before any output or training
    out_path = Path(args.output) if args.output else cleaned_path(target)
    if out_path.suffix == "":
        out_path = out_path / cleaned_path(target).name
    inputs = [*input_files(tracks), *([args.model] if args.model else [])]
    # every output (tracks, CSV twin, provenance) checked before any training or cleaning
    check_outputs(output_files(out_path), overwrite=args.overwrite, inputs=inputs)
    model = args.model
    if model is None:
        model = out_path.with_name(target.stem + "_stablemotion_model.safetensors")
        if pipeline.needs_training(model):
            if not Path(model).exists():
                check_outputs([model], inputs=inputs)
                print(f"no model given: training one on {target.name} itself -> {model}")
            pipeline.train_on_tracks([tracks], model, steps=args.train_steps,
                                     fps=tracks.meta.get("fps"))
    result = pipeline.clean_tracks(tracks, model, progress=True, **_clean_options(args))
    pipeline.save_clean_result(result, out_path, overwrite=args.overwrite)
    print(f"cleaned: {out_path}  {result.summary()}")
    return 0


def _cmd_extract_outliers(args: argparse.Namespace) -> int:
    from .dlc.outliers import extract_outlier_frames

    got = extract_outlier_frames(
        args.config, [str(v) for v in args.videos], n=args.n, shuffle=args.shuffle,
        trainingsetindex=args.trainingsetindex, destfolder=args.destfolder,
        min_gap=args.min_gap, model=args.model, train_steps=args.train_steps,
        copy_videos=args.copy_videos, **_clean_options(args))
    for ov in got:
        print(f"{ov.video.name}: {len(ov.frames)} frame(s) {list(ov.frames)} -> {ov.folder}")
    total = sum(len(ov.frames) for ov in got)
    print(f"{total} frame(s) extracted; their machine labels are the cleaned points. Next: "
          f"deeplabcut.refine_labels, merge_datasets, then retrain.")
    return 0


def _cmd_smooth(args: argparse.Namespace) -> int:
    from .dlc.denoise import ORDER, denoise_tracks, save_denoised, smoothed_path
    from .dlc.io import read_tracks
    from .dlc.project import as_project

    if args.window < 3 or args.window % 2 == 0:
        raise SystemExit(f"smooth: --window must be an odd number >= 3, got {args.window}")
    pcutoff = args.pcutoff
    if pcutoff is None:  # the config's (DeepLabCut's default when it has none)
        pcutoff = as_project(args.config).pcutoff if args.config is not None else DEFAULT_PCUTOFF
    tracks = read_tracks(args.tracks)
    result = denoise_tracks(tracks, pcutoff, window=args.window, bound=args.bound)
    out = save_denoised(result, args.output or smoothed_path(args.tracks),
                        overwrite=args.overwrite,
                        settings={"pcutoff": pcutoff, "window": args.window, "order": ORDER})
    summ = result.summary()
    print(f"smoothed: {out}  {summ['changed']} point(s) changed, median "
          f"{summ['median_px']:.2f} px, largest {summ['max_px']:.2f} px")
    return 0


def _cmd_flag(args: argparse.Namespace) -> int:
    import numpy as np

    from .dlc.io import read_tracks
    from .dlc.labels import suspect_mask

    tracks = read_tracks(args.tracks)
    tracks.require_video_rows("flagged")  # jumps between images are not motion
    with np.errstate(over="ignore", invalid="ignore"):  # absurd values (1e308) are flagged
        labels = suspect_mask(tracks, args.pcutoff, config_path=args.config)
    print(f"{args.tracks}: {tracks.n_frames} frames, {tracks.n_individuals} individual(s), "
          f"{tracks.n_keypoints} keypoints")
    for name, count in labels.summary().items():
        print(f"  {name:>15}: {count}")
    if args.learn_jitter:  # confident points no rule flagged, in stretches of learned jitter
        from .dlc.jitter import file_jitter, jitter_marks

        marks = jitter_marks(file_jitter(tracks.xy, tracks.likelihood, labels.mask,
                                         labels.params["pcutoff"], threads=1),
                             skip=labels.mask)
        print(f"  {'jitter':>15}: {int(marks.sum())} (learned from the file, for review)")
    for w in tracks.meta.get("warnings", []):
        print(f"  note: {w}")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from ._atomic import check_outputs
    from .dlc.io import read_tracks
    from .dlc.project import provenance_path
    from .evaluate.plots import plot_before_after

    check_outputs([args.output], overwrite=args.overwrite,
                  inputs=[args.raw, args.cleaned, args.truth])
    raw, cleaned = read_tracks(args.raw), read_tracks(args.cleaned)
    if raw.xy.shape != cleaned.xy.shape:
        raise SystemExit(f"plot: {args.raw} and {args.cleaned} have different shapes "
                         f"{raw.xy.shape} vs {cleaned.xy.shape}")
    truth = read_tracks(args.truth) if args.truth else None
    unc = jitter = None
    prov = provenance_path(args.cleaned)
    if prov.is_file():  # the stated 90 % intervals of the repaired points, the jitter marks
        import numpy as np

        with np.load(prov, allow_pickle=False) as z:
            if "uncertainty" in z.files and z["uncertainty"].shape == raw.xy.shape[:3]:
                unc = z["uncertainty"]
            if "jitter" in z.files and z["jitter"].shape == raw.xy.shape[:3]:
                jitter = z["jitter"]
    out = plot_before_after(raw, cleaned, args.output, truth=truth, overwrite=args.overwrite,
                            uncertainty=unc, jitter=jitter)
    print(f"figure: {out}")
    return 0


def _cmd_smpl_train(args: argparse.Namespace) -> int:
    from .smpl.pipeline import train_smpl

    path = train_smpl(
        args.out_path, args.amass or None, smpl_model=args.smpl_model,
        n_generated=args.n_generated, window=args.window, steps=args.steps,
        batch_size=args.batch_size, model=args.model, lr=args.lr, p_corrupt=args.p_corrupt,
        seed=args.seed, device=args.device, resume=not args.no_resume,
        overwrite=args.overwrite, source_fps=args.source_fps,
    )
    print(f"model: {path}")
    return 0


def _cmd_smpl_clean(args: argparse.Namespace) -> int:
    from .smpl.pipeline import clean_smpl

    res = clean_smpl(
        args.input, args.model_file, args.output, smpl_model=args.smpl_model,
        threshold=args.threshold, detect_method=args.detect_method, steps=args.steps,
        ensemble=args.ensemble, dilate=args.dilate, rules=not args.no_rules, seed=args.seed,
        device=args.device, overwrite=args.overwrite, on_ood=args.on_ood,
        source_fps=args.source_fps,
    )
    note = " (unlike the model's training data: rules only)" if res.fallback else ""
    print(f"cleaned: {res.out_path}  ({int(res.mask.sum())} frames repaired, "
          f"{res.seconds:.2f} s){note}")
    return 0


def _cmd_smpl_evaluate(args: argparse.Namespace) -> int:
    import json

    from .smpl.pipeline import evaluate_smpl

    report = evaluate_smpl(
        args.model_file, args.amass or None, smpl_model=args.smpl_model,
        n_generated=args.n_generated, n_frames=args.n_frames, threshold=args.threshold,
        detect_method=args.detect_method, steps=args.steps, ensemble=args.ensemble,
        seed=args.seed,
        device=args.device, out_json=args.json, overwrite=args.overwrite,
        on_ood=args.on_ood, source_fps=args.source_fps, n_repeats=args.repeats,
        min_frames=args.min_frames,
    )
    print(json.dumps(report, indent=2, default=str))
    return 0


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from .evaluate.runner import default_data_dir, run_benchmark

    data = args.data if args.data is not None else default_data_dir()
    cmd = "stablemotion-dlc benchmark " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else \
        "stablemotion-dlc benchmark"
    path = run_benchmark(data, args.out, quick=args.quick, seed=args.seed, files=args.files,
                         train_steps=args.train_steps, methods=args.methods,
                         progress=not args.no_progress, overwrite=args.overwrite,
                         speed=not args.no_speed, command=cmd, work_dir=args.work_dir,
                         threads=args.threads, max_frames=args.max_frames or None)
    print(f"report: {path}")
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
    p.add_argument("--duration", type=_positive_float, default=60.0,
                   help="length in seconds (default: 60)")
    p.add_argument("--fps", type=_positive_int, default=30,
                   help="frames per second (default: 30)")
    p.add_argument("--placeholder", choices=["nan", "-1"], default="nan",
                   help="how dropouts are stored in the predictions (default: nan)")
    p.add_argument("--no-video", action="store_true", help="skip rendering the mp4")
    p.add_argument("--overwrite", action="store_true", help="replace an existing sample")
    p.set_defaults(handler=_cmd_sample)


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a cleaner on a DLC project's own analysed videos",
        description=(
            "Train the diffusion cleaner on the project's own (unlabelled) DLC predictions, "
            "with synthetic errors injected so it learns what likelihood misses. The model "
            "is stored inside the project (stablemotion-models/shuffle<N>/) and an "
            "interrupted run resumes from its last checkpoint."
        ),
    )
    p.add_argument("config", type=Path, help="the DLC project's config.yaml")
    p.add_argument("videos", nargs="*", type=Path,
                   help="videos (or folders) to learn from; default: all in config.yaml")
    p.add_argument("--shuffle", type=_non_negative_int, default=1,
                   help="DLC shuffle (default: 1)")
    p.add_argument("--destfolder", type=Path, default=None,
                   help="folder of the analysed files (default: beside each video)")
    p.add_argument("--model", type=Path, default=None, help="model file to write")
    p.add_argument("--steps", type=_positive_int, default=None, help="training steps")
    p.add_argument("--restart", action="store_true",
                   help="start afresh instead of resuming an existing model file")
    p.add_argument("--device", default=None, help="torch device, e.g. cuda:0 (default: auto)")
    p.set_defaults(handler=_cmd_train)


def _add_clean(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "clean",
        help="clean a video's DLC output (with --config) or a bare tracks file",
        description=(
            "Detect and repair bad keypoints. With --config, TARGET is one or more videos or "
            "folders of videos (analysed anywhere, not only those of video_sets); each "
            "video's DLC output is found like deeplabcut.filterpredictions does; the "
            "result is written as <video><scorer>_filtered.h5 (+ .csv) with a provenance "
            ".npz beside it. Without --config, TARGET is a .h5/.csv tracks file; with no "
            "--model a model is first trained on that file itself."
        ),
    )
    p.add_argument("target", nargs="+",
                   help="video(s) or folder(s) of videos with --config (a batch: existing "
                        "outputs are skipped, a failed video does not stop the others, exit "
                        "status 1 when any failed), else one tracks file")
    p.add_argument("--config", type=Path, default=None, help="the DLC project's config.yaml")
    p.add_argument("--model", type=Path, default=None, help="model file (default: the project's)")
    p.add_argument("--output", "-o", type=Path, default=None,
                   help="output file (tracks file mode) or folder (with --config)")
    p.add_argument("--shuffle", type=_non_negative_int, default=1,
                   help="DLC shuffle (default: 1)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--train-steps", type=_positive_int, default=None,
                   help="training steps when a model has to be trained first")
    p.add_argument("--detect", choices=["single", "probdet", "rules"], default="single",
                   help="detector: the model's single pass (default), ProbDet, or rules only")
    p.add_argument("--sampling-steps", type=_positive_int, default=1,
                   help="diffusion sampling steps for the repair (default: 1)")
    p.add_argument("--ensemble", type=_positive_int, default=1,
                   help="repair candidates averaged; their spread is the uncertainty")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    _add_guard_options(p)
    p.add_argument("--shard", default=None, metavar="K/N",
                   help="clean only shard K of N of the videos (K from 1; sorted by path, "
                        "dealt round-robin): N processes or a SLURM array "
                        "(--shard $SLURM_ARRAY_TASK_ID/N with --array=1-N) share a batch "
                        "with no coordinator; train the model first")
    p.set_defaults(handler=_cmd_clean)


def _add_extract_outliers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "extract-outliers",
        help="send the frames cleaning found wrong to DLC for relabelling (cleaned points)",
        description=(
            "Clean the videos (existing cleaned outputs are reused), pick the N frames with "
            "the largest confident repairs (spread over videos and in time), extract them "
            "with deeplabcut.extract_outlier_frames(outlieralgorithm='list') into "
            "labeled-data/<video>/ and write the cleaned points as the machine labels that "
            "deeplabcut.refine_labels opens with. DeepLabCut adds the videos to video_sets."
        ),
    )
    p.add_argument("videos", nargs="+", type=Path, help="analysed videos or folders")
    p.add_argument("--config", type=Path, required=True, help="the DLC project's config.yaml")
    p.add_argument("-n", type=int, default=20,
                   help="frames in total (at most numframes2pick per video; default: 20)")
    p.add_argument("--shuffle", type=int, default=1, help="DLC shuffle (default: 1)")
    p.add_argument("--trainingsetindex", type=int, default=0,
                   help="DLC training-set index (default: 0)")
    p.add_argument("--destfolder", type=Path, default=None,
                   help="folder of the analysed files (default: beside each video)")
    p.add_argument("--min-gap", type=int, default=None,
                   help="least distance in frames between two frames of one video "
                        "(default: one second, less on short videos)")
    p.add_argument("--model", type=Path, default=None, help="model file (default: the project's)")
    p.add_argument("--train-steps", type=int, default=None,
                   help="training steps when a model has to be trained first")
    p.add_argument("--copy-videos", action="store_true",
                   help="let DLC copy (not link) new videos into the project")
    p.add_argument("--detect", choices=["single", "probdet", "rules"], default="single",
                   help="detector for videos not cleaned yet (default: single)")
    p.add_argument("--sampling-steps", type=int, default=1, help="diffusion sampling steps")
    p.add_argument("--ensemble", type=int, default=1, help="repair candidates averaged")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    _add_guard_options(p)
    p.set_defaults(handler=_cmd_extract_outliers)


def _add_flag(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "flag",
        help="report suspect keypoints of a tracks file (no model needed)",
        description="Label suspect keypoints with the robust rules and print the counts.",
    )
    p.add_argument("tracks", type=Path, help="DLC .h5 or .csv file")
    p.add_argument("--pcutoff", type=_unit_float, default=None,
                   help="likelihood threshold (default: the config's, else DeepLabCut's "
                        f"{DEFAULT_PCUTOFF})")
    p.add_argument("--config", type=Path, default=None, help="the DLC project's config.yaml")
    p.add_argument("--learn-jitter", action=argparse.BooleanOptionalAction, default=True,
                   help="also count the confident points in stretches of jitter, found by a "
                        "classifier learned from the file itself (a few seconds; default on)")
    p.set_defaults(handler=_cmd_flag)


def _add_smooth(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "smooth",
        help="smooth a tracks file, no point moved further than its keypoint's own noise",
        description="Savitzky-Golay smoothing of every point at or above pcutoff, each change "
                    "bounded by its keypoint's own per-axis noise (measured on the file), so "
                    "a right point is never moved far: for speeds and accelerations after "
                    "`clean`, instead of a median filter. Writes <stem>_smoothed.h5 (+ .csv) "
                    "and <stem>_smoothed_smoothing.npz (which points changed, each keypoint's "
                    "noise).",
    )
    p.add_argument("tracks", type=Path, help="DLC .h5 or .csv file (e.g. ..._filtered.h5)")
    p.add_argument("--output", "-o", type=Path, default=None,
                   help="output file (default: <stem>_smoothed.h5 beside the input)")
    p.add_argument("--pcutoff", type=_unit_float, default=None,
                   help="points below it are neither used nor changed (default: the config's, "
                        f"else DeepLabCut's {DEFAULT_PCUTOFF})")
    p.add_argument("--config", type=Path, default=None, help="the DLC project's config.yaml")
    p.add_argument("--bound", type=_positive_float, default=1.0,
                   help="largest change, in the keypoint's noise sigmas (default: 1)")
    p.add_argument("--window", type=_positive_int, default=7,
                   help="Savitzky-Golay window, odd number of frames (default: 7)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.set_defaults(handler=_cmd_smooth)


def _add_plot(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plot",
        help="before/after figure of a cleaned tracks file",
        description="Plot x and y over time of the most changed keypoints, before and after "
                    "(with the stated 90 % interval of the repaired points when the "
                    "cleaned file's provenance file is beside it).",
    )
    p.add_argument("raw", type=Path, help="the DLC output (.h5/.csv)")
    p.add_argument("cleaned", type=Path, help="the cleaned file (..._filtered.h5)")
    p.add_argument("--truth", type=Path, default=None, help="ground truth tracks, if known")
    p.add_argument("--output", "-o", type=Path, required=True, help="PNG file to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing figure")
    p.set_defaults(handler=_cmd_plot)


def _add_smpl(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "smpl",
        help="SMPL/AMASS human motion through the same core (train | clean | evaluate)",
        description=(
            "Clean SMPL motion (AMASS .npz: poses, trans, betas, mocap_framerate) with the "
            "same diffusion core, on 232-dim RIFKE features at 20 fps. Joint positions come "
            "from a user-provided SMPL/SMPL-H model file (--smpl-model); without one a "
            "generated skeleton is used (approximate)."
        ),
    )
    ss = p.add_subparsers(dest="smpl_command", metavar="SMPL_COMMAND", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--smpl-model", type=Path, default=None,
                       help="SMPL/SMPL-H model file (.npz/.pkl) for joint positions")
        q.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
        q.add_argument("--device", default=None, help="torch device (default: auto)")
        q.add_argument("--overwrite", action="store_true", help="replace existing outputs")
        q.add_argument("--source-fps", type=float, default=None,
                       help="frame rate of AMASS files that record none (mocap_framerate)")

    def detection(q: argparse.ArgumentParser) -> None:
        q.add_argument("--threshold", type=_unit_float, default=0.8,
                       help="model detection probability above which a frame is repaired "
                            "(1: only the joint rules; default: 0.8)")
        q.add_argument("--detect-method", choices=["single", "probdet"], default="single",
                       help="single pass or ProbDet (default: single)")
        q.add_argument("--steps", type=_positive_int, default=1,
                       help="sampling steps (default: 1)")
        q.add_argument("--ensemble", type=_positive_int, default=4,
                       help="repair candidates averaged (default: 4)")
        q.add_argument("--on-ood", choices=["fallback", "refuse", "ignore"],
                       default="fallback",
                       help="motion unlike the model's training data: repair only the rules' "
                            "frames by interpolation (default), refuse, or use the model "
                            "anyway")

    t = ss.add_parser("train", help="train a model on AMASS files and/or generated motion",
                      description="Train an SMPL cleanup model (resumable).")
    t.add_argument("out_path", type=Path, help="model file to write")
    t.add_argument("amass", nargs="*", type=Path, help="AMASS .npz files or folders")
    t.add_argument("--n-generated", type=_non_negative_int, default=0,
                   help="generated motions added to the training set")
    t.add_argument("--window", type=_positive_int, default=64,
                   help="frames per window (default: 64)")
    t.add_argument("--steps", type=_positive_int, default=2000,
                   help="training steps (default: 2000)")
    t.add_argument("--batch-size", type=_positive_int, default=32,
                   help="batch size (default: 32)")
    t.add_argument("--model", default="small", help="DiT preset (default: small)")
    t.add_argument("--lr", type=float, default=1e-4, help="learning rate (default: 1e-4)")
    t.add_argument("--p-corrupt", type=float, default=0.9,
                   help="share of clips with injected corruption (default: 0.9)")
    t.add_argument("--no-resume", action="store_true", help="do not resume an existing file")
    common(t)
    t.set_defaults(handler=_cmd_smpl_train)

    c = ss.add_parser("clean", help="clean one AMASS-style .npz motion",
                      description="Detect and repair bad frames of one motion file.")
    c.add_argument("input", type=Path, help="AMASS-style .npz")
    c.add_argument("model_file", type=Path, help="model file from 'smpl train'")
    c.add_argument("--output", "-o", type=Path, default=None,
                   help="output .npz (default: <input stem>_cleaned.npz)")
    c.add_argument("--dilate", type=_non_negative_int, default=0,
                   help="dilate detections by N frames")
    c.add_argument("--no-rules", action="store_true",
                   help="only the model's detection (no pop/jitter/frozen-pose rules)")
    detection(c)
    common(c)
    c.set_defaults(handler=_cmd_smpl_clean)

    e = ss.add_parser("evaluate", help="inject corruption into motions and score the model",
                      description="Score a model against the corrupted input and a smoother.")
    e.add_argument("model_file", type=Path, help="model file from 'smpl train'")
    e.add_argument("amass", nargs="*", type=Path, help="AMASS .npz files or folders")
    e.add_argument("--n-generated", type=_non_negative_int, default=16,
                   help="generated motions to evaluate on (default: 16)")
    e.add_argument("--n-frames", type=_positive_int, default=200,
                   help="frames per motion (AMASS files are cut into clips this long; "
                        "shorter files are used whole)")
    e.add_argument("--min-frames", type=_positive_int, default=16,
                   help="shortest AMASS file evaluated, at 20 fps (default: 16)")
    e.add_argument("--repeats", type=_positive_int, default=1,
                   help="independent corruptions of each motion (default: 1)")
    e.add_argument("--json", type=Path, default=None, help="write the report as JSON")
    detection(e)
    common(e)
    e.set_defaults(handler=_cmd_smpl_evaluate)


def _add_benchmark(sub: argparse._SubParsersAction) -> None:
    from .evaluate.cases import DEFAULT_FILES, SAMPLE_NAME  # light: no torch at import

    p = sub.add_parser(
        "benchmark",
        help="benchmark the cleaner on real DLC tracks with injected errors",
        description=(
            "Take the confident stretches of real DLC outputs as truth, inject seeded errors, "
            "train a model per file on its own corrupted predictions, clean, and compare with "
            "the classical baselines and ablations. Writes real_data.md/.json and figures."
        ),
    )
    p.add_argument("--data", type=Path, default=None,
                        help="folder of real DLC outputs (default: ../shared/data when present)")
    p.add_argument("--out", "-o", type=Path, default=Path("docs/benchmarks"),
                        help="report folder (default: docs/benchmarks)")
    p.add_argument("--quick", action="store_true",
                        help="smoke test: simulated sample only, few steps (< 1 min)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--files", nargs="+", default=None,
                        help="benchmark files by name (" + ", ".join(
                            [f.name for f in DEFAULT_FILES] + [SAMPLE_NAME]) + ") or path")
    p.add_argument("--train-steps", type=int, default=None,
                        help="training steps per file (default: the pipeline's default)")
    p.add_argument("--methods", nargs="+", default=None,
                        help="restrict methods (baseline names, ours-* variants)")
    p.add_argument("--no-speed", action="store_true", help="skip the speed test")
    p.add_argument("--work-dir", type=Path, default=None,
                        help="keep models here (default: a temporary folder)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    p.add_argument("--max-frames", type=int, default=1500,
                        help="frames used per real file (default: 1500; 0: whole files)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report")
    p.set_defaults(handler=_cmd_benchmark)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="stablemotion-dlc",
        description="Learned cleaning of DeepLabCut pose tracks (StableMotion diffusion).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-v info, -vv debug)")
    parser.add_argument("--threads", type=_positive_int, default=None,
                        help="CPU threads for torch (default: from the CPUs this process may "
                             "use and the model size; also STABLEMOTION_NUM_THREADS or "
                             "OMP_NUM_THREADS)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_sample, _add_train, _add_clean, _add_extract_outliers, _add_flag,
                _add_smooth, _add_plot, _add_smpl, _add_benchmark):
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
    old_term = _sigterm_as_interrupt()
    try:
        _threads_for(args)
        return handler(args)
    except (StableMotionError, FileNotFoundError, FileExistsError) as exc:
        print(f"stablemotion-dlc {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # permission denied, name too long, disk full...
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"stablemotion-dlc {args.command}: error: {where}{exc.strerror or exc}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; no partial output was left", file=sys.stderr)
        return 130
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)


def _threads_for(args: argparse.Namespace) -> None:
    """Torch's thread counts for a command that runs a model, before any torch work.

    ``--threads`` becomes ``STABLEMOTION_NUM_THREADS`` so that training and cleaning
    (which size the thread count by the model) keep it.
    """
    import os

    if getattr(args, "threads", None) is not None:
        os.environ["STABLEMOTION_NUM_THREADS"] = str(args.threads)
    if args.command in ("train", "clean", "extract-outliers", "smpl", "benchmark"):
        from ._threads import configure_threads

        configure_threads()


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _sigterm_as_interrupt() -> object | None:
    """Handle SIGTERM like Ctrl-C (temporaries removed, training checkpointed)."""
    try:
        return signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread
        return None


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
