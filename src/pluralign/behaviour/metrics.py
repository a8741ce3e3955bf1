"""Statistics of model behaviour for chapters 05 and 06: pure, seeded functions on the tidy score
table of `collect_behaviour` (columns `TABLE_COLUMNS`; see `pluralign.behaviour.collect`).

Units and uncertainty. A model's samples of one prompt are averaged first, so the unit is a
(seed, prompt) cell. Every estimate is a mean over cells, and its CI is a percentile bootstrap that
resamples prompts and seeds (crossed: the same prompt and seed draws for every model in a
comparison). Models compared with each other or with the base model are aligned on the seeds and
prompts they share, so differences are paired by prompt and seed: a tuned model and its base with
the same seed even draw the same sampling noise for the same prompt and sample. With one seed per
model, the CI reflects prompts and sampling only, not training-seed variation. Each comparison's
random draws depend only on `seed` and the comparison's identity, so adding models to the table
does not change other results.

Every result is a tidy table with `value`, `ci_low`, `ci_high`, `n` (seed × prompt cells),
`n_prompts`, `n_seeds`, `defined` and `reason`. A relative quantity whose denominator's CI does not
lie above zero (a toxicity reduction that may be nil, a base mean that may be zero) is reported as
undefined with the reason, never as a huge or sign-flipped percentage.

This module is the common core: the bootstrap engine, the result columns and the per-model tables
(means, differences from the base model, toxicity reductions). Comparisons of training conditions
(C5, C6, C7) are in `pluralign.behaviour.conditions`, of group models (C4, C8) in
`pluralign.behaviour.groups`; intervals, tests and seeds come from `pluralign.stats`.

Readings of the claims (assumptions, stated where the book uses them; DESIGN.md §1):

- toxicity reduction = (tox(base) − tox(model)) / tox(base) on the same prompts and scorer;
- "X% greater reduction" (C5, C6) = (red_a − red_b) / red_b;
- C8's "percentage points" = the gap between two group models' improvements over the base model,
  each in percent of the base mean: 100 × (imp_a − imp_b), imp = ±(model − base) / |base| oriented
  so that positive is better (lower toxicity, higher emotional awareness).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pluralign.pairs.build import orientation
from pluralign.stats.intervals import CONFIDENCE, percentile_interval
from pluralign.stats.seeds import identity_generator

N_BOOT = 2000
#: Columns that identify a model's training condition (pooled over seeds).
CONDITION_COLUMNS = ("dataset", "group", "scale", "aggregation", "values", "optimiser")
#: The condition without the group: the strata inside which group models are compared.
STRATUM_COLUMNS = ("dataset", "scale", "aggregation", "values", "optimiser")
STAT_COLUMNS = ["value", "ci_low", "ci_high", "n", "n_prompts", "n_seeds", "defined", "reason"]
BASE = "base"
TUNED = "tuned"


def metric_orientation(metric: str) -> float:
    """+1 where higher is better, −1 where lower is (toxicity; predicted toxicity and bias)."""
    dimension = metric.rsplit(":", 1)[-1] if metric.startswith("rating:") else metric
    return orientation(dimension)


def default_metrics(scores: pd.DataFrame, ratings: bool = False) -> list[str]:
    """The table's metrics: toxicity, emotional awareness and each group's reward (and, with
    `ratings`, each reward model's predicted rating per dimension)."""
    metrics = sorted(scores["metric"].unique())
    return [m for m in metrics if ratings or not str(m).startswith("rating:")]


# --------------------------------------------------------------------------------------------
# the bootstrap engine


def cell_means(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean score per (seed, prompt) over samples (and over models that share a seed): a grid
    with seeds as the index and prompt ids as the columns."""
    return rows.pivot_table(index="seed", columns="prompt_id", values="score", aggfunc="mean")


@dataclass(frozen=True)
class Joint:
    """Point estimates and bootstrap replicates of several aligned grids' means."""

    point: np.ndarray  # (grids,)
    replicates: np.ndarray  # (grids, n_boot)
    n_prompts: int
    n_seeds: int

    @property
    def n(self) -> int:
        return self.n_prompts * self.n_seeds


def joint_bootstrap(
    grids: Sequence[pd.DataFrame], n_boot: int, rng: np.random.Generator
) -> Joint | None:
    """Means of each grid over the seeds and prompts all grids share, and their bootstrap
    replicates (one draw of seeds and prompts per replicate, the same for every grid); None when
    the grids share no seed or no prompt."""
    seeds = sorted(set.intersection(*(set(grid.index) for grid in grids)))
    prompts = sorted(set.intersection(*(set(grid.columns) for grid in grids)))
    if not seeds or not prompts:
        return None
    values = np.stack([grid.loc[seeds, prompts].to_numpy(dtype=np.float64) for grid in grids])
    point = np.nanmean(values, axis=(1, 2))
    seed_draws = rng.integers(0, len(seeds), size=(n_boot, len(seeds)))
    prompt_draws = rng.integers(0, len(prompts), size=(n_boot, len(prompts)))
    drawn = values[:, seed_draws[:, :, None], prompt_draws[:, None, :]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a draw of only empty cells: NaN
        replicates = np.nanmean(drawn, axis=(2, 3))
    return Joint(point, replicates, len(prompts), len(seeds))


def stat_columns(
    value: float,
    replicates: np.ndarray | None,
    joint: Joint | None,
    confidence: float,
    defined: bool = True,
    reason: str = "",
) -> dict[str, Any]:
    """One result's statistics columns (`STAT_COLUMNS`): NaN value and interval where the result
    is undefined, no interval from a single prompt, and the reason either way."""
    if joint is None:
        return {
            "value": math.nan,
            "ci_low": math.nan,
            "ci_high": math.nan,
            "n": 0,
            "n_prompts": 0,
            "n_seeds": 0,
            "defined": False,
            "reason": reason or "no seed and prompt in common",
        }
    low, high = (
        percentile_interval(replicates, confidence) if replicates is not None else (math.nan,) * 2
    )
    if joint.n_prompts < 2 and defined:
        low, high = math.nan, math.nan
        reason = reason or "one prompt: no interval"
    if not defined:
        value, low, high = math.nan, math.nan, math.nan
    return {
        "value": float(value),
        "ci_low": low,
        "ci_high": high,
        "n": joint.n,
        "n_prompts": joint.n_prompts,
        "n_seeds": joint.n_seeds,
        "defined": bool(defined),
        "reason": reason,
    }


def interval_above_zero(replicates: np.ndarray, confidence: float) -> bool:
    """Whether the replicates' percentile interval lies above 0 (a usable denominator)."""
    low, _ = percentile_interval(replicates, confidence)
    return bool(np.isfinite(low) and low > 0)


def key_columns(by: Sequence[str], values: Any) -> dict[str, Any]:
    """A groupby key as {column: value} (a single column's key is not a tuple)."""
    values = values if isinstance(values, tuple) else (values,)
    return dict(zip(by, values, strict=True))


def tuned_rows(scores: pd.DataFrame) -> pd.DataFrame:
    """The rows of tuned models (not the base model)."""
    return scores[scores["kind"] == TUNED]


def base_grid(scores: pd.DataFrame, rows: pd.DataFrame, metric: str) -> pd.DataFrame | None:
    """The base model's grid for `rows` (same dataset, same base model, the metric)."""
    base = scores[
        (scores["kind"] == BASE)
        & (scores["metric"] == metric)
        & scores["dataset"].isin(rows["dataset"].unique())
        & scores["base_key"].isin(rows["base_key"].unique())
    ]
    return cell_means(base) if not base.empty else None


def descriptor_columns(rows: pd.DataFrame, by: Sequence[str]) -> dict[str, Any]:
    """Columns constant within `rows` (model label, kind, condition) besides the `by` columns."""
    extra: dict[str, Any] = {}
    for column in ("label", "kind", "base_key", *CONDITION_COLUMNS, "contrast", "seed"):
        if column in by or column not in rows:
            continue
        values = rows[column].dropna().unique()
        if len(values) == 1:
            extra[column] = values[0]
    return extra


def result_frame(records: list[dict[str, Any]], leading: Sequence[str]) -> pd.DataFrame:
    """A result table: the `leading` key columns, then descriptors, then `STAT_COLUMNS`."""
    if not records:
        return pd.DataFrame(columns=[*leading, *STAT_COLUMNS])
    frame = pd.DataFrame.from_records(records)
    rest = [c for c in frame.columns if c not in leading and c not in STAT_COLUMNS]
    return frame[[*[c for c in leading if c in frame], *rest, *STAT_COLUMNS]]


# --------------------------------------------------------------------------------------------
# means and differences from the base model


def means(
    scores: pd.DataFrame,
    metrics: Iterable[str] | None = None,
    by: Sequence[str] = ("model",),
    n_boot: int = N_BOOT,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Mean score per cell of `by` (within each dataset) and metric, with a bootstrap CI over
    prompts and seeds. `by=("model",)`: each model, base included; `by=CONDITION_COLUMNS`: each
    condition pooled over seeds (base rows form the condition `group == "base"`)."""
    keys = ["dataset", *[c for c in by if c != "dataset"]]
    records = []
    for metric in metrics or default_metrics(scores):
        subset = scores[scores["metric"] == metric]
        for values, rows in subset.groupby(keys, dropna=False, sort=True):
            key = key_columns(keys, values)
            joint = joint_bootstrap(
                [cell_means(rows)], n_boot, identity_generator(seed, "mean", metric, key)
            )
            stats = stat_columns(
                joint.point[0] if joint else math.nan,
                joint.replicates[0] if joint else None,
                joint,
                confidence,
            )
            records.append(key | descriptor_columns(rows, keys) | {"metric": metric} | stats)
    return result_frame(records, [*keys, "metric"])


def base_differences(
    scores: pd.DataFrame,
    metrics: Iterable[str] | None = None,
    by: Sequence[str] = ("model",),
    n_boot: int = N_BOOT,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Tuned − base mean per cell of `by` and metric, paired by prompt and seed (the base model
    answered the same prompts with the same seeds), with a bootstrap CI."""
    keys = ["dataset", *[c for c in by if c != "dataset"]]
    records = []
    for metric in metrics or default_metrics(scores):
        subset = tuned_rows(scores[scores["metric"] == metric])
        for values, rows in subset.groupby(keys, dropna=False, sort=True):
            key = key_columns(keys, values)
            base = base_grid(scores, rows, metric)
            joint = (
                joint_bootstrap(
                    [cell_means(rows), base],
                    n_boot,
                    identity_generator(seed, "base-diff", metric, key),
                )
                if base is not None
                else None
            )
            stats = stat_columns(
                joint.point[0] - joint.point[1] if joint else math.nan,
                joint.replicates[0] - joint.replicates[1] if joint else None,
                joint,
                confidence,
                reason="" if base is not None else "no base-model samples",
            )
            records.append(key | descriptor_columns(rows, keys) | {"metric": metric} | stats)
    return result_frame(records, [*keys, "metric"])


def toxicity_reductions(
    scores: pd.DataFrame,
    by: Sequence[str] = ("model",),
    metric: str = "toxicity",
    n_boot: int = N_BOOT,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """(tox_base − tox_model) / tox_base per cell of `by`, paired by prompt and seed, with a
    bootstrap CI; undefined when the base model's mean toxicity CI does not lie above zero."""
    keys = ["dataset", *[c for c in by if c != "dataset"]]
    records = []
    subset = tuned_rows(scores[scores["metric"] == metric])
    for values, rows in subset.groupby(keys, dropna=False, sort=True):
        key = key_columns(keys, values)
        base = base_grid(scores, rows, metric)
        joint = (
            joint_bootstrap(
                [base, cell_means(rows)], n_boot, identity_generator(seed, "reduction", metric, key)
            )
            if base is not None
            else None
        )
        if joint is None:
            stats = stat_columns(math.nan, None, None, confidence, reason="no base-model samples")
        else:
            defined = interval_above_zero(joint.replicates[0], confidence)
            with np.errstate(divide="ignore", invalid="ignore"):
                reps = (joint.replicates[0] - joint.replicates[1]) / joint.replicates[0]
            stats = stat_columns(
                (joint.point[0] - joint.point[1]) / joint.point[0] if defined else math.nan,
                reps,
                joint,
                confidence,
                defined=defined,
                reason="" if defined else "the base model's mean CI does not lie above 0",
            )
        records.append(key | descriptor_columns(rows, keys) | {"metric": metric} | stats)
    return result_frame(records, [*keys, "metric"])
