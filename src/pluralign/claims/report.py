"""Chapter 7's tables and figure: the claims, their sources and rules, the evidence per dataset
as an HTML table with links to the figures, the verdict counts and the verdict grid."""

from __future__ import annotations

import html
import posixpath
from collections.abc import Iterable

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from pluralign.claims.assess import Assessment
from pluralign.claims.ledger import (
    CONTRADICTED,
    INCONCLUSIVE,
    NOT_TESTABLE,
    RULE_KINDS,
    SUPPORTED,
    VERDICTS,
    Ledger,
)
from pluralign.style import OKABE_ITO, set_style


def dataset_label(ledger: Ledger, dataset: str) -> str:
    """A dataset's name, marked when it is simulated."""
    return f"{dataset} (simulated)" if ledger.simulated(dataset) else dataset


def claims_table(ledger: Ledger) -> pd.DataFrame:
    """One row per claim: statement, source and its reliability, the paper's value, the metric,
    the reading assumption and the verdict rule."""
    rows = []
    for claim in ledger.claims:
        rows.append(
            {
                "claim": claim.id,
                "statement": claim.statement,
                "source": claim.source,
                "paper value": claim.show(claim.paper_value)
                if claim.paper_value is not None
                else "–",
                "metric": claim.metric,
                "reading (assumption)": claim.reading,
                "rule": claim.rule.describe(),
            }
        )
    return pd.DataFrame(rows).set_index("claim")


def sources_table(ledger: Ledger) -> pd.DataFrame:
    """What each source is and how far it can be trusted, and which claims rest on it."""
    return pd.DataFrame(
        [
            {
                "source": source,
                "claims": ", ".join(c.id for c in ledger.claims if c.source == source),
                "reliability": note,
            }
            for source, note in ledger.sources.items()
        ]
    ).set_index("source")


def replication_table(ledger: Ledger, assessments: Iterable[Assessment]) -> pd.DataFrame:
    """The rating datasets' own published findings (source `original-paper`) beside the book's
    estimate on the dataset that published them: the paper, the finding, the value with its
    interval, the verdict and why, and where the book's reading differs from the paper's."""
    by_claim = {claim.id: claim for claim in ledger.claims if claim.source == "original-paper"}
    rows = []
    for assessment in assessments:
        claim = by_claim.get(assessment.claim)
        if claim is None or assessment.chapter is None:
            continue
        low, high = assessment.number("ci_low"), assessment.number("ci_high")
        interval = f" (CI {claim.show(low)} to {claim.show(high)})" if low is not None else ""
        rows.append(
            {
                "claim": claim.id,
                "paper": claim.reliability,
                "published finding": claim.statement,
                "dataset": assessment.dataset,
                "book's estimate": assessment.shown_value(claim) + interval,
                "verdict": assessment.verdict,
                "why": assessment.reason,
                "where the reading differs": claim.reading,
            }
        )
    columns = [
        "claim",
        "paper",
        "published finding",
        "dataset",
        "book's estimate",
        "verdict",
        "why",
        "where the reading differs",
    ]
    return pd.DataFrame(rows, columns=columns).set_index("claim")


def rules_table() -> pd.DataFrame:
    """Every rule kind and what it decides."""
    return pd.DataFrame(
        [{"rule": kind, "verdict": text} for kind, text in RULE_KINDS.items()]
    ).set_index("rule")


def verdict_counts(ledger: Ledger, assessments: Iterable[Assessment]) -> pd.DataFrame:
    """Claims × verdict counts on real datasets (simulated ones are pipeline checks)."""
    rows = [
        {"claim": a.claim, "verdict": a.verdict}
        for a in assessments
        if not ledger.simulated(a.dataset)
    ]
    table = pd.crosstab(
        pd.Categorical([r["claim"] for r in rows], [c.id for c in ledger.claims]),
        pd.Categorical([r["verdict"] for r in rows], list(VERDICTS)),
        dropna=False,
    )
    table.index.name, table.columns.name = "claim", "verdict on real data"
    return table


