"""Tests of DLC file I/O (stablemotion_dlc.dlc.io): layouts, exact round trips, bad input."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stablemotion_dlc.dlc.io import read_tracks, write_tracks
from stablemotion_dlc.dlc.tracks import SINGLE_ANIMAL_NAME, UNIQUE_NAME, Tracks
from stablemotion_dlc.errors import DLCFileError

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


# ----------------------------------------------------------------------------- helpers
def assert_identical(a: Tracks, b: Tracks, *, check_dtype_meta: bool = True) -> None:
    """Bit-identical arrays, names, index and layout meta."""
    assert a.xy.dtype == b.xy.dtype == np.float64
    np.testing.assert_array_equal(a.xy, b.xy)
    assert a.xy.tobytes() == b.xy.tobytes()
    if a.likelihood is None:
        assert b.likelihood is None
    else:
        assert b.likelihood is not None
        assert a.likelihood.dtype == b.likelihood.dtype == np.float64
        np.testing.assert_array_equal(a.likelihood, b.likelihood)
        assert a.likelihood.tobytes() == b.likelihood.tobytes()
    np.testing.assert_array_equal(a.present, b.present)
    assert a.bodyparts == b.bodyparts
    assert a.individuals == b.individuals
    assert a.scorer == b.scorer
    assert a.multianimal == b.multianimal
    assert a.index.equals(b.index)
    assert type(a.index) is type(b.index)
    if isinstance(a.index, pd.MultiIndex):
        for la, lb in zip(a.index.levels, b.index.levels, strict=True):
            assert la.dtype == lb.dtype
    else:
        assert a.index.dtype == b.index.dtype
    for key in ("placeholder", "coords", "column_names", "column_order"):
        assert a.meta.get(key) == b.meta.get(key), key
    if check_dtype_meta:
        assert a.meta.get("dtype") == b.meta.get("dtype")


def make_index(kind: str, n: int) -> pd.Index:
    if kind == "int":
        return pd.Index(np.arange(n, dtype=np.int64) * 3 + 5)
    if kind == "str":
        return pd.Index([f"labeled-data/vid/img{i:03d}.png" for i in range(n)], dtype=object)
    return pd.MultiIndex.from_arrays([["labeled-data"] * n, ["vid"] * n,
                                      [f"img{i:03d}.png" for i in range(n)]])


@st.composite
def layouts(draw):
    multi = draw(st.booleans())
    n_animals = draw(st.integers(1, 3)) if multi else 1
    n_kp = draw(st.integers(1, 4))
    n_unique = draw(st.integers(0, 2)) if multi else 0
    return {
        "multi": multi,
        "n_animals": n_animals,
        "n_kp": n_kp,
        "n_unique": n_unique,
        "likelihood": draw(st.booleans()),
        "index": draw(st.sampled_from(["int", "str", "multi"])),
        "placeholder": draw(st.sampled_from(["nan", "-1", "zero"])),
        "ext": draw(st.sampled_from([".h5", ".csv"])),
        "n_frames": draw(st.integers(1, 9)),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


def tracks_from_layout(lay: dict) -> Tracks:
    rng = np.random.default_rng(lay["seed"])
    n_i = lay["n_animals"] + (1 if lay["n_unique"] else 0)
    n_k = lay["n_kp"] + lay["n_unique"]
    shape = (lay["n_frames"], n_i, n_k)
    xy = rng.normal(200, 150, shape + (2,))
    xy[rng.random(shape) < 0.25] = np.nan
    half = rng.random(shape) < 0.05  # one coordinate missing only
    xy[..., 0][half] = np.nan
    xy[rng.random(shape) < 0.02] *= 1e7  # absurd coordinates are kept
    lik = None
    if lay["likelihood"]:
        lik = rng.uniform(-0.2, 1.2, shape)  # outside [0, 1] is kept
        lik[rng.random(shape) < 0.2] = np.nan
    return Tracks.from_arrays(
        xy, lik,
        bodyparts=[f"bp{k}" for k in range(lay["n_kp"])],
        individuals=[f"ind{i}" for i in range(lay["n_animals"])] if lay["multi"] else None,
        unique_bodyparts=[f"u{k}" for k in range(lay["n_unique"])],
        index=make_index(lay["index"], lay["n_frames"]),
        multianimal=lay["multi"],
        placeholder=lay["placeholder"],
        scorer="DLC_Resnet50_testJan1shuffle1_snapshot_10",
    )


# ------------------------------------------------------------------ property tests
@SETTINGS
@given(lay=layouts())
def test_roundtrip_every_layout(tmp_path_factory, lay):
    tmp = tmp_path_factory.mktemp("rt")
    t0 = tracks_from_layout(lay)
    p1 = write_tracks(t0, tmp / f"a{lay['ext']}")
    t1 = read_tracks(p1)
    # what was in memory comes back (NaN stays NaN, values exact)
    np.testing.assert_array_equal(t1.xy, t0.xy)
    assert t1.xy.tobytes() == t0.xy.tobytes()
    if t0.likelihood is not None:
        assert t1.likelihood.tobytes() == t0.likelihood.tobytes()
    assert t1.meta["placeholder"] == (lay["placeholder"] if np.isnan(t0.xy).all(-1)[
        :, t0.present].any() else "nan")
    # read -> write -> read is bit-identical, in both formats
    for ext in (".h5", ".csv"):
        t2 = read_tracks(write_tracks(t1, tmp / f"b{ext}"))
        assert_identical(t1, t2)


@st.composite
def raw_frames(draw):
    """DataFrames as other tools write them: mixed NaN / (0,0,l) / (-1,-1,-1) / -0.0."""
    multi = draw(st.booleans())
    n_i = draw(st.integers(1, 2)) if multi else 1
    n_k = draw(st.integers(1, 3))
    n_f = draw(st.integers(1, 8))
    lik = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    coords = ["x", "y", "likelihood"] if lik else ["x", "y"]
    cols = []
    for i in range(n_i):
        for k in range(n_k):
            for c in coords:
                cols.append(("sc", f"m{i}", f"b{k}", c) if multi else ("sc", f"b{k}", c))
    names = ["scorer", "individuals", "bodyparts", "coords"] if multi else \
        ["scorer", "bodyparts", "coords"]
    data = rng.normal(100, 50, (n_f, n_i * n_k, len(coords)))
    choice = rng.integers(0, 7, (n_f, n_i * n_k))
    patterns = {1: [np.nan, np.nan, np.nan], 2: [0.0, 0.0, 0.0], 3: [-1.0, -1.0, -1.0],
                4: [-1.0, -1.0, np.nan], 5: [-0.0, 0.0, 0.3], 6: [0.0, 0.0, np.nan]}
    for code, vals in patterns.items():
        data[choice == code] = vals[: len(coords)]
    df = pd.DataFrame(data.reshape(n_f, -1),
                      columns=pd.MultiIndex.from_tuples(cols, names=names))
    return df, draw(st.sampled_from([".h5", ".csv"]))


@SETTINGS
@given(case=raw_frames())
def test_raw_placeholders_restored_exactly(tmp_path_factory, case):
    df, ext = case
    tmp = tmp_path_factory.mktemp("raw")
    src = tmp / f"src{ext}"
    if ext == ".h5":
        df.to_hdf(src, key="df_with_missing", format="table", mode="w")
    else:
        df.to_csv(src)
    t1 = read_tracks(src)
    # placeholder points are NaN in memory
    x, y = t1.xy[..., 0], t1.xy[..., 1]
    assert not ((x == 0) & (y == 0)).any()
    assert not ((x == -1) & (y == -1)).any()
    # what would be written is the raw file, bit for bit
    out = t1.to_dataframe()
    assert out.to_numpy().tobytes() == df.to_numpy().tobytes()
    for ext2 in (".h5", ".csv"):
        t2 = read_tracks(write_tracks(t1, tmp / f"out{ext2}"))
        assert_identical(t1, t2)
        assert t2.to_dataframe().to_numpy().tobytes() == df.to_numpy().tobytes()


# ------------------------------------------------------------------ from_arrays & co
def test_from_arrays_combined_layout_with_unique_bodyparts():
    f = 4
    xy = np.arange(f * 3 * 4 * 2, dtype=float).reshape(f, 3, 4, 2)
    t = Tracks.from_arrays(xy, np.full((f, 3, 4), 0.9), bodyparts=["a", "b", "c"],
                           individuals=["m1", "m2"], unique_bodyparts=["corner"])
    assert t.individuals == ["m1", "m2", UNIQUE_NAME]
    assert t.bodyparts == ["a", "b", "c", "corner"]
    assert t.multianimal
    np.testing.assert_array_equal(t.present, [[1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 1]])
    # cells that do not exist are never kept (no invented points)
    assert np.isnan(t.xy[:, :2, 3]).all() and np.isnan(t.xy[:, 2, :3]).all()
    np.testing.assert_array_equal(t.xy[:, 2, 3], xy[:, 2, 3])
    assert t.unique_bodyparts == ["corner"]
    assert t.animals == ["m1", "m2"]
    df = t.to_dataframe()
    assert df.shape == (f, (2 * 3 + 1) * 3)
    assert list(df.columns.names) == ["scorer", "individuals", "bodyparts", "coords"]
    assert (UNIQUE_NAME, "corner", "x") in [c[1:] for c in df.columns]
    assert ("m1", "corner", "x") not in [c[1:] for c in df.columns]
    # explicit "single" in individuals is accepted too
    t2 = Tracks.from_arrays(xy, None, bodyparts=["a", "b", "c"],
                            individuals=["m1", "m2", UNIQUE_NAME], unique_bodyparts=["corner"])
    assert t2.individuals == t.individuals


def test_from_arrays_single_animal_defaults():
    xy = np.zeros((3, 1, 2, 2))
    xy[0, 0, 0] = np.nan
    t = Tracks.from_arrays(xy, bodyparts=["nose", "tail"])
    assert not t.multianimal
    assert t.individuals == [SINGLE_ANIMAL_NAME]
    assert t.likelihood is None
    assert t.index.dtype == np.int64 and list(t.index) == [0, 1, 2]
    assert t.meta["placeholder"] == "nan"
    assert t.n_frames == 3 and t.n_individuals == 1 and t.n_keypoints == 2
    df = t.to_dataframe()
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]
    assert df.columns.get_level_values("coords").tolist() == ["x", "y", "x", "y"]


@pytest.mark.parametrize("kwargs, match", [
    ({"bodyparts": ["a"]}, "shape"),
    ({"bodyparts": ["a", "a"]}, "duplicate"),
    ({"bodyparts": ["a", "b"], "individuals": ["m1", "m2"], "multianimal": False},
     "single-animal"),
    ({"bodyparts": ["a", "b"], "placeholder": "zeros"}, "placeholder"),
    ({"bodyparts": ["a", "b"], "index": [1, 2]}, "index"),
])
def test_from_arrays_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Tracks.from_arrays(np.zeros((3, 1, 2, 2)), **kwargs)


def test_from_dataframe_and_to_dataframe_inverse(tmp_path):
    t = tracks_from_layout({"multi": True, "n_animals": 2, "n_kp": 3, "n_unique": 1,
                            "likelihood": True, "index": "int", "placeholder": "-1",
                            "ext": ".h5", "n_frames": 6, "seed": 3})
    df = t.to_dataframe()
    back = Tracks.from_dataframe(df)
    assert back.meta["placeholder"] in ("-1", "nan")
    np.testing.assert_array_equal(back.xy, t.xy)
    assert back.to_dataframe().to_numpy().tobytes() == df.to_numpy().tobytes()
    with pytest.raises(DLCFileError, match="levels"):
        Tracks.from_dataframe(pd.DataFrame({"a": [1.0]}))


def test_copy_and_select():
    t = tracks_from_layout({"multi": True, "n_animals": 3, "n_kp": 3, "n_unique": 1,
                            "likelihood": True, "index": "str", "placeholder": "nan",
                            "ext": ".h5", "n_frames": 8, "seed": 5})
    c = t.copy()
    c.xy[:] = 0
    c.meta["placeholder"] = "zero"
    assert not np.all(t.xy == 0) and t.meta["placeholder"] == "nan"
    s = t.select(frames=slice(2, 5), individuals=["ind2", "ind0"], bodyparts=["bp1"])
    assert s.xy.shape == (3, 2, 1, 2)
    np.testing.assert_array_equal(s.xy, t.xy[2:5][:, [2, 0]][:, :, [1]])
    assert list(s.index) == list(t.index[2:5])
    assert s.individuals == ["ind2", "ind0"]
    with pytest.raises(KeyError, match="unknown individual"):
        t.select(individuals=["nobody"])


def test_equality_is_by_value_and_nan_aware():
    t = tracks_from_layout({"multi": True, "n_animals": 2, "n_kp": 3, "n_unique": 1,
                            "likelihood": True, "index": "str", "placeholder": "nan",
                            "ext": ".h5", "n_frames": 12, "seed": 7})
    assert np.isnan(t.xy).any() and np.isnan(t.likelihood).any()
    c = t.copy()
    assert c == t and t.equals(c)  # NaN in the same places are equal
    assert not c != t  # noqa: SIM202 (checks __ne__ too)
    assert t != "not tracks" and not t.equals(None)
    with pytest.raises(TypeError):
        hash(t)
    changed = t.copy()
    changed.xy[tuple(np.argwhere(np.isfinite(t.xy))[0])] += 0.5
    assert changed != t
    moved_nan = t.copy()
    f, i, k, _ = np.argwhere(np.isnan(t.xy))[0]
    moved_nan.xy[f, i, k] = 1.0
    assert moved_nan != t
    lik = t.copy()
    lik.likelihood = None
    assert lik != t
    renamed = t.copy()
    renamed.bodyparts = list(reversed(renamed.bodyparts))
    assert renamed != t
    reindexed = t.copy()
    reindexed.index = pd.Index(np.arange(t.n_frames))
    assert reindexed != t
    other_meta = t.copy()
    other_meta.meta["source"] = "elsewhere.csv"
    assert other_meta != t and other_meta.equals(t, meta=False)


def test_equality_with_raw_points_in_meta():
    df = pd.DataFrame([[1.0, 2.0, 0.9], [0.0, 0.0, 0.0], [-1.0, -1.0, -1.0], [0, 0, np.nan]],
                      columns=pd.MultiIndex.from_tuples(
                          [("s", "b", "x"), ("s", "b", "y"), ("s", "b", "likelihood")],
                          names=["scorer", "bodyparts", "coords"]))
    t = Tracks.from_dataframe(df)
    assert isinstance(t.meta["raw_points"]["values"], np.ndarray)
    assert t == t.copy()  # the dataclass == raised on these arrays
    c = t.copy()
    c.meta["raw_points"]["values"] = c.meta["raw_points"]["values"] + 1.0
    assert c != t and c.equals(t, meta=False)


def test_select_keeps_raw_placeholders(tmp_path):
    df = pd.DataFrame([[1.0, 2.0, 0.9], [0.0, 0.0, 0.0], [-1.0, -1.0, -1.0], [0, 0, np.nan]],
                      columns=pd.MultiIndex.from_tuples(
                          [("s", "b", "x"), ("s", "b", "y"), ("s", "b", "likelihood")],
                          names=["scorer", "bodyparts", "coords"]))
    before = df.to_numpy().copy()
    t = Tracks.from_dataframe(df)
    assert df.to_numpy().tobytes() == before.tobytes()  # input frame not modified
    assert np.isnan(t.xy[1:]).all()
    s = t.select(frames=[2, 3])
    np.testing.assert_array_equal(s.to_dataframe().to_numpy(), df.to_numpy()[2:],
                                  strict=True)
    assert s.to_dataframe().to_numpy().tobytes() == df.to_numpy()[2:].tobytes()


def test_edited_placeholder_point_is_written_as_edited(tmp_path):
    df = pd.DataFrame([[0.0, 0.0, 0.0], [5.0, 6.0, 0.8]],
                      columns=pd.MultiIndex.from_tuples(
                          [("s", "b", "x"), ("s", "b", "y"), ("s", "b", "likelihood")]))
    src = tmp_path / "z.h5"
    df.to_hdf(src, key="df", mode="w")
    t = read_tracks(src)
    assert t.meta["placeholder"] == "zero"
    t.xy[0, 0, 0] = [10.0, 11.0]
    t.likelihood[0, 0, 0] = 0.5
    t.xy[1, 0, 0] = np.nan  # newly missing -> written in the file's style
    out = read_tracks(write_tracks(t, tmp_path / "o.h5")).to_dataframe(raw=True).to_numpy()
    np.testing.assert_array_equal(out, [[10.0, 11.0, 0.5], [0.0, 0.0, 0.8]])


# ------------------------------------------------------------------ writer behaviour
def test_write_h5_single_key_bare_read_hdf_and_no_overwrite(tmp_path):
    t = tracks_from_layout({"multi": False, "n_animals": 1, "n_kp": 2, "n_unique": 0,
                            "likelihood": True, "index": "int", "placeholder": "nan",
                            "ext": ".h5", "n_frames": 5, "seed": 1})
    p = write_tracks(t, tmp_path / "v.h5")
    with pd.HDFStore(p, "r") as store:
        assert store.keys() == ["/df_with_missing"]
        assert store.get_storer("/df_with_missing").is_table
    df = pd.read_hdf(p)
    assert df.shape == (5, 6)
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]
    with pytest.raises(FileExistsError):
        write_tracks(t, p)
    write_tracks(t, p, overwrite=True)
    assert [q.name for q in tmp_path.iterdir()] == ["v.h5"]  # no temp files left
    with pytest.raises(ValueError, match="suffix"):
        write_tracks(t, tmp_path / "v.txt")


@pytest.mark.parametrize("index", ["int", "multi"])  # table format; labelled-data (fixed)
def test_same_tracks_give_the_same_h5_bytes(tmp_path, index):
    """No creation times in the file: a rerun's output can be checked with a checksum."""
    import time

    t = tracks_from_layout({"multi": True, "n_animals": 2, "n_kp": 3, "n_unique": 1,
                            "likelihood": index == "int", "index": index,
                            "placeholder": "nan", "ext": ".h5", "n_frames": 20, "seed": 3})
    a = write_tracks(t, tmp_path / "a.h5")
    time.sleep(1.1)  # HDF5 object times have a resolution of one second
    b = write_tracks(t, tmp_path / "b.h5")
    assert a.read_bytes() == b.read_bytes()
    back = read_tracks(a)  # and the file reads as before
    assert back.xy.tobytes() == t.xy.tobytes()
    if index == "int":
        assert back.likelihood.tobytes() == t.likelihood.tobytes()
    else:  # a labelled-data frame: the row MultiIndex survives, as DeepLabCut reads it
        assert list(pd.read_hdf(a).index) == list(t.to_dataframe().index)


