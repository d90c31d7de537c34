"""The data model of DeepLabCut pose tracks: :class:`Tracks`, and its DataFrame layout.

:class:`Tracks` holds ``xy`` ``(frames, individuals, keypoints, 2)``, ``likelihood``
``(frames, individuals, keypoints)``, the names, the row index and every piece of metadata a
file carried, so that :mod:`~stablemotion_dlc.dlc.io` can write back exactly what it read.
:meth:`Tracks.from_dataframe` / :meth:`Tracks.to_dataframe` convert to and from DeepLabCut's
own table (3- or 4-level column MultiIndex); files are read and written by
:func:`~stablemotion_dlc.dlc.io.read_tracks` / :func:`~stablemotion_dlc.dlc.io.write_tracks`.

Choices
-------
* Missing points are NaN in :attr:`Tracks.xy`. The placeholder style of the source is kept in
  ``meta["placeholder"]`` (``"nan"``, ``"-1"`` or ``"zero"``) and used for missing points on
  conversion back; the exact raw values of every missing point that the style alone would
  not reproduce are kept in ``meta["raw_points"]`` and restored while the point is still
  missing.
* Values are float64 in memory.
* Single-animal data have one individual named ``"animal"`` (DeepLabCut's own name when it
  converts single-animal tables); unique bodyparts live under ``"single"``.
"""

from __future__ import annotations

import copy as _copy
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stablemotion_dlc.errors import DLCFileError, FileProblemError

__all__ = ["SINGLE_ANIMAL_NAME", "UNIQUE_NAME", "Tracks"]

logger = logging.getLogger(__name__)

SINGLE_ANIMAL_NAME = "animal"
UNIQUE_NAME = "single"
_COORDS_FULL = ("x", "y", "likelihood")
_COORDS_XY = ("x", "y")
_LEVELS_SINGLE = ["scorer", "bodyparts", "coords"]
_LEVELS_MULTI = ["scorer", "individuals", "bodyparts", "coords"]
_PLACEHOLDERS = ("nan", "-1", "zero")
_INT_DTYPES = ("int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64")
_FAR_OUTSIDE = 0.5  # a point more than half a frame outside the frame is "far outside"
_ABSURD = 1e5  # without a frame size, |coordinate| above this is reported


