"""Human review of a clean result: accept or reject each repair, mark missed bad points.

The napari panel (and any script) works on a :class:`~stablemotion_dlc.dlc.pipeline.CleanResult`
through this module:

* :func:`repair_spans` lists every repaired span (one individual, one keypoint, consecutive
  frames with the same status) with why it was repaired and the detection probability;
* :class:`Review` holds the decisions: accepted / rejected spans and the points the user marked
  as bad ("taught"); :func:`apply_review` gives the reviewed result (rejected points get their
  raw values back, bit for bit), :func:`attach_review` records the decisions in the result's
  report, which :func:`~stablemotion_dlc.dlc.pipeline.save_clean_result` writes into the
  provenance file;
* :func:`review_labels` turns the decisions into per-point labels (the rules' suspect mask,
  plus accepted and taught points, minus rejected ones) and :func:`fine_tune` continues the
  project's model on them for a short run.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._arrays import true_runs
from .constants import DEFAULT_PCUTOFF
from .labels import SuspectLabels
from .tracks import Tracks

__all__ = [
    "ACCEPTED",
    "REJECTED",
    "RepairSpan",
    "Review",
    "repair_spans",
    "apply_review",
    "attach_review",
    "read_review",
    "review_labels",
    "fine_tune",
]

logger = logging.getLogger(__name__)

ACCEPTED = "accepted"
REJECTED = "rejected"
_STATUS = {1: "replaced", 2: "gap-filled", 3: "identity-fixed"}


@dataclass(frozen=True)
class RepairSpan:
    """Consecutive frames of one keypoint of one individual that the cleaner changed.

    Attributes
    ----------
    individual, keypoint : int
        Positions along the tracks' axes 1 and 2.
    start, stop : int
        Frames ``[start, stop)``.
    status : str
        ``"replaced"``, ``"gap-filled"`` or ``"identity-fixed"``; ``"kept"`` for a stretch
        the learned jitter detector marked and the cleaning left unchanged (accepting it
        labels its points bad for :func:`fine_tune`, rejecting it labels them right).
    reasons : tuple of str
        Rules that flagged the input points, ``"model"`` where only the learned detector did,
        ``"identity swap"`` / ``"left/right swap"`` / ``"front/back reversal"`` for identity
        fixes, ``"jitter"`` for the jitter detector's marks (smoothed or kept), ``"marked"``
        for points marked by the user.
    probability : float
        Highest detection probability of the input points in the span.
    individual_name, keypoint_name : str
        Names.
    """

    individual: int
    keypoint: int
    start: int
    stop: int
    status: str
    reasons: tuple[str, ...]
    probability: float
    individual_name: str = ""
    keypoint_name: str = ""

    @property
    def key(self) -> tuple[int, int, int, int]:
        """``(individual, keypoint, start, stop)``: how a decision refers to the span."""
        return (self.individual, self.keypoint, self.start, self.stop)

    @property
    def n_frames(self) -> int:
        """Frames in the span."""
        return self.stop - self.start

    def describe(self) -> str:
        """One line: frames, individual · keypoint, status, reasons, probability."""
        frames = (f"frame {self.start}" if self.n_frames == 1
                  else f"frames {self.start}–{self.stop - 1}")
        return (f"{frames}: {self.individual_name} · {self.keypoint_name} {self.status} "
                f"({', '.join(self.reasons) or '—'}; p={self.probability:.2f})")


def repair_spans(result: Any, marked: np.ndarray | None = None) -> list[RepairSpan]:
    """Every repaired span of a clean result and every kept jitter-marked one, by frame.

    Parameters
    ----------
    result : CleanResult
        Output of :func:`~stablemotion_dlc.dlc.pipeline.clean_tracks`.
    marked : np.ndarray, optional
        ``(frames, individuals, keypoints)`` bool points the user marked; their spans get the
        reason ``"marked"``.

    Returns
    -------
    list of RepairSpan
    """
    status = np.asarray(result.status)
    labels: SuspectLabels = result.suspect
    prob = np.asarray(result.probability)
    tracks = result.tracks
    out: list[RepairSpan] = []
    n_f, n_i, n_k = status.shape
    marks = getattr(result, "smoothed", None)  # changed without a rule's reason
    for i in range(n_i):
        for k in range(n_k):
            col = status[:, i, k]
            changed = col != 0
            if not changed.any():
                continue
            starts, stops = true_runs(changed)
            for s0, e0 in zip(starts.tolist(), stops.tolist(), strict=True):
                # split a run where the status changes (e.g. replaced then gap-filled)
                cuts = [s0] + [f for f in range(s0 + 1, e0) if col[f] != col[f - 1]] + [e0]
                for s, e in zip(cuts[:-1], cuts[1:], strict=True):
                    bits = int(np.bitwise_or.reduce(labels.reasons[s:e, i, k]))
                    reasons = [n for b, n in labels.reason_names.items() if bits & b]
                    if marked is not None and np.asarray(marked)[s:e, i, k].any():
                        reasons.append("marked")
                    if int(col[s]) == 3:
                        reasons.insert(0, _swap_kind(result, s, e, tracks.individuals[i],
                                                     tracks.bodyparts[k]))
                    elif not reasons:
                        smoothed = marks is not None and bool(marks[s:e, i, k].any())
                        reasons.append("jitter" if smoothed else "model")
                    out.append(RepairSpan(
                        individual=i, keypoint=k, start=s, stop=e,
                        status=_STATUS.get(int(col[s]), str(int(col[s]))),
                        reasons=tuple(reasons),
                        probability=float(np.nan_to_num(prob[s:e, i, k]).max()),
                        individual_name=str(tracks.individuals[i]),
                        keypoint_name=str(tracks.bodyparts[k])))
    out += _jitter_spans(result, marked)
    out.sort(key=lambda sp: (sp.start, sp.individual, sp.keypoint))
    return out


def _jitter_spans(result: Any, marked: np.ndarray | None) -> list[RepairSpan]:
    """The kept stretches the learned jitter detector marked, for review."""
    if getattr(result, "jitter", None) is None:  # the detector did not run
        return []
    jit = result.jitter_points()
    prob = np.asarray(result.jitter)
    tracks = result.tracks
    out = []
    for i, k in zip(*np.nonzero(jit.any(axis=0)), strict=True):
        starts, stops = true_runs(jit[:, i, k])
        for s, e in zip(starts.tolist(), stops.tolist(), strict=True):
            reasons = ["jitter"]
            if marked is not None and np.asarray(marked)[s:e, i, k].any():
                reasons.append("marked")
            out.append(RepairSpan(
                individual=int(i), keypoint=int(k), start=s, stop=e, status="kept",
                reasons=tuple(reasons), probability=float(prob[s:e, i, k].max()),
                individual_name=str(tracks.individuals[i]),
                keypoint_name=str(tracks.bodyparts[k])))
    return out


def _swap_kind(result: Any, start: int, stop: int, individual: str, keypoint: str) -> str:
    """Name of the correction (identity, left/right, neighbour, front/back) that moved them."""
    names = {"lr": "left/right swap", "neighbour": "neighbour swap",
             "reversal": "front/back reversal"}
    for c in getattr(result, "corrections", []) or []:
        if c.start < stop and start < c.stop and individual in c.individuals and (
                keypoint in c.keypoints or not c.keypoints):
            return names.get(c.kind, "identity swap")
    return "swap"


@dataclass
class Review:
    """The user's decisions on one clean result.

    Attributes
    ----------
    decisions : dict
        Span key ``(individual, keypoint, start, stop)`` -> :data:`ACCEPTED` or
        :data:`REJECTED`. Spans without a decision are kept as repaired.
    marked : np.ndarray or None
        ``(frames, individuals, keypoints)`` bool: points the user marked as bad (the cleaner
        missed them); repaired with ``clean_tracks(..., flag_mask=...)``.
    """

    decisions: dict[tuple[int, int, int, int], str] = field(default_factory=dict)
    marked: np.ndarray | None = None

    def decide(self, span: RepairSpan, decision: str) -> None:
        """Record ``decision`` (:data:`ACCEPTED` / :data:`REJECTED`) for ``span``."""
        if decision not in (ACCEPTED, REJECTED):
            raise ValueError(f"decision must be {ACCEPTED!r} or {REJECTED!r}, got {decision!r}")
        self.decisions[span.key] = decision

    def mark(self, shape: tuple[int, int, int], frames: Sequence[int] | slice,
             individual: int, keypoint: int) -> int:
        """Mark points of one keypoint of one individual as bad; returns how many are new."""
        if self.marked is None or self.marked.shape != tuple(shape):
            self.marked = np.zeros(shape, bool)
        before = int(self.marked.sum())
        self.marked[frames, individual, keypoint] = True
        return int(self.marked.sum()) - before

    def mask(self, shape: tuple[int, int, int], decision: str) -> np.ndarray:
        """``(frames, individuals, keypoints)`` bool of the points of spans with ``decision``."""
        out = np.zeros(shape, bool)
        for (i, k, s, e), d in self.decisions.items():
            if d == decision:
                out[s:e, i, k] = True
        return out

    def counts(self) -> dict[str, int]:
        """Spans accepted, spans rejected, points marked."""
        values = list(self.decisions.values())
        return {ACCEPTED: values.count(ACCEPTED), REJECTED: values.count(REJECTED),
                "marked": 0 if self.marked is None else int(self.marked.sum())}

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (marked points as ``[frame, individual, keypoint]`` rows)."""
        return {
            "decisions": [[*key, d] for key, d in sorted(self.decisions.items())],
            "marked": [] if self.marked is None else np.argwhere(self.marked).tolist(),
            "counts": self.counts(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], shape: tuple[int, int, int]) -> Review:
        """Inverse of :meth:`to_dict` for tracks of ``shape`` (frames, individuals, keypoints)."""
        decisions = {tuple(int(v) for v in row[:4]): str(row[4])
                     for row in data.get("decisions", [])}
        marked = None
        rows = np.asarray(data.get("marked", []), dtype=np.int64).reshape(-1, 3)
        if rows.size:
            marked = np.zeros(shape, bool)
            marked[rows[:, 0], rows[:, 1], rows[:, 2]] = True
        return cls(decisions=decisions, marked=marked)  # type: ignore[arg-type]


