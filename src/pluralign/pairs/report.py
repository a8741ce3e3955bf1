"""Chapter 03's tables and figures: preference pairs per dataset, condition and contrast.

For every condition (scale × aggregation × values) and every demographic contrast a dataset
supports, `pair_table` counts both groups' pairs, the share of each group's pairs that another of
its own pairs contradicts, and the groups' pair agreement: the share of the response pairs both
have on which they prefer the same side. `discrimination_table` sets each single dimension's
agreement beside chapter 02's discrimination (slope) gap and beside the agreement of two random
halves of the same raters, which is what sampling alone produces.
Pairs come from `pluralign.pairs.build`.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pluralign.data.schema import DIMENSIONS
from pluralign.gaps.estimate import CONTRASTS, MIN_RATERS_PER_GROUP, Contrast
from pluralign.pairs.build import (
    SCALES,
    Condition,
    build_pairs,
    contradiction_share,
    oriented_scores,
    pair_agreement,
    ratings_for_scale,
    select_group,
)

#: Columns the pair builder joins on or carries: plain Python strings join several times faster
#: than Arrow strings, and the pairs are the same.
STRING_COLUMNS = ("participant_id", "prompt_id", "prompt", "response_id", "response")

#: Columns of `pair_table`, in order.
PAIR_TABLE_COLUMNS = (
    "scale",
    "aggregation",
    "values",
    "contrast",
    "group_a",
    "group_b",
    "status",
    "note",
    "n_raters_a",
    "n_raters_b",
    "pairs_a",
    "pairs_b",
    "balanced_pairs",
    "contradictory_a",
    "contradictory_b",
    "shared_pairs",
    "agreement",
)


class GroupPairs:
    """One dataset's ratings per scale and its groups' preference pairs, each built once.

    `ratings_by_scale` maps a scale (`5pt`, `binary`) to the table that condition reads (see
    `prefs.ratings_for_scale`). Pairs are built with `seed`, as `pluralign pairs` builds them.
    """

    def __init__(
        self, ratings_by_scale: Mapping[str, pd.DataFrame], seed: int = 0, dataset: str = ""
    ) -> None:
        if not ratings_by_scale:
            raise ValueError("give the ratings of at least one scale")
        self.ratings_by_scale = dict(ratings_by_scale)
        self.seed = seed
        first = next(iter(self.ratings_by_scale.values()))
        self.dataset = dataset or str(first.attrs.get("dataset", ""))
        self.simulated = bool(first.attrs.get("simulated", False))
        self._plain: dict[str, pd.DataFrame] = {}
        self._built: dict[tuple[str, Condition], pd.DataFrame] = {}
        self._dimensions: dict[str, list[str]] = {}

    @classmethod
    def load(cls, dataset: str, scales: Sequence[str] = SCALES, seed: int = 0) -> GroupPairs:
        """A dataset's ratings for each scale (always including `5pt`, chapter 02's scale)."""
        wanted = list(dict.fromkeys(["5pt", *scales]))
        return cls({scale: ratings_for_scale(dataset, scale) for scale in wanted}, seed)

    @property
    def display_name(self) -> str:
        """The dataset's name, marked when it is simulated."""
        return f"{self.dataset} (SIMULATED)" if self.simulated else self.dataset

    def ratings(self, scale: str) -> pd.DataFrame:
        """The ratings a condition on `scale` reads, as loaded."""
        if scale not in self.ratings_by_scale:
            raise KeyError(f"{self.dataset}: no ratings loaded for scale {scale!r}")
        return self.ratings_by_scale[scale]

    def dimensions(self, scale: str = "5pt") -> list[str]:
        """The dimensions rated on a scale, in the schema's order (cached)."""
        if scale not in self._dimensions:
            present = {str(value) for value in self.ratings(scale)["dimension"].unique()}
            self._dimensions[scale] = [d for d in DIMENSIONS if d in present] + sorted(
                present - set(DIMENSIONS)
            )
        return self._dimensions[scale]

    def raters_of(self, field: str, group: str, scale: str = "5pt") -> list[str]:
        """The raters of a group (field = code), sorted."""
        table = self.ratings(scale)
        if field not in table:
            return []
        return sorted(table.loc[table[field] == group, "participant_id"].astype(str).unique())

    def _plain_ratings(self, scale: str) -> pd.DataFrame:
        if scale not in self._plain:
            table = self.ratings(scale)
            columns = [column for column in STRING_COLUMNS if column in table]
            self._plain[scale] = table.astype(dict.fromkeys(columns, object))
        return self._plain[scale]

    def _effective(self, condition: Condition) -> Condition:
        """`multi` on a one-dimension dataset is that dimension: the same pairs, built once."""
        dimensions = self.dimensions(condition.scale)
        if condition.values == "multi" and len(dimensions) == 1:
            return Condition(condition.scale, condition.aggregation, dimensions[0])
        return condition

    def pairs(self, group: str, condition: Condition) -> pd.DataFrame:
        """The group's pairs (`field:code` or `all`) under a condition, cached.

        Under `preserve` every pair is one rater's, so a group's pairs are the pooled pairs of
        its raters: they are cut from one build of all raters' pairs (same pairs, another order),
        unless some of its raters gave other answers on other rows (then only the rows that match
        count, and the group's pairs are built on their own).
        """
        condition = self._effective(condition)
        key = (group, condition)
        if key not in self._built:
            table = self._plain_ratings(condition.scale)
            rows = select_group(table, group)
            raters = set(rows["participant_id"])
            whole_raters = len(rows) == int(table["participant_id"].isin(raters).sum())
            if condition.aggregation == "preserve" and group != "all" and whole_raters:
                self._built[key] = self.pairs_of_raters(raters, condition)
            else:
                self._built[key] = _plain_ids(
                    build_pairs(
                        self._plain_ratings(condition.scale),
                        group,
                        condition.scale,
                        condition.aggregation,
                        condition.values,
                        seed=self.seed,
                    )
                )
        return self._built[key]

    def pairs_of_raters(self, raters: Collection[str], condition: Condition) -> pd.DataFrame:
        """The pairs of an arbitrary set of raters (a random half, say), not cached; under
        `preserve` cut from all raters' pairs, as in `pairs`."""
        condition = self._effective(condition)
        wanted = set(raters)
        if condition.aggregation == "preserve":
            pooled = self.pairs("all", condition)
            return pooled[pooled["rater_id"].isin(wanted)].reset_index(drop=True)
        table = self._plain_ratings(condition.scale)
        return _plain_ids(
            build_pairs(
                table[table["participant_id"].isin(wanted)],
                "all",
                condition.scale,
                condition.aggregation,
                condition.values,
                seed=self.seed,
            )
        )