def test_store_without_times_changes_only_its_own_file(tmp_path):
    import tables

    from stablemotion_dlc.dlc.io import hdf_store_without_times

    df = pd.DataFrame({"x": np.arange(3.0)})
    with hdf_store_without_times(tmp_path / "a.h5") as store:
        store.put("df", df, format="fixed")
    with pd.HDFStore(tmp_path / "b.h5", mode="w") as other:  # a plain store keeps the times
        assert not hasattr(other._handle.create_array, "__wrapped__")
    assert "track_times" in tables.File.create_array.__code__.co_varnames  # class untouched
    pd.testing.assert_frame_equal(pd.read_hdf(tmp_path / "a.h5", "df"), df)


def test_el_file_written_with_df_with_missing_key(tmp_path):
    t = tracks_from_layout({"multi": True, "n_animals": 2, "n_kp": 2, "n_unique": 0,
                            "likelihood": True, "index": "int", "placeholder": "nan",
                            "ext": ".h5", "n_frames": 4, "seed": 2})
    src = tmp_path / "vidDLC_Resnet50_tJan1shuffle1_snapshot_5_el.h5"
    t.to_dataframe().to_hdf(src, key="tracks", format="table", mode="w")
    r = read_tracks(src)
    assert r.meta["hdf_key"] == "tracks"
    out = write_tracks(r, tmp_path / "out.h5")
    with pd.HDFStore(out, "r") as store:
        assert store.keys() == ["/df_with_missing"]
    r.meta["write_key"] = "tracks"
    out2 = write_tracks(r, tmp_path / "out2.h5")
    with pd.HDFStore(out2, "r") as store:
        assert store.keys() == ["/tracks"]


