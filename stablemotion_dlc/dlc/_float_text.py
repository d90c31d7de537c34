"""Shortest round-trip text of float64 arrays, vectorised: the bytes of Python's ``repr``.

CPython's ``repr(float)`` (David Gay's shortest round-trip digits) costs about 0.7 us a value,
which made the CSV twin of a 1-hour file (3-40 M values) one of the slowest parts of a clean.
:func:`repr_cells` gives the same text for whole arrays with NumPy, in two steps:

1. **Digits.** For a double ``x`` with decimal exponent ``E``, the correctly rounded
   ``p``-digit value is ``D_p = round(x * 10**(p - 1 - E))``; ``repr`` writes the smallest
   ``p`` whose ``D_p`` reads back as ``x`` (17 digits always do), and of the ``p``-digit
   strings that read back, the closest to ``x``, which is ``D_p``. A ``p``-digit string reads
   back as ``x`` when it lies within half an ulp of ``x``, and if ``D_p`` does, so does
   ``D_{p+1}``: the search goes down from 16 digits until one fails. Both tests (the
   rounding of ``D_p`` and the half-ulp test) are exact: ``x * 10**s`` (``10**s`` is an
   exact double for ``s <= 22``) is computed exactly as the sum of two doubles with
   Dekker's two-product, and the rest is integer arithmetic and exact small differences.
   Exact ties and tests within ``1e-12`` of their threshold are **not decided here** and
   get Python's own ``repr``, as does everything outside the plain case: NaN, infinities,
   zero, magnitudes below ``1e-4`` or from ``1e16`` (``repr``'s exponent notation), exact
   powers of two (their lower half-ulp is half the upper one).
2. **Text.** ``repr``'s fixed notation: ``[-]INT.FRAC`` with ``.0`` for whole numbers, built
   as fixed-width byte fields (zero bytes for padding) and squeezed.

It needs IEEE doubles rounded to nearest, which NumPy's float64 arithmetic is on every
platform it supports. ``tests/test_csv_writer.py`` compares the bytes with ``repr`` on
hundreds of thousands of values of every kind.
"""

from __future__ import annotations

import numpy as np

#: Width of one cell's text: sign, then "0." and up to 3 zeros or up to 16 integer digits,
#: the point and the digits (22 characters at most without the sign); 24 for repr's own
#: longest text ("-2.2250738585072014e-308").
CELL_W = 24

#: Whether the vectorised path is used (IEEE doubles with round-to-nearest; tests switch it
#: off to check the ``repr`` path).
VECTORISED = True
_POW10 = 10.0 ** np.arange(23)  # exact doubles
_SPLIT = 134217729.0  # 2**27 + 1, Dekker's splitter for doubles
_POW10_HI = _SPLIT * _POW10 - (_SPLIT * _POW10 - _POW10)
_POW10_LO = _POW10 - _POW10_HI
#: Slack of the half-ulp test: the distance ``|k - r|`` is computed with one rounding (at
#: most 12 * 2**-53); a test closer than this to its threshold is not decided here
_MARGIN = 1e-12
# columns of the digit table: 17 digits, then "0", ".", "-" and padding
_ZERO, _POINT, _MINUS, _PAD = 17, 18, 19, 20


