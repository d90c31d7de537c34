"""Tests of the shared numpy helpers (stablemotion_dlc._arrays) and their adapters."""

from __future__ import annotations

import numpy as np
import pytest

from stablemotion_dlc import _arrays
from stablemotion_dlc._arrays import interp_fill, true_runs
from stablemotion_dlc.core import synthetic
from stablemotion_dlc.dlc import representation as features


def test_true_runs() -> None:
    starts, stops = true_runs(np.array([1, 1, 0, 0, 1, 0, 1], bool))
    assert starts.tolist() == [0, 4, 6] and stops.tolist() == [2, 5, 7]


def test_interp_fill_linear_inside_nearest_at_ends() -> None:
    v = np.array([np.nan, 1.0, np.nan, np.nan, 4.0, np.nan])[None, :, None]  # (1, 6, 1)
    out, has = interp_fill(v, np.isfinite(v))
    np.testing.assert_allclose(out[0, :, 0], [1, 1, 2, 3, 4, 4])
    assert has.tolist() == [[True]]
    xy = np.stack([np.arange(5.0), 10 * np.arange(5.0)], axis=-1)[None, :, None]  # (1,5,1,2)
    valid = np.array([[[True], [False], [False], [True], [False]]])
    out, _ = interp_fill(np.where(valid[..., None], xy, np.nan), valid)
    np.testing.assert_allclose(out[0, :4, 0], xy[0, :4, 0])
    np.testing.assert_allclose(out[0, 4, 0], xy[0, 3, 0])
    out, has = interp_fill(np.full((2, 4, 1), np.nan), np.zeros((2, 4, 1), bool))
    assert not has.any() and np.isnan(out).all()
    with pytest.raises(ValueError, match="valid"):
        interp_fill(np.zeros((1, 4, 2)), np.zeros((1, 4), bool))


def test_one_implementation_behind_every_numpy_fill() -> None:
    assert features.interp_fill is _arrays.interp_fill
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4)).astype(np.float32)
    known = rng.random((50, 4)) < 0.4
    known[:, 3] = False
    known[:7, 1] = False
    out = synthetic.interp_fill(np.where(known, x, np.nan), known)
    assert out.dtype == np.float32
    idx = np.arange(50)
    for c in range(3):  # the adapter keeps np.interp's numbers per channel
        expect = np.interp(idx, idx[known[:, c]], x[known[:, c], c].astype(np.float64))
        np.testing.assert_array_equal(out[:, c], expect.astype(np.float32))
    assert (out[:, 3] == 0).all()  # a channel with no known value is 0



def test_save_npz_is_byte_reproducible_and_loads_like_numpys(tmp_path):
    import io
    import time

    import pytest

    from stablemotion_dlc._arrays import save_npz

    arrays = {"status": np.zeros((300, 4), dtype=np.int8),
              "names": np.array(["snout", "tail"]), "report": np.array('{"a": 1}')}

    def written(**kwargs):
        buf = io.BytesIO()
        save_npz(buf, **kwargs, **arrays)
        return buf.getvalue()

    first = written()
    time.sleep(2.1)  # zip entry times have two-second resolution
    assert written() == first
    stored = written(compress=False)
    assert len(first) < len(stored)  # deflated, as np.savez_compressed
    ref = tmp_path / "ref.npz"
    np.savez_compressed(ref, **arrays)
    for data in (first, stored):
        with np.load(io.BytesIO(data), allow_pickle=False) as z, np.load(ref) as r:
            assert sorted(z.files) == sorted(r.files)
            for k in r.files:
                assert z[k].dtype == r[k].dtype and (z[k] == r[k]).all()
    with pytest.raises(ValueError, match="pickle"):
        save_npz(io.BytesIO(), bad=np.array([{"a": 1}], dtype=object))