@dataclass(eq=False)
class Tracks:
    """Pose tracks of one DLC output file.

    ``a == b`` is :meth:`equals` (NaN equal to NaN in the same places, ``meta`` compared
    too); a dataclass's generated ``==`` would raise on the arrays. Tracks are mutable and
    not hashable.

    Attributes
    ----------
    xy : np.ndarray
        ``(frames, individuals, keypoints, 2)`` float64 pixel coordinates; NaN where missing
        (placeholders such as ``-1`` or ``(0, 0, 0)`` are turned into NaN on read and restored
        on write by ``meta``).
    likelihood : np.ndarray or None
        ``(frames, individuals, keypoints)`` float64, or None for layouts without likelihood
        (labelled data). Values outside [0, 1] are kept as read.
    bodyparts : list of str
        Keypoint names along axis 2 (multi-animal bodyparts first, then unique bodyparts).
    individuals : list of str
        Individual names along axis 1; single-animal files have one individual (named
        after the file layout, see ``multianimal``); unique bodyparts live under ``"single"``.
    scorer : str
        The DLC scorer (network) name.
    index : pd.Index
        The frame index exactly as read (integers, image paths, or a MultiIndex).
    present : np.ndarray
        ``(individuals, keypoints)`` bool: which (individual, bodypart) columns exist in the
        file. Unique bodyparts exist only for ``"single"``; no point is ever invented.
    multianimal : bool
        True for the 4-level ``(scorer, individuals, bodyparts, coords)`` column layout.
    meta : dict
        Everything else needed to write the file back exactly (HDF key, placeholder style and
        the raw values of placeholder points, column order, dtypes, cropping offsets, fps,
        source path, warnings found while reading).
    """

    xy: np.ndarray
    likelihood: np.ndarray | None
    bodyparts: list[str]
    individuals: list[str]
    scorer: str
    index: pd.Index
    present: np.ndarray
    multianimal: bool
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        """Number of frames (rows)."""
        return int(self.xy.shape[0])

    @property
    def n_individuals(self) -> int:
        """Number of individuals (including ``"single"`` when present)."""
        return int(self.xy.shape[1])

    @property
    def n_keypoints(self) -> int:
        """Number of keypoints (bodyparts) along axis 2."""
        return int(self.xy.shape[2])

    # ------------------------------------------------------------------ extras
    @property
    def crop_offset(self) -> tuple[float, float]:
        """``(x1, y1)``: add to :attr:`xy` to get full-frame coordinates.

        DeepLabCut stores coordinates of a cropped analysis relative to the crop window
        (``make_labeled_video`` adds ``x1``/``y1`` of ``cropping_parameters`` when drawing on
        the full frame). ``(0, 0)`` when the analysis was not cropped or nothing is known.
        """
        if self.meta.get("cropping") and self.meta.get("cropping_parameters") is not None:
            x1, _, y1, _ = self.meta["cropping_parameters"]
            return float(x1), float(y1)
        return 0.0, 0.0

    @property
    def video_rows(self) -> bool:
        """True when the rows are a video's frames: an index of whole frame numbers.

        A DeepLabCut labelled-data file (``CollectedData_*``, ``machinelabels-iter*``) indexes
        its rows by image path (``labeled-data/<video>/img0012.png``, or the same split over
        three levels): its rows are labelled images picked from anywhere in one or more
        videos, with no motion between them to learn or clean.
        """
        idx = self.index
        if not isinstance(idx, pd.Index) or isinstance(idx, pd.MultiIndex):
            return False
        if pd.api.types.is_integer_dtype(idx):
            return True
        if pd.api.types.is_float_dtype(idx):  # whole numbers written as floats by a converter
            values = idx.to_numpy(np.float64)
            return bool(np.all(np.isfinite(values) & (values == np.round(values))))
        return all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in idx)

    def require_video_rows(self, doing: str = "cleaned") -> None:
        """Refuse a labelled-data file: its rows are images, not a video's frames.

        Parameters
        ----------
        doing : str
            What was asked ("cleaned", "trained on", ...), for the message.

        Raises
        ------
        FileProblemError
            When :attr:`video_rows` is False; the message names the file and the first row,
            and says what to pass instead.
        """
        if self.video_rows:
            return
        first = self.index[0] if len(self.index) else None
        if isinstance(first, tuple):
            first = "/".join(str(v) for v in first)
        raise FileProblemError(
            str(self.meta.get("source", "tracks")),
            f"labelled data, not a video's predictions: its {self.n_frames} rows are labelled "
            f"images (the first is {first!r}), not consecutive video frames, so there is no "
            f"motion to learn from or repair and it cannot be {doing}. Pass the DLC output of "
            f"a video (deeplabcut.analyze_videos) instead",
        )

    @property
    def animals(self) -> list[str]:
        """Individuals other than the unique-bodypart pseudo-individual ``"single"``."""
        return [i for i in self.individuals if i != UNIQUE_NAME or not self.multianimal]

    @property
    def unique_bodyparts(self) -> list[str]:
        """Bodyparts that exist only for ``"single"`` (empty without unique bodyparts)."""
        if not self.multianimal or UNIQUE_NAME not in self.individuals:
            return []
        s = self.individuals.index(UNIQUE_NAME)
        others = self.present[[i for i in range(self.n_individuals) if i != s]]
        only = self.present[s] & ~others.any(axis=0)
        return [b for b, u in zip(self.bodyparts, only, strict=True) if u]

    @property
    def has_likelihood(self) -> bool:
        """Whether the layout has a likelihood column per point."""
        return self.likelihood is not None

    # ------------------------------------------------------------------ equality
    def equals(self, other: object, *, meta: bool = True) -> bool:
        """Whether two :class:`Tracks` hold the same data.

        Arrays are compared by value with NaN equal to NaN in the same places (like
        :meth:`pandas.DataFrame.equals`); names, scorer, layout, ``present`` and the frame
        index (:meth:`pandas.Index.equals`) must match too.

        Parameters
        ----------
        other : object
            Anything; only a :class:`Tracks` can be equal.
        meta : bool, default True
            Also compare ``meta`` (NaN-aware through nested dicts, lists and arrays such as
            ``meta["raw_points"]``). False compares the tracks only, e.g. the same data read
            from a file's ``.h5`` and ``.csv`` twins (whose ``source`` differs).

        Returns
        -------
        bool
        """
        if not isinstance(other, Tracks):
            return False
        if self is other:
            return True
        if (
            list(self.bodyparts) != list(other.bodyparts)
            or list(self.individuals) != list(other.individuals)
            or self.scorer != other.scorer
            or bool(self.multianimal) != bool(other.multianimal)
            or (self.likelihood is None) != (other.likelihood is None)
        ):
            return False
        if not (_same_values(self.xy, other.xy) and _same_values(self.present, other.present)):
            return False
        if self.likelihood is not None and not _same_values(self.likelihood, other.likelihood):
            return False
        if not self.index.equals(other.index):
            return False
        return not meta or _same_values(self.meta, other.meta)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tracks):
            return NotImplemented
        return self.equals(other)

    def copy(self) -> Tracks:
        """Deep copy (arrays, index and meta)."""
        return Tracks(
            xy=self.xy.copy(),
            likelihood=None if self.likelihood is None else self.likelihood.copy(),
            bodyparts=list(self.bodyparts),
            individuals=list(self.individuals),
            scorer=self.scorer,
            index=self.index.copy(),
            present=self.present.copy(),
            multianimal=self.multianimal,
            meta=_copy.deepcopy(self.meta),
        )

    def select(
        self,
        frames: slice | Sequence[int] | np.ndarray | None = None,
        individuals: Sequence[str] | None = None,
        bodyparts: Sequence[str] | None = None,
    ) -> Tracks:
        """Return a new :class:`Tracks` restricted to some frames, individuals, bodyparts.

        Parameters
        ----------
        frames : slice, sequence of int or bool array, optional
            Frame positions (not index labels) to keep.
        individuals, bodyparts : sequence of str, optional
            Names to keep, in the order given.

        Returns
        -------
        Tracks
            A copy; raw placeholder values in ``meta`` follow the selection.
        """
        f_pos = np.arange(self.n_frames)
        if frames is not None:
            f_pos = f_pos[frames]
        i_pos = np.arange(self.n_individuals)
        if individuals is not None:
            i_pos = np.array(
                [_name_pos(self.individuals, n, "individual") for n in individuals], dtype=np.intp
            )
        k_pos = np.arange(self.n_keypoints)
        if bodyparts is not None:
            k_pos = np.array(
                [_name_pos(self.bodyparts, n, "bodypart") for n in bodyparts], dtype=np.intp
            )
        grid = np.ix_(f_pos, i_pos, k_pos)
        meta = _copy.deepcopy(self.meta)
        raw = meta.pop("raw_points", None)
        if raw is not None:
            new_raw = _select_raw(raw, self.n_frames, f_pos, i_pos, k_pos)
            if new_raw is not None:
                meta["raw_points"] = new_raw
        meta.pop("column_order", None)
        return Tracks(
            xy=self.xy[grid].copy(),
            likelihood=None if self.likelihood is None else self.likelihood[grid].copy(),
            bodyparts=[self.bodyparts[k] for k in k_pos],
            individuals=[self.individuals[i] for i in i_pos],
            scorer=self.scorer,
            index=self.index[f_pos],
            present=self.present[np.ix_(i_pos, k_pos)].copy(),
            multianimal=self.multianimal,
            meta=meta,
        )

    # ------------------------------------------------------------- builders
    @classmethod
    def from_arrays(
        cls,
        xy: np.ndarray,
        likelihood: np.ndarray | None = None,
        *,
        bodyparts: Sequence[str],
        individuals: Sequence[str] | None = None,
        scorer: str = "stablemotion",
        unique_bodyparts: Sequence[str] = (),
        index: pd.Index | Sequence[Any] | None = None,
        multianimal: bool | None = None,
        placeholder: str = "nan",
    ) -> Tracks:
        """Build :class:`Tracks` from arrays in memory.

        The arrays are always in the **combined** :class:`Tracks` layout: when
        ``unique_bodyparts`` are given, ``xy`` has shape
        ``(F, len(individuals) + 1, len(bodyparts) + len(unique_bodyparts), 2)`` where the
        extra last individual is ``"single"`` and the extra last keypoints are the unique
        bodyparts. Only (animal, animal bodypart) and (``"single"``, unique bodypart) cells
        exist (``present``); values in the other cells are ignored and set to NaN (a warning
        is logged when they were finite). ``individuals`` may list ``"single"`` last
        explicitly or leave it out.

        Parameters
        ----------
        xy : np.ndarray
            ``(F, I, K, 2)`` coordinates; NaN for missing points.
        likelihood : np.ndarray, optional
            ``(F, I, K)``; None writes an x/y-only (labelled-data) layout.
        bodyparts : sequence of str
            Animal bodyparts (``K`` names without unique bodyparts).
        individuals : sequence of str, optional
            Animal names; None means one animal (``"animal"``).
        scorer : str
            Scorer name written in the first column level.
        unique_bodyparts : sequence of str
            Unique bodyparts, stored under the pseudo-individual ``"single"``.
        index : pd.Index or sequence, optional
            Frame index; default ``0..F-1`` as int64.
        multianimal : bool, optional
            4-level column layout; default True when ``individuals`` or
            ``unique_bodyparts`` are given, else False.
        placeholder : {"nan", "-1", "zero"}
            How missing points are written.

        Returns
        -------
        Tracks
        """
        bodyparts = [str(b) for b in bodyparts]
        unique = [str(b) for b in unique_bodyparts]
        if multianimal is None:
            multianimal = individuals is not None or bool(unique)
        if individuals is None:
            animals = [SINGLE_ANIMAL_NAME]
        else:
            animals = [str(i) for i in individuals]
            if unique and animals and animals[-1] == UNIQUE_NAME:
                animals = animals[:-1]
        if not multianimal and (len(animals) != 1 or unique):
            raise ValueError(
                "a single-animal layout has exactly one individual and no "
                "unique bodyparts; pass multianimal=True"
            )
        if placeholder not in _PLACEHOLDERS:
            raise ValueError(f"placeholder must be one of {_PLACEHOLDERS}, got {placeholder!r}")
        _check_unique_names(bodyparts, "bodyparts")
        _check_unique_names(animals, "individuals")
        _check_unique_names(unique, "unique_bodyparts")
        if set(unique) & set(bodyparts):
            raise ValueError(
                f"unique bodyparts {sorted(set(unique) & set(bodyparts))} are also animal bodyparts"
            )
        xy = np.array(xy, dtype=np.float64, copy=True)
        all_parts = bodyparts + unique
        all_inds = animals + ([UNIQUE_NAME] if unique else [])
        expected = (len(all_inds), len(all_parts), 2)
        if xy.ndim != 4 or xy.shape[1:] != expected:
            raise ValueError(
                f"xy must have shape (F, {expected[0]}, {expected[1]}, 2) for "
                f"{len(animals)} animal(s), {len(bodyparts)} bodypart(s) and "
                f"{len(unique)} unique bodypart(s); got {xy.shape}"
            )
        n_frames = xy.shape[0]
        if likelihood is not None:
            likelihood = np.array(likelihood, dtype=np.float64, copy=True)
            if likelihood.shape != xy.shape[:3]:
                raise ValueError(
                    f"likelihood must have shape {xy.shape[:3]}, got {likelihood.shape}"
                )
        present = np.zeros(expected[:2], dtype=bool)
        present[: len(animals), : len(bodyparts)] = True
        if unique:
            for u in unique:
                present[-1, all_parts.index(u)] = True
        absent = ~present
        if absent.any():
            if np.isfinite(xy[:, absent]).any():
                logger.warning(
                    "from_arrays: finite values in (individual, bodypart) cells "
                    "that do not exist in the layout were dropped"
                )
            xy[:, absent] = np.nan
            if likelihood is not None:
                likelihood[:, absent] = np.nan
        if index is None:
            index = pd.Index(np.arange(n_frames, dtype=np.int64))
        elif not isinstance(index, pd.Index):
            index = pd.Index(index)
        if len(index) != n_frames:
            raise ValueError(f"index has {len(index)} entries for {n_frames} frames")
        coords = list(_COORDS_FULL if likelihood is not None else _COORDS_XY)
        meta: dict[str, Any] = {
            "placeholder": placeholder,
            "coords": coords,
            "column_names": list(_LEVELS_MULTI if multianimal else _LEVELS_SINGLE),
            "warnings": [],
        }
        return cls(
            xy=xy,
            likelihood=likelihood,
            bodyparts=all_parts,
            individuals=all_inds,
            scorer=str(scorer),
            index=index,
            present=present,
            multianimal=bool(multianimal),
            meta=meta,
        )

    @classmethod
    def from_dataframe(
        cls,
        df: pd.DataFrame,
        *,
        source: str | Path = "<DataFrame>",
        meta: dict[str, Any] | None = None,
    ) -> Tracks:
        """Build :class:`Tracks` from a DLC-style DataFrame.

        Parameters
        ----------
        df : pd.DataFrame
            Columns ``(scorer, bodyparts, coords)`` or ``(scorer, individuals, bodyparts,
            coords)``; rows are frames.
        source : str or Path
            Name used in error messages and ``meta["source"]``.
        meta : dict, optional
            Extra entries merged into ``meta``.

        Returns
        -------
        Tracks

        Raises
        ------
        DLCFileError
            If the frame is not in a DLC layout.
        """
        return _tracks_from_df(df, Path(str(source)), meta or {})

    def to_dataframe(self, *, raw: bool = True) -> pd.DataFrame:
        """Return the DLC-style DataFrame that :func:`write_tracks` writes.

        Parameters
        ----------
        raw : bool
            True writes missing points in the ``meta["placeholder"]`` style and restores
            raw placeholder values; False leaves every missing point NaN.

        Returns
        -------
        pd.DataFrame
        """
        return _tracks_to_df(self, raw=raw)


