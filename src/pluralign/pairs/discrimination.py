"""Chapter 03's test of the mechanism: do groups whose ratings discriminate differently (chapter
02's slope gap) also prefer different responses, beyond what random splits of the same raters
disagree? `discrimination_table` sets each dimension's pair agreement beside the slope gap and the
agreement of random halves; `beyond_chance` counts the rows where the groups agree less than every
split did."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pluralign.gaps.estimate import CONTRASTS, Contrast, reported
from pluralign.pairs.build import Condition, pair_agreement
from pluralign.pairs.report import GroupPairs, group_key

#: Columns of `discrimination_table`, in order.
DISCRIMINATION_COLUMNS = (
    "dimension",
    "contrast",
    "group_a",
    "group_b",
    "slope_a",
    "slope_b",
    "slope_difference",
    "slope_difference_ci_low",
    "slope_difference_ci_high",
    "pattern",
    "shared_pairs",
    "agreement",
    "split_half_agreement",
    "split_half_low",
    "split_half_high",
    "excess_disagreement",
)


def split_half_agreement(
    group_pairs: GroupPairs,
    contrast: Contrast,
    condition: Condition,
    repeats: int,
    seed: int = 0,
) -> list[float]:
    """Pair agreement of random splits of the contrast's pooled raters into two sets of the
    groups' sizes: how far two sets of raters disagree when membership means nothing."""
    raters_a = group_pairs.raters_of(contrast.field, contrast.group_a, condition.scale)
    raters_b = group_pairs.raters_of(contrast.field, contrast.group_b, condition.scale)
    pooled = np.array(sorted(set(raters_a) | set(raters_b)), dtype=object)
    rng = np.random.default_rng(seed)
    agreements = []
    for _ in range(repeats):
        order = rng.permutation(len(pooled))
        first, second = pooled[order[: len(raters_a)]], pooled[order[len(raters_a) :]]
        agreement, _ = pair_agreement(
            group_pairs.pairs_of_raters(first, condition),
            group_pairs.pairs_of_raters(second, condition),
        )
        agreements.append(agreement)
    return agreements


def discrimination_table(
    group_pairs: GroupPairs, gaps: pd.DataFrame, split_halves: int = 3, seed: int = 0
) -> pd.DataFrame:
    """Per reported dimension × contrast of chapter 02's gap table (on `5pt`): the slope gap
    beside the pair agreement on that dimension alone (the default condition otherwise: 5-point,
    preserve) and the mean, minimum and maximum agreement of `split_halves` random splits.

    `excess_disagreement` is the split-half agreement minus the groups' agreement: how much more
    the groups disagree than chance splits of the same raters do.
    """
    by_name = {contrast.name: contrast for contrast in CONTRASTS}
    rows = []
    for row in reported(gaps).itertuples(index=False):
        contrast = by_name[row.contrast]
        condition = Condition(values=str(row.dimension))
        pairs_a = group_pairs.pairs(group_key(contrast, contrast.group_a), condition)
        pairs_b = group_pairs.pairs(group_key(contrast, contrast.group_b), condition)
        agreement, shared = pair_agreement(pairs_a, pairs_b)
        halves = split_half_agreement(group_pairs, contrast, condition, split_halves, seed)
        finite = [value for value in halves if np.isfinite(value)]
        baseline = float(np.mean(finite)) if finite else float("nan")
        rows.append(
            {
                "dimension": row.dimension,
                "contrast": row.contrast,
                "group_a": row.group_a,
                "group_b": row.group_b,
                "slope_a": row.slope_a,
                "slope_b": row.slope_b,
                "slope_difference": row.slope_difference,
                "slope_difference_ci_low": row.slope_difference_ci_low,
                "slope_difference_ci_high": row.slope_difference_ci_high,
                "pattern": row.pattern,
                "shared_pairs": shared,
                "agreement": agreement,
                "split_half_agreement": baseline,
                "split_half_low": float(min(finite)) if finite else float("nan"),
                "split_half_high": float(max(finite)) if finite else float("nan"),
                "excess_disagreement": baseline - agreement,
            }
        )
    table = pd.DataFrame(rows).reindex(columns=list(DISCRIMINATION_COLUMNS))
    table.attrs["dataset"] = group_pairs.dataset
    return table


def beyond_chance(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per dataset: how many dimension × contrast rows of `discrimination_table` show groups that
    agree less than every random split of their raters did, out of the rows with an agreement."""
    rows = []
    for dataset, table in tables.items():
        finite = table.dropna(subset=["agreement", "split_half_low"])
        rows.append(
            {
                "dataset": dataset,
                "rows": len(finite),
                "below_every_split": int((finite["agreement"] < finite["split_half_low"]).sum()),
                "mean_excess_disagreement": float(finite["excess_disagreement"].mean())
                if len(finite)
                else float("nan"),
            }
        )
    return pd.DataFrame(
        rows, columns=["dataset", "rows", "below_every_split", "mean_excess_disagreement"]
    )


def beyond_chance_sentence(tables: Mapping[str, pd.DataFrame]) -> str:
    """One sentence: per dataset, in how many dimension × contrast rows the groups agree less than
    any random split of the same raters."""
    summary = beyond_chance(tables)
    if summary.empty:
        return "no dataset was analysed."
    parts = [
        f"{row.dataset}: {row.below_every_split} of {row.rows}"
        for row in summary.itertuples(index=False)
    ]
    return "; ".join(parts) + "."