def load_all(
    datasets: Sequence[str], scales: Sequence[str] = SCALES, seed: int = 0
) -> dict[str, GroupPairs]:
    """Each dataset's `GroupPairs`, keyed by its display name (a simulated one says so)."""
    loaded = [GroupPairs.load(dataset, scales, seed) for dataset in datasets]
    return {group_pairs.display_name: group_pairs for group_pairs in loaded}


def _plain_ids(pairs: pd.DataFrame) -> pd.DataFrame:
    """Pairs with their response ids as plain Python strings: counting contradictions and
    agreement iterates over them, which is many times faster than over Arrow strings."""
    return pairs.astype({"chosen_id": object, "rejected_id": object})


def conditions(
    scales: Sequence[str], aggregations: Sequence[str], values: Sequence[str]
) -> list[Condition]:
    """Every scale × aggregation × values, validated, in the order given."""
    return [
        Condition(scale, aggregation, value)
        for scale, aggregation, value in itertools.product(scales, aggregations, values)
    ]


def contrast_support(group_pairs: GroupPairs, scale: str = "5pt") -> pd.DataFrame:
    """Every contrast of chapter 02 (`gaps.CONTRASTS`): its raters per group and whether the
    dataset supports it (both groups with at least `MIN_RATERS_PER_GROUP` raters)."""
    table = group_pairs.ratings(scale)
    rows = []
    for contrast in CONTRASTS:
        count_a = len(group_pairs.raters_of(contrast.field, contrast.group_a, scale))
        count_b = len(group_pairs.raters_of(contrast.field, contrast.group_b, scale))
        recorded = contrast.field in table and table[contrast.field].notna().any()
        short = [
            f"{count} {group} rater(s)"
            for group, count in ((contrast.group_a, count_a), (contrast.group_b, count_b))
            if count < MIN_RATERS_PER_GROUP
        ]
        if not recorded:
            note = f"no rater records {contrast.field}"
        elif short:
            note = f"only {' and '.join(short)}; at least {MIN_RATERS_PER_GROUP} per group needed"
        else:
            note = ""
        rows.append(
            {
                "contrast": contrast.name,
                "group_a": contrast.group_a,
                "group_b": contrast.group_b,
                "n_raters_a": count_a,
                "n_raters_b": count_b,
                "supported": recorded and not short,
                "note": note,
            }
        )
    return pd.DataFrame(rows)


def group_key(contrast: Contrast, group: str) -> str:
    return f"{contrast.field}:{group}"


