"""Summaries of bootstrap replicates: the confidence level, the percentile interval and the
bootstrap p-value, written once for every chapter."""

from __future__ import annotations

import math

import numpy as np

from pluralign.stats.errors import StatisticsError

#: The confidence level of every reported interval.
CONFIDENCE = 0.95


def percentile_interval(
    replicates: np.ndarray, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """The `confidence` percentile interval of the finite bootstrap replicates (NaN and ±inf are
    ignored); (nan, nan) when no replicate is finite. A caller that must refuse an undefined
    interval checks for NaN itself and raises its own error.

    The tails are `np.percentile` at t = (1 − c)/2·100 and 100 − t. The rating-gap tables used
    `np.quantile` at (1 − c)/2 and 1 − (1 − c)/2: at 0.9, 0.95 and 0.99 both give bit-identical
    levels (0.025000000000000022 and 0.975 at 95%), so no published number moved; at some other
    levels (e.g. 0.502) they differ in the last bit.
    """
    values = np.asarray(replicates, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan, math.nan
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_p_value(estimate: float, replicates: np.ndarray) -> float:
    """Two-sided bootstrap p-value for "the statistic is 0".

    The share of finite replicates on the other side of 0 from the estimate (0 itself counts as
    the other side), doubled, with the +1 correction that keeps it above 0:
    p = min(1, 2 (1 + #other side) / (B + 1)). An estimate of exactly 0 gives 1. Raises
    `StatisticsError` when no replicate is finite.
    """
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        raise StatisticsError("no bootstrap replicate is defined, so there is no p-value")
    if estimate == 0 or not np.isfinite(estimate):
        return 1.0
    other_side = np.count_nonzero(finite <= 0) if estimate > 0 else np.count_nonzero(finite >= 0)
    return float(min(1.0, 2 * (1 + other_side) / (finite.size + 1)))