# ============================================================================ helpers
def _same_values(a: Any, b: Any) -> bool:
    """Deep, NaN-aware equality of arrays and of (nested) dicts, lists and tuples of them.

    Lists and tuples compare item by item (a tuple equals the list of the same items); any
    other pair of values by ``==`` (False when that fails or is ambiguous).
    """
    if isinstance(a, dict) or isinstance(b, dict):
        return (
            isinstance(a, dict)
            and isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_same_values(a[key], b[key]) for key in a)
        )
    if isinstance(a, (np.ndarray, pd.Index)) or isinstance(b, (np.ndarray, pd.Index)):
        x, y = np.asarray(a), np.asarray(b)
        if x.shape != y.shape:
            return False
        nan_ok = all(v.dtype.kind in "fc" for v in (x, y))
        return bool(np.array_equal(x, y, equal_nan=nan_ok))
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (
            isinstance(a, (list, tuple))
            and isinstance(b, (list, tuple))
            and len(a) == len(b)
            and all(_same_values(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, (float, np.floating)) and isinstance(b, (float, np.floating)):
        return bool(a == b or (np.isnan(a) and np.isnan(b)))
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _name_pos(names: list[str], name: str, what: str) -> int:
    try:
        return names.index(name)
    except ValueError:
        raise KeyError(f"unknown {what} {name!r}; known: {names}") from None


def _check_unique_names(names: list[str], what: str) -> None:
    seen: set[str] = set()
    dup = []
    for n in names:
        if n in seen:
            dup.append(n)
        seen.add(n)
    if dup:
        raise ValueError(f"duplicate {what}: {sorted(set(dup))}")


def _select_raw(
    raw: dict[str, Any], n_frames: int, f_pos: np.ndarray, i_pos: np.ndarray, k_pos: np.ndarray
) -> dict[str, Any] | None:
    """Re-index raw placeholder records after a selection (None when nothing is left)."""
    if raw.get("n_frames") != n_frames:
        return None
    fmap = np.full(n_frames, -1, dtype=np.int64)
    fmap[f_pos] = np.arange(len(f_pos))
    imap = np.full(max(int(raw["ind"].max(initial=0)) + 1, int(i_pos.max(initial=0)) + 1), -1)
    imap[i_pos] = np.arange(len(i_pos))
    kmap = np.full(max(int(raw["kp"].max(initial=0)) + 1, int(k_pos.max(initial=0)) + 1), -1)
    kmap[k_pos] = np.arange(len(k_pos))
    f, i, k = fmap[raw["frame"]], imap[raw["ind"]], kmap[raw["kp"]]
    keep = (f >= 0) & (i >= 0) & (k >= 0)
    if not keep.any():
        return None
    return {
        "n_frames": len(f_pos),
        "frame": f[keep],
        "ind": i[keep],
        "kp": k[keep],
        "values": raw["values"][keep],
        "canon_l": raw["canon_l"][keep],
    }


def _bits_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise bit equality of float64 arrays (NaN == NaN with the same payload)."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    return a.view(np.uint64) == b.view(np.uint64)


def _encode(
    xy: np.ndarray, lik: np.ndarray | None, style: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """Write missing points (both coordinates NaN) in a placeholder style."""
    if style == "nan":
        return xy, lik
    out = xy.copy()
    missing = np.isnan(xy[..., 0]) & np.isnan(xy[..., 1])
    value = -1.0 if style == "-1" else 0.0
    out[missing] = value
    if lik is not None and style == "-1":
        lik = lik.copy()
        lik[missing & np.isnan(lik)] = -1.0
    return out, lik


def _stack(xy: np.ndarray, lik: np.ndarray | None) -> np.ndarray:
    """``(F, I, K, C)`` array of x, y[, likelihood]."""
    if lik is None:
        return xy
    return np.concatenate([xy, lik[..., None]], axis=-1)


# ====================================================================== DataFrame -> Tracks
def _norm_scorer(values: list[str], path: Path, warns: list[str]) -> str:
    uniq = list(dict.fromkeys(values))
    if len(uniq) == 1:
        return uniq[0]
    base = list(dict.fromkeys(re.sub(r"\.\d+$", "", v) for v in uniq))
    if len(base) == 1:
        warns.append(
            f"scorer row was de-duplicated ('{base[0]}.1', '{base[0]}.2', ...); "
            f"normalised to '{base[0]}'"
        )
        return base[0]
    raise DLCFileError(path, f"several scorers in one file: {uniq[:5]}")


def _detect_prefixes(bodyparts: list[str]) -> list[str] | None:
    """Prefixes such as ``B_``/``W_`` of the old two-animal single-animal layout."""
    if len(bodyparts) < 4:
        return None
    split = [re.match(r"^([A-Za-z0-9]{1,3}_)(.+)$", b) for b in bodyparts]
    groups: dict[str, set[str]] = {}
    for m in split:
        if m is None:
            return None
        groups.setdefault(m.group(1), set()).add(m.group(2))
    if len(groups) < 2:
        return None
    sets = list(groups.values())
    if all(s == sets[0] for s in sets) and len(sets[0]) >= 2:
        return sorted(groups)
    return None


def _tracks_from_df(df: pd.DataFrame, path: Path, extra: dict[str, Any]) -> Tracks:
    warns: list[str] = list(extra.pop("warnings", []))
    cols = df.columns
    if not isinstance(cols, pd.MultiIndex) or cols.nlevels not in (3, 4):
        raise DLCFileError(
            path,
            "not a DeepLabCut table: columns must have 3 levels "
            "(scorer, bodyparts, coords) or 4 (scorer, individuals, bodyparts, "
            f"coords); found {cols.nlevels} level(s)",
        )
    if df.shape[0] == 0:
        raise DLCFileError(path, "zero frames (no data rows)")
    multianimal = cols.nlevels == 4
    tuples = [tuple(str(v) for v in t) for t in cols]
    if len(set(tuples)) != len(tuples):
        seen: set[tuple[str, ...]] = set()
        dups = []
        for t in tuples:
            if t in seen:
                dups.append(t)
            seen.add(t)
        raise DLCFileError(path, f"duplicate columns: {dups[:5]}")
    coord_vals = [t[-1] for t in tuples]
    bad = sorted(set(coord_vals) - set(_COORDS_FULL))
    if bad:
        raise DLCFileError(
            path,
            f"not a DeepLabCut table: unknown coords {bad[:5]} (expected "
            "x, y and optionally likelihood)",
        )
    coords = [c for c in _COORDS_FULL if c in coord_vals]
    if "x" not in coords or "y" not in coords:
        raise DLCFileError(path, "not a DeepLabCut table: no x/y coordinate columns")
    scorer = _norm_scorer([t[0] for t in tuples], path, warns)
    if multianimal:
        point_keys = [(t[1], t[2]) for t in tuples]
    else:
        point_keys = [(SINGLE_ANIMAL_NAME, t[1]) for t in tuples]
    individuals = list(dict.fromkeys(k[0] for k in point_keys))
    bodyparts = list(dict.fromkeys(k[1] for k in point_keys))
    # every point must have every coord exactly once
    counts: dict[tuple[str, str], list[str]] = {}
    for key, c in zip(point_keys, coord_vals, strict=True):
        counts.setdefault(key, []).append(c)
    for key, cs in counts.items():
        if sorted(cs) != sorted(coords):
            who = f"{key[0]}/{key[1]}" if multianimal else key[1]
            raise DLCFileError(path, f"bodypart {who} has coords {cs}, expected {coords}")
    i_of = {n: i for i, n in enumerate(individuals)}
    k_of = {n: k for k, n in enumerate(bodyparts)}
    c_of = {n: c for c, n in enumerate(coords)}
    ii = np.fromiter((i_of[k[0]] for k in point_keys), dtype=np.intp, count=len(tuples))
    kk = np.fromiter((k_of[k[1]] for k in point_keys), dtype=np.intp, count=len(tuples))
    cc = np.fromiter((c_of[c] for c in coord_vals), dtype=np.intp, count=len(tuples))
    n_i, n_k, n_c = len(individuals), len(bodyparts), len(coords)
    present = np.zeros((n_i, n_k), dtype=bool)
    present[ii, kk] = True
    # canonical column order: individuals, bodyparts (per individual), coords
    canon = np.lexsort((cc, kk, ii))
    column_order = None if np.array_equal(canon, np.arange(len(tuples))) else canon.tolist()

    dtypes = df.dtypes
    dtype_names = [str(d) for d in dtypes]
    try:
        if all(d in ("float64", "float32", "int64", "int32") for d in dtype_names):
            data = df.to_numpy(dtype=np.float64, copy=False)
        else:
            data = df.apply(pd.to_numeric, errors="raise").to_numpy(dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise DLCFileError(path, f"non-numeric cells in the data: {exc}") from None
    n_frames = data.shape[0]
    # columns in canonical (individual, bodypart, coord) order: one block per point
    if column_order is not None:
        data = data[:, canon]
    points = data.reshape(n_frames, -1, n_c)
    lik = None
    if present.all():
        xy = np.array(points[..., :2], order="C", copy=True).reshape(n_frames, n_i, n_k, 2)
        if n_c == 3:
            lik = np.array(points[..., 2], order="C", copy=True).reshape(n_frames, n_i, n_k)
    else:
        p_i, p_k = np.nonzero(present)
        xy = np.full((n_frames, n_i, n_k, 2), np.nan)
        xy[:, p_i, p_k] = points[..., :2]
        if n_c == 3:
            lik = np.full((n_frames, n_i, n_k), np.nan)
            lik[:, p_i, p_k] = points[..., 2]

    x, y = xy[..., 0], xy[..., 1]
    is_m1 = (x == -1.0) & (y == -1.0)
    is_zero = (x == 0.0) & (y == 0.0)
    n_m1, n_zero = int(is_m1.sum()), int(is_zero.sum())
    style = "-1" if n_m1 > n_zero else ("zero" if n_zero else "nan")
    raw_points = None
    if style != "nan":
        # every missing point (placeholder or NaN); keep the raw values that the style
        # alone would not write back
        cand = (is_m1 | is_zero | (np.isnan(x) & np.isnan(y))) & present[None]
        f, i, k = np.nonzero(cand)
        raw_vals = xy[f, i, k] if lik is None else np.column_stack([xy[f, i, k], lik[f, i, k]])
        xy[is_m1 | is_zero] = np.nan
        canon_l = np.full(len(f), np.nan)
        if lik is not None:
            lik[is_m1 & (lik == -1.0)] = np.nan
            canon_l = lik[f, i, k]
        value = -1.0 if style == "-1" else 0.0
        enc = np.full(raw_vals.shape, value)
        if lik is not None:
            enc[:, 2] = np.where(np.isnan(canon_l), -1.0, canon_l) if style == "-1" else canon_l
        differs = ~_bits_equal(enc, raw_vals).all(axis=-1)
        if differs.any():
            raw_points = {
                "n_frames": n_frames,
                "frame": f[differs].astype(np.int64),
                "ind": i[differs].astype(np.int64),
                "kp": k[differs].astype(np.int64),
                "values": raw_vals[differs],
                "canon_l": canon_l[differs],
            }
    if n_m1 or n_zero:
        kinds = []
        if n_m1:
            kinds.append(f"{n_m1} (-1, -1) point(s)")
        if n_zero:
            kinds.append(f"{n_zero} (0, 0) point(s)")
        warns.append(f"missing-point placeholders turned into NaN: {', '.join(kinds)}")
    meta: dict[str, Any] = {
        "source": str(path),
        "placeholder": style,
        "coords": coords,
        "column_names": [None if n is None else str(n) for n in cols.names],
        "dtype": dtype_names[0] if len(set(dtype_names)) == 1 else None,
        "warnings": warns,
    }
    if meta["dtype"] is None:
        meta["dtypes"] = dtype_names
    if column_order is not None:
        meta["column_order"] = column_order
    if raw_points is not None:
        meta["raw_points"] = raw_points
    if (not multianimal) and (pref := _detect_prefixes(bodyparts)):
        meta["bodypart_prefixes"] = pref
        warns.append(
            f"single-animal layout with prefixed bodyparts {pref} (old multi-animal "
            "convention); read as one individual"
        )
    meta.update(extra)
    tracks = Tracks(
        xy=xy,
        likelihood=lik,
        bodyparts=bodyparts,
        individuals=individuals,
        scorer=scorer,
        index=df.index.copy(),
        present=present,
        multianimal=multianimal,
        meta=meta,
    )
    _check_values(tracks)
    for w in tracks.meta["warnings"]:
        logger.warning("%s: %s", path, w)
    return tracks


def _check_values(tracks: Tracks) -> None:
    """Add warnings about empty keypoints, out-of-frame coordinates and bad likelihoods."""
    warns = tracks.meta.setdefault("warnings", [])
    xy, present = tracks.xy, tracks.present
    # fmax ignores NaN: NaN over all frames and both coordinates means no data at all
    empty = (
        np.isnan(np.fmax.reduce(xy, axis=0)).all(axis=-1)
        if xy.shape[0]
        else np.ones(present.shape, dtype=bool)
    ) & present
    if empty.any():
        names = [
            f"{tracks.individuals[i]}/{tracks.bodyparts[k]}"
            if tracks.multianimal
            else tracks.bodyparts[k]
            for i, k in zip(*np.nonzero(empty), strict=True)
        ]
        warns.append(f"all-NaN keypoint(s) (kept): {names}")
    size = tracks.meta.get("frame_size")
    gmin = float(np.fmin.reduce(xy, axis=None)) if xy.size else np.nan
    gmax = float(np.fmax.reduce(xy, axis=None)) if xy.size else np.nan
    with np.errstate(invalid="ignore"):
        n_far = 0
        if size is not None:
            w, h = float(size[0]), float(size[1])
            x0, y0 = tracks.crop_offset
            lo = (-_FAR_OUTSIDE * w - x0, -_FAR_OUTSIDE * h - y0)
            hi = ((1 + _FAR_OUTSIDE) * w - x0, (1 + _FAR_OUTSIDE) * h - y0)
            where = f"outside the {w:g}x{h:g} frame by more than half a frame"
        else:
            lo, hi = (-_ABSURD, -_ABSURD), (_ABSURD, _ABSURD)
            where = f"with |coordinate| > {_ABSURD:g} px"
        if not np.isnan(gmin) and (gmin < max(lo) or gmax > min(hi)):
            xs, ys = xy[..., 0], xy[..., 1]
            n_far = int(((xs < lo[0]) | (xs > hi[0]) | (ys < lo[1]) | (ys > hi[1])).sum())
        if n_far:
            warns.append(f"{n_far} point(s) {where} (kept)")
        lik = tracks.likelihood
        if lik is not None and lik.size and not np.isnan(np.fmax.reduce(lik, axis=None)):
            lmin = float(np.fmin.reduce(lik, axis=None))
            lmax = float(np.fmax.reduce(lik, axis=None))
            if lmin < 0 or lmax > 1:
                n_out = int(((lik < 0) | (lik > 1)).sum())
                warns.append(
                    f"{n_out} likelihood value(s) outside [0, 1] (kept, not clipped; "
                    f"range {lmin:g}..{lmax:g})"
                )


# ====================================================================== Tracks -> DataFrame
def _columns(tracks: Tracks) -> tuple[pd.MultiIndex, np.ndarray, np.ndarray, np.ndarray]:
    """Column MultiIndex in file order, with each column's (individual, bodypart, coord)."""
    coords = list(
        tracks.meta.get("coords") or (_COORDS_FULL if tracks.likelihood is not None else _COORDS_XY)
    )
    if (tracks.likelihood is None) != (coords == list(_COORDS_XY)):
        coords = list(_COORDS_FULL if tracks.likelihood is not None else _COORDS_XY)
    ii, kk = np.nonzero(tracks.present)
    n_c = len(coords)
    ii = np.repeat(ii, n_c)
    kk = np.repeat(kk, n_c)
    cc = np.tile(np.arange(n_c), len(ii) // n_c if n_c else 0)
    order = tracks.meta.get("column_order")
    if order is not None and len(order) == len(ii):
        inv = np.empty(len(order), dtype=np.intp)
        inv[np.asarray(order)] = np.arange(len(order))
        ii, kk, cc = ii[inv], kk[inv], cc[inv]
    if tracks.multianimal:
        arrays = [
            [tracks.scorer] * len(ii),
            [tracks.individuals[i] for i in ii],
            [tracks.bodyparts[k] for k in kk],
            [coords[c] for c in cc],
        ]
        names = _LEVELS_MULTI
    else:
        if tracks.n_individuals != 1:
            raise ValueError("a single-animal Tracks must have exactly one individual")
        arrays = [
            [tracks.scorer] * len(ii),
            [tracks.bodyparts[k] for k in kk],
            [coords[c] for c in cc],
        ]
        names = _LEVELS_SINGLE
    given = tracks.meta.get("column_names")
    if given is not None and len(given) == len(names):
        names = list(given)
    return pd.MultiIndex.from_arrays(arrays, names=names), ii, kk, cc


def _tracks_to_df(tracks: Tracks, raw: bool = True) -> pd.DataFrame:
    xy = np.asarray(tracks.xy, dtype=np.float64)
    lik = tracks.likelihood
    if xy.ndim != 4 or xy.shape[-1] != 2:
        raise ValueError(f"Tracks.xy must be (F, I, K, 2); got {xy.shape}")
    if tracks.present.shape != xy.shape[1:3]:
        raise ValueError(f"Tracks.present {tracks.present.shape} does not match xy {xy.shape}")
    if len(tracks.index) != xy.shape[0]:
        raise ValueError(f"Tracks.index has {len(tracks.index)} entries for {xy.shape[0]} frames")
    if lik is not None:
        lik = np.asarray(lik, dtype=np.float64)
        if lik.shape != xy.shape[:3]:
            raise ValueError(f"Tracks.likelihood {lik.shape} does not match xy {xy.shape}")
    columns, ii, kk, cc = _columns(tracks)
    if raw:
        style = tracks.meta.get("placeholder", "nan")
        if style not in _PLACEHOLDERS:
            raise ValueError(f"meta['placeholder'] must be one of {_PLACEHOLDERS}")
        enc_xy, enc_l = _encode(xy, lik, style)
        full = _stack(enc_xy, enc_l)
        rp = tracks.meta.get("raw_points")
        if rp is not None and len(rp["frame"]):
            if rp.get("n_frames") != xy.shape[0] or rp["values"].shape[1] != full.shape[-1]:
                logger.warning(
                    "raw placeholder values in meta do not match the tracks' shape; "
                    "missing points are written in the %r style",
                    style,
                )
            else:
                f, i, k = rp["frame"], rp["ind"], rp["kp"]
                still = np.isnan(xy[f, i, k]).all(axis=-1)
                if lik is not None:
                    still &= _bits_equal(lik[f, i, k], rp["canon_l"])
                if still.any():
                    full = full.copy() if full is xy else full
                    full[f[still], i[still], k[still]] = rp["values"][still]
    else:
        full = _stack(xy, lik)
    n_f, n_c = full.shape[0], full.shape[-1]
    if tracks.present.all():
        data = np.ascontiguousarray(full).reshape(n_f, -1)
    else:
        p_i, p_k = np.nonzero(tracks.present)
        data = full[:, p_i, p_k].reshape(n_f, -1)
    order = tracks.meta.get("column_order")
    if order is not None and len(order) == data.shape[1]:
        inv = np.empty(len(order), dtype=np.intp)
        inv[np.asarray(order)] = np.arange(len(order))
        data = data[:, inv]
    if n_c != len(columns) // max(1, int(tracks.present.sum())):
        raise ValueError("coords in meta do not match the likelihood array")
    df = pd.DataFrame(data, index=tracks.index.copy(), columns=columns, copy=False)
    dtypes = tracks.meta.get("dtypes")
    if dtypes is None or len(dtypes) != df.shape[1]:
        dtypes = [tracks.meta.get("dtype") or "float64"] * df.shape[1]
    if any(d != "float64" for d in dtypes):
        nan_cols = np.isnan(data).any(axis=0)
        cast = {}
        for col, d, has_nan in zip(df.columns, dtypes, nan_cols, strict=True):
            if d == "float32" or (d in _INT_DTYPES and not has_nan):
                cast[col] = d  # the file's own dtype (values came from it)
        if cast:
            df = df.astype(cast)
    return df
