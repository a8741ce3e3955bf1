"""Rating gaps between demographic groups (chapter 02; DESIGN §4.2, claims C1–C3).

For every dimension of a ratings table and every contrast in `CONTRASTS` that the data supports,
`rating_gaps` reports:

1. the relative gap (mean_a − mean_b) / mean_b, the reading of the paper's percentages, with a
   95% percentile interval and p-value from a two-way cluster bootstrap over raters and items;
2. the adjusted difference from a linear mixed model with crossed rater and item random
   intercepts and all of the dataset's demographic factors together (so a gender gap is not a
   politics gap in disguise), and whether an ordinal (proportional-odds) model agrees with it;
3. the split of the gap into level and discrimination (see `LEVEL_DISCRIMINATION`);
4. Holm-adjusted p-values across the contrasts of the table.

`claim_verdicts` turns the table into a verdict on C1–C3 per dataset; `plot_gap_forest` and
`plot_level_discrimination` draw it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import PercentFormatter
from scipy import linalg

from pluralign.analysis.statistics import (
    RatingDesign,
    StatisticsError,
    bootstrap_p_value,
    fit_crossed_mixed_model,
    fit_ordinal_model,
    holm,
    percentile_interval,
    two_way_bootstrap,
)
from pluralign.data.schema import DIMENSIONS

LEVEL_DISCRIMINATION = """\
Level vs discrimination. Each group's ratings are regressed on the item's consensus among the
*other* raters (leave-group-out mean, centred at its average over items): the intercept is the
group's level (how high it rates an average item), the slope its discrimination (how sharply its
ratings follow what others see as better or worse). A group's preference between two responses j
and k is the sign of its expected difference, slope·(c_j − c_k): a level shift adds the same amount
to both responses and cancels, so groups that differ only in level prefer the same responses and
produce the same preference pairs. Only a slope difference changes the margin of a preference (how
often noisy ratings flip or tie it), and a slope of the other sign reverses it; so only
discrimination differences can make group-tuned models differ. Item-specific disagreements beyond
this linear bridge are left in the residual and are not captured by either number. The split is on
the observed scale: near the floor or ceiling of a bounded scale a pure level shift also flattens
the observed slope, and that flattening is real for the preferences (more ties)."""


class GapAnalysisError(ValueError):
    """The ratings cannot be analysed as given; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Contrast:
    """A comparison of two groups of one demographic field, oriented as the paper states it:
    the relative gap is (mean of group_a − mean of group_b) / mean of group_b."""

    name: str
    field: str
    group_a: str
    group_b: str


#: Every contrast, oriented as the paper's claims (C1: male vs female; C2: conservative vs
#: liberal; C3: Black vs White); the country contrast (not a claim) as DE vs US.
CONTRASTS: tuple[Contrast, ...] = (
    Contrast("gender", "gender", group_a="male", group_b="female"),
    Contrast("political", "political", group_a="conservative", group_b="liberal"),
    Contrast("race", "race", group_a="black", group_b="white"),
    Contrast("country", "country", group_a="DE", group_b="US"),
)


@dataclass(frozen=True)
class PaperClaim:
    """One of the abstract's rating-gap claims, as a relative gap of a contrast on a dimension."""

    claim: str
    dimension: str
    contrast: str
    paper_value: float
    statement: str


PAPER_CLAIMS: tuple[PaperClaim, ...] = (
    PaperClaim(
        "C1", "toxicity", "gender", -0.18, "male participants rated responses 18% less toxic"
    ),
    PaperClaim(
        "C2",
        "emotional_awareness",
        "political",
        0.279,
        "conservative participants rated responses 27.9% higher on emotional awareness",
    ),
    PaperClaim(
        "C3",
        "emotional_awareness",
        "race",
        0.44,
        "Black participants rated responses 44% higher on emotional awareness",
    ),
)

#: A group needs this many raters: with one, the rater bootstrap cannot see between-rater spread.
MIN_RATERS_PER_GROUP = 2
#: Significance level for the pattern, the ordinal agreement and the verdicts' 95% intervals.
ALPHA = 0.05
#: In the models, levels of a field with fewer raters than this are pooled (not group_a/b).
RARE_LEVEL_RATERS = 3
RARE_LEVEL = "(rare levels pooled)"

REQUIRED_COLUMNS = ("participant_id", "response_id", "dimension", "score", "scale")