def _supported(group_pairs: GroupPairs, scale: str) -> list[tuple[Contrast, int, int]]:
    support = contrast_support(group_pairs, scale).set_index("contrast")
    return [
        (
            contrast,
            int(support.at[contrast.name, "n_raters_a"]),
            int(support.at[contrast.name, "n_raters_b"]),
        )
        for contrast in CONTRASTS
        if support.at[contrast.name, "supported"]
    ]


def pair_table(group_pairs: GroupPairs, conditions: Sequence[Condition]) -> pd.DataFrame:
    """One row per condition × supported contrast: both groups' pair counts, the count each keeps
    after balancing, their contradiction shares, and their agreement on shared response pairs.

    A condition whose values the dataset does not rate is a row with status "skipped"; contrasts
    the dataset does not support are in `contrast_support`.
    """
    rows: list[dict[str, Any]] = []
    for condition in conditions:
        base = {
            "scale": condition.scale,
            "aggregation": condition.aggregation,
            "values": condition.values,
        }
        if condition.values != "multi" and condition.values not in group_pairs.dimensions(
            condition.scale
        ):
            rows.append(
                base
                | {
                    "status": "skipped",
                    "note": f"{group_pairs.dataset} has no {condition.values} ratings",
                }
            )
            continue
        for contrast, count_a, count_b in _supported(group_pairs, condition.scale):
            pairs_a = group_pairs.pairs(group_key(contrast, contrast.group_a), condition)
            pairs_b = group_pairs.pairs(group_key(contrast, contrast.group_b), condition)
            agreement, shared = pair_agreement(pairs_a, pairs_b)
            rows.append(
                base
                | {
                    "contrast": contrast.name,
                    "group_a": contrast.group_a,
                    "group_b": contrast.group_b,
                    "status": "reported",
                    "note": "",
                    "n_raters_a": count_a,
                    "n_raters_b": count_b,
                    "pairs_a": len(pairs_a),
                    "pairs_b": len(pairs_b),
                    "balanced_pairs": min(len(pairs_a), len(pairs_b)),
                    "contradictory_a": contradiction_share(pairs_a),
                    "contradictory_b": contradiction_share(pairs_b),
                    "shared_pairs": shared,
                    "agreement": agreement,
                }
            )
    table = pd.DataFrame(rows).reindex(columns=list(PAIR_TABLE_COLUMNS))
    table.attrs["dataset"] = group_pairs.dataset
    return table


def multi_vs_single(group_pairs: GroupPairs, condition: Condition | None = None) -> pd.DataFrame:
    """How far all raters' multi-value pairs agree with their pairs on each dimension alone
    (default condition otherwise); empty for a one-dimension dataset, where they are the same."""
    condition = condition or Condition()
    dimensions = group_pairs.dimensions(condition.scale)
    if len(dimensions) < 2:
        return pd.DataFrame(
            columns=["dimension", "multi_pairs", "pairs", "shared_pairs", "agreement"]
        )
    multi = group_pairs.pairs("all", Condition(condition.scale, condition.aggregation, "multi"))
    rows = []
    for dimension in dimensions:
        single = group_pairs.pairs(
            "all", Condition(condition.scale, condition.aggregation, dimension)
        )
        agreement, shared = pair_agreement(multi, single)
        rows.append(
            {
                "dimension": dimension,
                "multi_pairs": len(multi),
                "pairs": len(single),
                "shared_pairs": shared,
                "agreement": agreement,
            }
        )
    return pd.DataFrame(rows)


def multi_value_example(ratings: pd.DataFrame, responses: int = 5) -> pd.DataFrame:
    """One rater's responses to one prompt: raw score and oriented 0–1 score per dimension, and
    the `multi` goodness that decides their pairs (the mean of the oriented scores). The rater and
    prompt are those with the most dimensions and a number of responses closest to `responses`
    (first in id order), so the example stays readable."""
    keys = ["participant_id", "prompt_id"]
    size = ratings.groupby(keys).agg(
        responses=("response_id", "nunique"), dimensions=("dimension", "nunique")
    )
    size = size[size["responses"] >= 2] if (size["responses"] >= 2).any() else size
    size = size.assign(distance=(size["responses"] - responses).abs())
    best = size.reset_index().sort_values(
        ["dimensions", "distance", *keys], ascending=[False, True, True, True], kind="stable"
    )
    best = best.set_index(keys)
    rater, prompt = best.index[0]
    part = ratings[(ratings["participant_id"] == rater) & (ratings["prompt_id"] == prompt)]
    table = part.pivot_table(index="response_id", columns="dimension", values="score")
    table.columns = [f"{column} (score)" for column in table.columns]
    for dimension in sorted(part["dimension"].astype(str).unique()):
        oriented = oriented_scores(part, dimension).set_index("response_id")["goodness"]
        table[f"{dimension} (oriented)"] = oriented
    table["multi goodness"] = oriented_scores(part, "multi").set_index("response_id")["goodness"]
    table = table.sort_values("multi goodness", ascending=False)
    table.attrs["rater"] = str(rater)
    table.attrs["prompt_id"] = str(prompt)
    return table.round(3)