def test_csv_header_rows_as_dlc_writes_them(tmp_path):
    t = tracks_from_layout({"multi": True, "n_animals": 1, "n_kp": 2, "n_unique": 1,
                            "likelihood": False, "index": "multi", "placeholder": "nan",
                            "ext": ".csv", "n_frames": 2, "seed": 9})
    lines = write_tracks(t, tmp_path / "c.csv").read_text().splitlines()
    assert lines[0].startswith("scorer,,,")
    assert lines[1].startswith("individuals,,,ind0")
    assert lines[2].startswith("bodyparts,,,bp0")
    assert lines[3].startswith("coords,,,x,y")
    assert lines[4].startswith("labeled-data,vid,img000.png,")
    assert len(lines) == 6


# ------------------------------------------------------------------ reader quirks
def _write_h5(df: pd.DataFrame, path: Path, key: str = "df_with_missing") -> Path:
    df.to_hdf(path, key=key, mode="w")
    return path


def _simple_df(n: int = 3, lik: bool = True) -> pd.DataFrame:
    coords = ["x", "y", "likelihood"] if lik else ["x", "y"]
    cols = pd.MultiIndex.from_product([["sc"], ["nose", "tail"], coords],
                                      names=["scorer", "bodyparts", "coords"])
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.uniform(0.1, 0.9, (n, len(cols))) * 100, columns=cols)


