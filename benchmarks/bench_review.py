"""Does fine-tuning on review decisions mean fewer corrections on the next video?

Scripted reviewer on simulated projects (``stablemotion_dlc.sample``, where the injected
errors are known):

1. train a base model on video A's predictions (short CPU run);
2. clean A, and let a scripted reviewer decide like a careful user would: **accept** a repaired
   span when at least one of its raw points was really corrupted, **reject** it otherwise, and
   **mark** every run of corrupted points the cleaner left alone (one mark per run);
3. fine-tune the base model on those decisions (``review.review_labels`` + ``review.fine_tune``),
   and, as a control, for the same number of steps on the rules' labels alone (no decisions);
4. clean video B (another animal, another seed) with each model and count the corrections the
   same reviewer needs there: rejected spans + marked runs.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_review.py [--out report.json] [--base-steps 300]
        [--tune-steps 200] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from stablemotion_dlc._arrays import true_runs
from stablemotion_dlc.dlc.constants import DEFAULT_PCUTOFF
from stablemotion_dlc.dlc.io import read_tracks
from stablemotion_dlc.dlc.labels import suspect_mask
from stablemotion_dlc.dlc.pipeline import clean_tracks, train_on_tracks
from stablemotion_dlc.dlc.review import Review, apply_review, fine_tune, repair_spans, review_labels
from stablemotion_dlc.sample import load_corruption, make_sample_project

logger = logging.getLogger("bench_review")


def scripted_review(result: object, corrupted: np.ndarray) -> tuple[Review, dict[str, int]]:
    """Decisions of a reviewer who knows which raw points were corrupted.

    Returns
    -------
    review : Review
        Accepted / rejected spans and marked points.
    counts : dict
        ``spans``, ``accepted``, ``rejected``, ``missed_runs`` (marked), ``corrections``
        (rejected + missed runs: the user's work beyond pressing "accept").
    """
    review = Review()
    spans = repair_spans(result)
    for sp in spans:
        bad = corrupted[sp.start:sp.stop, sp.individual, sp.keypoint].any()
        review.decide(sp, "accepted" if bad else "rejected")
    status = np.asarray(result.status)
    missed = corrupted & (status == 0)
    runs = 0
    n_f, n_i, n_k = status.shape
    for i in range(n_i):
        for k in range(n_k):
            starts, stops = true_runs(missed[:, i, k])
            for s, e in zip(starts.tolist(), stops.tolist(), strict=True):
                review.mark(status.shape, slice(s, e), i, k)
                runs += 1
    c = review.counts()
    counts = {"spans": len(spans), "accepted": c["accepted"], "rejected": c["rejected"],
              "missed_runs": runs, "corrections": c["rejected"] + runs}
    return review, counts


def rmse(tracks_xy: np.ndarray, truth_xy: np.ndarray, mask: np.ndarray) -> float:
    """Root mean square distance (px) over ``mask`` where both are finite."""
    ok = mask & np.isfinite(tracks_xy).all(-1) & np.isfinite(truth_xy).all(-1)
    if not ok.any():
        return float("nan")
    d = np.linalg.norm(tracks_xy[ok] - truth_xy[ok], axis=-1)
    return float(np.sqrt(np.mean(d ** 2)))


def main(argv: list[str] | None = None) -> None:
    """Run the scripted review benchmark and print a JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--base-steps", type=int, default=300)
    parser.add_argument("--tune-steps", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    t0 = time.perf_counter()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_review_"))
    projects = {name: make_sample_project(work / name, seed=seed, n_animals=1,
                                          duration_s=args.seconds, video=False, progress=False,
                                          overwrite=True)
                for name, seed in (("A", 21), ("B", 22))}
    tracks = {n: read_tracks(p.predictions_h5) for n, p in projects.items()}
    truth = {n: read_tracks(p.truth_h5) for n, p in projects.items()}
    corrupted = {n: load_corruption(p.corruption_npz)["corrupted"].astype(bool)
                 for n, p in projects.items()}
    pcutoff = DEFAULT_PCUTOFF
    base = work / "base.safetensors"
    logger.info("training the base model (%d steps)", args.base_steps)
    train_on_tracks([tracks["A"]], base, steps=args.base_steps, pcutoff=pcutoff, progress=False,
                    resume=True)  # an existing base model in --workdir is reused

    result_a = clean_tracks(tracks["A"], base, pcutoff=pcutoff)
    review_a, counts_a = scripted_review(result_a, corrupted["A"])
    logger.info("video A with the base model: %s", counts_a)
    rules_a = suspect_mask(tracks["A"], pcutoff).mask
    labels = review_labels(rules_a, result_a, review_a)
    tuned = work / "tuned.safetensors"
    control = work / "control.safetensors"
    logger.info("fine-tuning on the decisions (%d steps)", args.tune_steps)
    fine_tune(base, [tracks["A"]], [labels], tuned, steps=args.tune_steps, pcutoff=pcutoff,
              progress=False)
    logger.info("control: the same steps on the rules' labels only")
    fine_tune(base, [tracks["A"]], [rules_a], control, steps=args.tune_steps, pcutoff=pcutoff,
              progress=False)

    report: dict = {"video_A": {"base": counts_a,
                                "rmse_corrupted_px": rmse(apply_review(
                                    tracks["A"], result_a, review_a).tracks.xy,
                                    truth["A"].xy, corrupted["A"])},
                    "settings": vars(args) | {"workdir": str(work), "out": str(args.out)}}
    rows = {}
    for name, model in (("base", base), ("control", control), ("fine-tuned", tuned)):
        res = clean_tracks(tracks["B"], model, pcutoff=pcutoff)
        _review, counts = scripted_review(res, corrupted["B"])
        counts["rmse_corrupted_px"] = rmse(res.tracks.xy, truth["B"].xy, corrupted["B"])
        rows[name] = counts
        logger.info("video B, %-10s %s", name, counts)
    report["video_B"] = rows
    b, f = rows["base"]["corrections"], rows["fine-tuned"]["corrections"]
    report["corrections_saved"] = {"vs_base": b - f,
                                   "vs_control": rows["control"]["corrections"] - f,
                                   "percent_vs_base": round(100.0 * (b - f) / b, 1) if b else 0}
    report["seconds"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(report, indent=2, default=str)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
