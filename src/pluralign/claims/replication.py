"""Chapter 02's verdicts on the rating datasets' own published findings (the ledger's claims whose
source is `original-paper`), by the ledger's one engine.

Three shapes of finding, each read from chapter 2's tables:

- a gap between two groups on a dimension (POPQUORN: Black vs White raters): the row of the gap
  table, as for C1–C3;
- the same within one kind of item (`stratum`; Annotators with Attitudes: conservative vs liberal
  raters on posts in African American English): the row of the stratified gap table, with the
  rater-group × item-type interaction from the mixed model shown beside it (a stricter reading);
- differences between countries (CREHate; `group_a` is `OTHER_COUNTRIES`): how many countries'
  raters differ from the US raters, Holm-adjusted across the countries, judged `at_least` 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
from myst_nb import glue

from pluralign.claims.gaps_evidence import RATING_GAPS
from pluralign.claims.ledger import NOT_TESTABLE, Claim, Ledger, load_ledger
from pluralign.claims.rules import apply_rule
from pluralign.gaps.contrasts import ALPHA
from pluralign.gaps.report import country_table
from pluralign.gaps.strata import interaction_row, stratum_row

#: The ledger's source id of a finding published with a rating dataset.
ORIGINAL_PAPER = "original-paper"
#: `contrast.group_a` of a claim about every country a dataset records against `group_b`.
OTHER_COUNTRIES = "other-countries"
#: The columns of `replication_verdicts`' table, in order.
REPLICATION_COLUMNS = (
    "claim",
    "dataset",
    "finding",
    "dimension",
    "groups",
    "items",
    "value",
    "ci_low",
    "ci_high",
    "n",
    "verdict",
    "reason",
    "interaction",
    "interaction_ci_low",
    "interaction_ci_high",
    "interaction_p_adjusted",
    "interaction_verdict",
)


def replication_claims_of(ledger: Ledger) -> list[Claim]:
    """The ledger's published findings of the rating datasets that chapter 2 judges."""
    return [
        claim
        for claim in ledger.claims
        if claim.source == ORIGINAL_PAPER and claim.evidence_in(RATING_GAPS) is not None
    ]


def _blank(claim: Claim, dataset: str) -> dict[str, Any]:
    assert claim.contrast is not None
    stratum = claim.stratum
    return {
        "claim": claim.id,
        "dataset": dataset,
        "finding": claim.statement,
        "dimension": claim.dimension,
        "groups": f"{claim.contrast.group_a} vs {claim.contrast.group_b}",
        "items": f"{stratum.field} = {stratum.value}" if stratum else "all",
        **dict.fromkeys(
            (
                "value",
                "ci_low",
                "ci_high",
                "n",
                "interaction",
                "interaction_ci_low",
                "interaction_ci_high",
                "interaction_p_adjusted",
            ),
            math.nan,
        ),
        "verdict": NOT_TESTABLE,
        "interaction_verdict": None,
    }


def _country_verdict(claim: Claim, gaps: pd.DataFrame, row: dict[str, Any]) -> dict[str, Any]:
    """How many countries' raters differ from the reference country's (Holm across them)."""
    assert claim.contrast is not None
    countries = country_table(gaps)
    countries = countries[
        (countries["dimension"] == claim.dimension)
        & (countries["group_b"] == claim.contrast.group_b)
    ]
    if countries.empty:
        return {**row, "n": 0, "reason": f"no country is compared with {claim.contrast.group_b}"}
    significant = countries[countries["p_holm_countries"] < ALPHA]
    value, total = len(significant), len(countries)
    verdict, _ = apply_rule(claim.rule, {"value": value}, claim.paper_value, claim.show)
    named = ", ".join(
        f"{r.group_a} {r.relative_gap:+.1%} (CI {r.ci_low:+.1%} to {r.ci_high:+.1%})"
        for r in countries.itertuples()
    )
    reason = (
        f"{value} of {total} countries differ from {claim.contrast.group_b} raters after Holm "
        f"across the countries (alpha {ALPHA:g}): {named}"
    )
    return {**row, "value": float(value), "n": float(total), "verdict": verdict, "reason": reason}


