"""Read and write DeepLabCut pose files (``.h5`` / ``.csv``) without losing data.

The data model is :class:`~stablemotion_dlc.dlc.tracks.Tracks`. :func:`read_tracks`
understands every DLC layout we have met (single-animal, multi-animal, unique bodyparts,
tracklet ``_el.h5`` files, labelled data with image-path or 3-level row indices, CSVs with
de-duplicated scorer rows, ``-1`` and ``(0, 0[, 0])`` missing placeholders) and
:func:`write_tracks` writes it back so that ``read -> write -> read`` gives bit-identical
arrays.

Choices
-------
* Missing points are NaN in :attr:`Tracks.xy`. The placeholder style of the file is kept in
  ``meta["placeholder"]`` (``"nan"``, ``"-1"`` or ``"zero"``) and used for missing points on
  write; the exact raw values of every missing point that the style alone would not
  reproduce are kept in ``meta["raw_points"]`` and restored on write while the point is still
  missing. For ``"-1"`` files a likelihood of ``-1`` at a placeholder point becomes NaN; for
  ``"zero"`` files the likelihood (usually 0) is kept as read.
* HDF5 output always uses the key ``df_with_missing`` in ``format="table"`` (what DLC's
  ``filterpredictions`` writes and what DLC's readers expect), also for data read from a
  tracklet ``_el.h5`` (key ``tracks``), ``df`` or ``calib`` file; the key read is kept in
  ``meta["hdf_key"]`` and ``meta["write_key"]`` (or ``write_tracks(key=...)``) overrides it.
* CSV output has DLC's 3 or 4 header rows and one index column (or one per level of a row
  MultiIndex, as DLC writes labelled data); the scorer row is written normalised (without
  ``.1`` suffixes); index names are not written (DLC never writes them).
* Values are float64 in memory; the file's column dtype (``meta["dtype"]``, e.g. float32
  labels) is used again for HDF5 output (integer columns only while they hold no NaN);
  CSV text is always written as float64 shortest round-trip text.
* Single-animal files have one individual named ``"animal"`` (DeepLabCut's own name when it
  converts single-animal tables); unique bodyparts live under ``"single"``.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stablemotion_dlc._atomic import atomic_path
from stablemotion_dlc._safe_pickle import safe_load_path
from stablemotion_dlc.errors import DLCFileError

from ._float_text import CELL_W, repr_cells
from .constants import TRACK_METHODS
from .tracks import (
    _COORDS_FULL,
    Tracks,
    _tracks_from_df,
    _tracks_to_df,
)

__all__ = [
    "read_tracks",
    "write_tracks",
    "input_files",
    "hdf_store_without_times",
]

logger = logging.getLogger(__name__)

_META_PICKLE_MAX_BYTES = 64 * 2**20  # DLC meta pickles are a few kB
#: Texts read as a missing value in CSV data cells: pandas' defaults (what DLC reads with).
_NA_TEXT = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)


# ============================================================================ readers
def _load_meta_pickle(path: Path, meta: dict[str, Any]) -> None:
    """Look for DLC's ``<stem><scorer>_meta.pickle`` next to ``path``; fill ``meta``."""
    stem = path.stem
    stems = [stem]
    base = re.sub(r"_filtered$", "", stem)
    for suffix in TRACK_METHODS.values():
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    stems.append(base)
    for s in dict.fromkeys(stems):
        cand = path.with_name(f"{s}_meta.pickle")
        if not cand.is_file():
            continue
        try:
            # restricted: plain data only, so a crafted meta file cannot run code
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                obj = safe_load_path(cand, max_bytes=_META_PICKLE_MAX_BYTES)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is just reported
            meta["warnings"].append(f"{cand.name} ignored (not read): {exc}")
            return
        data = obj.get("data", obj) if isinstance(obj, dict) else None
        if not isinstance(data, dict):
            meta["warnings"].append(f"{cand.name} is not a DLC metadata pickle")
            return
        try:
            found = _meta_from_pickle(data)
        except (TypeError, ValueError, OverflowError, KeyError, IndexError) as exc:
            meta["warnings"].append(f"{cand.name} ignored: not a DLC metadata pickle ({exc})")
            return
        meta["meta_pickle"] = str(cand)
        meta.update(found)
        return


