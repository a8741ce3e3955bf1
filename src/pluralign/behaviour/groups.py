"""Group models for chapter 05: who is served by whose model (the cross-group reward matrix and
the own-group advantage), C4's tests of whether group models differ beyond chance, and C8's
percentage-point gaps between group models' improvements over the base model. Built on the
bootstrap engine of `pluralign.behaviour.metrics` (same units, pairing and result columns)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

from pluralign.behaviour.metrics import (
    N_BOOT,
    STRATUM_COLUMNS,
    base_grid,
    cell_means,
    default_metrics,
    joint_bootstrap,
    key_columns,
    metric_orientation,
    result_frame,
    stat_columns,
    tuned_rows,
)
from pluralign.stats.intervals import CONFIDENCE, percentile_interval
from pluralign.stats.seeds import identity_generator
from pluralign.stats.testing import (
    N_PERMUTATIONS,
    holm,
    label_permutation_test,
    sign_flip_test,
)

#: C8: (better-claimed group, its baseline group).
C8_METRICS = ("toxicity", "emotional_awareness")


def _contrast_pairs(rows: pd.DataFrame) -> list[tuple[str, str]]:
    """Ordered (group, other group) pairs of every contrast in `rows` (`contrast` column)."""
    pairs: set[tuple[str, str]] = set()
    for contrast in rows["contrast"].dropna().unique():
        members = [m for m in str(contrast).split("/") if m in set(rows["group"])]
        pairs.update(itertools.permutations(members, 2))
    return sorted(pairs)


def own_and_other_rows(
    tuned: pd.DataFrame,
) -> Iterator[tuple[str, str, pd.DataFrame, pd.DataFrame]]:
    """For each contrast pair (own, other) in `tuned`: the rows of own's model and of other's
    model, both scored by own's reward model (either may be empty when a model or reward model is
    missing). The grids the diagonal's advantage (C4) compares."""
    for own, other in _contrast_pairs(tuned):
        under = tuned[tuned["metric"] == f"reward:{own}"]
        yield own, other, under[under["group"] == own], under[under["group"] == other]