def test_hdf_keys(tmp_path):
    df = _simple_df()
    for key in ("df", "calib", "tracks", "whatever"):
        t = read_tracks(_write_h5(df, tmp_path / f"{key}.h5", key))
        assert t.meta["hdf_key"] == key
    p = tmp_path / "two.h5"
    df.to_hdf(p, key="a", mode="w")
    df.to_hdf(p, key="b", mode="a")
    with pytest.raises(DLCFileError, match=r"several HDF keys.*/a.*/b"):
        read_tracks(p)
    df.to_hdf(p, key="df_with_missing", mode="a")
    assert read_tracks(p).meta["hdf_key"] == "df_with_missing"


def test_warnings_and_logging(tmp_path, caplog):
    df = _simple_df(4)
    df.iloc[:, 0:2] = np.nan  # nose all-NaN
    df.iloc[0, 5] = 1.7  # likelihood > 1 kept
    df.iloc[1, 3] = 5e6  # absurd coordinate kept
    with caplog.at_level(logging.WARNING, logger="stablemotion_dlc.dlc.io"):
        t = read_tracks(_write_h5(df, tmp_path / "w.h5"))
    text = " | ".join(t.meta["warnings"])
    assert "all-NaN keypoint" in text and "nose" in text
    assert "outside [0, 1]" in text
    assert "|coordinate|" in text
    assert t.likelihood[0, 0, 1] == 1.7
    assert t.xy[1, 0, 1, 0] == 5e6
    assert "all-NaN keypoint" in caplog.text


