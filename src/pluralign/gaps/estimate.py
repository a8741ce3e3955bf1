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

The contrasts are in `contrasts`, the models in `models`, the figures in `plots`; the verdicts on
C1–C3 are the claims ledger's (`pluralign.claims.gaps_evidence` reads this table).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import pandas as pd

from pluralign.data.schema import DIMENSIONS
from pluralign.gaps.contrasts import ALPHA, CONTRASTS, Contrast
from pluralign.gaps.models import fit_adjusted_models
from pluralign.stats.errors import StatisticsError
from pluralign.stats.intervals import bootstrap_p_value, percentile_interval
from pluralign.stats.rater_item import RatingDesign, two_way_bootstrap
from pluralign.stats.testing import holm

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


#: A group needs this many raters: with one, the rater bootstrap cannot see between-rater spread.
MIN_RATERS_PER_GROUP = 2

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
    adjust_and_classify(table)
    agrees = table["ordinal_agrees"]
    table["ordinal_agrees"] = [bool(value) if pd.notna(value) else None for value in agrees]
    table.attrs["dataset"] = ratings.attrs.get("dataset", "")
    table.attrs["bootstrap_samples"] = bootstrap_samples
    table.attrs["seed"] = seed
    return table


def reported(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a `rating_gaps` table that carry estimates."""
    return table[table["status"] == "reported"]


def adjust_and_classify(table: pd.DataFrame) -> None:
    """Holm across the reported rows, then the level/discrimination pattern from adjusted p
    (in place; `stratified` tables of several strata are adjusted together with it)."""
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
    fields = list(dict.fromkeys(contrast.field for contrast in CONTRASTS))
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
    models = fit_adjusted_models(part, raters, items, people, active) if fit_models else {}

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
    if np.isnan(low):
        raise StatisticsError("no bootstrap replicate is defined, so there is no interval")
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
    low, high = percentile_interval(replicates)  # (nan, nan) when no replicate is defined
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
