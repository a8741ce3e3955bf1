"""The model checks of chapter 2's gaps: per dimension, one linear mixed model with crossed rater
and item random intercepts and all of the dataset's demographic factors together (so a gender gap
is not a politics gap in disguise), and an ordinal (proportional-odds) model to check it."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg

from pluralign.gaps.contrasts import ALPHA, Contrast
from pluralign.stats.errors import StatisticsError
from pluralign.stats.mixed import fit_crossed_mixed_model, fit_ordinal_model

#: In the models, levels of a field with fewer raters than this are pooled (not group_a/b).
RARE_LEVEL_RATERS = 3
RARE_LEVEL = "(rare levels pooled)"


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


def fit_adjusted_models(
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