def test_prefixed_bodyparts_read_as_single_animal(tmp_path):
    parts = [f"{p}_{b}" for p in ("B", "W") for b in ("Nose", "Tail", "Spine")]
    cols = pd.MultiIndex.from_product([["sc"], parts, ["x", "y", "likelihood"]],
                                      names=["scorer", "bodyparts", "coords"])
    t = read_tracks(_write_h5(pd.DataFrame(np.ones((2, len(cols))), columns=cols),
                              tmp_path / "p.h5", "df"))
    assert not t.multianimal and t.individuals == [SINGLE_ANIMAL_NAME]
    assert t.meta["bodypart_prefixes"] == ["B_", "W_"]
    assert any("prefixed bodyparts" in w for w in t.meta["warnings"])


def test_meta_pickle_and_crop_offset(tmp_path):
    df = _simple_df(3)
    stem = "vidDLC_Resnet50_tJan1shuffle1_snapshot_5"
    _write_h5(df, tmp_path / f"{stem}_el_filtered.h5")
    data = {"fps": 25.0, "nframes": 3, "frame_dimensions": (200, 100), "cropping": True,
            "cropping_parameters": [10, 210, 20, 120], "pytorch-config": {}}
    with open(tmp_path / f"{stem}_meta.pickle", "wb") as fh:
        pickle.dump({"data": data}, fh)
    t = read_tracks(tmp_path / f"{stem}_el_filtered.h5")
    assert t.meta["fps"] == 25.0 and t.meta["nframes"] == 3
    assert t.meta["frame_size"] == (200, 100)
    assert t.crop_offset == (10.0, 20.0)
    # not cropped -> zero offset; old (ny, nx) dimensions recognised
    data.update(cropping=False, cropping_parameters=[0, 640, 0, 480],
                frame_dimensions=(480, 640))
    del data["pytorch-config"]
    with open(tmp_path / f"{stem}_meta.pickle", "wb") as fh:
        pickle.dump({"data": data}, fh)
    t = read_tracks(tmp_path / f"{stem}_el_filtered.h5")
    assert t.crop_offset == (0.0, 0.0)
    assert t.meta["frame_size"] == (640, 480)


