"""Item-type moderation (chapter 02): group gaps within each item stratum, and the rater-group ×
item-type interaction from the crossed mixed model.

A gap averaged over all items can hide opposite gaps on different kinds of items (Sap et al.
2022: conservative raters rate posts in African American English as *more* offensive and anti-Black
posts as *less* racist). Items carry their kind in the study format's optional `item_*` columns.
Within each stratum `stratified_gaps` runs `rating_gaps` unchanged; `interactions` fits, per
dimension and contrast, y ~ group + stratum + group × stratum with crossed rater and item random
intercepts on the two groups' raters, and reports each interaction with its Wald interval.
p-values are Holm-adjusted across all rows of each table.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from pluralign.data.schema import DIMENSIONS, item_columns
from pluralign.gaps.contrasts import CONTRASTS, Contrast
from pluralign.gaps.estimate import GapAnalysisError, adjust_and_classify, rating_gaps, reported
from pluralign.stats.errors import StatisticsError
from pluralign.stats.mixed import fit_crossed_mixed_model
from pluralign.stats.testing import holm

#: Boolean item flags: the reference stratum of an interaction is the flag's absence.
FLAG_REFERENCE = "false"
#: A stratum needs this many ratings from each group to enter the interaction model.
MIN_STRATUM_RATINGS = 20

#: Columns of `interactions`' table, in order.
INTERACTION_COLUMNS = (
    "dimension",
    "contrast",
    "group_a",
    "group_b",
    "item_field",
    "stratum",
    "reference_stratum",
    "status",
    "note",
    "n_ratings",
    "n_raters",
    "n_items",
    "gap_in_reference",
    "interaction",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
)


def check_item_field(ratings: pd.DataFrame, field: str) -> None:
    """Refuse an item field the table lacks, naming the ones it has."""
    if field not in ratings.columns:
        present = item_columns(ratings)
        raise GapAnalysisError(
            f"the ratings have no item field {field!r}; they have "
            f"{', '.join(present) if present else 'none (item_* columns of the study format)'}"
        )


def strata_of(ratings: pd.DataFrame, field: str) -> list[str]:
    """The field's values, sorted (items without a value belong to no stratum)."""
    return sorted(str(value) for value in ratings[field].dropna().unique())


def stratified_gaps(
    ratings: pd.DataFrame,
    field: str,
    bootstrap_samples: int = 2000,
    seed: int = 0,
    *,
    models: bool = True,
) -> pd.DataFrame:
    """`rating_gaps` within each value of the item field `field`, with a `stratum` column (first),
    and p-values and patterns Holm-adjusted across every stratum's reported rows together."""
    check_item_field(ratings, field)
    frames = []
    for stratum in strata_of(ratings, field):
        part = ratings[ratings[field] == stratum]
        part.attrs = dict(ratings.attrs)
        gaps = rating_gaps(part, bootstrap_samples=bootstrap_samples, seed=seed, models=models)
        frames.append(gaps.assign(item_field=field, stratum=stratum))
    if not frames:
        raise GapAnalysisError(f"no rating has a value of {field}")
    table = pd.concat(frames, ignore_index=True)
    adjust_and_classify(table)
    table = table[
        ["item_field", "stratum", *[c for c in table.columns if c not in ("item_field", "stratum")]]
    ]
    table.attrs.update(dataset=ratings.attrs.get("dataset", ""), item_field=field)
    return table


def reference_stratum(strata: list[str], counts: pd.Series) -> str:
    """The stratum the others are compared with: a flag's `false`, else the largest one."""
    if FLAG_REFERENCE in strata:
        return FLAG_REFERENCE
    return str(counts.sort_values(ascending=False, kind="stable").index[0])


def interactions(ratings: pd.DataFrame, field: str) -> pd.DataFrame:
    """Per dimension, contrast and non-reference stratum: how much group A's gap to group B
    differs in that stratum from the reference stratum (rating scale), from a mixed model with
    crossed rater and item random intercepts on the two groups' raters; Holm across the rows."""
    check_item_field(ratings, field)
    rows: list[dict[str, Any]] = []
    present = {str(dimension) for dimension in ratings["dimension"].unique()}
    order = [d for d in DIMENSIONS if d in present] + sorted(present - set(DIMENSIONS))
    for dimension in order:
        part = ratings[(ratings["dimension"] == dimension) & ratings[field].notna()]
        for contrast in CONTRASTS:
            if contrast.field not in part.columns:
                continue
            rows.extend(_contrast_interactions(part, dimension, contrast, field))
    table = pd.DataFrame(rows).reindex(columns=list(INTERACTION_COLUMNS))
    fitted = (table["status"] == "reported").to_numpy()
    table["p_adjusted"] = holm(np.where(fitted, table["p_value"].astype(float), np.nan))
    table.attrs.update(dataset=ratings.attrs.get("dataset", ""), item_field=field)
    return table