def evidence_html(
    ledger: Ledger, assessments: Iterable[Assessment], page: str = "chapters/07_claims.html"
) -> str:
    """The ledger as an HTML table: claim × dataset with value, interval, verdict and reason,
    and a link (relative to `page`) to the figure or chapter it comes from."""
    page_dir = posixpath.dirname(page)
    by_claim = {claim.id: claim for claim in ledger.claims}
    rows = []
    for a in assessments:
        claim = by_claim[a.claim]
        interval = (
            f"{claim.show(a.number('ci_low'))} to {claim.show(a.number('ci_high'))}"
            if a.number("ci_low") is not None
            else "–"
        )
        if a.url:
            href = posixpath.relpath(a.url.split("#")[0], page_dir or ".")
            anchor = f"#{a.url.split('#')[1]}" if "#" in a.url else ""
            link = (
                f'<a href="{html.escape(href + anchor)}">{html.escape(a.figure or a.chapter)}</a>'
            )
        elif a.chapter:
            link = html.escape(f"{a.chapter} (not in this build)")
        else:
            link = "–"
        verdict = html.escape(a.verdict)
        if a.simulated and a.verdict != NOT_TESTABLE:
            verdict += " <em>(pipeline check)</em>"
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{cell}</td>"
                for cell in (
                    html.escape(a.claim),
                    html.escape(dataset_label(ledger, a.dataset)),
                    html.escape(a.shown_value(claim)),
                    html.escape(interval),
                    f'<span class="verdict verdict-{a.verdict.replace(" ", "-")}">{verdict}</span>',
                    html.escape(a.reason),
                    link,
                )
            )
            + "</tr>"
        )
    header = "".join(
        f"<th>{name}</th>"
        for name in ("claim", "dataset", "value", "95% CI", "verdict", "why", "evidence")
    )
    return (
        '<table class="claims-ledger"><thead><tr>'
        + header
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


#: Okabe-Ito colours (colour-blind safe), the same as the intro's verdict grid.
VERDICT_COLOURS = {
    SUPPORTED: OKABE_ITO["sky"],
    CONTRADICTED: OKABE_ITO["orange"],
    INCONCLUSIVE: OKABE_ITO["yellow"],
    NOT_TESTABLE: "#f2f2f2",
}


def plot_verdicts(ledger: Ledger, assessments: Iterable[Assessment]) -> plt.Figure:
    """Claims (rows) × datasets (columns), each cell coloured by its verdict and labelled with
    the value; the simulated dataset's column is marked as a pipeline check."""
    set_style()
    assessments = list(assessments)
    claim_ids = [claim.id for claim in ledger.claims]
    datasets = list(ledger.datasets)
    codes = pd.DataFrame(VERDICTS.index(NOT_TESTABLE), index=claim_ids, columns=datasets)
    labels = pd.DataFrame("", index=claim_ids, columns=datasets)
    by_claim = {claim.id: claim for claim in ledger.claims}
    for a in assessments:
        codes.loc[a.claim, a.dataset] = VERDICTS.index(a.verdict)
        value = a.number("value")
        labels.loc[a.claim, a.dataset] = (
            a.shown_value(by_claim[a.claim])
            if value is not None and a.verdict != NOT_TESTABLE
            else "n/t"
            if a.verdict == NOT_TESTABLE
            else ""
        )
    figure, axis = plt.subplots(figsize=(1.45 * len(datasets) + 1.8, 0.42 * len(claim_ids) + 1.4))
    colours = ListedColormap([VERDICT_COLOURS[v] for v in VERDICTS])
    axis.pcolormesh(
        codes.to_numpy(),
        cmap=colours,
        vmin=-0.5,
        vmax=len(VERDICTS) - 0.5,
        edgecolors="white",
        linewidth=2,
    )
    for row, claim_id in enumerate(claim_ids):
        for column, dataset in enumerate(datasets):
            axis.text(
                column + 0.5,
                row + 0.5,
                labels.loc[claim_id, dataset],
                ha="center",
                va="center",
                fontsize=8,
                color="#222222",
            )
    axis.set_xticks([i + 0.5 for i in range(len(datasets))])
    axis.set_xticklabels(
        [f"{d}\n(simulated:\npipeline check)" if ledger.simulated(d) else d for d in datasets],
        fontsize=8,
    )
    axis.set_yticks([i + 0.5 for i in range(len(claim_ids))])
    axis.set_yticklabels(claim_ids)
    axis.invert_yaxis()
    axis.xaxis.tick_top()
    axis.grid(False)
    axis.legend(
        handles=[Patch(facecolor=VERDICT_COLOURS[v], edgecolor="grey", label=v) for v in VERDICTS],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=len(VERDICTS),
        frameon=False,
        fontsize=8,
    )
    figure.tight_layout()
    return figure