def test_one_frame_file_is_valid(tmp_path):
    for ext in (".h5", ".csv"):
        p = tmp_path / f"one{ext}"
        df = _simple_df(1)
        df.to_hdf(p, key="df_with_missing", mode="w") if ext == ".h5" else df.to_csv(p)
        t = read_tracks(p)
        assert t.n_frames == 1


# ------------------------------------------------------------------ bad input
def _csv(tmp_path: Path, text: str, name: str = "bad.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD_CSV = ("scorer,sc,sc,sc\nbodyparts,nose,nose,nose\ncoords,x,y,likelihood\n"
            "0,1.5,2.5,0.9\n1,3.5,4.5,0.8\n")


@pytest.mark.parametrize("text, match", [
    ("a,b,c\n1,2,3\n4,5,6\n", "no 'coords' header row"),
    ("", "empty file"),
    ("scorer,sc,sc\nbodyparts,nose,nose\ncoords,x,y\n", "zero frames"),
    ("scorer,sc,sc,sc\ncoords,x,y,likelihood\n0,1,2,0.5\n", "wrong number of header rows"),
    ("scorer,sc,sc\nbodyparts,nose,nose\ncoords,x,likelihood\n0,1,0.5\n",
     "no x/y coordinate columns"),
    ("scorer,sc,sc,sc,sc,sc\nbodyparts,nose,nose,nose,tail,tail\n"
     "coords,x,y,likelihood,x,likelihood\n0,1,2,0.5,3,0.4\n", "tail has coords"),
    ("scorer,sc,sc,sc,sc\nbodyparts,nose,nose,nose,nose\ncoords,x,y,x,y\n0,1,2,3,4\n",
     "duplicate columns"),
    ("scorer,sc,sc,sc\nbodyparts,nose,nose,nose\ncoords,x,y,likelihood\n0,1,abc,0.5\n",
     "non-numeric"),
    (GOOD_CSV + "2,5.5,6", "truncated"),
])
def test_bad_csv(tmp_path, text, match):
    p = _csv(tmp_path, text)
    with pytest.raises(DLCFileError, match=match) as err:
        read_tracks(p)
    assert str(p) in str(err.value)


