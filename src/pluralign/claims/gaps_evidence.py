"""Chapter 02's verdicts on the rating-gap claims (C1–C3), by the ledger's one engine.

Each rating-gap claim in `claims.yml` names its `dimension`, its `contrast` (the groups, in the
claim's orientation) and the paper's value; this module finds that row in a `rating_gaps` table,
judges it with the claim's rule (`rules.apply_rule`) and glues it under the ledger's keys, so
chapter 2 and chapter 7 give the same verdict in the same words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
from myst_nb import glue

from pluralign.claims.ledger import NOT_TESTABLE, Claim, Ledger, load_ledger
from pluralign.claims.rules import apply_rule
from pluralign.gaps.contrasts import contrast_between
from pluralign.gaps.plots import PaperValue

#: The chapter whose evidence this module judges, as the ledger names it.
RATING_GAPS = "02_rating_gaps"
#: The ledger's fields chapter 2 glues as numbers, and the verdict table's column of each.
GLUED_NUMBERS = {"value": "relative_gap", "ci_low": "ci_low", "ci_high": "ci_high"}
#: The columns of `rating_gap_claims`' table, in order.
VERDICT_COLUMNS = (
    "claim",
    "dataset",
    "dimension",
    "contrast",
    "group_a",
    "group_b",
    "paper_value",
    "relative_gap",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "paper_value_in_ci",
    "verdict",
    "reason",
    "simulated",
)


def gap_claims(ledger: Ledger) -> list[Claim]:
    """The ledger's rating-gap claims: those chapter 2 gives evidence on, with a dimension (the
    rating datasets' own published findings are `replication`'s, not these)."""
    return [
        claim
        for claim in ledger.claims
        if claim.evidence_in(RATING_GAPS) is not None
        and claim.dimension is not None
        and claim.source != "original-paper"
    ]


def paper_values(ledger: Ledger | None = None) -> list[PaperValue]:
    """The paper's value of each rating-gap claim, for the forest plot's diamonds."""
    return [
        PaperValue(
            claim.id,
            claim.dimension or "",
            claim.contrast.group_a,
            claim.contrast.group_b,
            claim.paper_value,
        )
        for claim in gap_claims(ledger or load_ledger())
        if claim.contrast is not None and claim.paper_value is not None
    ]


def gap_verdict(claim: Claim, gaps: pd.DataFrame, dataset: str) -> dict[str, Any]:
    """One claim on one dataset's `rating_gaps` table: the gap, its interval and p-values, the
    ledger's verdict and why, or "not testable" with the reason the table gives."""
    assert claim.contrast is not None and claim.dimension is not None
    group_a, group_b = claim.contrast.group_a, claim.contrast.group_b
    contrast = contrast_between(group_a, group_b)
    row: dict[str, Any] = {
        "claim": claim.id,
        "dataset": dataset,
        "dimension": claim.dimension,
        "contrast": contrast.name if contrast else f"{group_a} vs {group_b}",
        "group_a": group_a,
        "group_b": group_b,
        "paper_value": claim.paper_value,
        **dict.fromkeys(("relative_gap", "ci_low", "ci_high", "p_value", "p_adjusted"), math.nan),
        "paper_value_in_ci": None,
        "verdict": NOT_TESTABLE,
    }
    on_dimension = gaps[gaps["dimension"] == claim.dimension]
    groups = (on_dimension["group_a"] == group_a) & (on_dimension["group_b"] == group_b)
    match = on_dimension[groups]
    if on_dimension.empty:
        return {**row, "reason": f"{dataset} has no {claim.dimension} ratings"}
    if match.empty:
        return {**row, "reason": f"chapter 2 does not compare {group_a} with {group_b} raters"}
    found = match.iloc[0]
    if found["status"] != "reported":
        return {**row, "reason": str(found["note"])}
    for column in ("relative_gap", "ci_low", "ci_high", "p_value", "p_adjusted"):
        row[column] = float(found[column])
    values = {"value": row["relative_gap"], "ci_low": row["ci_low"], "ci_high": row["ci_high"]}
    row["verdict"], _ = apply_rule(claim.rule, values, claim.paper_value, claim.show)
    # the chapter's reason states the numbers the verdict rests on; chapter 7 adds the rule's words
    row["reason"] = (
        f"{claim.show(row['relative_gap'])} (95% CI {claim.show(row['ci_low'])} to "
        f"{claim.show(row['ci_high'])}) vs the paper's {claim.show(claim.paper_value)}"
    )
    if claim.paper_value is not None:
        row["paper_value_in_ci"] = bool(row["ci_low"] <= claim.paper_value <= row["ci_high"])
    return row


