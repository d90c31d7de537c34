"""The fast CSV writer (issue 17): the same bytes as the row-by-row writer it replaced, values
that read back bit-identically with our reader, pandas' and DeepLabCut's way of reading."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stablemotion_dlc.dlc import io as dlc_io
from stablemotion_dlc.dlc.io import read_tracks, write_tracks
from stablemotion_dlc.dlc.tracks import Tracks


def _old_write_csv(df: pd.DataFrame, path: Path, chunk: int = 20_000) -> None:
    """The writer before issue 17 (a csv.writer row by row), kept as the reference."""
    head = df.iloc[:0].copy()
    if isinstance(head.index, pd.MultiIndex):
        head.index = head.index.set_names([None] * head.index.nlevels)
    else:
        head.index = head.index.rename(None)
    header = head.to_csv(lineterminator="\n")
    values = df.to_numpy(dtype=np.float64)
    if isinstance(df.index, pd.MultiIndex):
        labels = [tuple(str(v) for v in t) for t in df.index]
    else:
        labels = [(str(v),) for v in df.index]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(header)
        writer = csv.writer(fh, lineterminator="\n")
        for start in range(0, values.shape[0], chunk):
            block = values[start:start + chunk].tolist()
            writer.writerows(
                [*lab, *["" if v != v else repr(v) for v in row]]
                for lab, row in zip(labels[start:start + chunk], block, strict=True))


def _both(tracks: Tracks, tmp_path: Path, name: str) -> tuple[bytes, bytes]:
    df = dlc_io._tracks_to_df(tracks, raw=True)
    new, old = tmp_path / f"{name}_new.csv", tmp_path / f"{name}_old.csv"
    dlc_io._write_csv(df, new, chunk=7)  # a small chunk: rows across chunk borders
    _old_write_csv(df, old)
    return new.read_bytes(), old.read_bytes()


def _random_values(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Floats of every kind: pixels, [0, 1], the whole exponent range, subnormals, ints."""
    n = int(np.prod(shape))
    pools = [
        rng.normal(300, 200, n),
        rng.uniform(0, 1, n),
        np.exp(rng.uniform(-740, 709, n)) * rng.choice([-1.0, 1.0], n),
        rng.integers(-2**60, 2**60, n).astype(np.float64),
        rng.integers(0, 2**64, n, dtype=np.uint64).view(np.float64),  # any bit pattern
    ]
    v = np.choose(rng.integers(0, len(pools), n), pools)
    special = np.array([-0.0, 0.0, np.inf, -np.inf, 5e-324, 1e16, 1e-4, 9.999999999999999e15,
                        1e-5, 0.1, 1 / 3, np.nan, -1.0, 2.2250738585072014e-308])
    v[: len(special)] = special[: min(n, len(special))]
    v[rng.random(n) < 0.1] = np.nan
    return v.reshape(shape)


def test_random_floats_same_bytes_and_bit_identical(tmp_path):
    rng = np.random.default_rng(17)
    n_f, n_i, n_k = 203, 3, 4
    xy = _random_values(rng, (n_f, n_i, n_k, 2))
    lik = _random_values(rng, (n_f, n_i, n_k))
    xy[0, 0, 0] = (0.0, 5.0)  # not the reader's (0, 0, 0) missing-point placeholder
    tr = Tracks.from_arrays(xy, lik, bodyparts=[f"kp{k}" for k in range(n_k)],
                            individuals=[f"m{i}" for i in range(n_i)], scorer="DLC_x")
    new, old = _both(tr, tmp_path, "rand")
    assert new == old
    path = write_tracks(tr, tmp_path / "rand.csv")
    back = read_tracks(path)
    # NaN is written as an empty cell (any payload reads back as the canonical NaN)
    for a, b in ((back.xy, tr.xy), (back.likelihood, tr.likelihood)):
        same = np.isnan(a) == np.isnan(b)
        assert same.all()
        fin = ~np.isnan(b)
        assert a[fin].tobytes() == b[fin].tobytes()
    # pandas' reader as DLC calls it (a 3/4-row header, index_col=0), with its correctly
    # rounded parser: pandas' default C parser ("high") is off by one ulp on about a third
    # of the 17-digit values whatever wrote them, so only "round_trip" can be bit-identical
    df = pd.read_csv(path, header=[0, 1, 2, 3], index_col=0, float_precision="round_trip")
    vals = df.to_numpy(np.float64)
    ref = dlc_io._tracks_to_df(tr).to_numpy(np.float64)
    assert (np.isnan(vals) == np.isnan(ref)).all()
    ok = ~np.isnan(ref)
    assert vals[ok].tobytes() == ref[ok].tobytes()


def test_index_labels_quoted_like_csv_writer(tmp_path):
    rng = np.random.default_rng(3)
    n = 6
    idx = pd.MultiIndex.from_tuples(
        [("labeled-data", "vid,1", f"img{i}.png") for i in range(3)]
        + [("labeled-data", 'say "hi"', "a b.png"), ("labeled-data", "", "x\ny.png"),
           ("labeled-data", "ünï", "1.png")])
    tr = Tracks.from_arrays(rng.normal(100, 5, (n, 1, 2, 2)), None, bodyparts=["a", "b"],
                            scorer="me", index=idx)
    new, old = _both(tr, tmp_path, "multi")
    assert new == old
    tr2 = Tracks.from_arrays(rng.normal(100, 5, (n, 1, 2, 2)), None, bodyparts=["a", "b"],
                             scorer="me", index=pd.Index([f"p,{i}" for i in range(n)]))
    new, old = _both(tr2, tmp_path, "strindex")
    assert new == old


