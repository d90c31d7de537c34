"""Small array helpers shared by the data modules."""

from __future__ import annotations

import numpy as np

__all__ = ["true_runs"]


def true_runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and (exclusive) stops of the runs of True in a 1-D bool array.

    Parameters
    ----------
    flags : np.ndarray
        1-D boolean array.

    Returns
    -------
    starts, stops : np.ndarray
        Integer arrays of equal length; run ``j`` covers ``flags[starts[j]:stops[j]]``.
    """
    edges = np.diff(np.concatenate([[0], np.asarray(flags).astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