def gap_verdicts(
    gaps_by_dataset: Mapping[str, pd.DataFrame],
    simulated: Mapping[str, bool],
    ledger: Ledger | None = None,
) -> pd.DataFrame:
    """Every rating-gap claim on every dataset (dataset by dataset), columns `VERDICT_COLUMNS`;
    simulated datasets are marked."""
    claims = gap_claims(ledger or load_ledger())
    rows = [
        {**gap_verdict(claim, gaps, dataset), "simulated": bool(simulated.get(dataset, False))}
        for dataset, gaps in gaps_by_dataset.items()
        for claim in claims
    ]
    return pd.DataFrame(rows, columns=list(VERDICT_COLUMNS))


def verdict_sentence(verdicts: pd.DataFrame, claim: str) -> str:
    """One sentence per claim: its verdict on each real dataset, then on simulated ones (which
    only check that the pipeline recovers what was planted)."""
    rows = verdicts[verdicts["claim"] == claim]
    real = [
        f"{row.verdict} on {row.dataset} ({row.reason})"
        for row in rows.itertuples()
        if not row.simulated
    ]
    planted = [f"{row.dataset}: {row.reason}" for row in rows.itertuples() if row.simulated]
    text = "; ".join(real) if real else "no real dataset was analysed"
    if planted:
        text += (
            ". Simulated, planted at the paper's value (a check of the pipeline, not evidence): "
        )
        text += "; ".join(planted)
    return text + "."


def rating_gap_claims(
    gaps_by_dataset: Mapping[str, pd.DataFrame],
    simulated: Mapping[str, bool],
    ledger: Ledger | None = None,
) -> pd.DataFrame:
    """Chapter 2's verdicts (`gap_verdicts`), glued: per claim its sentence (`verdict-<claim>`),
    and per claim and dataset the keys the ledger declares (value, interval, verdict, reason).
    Returns the verdict table."""
    ledger = ledger or load_ledger()
    verdicts = gap_verdicts(gaps_by_dataset, simulated, ledger)
    for claim in gap_claims(ledger):
        glue(f"verdict-{claim.id}", verdict_sentence(verdicts, claim.id), display=False)
    for row in verdicts.itertuples():
        evidence = ledger.claim(row.claim).evidence_in(RATING_GAPS)
        assert evidence is not None
        glue(evidence.key("verdict", row.dataset), str(row.verdict), display=False)
        glue(evidence.key("reason", row.dataset), str(row.reason), display=False)
        for field, column in GLUED_NUMBERS.items():
            glue(evidence.key(field, row.dataset), float(getattr(row, column)), display=False)
    return verdicts


def discrimination_gap_counts(patterns: pd.DataFrame) -> dict[str, dict[str, int]]:
    """P1's evidence per dataset, glued under the ledger's keys (`p1-<dataset>-value`, `-n`): how
    many of its reported contrasts differ in discrimination (alone or with a level difference),
    out of all of them. `patterns` is `gaps.report.pattern_table` (datasets × patterns)."""
    counts = {}
    for dataset, row in patterns.iterrows():
        value = int(row[["discrimination", "both"]].sum())
        total = int(row.sum())
        glue(f"p1-{dataset}-value", value, display=False)
        glue(f"p1-{dataset}-n", total, display=False)
        counts[str(dataset)] = {"value": value, "n": total}
    return counts
