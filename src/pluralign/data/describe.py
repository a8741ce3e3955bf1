"""Descriptive tables for chapter 01: who rated, how much, how scores spread, how raters agree."""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd

from pluralign.data.loaders import load_ratings
from pluralign.data.schema import GROUP_FIELDS, SCALE_VALUES


def load_all(names: list[str]) -> dict[str, pd.DataFrame]:
    """Load each dataset (name or study-format path) once, keyed by its dataset name."""
    tables = {}
    for name in names:
        table = load_ratings(name)
        tables[table.attrs["dataset"]] = table
    return tables


def display_names(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The same tables keyed for figures: a simulated dataset's name says so."""
    return {
        (f"{name} (SIMULATED)" if table.attrs.get("simulated") else name): table
        for name, table in tables.items()
    }


def overview(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per dataset: size, dimensions, scale, whether simulated, and its data sha256."""
    rows = []
    for name, table in tables.items():
        rows.append(
            {
                "dataset": name,
                "simulated": bool(table.attrs.get("simulated", False)),
                "ratings": len(table),
                "raters": table["participant_id"].nunique(),
                "items": table["response_id"].nunique(),
                "prompts": table["prompt_id"].nunique(),
                "dimensions": ", ".join(sorted(table["dimension"].unique())),
                "scale": ", ".join(sorted(table["scale"].unique())),
                "sha256": str(table.attrs.get("sha256", ""))[:12],
            }
        )
    return pd.DataFrame(rows).set_index("dataset")


def raters(table: pd.DataFrame) -> pd.DataFrame:
    """One row per rater with their demographics (the first value they were recorded with)."""
    return table.groupby("participant_id", sort=False)[list(GROUP_FIELDS)].first()


def raters_by_group(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Raters per demographic group: rows (field, group), one column per dataset.

    A missing value counts as 'not recorded'; a field a dataset never records is left out.
    """
    columns = {}
    for name, table in tables.items():
        people = raters(table)
        counts = {}
        for field in GROUP_FIELDS:
            values = people[field].fillna("not recorded")
            if (values == "not recorded").all():
                continue
            for group, count in values.value_counts().items():
                counts[(field, group)] = int(count)
        columns[name] = pd.Series(counts, dtype="Int64")
    result = pd.DataFrame(columns)
    result.index.names = ["field", "group"]
    return result.sort_index(level=0, sort_remaining=True).fillna(0).astype(int)


def ratings_per_unit(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per dataset and dimension: ratings per rater and raters per item (min / median / max)."""
    rows = []
    for name, table in tables.items():
        for dimension, part in table.groupby("dimension"):
            per_rater = part.groupby("participant_id").size()
            per_item = part.groupby("response_id")["participant_id"].nunique()
            rows.append(
                {
                    "dataset": name,
                    "dimension": dimension,
                    "ratings per rater (min)": int(per_rater.min()),
                    "ratings per rater (median)": float(per_rater.median()),
                    "ratings per rater (max)": int(per_rater.max()),
                    "raters per item (min)": int(per_item.min()),
                    "raters per item (median)": float(per_item.median()),
                    "raters per item (max)": int(per_item.max()),
                }
            )
    return pd.DataFrame(rows).set_index(["dataset", "dimension"])


def score_shares(table: pd.DataFrame, field: str, min_raters: int = 5) -> pd.DataFrame:
    """Share of each score per (dimension, group of `field`), for groups with ≥ `min_raters`.

    Long format: dimension, group, score, share, raters. Rows without the field are left out.
    """
    known = table[table[field].notna()]
    group_raters = known.groupby(field)["participant_id"].nunique()
    kept = group_raters[group_raters >= min_raters].index
    known = known[known[field].isin(kept)]
    if known.empty:
        return pd.DataFrame(columns=["dimension", "group", "score", "share", "raters"])
    counts = known.groupby(["dimension", field, "score"]).size().rename("n").reset_index()
    counts["share"] = counts["n"] / counts.groupby(["dimension", field])["n"].transform("sum")
    counts["raters"] = counts[field].map(group_raters)
    return counts.rename(columns={field: "group"})[
        ["dimension", "group", "score", "share", "raters"]
    ]


def krippendorff_alpha(table: pd.DataFrame) -> float:
    """Ordinal Krippendorff's alpha of one dimension (raters × items; one score per cell)."""
    matrix = table.pivot_table(
        index="participant_id", columns="response_id", values="score", aggfunc="first"
    )
    return float(
        krippendorff.alpha(reliability_data=matrix.to_numpy(), level_of_measurement="ordinal")
    )


def agreement(tables: dict[str, pd.DataFrame], bootstrap_samples: int, seed: int) -> pd.DataFrame:
    """Ordinal alpha per dataset and dimension, with a 95% percentile CI from resampling items."""
    rng = np.random.default_rng(seed)
    rows = []
    for name, table in tables.items():
        for dimension, part in table.groupby("dimension"):
            matrix = part.pivot_table(
                index="participant_id", columns="response_id", values="score", aggfunc="first"
            ).to_numpy()
            alpha = float(
                krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal")
            )
            values = _domain(part)
            draws = []
            # a resample can hold no pairable values (tiny data): its alpha is NaN, and is skipped
            with np.errstate(divide="ignore", invalid="ignore"):
                for _ in range(bootstrap_samples):
                    columns = rng.integers(0, matrix.shape[1], matrix.shape[1])
                    draws.append(
                        krippendorff.alpha(
                            reliability_data=matrix[:, columns],
                            level_of_measurement="ordinal",
                            value_domain=values,
                        )
                    )
            finite = [draw for draw in draws if np.isfinite(draw)]
            low, high = np.percentile(finite, [2.5, 97.5]) if finite else (np.nan, np.nan)
            rows.append(
                {
                    "dataset": name,
                    "dimension": dimension,
                    "alpha": alpha,
                    "ci_low": float(low),
                    "ci_high": float(high),
                    "raters": int(matrix.shape[0]),
                    "items": int(matrix.shape[1]),
                }
            )
    return pd.DataFrame(rows).set_index(["dataset", "dimension"])


def _domain(table: pd.DataFrame) -> list[float]:
    scales = table["scale"].unique()
    if len(scales) == 1:
        return list(SCALE_VALUES[scales[0]])
    return sorted(table["score"].unique())
