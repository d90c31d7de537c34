"""DLC I/O on the real DLC outputs in ``shared/data`` (skipped when the folder is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stablemotion_dlc.dlc.io import read_tracks, write_tracks
from stablemotion_dlc.dlc.tracks import SINGLE_ANIMAL_NAME, UNIQUE_NAME, Tracks

MMS = "multi_mouse_short"
EL = f"{MMS}/m3v1mp4shortDLC_effnet_b0_multi_mouseApr12shuffle1_5_el"


def assert_identical(a: Tracks, b: Tracks, *, check_dtype_meta: bool = True) -> None:
    """Bit-identical arrays, names, index and layout meta."""
    assert a.xy.tobytes() == b.xy.tobytes()
    np.testing.assert_array_equal(a.xy, b.xy)
    assert (a.likelihood is None) == (b.likelihood is None)
    if a.likelihood is not None:
        assert a.likelihood.tobytes() == b.likelihood.tobytes()
    np.testing.assert_array_equal(a.present, b.present)
    assert (a.bodyparts, a.individuals, a.scorer, a.multianimal) == \
        (b.bodyparts, b.individuals, b.scorer, b.multianimal)
    assert a.index.equals(b.index) and type(a.index) is type(b.index)
    if not isinstance(a.index, pd.MultiIndex):
        assert a.index.dtype == b.index.dtype
    for key in ("placeholder", "coords", "column_names", "column_order"):
        assert a.meta.get(key) == b.meta.get(key), key
    if check_dtype_meta:
        assert a.meta.get("dtype") == b.meta.get("dtype")


def _pose_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".h5", ".csv") and p.is_file())


def test_every_shared_file_round_trips(shared_data, tmp_path):
    files = _pose_files(shared_data)
    assert len(files) >= 25
    for i, src in enumerate(files):
        before = src.read_bytes()
        t = read_tracks(src)
        for ext in (".h5", ".csv"):
            out = write_tracks(t, tmp_path / f"{i}_{src.stem}{ext}")
            back = read_tracks(out)
            # CSV carries no dtype: float32 sources come back as float64 text of the same values
            assert_identical(t, back, check_dtype_meta=ext == ".h5")
            again = read_tracks(write_tracks(back, tmp_path / f"{i}_{src.stem}_2{ext}"))
            assert_identical(back, again)
        assert src.read_bytes() == before  # input never modified


def test_written_h5_is_plain_dlc(shared_data, tmp_path):
    t = read_tracks(shared_data / f"{EL}.h5")
    out = write_tracks(t, tmp_path / "x_filtered.h5")
    with pd.HDFStore(out, "r") as store:
        assert store.keys() == ["/df_with_missing"]
    df = pd.read_hdf(out)  # bare read, as DLC does
    ref = pd.read_hdf(shared_data / f"{EL}.h5", key="tracks")
    assert df.columns.equals(ref.columns)
    np.testing.assert_array_equal(df.to_numpy(), ref.to_numpy())
    assert df.to_numpy().tobytes() == ref.to_numpy().tobytes()


def test_hdf_keys_are_reported(shared_data):
    expected = {
        f"{EL}.h5": "tracks",
        f"{EL}_filtered.h5": "df_with_missing",
        "montblanc/montblanc_tracks.h5": "df",
        "trimouse/trimouse_calib.h5": "calib",
        "deepof/testDLC_h5_table_madlc.h5": "tracks",
    }
    for rel, key in expected.items():
        assert read_tracks(shared_data / rel).meta["hdf_key"] == key


def test_unique_bodyparts_not_invented(shared_data):
    for rel in (f"{EL}.h5", f"{EL}_filtered.csv", f"{MMS}/CollectedData_dlc_team.csv",
                f"{MMS}/machinelabels-iter0.h5"):
        t = read_tracks(shared_data / rel)
        assert t.multianimal
        assert t.individuals == ["individual1", "individual2", "individual3", UNIQUE_NAME]
        assert t.bodyparts == ["bodypart1", "bodypart2", "bodypart3", "corner1", "corner2"]
        assert t.unique_bodyparts == ["corner1", "corner2"]
        np.testing.assert_array_equal(t.present[:3], [[1, 1, 1, 0, 0]] * 3)
        np.testing.assert_array_equal(t.present[3], [0, 0, 0, 1, 1])
        assert np.isnan(t.xy[:, 3, :3]).all() and np.isnan(t.xy[:, :3, 3:]).all()
    mb = read_tracks(shared_data / "montblanc/montblanc_tracks.h5")
    assert mb.unique_bodyparts == ["center"]
    assert mb.present.sum() == 3 * 4 + 1


def test_labelled_data_three_index_columns(shared_data):
    csv = read_tracks(shared_data / f"{MMS}/CollectedData_dlc_team.csv")
    h5 = read_tracks(shared_data / f"{MMS}/CollectedData_dlc_team.h5")
    assert isinstance(csv.index, pd.MultiIndex) and csv.index.nlevels == 3
    assert csv.index.equals(h5.index)
    assert csv.index[0] == ("labeled-data", "m3v1mp4short", "img26.png")
    assert csv.likelihood is None and csv.meta["coords"] == ["x", "y"]
    np.testing.assert_allclose(csv.xy, h5.xy, equal_nan=True)
    pranav = read_tracks(shared_data / "openfield_m3v1/CollectedData_Pranav.csv")
    assert pranav.index[0] == "labeled-data/m4s1/img0000.png"
    assert pranav.likelihood is None and not pranav.multianimal
    assert pranav.individuals == [SINGLE_ANIMAL_NAME]


def test_deduplicated_scorer_row(shared_data):
    for rel in ("vame/cropped_video.csv", "deepof/testDLC_csv_table_madlc.csv"):
        t = read_tracks(shared_data / rel)
        assert not t.scorer.endswith(".1")
        assert any("de-duplicated" in w for w in t.meta["warnings"])
    assert read_tracks(shared_data / "vame/cropped_video.csv").scorer == \
        "DeepCut_resnet50_VAME-FinalNov7shuffle1_350000"


def test_zero_placeholders(shared_data):
    t = read_tracks(shared_data / "deepof/testDLC_h5_table_madlc.h5")
    assert t.meta["placeholder"] == "zero"
    raw = pd.read_hdf(shared_data / "deepof/testDLC_h5_table_madlc.h5", key="tracks")
    n_zero = int(((raw.xs("x", level="coords", axis=1) == 0)
                  & (raw.xs("y", level="coords", axis=1) == 0)).to_numpy().sum())
    assert n_zero == 700
    assert int(np.isnan(t.xy[..., 0]).sum()) == 700
    assert not ((t.xy == 0).all(-1)).any()
    assert t.to_dataframe().to_numpy().tobytes() == raw.to_numpy().tobytes()
    demo4 = read_tracks(shared_data / "behaviordepot/demo4_video.csv")
    assert demo4.meta["placeholder"] == "zero"
    assert int(np.isnan(demo4.xy[..., 0]).sum()) == 65


def test_prefixed_bodyparts(shared_data):
    for rel in ("deepof/testDLC_h5_table_multi.h5", "deepof/testDLC_csv_table_multi.csv"):
        t = read_tracks(shared_data / rel)
        assert not t.multianimal and t.n_keypoints == 28
        assert t.meta["bodypart_prefixes"] == ["B_", "W_"]
        assert any("prefixed" in w for w in t.meta["warnings"])


def test_absurd_coordinates_kept_and_meta_pickle(shared_data):
    rel = "element_deeplabcut/train1_trimmedDLC_resnet50_Top_trackingAug3shuffle1_100.h5"
    t = read_tracks(shared_data / rel)
    raw = pd.read_hdf(shared_data / rel)
    assert np.nanmax(np.abs(t.xy)) > 1e6  # kept as read
    assert any("outside the 500x500 frame" in w for w in t.meta["warnings"])
    assert t.meta["fps"] == 60.0 and t.meta["nframes"] == 3600
    assert t.to_dataframe().to_numpy().tobytes() == raw.to_numpy().tobytes()


def test_multi_mouse_meta_pickle(shared_data):
    t = read_tracks(shared_data / f"{EL}.h5")
    assert t.meta["fps"] == pytest.approx(29.98, abs=0.01)
    assert t.meta["nframes"] == 31 == t.n_frames
    assert t.meta["frame_size"] == (640, 480)
    assert t.meta["cropping"] is False
    assert t.crop_offset == (0.0, 0.0)
    assert Path(t.meta["meta_pickle"]).name.endswith("shuffle1_5_meta.pickle")


def test_float32_labels_keep_dtype(shared_data, tmp_path):
    t = read_tracks(shared_data / "trimouse/trimouse_calib.h5")
    assert t.meta["dtype"] == "float32" and t.xy.dtype == np.float64
    out = write_tracks(t, tmp_path / "calib.h5")
    assert set(pd.read_hdf(out).dtypes.astype(str)) == {"float32"}