def test_good_csv_reference(tmp_path):
    t = read_tracks(_csv(tmp_path, GOOD_CSV))
    np.testing.assert_array_equal(t.xy[:, 0, 0], [[1.5, 2.5], [3.5, 4.5]])
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(GOOD_CSV.replace("\n", "\r\n").encode())
    assert read_tracks(crlf).xy.tobytes() == t.xy.tobytes()
    named = _csv(tmp_path, GOOD_CSV.replace("coords,x,y,likelihood\n",
                                            "coords,x,y,likelihood\nframe,,,\n"), "named.csv")
    tn = read_tracks(named)
    assert tn.index.name == "frame" and list(tn.index) == [0, 1]
    assert tn.xy.tobytes() == t.xy.tobytes()


def test_binary_or_non_utf8_csv(tmp_path):
    p = tmp_path / "bin.csv"
    p.write_bytes(b"\x00\x01\x02garbage\x00")
    with pytest.raises(DLCFileError, match="bin.csv"):
        read_tracks(p)
    q = tmp_path / "latin.csv"
    q.write_bytes(GOOD_CSV.replace("0,1.5", "\xe9,1.5").encode("latin-1"))
    with pytest.raises(DLCFileError, match="latin.csv"):
        read_tracks(q)


@pytest.mark.filterwarnings("ignore::pandas.errors.PerformanceWarning")
def test_bad_h5(tmp_path):
    txt = tmp_path / "text.h5"
    txt.write_text("this is not hdf5")
    with pytest.raises(DLCFileError, match="not an HDF5 file"):
        read_tracks(txt)
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    with pytest.raises(DLCFileError, match="empty file"):
        read_tracks(empty)
    good = _write_h5(_simple_df(50), tmp_path / "good.h5")
    trunc = tmp_path / "trunc.h5"
    trunc.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DLCFileError, match=str(trunc.name)):
        read_tracks(trunc)
    rand = tmp_path / "random.h5"
    pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}).to_hdf(rand, key="t", format="table")
    with pytest.raises(DLCFileError, match="not a DeepLabCut table"):
        read_tracks(rand)
    zero = _write_h5(_simple_df(0), tmp_path / "zero.h5")
    with pytest.raises(DLCFileError, match="zero frames"):
        read_tracks(zero)
    text_cells = _simple_df(2).astype(object)
    text_cells.iloc[0, 0] = "oops"
    with pytest.raises(DLCFileError, match="non-numeric"):
        read_tracks(_write_h5(text_cells, tmp_path / "obj.h5"))


def test_missing_file_and_nothing_written(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        read_tracks(tmp_path / "nope.h5")
    with pytest.raises(DLCFileError, match="unsupported suffix"):
        read_tracks(_csv(tmp_path, "x", "file.txt"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_integer_columns_keep_dtype_until_nan(tmp_path):
    cols = pd.MultiIndex.from_product([["sc"], ["nose"], ["x", "y"]],
                                      names=["scorer", "bodyparts", "coords"])
    src = _write_h5(pd.DataFrame([[3, 4], [5, 6]], columns=cols), tmp_path / "int.h5")
    t = read_tracks(src)
    assert t.meta["dtype"] == "int64" and t.xy.dtype == np.float64
    out = write_tracks(t, tmp_path / "o.h5")
    assert set(pd.read_hdf(out).dtypes.astype(str)) == {"int64"}
    t.xy[0, 0, 0] = np.nan  # a missing point cannot be an integer: written as float
    back = read_tracks(write_tracks(t, tmp_path / "o2.h5"))
    assert np.isnan(back.xy[0, 0, 0]).all() and back.xy[1, 0, 0].tolist() == [5.0, 6.0]
