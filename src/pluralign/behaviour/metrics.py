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

Readings of the claims (assumptions, stated where the book uses them; DESIGN.md §1):

- toxicity reduction = (tox(base) − tox(model)) / tox(base) on the same prompts and scorer;
- "X% greater reduction" (C5, C6) = (red_a − red_b) / red_b;
- C8's "percentage points" = the gap between two group models' improvements over the base model,
  each in percent of the base mean: 100 × (imp_a − imp_b), imp = ±(model − base) / |base| oriented
  so that positive is better (lower toxicity, higher emotional awareness).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pluralign.prefs import LOWER_IS_BETTER

CONFIDENCE = 0.95
N_BOOT = 2000
N_PERMUTATIONS = 10000
#: Columns that identify a model's training condition (pooled over seeds).
CONDITION_COLUMNS = ("dataset", "group", "scale", "aggregation", "values", "optimiser")
#: The condition without the group: the strata inside which group models are compared.
STRATUM_COLUMNS = ("dataset", "scale", "aggregation", "values", "optimiser")
STAT_COLUMNS = ["value", "ci_low", "ci_high", "n", "n_prompts", "n_seeds", "defined", "reason"]
#: C8: (better-claimed group, its baseline group).
C8_PAIRS = (("liberal", "conservative"), ("white", "black"), ("female", "male"))
C8_METRICS = ("toxicity", "emotional_awareness")
#: The comparisons of C5 and C6 (and single- vs multi-value training), as `reduction_ratios` keys.
C5 = {"factor": "aggregation", "a": "preserve", "b": "majority"}
C6 = {"factor": "scale", "a": "5pt", "b": "binary"}
SINGLE_VS_MULTI = {"factor": "values", "a": "toxicity", "b": "multi"}
BASE = "base"
TUNED = "tuned"


def metric_orientation(metric: str) -> float:
    """+1 where higher is better, −1 where lower is (toxicity; predicted toxicity and bias)."""
    dimension = metric.rsplit(":", 1)[-1] if metric.startswith("rating:") else metric
    return -1.0 if dimension in LOWER_IS_BETTER else 1.0


def default_metrics(scores: pd.DataFrame, ratings: bool = False) -> list[str]:
    """The table's metrics: toxicity, emotional awareness and each group's reward (and, with
    `ratings`, each reward model's predicted rating per dimension)."""
    metrics = sorted(scores["metric"].unique())
    return [m for m in metrics if ratings or not str(m).startswith("rating:")]


# --------------------------------------------------------------------------------------------
# the bootstrap engine


def _rng(seed: int, *identity: Any) -> np.random.Generator:
    """A generator that depends only on `seed` and the comparison's identity."""
    text = json.dumps([str(part) for part in identity])
    key = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng([seed, key])


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


