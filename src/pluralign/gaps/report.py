"""Chapter 02's tables, built from `rating_gaps` tables (no statistics here; the verdicts on C1–C3
are the claims ledger's, `pluralign.claims.gaps_evidence`)."""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pandas as pd

from pluralign.gaps.contrasts import CONTRASTS, is_country_contrast
from pluralign.gaps.estimate import reported
from pluralign.stats.testing import holm

#: The columns of the gap table the chapter and `pluralign gaps` show, in order.
SHOWN_COLUMNS = [
    "dimension",
    "contrast",
    "group_a",
    "group_b",
    "n_raters_a",
    "n_raters_b",
    "mean_a",
    "mean_b",
    "relative_gap",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "level_a",
    "level_b",
    "slope_a",
    "slope_b",
    "slope_difference_p_adjusted",
    "pattern",
    "mixed_effect",
    "mixed_p_value",
    "ordinal_agrees",
]

#: What the JSON output of `pluralign gaps` promises, at least.
JSON_COLUMNS = [
    "dimension",
    "contrast",
    "group_a",
    "group_b",
    "status",
    "note",
    "n_raters_a",
    "n_raters_b",
    "mean_a",
    "mean_b",
    "relative_gap",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "level_a",
    "level_a_ci_low",
    "level_a_ci_high",
    "level_b",
    "level_b_ci_low",
    "level_b_ci_high",
    "slope_a",
    "slope_a_ci_low",
    "slope_a_ci_high",
    "slope_b",
    "slope_b_ci_low",
    "slope_b_ci_high",
    "slope_difference",
    "slope_difference_p_adjusted",
    "pattern",
    "mixed_effect",
    "mixed_ci_low",
    "mixed_ci_high",
    "mixed_p_value",
    "ordinal_agrees",
]


def shown(gaps: pd.DataFrame) -> pd.DataFrame:
    """The reported rows with the columns a reader needs, numbers rounded for display."""
    table = reported(gaps)[SHOWN_COLUMNS].copy()
    return table.round(3).reset_index(drop=True)


def shown_all(
    gaps_by_dataset: Mapping[str, pd.DataFrame], simulated: Mapping[str, bool], table=None
) -> pd.DataFrame:
    """One table for every dataset (`shown`, or another per-dataset table function), indexed by
    dataset; a simulated dataset's name says so."""
    table = table or shown
    frames = {
        (f"{name} (SIMULATED)" if simulated.get(name) else name): table(gaps)
        for name, gaps in gaps_by_dataset.items()
    }
    return pd.concat(frames, names=["dataset", "row"]).droplevel("row")