def test_sample_project_same_bytes(tmp_path):
    from stablemotion_dlc.sample import make_sample_project

    for n_animals, placeholder in ((1, "-1"), (3, "nan")):
        p = make_sample_project(tmp_path / f"s{n_animals}", duration_s=4.0, video=False,
                                n_animals=n_animals, placeholder=placeholder, progress=False)
        tr = read_tracks(p.predictions_h5)
        new, old = _both(tr, tmp_path, f"sample{n_animals}")
        assert new == old


def _real_pose_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".h5", ".csv")
                  and "truth" not in p.name)


def test_real_files_same_bytes_and_round_trip(shared_data, tmp_path):
    done = 0
    for f in _real_pose_files(shared_data):
        try:
            tr = read_tracks(f)
        except Exception:  # noqa: BLE001 - not a pose file (SLEAP tables, videos' metadata...)
            continue
        new, old = _both(tr, tmp_path, f"real{done}")
        assert new == old, f
        back = read_tracks(write_tracks(tr, tmp_path / f"real{done}.csv"))
        assert back.xy.tobytes() == tr.xy.tobytes(), f
        if tr.likelihood is not None:
            assert back.likelihood.tobytes() == tr.likelihood.tobytes(), f
        done += 1
    assert done >= 5


def test_large_file_is_fast(tmp_path):
    """100,000 frames x 3 x 12 took ~30 s before; a tenth of it must take well under 3 s."""
    import time

    rng = np.random.default_rng(0)
    xy = 300 + np.cumsum(rng.normal(0, 2, (10_000, 3, 12, 2)), axis=0)
    lik = rng.uniform(0, 1, (10_000, 3, 12))
    tr = Tracks.from_arrays(xy, lik, bodyparts=[f"kp{k}" for k in range(12)],
                            individuals=[f"m{i}" for i in range(3)], scorer="DLC_x")
    t0 = time.perf_counter()
    write_tracks(tr, tmp_path / "big.csv")
    assert time.perf_counter() - t0 < 3.0


@pytest.mark.parametrize("text", ["plain", "with,comma", 'q"uote', "", " lead", "tab\tx",
                                  "cr\rx", "ünï"])
def test_csv_cell_matches_csv_module(text):
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([text, "1.0"])
    assert dlc_io._csv_cell(text) + ",1.0\n" == buf.getvalue()


def _cell_texts(cells: np.ndarray) -> list[str]:
    return [bytes(row[row != 0]).decode("ascii") for row in cells]


@pytest.mark.parametrize("seed", [0, 1])
def test_repr_cells_is_repr(seed):
    """The vectorised float text (issue 17) is ``repr`` byte for byte, whatever the value."""
    from stablemotion_dlc.dlc._float_text import repr_cells

    rng = np.random.default_rng(seed)
    n = 40_000
    powers = 10.0 ** rng.integers(-6, 18, n)
    kinds = [
        rng.normal(300, 200, n),  # pixels
        rng.uniform(0, 1, n),  # likelihoods
        rng.uniform(0, 1, n).astype(np.float32).astype(np.float64),  # DLC's float32 values
        np.exp(rng.uniform(-12, 40, n)) * rng.choice([-1.0, 1.0], n),
        rng.integers(0, 2**64, n, dtype=np.uint64).view(np.float64),  # any bit pattern
        np.array([round(x, d) for x, d in zip(rng.uniform(0, 2000, n).tolist(),
                                               rng.integers(0, 16, n).tolist())]),
        rng.integers(-10**6, 10**6, n) / 2.0 ** rng.integers(0, 40, n),  # dyadic
        powers * (1 + rng.integers(-3, 4, n) * 2.0**-52),  # next to powers of ten
        np.nextafter(powers, powers * rng.choice([0.0, 2.0], n)),
    ]
    special = np.array([1e-4, np.nextafter(1e-4, 0), np.nextafter(1e-4, 1), 1e16,
                        np.nextafter(1e16, 0), 9.999999999999999e15, 0.5, 0.25, 1.0, 2.0,
                        100.0, 0.1, 1 / 3, 2 / 3, 123456789012345.6, 999999999999999.9,
                        0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1e-5, 4503599627370497.0])
    for v in [*kinds, special]:
        got = _cell_texts(repr_cells(v))
        want = ["" if x != x else repr(x) for x in v.tolist()]
        bad = [(x, g, w) for x, g, w in zip(v.tolist(), got, want, strict=True) if g != w]
        assert not bad, bad[:5]


def test_repr_cells_without_extended_precision(monkeypatch):
    """With the vectorised path off (``VECTORISED`` False), every value takes ``repr`` itself."""
    from stablemotion_dlc.dlc import _float_text

    monkeypatch.setattr(_float_text, "VECTORISED", False)
    v = np.random.default_rng(3).normal(300, 200, 1000)
    v[::7] = np.nan
    assert _cell_texts(_float_text.repr_cells(v)) == [
        "" if x != x else repr(x) for x in v.tolist()]