def replication_verdict(
    claim: Claim,
    gaps: pd.DataFrame,
    stratified: Mapping[str, pd.DataFrame],
    interactions: Mapping[str, pd.DataFrame],
    dataset: str,
) -> dict[str, Any]:
    """One published finding on one dataset: the book's estimate, its interval, the ledger's
    verdict and why; for a finding about one kind of item also the interaction and its verdict.
    `stratified` and `interactions` are this dataset's tables, keyed by item field."""
    assert claim.contrast is not None and claim.dimension is not None
    row = _blank(claim, dataset)
    group_a, group_b = claim.contrast.group_a, claim.contrast.group_b
    if group_a == OTHER_COUNTRIES:
        return _country_verdict(claim, gaps, row)
    if claim.stratum is None:
        match = gaps[
            (gaps["dimension"] == claim.dimension)
            & (gaps["group_a"] == group_a)
            & (gaps["group_b"] == group_b)
        ]
        found = None if match.empty else match.iloc[0]
        if found is not None and found["status"] != "reported":
            return {**row, "reason": str(found["note"])}
    else:
        field, value = claim.stratum.field, claim.stratum.value
        if field not in stratified:
            return {**row, "reason": f"chapter 2 did not stratify {dataset} by {field}"}
        found = stratum_row(stratified[field], claim.dimension, group_a, group_b, value)
    if found is None:
        return {**row, "reason": f"{dataset} does not support {group_a} vs {group_b} here"}
    for column, source in (("value", "relative_gap"), ("ci_low", "ci_low"), ("ci_high", "ci_high")):
        row[column] = float(found[source])
    values = {"value": row["value"], "ci_low": row["ci_low"], "ci_high": row["ci_high"]}
    row["verdict"], row["reason"] = apply_rule(claim.rule, values, claim.paper_value, claim.show)
    if claim.stratum is not None and claim.stratum.field in interactions:
        effect = interaction_row(
            interactions[claim.stratum.field], claim.dimension, group_a, group_b, value
        )
        if effect is not None:
            low, high = float(effect["ci_low"]), float(effect["ci_high"])
            row.update(
                interaction=float(effect["interaction"]),
                interaction_ci_low=low,
                interaction_ci_high=high,
                interaction_p_adjusted=float(effect["p_adjusted"]),
            )
            interaction = {"value": row["interaction"], "ci_low": low, "ci_high": high}
            row["interaction_verdict"], _ = apply_rule(claim.rule, interaction, None)
    return row


def replication_verdicts(
    gaps_by_dataset: Mapping[str, pd.DataFrame],
    stratified: Mapping[str, Mapping[str, pd.DataFrame]],
    interactions: Mapping[str, Mapping[str, pd.DataFrame]],
    ledger: Ledger | None = None,
) -> pd.DataFrame:
    """Every published finding on each dataset chapter 2 ran that the ledger names as its
    evidence, glued under the ledger's keys; returns the table (`REPLICATION_COLUMNS`)."""
    ledger = ledger or load_ledger()
    rows = []
    for claim in replication_claims_of(ledger):
        evidence = claim.evidence_in(RATING_GAPS)
        assert evidence is not None
        for dataset in evidence.datasets:
            if dataset not in gaps_by_dataset:
                continue
            row = replication_verdict(
                claim,
                gaps_by_dataset[dataset],
                stratified.get(dataset, {}),
                interactions.get(dataset, {}),
                dataset,
            )
            rows.append(row)
            glue(evidence.key("verdict", dataset), str(row["verdict"]), display=False)
            glue(evidence.key("reason", dataset), str(row["reason"]), display=False)
            for field in ("value", "ci_low", "ci_high", "n"):
                if field in evidence.fields and math.isfinite(row[field]):
                    glue(evidence.key(field, dataset), _number(row[field], field), display=False)
    return pd.DataFrame(rows, columns=list(REPLICATION_COLUMNS))


def _number(value: float, field: str) -> float | int:
    """A glued number as a plain Python scalar (a count as an int)."""
    return int(value) if field == "n" else float(value)