def stacked(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per-dataset tables in one, with a leading `dataset` column (keys as given)."""
    frames = [table.assign(dataset=name) for name, table in tables.items() if not table.empty]
    if not frames:
        return pd.DataFrame()
    combined = pd.concat(frames, ignore_index=True)
    return combined[["dataset", *[c for c in combined.columns if c != "dataset"]]]


def reported_pairs(pair_tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The reported rows of every dataset's pair table, numbers rounded for display."""
    table = stacked(pair_tables)
    if table.empty:
        return table
    table = table[table["status"] == "reported"].drop(columns=["status", "note"])
    integers = ["n_raters_a", "n_raters_b", "pairs_a", "pairs_b", "balanced_pairs", "shared_pairs"]
    return table.astype(dict.fromkeys(integers, int)).round(3).reset_index(drop=True)


def skipped_pairs(
    pair_tables: Mapping[str, pd.DataFrame], support: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """What a dataset could not give, with the reason: unsupported contrasts and conditions on
    dimensions it does not rate."""
    rows = []
    for dataset, table in support.items():
        for row in table[~table["supported"]].itertuples(index=False):
            rows.append(
                {"dataset": dataset, "what": f"contrast {row.contrast}", "reason": row.note}
            )
    for dataset, table in pair_tables.items():
        for row in table[table["status"] == "skipped"].itertuples(index=False):
            condition = f"{row.scale}-{row.aggregation}-{row.values}"
            rows.append({"dataset": dataset, "what": f"condition {condition}", "reason": row.note})
    return pd.DataFrame(rows, columns=["dataset", "what", "reason"])


#: The columns of the pair-count table and of the agreement table the chapter shows.
COUNT_COLUMNS = [
    "dataset",
    "scale",
    "aggregation",
    "values",
    "contrast",
    "group_a",
    "group_b",
    "n_raters_a",
    "n_raters_b",
    "pairs_a",
    "pairs_b",
    "balanced_pairs",
]
AGREEMENT_COLUMNS = [
    "dataset",
    "scale",
    "aggregation",
    "values",
    "contrast",
    "contradictory_a",
    "contradictory_b",
    "shared_pairs",
    "agreement",
]


def count_table(pair_tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Pair counts per dataset, condition and contrast, before and after balancing."""
    table = reported_pairs(pair_tables)
    return table[COUNT_COLUMNS] if not table.empty else table


def agreement_table(pair_tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Contradiction shares and pair agreement per dataset, condition and contrast."""
    table = reported_pairs(pair_tables)
    return table[AGREEMENT_COLUMNS] if not table.empty else table


def multi_vs_single_all(pair_sets: Mapping[str, GroupPairs]) -> pd.DataFrame:
    """`multi_vs_single` of every dataset in one table."""
    return stacked({name: multi_vs_single(pairs) for name, pairs in pair_sets.items()})


def lowest(table: pd.DataFrame, column: str) -> float:
    """The smallest finite value of a column (NaN for an empty table), as a plain float."""
    if table.empty or column not in table:
        return float("nan")
    values = pd.to_numeric(table[column], errors="coerce").dropna()
    return float(values.min()) if len(values) else float("nan")


def agreement_range(pair_tables: Mapping[str, pd.DataFrame]) -> tuple[float, float]:
    """The lowest and highest pair agreement over every reported row (NaN, NaN if none)."""
    table = reported_pairs(pair_tables)
    values = table["agreement"].dropna() if not table.empty else pd.Series(dtype=float)
    if values.empty:
        return float("nan"), float("nan")
    return float(values.min()), float(values.max())


def max_contradiction(pair_tables: Mapping[str, pd.DataFrame]) -> tuple[float, str]:
    """The largest share of contradicted pairs of any group under `preserve` (under `majority` it
    is 0 by construction), and where; (NaN, "") when no preserve row is reported."""
    table = reported_pairs(pair_tables)
    best = (float("nan"), "")
    if table.empty:
        return best
    for row in table[table["aggregation"] == "preserve"].itertuples(index=False):
        for share, group in (
            (row.contradictory_a, row.group_a),
            (row.contradictory_b, row.group_b),
        ):
            if np.isfinite(share) and not share <= best[0]:
                where = (
                    f"{group} raters of {row.dataset}, {row.scale}-{row.aggregation}-{row.values}"
                )
                best = (float(share), where)
    return best