def cross_group_matrix(
    scores: pd.DataFrame,
    relative_to_base: bool = False,
    n_boot: int = N_BOOT,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Mean reward of each group's model (rows: `model_group`) under each group's reward model
    (columns: `reward_group`), per dataset and condition, pooled over seeds; with
    `relative_to_base`, minus the base model's reward under the same reward model (paired)."""
    strata = list(STRATUM_COLUMNS)
    rewards = scores[scores["metric"].str.startswith("reward:")]
    records = []
    for metric, by_metric in rewards.groupby("metric", sort=True):
        reward_group = str(metric).removeprefix("reward:")
        tuned = tuned_rows(by_metric)
        for values, rows in tuned.groupby([*strata, "group"], dropna=False, sort=True):
            key = key_columns([*strata, "model_group"], values)
            grids = [cell_means(rows)]
            base = base_grid(scores, rows, str(metric)) if relative_to_base else None
            if relative_to_base and base is not None:
                grids.append(base)
            rng = identity_generator(seed, "matrix", metric, key, relative_to_base)
            joint = (
                joint_bootstrap(grids, n_boot, rng)
                if not relative_to_base or base is not None
                else None
            )
            if joint is not None and relative_to_base:
                point, reps = (
                    joint.point[0] - joint.point[1],
                    joint.replicates[0] - joint.replicates[1],
                )
            elif joint is not None:
                point, reps = joint.point[0], joint.replicates[0]
            else:
                point, reps = math.nan, None
            reason = "no base-model samples" if relative_to_base and base is None else ""
            stats = stat_columns(point, reps, joint, confidence, reason=reason)
            records.append(key | {"reward_group": reward_group} | stats)
    return result_frame(records, [*strata, "model_group", "reward_group"])


def own_group_advantage(
    scores: pd.DataFrame,
    n_boot: int = N_BOOT,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """The diagonal's advantage: under group g's reward model, g's model minus the model of each
    group h it was contrasted with (same dataset and condition, paired by prompt and seed)."""
    strata = list(STRATUM_COLUMNS)
    tuned = tuned_rows(scores[scores["metric"].str.startswith("reward:")])
    records = []
    for values, rows in tuned.groupby(strata, dropna=False, sort=True):
        key = key_columns(strata, values)
        for own, other, rows_own, rows_other in own_and_other_rows(rows):
            metric = f"reward:{own}"
            head = key | {"reward_group": own, "other_group": other, "metric": metric}
            if rows_own.empty or rows_other.empty:
                scored = (rows["metric"] == metric).any()
                reason = "a model is missing" if scored else f"no reward model of {own!r}"
                records.append(head | stat_columns(math.nan, None, None, confidence, reason=reason))
                continue
            joint = joint_bootstrap(
                [cell_means(rows_own), cell_means(rows_other)],
                n_boot,
                identity_generator(seed, "advantage", own, other, key),
            )
            stats = stat_columns(
                joint.point[0] - joint.point[1] if joint else math.nan,
                joint.replicates[0] - joint.replicates[1] if joint else None,
                joint,
                confidence,
            )
            records.append(head | stats)
    return result_frame(records, [*strata, "reward_group", "other_group", "metric"])


def percentage_point_gaps(
    scores: pd.DataFrame,
    pairs: Sequence[tuple[str, str]],
    metrics: Sequence[str] = C8_METRICS,
    n_boot: int = N_BOOT,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """C8: for each (a, b) group pair (the ledger's: `claims.evidence.model_group_pairs`), the
    models' improvements over the base model in percent of
    the base mean, oriented so that positive is better, and their gap `gap_pp` = 100 ×
    (imp_a − imp_b) in percentage points; also the raw `difference` (mean a − mean b). The
    relative quantities are undefined when the base mean's CI includes 0."""
    strata = list(STRATUM_COLUMNS)
    records = []
    for metric in metrics:
        orientation = metric_orientation(metric)
        tuned = tuned_rows(scores[scores["metric"] == metric])
        for values, rows in tuned.groupby(strata, dropna=False, sort=True):
            key = key_columns(strata, values)
            for group_a, group_b in pairs:
                rows_a, rows_b = rows[rows["group"] == group_a], rows[rows["group"] == group_b]
                if rows_a.empty or rows_b.empty:
                    continue
                head = key | {"group_a": group_a, "group_b": group_b, "metric": metric}
                base = base_grid(scores, rows, metric)
                grids = [cell_means(rows_a), cell_means(rows_b)]
                joint = joint_bootstrap(
                    [*grids, base] if base is not None else grids,
                    n_boot,
                    identity_generator(seed, "c8", group_a, group_b, metric, key, base is not None),
                )
                if joint is None:
                    records.append(
                        head
                        | {"quantity": "difference"}
                        | stat_columns(math.nan, None, None, confidence)
                    )
                    continue
                diff = stat_columns(
                    joint.point[0] - joint.point[1],
                    joint.replicates[0] - joint.replicates[1],
                    joint,
                    confidence,
                )
                records.append(head | {"quantity": "difference"} | diff)
                if base is None:
                    continue
                low, high = percentile_interval(joint.replicates[2], confidence)
                base_ok = bool(np.isfinite(low) and (low > 0 or high < 0))
                reason = "" if base_ok else "the base model's mean CI includes 0"
                with np.errstate(divide="ignore", invalid="ignore"):
                    point = orientation * (joint.point[:2] - joint.point[2]) / abs(joint.point[2])
                    reps = (
                        orientation
                        * (joint.replicates[:2] - joint.replicates[2])
                        / np.abs(joint.replicates[2])
                    )
                for index, quantity in enumerate(
                    ("improvement_a_percent", "improvement_b_percent")
                ):
                    stats = stat_columns(
                        100 * point[index], 100 * reps[index], joint, confidence, base_ok, reason
                    )
                    records.append(head | {"quantity": quantity} | stats)
                with np.errstate(invalid="ignore"):  # inf − inf where a base draw was 0
                    gap_reps = 100 * (reps[0] - reps[1])
                stats = stat_columns(
                    100 * (point[0] - point[1]),
                    gap_reps,
                    joint,
                    confidence,
                    base_ok,
                    reason,
                )
                records.append(head | {"quantity": "gap_pp"} | stats)
    return result_frame(records, [*strata, "group_a", "group_b", "metric", "quantity"])


# --------------------------------------------------------------------------------------------
# C4: do group models differ beyond chance? (permutation tests)


def group_difference_tests(
    scores: pd.DataFrame,
    metrics: Iterable[str] | None = None,
    n_perm: int = N_PERMUTATIONS,
    n_boot: int = N_BOOT,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """C4: for every contrast (pair of groups trained in the same dataset and condition) and
    metric, do the group models differ beyond chance?

    One model per group: a sign-flip test over prompts on the per-prompt difference of the two
    models (chance = which samples the models happened to draw; training-seed variation is not
    part of it, so the test speaks to these two models). Several models per group (seeds): the
    group labels are permuted among the models, so seed-to-seed variation is part of chance.
    `value` is mean(a) − mean(b) with a bootstrap CI; `p_holm` adjusts across the whole table.
    """
    strata = list(STRATUM_COLUMNS)
    records = []
    for metric in metrics or default_metrics(scores):
        tuned = tuned_rows(scores[scores["metric"] == metric])
        for values, rows in tuned.groupby(strata, dropna=False, sort=True):
            key = key_columns(strata, values)
            for group_a, group_b in _contrast_pairs(rows):
                if group_a > group_b:
                    continue
                rows_a, rows_b = rows[rows["group"] == group_a], rows[rows["group"] == group_b]
                head = key | {"group_a": group_a, "group_b": group_b, "metric": metric}
                rng = identity_generator(seed, "c4", group_a, group_b, metric, key)
                joint = joint_bootstrap([cell_means(rows_a), cell_means(rows_b)], n_boot, rng)
                stats = stat_columns(
                    joint.point[0] - joint.point[1] if joint else math.nan,
                    joint.replicates[0] - joint.replicates[1] if joint else None,
                    joint,
                    confidence,
                )
                models_a = rows_a.groupby(["model", "prompt_id"])["score"].mean().unstack()
                models_b = rows_b.groupby(["model", "prompt_id"])["score"].mean().unstack()
                prompts = sorted(set(models_a.columns) & set(models_b.columns))
                models_a, models_b = models_a[prompts], models_b[prompts]
                if len(models_a) == 1 and len(models_b) == 1:
                    test = sign_flip_test(
                        models_a.to_numpy()[0] - models_b.to_numpy()[0], n_perm, rng
                    )
                    method = "sign flip over prompts (one model per group)"
                else:
                    test = label_permutation_test(
                        models_a.mean(axis=1).to_numpy(),
                        models_b.mean(axis=1).to_numpy(),
                        n_perm,
                        rng,
                    )
                    method = "group labels permuted among models"
                records.append(
                    head
                    | {
                        "n_models_a": len(models_a),
                        "n_models_b": len(models_b),
                        "p_value": test["p_value"],
                        "min_p": test["min_p"],
                        "permutations": test["permutations"],
                        "exact": test["exact"],
                        "method": method,
                    }
                    | stats
                )
    frame = result_frame(records, [*strata, "group_a", "group_b", "metric"])
    frame["p_holm"] = holm(frame["p_value"].to_numpy()) if len(frame) else []
    return frame
