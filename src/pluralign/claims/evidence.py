"""One number per claim and dataset for the ledger (chapters 05 and 06), from the tidy score table
of `collect_behaviour`, each with its bootstrap CI over prompts and seeds and, where it cannot be
computed, the reason. The per-contrast and per-condition tables live in `behaviour.groups` and
`behaviour.conditions`; these functions pool or select from them the single value a claim is judged
on, and say which. `load_chapter_runs` is the set-up both chapters share; `group_model_claims`
(chapter 05) and `design_claims` (chapter 06) build every record a chapter owes the ledger and
glue it under the ledger's keys."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from myst_nb import glue

from pluralign import claims
from pluralign.behaviour import conditions, groups, metrics
from pluralign.behaviour.collect import RunEntry, collect_behaviour, find_runs
from pluralign.behaviour.metrics import (
    N_BOOT,
    cell_means,
    joint_bootstrap,
    metric_orientation,
)
from pluralign.behaviour.settings import BehaviourSettings, load_settings
from pluralign.data.loaders import is_simulated
from pluralign.stats.intervals import CONFIDENCE, percentile_interval
from pluralign.stats.seeds import generator
from pluralign.train.spec import RunSpec

#: The chapters whose evidence this module builds, as the ledger names them.
GROUP_MODELS = "05_group_models"
DESIGN_CHOICES = "06_design_choices"

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
#: Each design claim's comparison (the factor it varies) and the stratum it is judged in.
DESIGN_COMPARISONS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "C5": (conditions.C5, {"scale": "5pt", "optimiser": "dpo", "values": "multi"}),
    "C6": (conditions.C6, {"aggregation": "preserve", "optimiser": "dpo", "values": "multi"}),
}
#: C7's metric: the pooled raters' multi-value reward, which both optimisers' objectives share.
OPTIMISER_METRIC = "reward:all"
#: P2 is an association across a dataset's group contrasts: it needs at least this many.
MIN_ASSOCIATION_CONTRASTS = 5


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
    """An evidence record with no value, saying why."""
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
    for own, other, own_rows, other_rows in groups.own_and_other_rows(tuned):
        if own_rows.empty or other_rows.empty:
            continue
        grids += [cell_means(own_rows), cell_means(other_rows)]
        used.append(f"{own} vs {other}")
    if not grids:
        return not_available(f"{dataset}: no pair of group models with reward models")
    rng = generator(seed, 4)
    joint = joint_bootstrap(grids, n_boot, rng)
    if joint is None:
        return not_available(f"{dataset}: the group models share no prompt and seed")
    point = float(np.mean(joint.point[0::2] - joint.point[1::2]))
    replicates = np.mean(joint.replicates[0::2] - joint.replicates[1::2], axis=0)
    low, high = percentile_interval(replicates, confidence)
    return evidence(point, low, high, pairs=used, n_prompts=joint.n_prompts, n_seeds=joint.n_seeds)


def percentage_point_gap(
    scores: pd.DataFrame,
    dataset: str,
    better: str,
    baseline: str,
    metric_names: tuple[str, ...] = groups.C8_METRICS,
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
    joint = joint_bootstrap(grids, n_boot, generator(seed, 8))
    if joint is None:
        return not_available(f"{dataset}: the models share no prompt and seed")
    # a percentage of a base mean that may be zero means nothing: such a metric is left out
    kept = []
    for index in range(len(present)):
        low, high = percentile_interval(joint.replicates[3 * index + 2], confidence)
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
    low, high = percentile_interval(gap(joint.replicates), confidence)
    return evidence(
        point,
        low,
        high,
        metrics=[present[index] for index in kept],
        left_out=dropped,
        n_prompts=joint.n_prompts,
    )


def ratio_evidence(ratios: pd.DataFrame, dataset: str, stratum: dict[str, str]) -> dict:
    """C5/C6's value: the `ratio` row of `conditions.reduction_ratios` for the dataset's stratum."""
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
    condition, from `conditions.optimiser_comparison`."""
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


