"""Validation of a long file runs on the frames around its held-out spans (issue 17)."""

from __future__ import annotations

import numpy as np

from stablemotion_dlc.dlc import repair


def test_short_files_validate_on_every_frame():
    rows, at = repair._validation_rows([(0, 10, 20, 1)], repair.VALIDATION_FULL_FRAMES)
    assert rows == slice(None) and at(15) == 15
    rows, _ = repair._validation_rows([], 10**6)
    assert rows == slice(None)


def test_long_files_validate_around_the_spans():
    n_t = 108_000
    good = np.ones((n_t, 4), bool)
    vmask, spans = repair.validation_mask(good, np.random.default_rng(0))
    rows, at = repair._validation_rows(spans, n_t)
    assert isinstance(rows, np.ndarray) and len(rows) < n_t // 2
    ctx = repair.VALIDATION_CONTEXT
    for k, a, z, _ in spans:
        p = at(a)
        assert np.array_equal(rows[p:p + z - a], np.arange(a, z))  # the span, contiguous
        lo, hi = max(a - ctx, 0), min(z + ctx, n_t)
        assert np.isin(np.arange(lo, hi), rows).all()  # with its context
        assert vmask[rows][p:p + z - a, k].all()
    assert vmask[rows].sum() == vmask.sum()  # every hidden point is validated