def skipped(gaps_by_dataset: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Contrasts a dataset cannot support, with the reason (an empty group, one rater...)."""
    rows = []
    for dataset, gaps in gaps_by_dataset.items():
        for row in gaps[gaps["status"] != "reported"].itertuples(index=False):
            rows.append(
                {
                    "dataset": dataset,
                    "dimension": row.dimension,
                    "contrast": row.contrast,
                    "status": row.status,
                    "reason": row.note,
                }
            )
    return pd.DataFrame(rows, columns=["dataset", "dimension", "contrast", "status", "reason"])


def model_table(gaps: pd.DataFrame) -> pd.DataFrame:
    """The adjusted (mixed-model) effect beside the raw gap, and the ordinal model's agreement."""
    columns = [
        "dimension",
        "contrast",
        "relative_gap",
        "mixed_effect",
        "mixed_ci_low",
        "mixed_ci_high",
        "mixed_p_value",
        "ordinal_effect",
        "ordinal_p_value",
        "ordinal_agrees",
    ]
    return reported(gaps)[columns].round(3).reset_index(drop=True)


def ordinal_disagreements(gaps_by_dataset: Mapping[str, pd.DataFrame]) -> int:
    """How many reported contrasts the ordinal model contradicts in sign or significance."""
    return int(
        sum((reported(gaps)["ordinal_agrees"] == False).sum() for gaps in gaps_by_dataset.values())  # noqa: E712
    )


def pattern_table(gaps_by_dataset: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per dataset: how many reported contrasts show a level gap, a discrimination gap, both,
    or neither (Holm-adjusted)."""
    counts = {
        dataset: reported(gaps)["pattern"].value_counts()
        for dataset, gaps in gaps_by_dataset.items()
    }
    table = pd.DataFrame(counts).T.fillna(0).astype(int)
    for pattern in ("level", "discrimination", "both", "neither"):
        if pattern not in table:
            table[pattern] = 0
    return table[
        [
            "level",
            "discrimination",
            "both",
            "neither",
            *sorted(set(table.columns) - {"level", "discrimination", "both", "neither"}),
        ]
    ]


def discrimination_rows(gaps_by_dataset: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The contrasts whose groups differ in discrimination (slope), the ones that can make
    group-tuned models differ."""
    frames = []
    for dataset, gaps in gaps_by_dataset.items():
        rows = reported(gaps)
        rows = rows[rows["pattern"].isin(["discrimination", "both"])]
        frames.append(
            rows[
                [
                    "dimension",
                    "contrast",
                    "slope_a",
                    "slope_b",
                    "slope_difference",
                    "slope_difference_ci_low",
                    "slope_difference_ci_high",
                    "pattern",
                ]
            ].assign(dataset=dataset)
        )
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    return table[["dataset", *table.columns[:-1]]].round(3)


def display_names(
    gaps_by_dataset: Mapping[str, pd.DataFrame], simulated: Mapping[str, bool]
) -> dict[str, pd.DataFrame]:
    """The same gap tables keyed for figures: a simulated dataset's name says so."""
    return {
        (f"{name} (SIMULATED)" if simulated.get(name) else name): gaps
        for name, gaps in gaps_by_dataset.items()
    }


def stacked(gaps_by_dataset: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """All datasets' gap tables in one, each row's dimension prefixed with its dataset (for the
    level/discrimination figure, which labels rows by dimension and contrast)."""
    return pd.concat(
        [
            gaps.assign(dimension=dataset + " · " + gaps["dimension"].astype(str))
            for dataset, gaps in gaps_by_dataset.items()
        ],
        ignore_index=True,
    )


def json_records(gaps: pd.DataFrame) -> list[dict]:
    """The `pluralign gaps --json` objects: one per dimension × contrast, reported or not (with
    `--by`, one per stratum too, each with its `stratum`)."""
    leading = ["stratum"] if "stratum" in gaps.columns else []
    table = gaps[[column for column in [*leading, *JSON_COLUMNS] if column in gaps.columns]]
    return json.loads(table.to_json(orient="records"))


#: Columns of `country_table`, in order.
COUNTRY_COLUMNS = [
    "dimension",
    "contrast",
    "group_a",
    "group_b",
    "n_raters_a",
    "n_raters_b",
    "mean_a",
    "mean_b",
    "relative_gap",
    "ci_low",
    "ci_high",
    "p_value",
    "p_holm_countries",
    "p_adjusted",
    "mixed_effect",
    "mixed_ci_low",
    "mixed_ci_high",
    "mixed_p_value",
    "pattern",
]


def country_table(gaps: pd.DataFrame) -> pd.DataFrame:
    """Each country's raters against the reference country's (CREHate: AU, GB, SG, ZA vs US),
    per dimension, with the bootstrap p-values Holm-adjusted across the countries alone
    (`p_holm_countries`) beside chapter 2's adjustment across all of the dataset's contrasts."""
    names = [contrast.name for contrast in CONTRASTS if is_country_contrast(contrast)]
    rows = reported(gaps)
    rows = rows[rows["contrast"].isin(names)].copy()
    rows["p_holm_countries"] = np.nan
    for _, part in rows.groupby("dimension", sort=False):
        rows.loc[part.index, "p_holm_countries"] = holm(part["p_value"].to_numpy(dtype=float))
    return rows.reindex(columns=COUNTRY_COLUMNS).reset_index(drop=True)


#: Columns of `stratum_table`, in order.
STRATUM_COLUMNS = [
    "item_field",
    "stratum",
    "dimension",
    "contrast",
    "group_a",
    "group_b",
    "n_raters_a",
    "n_raters_b",
    "n_items",
    "relative_gap",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
]


def stratum_table(stratified: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every item field's stratified gaps (reported rows) in one table, rounded for display."""
    frames = [reported(table).reindex(columns=STRATUM_COLUMNS) for table in stratified.values()]
    if not frames:
        return pd.DataFrame(columns=STRATUM_COLUMNS)
    return pd.concat(frames, ignore_index=True).round(3)


def interaction_table(interactions: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every item field's fitted rater-group × item-type interactions in one table, rounded."""
    frames = [table[table["status"] == "reported"] for table in interactions.values()]
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True).drop(columns=["status"])
    return table.round(4)
