"""Training windows of DLC keypoint tracks, with on-the-fly injected corruption.

:class:`KeypointWindowSource` implements the core's ``BatchSource``: it cuts random windows
from a project's own tracks (preferring mostly-confident windows), corrupts a share of them with
:func:`~stablemotion_dlc.dlc.corruption.inject_corruption` (on confident points only), labels a
point bad when it is suspect (labels module), missing, or injected, and encodes the windows with
a :class:`~stablemotion_dlc.dlc.representation.KeypointRepresentation`.

Because injected points are labelled, the model learns to *detect* errors that the likelihood
and the rule-based labels never flagged; ``Batch.extra["injected"]`` keeps the kind codes so that
detection can be judged on exactly those points.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from stablemotion_dlc.core.representation import Batch
from stablemotion_dlc.dlc.constants import DEFAULT_PCUTOFF
from stablemotion_dlc.dlc.corruption import (
    CORRUPTION_KINDS,
    body_scale,
    inject_corruption,
    lr_pairs_from_names,
)
from stablemotion_dlc.dlc.representation import KeypointRepresentation

__all__ = ["KeypointSequence", "KeypointWindowSource", "sequences_from_tracks"]

logger = logging.getLogger(__name__)

#: Each (recording, individual) puts at least this share of its windows among the "mostly
#: confident" ones that most training draws come from: its most confident windows, when too
#: few reach ``min_confident``. Without it an animal tracked worse than the others (sleap_clip's
#: female: 47 % of her points confident, none of her 64-frame windows 80 %) was drawn in 4.6 %
#: of the training windows (none of the preferred ones), against 52 % with it.
MIN_CONFIDENT_SHARE = 0.25


@dataclass
class KeypointSequence:
    """Tracks of one recording for a :class:`KeypointWindowSource`.

    Attributes
    ----------
    xy : np.ndarray
        ``(T, K, 2)`` for one individual or ``(T, I, K, 2)`` for several individuals of the
        same recording (needed for identity-swap injection); NaN where missing.
    likelihood : np.ndarray or None
        ``(T, K)`` / ``(T, I, K)``; None means every present point is confident.
    suspect : np.ndarray or None
        ``(T, K)`` / ``(T, I, K)`` bool from the labels module (e.g.
        ``stablemotion_dlc.dlc.labels.suspect_mask``); None means nothing is suspect.
    name : str
        For messages (e.g. the source file).
    """

    xy: np.ndarray
    likelihood: np.ndarray | None = None
    suspect: np.ndarray | None = None
    name: str = ""

    def normalised(self, n_keypoints: int) -> KeypointSequence:
        """The same data as float64 ``(T, I, K, 2)`` arrays, validated."""
        xy = np.asarray(self.xy, dtype=np.float64)
        label = self.name or "sequence"
        if xy.ndim == 3:
            xy = xy[:, None]
            lik = None if self.likelihood is None else np.asarray(self.likelihood)[:, None]
            sus = None if self.suspect is None else np.asarray(self.suspect)[:, None]
        else:
            lik, sus = self.likelihood, self.suspect
        if xy.ndim != 4 or xy.shape[-2:] != (n_keypoints, 2):
            raise ValueError(
                f"{label}: xy must have shape (T, {n_keypoints}, 2) or (T, I, {n_keypoints}, 2),"
                f" got {np.shape(self.xy)}"
            )
        shape = xy.shape[:-1]
        if lik is None:
            lik_a = np.where(np.isfinite(xy).all(axis=-1), 1.0, np.nan)
        else:
            lik_a = np.asarray(lik, dtype=np.float64)
        if sus is None:
            sus_a = np.zeros(shape, dtype=bool)
        else:
            sus_a = np.asarray(sus, dtype=bool)
        if lik_a.shape != shape:
            raise ValueError(f"{label}: likelihood must have shape {shape}, got {lik_a.shape}")
        if sus_a.shape != shape:
            raise ValueError(f"{label}: suspect must have shape {shape}, got {sus_a.shape}")
        xy = np.where(np.isfinite(xy), xy, np.nan)
        return KeypointSequence(xy, lik_a, sus_a, self.name)


def sequences_from_tracks(
    tracks: object,
    bodyparts: Sequence[str],
    suspect: object | None = None,
) -> list[KeypointSequence]:
    """Sequences of the individuals of a :class:`~stablemotion_dlc.dlc.tracks.Tracks`.

    Only individuals that carry all of ``bodyparts`` (the ``"single"`` pseudo-individual of
    unique bodyparts is skipped).

    Parameters
    ----------
    tracks : Tracks
        As read by ``stablemotion_dlc.dlc.io``.
    bodyparts : sequence of str
        The representation's bodyparts (selected by name, in this order).
    suspect : np.ndarray or SuspectLabels, optional
        ``(T, I, K_file)`` suspect mask over the file's keypoints, or the result of
        ``stablemotion_dlc.dlc.labels.suspect_mask`` (its ``mask`` is used).

    Returns
    -------
    list of KeypointSequence
        One sequence holding every qualifying individual (empty if none qualifies).
    """
    names = list(tracks.bodyparts)  # type: ignore[attr-defined]
    missing = [b for b in bodyparts if b not in names]
    if missing:
        raise ValueError(f"tracks have no bodyparts {missing} (file has {names})")
    cols = [names.index(b) for b in bodyparts]
    present = np.asarray(tracks.present, dtype=bool)[:, cols]  # type: ignore[attr-defined]
    inds = [i for i in range(present.shape[0]) if present[i].all()]
    if not inds:
        return []
    xy = np.asarray(tracks.xy)[:, inds][:, :, cols]  # type: ignore[attr-defined]
    lik_all = tracks.likelihood  # type: ignore[attr-defined]
    lik = None if lik_all is None else np.asarray(lik_all)[:, inds][:, :, cols]
    if suspect is not None and hasattr(suspect, "mask"):
        suspect = suspect.mask
    sus = None if suspect is None else np.asarray(suspect, bool)[:, inds][:, :, cols]
    src = tracks.meta.get("source", "") if hasattr(tracks, "meta") else ""
    return [KeypointSequence(xy, lik, sus, str(src))]


class KeypointWindowSource:
    """Random training windows with injected, labelled corruption (a core ``BatchSource``).

    Parameters
    ----------
    sequences : sequence of KeypointSequence or (xy, likelihood, suspect) tuples
        The project's tracks; each (recording, individual) is a source of windows.
    representation : KeypointRepresentation
        Encoder of the windows.
    window : int
        Frames per window.
    p_inject : float
        Probability that a window receives synthetic corruption.
    rate : float
        Fraction of the confident entries of the windows chosen for corruption that is
        corrupted (see :func:`inject_corruption`; the windows of a batch are corrupted in one
        call, as if they were individuals, so events spread over them at random). On top of
        that, a chosen window of a multi-animal recording receives one identity swap with
        probability equal to the share of ``identity_swap`` in ``kinds``/``kind_weights``.
    kinds : sequence of str
        Corruption kinds to inject.
    min_len, max_len : int
        Event length bounds (``max_len`` defaults to ``min(60, window)``).
    pcutoff : float
        Likelihood below which a point is not confident (not eligible for injection and not
        counted as confident when choosing windows; it is *not* labelled bad by itself - that is
        the labels module's job through ``suspect``).
    min_confident : float
        A window is "mostly confident" when at least this fraction of its entries is present,
        non-suspect and confident. An individual with fewer than :data:`MIN_CONFIDENT_SHARE`
        of its windows that confident counts its most confident windows (that share of them,
        each with some confident entry) instead, so that every animal is trained on.
    p_confident : float
        Probability of drawing a window among the mostly-confident ones (when there are any);
        otherwise among all windows.
    lr_pairs : sequence of (int, int), optional
        Left/right keypoint pairs; found from the representation's bodyparts when None.
    kind_weights : sequence of float, optional
        Relative probability of each kind.
    corruptor : callable, optional
        Another error generator instead of :func:`inject_corruption` (the cross-check of an
        evaluation protocol: train on one generator, test on another). Called once per batch
        as ``corruptor(xy, likelihood, rng, eligible)`` with the windows as individuals,
        ``xy (W, B, K, 2)``, ``likelihood`` and ``eligible (W, B, K)``, it returns the
        corrupted ``xy``, ``likelihood`` and ``(W, B, K)`` int codes (0 = untouched). It
        replaces every kind, identity swaps included.
    """

    def __init__(
        self,
        sequences: Sequence[KeypointSequence | tuple],
        representation: KeypointRepresentation,
        window: int = 64,
        *,
        p_inject: float = 0.5,
        rate: float = 0.05,
        kinds: Sequence[str] = CORRUPTION_KINDS,
        min_len: int = 1,
        max_len: int | None = None,
        pcutoff: float = DEFAULT_PCUTOFF,
        min_confident: float = 0.8,
        p_confident: float = 0.9,
        lr_pairs: Sequence[tuple[int, int]] | None = None,
        kind_weights: Sequence[float] | None = None,
        corruptor: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        if window < 2:
            raise ValueError(f"window must be at least 2 frames, got {window}")
        if not 0.0 <= p_inject <= 1.0 or not 0.0 <= p_confident <= 1.0:
            raise ValueError("p_inject and p_confident must lie in [0, 1]")
        self.representation = representation
        self.window = int(window)
        self.p_inject = float(p_inject)
        self.rate = float(rate)
        self.kinds = tuple(kinds)
        self.min_len = int(min_len)
        self.max_len = int(max_len) if max_len is not None else min(60, self.window)
        self.pcutoff = float(pcutoff)
        self.p_confident = float(p_confident)
        if lr_pairs is None:
            lr_pairs = lr_pairs_from_names(representation.bodyparts)
        self.lr_pairs = [(int(a), int(b)) for a, b in lr_pairs]
        self.kind_weights = kind_weights
        self.corruptor = corruptor
        weights = np.ones(len(self.kinds)) if kind_weights is None else np.asarray(kind_weights)
        if weights.shape != (len(self.kinds),) or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError("kind_weights must be one non-negative weight per kind")
        is_id = np.array([kd == "identity_swap" for kd in self.kinds])
        self._p_identity = float(weights[is_id].sum() / weights.sum())
        self._single_kinds = [kd for kd in self.kinds if kd != "identity_swap"]
        self._single_weights = [float(x) for x, i in zip(weights, is_id, strict=True) if not i]
        k = representation.n_keypoints

        self.sequences: list[KeypointSequence] = []
        self._confident: list[np.ndarray] = []
        self._scale: list[np.ndarray] = []
        self._frame: list[tuple[float, float]] = []
        all_idx: list[np.ndarray] = []
        conf_idx: list[np.ndarray] = []
        for n, item in enumerate(sequences):
            seq = item if isinstance(item, KeypointSequence) else KeypointSequence(*item)
            seq = seq.normalised(k)
            t, n_ind = seq.xy.shape[:2]
            if t < self.window:
                logger.warning(
                    "%s: %d frames, shorter than the %d-frame window; skipped",
                    seq.name or f"sequence {n}",
                    t,
                    self.window,
                )
                continue
            s_id = len(self.sequences)
            self.sequences.append(seq)
            with np.errstate(invalid="ignore"):
                conf = (
                    np.isfinite(seq.xy).all(axis=-1)
                    & ~seq.suspect
                    & (np.nan_to_num(seq.likelihood, nan=-1.0) >= self.pcutoff)
                )
            self._confident.append(conf)
            self._scale.append(body_scale(seq.xy))
            pts = seq.xy[np.isfinite(seq.xy).all(axis=-1)]
            hi = pts.max(axis=0) * 1.05 + 10.0 if pts.size else np.full(2, 500.0)
            self._frame.append((float(max(hi[0], 1.0)), float(max(hi[1], 1.0))))
            frac = conf.mean(axis=2)  # (T, I)
            csum = np.concatenate([np.zeros((1, n_ind)), np.cumsum(frac, axis=0)], axis=0)
            score = (csum[self.window :] - csum[: -self.window]) / self.window  # (S, I)
            n_start = score.shape[0]
            starts, inds = np.meshgrid(np.arange(n_start), np.arange(n_ind), indexing="ij")
            rows = np.stack(
                [np.full(starts.size, s_id), inds.ravel(), starts.ravel()], axis=1
            ).astype(np.int64)
            all_idx.append(rows)
            # per individual: its mostly confident windows, or at least its best share of them
            # (with some confident entry); t >= window, so every individual has a window
            few = np.mean(score >= min_confident, axis=0) < MIN_CONFIDENT_SHARE
            best = np.maximum(np.quantile(score, 1.0 - MIN_CONFIDENT_SHARE, axis=0),
                              np.nextafter(0.0, 1.0))
            bar = np.where(few, best, float(min_confident))
            conf_idx.append(rows[(score >= bar[None, :]).ravel()])
        if not self.sequences:
            raise ValueError(
                f"no sequence is at least {self.window} frames long; use a shorter window"
            )
        self._all = np.concatenate(all_idx, axis=0)
        self._conf = np.concatenate(conf_idx, axis=0)
        logger.info(
            "%d sequences, %d windows, %d mostly confident (>= %.0f%%)",
            len(self.sequences),
            len(self._all),
            len(self._conf),
            100 * min_confident,
        )

    @property
    def n_windows(self) -> int:
        """Number of distinct (sequence, individual, start) windows."""
        return int(len(self._all))

    @property
    def n_confident_windows(self) -> int:
        """Number of mostly-confident windows."""
        return int(len(self._conf))

    def sample(self, rng: np.random.Generator, batch_size: int) -> Batch:
        """Draw ``batch_size`` windows, corrupt some, encode them.

        Returns
        -------
        Batch
            ``features (B, W, D)`` float32, ``labels (B, W, K + 1)`` float32 (keypoint labels =
            suspect | missing | injected; the reference label last), ``observed (B, W, D)``
            bool, and ``extra`` with ``injected`` (B, W, K) int8 kind codes (0 = none),
            ``suspect`` (B, W, K) the given suspect mask, ``missing`` (B, W, K),
            ``likelihood`` (B, W, K) after injection, ``xy`` (B, W, K, 2) the window as encoded,
            ``origin`` (B, 2), and ``sequence``/``individual``/``start`` (B,) int64.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        w = self.window
        k = self.representation.n_keypoints
        use_conf = rng.random(batch_size) < self.p_confident
        pick_all = self._all[rng.integers(0, len(self._all), size=batch_size)]
        if len(self._conf):
            pick_conf = self._conf[rng.integers(0, len(self._conf), size=batch_size)]
            picks = np.where(use_conf[:, None], pick_conf, pick_all)
        else:
            picks = pick_all
        inject = rng.random(batch_size) < self.p_inject

        xy = np.empty((batch_size, w, k, 2))
        lik = np.empty((batch_size, w, k))
        sus = np.empty((batch_size, w, k), dtype=bool)
        conf = np.empty((batch_size, w, k), dtype=bool)
        scale = np.empty(batch_size)
        frame = np.empty((batch_size, 2))
        codes = np.zeros((batch_size, w, k), dtype=np.int8)
        for b, (s_id, ind, start) in enumerate(picks):
            seq = self.sequences[s_id]
            sl = slice(start, start + w)
            xy[b] = seq.xy[sl, ind]
            lik[b] = seq.likelihood[sl, ind]
            sus[b] = seq.suspect[sl, ind]
            conf[b] = self._confident[s_id][sl, ind]
            scale[b] = self._scale[s_id][ind]
            frame[b] = self._frame[s_id]
            n_ind = seq.xy.shape[1]
            if (self.corruptor is None and inject[b] and n_ind > 1
                    and rng.random() < self._p_identity):
                # an identity swap with another animal of the same recording
                other = int(rng.integers(0, n_ind - 1))
                cols = [ind, other + (other >= ind)]
                c = inject_corruption(
                    seq.xy[sl][:, cols],
                    seq.likelihood[sl][:, cols],
                    rng,
                    kinds=["identity_swap"],
                    rate=1.0,
                    min_len=self.min_len,
                    max_len=self.max_len,
                    eligible=self._confident[s_id][sl][:, cols],
                    max_events=1,
                    body_scale=self._scale[s_id][cols],
                    frame_size=self._frame[s_id],
                )
                xy[b] = c.xy[:, 0]
                lik[b] = c.likelihood[:, 0]  # type: ignore[index]
                codes[b] = c.kinds[:, 0]
        if inject.any() and self.corruptor is not None:
            elig = conf & inject[:, None, None]
            c_xy, c_lik, c_codes = self.corruptor(
                xy.transpose(1, 0, 2, 3), lik.transpose(1, 0, 2), rng, elig.transpose(1, 0, 2))
            xy = np.ascontiguousarray(np.asarray(c_xy, np.float64).transpose(1, 0, 2, 3))
            lik = np.ascontiguousarray(np.asarray(c_lik, np.float64).transpose(1, 0, 2))
            codes = np.asarray(c_codes).transpose(1, 0, 2).astype(np.int8)
        elif inject.any() and self._single_kinds:
            # every other kind in one call: windows play the role of individuals
            elig = conf & (codes == 0) & inject[:, None, None]
            c = inject_corruption(
                xy.transpose(1, 0, 2, 3),
                lik.transpose(1, 0, 2),
                rng,
                kinds=self._single_kinds,
                kind_weights=self._single_weights,
                rate=self.rate,
                min_len=self.min_len,
                max_len=self.max_len,
                lr_pairs=self.lr_pairs,
                eligible=elig.transpose(1, 0, 2),
                body_scale=scale,
                frame_size=frame,
            )
            xy = np.ascontiguousarray(c.xy.transpose(1, 0, 2, 3))
            lik = np.ascontiguousarray(c.likelihood.transpose(1, 0, 2))  # type: ignore[union-attr]
            new = c.kinds.transpose(1, 0, 2)
            codes = np.where(new != 0, new, codes).astype(np.int8)

        enc = self.representation.encode(xy, sus | (codes != 0))
        return Batch(
            features=enc.features,
            labels=enc.labels,
            observed=enc.observed,
            extra={
                "injected": codes,
                "suspect": sus,
                "missing": enc.missing,
                "likelihood": lik,
                "xy": xy,
                "origin": enc.origin,
                "sequence": picks[:, 0].copy(),
                "individual": picks[:, 1].copy(),
                "start": picks[:, 2].copy(),
            },
        )
