"""Protocol A of the real-data benchmark: real DLC tracks with injected, labelled corruption.

Real DLC predictions have no ground truth. Where a real track is *confident* (every keypoint of
an animal present with likelihood >= ``pcutoff`` for at least ``min_len`` consecutive frames,
see :func:`~stablemotion_dlc.dlc.corruption.confident_segments`) its values are taken as the
truth. Seeded errors are injected there with
:func:`~stablemotion_dlc.dlc.corruption.inject_corruption` (confident jitter bursts, drifts
with low likelihood, jumps onto another bodypart or into the background, left/right swaps,
identity swaps between animals, dropouts as NaN and as DeepLabCut 3's ``-1`` placeholder,
frozen points; events of 1-60 frames, log-uniform, about ``rate`` of the confident points).
The cleaner and the baselines then see the corrupted tracks (the rest of the file as it is),
and are scored on the confident points only: *corrupted* points against the original value,
*untouched* confident points against themselves (they should not move).

:func:`make_benchmark_case` builds such a case from any user's tracks. Files are split into a
fixed *tuning* set (:data:`TUNING_FILES`, the only files any setting may be chosen on) and
*held-out* files reported separately (:data:`DEFAULT_FILES`). Protocol B, whose errors are
designed independently of the training generator, is :mod:`.protocol`. The methods are listed
in :mod:`.methods`, run by :mod:`.runner` and reported by :mod:`.report`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..dlc.constants import DEFAULT_PCUTOFF
from ..dlc.corruption import (
    ALL_KINDS,
    CORRUPTION_KINDS,
    CorruptionEvent,
    confident_segments,
    inject_corruption,
)
from ..dlc.tracks import UNIQUE_NAME, Tracks

__all__ = [
    "BENCHMARK_KINDS",
    "PCUTOFF",
    "MOVED_PX",
    "BenchFile",
    "BenchmarkCase",
    "DEFAULT_FILES",
    "TUNING_FILES",
    "SAMPLE_NAME",
    "make_benchmark_case",
]

logger = logging.getLogger(__name__)

#: Kinds injected by the benchmark: every training kind plus ``-1`` placeholder dropouts.
BENCHMARK_KINDS: tuple[str, ...] = CORRUPTION_KINDS + ("dropout_neg1",)
#: Likelihood threshold of the confident stretches (DeepLabCut's default).
PCUTOFF = DEFAULT_PCUTOFF
#: An untouched point that moved more than this (px) counts as moved.
MOVED_PX = 2.0
#: Name of the simulated sample project in the benchmark's file list.
SAMPLE_NAME = "simulated_sample"


@dataclass(frozen=True)
class BenchFile:
    """One benchmark input.

    Attributes
    ----------
    name : str
        Short name used in the report.
    path : str
        Path relative to the data folder.
    tune : bool
        True for the fixed tuning files (any setting may only be chosen on these).
    max_frames : int, optional
        Use the first ``max_frames`` frames only (long files, to keep the run short).
    """

    name: str
    path: str
    tune: bool = False
    max_frames: int | None = None


#: The real files with enough confident frames (see ``shared/data/README.md``).
DEFAULT_FILES: tuple[BenchFile, ...] = (
    BenchFile(
        "openfield", "openfield_m3v1/m3v1mp4DLC_resnet50_openfieldAug20shuffle1_30000.h5", tune=True
    ),
    BenchFile(
        "behaviordepot_demo1", "behaviordepot/demo1_tracking.csv", tune=True, max_frames=3000
    ),
    BenchFile(
        "bsoid",
        "bsoid/raw_clip1DLC_resnet50_OpenFieldHighResApr8shuffle1_1030000.h5",
        max_frames=3000,
    ),
    BenchFile("behaviordepot_demo2", "behaviordepot/demo2_tracking.csv", max_frames=3000),
    BenchFile("behaviordepot_demo4", "behaviordepot/demo4_video.csv", max_frames=3000),
    BenchFile("deepof_square_arena", "deepof/testDLC_square_arena.h5"),
    BenchFile("vame", "vame/cropped_video.csv"),
    BenchFile("sleap_centered_pair", "sleap_centered_pair/centered_pair_predictions_DLC.h5"),
    BenchFile("montblanc", "montblanc/montblanc_tracks.h5"),
)
#: Names of the tuning files (everything else is held out).
TUNING_FILES: tuple[str, ...] = tuple(f.name for f in DEFAULT_FILES if f.tune)


@dataclass
class BenchmarkCase:
    """One corrupted copy of real tracks, with its truth (output of :func:`make_benchmark_case`).

    Unpacks as ``truth, corrupted, kinds``.

    Attributes
    ----------
    truth : np.ndarray
        ``(T, I, K, 2)`` the original coordinates of the confident points used as truth; NaN
        for every other point (not scored).
    corrupted : Tracks
        The tracks given to the cleaners: the input with errors injected (dropouts are NaN in
        memory, as :func:`~stablemotion_dlc.dlc.io.read_tracks` returns both NaN and ``-1``
        placeholders).
    kinds : np.ndarray
        ``(T, I, K)`` int8 kind code per point (0 untouched; see
        :data:`~stablemotion_dlc.dlc.corruption.KIND_CODES`).
    eligible : np.ndarray
        ``(T, I, K)`` bool: the confident points (truth known, may have been corrupted).
    events : list of CorruptionEvent
        The injected events (individual indices refer to ``corrupted.individuals``).
    segments : list of (start, stop, individual)
        The confident stretches.
    min_fraction : float
        Share of an animal's keypoints that had to be confident in each frame of a stretch.
    """

    truth: np.ndarray
    corrupted: Tracks
    kinds: np.ndarray
    eligible: np.ndarray
    events: list[CorruptionEvent] = field(default_factory=list)
    segments: list[tuple[int, int, int]] = field(default_factory=list)
    min_fraction: float = 1.0

    def __iter__(self) -> Iterator[Any]:
        return iter((self.truth, self.corrupted, self.kinds))

    @property
    def mask(self) -> np.ndarray:
        """``(T, I, K)`` bool: corrupted points."""
        return self.kinds != 0


def _animal_block(tracks: Tracks) -> tuple[list[int], list[int]]:
    """Animal individuals (not the unique-bodypart ``single``) and their common keypoints."""
    animals = [i for i, n in enumerate(tracks.individuals) if n != UNIQUE_NAME]
    if not animals:
        return [], []
    kps = [k for k in range(tracks.n_keypoints) if tracks.present[animals, k].all()]
    return animals, kps


def make_benchmark_case(
    tracks: Tracks,
    rng: np.random.Generator,
    *,
    pcutoff: float = PCUTOFF,
    min_len: int = 64,
    rate: float = 0.05,
    kinds: Sequence[str] = BENCHMARK_KINDS,
    max_event_len: int = 60,
    min_fraction: float = 1.0,
) -> BenchmarkCase:
    """Corrupt the confident stretches of real tracks and keep them as the truth.

    Parameters
    ----------
    tracks : Tracks
        Real DLC predictions (not modified).
    rng : np.random.Generator
        Seeded source of randomness (same seed and input -> same case).
    pcutoff : float
        A point is confident when present with likelihood >= ``pcutoff``.
    min_len : int
        Shortest confident stretch (frames) used as truth.
    rate : float
        Target share of the confident points to corrupt.
    kinds : sequence of str
        Corruption kinds (see :mod:`stablemotion_dlc.dlc.corruption`); kinds that cannot apply
        (identity swaps with one animal, left/right swaps without such names) are skipped.
    max_event_len : int
        Longest event in frames (events are 1..``max_event_len`` frames, log-uniform).
    min_fraction : float
        Share of an animal's keypoints that must be confident in every frame of a stretch;
        inside a stretch only the confident points themselves are used.

    Returns
    -------
    BenchmarkCase
        Unpacks as ``(truth, corrupted, kinds)``.

    Raises
    ------
    ValueError
        When the tracks have no confident stretch of ``min_len`` frames (the message names
        the source file).
    """
    source = str(tracks.meta.get("source", "tracks"))
    animals, kps = _animal_block(tracks)
    if not animals or len(kps) == 0:
        raise ValueError(f"{source}: no animal keypoints to benchmark on")
    xy = tracks.xy[:, animals][:, :, kps]  # (T, A, Kp, 2)
    lik = None if tracks.likelihood is None else tracks.likelihood[:, animals][:, :, kps]
    confident = np.isfinite(xy).all(axis=-1)
    if lik is not None:
        with np.errstate(invalid="ignore"):
            confident &= lik >= pcutoff
    segments = confident_segments(xy, lik, pcutoff, min_len, min_fraction=min_fraction)
    if not segments:
        raise ValueError(
            f"{source}: no stretch of {min_len} frames where {min_fraction:.0%} of an animal's "
            f"keypoints have likelihood >= {pcutoff}; nothing to use as truth"
        )
    elig_sub = np.zeros(confident.shape, dtype=bool)
    for s, e, a in segments:
        elig_sub[s:e, a] = confident[s:e, a]
    bad_kinds = [k for k in kinds if k not in ALL_KINDS]
    if bad_kinds:
        raise ValueError(f"unknown corruption kinds {bad_kinds}; known: {list(ALL_KINDS)}")
    names = [tracks.bodyparts[k] for k in kps]
    placeholder = -1.0
    cor = inject_corruption(
        xy,
        lik,
        rng,
        kinds=list(kinds),
        rate=rate,
        min_len=1,
        max_len=max_event_len,
        bodyparts=names,
        eligible=elig_sub,
        placeholder=placeholder,
    )
    new_xy = cor.xy
    new_lik = cor.likelihood
    neg1 = cor.kinds == ALL_KINDS.index("dropout_neg1") + 1
    if neg1.any():
        # DeepLabCut 3 writes -1 for missing points; read_tracks returns them as NaN, so the
        # cleaners see what they would see after reading such a file.
        new_xy[neg1] = np.nan
        if new_lik is not None:
            new_lik[neg1] = np.nan
    corrupted = tracks.copy()
    grid = np.ix_(np.arange(tracks.n_frames), animals, kps)
    corrupted.xy[grid] = new_xy
    if corrupted.likelihood is not None and new_lik is not None:
        corrupted.likelihood[grid] = new_lik
    corrupted.meta = dict(corrupted.meta)
    corrupted.meta["benchmark"] = {"kinds": list(kinds), "rate": rate, "pcutoff": pcutoff}

    shape = tracks.xy.shape[:3]
    codes = np.zeros(shape, dtype=np.int8)
    codes[grid] = cor.kinds
    eligible = np.zeros(shape, dtype=bool)
    eligible[grid] = elig_sub
    truth = np.full(tracks.xy.shape, np.nan)
    truth[eligible] = tracks.xy[eligible]
    events = [
        CorruptionEvent(
            ev.kind,
            ev.start,
            ev.stop,
            tuple(animals[i] for i in ev.individuals),
            tuple(kps[k] for k in ev.keypoints),
            None if ev.source is None else kps[ev.source],
        )
        for ev in cor.events
    ]
    segs = [(s, e, animals[a]) for s, e, a in segments]
    return BenchmarkCase(truth, corrupted, codes, eligible, events, segs, min_fraction)


def case_for_file(tracks: Tracks, seed: int, min_len: int) -> BenchmarkCase:
    """The benchmark case of one file: all keypoints confident if possible, else 75 %.

    Parameters
    ----------
    tracks : Tracks
        The file's predictions.
    seed : int
        Seed of the injected corruption.
    min_len : int
        Shortest confident stretch taken as truth.

    Returns
    -------
    BenchmarkCase
        The case with every keypoint confident when that leaves enough frames (at least
        ``2 * min_len`` and a quarter of the file), else with 75 % of them.

    Raises
    ------
    ValueError
        When no confident stretch is found at all.
    """
    last: ValueError | None = None
    for frac in (1.0, 0.75):
        try:
            case = make_benchmark_case(
                tracks, np.random.default_rng(seed), min_len=min_len, min_fraction=frac
            )
        except ValueError as exc:
            last = exc
            continue
        if case.eligible.any(axis=(1, 2)).sum() >= max(2 * min_len, 0.25 * tracks.n_frames):
            return case
        last = ValueError(f"too few confident frames with min_fraction {frac}")
        fallback = case
    if "fallback" in locals():
        return fallback
    assert last is not None
    raise last
