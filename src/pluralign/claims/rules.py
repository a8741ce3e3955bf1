"""The one verdict engine: a claim's rule (`RULE_KINDS`) applied to its numbers on one dataset.

Every verdict in the book comes from `apply_rule`: chapter 7's ledger, the verdicts chapters 2, 5
and 6 glue and show (through `verdict_for`), and claims.json, so a chapter and the ledger cannot
disagree about what a number means.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pluralign.claims.ledger import (
    CONTRADICTED,
    INCONCLUSIVE,
    SUPPORTED,
    VERDICTS,
    ClaimsError,
    Ledger,
    Rule,
    load_ledger,
)


def apply_rule(
    rule: Rule,
    values: Mapping[str, Any],
    paper_value: float | None,
    show: Callable[[float | None], str] = lambda value: f"{value:+.3g}",
) -> tuple[str, str]:
    """The verdict of `rule` on the glued `values` (fields → numbers), and why, in words.

    Interval bounds are inclusive: an interval that touches the null value contains it.
    """
    if rule.kind == "chapter":
        verdict = canonical_verdict(values["verdict"])
        return verdict, str(values.get("reason") or "the chapter's verdict")
    if rule.kind == "at_least":
        value = float(values["value"])
        met = value >= rule.minimum
        return (
            SUPPORTED if met else rule.otherwise,
            f"{show(value)} {'≥' if met else '<'} {show(rule.minimum)}",
        )
    low, high = float(values["ci_low"]), float(values["ci_high"])
    if low > high:
        raise ClaimsError(f"({low}, {high}) is not an interval: its low end exceeds its high end")
    interval = f"{show(values['value'])} (CI {show(low)} to {show(high)})"
    claimed_positive = rule.direction == "positive"
    if low > rule.null or high < rule.null:
        side_matches = (low > rule.null) == claimed_positive
        verdict = SUPPORTED if side_matches else CONTRADICTED
        reason = (
            f"{interval} lies {'above' if low > rule.null else 'below'} {rule.null:g}, "
            f"{'the claimed side' if side_matches else 'against the claim'}"
        )
    else:
        verdict = INCONCLUSIVE
        reason = f"{interval} contains {rule.null:g}"
    if paper_value is not None:
        inside = low <= paper_value <= high
        reason += f"; the claimed {show(paper_value)} lies {'inside' if inside else 'outside'} it"
        if rule.kind == "sign_and_size" and not inside:
            verdict = CONTRADICTED
    return verdict, reason


def verdict_for(
    claim_id: str,
    value: float,
    ci_low: float | None = None,
    ci_high: float | None = None,
    ledger: Ledger | None = None,
) -> tuple[str, str]:
    """The ledger's verdict on a claim for one dataset's numbers, and why: for chapters that glue
    a `<claim>-<dataset>-verdict`, so that it is the ledger's by construction."""
    claim = (ledger or load_ledger()).claim(claim_id)
    values = {"value": value, "ci_low": ci_low, "ci_high": ci_high}
    return apply_rule(claim.rule, values, claim.paper_value, claim.show)


def canonical_verdict(text: Any) -> str:
    """A chapter's glued verdict, which must be one of the ledger's `VERDICTS` (chapters judge
    with this module, so they speak its words); any other word is an error."""
    word = str(text).strip().lower()
    if word not in VERDICTS:
        raise ClaimsError(f"unknown verdict {text!r}: chapters glue one of {list(VERDICTS)}")
    return word


def paper_value_in_interval(paper_value: float | None, values: Mapping[str, Any]) -> bool | None:
    """Whether the paper's value lies in the glued interval (None when either is missing)."""
    if paper_value is None or "ci_low" not in values or "ci_high" not in values:
        return None
    return bool(float(values["ci_low"]) <= paper_value <= float(values["ci_high"]))