#: Columns of `rating_gaps`' table, in order.
GAP_COLUMNS: tuple[str, ...] = (
    "dimension",
    "contrast",
    "group_a",
    "group_b",
    "scale",
    "status",
    "note",
    "n_raters_a",
    "n_raters_b",
    "n_ratings_a",
    "n_ratings_b",
    "n_items",
    "mean_a",
    "mean_b",
    "mean_difference",
    "relative_gap",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "bootstrap_samples",
    "bootstrap_valid",
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
    "reliability_a",
    "reliability_b",
    "level_difference",
    "level_difference_ci_low",
    "level_difference_ci_high",
    "level_difference_p",
    "level_difference_p_adjusted",
    "slope_difference",
    "slope_difference_ci_low",
    "slope_difference_ci_high",
    "slope_difference_p",
    "slope_difference_p_adjusted",
    "pattern",
    "mixed_effect",
    "mixed_ci_low",
    "mixed_ci_high",
    "mixed_p_value",
    "mixed_relative_effect",
    "mixed_n_raters",
    "mixed_factors",
    "rater_sd",
    "item_sd",
    "residual_sd",
    "ordinal_effect",
    "ordinal_p_value",
    "ordinal_agrees",
)

#: Columns that are always finite in a row whose status is "reported".
ALWAYS_FINITE = (
    "n_raters_a",
    "n_raters_b",
    "n_ratings_a",
    "n_ratings_b",
    "n_items",
    "mean_a",
    "mean_b",
    "mean_difference",
    "relative_gap",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "bootstrap_samples",
    "bootstrap_valid",
)