def interval(replicates: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The percentile interval of bootstrap replicates (NaN replicates ignored)."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return math.nan, math.nan
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def _stat(
    value: float,
    replicates: np.ndarray | None,
    joint: Joint | None,
    confidence: float,
    defined: bool = True,
    reason: str = "",
) -> dict[str, Any]:
    """One result's statistics columns."""
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
    low, high = interval(replicates, confidence) if replicates is not None else (math.nan,) * 2
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


def _excludes_zero_above(replicates: np.ndarray, confidence: float) -> bool:
    low, _ = interval(replicates, confidence)
    return bool(np.isfinite(low) and low > 0)


def _key(by: Sequence[str], values: Any) -> dict[str, Any]:
    values = values if isinstance(values, tuple) else (values,)
    return dict(zip(by, values, strict=True))


def _tuned(scores: pd.DataFrame) -> pd.DataFrame:
    return scores[scores["kind"] == TUNED]


def _base_grid(scores: pd.DataFrame, rows: pd.DataFrame, metric: str) -> pd.DataFrame | None:
    """The base model's grid for `rows` (same dataset, same base model, the metric)."""
    base = scores[
        (scores["kind"] == BASE)
        & (scores["metric"] == metric)
        & scores["dataset"].isin(rows["dataset"].unique())
        & scores["base_key"].isin(rows["base_key"].unique())
    ]
    return cell_means(base) if not base.empty else None


def _descriptors(rows: pd.DataFrame, by: Sequence[str]) -> dict[str, Any]:
    """Columns constant within `rows` (model label, kind, condition) besides the `by` columns."""
    extra: dict[str, Any] = {}
    for column in ("label", "kind", "base_key", *CONDITION_COLUMNS, "contrast", "seed"):
        if column in by or column not in rows:
            continue
        values = rows[column].dropna().unique()
        if len(values) == 1:
            extra[column] = values[0]
    return extra


def _frame(records: list[dict[str, Any]], leading: Sequence[str]) -> pd.DataFrame:
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
            key = _key(keys, values)
            joint = joint_bootstrap([cell_means(rows)], n_boot, _rng(seed, "mean", metric, key))
            stats = _stat(
                joint.point[0] if joint else math.nan,
                joint.replicates[0] if joint else None,
                joint,
                confidence,
            )
            records.append(key | _descriptors(rows, keys) | {"metric": metric} | stats)
    return _frame(records, [*keys, "metric"])


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
        subset = _tuned(scores[scores["metric"] == metric])
        for values, rows in subset.groupby(keys, dropna=False, sort=True):
            key = _key(keys, values)
            base = _base_grid(scores, rows, metric)
            joint = (
                joint_bootstrap(
                    [cell_means(rows), base], n_boot, _rng(seed, "base-diff", metric, key)
                )
                if base is not None
                else None
            )
            stats = _stat(
                joint.point[0] - joint.point[1] if joint else math.nan,
                joint.replicates[0] - joint.replicates[1] if joint else None,
                joint,
                confidence,
                reason="" if base is not None else "no base-model samples",
            )
            records.append(key | _descriptors(rows, keys) | {"metric": metric} | stats)
    return _frame(records, [*keys, "metric"])


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
    subset = _tuned(scores[scores["metric"] == metric])
    for values, rows in subset.groupby(keys, dropna=False, sort=True):
        key = _key(keys, values)
        base = _base_grid(scores, rows, metric)
        joint = (
            joint_bootstrap([base, cell_means(rows)], n_boot, _rng(seed, "reduction", metric, key))
            if base is not None
            else None
        )
        if joint is None:
            stats = _stat(math.nan, None, None, confidence, reason="no base-model samples")
        else:
            defined = _excludes_zero_above(joint.replicates[0], confidence)
            with np.errstate(divide="ignore", invalid="ignore"):
                reps = (joint.replicates[0] - joint.replicates[1]) / joint.replicates[0]
            stats = _stat(
                (joint.point[0] - joint.point[1]) / joint.point[0] if defined else math.nan,
                reps,
                joint,
                confidence,
                defined=defined,
                reason="" if defined else "the base model's mean CI does not lie above 0",
            )
        records.append(key | _descriptors(rows, keys) | {"metric": metric} | stats)
    return _frame(records, [*keys, "metric"])


# --------------------------------------------------------------------------------------------
# relative comparisons of conditions (C5, C6, single vs multi) and of optimisers (C7)


def _matches(column: pd.Series, wanted: str | Sequence[str]) -> pd.Series:
    return column.isin([wanted] if isinstance(wanted, str) else list(wanted))


def _name(wanted: str | Sequence[str]) -> str:
    return wanted if isinstance(wanted, str) else "|".join(wanted)


def reduction_ratios(
    scores: pd.DataFrame,
    factor: str,
    a: str | Sequence[str],
    b: str | Sequence[str],
    metric: str = "toxicity",
    n_boot: int = N_BOOT,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """How much more `a` reduces toxicity than `b`, within strata that hold every other condition
    column fixed (pooled over seeds): rows `reduction_a`, `reduction_b`, `difference`
    (red_a − red_b) and `ratio` ((red_a − red_b) / red_b), all with bootstrap CIs.

    `ratio` is undefined (with the reason) unless red_b's CI lies above zero: a relative
    difference of reductions means nothing when the reference reduced nothing or raised toxicity.
    E.g. C5: `factor="aggregation", a="preserve", b="majority"` (see `C5`, `C6`).
    """
    strata = [c for c in CONDITION_COLUMNS if c != factor]
    tuned = _tuned(scores[scores["metric"] == metric])
    in_a, in_b = _matches(tuned[factor], a), _matches(tuned[factor], b)
    records = []
    for values, rows in tuned[in_a | in_b].groupby(strata, dropna=False, sort=True):
        key = _key(strata, values)
        rows_a, rows_b = rows[_matches(rows[factor], a)], rows[_matches(rows[factor], b)]
        if rows_a.empty or rows_b.empty:
            continue
        head = key | {"factor": factor, "a": _name(a), "b": _name(b), "metric": metric}
        base = _base_grid(scores, rows, metric)
        joint = (
            joint_bootstrap(
                [base, cell_means(rows_a), cell_means(rows_b)],
                n_boot,
                _rng(seed, "ratio", factor, a, b, metric, key),
            )
            if base is not None
            else None
        )
        if joint is None:
            reason = "no base-model samples" if base is None else ""
            for quantity in ("reduction_a", "reduction_b", "difference", "ratio"):
                stats = _stat(math.nan, None, None, confidence, reason=reason)
                records.append(head | {"quantity": quantity} | stats)
            continue
        base_ok = _excludes_zero_above(joint.replicates[0], confidence)
        with np.errstate(divide="ignore", invalid="ignore"):
            point = (joint.point[0] - joint.point[1:]) / joint.point[0]
            reps = (joint.replicates[0] - joint.replicates[1:]) / joint.replicates[0]
            ratio_point = (point[0] - point[1]) / point[1]
            ratio_reps = (reps[0] - reps[1]) / reps[1]
        base_reason = "" if base_ok else "the base model's mean CI does not lie above 0"
        for index, quantity in enumerate(("reduction_a", "reduction_b")):
            stats = _stat(point[index], reps[index], joint, confidence, base_ok, base_reason)
            records.append(head | {"quantity": quantity} | stats)
        stats = _stat(
            point[0] - point[1], reps[0] - reps[1], joint, confidence, base_ok, base_reason
        )
        records.append(head | {"quantity": "difference"} | stats)
        if not base_ok:
            reason = base_reason
        elif not _excludes_zero_above(reps[1], confidence):
            low, high = interval(reps[1], confidence)
            reason = (
                f"the reference ({_name(b)}) reduction's CI [{low:.3g}, {high:.3g}] does not lie "
                "above 0, so a relative difference of reductions is undefined"
            )
        else:
            reason = ""
        stats = _stat(ratio_point, ratio_reps, joint, confidence, not reason, reason)
        records.append(head | {"quantity": "ratio"} | stats)
    return _frame(records, [*strata, "factor", "a", "b", "metric", "quantity"])


def ratio_summary(ratios: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """`reduction_ratios` as a reader scans it: one line per dataset and stratum, with the
    conditions held fixed, both reductions, their difference and the ratio as "value [low, high]",
    and the reason where a quantity is undefined."""
    if ratios.empty:
        return pd.DataFrame()

    def shown(row: pd.Series) -> str:
        if not bool(row["defined"]) or not np.isfinite(row["value"]):
            return "undefined"
        return (
            f"{row['value']:.{digits}g} [{row['ci_low']:.{digits}g}, {row['ci_high']:.{digits}g}]"
        )

    factor, a, b = (str(ratios[column].iloc[0]) for column in ("factor", "a", "b"))
    fixed = [c for c in CONDITION_COLUMNS if c not in ("dataset", factor)]
    lines = []
    for _, rows in ratios.groupby(["dataset", *fixed], dropna=False, sort=True):
        by_quantity = rows.set_index("quantity")
        first = rows.iloc[0]
        reasons = dict.fromkeys(r for r in rows["reason"].fillna("") if r)
        lines.append(
            {
                "dataset": first["dataset"],
                "held fixed": " · ".join(str(first[c]) for c in fixed),
                f"reduction ({a})": shown(by_quantity.loc["reduction_a"]),
                f"reduction ({b})": shown(by_quantity.loc["reduction_b"]),
                "difference": shown(by_quantity.loc["difference"]),
                "ratio": shown(by_quantity.loc["ratio"]),
                "why undefined": "; ".join(reasons),
            }
        )
    return pd.DataFrame(lines)


def optimiser_comparison(
    scores: pd.DataFrame,
    a: str = "dpo",
    b: str = "grpo",
    metrics: Iterable[str] | None = None,
    n_boot: int = N_BOOT,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """C7: mean(a) − mean(b) per dimension in each condition both optimisers were run in (pooled
    over seeds, paired by prompt and seed), with `higher_is_better` and `favours` (a, b, or
    "neither" when the CI includes 0). Default metrics: all, predicted ratings included."""
    strata = [c for c in CONDITION_COLUMNS if c != "optimiser"]
    records = []
    for metric in metrics or default_metrics(scores, ratings=True):
        tuned = _tuned(scores[scores["metric"] == metric])
        tuned = tuned[tuned["optimiser"].isin([a, b])]
        orientation = metric_orientation(metric)
        for values, rows in tuned.groupby(strata, dropna=False, sort=True):
            rows_a, rows_b = rows[rows["optimiser"] == a], rows[rows["optimiser"] == b]
            if rows_a.empty or rows_b.empty:
                continue
            key = _key(strata, values)
            joint = joint_bootstrap(
                [cell_means(rows_a), cell_means(rows_b)],
                n_boot,
                _rng(seed, "optimiser", a, b, metric, key),
            )
            stats = _stat(
                joint.point[0] - joint.point[1] if joint else math.nan,
                joint.replicates[0] - joint.replicates[1] if joint else None,
                joint,
                confidence,
            )
            favours = "neither"
            if stats["defined"] and np.isfinite(stats["ci_low"]):
                if orientation * stats["ci_low"] > 0 and orientation * stats["ci_high"] > 0:
                    favours = a
                elif orientation * stats["ci_low"] < 0 and orientation * stats["ci_high"] < 0:
                    favours = b
            records.append(
                key
                | {"a": a, "b": b, "metric": metric, "higher_is_better": orientation > 0}
                | {"favours": favours}
                | stats
            )
    return _frame(records, [*strata, "a", "b", "metric"])


# --------------------------------------------------------------------------------------------
# groups: who is served by whose model


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
        tuned = _tuned(by_metric)
        for values, rows in tuned.groupby([*strata, "group"], dropna=False, sort=True):
            key = _key([*strata, "model_group"], values)
            grids = [cell_means(rows)]
            base = _base_grid(scores, rows, str(metric)) if relative_to_base else None
            if relative_to_base and base is not None:
                grids.append(base)
            rng = _rng(seed, "matrix", metric, key, relative_to_base)
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
            stats = _stat(point, reps, joint, confidence, reason=reason)
            records.append(key | {"reward_group": reward_group} | stats)
    return _frame(records, [*strata, "model_group", "reward_group"])


def own_group_advantage(
    scores: pd.DataFrame,
    n_boot: int = N_BOOT,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """The diagonal's advantage: under group g's reward model, g's model minus the model of each
    group h it was contrasted with (same dataset and condition, paired by prompt and seed)."""
    strata = list(STRATUM_COLUMNS)
    tuned = _tuned(scores[scores["metric"].str.startswith("reward:")])
    records = []
    for values, rows in tuned.groupby(strata, dropna=False, sort=True):
        key = _key(strata, values)
        for own, other, rows_own, rows_other in own_and_other_rows(rows):
            metric = f"reward:{own}"
            head = key | {"reward_group": own, "other_group": other, "metric": metric}
            if rows_own.empty or rows_other.empty:
                scored = (rows["metric"] == metric).any()
                reason = "a model is missing" if scored else f"no reward model of {own!r}"
                records.append(head | _stat(math.nan, None, None, confidence, reason=reason))
                continue
            joint = joint_bootstrap(
                [cell_means(rows_own), cell_means(rows_other)],
                n_boot,
                _rng(seed, "advantage", own, other, key),
            )
            stats = _stat(
                joint.point[0] - joint.point[1] if joint else math.nan,
                joint.replicates[0] - joint.replicates[1] if joint else None,
                joint,
                confidence,
            )
            records.append(head | stats)
    return _frame(records, [*strata, "reward_group", "other_group", "metric"])


def percentage_point_gaps(
    scores: pd.DataFrame,
    pairs: Sequence[tuple[str, str]] = C8_PAIRS,
    metrics: Sequence[str] = C8_METRICS,
    n_boot: int = N_BOOT,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """C8: for each (a, b) group pair, the models' improvements over the base model in percent of
    the base mean, oriented so that positive is better, and their gap `gap_pp` = 100 ×
    (imp_a − imp_b) in percentage points; also the raw `difference` (mean a − mean b). The
    relative quantities are undefined when the base mean's CI includes 0."""
    strata = list(STRATUM_COLUMNS)
    records = []
    for metric in metrics:
        orientation = metric_orientation(metric)
        tuned = _tuned(scores[scores["metric"] == metric])
        for values, rows in tuned.groupby(strata, dropna=False, sort=True):
            key = _key(strata, values)
            for group_a, group_b in pairs:
                rows_a, rows_b = rows[rows["group"] == group_a], rows[rows["group"] == group_b]
                if rows_a.empty or rows_b.empty:
                    continue
                head = key | {"group_a": group_a, "group_b": group_b, "metric": metric}
                base = _base_grid(scores, rows, metric)
                grids = [cell_means(rows_a), cell_means(rows_b)]
                joint = joint_bootstrap(
                    [*grids, base] if base is not None else grids,
                    n_boot,
                    _rng(seed, "c8", group_a, group_b, metric, key, base is not None),
                )
                if joint is None:
                    records.append(
                        head | {"quantity": "difference"} | _stat(math.nan, None, None, confidence)
                    )
                    continue
                diff = _stat(
                    joint.point[0] - joint.point[1],
                    joint.replicates[0] - joint.replicates[1],
                    joint,
                    confidence,
                )
                records.append(head | {"quantity": "difference"} | diff)
                if base is None:
                    continue
                low, high = interval(joint.replicates[2], confidence)
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
                    stats = _stat(
                        100 * point[index], 100 * reps[index], joint, confidence, base_ok, reason
                    )
                    records.append(head | {"quantity": quantity} | stats)
                with np.errstate(invalid="ignore"):  # inf − inf where a base draw was 0
                    gap_reps = 100 * (reps[0] - reps[1])
                stats = _stat(
                    100 * (point[0] - point[1]),
                    gap_reps,
                    joint,
                    confidence,
                    base_ok,
                    reason,
                )
                records.append(head | {"quantity": "gap_pp"} | stats)
    return _frame(records, [*strata, "group_a", "group_b", "metric", "quantity"])


# --------------------------------------------------------------------------------------------
# C4: do group models differ beyond chance? (permutation tests)


def _all_signs(count: int) -> np.ndarray:
    return np.array(list(itertools.product((1.0, -1.0), repeat=count)))


def sign_flip_test(
    differences: np.ndarray, n_perm: int = N_PERMUTATIONS, rng: np.random.Generator | None = None
) -> dict[str, Any]:
    """Two-sided test that paired per-prompt differences are centred on 0 (each prompt's sign
    flipped at random: exchangeable under "the two models write alike"). Exact when 2^P ≤
    `n_perm`, else Monte Carlo with p = (1 + hits) / (1 + n_perm)."""
    values = np.asarray(differences, dtype=np.float64)
    values = values[np.isfinite(values)]
    count = len(values)
    observed = float(values.mean()) if count else math.nan
    if count == 0:
        return {
            "statistic": observed,
            "p_value": math.nan,
            "permutations": 0,
            "exact": False,
            "min_p": math.nan,
        }
    tolerance = 1e-12 * max(1.0, float(np.abs(values).max()))
    if 2**count <= n_perm:
        signs = _all_signs(count)
        hits = int((np.abs(signs @ values / count) >= abs(observed) - tolerance).sum())
        total = len(signs)
        return {
            "statistic": observed,
            "p_value": hits / total,
            "permutations": total,
            "exact": True,
            "min_p": 2 / total,
        }
    rng = rng or np.random.default_rng(0)
    signs = rng.choice((1.0, -1.0), size=(n_perm, count))
    hits = int((np.abs(signs @ values / count) >= abs(observed) - tolerance).sum())
    return {
        "statistic": observed,
        "p_value": (1 + hits) / (1 + n_perm),
        "permutations": n_perm,
        "exact": False,
        "min_p": 1 / (1 + n_perm),
    }


def label_permutation_test(
    model_means_a: np.ndarray,
    model_means_b: np.ndarray,
    n_perm: int = N_PERMUTATIONS,
    rng: np.random.Generator | None = None,
) -> dict[str, Any]:
    """Two-sided test that two sets of models (e.g. several seeds per group) come from one
    distribution: the group labels are permuted among the models (all relabelings when there are
    at most `n_perm`), statistic = mean(a) − mean(b) of the models' means."""
    a = np.asarray(model_means_a, dtype=np.float64)
    b = np.asarray(model_means_b, dtype=np.float64)
    pooled = np.concatenate([a, b])
    total_models, size_a = len(pooled), len(a)
    observed = float(a.mean() - b.mean())
    tolerance = 1e-12 * max(1.0, float(np.abs(pooled).max()))
    combinations = math.comb(total_models, size_a)
    if combinations <= n_perm:
        chosen = np.zeros((combinations, total_models), dtype=bool)
        for row, members in enumerate(itertools.combinations(range(total_models), size_a)):
            chosen[row, list(members)] = True
        exact, total = True, combinations
    else:
        rng = rng or np.random.default_rng(0)
        order = np.argsort(rng.random((n_perm, total_models)), axis=1)
        chosen = np.zeros((n_perm, total_models), dtype=bool)
        np.put_along_axis(chosen, order[:, :size_a], True, axis=1)
        exact, total = False, n_perm
    stats = (chosen @ pooled) / size_a - (~chosen @ pooled) / (total_models - size_a)
    hits = int((np.abs(stats) >= abs(observed) - tolerance).sum())
    p_value = hits / total if exact else (1 + hits) / (1 + total)
    # the smallest attainable p: the observed labelling and its mirror image (when sizes match)
    min_p = (2 if size_a * 2 == total_models else 1) / total if exact else 1 / (1 + total)
    return {
        "statistic": observed,
        "p_value": p_value,
        "permutations": total,
        "exact": exact,
        "min_p": min_p,
    }


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN stays NaN)."""
    values = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(values, np.nan)
    finite = np.flatnonzero(np.isfinite(values))
    order = finite[np.argsort(values[finite], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, (len(order) - rank) * values[index])
        adjusted[index] = min(1.0, running)
    return adjusted


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
        tuned = _tuned(scores[scores["metric"] == metric])
        for values, rows in tuned.groupby(strata, dropna=False, sort=True):
            key = _key(strata, values)
            for group_a, group_b in _contrast_pairs(rows):
                if group_a > group_b:
                    continue
                rows_a, rows_b = rows[rows["group"] == group_a], rows[rows["group"] == group_b]
                head = key | {"group_a": group_a, "group_b": group_b, "metric": metric}
                rng = _rng(seed, "c4", group_a, group_b, metric, key)
                joint = joint_bootstrap([cell_means(rows_a), cell_means(rows_b)], n_boot, rng)
                stats = _stat(
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
    frame = _frame(records, [*strata, "group_a", "group_b", "metric"])
    frame["p_holm"] = holm(frame["p_value"].to_numpy()) if len(frame) else []
    return frame
