"""Assessment: the verdict on each claim and dataset from the executed chapters of a build.

A broken link between the ledger and a chapter is an error, never a quiet "not testable": a
chapter in the build must glue each declared key, or a reason key saying why the dataset cannot
test the claim. Only a chapter absent from the build, a dataset the chapter was not run on, or a
reason declared in the ledger gives "not testable" without the chapter saying so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pluralign.claims.executed import ExecutedChapter, executed_chapters
from pluralign.claims.ledger import (
    EVIDENCE,
    NOT_TESTABLE,
    PIPELINE_CHECK,
    RULE_FIELDS,
    STANDARD_FIELDS,
    Claim,
    ClaimsError,
    Ledger,
)
from pluralign.claims.rules import apply_rule, canonical_verdict, paper_value_in_interval


@dataclass(frozen=True)
class Assessment:
    """A claim on one dataset: the values, the verdict and why, and where the evidence is."""

    claim: str
    dataset: str
    simulated: bool
    verdict: str
    reason: str
    chapter: str | None
    in_build: bool
    values: Mapping[str, Any]
    keys: Mapping[str, str]
    chapter_verdict: str | None = None
    paper_value_in_ci: bool | None = None
    figure: str | None = None
    results: str | None = None

    @property
    def role(self) -> str:
        """Evidence, or a pipeline check when the dataset is simulated."""
        return PIPELINE_CHECK if self.simulated else EVIDENCE

    @property
    def page(self) -> str | None:
        """The chapter's page within the site, when the chapter is in the build."""
        return f"chapters/{self.chapter}.html" if self.in_build and self.chapter else None

    @property
    def url(self) -> str | None:
        """The stable URL of the evidence within the site: the page and the figure's anchor."""
        if self.page is None:
            return None
        return f"{self.page}#{self.figure}" if self.figure else self.page

    def shown_value(self, claim: Claim) -> str:
        """The value in the claim's format; a count with its total ("3 of 20")."""
        shown = claim.show(self.number("value"))
        total = self.number("n")
        return f"{shown} of {total:g}" if total is not None and shown != "–" else shown

    def number(self, name: str) -> float | None:
        """A glued field as a finite float, or None when it is absent or not a finite number."""
        value = self.values.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if math.isfinite(value) else None


def assess(
    claim: Claim, dataset: str, chapters: Mapping[str, ExecutedChapter], simulated: bool
) -> Assessment:
    """The verdict on one claim and dataset from the executed chapters of a build."""
    evidence = claim.evidence_for(dataset)
    common = {"claim": claim.id, "dataset": dataset, "simulated": simulated}
    if evidence is None:
        return Assessment(
            **common,
            verdict=NOT_TESTABLE,
            reason=claim.not_testable[dataset],
            chapter=None,
            in_build=False,
            values={},
            keys={},
        )
    keys = evidence.keys(dataset)
    located = {
        **common,
        "chapter": evidence.chapter,
        "keys": keys,
        "figure": evidence.figure,
        "results": evidence.results.format(dataset=dataset) if evidence.results else None,
    }
    executed = chapters.get(evidence.chapter)
    if executed is None:
        return Assessment(
            **located,
            verdict=NOT_TESTABLE,
            reason=f"chapter {evidence.chapter} is not part of this build",
            in_build=False,
            values={},
        )
    if not executed.ran_on(dataset):
        return Assessment(
            **located,
            verdict=NOT_TESTABLE,
            reason=f"this build ran {evidence.chapter} without {dataset} (its datasets parameter)",
            in_build=True,
            values={},
        )
    where = f"{claim.id} on {dataset}: chapter {evidence.chapter}"
    try:
        values = {name: executed.value(key) for name, key in keys.items() if executed.has(key)}
        chapter_verdict = canonical_verdict(values["verdict"]) if "verdict" in values else None
    except ClaimsError as error:
        raise ClaimsError(f"{where}: {error}") from None
    extras = [name for name in keys if name not in STANDARD_FIELDS]
    required = [*RULE_FIELDS[claim.rule.kind], *extras]
    missing = [keys[name] for name in required if name not in values]
    unusable = [
        keys[name]
        for name in required
        if name in values
        and name != "verdict"
        and not (
            isinstance(values[name], int | float)
            and not isinstance(values[name], bool)
            and math.isfinite(values[name])
        )
    ]
    if "n" in values and values["n"] == 0 and not missing:
        return Assessment(
            **located,
            verdict=NOT_TESTABLE,
            reason=str(values.get("reason") or "nothing to count (n = 0)"),
            in_build=True,
            values=values,
            chapter_verdict=chapter_verdict,
        )
    if missing or unusable:
        if chapter_verdict == NOT_TESTABLE or "reason" in values:
            return Assessment(
                **located,
                verdict=NOT_TESTABLE,
                reason=str(values.get("reason") or f"{evidence.chapter} reports it not testable"),
                in_build=True,
                values=values,
                chapter_verdict=chapter_verdict,
            )
        problem = f"glues no {missing}" if missing else f"glues {unusable} without a finite number"
        raise ClaimsError(
            f"{where} {problem}. A chapter in the build must glue every key claims.yml declares "
            f"for each dataset it ran on, or {keys['reason']!r} saying why the dataset cannot "
            "test the claim"
        )
    try:
        verdict, reason = apply_rule(claim.rule, values, claim.paper_value, claim.show)
    except ClaimsError as error:
        raise ClaimsError(f"{where}: {error}") from None
    if chapter_verdict is not None and chapter_verdict != verdict:
        raise ClaimsError(
            f"{where} says {values['verdict']!r} but the ledger's rule ({claim.rule.describe()}) "
            f"gives {verdict!r}: {reason}. The chapter and claims.yml must use the same rule"
        )
    return Assessment(
        **located,
        verdict=verdict,
        reason=reason,
        in_build=True,
        values=values,
        chapter_verdict=chapter_verdict,
        paper_value_in_ci=paper_value_in_interval(claim.paper_value, values)
        if claim.rule.kind in ("sign", "sign_and_size")
        else None,
    )


def assess_ledger(ledger: Ledger, book: Path) -> list[Assessment]:
    """Every claim on every dataset it names, from the executed chapters in `book`; raises
    `ClaimsError` naming every broken glue key at once."""
    chapters = executed_chapters(book)
    assessments, problems = [], []
    for claim in ledger.claims:
        for dataset in claim.datasets:
            try:
                assessments.append(assess(claim, dataset, chapters, ledger.simulated(dataset)))
            except ClaimsError as error:
                problems.append(str(error))
    if problems:
        raise ClaimsError("\n".join(problems))
    return assessments