def _contrast_interactions(
    part: pd.DataFrame, dimension: str, contrast: Contrast, field: str
) -> list[dict[str, Any]]:
    """The interaction rows of one contrast on one dimension (none when a group is absent)."""
    in_a = part[contrast.field] == contrast.group_a
    in_b = part[contrast.field] == contrast.group_b
    if in_a.sum() == 0 or in_b.sum() == 0:
        return []
    both = part[in_a | in_b]
    group = (both[contrast.field] == contrast.group_a).to_numpy(dtype=float)
    stratum = both[field].astype(str)
    counts = pd.crosstab(stratum, group)
    usable = [
        str(value)
        for value in counts.index
        if all(counts.loc[value].get(g, 0) >= MIN_STRATUM_RATINGS for g in (0.0, 1.0))
    ]
    base = {
        "dimension": dimension,
        "contrast": contrast.name,
        "group_a": contrast.group_a,
        "group_b": contrast.group_b,
        "item_field": field,
    }
    if len(usable) < 2:
        return [
            {
                **base,
                "stratum": None,
                "status": "skipped",
                "note": f"fewer than 2 strata with {MIN_STRATUM_RATINGS} ratings from each group",
            }
        ]
    keep = stratum.isin(usable).to_numpy()
    both, group, stratum = both[keep], group[keep], stratum[keep]
    reference = reference_stratum(usable, stratum.value_counts())
    others = [value for value in usable if value != reference]
    design = {"Intercept": np.ones(len(both)), "group": group}
    for value in others:
        indicator = (stratum == value).to_numpy(dtype=float)
        design[f"stratum[{value}]"] = indicator
        design[f"group:stratum[{value}]"] = group * indicator
    raters, _ = pd.factorize(both["participant_id"])
    items, _ = pd.factorize(both["response_id"])
    common = {
        **base,
        "reference_stratum": reference,
        "n_ratings": len(both),
        "n_raters": int(raters.max()) + 1,
        "n_items": int(items.max()) + 1,
    }
    try:
        fit = fit_crossed_mixed_model(
            both["score"].to_numpy(dtype=float), pd.DataFrame(design), raters, items
        )
    except (StatisticsError, np.linalg.LinAlgError) as error:
        return [
            {**common, "stratum": value, "status": "skipped", "note": f"not fitted: {error}"}
            for value in others
        ]
    gap = fit.effect("group")["estimate"]
    rows = []
    for value in others:
        effect = fit.effect(f"group:stratum[{value}]")
        rows.append(
            {
                **common,
                "stratum": value,
                "status": "reported",
                "note": "" if fit.converged else "the REML optimiser reported no convergence",
                "gap_in_reference": gap,
                "interaction": effect["estimate"],
                "ci_low": effect["ci_low"],
                "ci_high": effect["ci_high"],
                "p_value": effect["p_value"],
            }
        )
    return rows


def stratum_row(
    stratified: pd.DataFrame, dimension: str, group_a: str, group_b: str, stratum: str
) -> pd.Series | None:
    """The reported row of one contrast on one dimension within one stratum, or None."""
    rows = reported(stratified)
    match = rows[
        (rows["dimension"] == dimension)
        & (rows["group_a"] == group_a)
        & (rows["group_b"] == group_b)
        & (rows["stratum"] == stratum)
    ]
    return None if match.empty else match.iloc[0]


def interaction_row(
    table: pd.DataFrame, dimension: str, group_a: str, group_b: str, stratum: str
) -> pd.Series | None:
    """The fitted interaction of one contrast on one dimension in one stratum, or None."""
    match = table[
        (table["status"] == "reported")
        & (table["dimension"] == dimension)
        & (table["group_a"] == group_a)
        & (table["group_b"] == group_b)
        & (table["stratum"] == stratum)
    ]
    if match.empty or not math.isfinite(float(match.iloc[0]["interaction"])):
        return None
    return match.iloc[0]
