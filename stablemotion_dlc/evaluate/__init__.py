"""Evaluation: metrics, baselines, the two corruption protocols, the benchmark and its report.

:mod:`.metrics`, :mod:`.baselines`, :mod:`.cases` (protocol A), :mod:`.protocol`
(protocol B), :mod:`.methods` (the compared methods), :mod:`.runner`, :mod:`.speed`,
:mod:`.report`, :mod:`.plots`.
"""
