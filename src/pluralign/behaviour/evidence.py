"""One number per claim and dataset for the ledger (chapters 05 and 06), from the tidy score table
of `collect_behaviour`, each with its bootstrap CI over prompts and seeds and, where it cannot be
computed, the reason. The per-contrast and per-condition tables live in `metrics`; these functions
pool or select from them the single value a claim is judged on, and say which."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from pluralign import claims
from pluralign.behaviour import metrics
from pluralign.behaviour.metrics import (
    CONFIDENCE,
    N_BOOT,
    cell_means,
    interval,
    joint_bootstrap,
    metric_orientation,
)
from pluralign.data.loaders import is_simulated

#: Why a design comparison has no value, and how to get one.
MISSING_DESIGN_RUNS = (
    "the runs this comparison needs are not in the run store "
    "(`pluralign sweep --profile design`, then `pluralign behaviour --profile design`)"
)
#: The default condition: the quick profile's group runs and the reference of C5-C7.
DEFAULT_CONDITION = {
    "scale": "5pt",
    "aggregation": "preserve",
    "values": "multi",
    "optimiser": "dpo",
}


def evidence(value: float, low: float, high: float, reason: str = "", **extra: Any) -> dict:
    """A claim's evidence record: plain floats (NaN when undefined) and the reason if undefined."""
    return {
        "value": float(value),
        "ci_low": float(low),
        "ci_high": float(high),
        "defined": bool(np.isfinite(value)) and not reason,
        "reason": reason,
        **extra,
    }


def not_available(reason: str) -> dict:
    return evidence(math.nan, math.nan, math.nan, reason)


def in_condition(
    scores: pd.DataFrame, dataset: str | None = None, **condition: str
) -> pd.DataFrame:
    """The tuned rows in `condition` (default `DEFAULT_CONDITION`) and the base rows, of one
    dataset or (`dataset=None`) of all."""
    wanted = {**DEFAULT_CONDITION, **condition}
    rows = scores if dataset is None else scores[scores["dataset"] == dataset]
    tuned = rows["kind"] == metrics.TUNED
    for column, value in wanted.items():
        tuned &= rows[column] == value
    return rows[tuned | (rows["kind"] == metrics.BASE)]