def glue_claim(claim: claims.Claim, dataset: str, record: dict) -> None:
    """Glue a claim's evidence on a dataset under the keys its ledger entry declares (`value`,
    `ci_low`, `ci_high`), or, when it is undefined, `reason` and `verdict` = "not testable"."""
    evidence = claim.evidence_for(dataset)
    if evidence is None:
        raise claims.ClaimsError(f"the ledger names no evidence of {claim.id} on {dataset}")
    if is_testable(record):
        for field in ("value", "ci_low", "ci_high"):
            glue(evidence.key(field, dataset), float(record[field]), display=False)
    else:
        glue(evidence.key("reason", dataset), untestable_reason(record), display=False)
        glue(evidence.key("verdict", dataset), claims.NOT_TESTABLE, display=False)


def glue_chapter_claims(
    records: dict[tuple[str, str], dict], chapter: str, ledger: claims.Ledger
) -> None:
    """Glue each record the ledger expects `chapter` to glue; a record of a dataset the ledger
    declares not testable (C8a on POPQUORN, which records no political leaning) is shown in the
    chapter's table but not glued."""
    for (claim_id, dataset), record in records.items():
        claim = ledger.claim(claim_id)
        if claim.glued_by(chapter, dataset):
            glue_claim(claim, dataset, record)


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


# --------------------------------------------------------------------------------------------
# Chapters 05 and 06: their shared set-up and the claims each owes the ledger


@dataclass(frozen=True)
class ChapterRuns:
    """A sweep profile's runs as chapters 05 and 06 start from them: the behaviour settings, the
    finished and absent runs, the tidy score table, and the rows the chapter compares (the base
    model and the default condition's runs in chapter 05, every row in chapter 06)."""

    profile: str
    datasets: list[str]
    settings: BehaviourSettings
    finished: list[RunEntry]
    absent: list[RunSpec]
    scores: pd.DataFrame
    compared: pd.DataFrame

    @property
    def tuned(self) -> pd.DataFrame:
        """The compared rows of tuned models."""
        return self.compared[self.compared["kind"] == metrics.TUNED]

    @property
    def shown_datasets(self) -> list[str]:
        """The requested datasets that have compared rows, in the order requested."""
        present = set(self.compared["dataset"])
        return [name for name in self.datasets if name in present]


def load_chapter_runs(
    sweep_profile: str, datasets: list[str], *, default_condition: bool = False
) -> ChapterRuns:
    """Collect a profile's behaviour scores (sampling and scoring only what is missing) and glue
    what the chapter's text cites: `n_models` and `n_prompts` compared, `n_samples` per prompt,
    `n_missing` runs, `missing_note` and `toxicity_scorer`. With `default_condition`, the chapter
    compares the base model and the default condition's runs (`in_condition`)."""
    settings = load_settings(sweep_profile)
    finished, absent = find_runs(sweep_profile, settings, datasets=datasets)
    scores = collect_behaviour(sweep_profile, datasets=datasets, progress=False)
    runs = ChapterRuns(
        profile=sweep_profile,
        datasets=list(datasets),
        settings=settings,
        finished=finished,
        absent=absent,
        scores=scores,
        compared=in_condition(scores) if default_condition else scores,
    )
    scorers = scores.loc[scores["metric"] == "toxicity", "scorer"].unique()
    glue("n_models", int(runs.tuned["model"].nunique()), display=False)
    glue("n_prompts", int(runs.compared["prompt_id"].nunique()), display=False)
    glue("n_samples", settings.samples, display=False)
    glue("n_missing", len(absent), display=False)
    glue("missing_note", missing_runs_note(sweep_profile, [s.label for s in absent]), display=False)
    glue("toxicity_scorer", ", ".join(sorted(scorers)), display=False)
    return runs