def _with_swap_partners(rejected: np.ndarray, result: Any, tracks: Tracks) -> np.ndarray:
    """``rejected`` plus, frame by frame, the other points of each swap correction it hits."""
    out = rejected.copy()
    for c in getattr(result, "corrections", []) or []:
        ii = [tracks.individuals.index(n) for n in c.individuals if n in tracks.individuals]
        kk = [tracks.bodyparts.index(n) for n in c.keypoints if n in tracks.bodyparts]
        if not ii or not kk:
            continue
        sl = slice(max(int(c.start), 0), min(int(c.stop), rejected.shape[0]))
        hit = rejected[sl][:, ii][:, :, kk].any(axis=(1, 2))
        if hit.any():
            frames = np.flatnonzero(hit) + sl.start
            out[np.ix_(frames, ii, kk)] = True
    return out


def apply_review(raw: Tracks, result: Any, review: Review) -> Any:
    """The clean result with the rejected repairs undone.

    Rejected points get the raw tracks' values back (x, y and likelihood, bit for bit), the
    status "kept" and no uncertainty; everything else is the result's. A swap is undone
    whole: rejecting points that a swap correction moved (left/right, front/back or
    identity) rejects the same frames of every point that correction exchanged, so that no
    two keypoints end up on one place. The decisions are recorded in the returned result's
    report (:func:`attach_review`).

    Parameters
    ----------
    raw : Tracks
        The tracks that were cleaned.
    result : CleanResult
        Output of ``clean_tracks`` on ``raw``.
    review : Review
        The decisions.

    Returns
    -------
    CleanResult
        A new result (the input is not modified).
    """
    if raw.xy.shape != result.tracks.xy.shape:
        raise ValueError(f"raw tracks {raw.xy.shape} and result {result.tracks.xy.shape} differ")
    rejected = _with_swap_partners(review.mask(result.status.shape, REJECTED), result, raw)
    tracks = result.tracks.copy()
    tracks.xy = result.tracks.xy.copy()
    tracks.xy[rejected] = raw.xy[rejected]
    if tracks.likelihood is not None and raw.likelihood is not None:
        tracks.likelihood = result.tracks.likelihood.copy()
        tracks.likelihood[rejected] = raw.likelihood[rejected]
    status = result.status.copy()
    status[rejected] = 0
    unc = result.uncertainty.copy()
    unc[rejected] = 0
    smoothed = getattr(result, "smoothed", None)
    out = replace(result, tracks=tracks, status=status, uncertainty=unc,
                  report=dict(result.report),
                  smoothed=None if smoothed is None else smoothed & ~rejected)
    counts = out.summary()
    tracks.meta = dict(tracks.meta)
    tracks.meta["stablemotion"] = {"status_counts": counts}
    out.report["status_counts"] = counts
    return attach_review(out, review)


