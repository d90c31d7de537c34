"""Keypoint features for one individual: the DLC :class:`Representation` of the diffusion core.

:class:`KeypointRepresentation` implements the core's
:class:`~stablemotion_dlc.core.representation.Representation` protocol: ``encode(xy, suspect)``
returns an :class:`EncodedWindow` (features, labels, observed, and its pixel ``origin`` as the
decode ``context``), ``decode(features, context)`` gives pixels back, windows need no placing
(``places_windows = False``: the features are relative to one origin per sequence).

Per frame the feature vector is (``K`` keypoints, ``B`` skeleton bones)::

    [ref x, ref y | ref vx, ref vy | rel x_k, rel y_k (K) | rel vx_k, rel vy_k (K) |
     bone length (B) | bone-length velocity (B)]

so ``D = 4 + 4 K + 2 B``, in pixels and pixels per frame (the core normalises). Labels are one
channel per keypoint plus one *reference* channel (``L = K + 1``).

Reference (body centre)
    The coordinate-wise median over keypoints of positions in which every point that is
    missing or suspect has been replaced by a linear interpolation over time of that keypoint's
    good (present, non-suspect) values. A single bad keypoint therefore never moves the
    reference, and the set of keypoints behind the median never changes from frame to frame
    (no jumps when a keypoint becomes suspect). The reference is governed by its own label
    channel, which is 1 where at least ``reference_bad_fraction`` of the keypoints are suspect
    or missing (the reference there is mostly a guess). The reference is stored relative to a
    per-window ``origin`` (whole pixels, float64), which keeps float32 features precise at any
    image size and makes features translation invariant.

Exact decode
    ``xy = origin + ref + rel`` (float64), where ``rel`` is computed against the float32-rounded
    reference, so the only rounding in a round trip is that of ``rel`` itself: below 1e-4 px for
    offsets up to 2048 px. Velocities and bones are auxiliary and never used to decode.

Missing points (NaN) are filled by linear interpolation over time of the keypoint's good values
(nearest value at the window ends; present-but-suspect values when a keypoint has no good
value; the body centre plus the keypoint's median offset when it has no value at all); they are
``observed=False`` and labelled 1. No NaN ever reaches the features.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stablemotion_dlc._arrays import interp_fill
from stablemotion_dlc.core.representation import LabelLayout
from stablemotion_dlc.dlc.skeleton import skeleton_edges
from stablemotion_dlc.errors import ConfigError

__all__ = [
    "EncodedWindow",
    "KeypointRepresentation",
    "default_skeleton",
    "interp_fill",
    "median_pose",
]

logger = logging.getLogger(__name__)

REPRESENTATION_NAME = "dlc-keypoints"
REPRESENTATION_VERSION = 1


@dataclass
class EncodedWindow:
    """One window (or a batch of windows) encoded for the core.

    Attributes
    ----------
    features : np.ndarray
        ``(T, D)`` (or ``(B, T, D)``) float32, finite everywhere.
    labels : np.ndarray
        ``(T, L)`` (or ``(B, T, L)``) float32 in {0, 1}, ``L = K + 1``: keypoint labels first
        (1 = suspect or missing), the reference label last.
    observed : np.ndarray
        ``(T, D)`` (or ``(B, T, D)``) bool, False where the feature value is unknown.
    origin : np.ndarray
        ``(2,)`` (or ``(B, 2)``) float64 pixel origin of the reference channels.
    missing : np.ndarray
        ``(T, K)`` (or ``(B, T, K)``) bool, True where the input point was NaN.
    suspect : np.ndarray
        ``(T, K)`` (or ``(B, T, K)``) bool, the suspect mask given to ``encode``.
    """

    features: np.ndarray
    labels: np.ndarray
    observed: np.ndarray
    origin: np.ndarray
    missing: np.ndarray
    suspect: np.ndarray

    @property
    def context(self) -> np.ndarray:
        """What :meth:`KeypointRepresentation.decode` needs besides the features: ``origin``."""
        return self.origin


# ----------------------------------------------------------------------------------------------
# array helpers
# ----------------------------------------------------------------------------------------------
def _nanmedian_axis2(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median over axis 2 of ``(B, T, K, 2)`` ignoring NaN; returns (median, count)."""
    s = np.sort(a, axis=2)  # NaN sorted last
    n = np.sum(~np.isnan(a[..., :1]), axis=2)  # (B, T, 1)
    lo = np.clip((n - 1) // 2, 0, None)
    hi = np.clip(n // 2, 0, None)
    lo = np.minimum(lo, a.shape[2] - 1)
    hi = np.minimum(hi, a.shape[2] - 1)
    vlo = np.take_along_axis(s, lo[:, :, None, :].repeat(2, axis=3), axis=2)[:, :, 0]
    vhi = np.take_along_axis(s, hi[:, :, None, :].repeat(2, axis=3), axis=2)[:, :, 0]
    med = 0.5 * (vlo + vhi)
    med = np.where(n > 0, med, np.nan)
    return med, n[..., 0]


def _velocity(x: np.ndarray) -> np.ndarray:
    """Backward difference along axis 1; the first frame takes the second frame's value."""
    v = np.zeros_like(x)
    if x.shape[1] > 1:
        v[:, 1:] = x[:, 1:] - x[:, :-1]
        v[:, 0] = v[:, 1]
    return v


def _pair_observed(obs: np.ndarray) -> np.ndarray:
    """Observation mask of a backward difference along axis 1."""
    o = np.zeros_like(obs)
    if obs.shape[1] > 1:
        o[:, 1:] = obs[:, 1:] & obs[:, :-1]
        o[:, 0] = o[:, 1]
    return o


# ----------------------------------------------------------------------------------------------
# skeleton
# ----------------------------------------------------------------------------------------------
def median_pose(xy: np.ndarray) -> np.ndarray:
    """Median offset of each keypoint from the per-frame body centre.

    Parameters
    ----------
    xy : np.ndarray
        ``(T, K, 2)`` or ``(T, I, K, 2)`` pixel coordinates, NaN where missing.

    Returns
    -------
    np.ndarray
        ``(K, 2)`` float64 median offsets; 0 for keypoints never seen.
    """
    a = np.asarray(xy, dtype=np.float64)
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4 or a.shape[-1] != 2:
        raise ValueError(f"xy must have shape (T, K, 2) or (T, I, K, 2), got {a.shape}")
    t, i, k, _ = a.shape
    flat = a.reshape(t * i, k, 2)
    with np.errstate(all="ignore"):
        centre, _ = _nanmedian_axis2(flat[None])
        off = flat - centre[0][:, None, :]
    out = np.zeros((k, 2))
    for j in range(k):
        good = np.isfinite(off[:, j]).all(axis=1)
        if good.any():
            out[j] = np.median(off[good, j], axis=0)
    return out


def default_skeleton(
    bodyparts: Sequence[str], xy: np.ndarray | None = None
) -> list[tuple[str, str]]:
    """The feature representation's skeleton when the DLC config gives none.

    :func:`.skeleton.skeleton_edges` with ``method="mst"``: all pairs for up to 4 keypoints;
    otherwise a minimum spanning tree over the median keypoint distances of ``xy``
    (``(T, K, 2)`` or ``(T, I, K, 2)``), or, without data, a chain in bodypart order (DLC
    bodypart lists usually run from head to tail). A tree keeps the bone channels few
    (``B = K - 1``); the suspect rules use a denser graph (:func:`.labels.default_skeleton`).

    Parameters
    ----------
    bodyparts : sequence of str
        Keypoint names (the order of axis ``K``).
    xy : np.ndarray, optional
        Tracks the distances are measured on.

    Returns
    -------
    list of (str, str)
        Bones as pairs of bodypart names.
    """
    names = list(bodyparts)
    edges = skeleton_edges(len(names), xy, method="mst")
    return [(names[a], names[b]) for a, b in edges]


def _clean_skeleton(
    bodyparts: Sequence[str], skeleton: Sequence[Sequence[str]]
) -> list[tuple[str, str]]:
    index = {n: j for j, n in enumerate(bodyparts)}
    out: list[tuple[str, str]] = []
    seen: set[tuple[int, int]] = set()
    for pair in skeleton:
        if len(pair) != 2:
            raise ConfigError(f"skeleton entry {pair!r} is not a pair of bodypart names")
        a, b = str(pair[0]), str(pair[1])
        if a not in index or b not in index:
            logger.warning("skeleton bone %s-%s names an unknown bodypart; dropped", a, b)
            continue
        if a == b:
            continue
        key = (min(index[a], index[b]), max(index[a], index[b]))
        if key in seen:
            continue
        seen.add(key)
        out.append((a, b))
    return out


# ----------------------------------------------------------------------------------------------
# the representation
# ----------------------------------------------------------------------------------------------
class KeypointRepresentation:
    """Features of one individual's ``K`` keypoints (shared by all individuals of a project).

    Parameters
    ----------
    bodyparts : sequence of str
        Keypoint names (the order of axis ``K``).
    skeleton : sequence of (str, str), optional
        Bones as pairs of bodypart names (the DLC config's ``skeleton``); unknown names are
        dropped with a warning. None or empty: :func:`default_skeleton` (over ``pose_data``
        when given).
    fps : float, optional
        Frame rate, recorded in the spec (features are per frame).
    offsets : array-like, optional
        ``(K, 2)`` median offsets of each keypoint from the body centre, used to place a
        keypoint that has no value at all in a window (see :func:`median_pose`). Zero if not
        given.
    reference_bad_fraction : float
        The reference label is 1 where at least this fraction of keypoints is suspect or
        missing.
    pose_data : np.ndarray, optional
        ``(T, K, 2)`` or ``(T, I, K, 2)`` tracks used for the default skeleton and the offsets.
    use_default_skeleton : bool
        When False, an empty ``skeleton`` means no bones at all (used by :meth:`from_spec`).
    """

    name: str = REPRESENTATION_NAME
    version: int = REPRESENTATION_VERSION
    #: Features are relative to one origin per sequence: windows are used as they are.
    places_windows: bool = False

    def __init__(
        self,
        bodyparts: Sequence[str],
        skeleton: Sequence[Sequence[str]] | None = None,
        fps: float | None = None,
        *,
        offsets: np.ndarray | Sequence[Sequence[float]] | None = None,
        reference_bad_fraction: float = 0.5,
        pose_data: np.ndarray | None = None,
        use_default_skeleton: bool = True,
    ) -> None:
        names = [str(b) for b in bodyparts]
        if not names:
            raise ConfigError("a keypoint representation needs at least one bodypart")
        if len(set(names)) != len(names):
            raise ConfigError(f"bodypart names must be unique, got {names}")
        if not 0.0 < reference_bad_fraction <= 1.0:
            raise ConfigError("reference_bad_fraction must lie in (0, 1]")
        self.bodyparts: list[str] = names
        self.fps: float | None = float(fps) if fps is not None and fps > 0 else None
        self.reference_bad_fraction = float(reference_bad_fraction)
        if skeleton:
            bones = _clean_skeleton(names, skeleton)
        elif use_default_skeleton:
            bones = default_skeleton(names, pose_data)
        else:
            bones = []
        self.skeleton: list[tuple[str, str]] = bones
        k = len(names)
        if offsets is None:
            off = median_pose(pose_data) if pose_data is not None else np.zeros((k, 2))
        else:
            off = np.asarray(offsets, dtype=np.float64)
        if off.shape != (k, 2) or not np.isfinite(off).all():
            raise ConfigError(f"offsets must be a finite ({k}, 2) array, got shape {off.shape}")
        self.offsets = off
        idx = {n: j for j, n in enumerate(names)}
        self._bone_idx = np.array([(idx[a], idx[b]) for a, b in bones], dtype=np.int64).reshape(
            -1, 2
        )
        self._layout = self._build_layout()

    # -- sizes and slices ------------------------------------------------------------------
    @property
    def n_keypoints(self) -> int:
        """Number of keypoints ``K``."""
        return len(self.bodyparts)

    @property
    def n_bones(self) -> int:
        """Number of skeleton bones ``B``."""
        return len(self.skeleton)

    @property
    def n_features(self) -> int:
        """Feature size ``D = 4 + 4 K + 2 B``."""
        return 4 + 4 * self.n_keypoints + 2 * self.n_bones

    @property
    def n_labels(self) -> int:
        """Label channels ``L = K + 1`` (keypoints, then the reference)."""
        return self.n_keypoints + 1

    @property
    def reference_label(self) -> int:
        """Index of the reference label channel (``K``)."""
        return self.n_keypoints

    def slices(self) -> dict[str, slice]:
        """Feature-channel slices.

        ``ref``, ``ref_vel``, ``rel``, ``rel_vel``, ``bone``, ``bone_vel`` (``rel`` channels
        are ordered ``x_0, y_0, x_1, y_1, ...``).
        """
        k, b = self.n_keypoints, self.n_bones
        o = [0, 2, 4, 4 + 2 * k, 4 + 4 * k, 4 + 4 * k + b, 4 + 4 * k + 2 * b]
        keys = ["ref", "ref_vel", "rel", "rel_vel", "bone", "bone_vel"]
        return {n: slice(o[i], o[i + 1]) for i, n in enumerate(keys)}

    def _build_layout(self) -> LabelLayout:
        k = self.n_keypoints
        ref_lab = k
        lof: list[int] = []
        extra: list[tuple[int, ...]] = []
        names: list[str] = []
        for c in ("x", "y", "vx", "vy"):
            lof.append(ref_lab)
            extra.append(())
            names.append(f"ref_{c}")
        for pre in ("", "v"):
            for j, bp in enumerate(self.bodyparts):
                for c in ("x", "y"):
                    lof.append(j)
                    extra.append(())
                    names.append(f"{bp}_{pre}{c}")
        for pre in ("len", "dlen"):
            for (a, b), (na, nb) in zip(self._bone_idx, self.skeleton, strict=True):
                lof.append(int(a))
                extra.append((int(b),))
                names.append(f"{na}-{nb}_{pre}")
        return LabelLayout(
            n_features=self.n_features,
            n_labels=self.n_labels,
            label_of_feature=tuple(lof),
            extra_labels=tuple(extra),
            names=tuple(names),
        )

    @property
    def layout(self) -> LabelLayout:
        """Feature/label layout (see the module docstring)."""
        return self._layout

    # -- spec --------------------------------------------------------------------------------
    def spec(self) -> dict[str, Any]:
        """JSON-serialisable description saved into checkpoints and compared on load."""
        return {
            "name": self.name,
            "version": self.version,
            "bodyparts": list(self.bodyparts),
            "skeleton": [[a, b] for a, b in self.skeleton],
            "n_features": self.n_features,
            "n_labels": self.n_labels,
            "fps": self.fps,
            "reference": "median-of-interpolated-good",
            "reference_bad_fraction": self.reference_bad_fraction,
            "offsets": [[float(x), float(y)] for x, y in self.offsets],
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> KeypointRepresentation:
        """Rebuild a representation from :meth:`spec` output (e.g. read from a checkpoint)."""
        if spec.get("name") != REPRESENTATION_NAME:
            raise ConfigError(
                f"representation spec is {spec.get('name')!r}, expected {REPRESENTATION_NAME!r}"
            )
        if int(spec.get("version", -1)) != REPRESENTATION_VERSION:
            raise ConfigError(
                f"representation version {spec.get('version')} is not supported "
                f"(this code writes version {REPRESENTATION_VERSION})"
            )
        rep = cls(
            spec["bodyparts"],
            spec["skeleton"],
            spec.get("fps"),
            offsets=spec.get("offsets"),
            reference_bad_fraction=float(spec.get("reference_bad_fraction", 0.5)),
            use_default_skeleton=False,
        )
        if rep.n_features != int(spec.get("n_features", rep.n_features)):
            raise ConfigError(
                f"representation spec says {spec.get('n_features')} features, "
                f"rebuilt one has {rep.n_features}"
            )
        return rep

    # -- encode --------------------------------------------------------------------------------
    def _check(self, xy: np.ndarray, suspect: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        xy = np.asarray(xy, dtype=np.float64)
        k = self.n_keypoints
        if xy.ndim not in (3, 4) or xy.shape[-2:] != (k, 2):
            raise ValueError(
                f"xy must have shape (T, {k}, 2) or (B, T, {k}, 2) for bodyparts "
                f"{self.bodyparts}, got {xy.shape}"
            )
        if xy.shape[-3] < 1:
            raise ValueError("cannot encode an empty window (0 frames)")
        if suspect is None:
            sus = np.zeros(xy.shape[:-1], dtype=bool)
        else:
            sus = np.asarray(suspect, dtype=bool)
            if sus.shape != xy.shape[:-1]:
                raise ValueError(f"suspect must have shape {xy.shape[:-1]}, got {sus.shape}")
        return xy, sus

    def encode(
        self,
        xy: np.ndarray,
        suspect: np.ndarray | None = None,
        origin: np.ndarray | None = None,
    ) -> EncodedWindow:
        """Encode a window ``(T, K, 2)`` (or a batch ``(B, T, K, 2)``) of pixel coordinates.

        Parameters
        ----------
        xy : np.ndarray
            Pixel coordinates, NaN where missing (any non-finite value counts as missing).
        suspect : np.ndarray, optional
            ``(T, K)`` (or ``(B, T, K)``) bool, True for keypoints judged bad (labels module
            and/or injected corruption). Missing points are always labelled 1.
        origin : np.ndarray, optional
            ``(2,)`` (or ``(B, 2)``) pixel origin for the reference channels; by default the
            median of the window's reference rounded to whole pixels.

        Returns
        -------
        EncodedWindow
        """
        xy, sus = self._check(xy, suspect)
        single = xy.ndim == 3
        if single:
            xy, sus = xy[None], sus[None]
        bsz, t, k, _ = xy.shape

        present = np.isfinite(xy).all(axis=-1)  # (B, T, K)
        good = present & ~sus
        # best guess of every point from data: good values, else any present values
        guess, has_good = interp_fill(xy, good)
        need_pres = ~has_good & present.any(axis=1)  # (B, K) only suspect values in window
        if need_pres.any():
            interp_pres, _ = interp_fill(xy, present)
            guess = np.where(need_pres[:, None, :, None], interp_pres, guess)
        known = has_good | need_pres  # keypoint has any value in the window

        # reference: median over keypoints of (good values, interpolated elsewhere)
        ref_src = np.where(good[..., None], xy, guess)
        ref_src = np.where(known[:, None, :, None], ref_src, np.nan)
        with np.errstate(invalid="ignore"):
            ref, _ = _nanmedian_axis2(ref_src)  # (B, T, 2)
        empty = ~known.any(axis=1)  # (B,) windows with no data at all
        ref = np.where(empty[:, None, None], 0.0, ref)

        # origin and the float32-rounded reference used for rel (exact decode)
        if origin is None:
            org = np.round(np.median(ref, axis=1))
        else:
            org = np.broadcast_to(np.asarray(origin, dtype=np.float64), (bsz, 2)).copy()
        ref_rel = (ref - org[:, None, :]).astype(np.float32)
        ref_q = org[:, None, :] + ref_rel.astype(np.float64)  # what decode will add back

        # positions for features: present values as they are, missing ones filled
        fallback = ref[:, :, None, :] + self.offsets[None, None]
        guess = np.where(known[:, None, :, None], guess, fallback)
        pos = np.where(present[..., None], xy, guess)  # (B, T, K, 2) finite
        rel = pos - ref_q[:, :, None, :]
        rel_f = rel.astype(np.float32)

        rel_vel = _velocity(rel_f.astype(np.float64))
        ref_vel = _velocity(ref - org[:, None, :])
        bi = self._bone_idx
        if len(bi):
            bone = np.linalg.norm(pos[:, :, bi[:, 0]] - pos[:, :, bi[:, 1]], axis=-1)
        else:
            bone = np.zeros((bsz, t, 0))
        bone_vel = _velocity(bone)

        feats = np.concatenate(
            [
                ref_rel,
                ref_vel.astype(np.float32),
                rel_f.reshape(bsz, t, 2 * k),
                rel_vel.reshape(bsz, t, 2 * k).astype(np.float32),
                bone.astype(np.float32),
                bone_vel.astype(np.float32),
            ],
            axis=2,
        )

        # observation masks
        ref_obs = good.any(axis=2)  # (B, T)
        ref_obs2 = np.repeat(ref_obs[..., None], 2, axis=2)
        pres_xy = np.repeat(present, 2, axis=2)
        if len(bi):
            bone_obs = present[:, :, bi[:, 0]] & present[:, :, bi[:, 1]]
        else:
            bone_obs = np.zeros((bsz, t, 0), dtype=bool)
        observed = np.concatenate(
            [
                ref_obs2,
                _pair_observed(ref_obs2),
                pres_xy,
                _pair_observed(pres_xy),
                bone_obs,
                _pair_observed(bone_obs),
            ],
            axis=2,
        )

        bad = sus | ~present
        ref_bad = bad.mean(axis=2) >= self.reference_bad_fraction - 1e-12
        labels = np.concatenate([bad, ref_bad[..., None]], axis=2).astype(np.float32)

        if not np.isfinite(feats).all():
            big = float(np.abs(xy[present]).max()) if present.any() else float("nan")
            raise ValueError(
                f"keypoint coordinates too large for float32 features (max |xy| = {big:.3g} px)"
            )
        out = EncodedWindow(
            features=feats,
            labels=labels,
            observed=observed,
            origin=org,
            missing=~present,
            suspect=sus,
        )
        if single:
            out = EncodedWindow(
                features=out.features[0],
                labels=out.labels[0],
                observed=out.observed[0],
                origin=out.origin[0],
                missing=out.missing[0],
                suspect=out.suspect[0],
            )
        return out

    # -- decode --------------------------------------------------------------------------------
    def decode(self, features: np.ndarray, context: np.ndarray | None = None) -> np.ndarray:
        """Decode features ``(T, D)`` (or ``(B, T, D)``) back to pixels ``(T, K, 2)``.

        ``xy = origin + ref + rel``; velocities and bones are not used.

        Parameters
        ----------
        features : np.ndarray
            Raw (un-normalised) features as produced by :meth:`encode` (or generated).
        context : np.ndarray, optional
            The window's ``EncodedWindow.context`` (its pixel ``origin``, ``(2,)`` or
            ``(B, 2)``); zero if None.

        Returns
        -------
        np.ndarray
            float64 pixel coordinates ``(T, K, 2)`` (or ``(B, T, K, 2)``).
        """
        f = np.asarray(features)
        if f.shape[-1] != self.n_features or f.ndim not in (2, 3):
            raise ValueError(
                f"features must have shape (T, {self.n_features}) or (B, T, {self.n_features}),"
                f" got {f.shape}"
            )
        f = f.astype(np.float64)
        single = f.ndim == 2
        if single:
            f = f[None]
        bsz, t, _ = f.shape
        k = self.n_keypoints
        org = np.zeros(2) if context is None else np.asarray(context, np.float64)
        org = np.broadcast_to(org, (bsz, 2))
        ref = org[:, None, :] + f[:, :, 0:2]
        rel = f[:, :, 4 : 4 + 2 * k].reshape(bsz, t, k, 2)
        xy = ref[:, :, None, :] + rel
        return xy[0] if single else xy

    # -- windows -------------------------------------------------------------------------------
    def to_window(self, features: np.ndarray) -> tuple[np.ndarray, None]:
        """Identity: windows need no placing (see :attr:`places_windows`)."""
        return features, None

    def from_window(self, features: np.ndarray, frame: None = None) -> np.ndarray:
        """Identity (see :meth:`to_window`)."""
        return features

    def __repr__(self) -> str:
        return (
            f"KeypointRepresentation(K={self.n_keypoints}, bones={self.n_bones}, "
            f"D={self.n_features}, fps={self.fps})"
        )
