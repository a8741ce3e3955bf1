"""The error the statistics raise when their inputs cannot support them."""

from __future__ import annotations


class StatisticsError(ValueError):
    """A statistic cannot be computed from these inputs (the message says why)."""
