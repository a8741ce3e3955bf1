"""Comparisons of training conditions for chapter 06: how much more one condition reduces
toxicity than another (C5: preserve vs majority aggregation; C6: 5-point vs binary scale; single-
vs multi-value training), and C7, DPO vs GRPO per dimension. Built on the bootstrap engine of
`pluralign.behaviour.metrics` (same units, pairing and result columns)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from pluralign.behaviour.metrics import (
    CONDITION_COLUMNS,
    N_BOOT,
    base_grid,
    cell_means,
    default_metrics,
    interval_above_zero,
    joint_bootstrap,
    key_columns,
    metric_orientation,
    result_frame,
    stat_columns,
    tuned_rows,
)
from pluralign.stats.intervals import CONFIDENCE, percentile_interval
from pluralign.stats.seeds import identity_generator

#: The comparisons of C5 and C6 (and single- vs multi-value training), as `reduction_ratios` keys.
C5 = {"factor": "aggregation", "a": "preserve", "b": "majority"}
C6 = {"factor": "scale", "a": "5pt", "b": "binary"}
SINGLE_VS_MULTI = {"factor": "values", "a": "toxicity", "b": "multi"}


def _matches(column: pd.Series, wanted: str | Sequence[str]) -> pd.Series:
    return column.isin([wanted] if isinstance(wanted, str) else list(wanted))


def _name(wanted: str | Sequence[str]) -> str:
    return wanted if isinstance(wanted, str) else "|".join(wanted)


def reduction_ratios(
    scores: pd.DataFrame,
    factor: str,
    a: str | Sequence[str],
    b: str | Sequence[str],
    metric: str = "toxicity",
    n_boot: int = N_BOOT,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """How much more `a` reduces toxicity than `b`, within strata that hold every other condition
    column fixed (pooled over seeds): rows `reduction_a`, `reduction_b`, `difference`
    (red_a − red_b) and `ratio` ((red_a − red_b) / red_b), all with bootstrap CIs.

    `ratio` is undefined (with the reason) unless red_b's CI lies above zero: a relative
    difference of reductions means nothing when the reference reduced nothing or raised toxicity.
    E.g. C5: `factor="aggregation", a="preserve", b="majority"` (see `C5`, `C6`).
    """
    strata = [c for c in CONDITION_COLUMNS if c != factor]
    tuned = tuned_rows(scores[scores["metric"] == metric])
    in_a, in_b = _matches(tuned[factor], a), _matches(tuned[factor], b)
    records = []
    for values, rows in tuned[in_a | in_b].groupby(strata, dropna=False, sort=True):
        key = key_columns(strata, values)
        rows_a, rows_b = rows[_matches(rows[factor], a)], rows[_matches(rows[factor], b)]
        if rows_a.empty or rows_b.empty:
            continue
        head = key | {"factor": factor, "a": _name(a), "b": _name(b), "metric": metric}
        base = base_grid(scores, rows, metric)
        joint = (
            joint_bootstrap(
                [base, cell_means(rows_a), cell_means(rows_b)],
                n_boot,
                identity_generator(seed, "ratio", factor, a, b, metric, key),
            )
            if base is not None
            else None
        )
        if joint is None:
            reason = "no base-model samples" if base is None else ""
            for quantity in ("reduction_a", "reduction_b", "difference", "ratio"):
                stats = stat_columns(math.nan, None, None, confidence, reason=reason)
                records.append(head | {"quantity": quantity} | stats)
            continue
        base_ok = interval_above_zero(joint.replicates[0], confidence)
        with np.errstate(divide="ignore", invalid="ignore"):
            point = (joint.point[0] - joint.point[1:]) / joint.point[0]
            reps = (joint.replicates[0] - joint.replicates[1:]) / joint.replicates[0]
            ratio_point = (point[0] - point[1]) / point[1]
            ratio_reps = (reps[0] - reps[1]) / reps[1]
        base_reason = "" if base_ok else "the base model's mean CI does not lie above 0"
        for index, quantity in enumerate(("reduction_a", "reduction_b")):
            stats = stat_columns(point[index], reps[index], joint, confidence, base_ok, base_reason)
            records.append(head | {"quantity": quantity} | stats)
        stats = stat_columns(
            point[0] - point[1], reps[0] - reps[1], joint, confidence, base_ok, base_reason
        )
        records.append(head | {"quantity": "difference"} | stats)
        if not base_ok:
            reason = base_reason
        elif not interval_above_zero(reps[1], confidence):
            low, high = percentile_interval(reps[1], confidence)
            reason = (
                f"the reference ({_name(b)}) reduction's CI [{low:.3g}, {high:.3g}] does not lie "
                "above 0, so a relative difference of reductions is undefined"
            )
        else:
            reason = ""
        stats = stat_columns(ratio_point, ratio_reps, joint, confidence, not reason, reason)
        records.append(head | {"quantity": "ratio"} | stats)
    return result_frame(records, [*strata, "factor", "a", "b", "metric", "quantity"])


def ratio_summary(ratios: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """`reduction_ratios` as a reader scans it: one line per dataset and stratum, with the
    conditions held fixed, both reductions, their difference and the ratio as "value [low, high]",
    and the reason where a quantity is undefined."""
    if ratios.empty:
        return pd.DataFrame()

    def shown(row: pd.Series) -> str:
        if not bool(row["defined"]) or not np.isfinite(row["value"]):
            return "undefined"
        return (
            f"{row['value']:.{digits}g} [{row['ci_low']:.{digits}g}, {row['ci_high']:.{digits}g}]"
        )

    factor, a, b = (str(ratios[column].iloc[0]) for column in ("factor", "a", "b"))
    fixed = [c for c in CONDITION_COLUMNS if c not in ("dataset", factor)]
    lines = []
    for _, rows in ratios.groupby(["dataset", *fixed], dropna=False, sort=True):
        by_quantity = rows.set_index("quantity")
        first = rows.iloc[0]
        reasons = dict.fromkeys(r for r in rows["reason"].fillna("") if r)
        lines.append(
            {
                "dataset": first["dataset"],
                "held fixed": " · ".join(str(first[c]) for c in fixed),
                f"reduction ({a})": shown(by_quantity.loc["reduction_a"]),
                f"reduction ({b})": shown(by_quantity.loc["reduction_b"]),
                "difference": shown(by_quantity.loc["difference"]),
                "ratio": shown(by_quantity.loc["ratio"]),
                "why undefined": "; ".join(reasons),
            }
        )
    return pd.DataFrame(lines)


def optimiser_comparison(
    scores: pd.DataFrame,
    a: str = "dpo",
    b: str = "grpo",
    metrics: Iterable[str] | None = None,
    n_boot: int = N_BOOT,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """C7: mean(a) − mean(b) per dimension in each condition both optimisers were run in (pooled
    over seeds, paired by prompt and seed), with `higher_is_better` and `favours` (a, b, or
    "neither" when the CI includes 0). Default metrics: all, predicted ratings included."""
    strata = [c for c in CONDITION_COLUMNS if c != "optimiser"]
    records = []
    for metric in metrics or default_metrics(scores, ratings=True):
        tuned = tuned_rows(scores[scores["metric"] == metric])
        tuned = tuned[tuned["optimiser"].isin([a, b])]
        orientation = metric_orientation(metric)
        for values, rows in tuned.groupby(strata, dropna=False, sort=True):
            rows_a, rows_b = rows[rows["optimiser"] == a], rows[rows["optimiser"] == b]
            if rows_a.empty or rows_b.empty:
                continue
            key = key_columns(strata, values)
            joint = joint_bootstrap(
                [cell_means(rows_a), cell_means(rows_b)],
                n_boot,
                identity_generator(seed, "optimiser", a, b, metric, key),
            )
            stats = stat_columns(
                joint.point[0] - joint.point[1] if joint else math.nan,
                joint.replicates[0] - joint.replicates[1] if joint else None,
                joint,
                confidence,
            )
            favours = "neither"
            if stats["defined"] and np.isfinite(stats["ci_low"]):
                if orientation * stats["ci_low"] > 0 and orientation * stats["ci_high"] > 0:
                    favours = a
                elif orientation * stats["ci_low"] < 0 and orientation * stats["ci_high"] < 0:
                    favours = b
            records.append(
                key
                | {"a": a, "b": b, "metric": metric, "higher_is_better": orientation > 0}
                | {"favours": favours}
                | stats
            )
    return result_frame(records, [*strata, "a", "b", "metric"])