def attach_review(result: Any, review: Review) -> Any:
    """Record the decisions in ``result.report["review"]`` (saved in the provenance file)."""
    result.report["review"] = review.to_dict()
    return result


def read_review(provenance: str | Path) -> Review | None:
    """The decisions stored in a provenance file (``*_stablemotion.npz``), or None."""
    with np.load(Path(provenance), allow_pickle=False) as z:
        report = json.loads(str(z["report"])) if "report" in z.files else {}
        shape = tuple(int(v) for v in z["status"].shape)
    data = report.get("review")
    return None if data is None else Review.from_dict(data, shape)  # type: ignore[arg-type]


def review_labels(suspect: np.ndarray, result: Any, review: Review) -> np.ndarray:
    """Per-point "bad" labels from the rules corrected by the user's decisions.

    Parameters
    ----------
    suspect : np.ndarray
        ``(frames, individuals, keypoints)`` bool: the rules' suspect mask of the raw tracks.
    result : CleanResult
        The reviewed result.
    review : Review
        The decisions.

    Returns
    -------
    np.ndarray
        ``suspect | accepted | marked`` without the rejected points.
    """
    shape = result.status.shape
    bad = np.asarray(suspect, bool) | review.mask(shape, ACCEPTED)
    if review.marked is not None:
        bad |= review.marked
    return bad & ~review.mask(shape, REJECTED)