def _meta_from_pickle(data: dict[str, Any]) -> dict[str, Any]:
    """The fields read from DLC's metadata dict; raises on values of the wrong type."""
    out: dict[str, Any] = {}
    if data.get("fps") is not None:
        out["fps"] = float(data["fps"])
    if data.get("nframes") is not None:
        out["nframes"] = int(data["nframes"])
    crop = data.get("cropping_parameters")
    if crop is not None and len(crop) == 4:
        out["cropping_parameters"] = [float(v) for v in crop]
    out["cropping"] = bool(data.get("cropping", False))
    dims = data.get("frame_dimensions")
    if dims is not None and len(dims) == 2:
        # DLC 3 (PyTorch) stores (w, h); DLC 2 (TensorFlow) stored (ny, nx)
        a, b = int(dims[0]), int(dims[1])
        w, h = (a, b) if "pytorch-config" in data else (b, a)
        if not out["cropping"] and crop is not None and len(crop) == 4:
            cw, chh = int(crop[1] - crop[0]), int(crop[3] - crop[2])
            if (cw, chh) == (b, a) and (a, b) != (b, a):
                w, h = b, a
            elif (cw, chh) == (a, b):
                w, h = a, b
        if out["cropping"] and crop is not None and len(crop) == 4:
            w, h = int(crop[1] - crop[0]), int(crop[3] - crop[2])
        out["frame_size"] = (w, h)
    fps = out.get("fps")
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps {fps!r} is not a positive number")
    return out


def _read_h5(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    signature = b"\x89HDF\r\n\x1a\n"
    with open(path, "rb") as fh:
        head = fh.read(4096 + 8)
    if not head:
        raise DLCFileError(path, "empty file")
    # the superblock is at 0 or after a user block of 512, 1024, 2048... bytes
    if not any(head[o : o + 8] == signature for o in (0, 512, 1024, 2048, 4096)):
        raise DLCFileError(path, "not an HDF5 file (no HDF5 signature)")
    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = store.keys()
            if not keys:
                raise DLCFileError(path, "HDF5 file holds no pandas table")
            if len(keys) == 1:
                key = keys[0]
            elif "/df_with_missing" in keys:
                key = "/df_with_missing"
            else:
                raise DLCFileError(
                    path, f"several HDF keys {keys}; expected one (or 'df_with_missing')"
                )
            storer = store.get_storer(key)
            fmt = "table" if getattr(storer, "is_table", False) else "fixed"
            df = store.select(key)
    except DLCFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - PyTables raises many types on corrupt files
        raise DLCFileError(path, f"unreadable or truncated HDF5 file: {exc}") from None
    if not isinstance(df, pd.DataFrame):
        raise DLCFileError(path, f"HDF key {key} is not a DataFrame")
    return df, {"format": "h5", "hdf_key": key.lstrip("/"), "hdf_format": fmt}


def _csv_rows(path: Path, n: int) -> list[list[str]]:
    rows = []
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            reader = csv.reader(fh)
            for row in reader:
                rows.append(row)
                if len(rows) >= n:
                    break
    except csv.Error as exc:
        raise DLCFileError(path, f"not a text CSV file: {exc}") from None
    return rows


def _last_line(path: Path) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 65536))
        tail = fh.read()
    lines = [ln for ln in tail.splitlines() if ln.strip()]
    return lines[-1] if lines else b""


