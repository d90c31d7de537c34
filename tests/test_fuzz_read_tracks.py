"""Fuzzing ``read_tracks``: random bytes, random DLC-like CSV text and damaged real files.

Whatever the file holds, ``read_tracks`` returns :class:`Tracks` or raises
:class:`~stablemotion_dlc.errors.DLCFileError` naming the file; it never raises anything else
(a raw traceback for the user) and never modifies the file.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from stablemotion_dlc.dlc.io import read_tracks, write_tracks  # noqa: E402
from stablemotion_dlc.dlc.tracks import Tracks  # noqa: E402
from stablemotion_dlc.errors import DLCFileError  # noqa: E402

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _check(data: bytes, suffix: str) -> None:
    """Write ``data`` to a file, read it, and check the contract."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"fuzzDLC_resnet50_xJan1shuffle1_100{suffix}"
        path.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        try:
            tracks = read_tracks(path)
        except DLCFileError as exc:
            assert str(path) in str(exc)  # the message names the file
        else:
            assert isinstance(tracks, Tracks)
            assert tracks.xy.ndim == 4 and tracks.xy.shape[-1] == 2
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest  # never modified
        assert sorted(p.name for p in Path(d).iterdir()) == [path.name]  # nothing written


@pytest.fixture(scope="module")
def real_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A small valid DLC .h5 and .csv (2 animals, 3 keypoints, 20 frames)."""
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 640, size=(20, 2, 3, 2))
    xy[3, 0, 1] = np.nan
    tracks = Tracks.from_arrays(xy, rng.uniform(0, 1, size=(20, 2, 3)),
                                bodyparts=["nose", "ear", "tail"],
                                individuals=["m1", "m2"], multianimal=True)
    d = tmp_path_factory.mktemp("real")
    out = {}
    for suffix in (".h5", ".csv"):
        p = d / f"x{suffix}"
        write_tracks(tracks, p)
        out[suffix] = p.read_bytes()
    return out


@SETTINGS
@given(data=st.binary(max_size=4096), suffix=st.sampled_from([".csv", ".h5"]))
def test_random_bytes(data: bytes, suffix: str) -> None:
    _check(data, suffix)


@SETTINGS
@given(data=st.binary(max_size=4096))
def test_random_bytes_behind_an_hdf5_signature(data: bytes) -> None:
    _check(HDF5_SIGNATURE + data, ".h5")


_CELL = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**20, 10**20).map(str),
    st.sampled_from(["", "NaN", "nan", "NA", "-1", "inf", "x", "1e308", "1e999", '"', "'",
                     "\\", "1,2", "\x00", "é", " ", "--", "0x10"]),
    st.text(max_size=6),
)


@st.composite
def dlc_like_csv(draw: st.DrawFn) -> bytes:
    """Header rows like DLC's (sometimes wrong), then rows of random cells."""
    n_levels = draw(st.sampled_from([2, 3, 4, 5]))
    n_cols = draw(st.integers(1, 7))
    names = ["scorer", "individuals", "bodyparts", "coords", "extra"][:n_levels]
    if n_levels >= 3:
        names[-1] = "coords"
    coords = draw(st.lists(st.sampled_from(["x", "y", "likelihood", "z", ""]),
                           min_size=n_cols, max_size=n_cols))
    rows = []
    for level, name in enumerate(names):
        if name == "coords":
            cells = coords
        else:
            cells = draw(st.lists(st.sampled_from(["s", "a", "b", "m1", "", "nose"]),
                                  min_size=n_cols, max_size=n_cols))
        rows.append([name if level < n_levels else "", *cells])
    n_rows = draw(st.integers(0, 6))
    for r in range(n_rows):
        width = n_cols + draw(st.sampled_from([0, 0, 0, -1, 1]))
        rows.append([str(r), *draw(st.lists(_CELL, min_size=max(0, width),
                                            max_size=max(0, width)))])
    text = "\n".join(",".join(row) for row in rows)
    if draw(st.booleans()):
        text += "\n"
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1"]))
    return text.encode(encoding, errors="replace")


@SETTINGS
@given(data=dlc_like_csv())
def test_random_dlc_like_csv_text(data: bytes) -> None:
    _check(data, ".csv")


@SETTINGS
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["del", "ins", "set"]),
                                st.binary(min_size=1, max_size=3)), min_size=1, max_size=4),
       suffix=st.sampled_from([".csv", ".h5"]), cut=st.one_of(st.none(), st.integers(0, 10**6)))
def test_damaged_real_files(real_files: dict[str, bytes], edits: list, suffix: str,
                            cut: int | None) -> None:
    data = bytearray(real_files[suffix])
    for pos, kind, chunk in edits:
        i = pos % max(1, len(data))
        if kind == "del":
            del data[i:i + len(chunk)]
        elif kind == "ins":
            data[i:i] = chunk
        else:
            data[i:i + len(chunk)] = chunk
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    _check(bytes(data), suffix)