def fine_tune(
    model: str | Path,
    tracks_list: Sequence[Tracks],
    labels_list: Sequence[np.ndarray],
    out_path: str | Path,
    *,
    steps: int = 200,
    pcutoff: float = DEFAULT_PCUTOFF,
    progress: bool = True,
    device: str | None = None,
) -> Path:
    """Continue training ``model`` for ``steps`` more steps on reviewed labels.

    The model's own representation (bodyparts, skeleton, normaliser) is kept, so the result
    loads wherever the model did. The labels take the place of the rules' suspect mask: the
    detection task learns to flag what the user accepted or marked and to leave alone what
    they rejected.

    Parameters
    ----------
    model : str or Path
        The model to start from (not modified unless ``out_path`` is the same file).
    tracks_list : sequence of Tracks
        Raw tracks that were reviewed.
    labels_list : sequence of np.ndarray
        ``(frames, individuals, keypoints)`` bool per tracks (:func:`review_labels`).
    out_path : str or Path
        Fine-tuned model file.
    steps : int
        Additional training steps.
    pcutoff : float
        Likelihood threshold (which points count as confident for error injection).
    progress : bool
        Progress bar.
    device : str, optional
        Torch device.

    Returns
    -------
    Path
        ``out_path``.
    """
    from ..core.checkpoint import load_checkpoint
    from ..core.train import TrainConfig
    from ..core.train import train as core_train
    from .dataset import KeypointWindowSource, sequences_from_tracks
    from .representation import KeypointRepresentation

    model, out_path = Path(model), Path(out_path)
    if len(tracks_list) != len(labels_list) or not tracks_list:
        raise ValueError("fine_tune: give one label array per tracks (at least one)")
    bundle = load_checkpoint(model, training_state=True)
    rep = KeypointRepresentation.from_spec(bundle.spec)
    if bundle.raw_state is None or bundle.optimizer_state is None:
        raise ValueError(f"{model}: no training state stored; cannot fine-tune")
    cfg_dict = dict(bundle.train_config or {})
    known = TrainConfig.__dataclass_fields__
    cfg = TrainConfig(**{k: v for k, v in cfg_dict.items() if k in known})
    cfg = replace(cfg, steps=int(bundle.step) + int(steps), checkpoint_every=0,
                  warmup_steps=0, log_csv=None, tensorboard_dir=None)
    seqs = []
    for tr, lab in zip(tracks_list, labels_list, strict=True):
        seqs += sequences_from_tracks(tr, rep.bodyparts, np.asarray(lab, bool))
    source = KeypointWindowSource(seqs, rep, window=cfg.window, pcutoff=pcutoff)
    if out_path.resolve() != model.resolve():
        out_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(model, out_path)
    logger.info("fine-tuning %s for %d steps (from step %d) on %d reviewed sequence(s)",
                model, steps, bundle.step, len(seqs))
    return core_train(source, rep, out_path, cfg, resume=True, extra_spec=dict(bundle.spec),
                      progress=progress, device=device)