def _blas_single_thread() -> AbstractContextManager[Any]:
    """One BLAS thread: the matrices here are small, and on a busy 2-core machine OpenBLAS'
    threads contend (a 500 × 500 Cholesky took 140 ms with 2 threads and 7 ms with 1)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# --------------------------------------------------------------------------------------------
# Input checks


def _check_ratings(ratings: pd.DataFrame) -> None:
    """Refuse a table the analysis cannot read, naming the problem."""
    if not isinstance(ratings, pd.DataFrame):
        raise GapAnalysisError(f"ratings must be a pandas DataFrame, not {type(ratings).__name__}")
    missing = [column for column in REQUIRED_COLUMNS if column not in ratings.columns]
    if missing:
        raise GapAnalysisError(f"ratings lack the column(s) {', '.join(missing)}")
    if ratings.empty:
        raise GapAnalysisError("ratings are empty: there is nothing to compare")
    for column in ("participant_id", "response_id", "dimension", "scale"):
        if ratings[column].isna().any():
            raise GapAnalysisError(f"ratings have empty {column} values")
    scores = pd.to_numeric(ratings["score"], errors="coerce")
    if not np.isfinite(scores.to_numpy(dtype=float)).all():
        raise GapAnalysisError("every score must be a finite number (found empty or non-numeric)")
    scales = ratings.groupby("dimension")["scale"].unique()
    mixed = {dimension: list(values) for dimension, values in scales.items() if len(values) > 1}
    if mixed:
        dimension, values = next(iter(mixed.items()))
        raise GapAnalysisError(
            f"dimension {dimension} mixes the scales {', '.join(map(str, values))}: "
            "analyse each scale on its own (filter the `scale` column)"
        )


def _blank_inconsistent_traits(ratings: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """A rater whose rows disagree on a demographic field (real files have a few: a survey
    answered anew per batch) has that field set missing, not guessed; returns the counts."""
    counts: dict[str, int] = {}
    for contrast in CONTRASTS:
        field = contrast.field
        distinct = ratings.groupby("participant_id")[field].nunique(dropna=True)
        inconsistent = distinct.index[distinct > 1]
        if len(inconsistent):
            counts[field] = len(inconsistent)
            blank = ratings["participant_id"].isin(inconsistent)
            ratings = ratings.assign(**{field: ratings[field].where(~blank, None)})
    return ratings, counts


# --------------------------------------------------------------------------------------------
# Verdicts


def verdict(relative_gap_ci: tuple[float, float] | None, paper_value: float) -> str:
    """A paper claim on a dataset: "agrees" (the interval excludes 0 on the paper's side),
    "disagrees" (it excludes 0 on the other side), "inconclusive" (it contains 0), or
    "not testable" when there is no interval (`None`: the dataset lacks the dimension or groups).
    """
    if relative_gap_ci is None:
        return "not testable"
    if paper_value == 0 or not math.isfinite(paper_value):
        raise GapAnalysisError(f"the paper value {paper_value} has no direction to agree with")
    low, high = (float(value) for value in relative_gap_ci)
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise GapAnalysisError(f"({low}, {high}) is not a confidence interval")
    if low > 0 or high < 0:
        return "agrees" if (low > 0) == (paper_value > 0) else "disagrees"
    return "inconclusive"


def claim_verdicts(gaps_table: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """One row per claim in `PAPER_CLAIMS` (C1–C3): the dataset's gap, its CI and the verdict,
    with the reason when the dataset cannot test the claim. The verdict is about direction;
    `paper_value_in_ci` says whether the paper's size is also inside the interval."""
    rows = []
    for claim in PAPER_CLAIMS:
        contrast = _contrast(claim.contrast)
        row: dict[str, Any] = {
            "claim": claim.claim,
            "dataset": dataset,
            "dimension": claim.dimension,
            "contrast": claim.contrast,
            "group_a": contrast.group_a,
            "group_b": contrast.group_b,
            "paper_value": claim.paper_value,
            "relative_gap": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "p_value": np.nan,
            "p_adjusted": np.nan,
            "paper_value_in_ci": None,
        }
        match = gaps_table[
            (gaps_table["dimension"] == claim.dimension)
            & (gaps_table["contrast"] == claim.contrast)
        ]
        if match.empty:
            row["verdict"] = verdict(None, claim.paper_value)
            row["reason"] = f"{dataset} has no {claim.dimension} ratings"
        elif match.iloc[0]["status"] != "reported":
            row["verdict"] = verdict(None, claim.paper_value)
            row["reason"] = str(match.iloc[0]["note"])
        else:
            found = match.iloc[0]
            for column in ("relative_gap", "ci_low", "ci_high", "p_value", "p_adjusted"):
                row[column] = float(found[column])
            low, high = float(found["ci_low"]), float(found["ci_high"])
            row["verdict"] = verdict((low, high), claim.paper_value)
            row["paper_value_in_ci"] = bool(low <= claim.paper_value <= high)
            row["reason"] = (
                f"{found['relative_gap']:+.1%} (95% CI {found['ci_low']:+.1%} to "
                f"{found['ci_high']:+.1%}) vs the paper's {claim.paper_value:+.1%}"
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _contrast(name: str) -> Contrast:
    for contrast in CONTRASTS:
        if contrast.name == name:
            return contrast
    raise GapAnalysisError(f"unknown contrast {name!r}; known: {[c.name for c in CONTRASTS]}")


# --------------------------------------------------------------------------------------------
# The table


def relative_gap(mean_a: float, mean_b: float) -> float:
    """(mean_a − mean_b) / mean_b; undefined (an error) when mean_b is 0."""
    if mean_b == 0:
        raise GapAnalysisError(
            "the reference group's mean rating is 0, so the relative gap (mean_a − mean_b) / "
            "mean_b is undefined; compare the absolute difference instead"
        )
    return (mean_a - mean_b) / mean_b


def rating_gaps(
    ratings: pd.DataFrame, bootstrap_samples: int = 2000, seed: int = 0, *, models: bool = True
) -> pd.DataFrame:
    """Every dimension × contrast of a ratings table: relative gap, level/discrimination, models.

    One row per (dimension, contrast in `CONTRASTS`), columns `GAP_COLUMNS`. `status` is
    "reported", "skipped" (the data cannot support the contrast: a field nobody recorded, an
    empty group, a single rater, a reference mean of 0; `note` says which) or "not analysable"
    (the dimension has one rater). In reported rows the `ALWAYS_FINITE` columns are finite; the
    level/slope columns are NaN only where `pattern` is "not estimable", the model columns only
    where `note` says why, or everywhere with `models=False` (bootstrap only, for speed).

    Means are per rating (every rating by the group's raters counts once), not averages of rater
    means: the paper's "rated responses 18% less toxic" is about ratings, the bootstrap and the
    mixed model are rating-level too, and in the study's design (5 ratings per rater and
    dimension) both are the same. Where raters rate very different numbers of items (SBIC: 1 to
    412) prolific raters weigh more; the rater bootstrap carries that into the interval, and the
    mixed model's rater intercepts absorb it.

    p-values are Holm-adjusted across the reported rows (`p_adjusted`, and separately for the
    level and slope differences); `pattern` uses the adjusted ones at `ALPHA`.
    """
    _check_ratings(ratings)
    if bootstrap_samples < 100:
        raise GapAnalysisError("use at least 100 bootstrap samples (2,000 for reported results)")
    ratings = ratings.assign(score=pd.to_numeric(ratings["score"]).astype(float))
    for contrast in CONTRASTS:
        if contrast.field not in ratings.columns:
            ratings = ratings.assign(**{contrast.field: None})
    ratings, inconsistent = _blank_inconsistent_traits(ratings)
    present = {str(dimension) for dimension in ratings["dimension"].unique()}
    order = [d for d in DIMENSIONS if d in present] + sorted(present - set(DIMENSIONS))
    rows: list[dict[str, Any]] = []
    with _blas_single_thread():
        for dimension in order:
            part = ratings[ratings["dimension"] == dimension]
            rows.extend(_analyse_dimension(part, dimension, bootstrap_samples, seed, models))
    table = pd.DataFrame(rows).reindex(columns=list(GAP_COLUMNS))
    for contrast in CONTRASTS:
        if contrast.field in inconsistent:
            rows_of = (table["contrast"] == contrast.name) & (table["status"] == "reported")
            message = (
                f"{inconsistent[contrast.field]} rater(s) gave different {contrast.field} answers "
                "on different rows; their answer is treated as missing"
            )
            table.loc[rows_of, "note"] = [
                f"{note}; {message}" if note else message for note in table.loc[rows_of, "note"]
            ]
    _adjust_and_classify(table)
    agrees = table["ordinal_agrees"]
    table["ordinal_agrees"] = [bool(value) if pd.notna(value) else None for value in agrees]
    table.attrs["dataset"] = ratings.attrs.get("dataset", "")
    table.attrs["bootstrap_samples"] = bootstrap_samples
    table.attrs["seed"] = seed
    return table


def reported(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a `rating_gaps` table that carry estimates."""
    return table[table["status"] == "reported"]


def _adjust_and_classify(table: pd.DataFrame) -> None:
    """Holm across the reported rows, then the level/discrimination pattern from adjusted p."""
    is_reported = (table["status"] == "reported").to_numpy()
    for raw, adjusted in (
        ("p_value", "p_adjusted"),
        ("level_difference_p", "level_difference_p_adjusted"),
        ("slope_difference_p", "slope_difference_p_adjusted"),
    ):
        values = np.where(is_reported, table[raw].astype(float), np.nan)
        table[adjusted] = holm(values)
    patterns = []
    for is_row_reported, level_p, slope_p in zip(
        is_reported,
        table["level_difference_p_adjusted"],
        table["slope_difference_p_adjusted"],
        strict=True,
    ):
        if not is_row_reported:
            patterns.append(None)
        elif not (np.isfinite(level_p) and np.isfinite(slope_p)):
            patterns.append("not estimable")
        else:
            level, slope = level_p < ALPHA, slope_p < ALPHA
            patterns.append(
                "both"
                if level and slope
                else "discrimination"
                if slope
                else "level"
                if level
                else "neither"
            )
    table["pattern"] = patterns


def _group_key(field: str, group: str) -> str:
    return f"{field}={group}"


def _skip_reason(
    contrast: Contrast,
    dimension: str,
    people: pd.DataFrame,
    scores: np.ndarray,
    raters: np.ndarray,
) -> str | None:
    """Why the data cannot support a contrast on a dimension, or None when it can."""
    values = people[contrast.field]
    if values.isna().all():
        return f"no rater of {dimension} records {contrast.field}"
    for group in (contrast.group_a, contrast.group_b):
        count = int((values == group).sum())
        if count == 0:
            return f"no {group} raters of {dimension}"
        if count < MIN_RATERS_PER_GROUP:
            return (
                f"only {count} {group} rater of {dimension}; the rater bootstrap needs at least "
                f"{MIN_RATERS_PER_GROUP}"
            )
    in_reference = (values == contrast.group_b).to_numpy()[raters]
    if float(scores[in_reference].mean()) == 0:
        return (
            f"the {contrast.group_b} raters' mean {dimension} rating is 0, so the relative gap "
            "(mean_a − mean_b) / mean_b is undefined"
        )
    return None


def _analyse_dimension(
    part: pd.DataFrame, dimension: str, samples: int, seed: int, fit_models: bool
) -> list[dict[str, Any]]:
    """All contrasts on one dimension: skips, the bootstrap, the models, one row per contrast."""
    raters, _ = pd.factorize(part["participant_id"])
    items, item_ids = pd.factorize(part["response_id"])
    fields = [contrast.field for contrast in CONTRASTS]
    people = part[fields].groupby(raters).first().reset_index(drop=True)
    scores = part["score"].to_numpy(dtype=float)
    scale = str(part["scale"].iloc[0])

    def base(contrast: Contrast) -> dict[str, Any]:
        return {
            "dimension": dimension,
            "contrast": contrast.name,
            "group_a": contrast.group_a,
            "group_b": contrast.group_b,
            "scale": scale,
        }

    if len(people) < 2:
        note = (
            f"not analysable: only {len(people)} rater rated {dimension}, so there is no "
            "between-rater variation to compare groups with"
        )
        return [{**base(c), "status": "not analysable", "note": note} for c in CONTRASTS]

    reasons = {c.name: _skip_reason(c, dimension, people, scores, raters) for c in CONTRASTS}
    active = [contrast for contrast in CONTRASTS if reasons[contrast.name] is None]
    groups = {
        _group_key(contrast.field, group): (people[contrast.field] == group).to_numpy()
        for contrast in active
        for group in (contrast.group_a, contrast.group_b)
    }
    bootstrap = {}
    if active:
        design = RatingDesign.from_codes(raters, items, scores, groups)
        bootstrap = two_way_bootstrap(design, samples=samples, seed=seed, key=dimension)
    models = _fit_models(part, raters, items, people, active) if fit_models else {}

    rows = []
    for contrast in CONTRASTS:
        if reasons[contrast.name] is not None:
            rows.append({**base(contrast), "status": "skipped", "note": reasons[contrast.name]})
            continue
        row = {**base(contrast), "status": "reported", "n_items": len(item_ids)}
        notes: list[str] = []
        group_a = bootstrap[_group_key(contrast.field, contrast.group_a)]
        group_b = bootstrap[_group_key(contrast.field, contrast.group_b)]
        row["n_raters_a"] = int(groups[_group_key(contrast.field, contrast.group_a)].sum())
        row["n_raters_b"] = int(groups[_group_key(contrast.field, contrast.group_b)].sum())
        row["n_ratings_a"] = int(group_a.estimate["n_ratings"])
        row["n_ratings_b"] = int(group_b.estimate["n_ratings"])
        row.update(_gap_columns(group_a, group_b, samples, notes))
        row.update(_level_slope_columns(group_a, group_b, notes))
        row.update(models.get(contrast.name, {}))
        notes.extend(models.get("notes", {}).get(contrast.name, []))
        row["note"] = "; ".join(notes)
        rows.append(row)
    return rows


def _gap_columns(
    group_a: Any, group_b: Any, samples: int, notes: list[str]
) -> dict[str, float | int]:
    mean_a, mean_b = group_a.estimate["mean"], group_b.estimate["mean"]
    with np.errstate(divide="ignore", invalid="ignore"):
        replicates = (group_a.replicates["mean"] - group_b.replicates["mean"]) / group_b.replicates[
            "mean"
        ]
    valid = int(np.isfinite(replicates).sum())
    if valid < samples:
        notes.append(
            f"{samples - valid} of {samples} bootstrap samples left a group empty or its "
            "reference mean 0; the interval uses the rest"
        )
    gap = relative_gap(mean_a, mean_b)
    low, high = percentile_interval(replicates)
    return {
        "mean_a": mean_a,
        "mean_b": mean_b,
        "mean_difference": mean_a - mean_b,
        "relative_gap": gap,
        "ci_low": low,
        "ci_high": high,
        "p_value": bootstrap_p_value(gap, replicates),
        "bootstrap_samples": samples,
        "bootstrap_valid": valid,
    }


def _interval_columns(prefix: str, estimate: float, replicates: np.ndarray) -> dict[str, float]:
    try:
        low, high = percentile_interval(replicates)
    except StatisticsError:
        low = high = np.nan
    return {prefix: estimate, f"{prefix}_ci_low": low, f"{prefix}_ci_high": high}


def _level_slope_columns(group_a: Any, group_b: Any, notes: list[str]) -> dict[str, float]:
    """Each group's level and slope, and the A − B differences, with bootstrap CIs and p."""
    estimates = [group_a.estimate[s] for s in ("level", "slope")] + [
        group_b.estimate[s] for s in ("level", "slope")
    ]
    if not np.isfinite(estimates).all():
        notes.append(
            "level/discrimination not estimable: a group has fewer than 2 items with a "
            "leave-group-out consensus, or no item has 2 other raters to measure its noise"
        )
        return {}
    columns: dict[str, float] = {}
    for suffix, group in (("a", group_a), ("b", group_b)):
        for statistic in ("level", "slope"):
            columns.update(
                _interval_columns(
                    f"{statistic}_{suffix}",
                    group.estimate[statistic],
                    group.replicates[statistic],
                )
            )
        columns[f"reliability_{suffix}"] = group.estimate["reliability"]
    for statistic in ("level", "slope"):
        estimate = group_a.estimate[statistic] - group_b.estimate[statistic]
        replicates = group_a.replicates[statistic] - group_b.replicates[statistic]
        columns.update(_interval_columns(f"{statistic}_difference", estimate, replicates))
        columns[f"{statistic}_difference_p"] = bootstrap_p_value(estimate, replicates)
    low_reliability = min(columns["reliability_a"], columns["reliability_b"])
    if low_reliability < 0.5:
        notes.append(
            f"the leave-group-out consensus is noisy (reliability {low_reliability:.2f}); its "
            "slopes are corrected for that noise, so their intervals are wide"
        )
    return columns


# --------------------------------------------------------------------------------------------
# Models: linear mixed model and ordinal model with all factors together


def _model_design(
    people: pd.DataFrame, active: list[Contrast]
) -> tuple[pd.DataFrame, np.ndarray, dict[str, str], dict[str, list[str]]]:
    """Rater-level treatment-coded dummies of every supported field (reference: group_b).

    Returns the dummies of complete-case raters (an intercept first), the complete-case mask,
    the column of each contrast's group_a, and notes per contrast. Levels with fewer than
    `RARE_LEVEL_RATERS` raters (other than the contrast's groups) are pooled; columns aliased
    with others are dropped.
    """
    complete = people[[c.field for c in active]].notna().all(axis=1).to_numpy()
    columns: dict[str, np.ndarray] = {"Intercept": np.ones(int(complete.sum()))}
    effect_columns: dict[str, str] = {}
    notes: dict[str, list[str]] = {c.name: [] for c in active}
    for contrast in active:
        values = people.loc[complete, contrast.field].astype(str)
        counts = values.value_counts()
        if counts.get(contrast.group_a, 0) == 0 or counts.get(contrast.group_b, 0) == 0:
            notes[contrast.name].append(
                f"mixed/ordinal models: no complete-case {contrast.group_a} or "
                f"{contrast.group_b} raters"
            )
            continue
        rare = [
            level
            for level, count in counts.items()
            if count < RARE_LEVEL_RATERS and level not in (contrast.group_a, contrast.group_b)
        ]
        values = values.where(~values.isin(rare), RARE_LEVEL)
        for level in sorted(set(values) - {contrast.group_b}):
            name = f"{contrast.field}[{level}]"
            columns[name] = (values == level).to_numpy(dtype=float)
            if level == contrast.group_a:
                effect_columns[contrast.name] = name
    design = pd.DataFrame(columns)
    # drop columns aliased with earlier ones (pivoted QR keeps a full-rank subset)
    _, r_factor, pivots = linalg.qr(design.to_numpy(), mode="economic", pivoting=True)
    diagonal = np.abs(np.diag(r_factor))
    rank = int((diagonal > diagonal.max() * 1e-10).sum())
    kept = sorted(pivots[:rank])
    if 0 not in kept:  # keep the intercept; it is never aliased with dummies of present groups
        kept = sorted([0, *kept[:-1]])
    dropped = set(design.columns) - set(design.columns[kept])
    for contrast_name, column in list(effect_columns.items()):
        if column in dropped:
            notes[contrast_name].append(
                f"mixed/ordinal models: {column} is aliased with other factors in these raters"
            )
            del effect_columns[contrast_name]
    return design.iloc[:, kept], complete, effect_columns, notes


def _fit_models(
    part: pd.DataFrame,
    raters: np.ndarray,
    items: np.ndarray,
    people: pd.DataFrame,
    active: list[Contrast],
) -> dict[str, Any]:
    """Fit the mixed and ordinal models once per dimension; columns per contrast, plus notes."""
    if not active:
        return {}
    design, complete, effect_columns, notes = _model_design(people, active)
    out: dict[str, Any] = {"notes": notes}
    factors = ", ".join(sorted({column.split("[")[0] for column in design.columns[1:]}))
    rater_row = np.full(len(people), -1)
    rater_row[complete] = np.arange(int(complete.sum()))
    in_model = rater_row[raters] >= 0
    model_raters = rater_row[raters][in_model]
    model_items = pd.factorize(items[in_model])[0]
    scores = part["score"].to_numpy(dtype=float)[in_model]
    rows_design = design.iloc[model_raters].reset_index(drop=True)
    try:
        mixed = fit_crossed_mixed_model(scores, rows_design, model_raters, model_items)
    except StatisticsError as error:
        mixed = None
        for contrast in active:
            notes[contrast.name].append(f"mixed model not fitted: {error}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ordinal = fit_ordinal_model(scores, design.iloc[:, 1:], model_raters)
    except (StatisticsError, np.linalg.LinAlgError, ValueError) as error:
        ordinal = None
        for contrast in active:
            notes[contrast.name].append(f"ordinal model not fitted: {error}")
    for contrast in active:
        column = effect_columns.get(contrast.name)
        if column is None or mixed is None:
            continue
        effect = mixed.effect(column)
        in_group_b = (people[contrast.field] == contrast.group_b).to_numpy()[raters][in_model]
        mean_b = float(scores[in_group_b].mean())
        columns: dict[str, Any] = {
            "mixed_effect": effect["estimate"],
            "mixed_ci_low": effect["ci_low"],
            "mixed_ci_high": effect["ci_high"],
            "mixed_p_value": effect["p_value"],
            "mixed_relative_effect": effect["estimate"] / mean_b if mean_b else np.nan,
            "mixed_n_raters": int(complete.sum()),
            "mixed_factors": factors,
            "rater_sd": math.sqrt(mixed.rater_variance),
            "item_sd": math.sqrt(mixed.item_variance),
            "residual_sd": math.sqrt(mixed.residual_variance),
        }
        if not mixed.converged:
            notes[contrast.name].append("mixed model: the REML optimiser reported no convergence")
        if ordinal is not None and column in ordinal.coefficients.index:
            ordinal_effect = ordinal.effect(column)
            columns["ordinal_effect"] = ordinal_effect["estimate"]
            columns["ordinal_p_value"] = ordinal_effect["p_value"]
            columns["ordinal_agrees"] = _models_agree(
                effect["estimate"], effect["p_value"], *ordinal_effect.values()
            )
            if not ordinal.converged:
                notes[contrast.name].append("ordinal model: the optimiser reported no convergence")
        out[contrast.name] = columns
    return out


def _models_agree(linear: float, linear_p: float, ordinal: float, ordinal_p: float) -> bool:
    """Agreement in significance at `ALPHA` and, when significant, in sign."""
    linear_significant, ordinal_significant = linear_p < ALPHA, ordinal_p < ALPHA
    if linear_significant != ordinal_significant:
        return False
    return bool(not linear_significant or np.sign(linear) == np.sign(ordinal))


# --------------------------------------------------------------------------------------------
# Figures


def _set_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.9)


def plot_gap_forest(gaps_by_dataset: Mapping[str, pd.DataFrame]) -> plt.Figure:
    """Forest plot: every reported relative gap with its 95% CI, one colour per dataset, one row
    per dimension × contrast; the paper's C1–C3 values are black diamonds on their rows."""
    _set_style()
    frames = [
        reported(table).assign(dataset=name)
        for name, table in gaps_by_dataset.items()
        if not reported(table).empty
    ]
    if not frames:
        raise GapAnalysisError("no dataset has a reported gap to plot")
    data = pd.concat(frames, ignore_index=True)
    contrast_order = {c.name: i for i, c in enumerate(CONTRASTS)}
    dimension_order = {d: i for i, d in enumerate(DIMENSIONS)}
    keys = sorted(
        {(row.dimension, row.contrast) for row in data.itertuples()},
        key=lambda key: (dimension_order.get(key[0], 99), contrast_order.get(key[1], 99)),
    )
    labels = [
        f"{dimension} · {_contrast(contrast).group_a} vs {_contrast(contrast).group_b}"
        for dimension, contrast in keys
    ]
    position = {key: i for i, key in enumerate(keys)}
    datasets = list(dict.fromkeys(data["dataset"]))
    colours = dict(zip(datasets, sns.color_palette(n_colors=len(datasets)), strict=True))
    width = 0.7
    offsets = {
        name: (i - (len(datasets) - 1) / 2) * width / max(len(datasets), 1)
        for i, name in enumerate(datasets)
    }
    row_height = 0.3 + 0.09 * len(datasets)
    figure, axis = plt.subplots(figsize=(8.5, 1.0 + row_height * len(keys)))
    for name in datasets:
        rows = data[data["dataset"] == name]
        y = np.array([position[(d, c)] for d, c in zip(rows.dimension, rows.contrast, strict=True)])
        y = y + offsets[name]
        axis.hlines(y, rows["ci_low"], rows["ci_high"], color=colours[name], linewidth=1.6)
        axis.plot(rows["relative_gap"], y, "o", color=colours[name], label=name, markersize=5)
    marked = False
    for claim in PAPER_CLAIMS:
        key = (claim.dimension, claim.contrast)
        if key in position:
            axis.plot(
                claim.paper_value,
                position[key],
                "D",
                color="black",
                markersize=6,
                label=None if marked else "paper (C1–C3)",
            )
            axis.annotate(
                claim.claim,
                (claim.paper_value, position[key]),
                xytext=(6, -3),
                textcoords="offset points",
                fontsize=8,
            )
            marked = True
    axis.axvline(0, color="grey", linewidth=0.8)
    axis.grid(axis="y", visible=False)
    for boundary in range(1, len(keys)):
        axis.axhline(boundary - 0.5, color="lightgrey", linewidth=0.8)
    axis.set_yticks(range(len(keys)), labels)
    axis.set_ylim(len(keys) - 0.5, -0.5)
    axis.xaxis.set_major_formatter(PercentFormatter(1.0))
    axis.set_xlabel("relative gap (A − B) / B, 95% CI")
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    figure.tight_layout()
    return figure


def plot_level_discrimination(table: pd.DataFrame) -> plt.Figure:
    """Per contrast, each group's level (left) and slope (right) with 95% CIs; the pattern of
    the contrast (level / discrimination / both / neither) is in its label."""
    _set_style()
    data = reported(table)
    data = data[data["pattern"] != "not estimable"]
    if data.empty:
        raise GapAnalysisError("no contrast has level and slope estimates to plot")
    records = []
    for row in data.itertuples():
        for role, group in (("a", row.group_a), ("b", row.group_b)):
            records.append(
                {
                    "label": f"{row.dimension} · {row.contrast}: {group}"
                    + (f"  [{row.pattern}]" if role == "a" else ""),
                    "role": "group A" if role == "a" else "group B (reference)",
                    **{
                        f"{statistic}{suffix}": getattr(row, f"{statistic}_{role}{suffix}")
                        for statistic in ("level", "slope")
                        for suffix in ("", "_ci_low", "_ci_high")
                    },
                }
            )
    long = pd.DataFrame(records)
    colours = dict(
        zip(["group A", "group B (reference)"], sns.color_palette(n_colors=2), strict=True)
    )
    figure, axes = plt.subplots(
        1, 2, figsize=(10, 1.2 + 0.3 * len(long)), sharey=True, squeeze=False
    )
    y = np.arange(len(long))
    for axis, statistic, label in (
        (axes[0][0], "level", "level, 95% CI\n(rating of an average item)"),
        (axes[0][1], "slope", "slope, 95% CI\n(discrimination)"),
    ):
        for role, colour in colours.items():
            mask = (long["role"] == role).to_numpy()
            axis.hlines(
                y[mask],
                long.loc[mask, f"{statistic}_ci_low"],
                long.loc[mask, f"{statistic}_ci_high"],
                color=colour,
                linewidth=1.6,
            )
            axis.plot(long.loc[mask, statistic], y[mask], "o", color=colour, label=role)
        axis.set_xlabel(label)
        axis.grid(axis="y", visible=False)
        for boundary in range(2, len(long), 2):
            axis.axhline(boundary - 0.5, color="lightgrey", linewidth=0.8)
    axes[0][1].axvline(1, color="grey", linewidth=0.8, linestyle=":")
    axes[0][0].set_yticks(y, long["label"])
    axes[0][0].set_ylim(len(long) - 0.5, -0.5)
    axes[0][1].legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    figure.tight_layout()
    return figure