def _read_csv(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    if path.stat().st_size == 0:
        raise DLCFileError(path, "empty file")
    head = _csv_rows(path, 8)
    if not head:
        raise DLCFileError(path, "empty file")
    width = len(head[0])
    coord_row = None
    for r, row in enumerate(head[:6]):
        cells = [c for c in row[1:] if c != ""]
        if cells and all(c in _COORDS_FULL for c in cells):
            coord_row = r
            break
    if coord_row is None:
        raise DLCFileError(
            path,
            "not a DeepLabCut CSV: no 'coords' header row (x, y, likelihood) in the first rows",
        )
    n_header = coord_row + 1
    if n_header not in (3, 4):
        raise DLCFileError(
            path,
            f"wrong number of header rows: {n_header} (DLC writes 3: "
            "scorer, bodyparts, coords; or 4 with individuals)",
        )
    if any(len(row) != width for row in head[:n_header]):
        raise DLCFileError(path, "header rows have different numbers of cells")
    n_index = 1
    while n_index < width and all(head[r][n_index] == "" for r in range(n_header)):
        n_index += 1
    if n_index >= width:
        raise DLCFileError(path, "no data columns")
    if any(head[r][c] == "" for r in range(n_header) for c in range(n_index, width)):
        raise DLCFileError(path, "empty cells in the header rows")
    level_names = [head[r][0] or None for r in range(n_header)]
    tuples = list(zip(*(head[r][n_index:] for r in range(n_header)), strict=True))
    columns = pd.MultiIndex.from_tuples(tuples, names=level_names)
    if len(head) <= n_header:
        raise DLCFileError(path, "zero frames (header only)")
    last = _last_line(path)
    n_fields = len(next(csv.reader([last.decode("utf-8", "replace")])))
    if n_fields != width:
        raise DLCFileError(
            path, f"truncated or malformed: last row has {n_fields} cells, header has {width}"
        )
    dtype: dict[int, Any] = {c: str for c in range(n_index)}
    dtype.update({c: np.float64 for c in range(n_index, width)})
    # index labels keep texts such as "NA"; data cells read "NaN", "nan", "NA"... as NaN
    # like pandas' and DLC's own readers do
    na_values: dict[int, list[str]] = {c: [""] for c in range(n_index)}
    na_values.update({c: list(_NA_TEXT) for c in range(n_index, width)})
    try:
        body = pd.read_csv(
            path,
            header=None,
            skiprows=n_header,
            dtype=dtype,
            keep_default_na=False,
            na_values=na_values,
            engine="c",
            float_precision="round_trip",
            skip_blank_lines=True,
        )
    except UnicodeDecodeError as exc:
        raise DLCFileError(path, f"not UTF-8 text: {exc}") from None
    except pd.errors.ParserError as exc:
        raise DLCFileError(path, f"malformed CSV: {exc}") from None
    except (ValueError, TypeError) as exc:
        raise DLCFileError(path, f"non-numeric cells in the data: {exc}") from None
    if body.shape[1] != width:
        raise DLCFileError(path, f"data rows have {body.shape[1]} cells, header has {width}")
    if body.shape[0] == 0:
        raise DLCFileError(path, "zero frames (header only)")
    index_name = None
    if n_index == 1 and body.shape[0] > 1 and body.iloc[0, 1:].isna().all():
        # pandas writes an index-name row ("frame,,,") when the index has a name
        first, rest = body.iloc[0, 0], body.iloc[1:, 0]
        if (
            isinstance(first, str)
            and not re.fullmatch(r"-?\d+", first)
            and rest.str.fullmatch(r"-?\d+").all()
        ):
            index_name = first
            body = body.iloc[1:].reset_index(drop=True)
    idx_cols = [body[c] for c in range(n_index)]
    if any(col.isna().any() for col in idx_cols):
        raise DLCFileError(path, "empty cells in the index column(s)")
    if n_index == 1:
        labels = idx_cols[0]
        as_int = pd.to_numeric(labels, errors="coerce")
        if as_int.notna().all() and labels.str.fullmatch(r"-?\d+").all():
            index = pd.Index(as_int.to_numpy(dtype=np.int64), name=index_name)
        else:
            index = pd.Index(labels.to_numpy(dtype=object), name=index_name)
    else:
        index = pd.MultiIndex.from_arrays([c.to_numpy(dtype=object) for c in idx_cols])
    values = body.iloc[:, n_index:].to_numpy(dtype=np.float64)
    df = pd.DataFrame(values, index=index, columns=columns, copy=False)
    return df, {"format": "csv", "csv_index_columns": n_index}


def read_tracks(path: str | Path) -> Tracks:
    """Read a DeepLabCut ``.h5`` or ``.csv`` pose / label file.

    Parameters
    ----------
    path : str or Path
        The file. For ``.h5`` the only key (or ``df_with_missing`` among several) is read.

    Returns
    -------
    Tracks
        Missing points are NaN; ``meta`` holds what is needed to write the file back,
        ``fps``/``nframes``/``frame_size``/``cropping_parameters`` from DLC's
        ``<stem><scorer>_meta.pickle`` next to the file when present, and ``warnings``
        (also logged) about quirks found.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DLCFileError
        If it is not a readable DLC file (the message names the file and the problem).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not path.is_file():
        raise DLCFileError(path, "not a file")
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5", ".hdf"):
        df, extra = _read_h5(path)
    elif suffix == ".csv":
        df, extra = _read_csv(path)
    else:
        raise DLCFileError(path, f"unsupported suffix {path.suffix!r} (expected .h5 or .csv)")
    extra["warnings"] = []
    _load_meta_pickle(path, extra)
    return _tracks_from_df(df, path, extra)


# ============================================================================ writer
_PLAIN_CELL = re.compile(r"[\w.+\-/]+", re.ASCII)


def _csv_cell(text: str) -> str:
    """``text`` as one CSV field (quoted where the ``csv`` module would quote it)."""
    if _PLAIN_CELL.fullmatch(text):
        return text
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([text, ""])
    return buf.getvalue()[:-2]  # the field without the "," and line end that follow it


def _csv_row_labels(index: pd.Index) -> list[str]:
    """Each row's index field(s) as CSV text, each followed by a comma."""
    if isinstance(index, pd.MultiIndex):
        cache: dict[Any, str] = {}
        out = []
        for t in index:
            cell = cache.get(t)
            if cell is None:
                cell = cache[t] = "".join(_csv_cell(str(v)) + "," for v in t)
            out.append(cell)
        return out
    return [_csv_cell(str(v)) + "," for v in index]


def _write_csv(df: pd.DataFrame, path: Path, chunk: int = 20_000) -> None:
    """DLC-style CSV: pandas' header rows, then rows of shortest round-trip float text.

    Values are written as float64 ``repr`` (what ``DataFrame.to_csv`` writes, NaN as an
    empty cell) so they read back bit-identically. The text of each chunk of rows is made by
    :func:`~stablemotion_dlc.dlc._float_text.repr_cells` (the bytes of ``repr``, vectorised:
    about 3x faster than ``map(repr, ...)``, itself about 20x faster than pandas' formatter
    or a ``csv.writer`` row by row) into fixed-width byte fields that are squeezed into the
    file's rows.
    """
    head = df.iloc[:0].copy()
    if isinstance(head.index, pd.MultiIndex):
        head.index = head.index.set_names([None] * head.index.nlevels)
    else:
        head.index = head.index.rename(None)
    header = head.to_csv(lineterminator="\n")
    values = df.to_numpy(dtype=np.float64)
    n_rows, n_cols = values.shape
    index = df.index
    if n_cols and not isinstance(index, pd.MultiIndex) and index.dtype.kind in "iu":
        # frame numbers (DLC's usual index): their text as bytes, then the comma (the zero
        # bytes of the padding between them are dropped with the others)
        digits = np.asarray(index).astype("S")
        width = digits.dtype.itemsize + 1
        lab_bytes = np.zeros((n_rows, width), np.uint8)
        lab_bytes[:, :-1] = digits.view(np.uint8).reshape(n_rows, width - 1)
        lab_bytes[:, -1] = ord(",")
    else:
        labels = _csv_row_labels(index)
        encoded = [lab.encode("utf-8") for lab in labels]
        if n_cols == 0 or any(b"\x00" in lab for lab in encoded):
            _write_csv_rows(header, values, labels, path, chunk)
            return
        width = max((len(lab) for lab in encoded), default=1) or 1
        lab_bytes = np.array(encoded, dtype=f"S{width}").view(np.uint8).reshape(n_rows, width)
    cell_w = CELL_W + 1  # the text and its separator
    with open(path, "wb") as fh:
        fh.write(header.encode("utf-8"))
        for start in range(0, n_rows, chunk):
            block = values[start : start + chunk]
            r = block.shape[0]
            mat = np.zeros((r, width + n_cols * cell_w), np.uint8)
            mat[:, :width] = lab_bytes[start : start + r]
            body = mat[:, width:].reshape(r, n_cols, cell_w)
            body[:, :, :CELL_W] = repr_cells(block.ravel()).reshape(r, n_cols, CELL_W)
            body[:, :-1, CELL_W] = ord(",")
            body[:, -1, CELL_W] = ord("\n")
            fh.write(mat[mat != 0].tobytes())


def _write_csv_rows(
    header: str, values: np.ndarray, labels: list[str], path: Path, chunk: int
) -> None:
    """The rows of :func:`_write_csv` with ``map(repr, ...)`` (index labels holding NUL)."""
    n_rows, n_cols = values.shape
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(header)
        if n_cols == 0:  # index only: what csv.writer writes for such rows
            for lab in labels:
                fh.write((lab[:-1] or '""') + "\n")
            return
        for start in range(0, n_rows, chunk):
            block = values[start : start + chunk]
            flat = block.ravel()
            cells = list(map(repr, flat.tolist()))
            for i in np.flatnonzero(np.isnan(flat)).tolist():
                cells[i] = ""
            fh.write(
                "".join(
                    [
                        f"{lab}{','.join(cells[r * n_cols : (r + 1) * n_cols])}\n"
                        for r, lab in enumerate(labels[start : start + block.shape[0]])
                    ]
                )
            )


def write_tracks(
    tracks: Tracks,
    path: str | Path,
    overwrite: bool = False,
    *,
    key: str | None = None,
) -> Path:
    """Write tracks as a DLC ``.h5`` (one key, table format) or ``.csv`` file, atomically.

    Parameters
    ----------
    tracks : Tracks
        The data; missing points are written in ``meta["placeholder"]`` style and raw
        placeholder values from reading are restored.
    path : str or Path
        Target ``.h5`` or ``.csv``.
    overwrite : bool
        Replace an existing file (otherwise ``FileExistsError``).
    key : str, optional
        HDF key; default ``meta["write_key"]`` or ``"df_with_missing"`` (DLC's key, also for
        data read from ``_el.h5`` files whose key is ``tracks``).

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".h5", ".hdf5", ".hdf", ".csv"):
        raise ValueError(f"{path}: unsupported suffix {path.suffix!r} (expected .h5 or .csv)")
    df = _tracks_to_df(tracks, raw=True)
    with atomic_path(path, overwrite=overwrite) as tmp:
        if suffix == ".csv":
            _write_csv(df, tmp)
        else:
            hkey = key or tracks.meta.get("write_key") or "df_with_missing"
            # PyTables' table format cannot hold a row MultiIndex together with column
            # MultiIndex; DLC writes such labelled-data frames in fixed format too.
            fmt = "fixed" if isinstance(df.index, pd.MultiIndex) else "table"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
                # DataFrame.to_hdf(mode="w") without the query index (reading never needs
                # it) and without creation times: the same tracks give the same bytes
                with hdf_store_without_times(tmp) as store:
                    store.put(hkey, df, format=fmt, index=False)
    logger.info("wrote %s (%d frames)", path, df.shape[0])
    return path


#: PyTables' node constructors that stamp creation and modification times by default.
_TIMED_NODES = ("create_array", "create_carray", "create_earray", "create_vlarray", "create_table")


@contextmanager
def hdf_store_without_times(path: str | Path) -> Iterator[pd.HDFStore]:
    """``pd.HDFStore(path, mode="w")`` whose nodes carry no creation times.

    PyTables stamps every array and table it creates with the wall-clock time, so writing the
    same frame twice gives different bytes. pandas passes ``track_times=False`` on for the
    table format only; the fixed format (labelled-data frames with a row MultiIndex, as
    DeepLabCut writes ``CollectedData`` and ``machinelabels-iter*.h5``) does not take it.
    This store's own file handle creates its nodes with ``track_times=False`` whatever the
    format; nothing else (no other file, no global state) is changed.

    Parameters
    ----------
    path : str or Path
        File to create (truncated if it exists).

    Yields
    ------
    pandas.HDFStore
        The open store; closed on exit.
    """
    with pd.HDFStore(path, mode="w") as store:
        handle = getattr(store, "_handle", None)  # pandas' open tables.File
        if handle is not None:
            for name in _TIMED_NODES:
                method = getattr(handle, name, None)
                if method is not None:
                    setattr(handle, name, _without_times(method))
        yield store


def _without_times(method: Any) -> Any:
    """``method`` with ``track_times=False`` forced (pandas passes ``True`` explicitly)."""

    @functools.wraps(method)
    def create(*args: Any, **kwargs: Any) -> Any:
        kwargs["track_times"] = False
        return method(*args, **kwargs)

    return create


def input_files(tracks_or_path: Tracks | str | Path) -> list[Path]:
    """Files an input stands for: the tracks file, DLC's twin of it and its meta pickle.

    None of them may be an output (:func:`~stablemotion_dlc._atomic.check_outputs`).
    """
    if isinstance(tracks_or_path, Tracks):
        meta = tracks_or_path.meta
        src = meta.get("source")
        files = [Path(src)] if src else []
        if meta.get("meta_pickle"):
            files.append(Path(meta["meta_pickle"]))
    else:
        files = [Path(tracks_or_path)]
    for f in list(files):
        if f.suffix.lower() in (".h5", ".csv"):
            twin = f.with_suffix(".csv" if f.suffix.lower() == ".h5" else ".h5")
            if twin.exists():
                files.append(twin)
    return files