def _scaled(a: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a * 10**s`` exactly, as ``hi + lo`` (Dekker's two-product; ``0 <= s <= 22``)."""
    hi = a * _POW10[s]
    c = _SPLIT * a
    a_hi = c - (c - a)
    a_lo = a - a_hi
    b_hi, b_lo = _POW10_HI[s], _POW10_LO[s]
    lo = ((a_hi * b_hi - hi) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return hi, lo


def _digits(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shortest round-trip digits of positive doubles in ``[1e-4, 1e16)``, not powers of 2.

    Returns ``(ok, m, p, e)``: ``ok`` False where the value is not decided here (the other
    outputs are then meaningless); ``m`` uint64, the ``p`` significant digits followed by
    zeros to 17 digits (``10**16 <= m < 10**17``); ``e`` the decimal exponent of the value
    (``x ~ m * 10**(e - 16)``).
    """
    n = len(a)
    e = np.floor(np.log10(a)).astype(np.int64)
    hi, lo = _scaled(a, 16 - e)  # x at 17 digits, exactly: hi + lo
    for _ in range(2):  # log10 may miss the exponent by one near a power of ten
        big = (hi > 1e17) | ((hi == 1e17) & (lo >= 0))
        small = (hi < 1e16) | ((hi == 1e16) & (lo < 0))
        off = big.astype(np.int64) - small
        if not off.any():
            break
        e = e + off
        h2, l2 = _scaled(a, np.clip(16 - e, 0, 22))
        hi, lo = np.where(off != 0, h2, hi), np.where(off != 0, l2, lo)
    # hi is a whole number (at least 1e16 > 2**53) and |lo| <= 8: y = hi + floor(lo) + frac
    fl = np.floor(lo)
    frac = lo - fl  # exact
    ok = (hi >= 1e16) & (hi < 1e17) & (frac != 0.5)  # (an exact tie: left to repr)
    up17 = frac > 0.5
    d17 = np.where(ok, hi, 1e16).astype(np.uint64) + (fl + up17).astype(np.int64).astype(
        np.uint64
    )  # (wraps for -1: modular sum)
    ok &= (d17 >= np.uint64(10**16)) & (d17 < np.uint64(10**17))
    r = frac - up17  # x = d17 + r in units of the 17th digit, |r| <= 1/2, exact
    half = 0.5 * np.spacing(a) * _POW10[np.clip(16 - e, 0, 22)]  # half an ulp there (exact)
    m = d17.copy()
    p = np.full(n, 17, np.int64)
    # fewer digits while the nearest multiple of 10**j still lies within half an ulp
    # (16 and 15 digits tested on every value, then on the ever fewer values that pass)
    idx = None
    for j in range(1, 17):
        dj, ri, hj = (d17, r, half) if idx is None else (d17[idx], r[idx], half[idx])
        unit = np.uint64(10**j)
        q = dj // unit
        rem = dj - q * unit
        # rounding d17 + r to a multiple of 10**j: up when rem + r > 10**j / 2
        above = (rem.astype(np.int64) - 10**j // 2).astype(np.float64) + ri
        up = above > 0
        remf = rem.astype(np.float64)
        dist = np.abs(np.where(up, (unit - rem).astype(np.float64), -remf) - ri)
        amb = (above == 0) | (np.abs(dist - hj) <= _MARGIN)
        mj = (q + up) * unit
        amb |= mj >= np.uint64(10**17)
        keep = (dist < hj) & ~amb
        if idx is None:  # whole arrays (passing at j implies passing at j - 1)
            ok &= ~amb
            keep &= ok
            m = np.where(keep, mj, m)
            p = np.where(keep, 17 - j, p)
            if j == 2:
                idx = np.flatnonzero(keep)
            continue
        ok[idx[amb]] = False
        idx = idx[keep]
        m[idx] = mj[keep]
        p[idx] = 17 - j
        if not len(idx):
            break
    return ok, m, p, e


def _digit_table(m: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """``(N, 21)`` ASCII: the 17 digits of each ``m``, then "0", ".", "-" or 0, and 0."""
    n = len(m)
    tab = np.zeros((21, n), np.uint8)
    hi = (m // np.uint64(10**9)).astype(np.uint32)
    lo = (m - hi.astype(np.uint64) * np.uint64(10**9)).astype(np.uint32)
    ten = np.uint32(10)
    for col0, width, part in ((0, 8, hi), (8, 9, lo)):
        rest = part
        for i in range(width - 1, -1, -1):
            q = rest // ten
            tab[col0 + i] = (rest - q * ten).astype(np.uint8) + 48
            rest = q
    tab[_ZERO] = ord("0")
    tab[_POINT] = ord(".")
    tab[_MINUS] = np.where(negative, np.uint8(ord("-")), np.uint8(0))
    return np.ascontiguousarray(tab.T)  # (the last column stays 0: padding)


def _template(decpt: int, p: int) -> list[int]:
    """Columns of the digit table that spell ``repr``'s fixed notation (sign first)."""
    cols = [_MINUS]
    if decpt <= 0:  # 0.000ddd
        cols += [_ZERO, _POINT] + [_ZERO] * (-decpt) + list(range(p))
    elif decpt < p:  # ddd.ddd
        cols += list(range(decpt)) + [_POINT] + list(range(decpt, p))
    else:  # ddd000.0 (the digit table's trailing digits are zeros)
        cols += list(range(decpt)) + [_POINT, _ZERO]
    return cols + [_PAD] * (CELL_W - len(cols))


#: Row ``(decpt + 3) * 18 + p`` (decpt -3..16, p 1..17): that layout's columns; row 0: none.
_TEMPLATES = np.array(
    [[_PAD] * CELL_W]
    + [
        _template(key // 18 - 3, key % 18) if key % 18 else [_PAD] * CELL_W
        for key in range(1, 20 * 18)
    ],
    dtype=np.intp,
)


def repr_cells(values: np.ndarray) -> np.ndarray:
    """``repr`` of each float64 (NaN as an empty cell) as fixed-width byte fields.

    Parameters
    ----------
    values : np.ndarray
        Float64 values (flattened).

    Returns
    -------
    np.ndarray
        ``(N, CELL_W)`` uint8: each row the cell's text, left to right, with zero bytes as
        padding anywhere (drop them to get the text).
    """
    v = np.asarray(values, np.float64).ravel()
    n = len(v)
    a = np.abs(v)
    with np.errstate(invalid="ignore"):
        plain = np.isfinite(v) & (a >= 1e-4) & (a < 1e16)
    if VECTORISED:
        mant = v.view(np.uint64) & np.uint64((1 << 52) - 1)
        plain &= mant != 0  # exact powers of two: asymmetric rounding interval
    else:
        plain[:] = False
    if plain.any():
        ok, m, p, e = _digits(np.where(plain, a, 1.5))  # (1.5: a stand-in, not used)
        ok &= plain
        tab = _digit_table(m, v < 0)
        key = np.where(ok, (e + 4) * 18 + p, 0)  # (e + 1 digits before the point)
        out = np.empty((n, CELL_W), np.uint8)
        for kk in np.flatnonzero(np.bincount(key)).tolist():  # a few layouts per file
            rows = np.flatnonzero(key == kk)
            out[rows] = tab[rows][:, _TEMPLATES[kk]]
    else:
        ok = plain
        out = np.zeros((n, CELL_W), np.uint8)
    idx = np.flatnonzero(~ok & ~np.isnan(v))
    if len(idx):
        text = np.array([repr(x).encode("ascii") for x in v[idx].tolist()], dtype=f"S{CELL_W}")
        out[idx] = text.view(np.uint8).reshape(len(idx), CELL_W)
    return out