def pooled_own_group_advantage(
    scores: pd.DataFrame,
    dataset: str,
    n_boot: int = N_BOOT,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> dict:
    """C4's value: under each group g's reward model, g's model minus the model of the group it
    was contrasted with, averaged over every (g, other) pair of the dataset's default condition;
    one joint bootstrap over prompts and seeds, so the pairs' errors are pooled honestly."""
    rows = in_condition(scores, dataset)
    tuned = rows[(rows["kind"] == metrics.TUNED) & rows["metric"].str.startswith("reward:")]
    grids = []
    used = []
    for own, other, own_rows, other_rows in metrics.own_and_other_rows(tuned):
        if own_rows.empty or other_rows.empty:
            continue
        grids += [cell_means(own_rows), cell_means(other_rows)]
        used.append(f"{own} vs {other}")
    if not grids:
        return not_available(f"{dataset}: no pair of group models with reward models")
    rng = np.random.default_rng([seed, 4])
    joint = joint_bootstrap(grids, n_boot, rng)
    if joint is None:
        return not_available(f"{dataset}: the group models share no prompt and seed")
    point = float(np.mean(joint.point[0::2] - joint.point[1::2]))
    replicates = np.mean(joint.replicates[0::2] - joint.replicates[1::2], axis=0)
    low, high = interval(replicates, confidence)
    return evidence(point, low, high, pairs=used, n_prompts=joint.n_prompts, n_seeds=joint.n_seeds)


def percentage_point_gap(
    scores: pd.DataFrame,
    dataset: str,
    better: str,
    baseline: str,
    metric_names: tuple[str, ...] = metrics.C8_METRICS,
    n_boot: int = N_BOOT,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> dict:
    """C8's value: the `better` group's model's improvement over the base model minus the
    `baseline` group's, each in percent of the base mean and oriented so positive is better,
    averaged over the metrics both models were scored on (one joint bootstrap); a metric whose
    base mean's CI includes 0 is left out and named in `left_out`."""
    rows = in_condition(scores, dataset)
    grids: list[pd.DataFrame] = []
    signs: list[float] = []
    present = []
    for metric in metric_names:
        by_metric = rows[rows["metric"] == metric]
        parts = [
            by_metric[(by_metric["kind"] == metrics.TUNED) & (by_metric["group"] == better)],
            by_metric[(by_metric["kind"] == metrics.TUNED) & (by_metric["group"] == baseline)],
            by_metric[by_metric["kind"] == metrics.BASE],
        ]
        if any(part.empty for part in parts):
            continue
        grids += [cell_means(part) for part in parts]
        signs.append(metric_orientation(metric))
        present.append(metric)
    if not present:
        return not_available(
            f"{dataset}: no {better} and {baseline} models in the default condition"
        )
    joint = joint_bootstrap(grids, n_boot, np.random.default_rng([seed, 8]))
    if joint is None:
        return not_available(f"{dataset}: the models share no prompt and seed")
    # a percentage of a base mean that may be zero means nothing: such a metric is left out
    kept = []
    for index in range(len(present)):
        low, high = interval(joint.replicates[3 * index + 2], confidence)
        if np.isfinite(low) and (low > 0 or high < 0):
            kept.append(index)
    dropped = [present[index] for index in range(len(present)) if index not in kept]
    if not kept:
        return not_available(f"{dataset}: every base-model mean's CI includes 0")

    def gap(values: np.ndarray) -> np.ndarray:
        parts = []
        for index in kept:
            a, b, base = values[3 * index], values[3 * index + 1], values[3 * index + 2]
            with np.errstate(divide="ignore", invalid="ignore"):  # a bootstrap draw of base 0
                parts.append(100 * signs[index] * (a - b) / np.abs(base))
        with np.errstate(invalid="ignore"):
            return np.mean(parts, axis=0)

    point = float(gap(joint.point))
    low, high = interval(gap(joint.replicates), confidence)
    return evidence(
        point,
        low,
        high,
        metrics=[present[index] for index in kept],
        left_out=dropped,
        n_prompts=joint.n_prompts,
    )


def ratio_evidence(ratios: pd.DataFrame, dataset: str, stratum: dict[str, str]) -> dict:
    """C5/C6's value: the `ratio` row of `metrics.reduction_ratios` for the dataset's stratum."""
    if ratios.empty:
        return not_available(f"{dataset}: {MISSING_DESIGN_RUNS}")
    rows = ratios[(ratios["dataset"] == dataset) & (ratios["quantity"] == "ratio")]
    for column, value in stratum.items():
        if column in rows:
            rows = rows[rows[column] == value]
    if rows.empty:
        return not_available(f"{dataset}: {MISSING_DESIGN_RUNS}")
    row = rows.iloc[0]
    if not bool(row["defined"]):
        return not_available(f"{dataset}: {row['reason']}")
    return evidence(row["value"], row["ci_low"], row["ci_high"])


def optimiser_evidence(comparison: pd.DataFrame, dataset: str, metric: str) -> dict:
    """C7's value: DPO − GRPO on `metric` (oriented so positive favours DPO) in the default
    condition, from `metrics.optimiser_comparison`."""
    if comparison.empty:
        return not_available(
            f"{dataset}: no condition has both DPO and GRPO runs; {MISSING_DESIGN_RUNS}"
        )
    rows = comparison[(comparison["dataset"] == dataset) & (comparison["metric"] == metric)]
    for column in ("scale", "aggregation", "values"):
        if column in rows:
            rows = rows[rows[column] == DEFAULT_CONDITION[column]]
    if rows.empty:
        return not_available(
            f"{dataset}: no DPO and GRPO runs in the default condition scored on {metric}"
        )
    row = rows.iloc[0]
    sign = metric_orientation(metric)
    low, high = sorted((sign * row["ci_low"], sign * row["ci_high"]))
    return evidence(sign * row["value"], low, high, metric=metric)


def missing_runs_note(profile: str, absent: list[str]) -> str:
    """A sentence naming the runs a chapter lacks and the command that makes them."""
    if not absent:
        return f"Every run of the `{profile}` profile is in the run store."
    shown = ", ".join(f"`{label}`" for label in absent[:6])
    more = f" and {len(absent) - 6} more" if len(absent) > 6 else ""
    return (
        f"{len(absent)} runs of the `{profile}` profile are not in the run store ({shown}{more}); "
        f"`pluralign sweep --profile {profile}` trains them and `pluralign behaviour --profile "
        f"{profile}` samples and scores them."
    )


def glue_claim(claim: str, dataset: str, record: dict) -> None:
    """Glue a claim's evidence under the ledger's keys (`<claim>-<dataset>-value`, `-ci_low`,
    `-ci_high`), or, when it is undefined, `-reason` and `-verdict` = "not testable"."""
    from myst_nb import glue

    prefix = f"{claim.lower()}-{dataset}"
    if is_testable(record):
        for field in ("value", "ci_low", "ci_high"):
            glue(f"{prefix}-{field}", float(record[field]), display=False)
    else:
        glue(f"{prefix}-reason", untestable_reason(record), display=False)
        glue(f"{prefix}-verdict", "not testable", display=False)


def is_testable(record: dict) -> bool:
    """Whether a record has a value and a finite interval for the ledger's rule to judge."""
    return bool(record["defined"]) and bool(
        np.isfinite(record["ci_low"]) and np.isfinite(record["ci_high"])
    )


def untestable_reason(record: dict) -> str:
    """Why a record cannot be judged: its own reason, or that its interval could not be made."""
    return str(record["reason"] or "the interval could not be computed (too few prompts)")


def evidence_table(
    records: dict[tuple[str, str], dict], ledger: claims.Ledger | None = None
) -> pd.DataFrame:
    """The claims' evidence as one table: value and interval, the paper's value, and the verdict
    and reason by the ledger's own rule (`claims.verdict_for`), so a chapter says where its numbers
    support or contradict the paper exactly as chapter 7 will."""
    ledger = ledger or claims.load_ledger()
    rows = []
    for (claim, dataset), record in records.items():
        if is_testable(record):
            verdict, reason = claims.verdict_for(
                claim, record["value"], record["ci_low"], record["ci_high"], ledger=ledger
            )
        else:
            verdict, reason = claims.NOT_TESTABLE, untestable_reason(record)
        rows.append(
            {
                "claim": claim,
                "dataset": dataset,
                "simulated": is_simulated(dataset),
                "value": record["value"],
                "ci_low": record["ci_low"],
                "ci_high": record["ci_high"],
                "paper_value": ledger.claim(claim).paper_value,
                "verdict": verdict,
                "reason": reason,
            }
        )
    return pd.DataFrame(rows)


def verdict_summary(table: pd.DataFrame) -> str:
    """The verdicts of an `evidence_table` in words: on real raters' data verdict by verdict,
    contradictions first, then on simulated data, which checks the pipeline and is no evidence."""
    order = [claims.CONTRADICTED, claims.SUPPORTED, claims.INCONCLUSIVE, claims.NOT_TESTABLE]
    real = table[~table["simulated"]]
    sentences = []
    for verdict in order:
        rows = real[real["verdict"] == verdict]
        if not rows.empty:
            listed = ", ".join(f"{row.claim} on {row.dataset}" for row in rows.itertuples())
            sentences.append(f"{verdict.capitalize()} on real raters' data: {listed}.")
    if real.empty:
        sentences.append("No real raters' data is shown.")
    simulated = table[table["simulated"]]
    for dataset, rows in simulated.groupby("dataset", sort=False):
        listed = ", ".join(f"{row.claim} {row.verdict}" for row in rows.itertuples())
        sentences.append(
            f"On {dataset} (simulated: a pipeline check, not evidence about people): {listed}."
        )
    return " ".join(sentences)