def model_group_pairs(ledger: claims.Ledger | None = None) -> list[tuple[str, str]]:
    """The (better, baseline) groups of every chapter-05 claim that compares two groups'
    models (C8a-c), as `claims.yml` states them."""
    ledger = ledger or claims.load_ledger()
    return [
        (claim.contrast.group_a, claim.contrast.group_b)
        for claim in ledger.claims
        if claim.evidence_in(GROUP_MODELS) is not None and claim.contrast is not None
    ]


def group_model_claims(
    runs: ChapterRuns,
    n_boot: int = N_BOOT,
    seed: int = 0,
    ledger: claims.Ledger | None = None,
) -> dict[tuple[str, str], dict]:
    """Chapter 05's evidence on every dataset it shows, glued where the ledger expects it: C4's
    pooled own-group advantage; for each claim of the chapter with a `contrast` (C8a–c), the
    percentage-point gap of its group_a's model over its group_b's; P2, not testable below
    `MIN_ASSOCIATION_CONTRASTS` contrasts. Returns the records by (claim, dataset)."""
    ledger = ledger or claims.load_ledger()
    default = runs.compared
    records: dict[tuple[str, str], dict] = {}
    for name in runs.shown_datasets:
        records[("C4", name)] = pooled_own_group_advantage(default, name, n_boot=n_boot, seed=seed)
    for claim in ledger.claims:
        if claim.evidence_in(GROUP_MODELS) is None or claim.contrast is None:
            continue
        better, baseline = claim.contrast.group_a, claim.contrast.group_b
        for name in runs.shown_datasets:
            trained = set(default.loc[default["dataset"] == name, "group"])
            records[(claim.id, name)] = (
                percentage_point_gap(default, name, better, baseline, n_boot=n_boot, seed=seed)
                if {better, baseline} <= trained
                else not_available(f"{name}: no {better} and {baseline} models in {runs.profile}")
            )
    for name in runs.shown_datasets:
        tuned = (default["dataset"] == name) & (default["kind"] == metrics.TUNED)
        contrasts = default.loc[tuned, "contrast"].nunique()
        records[("P2", name)] = not_available(
            f"{name}: {contrasts} group contrasts in {runs.profile}; an association across "
            f"contrasts needs at least {MIN_ASSOCIATION_CONTRASTS}"
        )
    glue_chapter_claims(records, GROUP_MODELS, ledger)
    return records


@dataclass(frozen=True)
class DesignClaims:
    """Chapter 06's evidence records by (claim, dataset) and the tables they were taken from:
    the toxicity-reduction ratios of each of `DESIGN_COMPARISONS` and DPO vs GRPO."""

    records: dict[tuple[str, str], dict]
    ratio_tables: dict[str, pd.DataFrame]
    optimisers: pd.DataFrame


def design_claims(
    runs: ChapterRuns,
    n_boot: int = N_BOOT,
    seed: int = 0,
    ledger: claims.Ledger | None = None,
) -> DesignClaims:
    """Chapter 06's evidence on every dataset it ran on, glued where the ledger expects it: C5
    and C6 from the reduction ratios in their strata (`DESIGN_COMPARISONS`), C7 from DPO − GRPO
    on `OPTIMISER_METRIC` in the default condition."""
    ledger = ledger or claims.load_ledger()
    ratio_tables = {
        claim: conditions.reduction_ratios(runs.scores, **factor, n_boot=n_boot, seed=seed)
        for claim, (factor, _) in DESIGN_COMPARISONS.items()
    }
    records: dict[tuple[str, str], dict] = {}
    for claim, (_, stratum) in DESIGN_COMPARISONS.items():
        for name in runs.datasets:
            records[(claim, name)] = ratio_evidence(ratio_tables[claim], name, stratum)
    optimisers = conditions.optimiser_comparison(runs.scores, n_boot=n_boot, seed=seed)
    for name in runs.datasets:
        records[("C7", name)] = optimiser_evidence(optimisers, name, OPTIMISER_METRIC)
    glue_chapter_claims(records, DESIGN_CHOICES, ledger)
    return DesignClaims(records, ratio_tables, optimisers)
