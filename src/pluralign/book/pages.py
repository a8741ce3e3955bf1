"""How the executed chapters read as pages of a publication: code folded behind a toggle, glued
Markdown rendered as Markdown, the intro opening with the ledger's findings, and each chapter page
carrying schema.org ClaimReview JSON-LD for the claims it decides."""

from __future__ import annotations

import ast
import html
import re
from collections.abc import Iterable
from pathlib import Path

import nbformat

from pluralign.claims.assess import Assessment
from pluralign.claims.ledger import NOT_TESTABLE, Ledger

#: The cell tag Jupyter Book 1 folds a code cell's input behind (outputs stay shown).
HIDE_INPUT = "hide-input"
#: A `{glue:text}` role without a format spec: the glued value is shown as it is.
PLAIN_GLUE_TEXT = re.compile(r"\{glue:text\}`(?P<key>[^`:]+)`")
#: Markdown markup that `{glue:text}` would show raw (backticks, bold, links).
MARKUP = re.compile(r"`|\*\*|\[[^\]]+\]\(")
GLUE_PREFIX = "application/papermill.record/"
FINDINGS_CLASS = "findings"


def prepare_executed_notebook(path: Path) -> None:
    """Fold every code cell's input (parameters cells too) and render glued Markdown text."""
    notebook = nbformat.read(path, as_version=4)
    markdown_keys: set[str] = set()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if HIDE_INPUT not in tags:
            tags.append(HIDE_INPUT)
        for output in cell.get("outputs", []):
            key = output.get("metadata", {}).get("scrapbook", {}).get("name")
            text = output.get("data", {}).get(GLUE_PREFIX + "text/plain")
            value = _string_literal(text) if key and isinstance(text, str) else None
            if value is not None and MARKUP.search(value):
                output["data"][GLUE_PREFIX + "text/markdown"] = value
                markdown_keys.add(key)
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and markdown_keys:
            cell.source = PLAIN_GLUE_TEXT.sub(
                lambda match: (
                    f"{{glue:md}}`{match['key']}`"
                    if match["key"] in markdown_keys
                    else match.group(0)
                ),
                cell.source,
            )
    nbformat.write(notebook, path)


def _string_literal(text: str) -> str | None:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


def verdict_grid_html(ledger: Ledger, assessments: Iterable[Assessment]) -> str:
    """Claims (rows) × datasets (columns), each cell its verdict; real datasets first."""
    cells = {(a.claim, a.dataset): a for a in assessments}
    datasets = sorted(
        {a.dataset for a in cells.values()},
        key=lambda name: (any(a.simulated for a in cells.values() if a.dataset == name), name),
    )
    simulated = {a.dataset for a in cells.values() if a.simulated}
    header = "".join(
        f"<th>{html.escape(name)}{' (simulated)' if name in simulated else ''}</th>"
        for name in datasets
    )
    rows = []
    for claim in ledger.claims:
        row = []
        for name in datasets:
            assessment = cells.get((claim.id, name))
            verdict = assessment.verdict if assessment else NOT_TESTABLE
            css = "verdict-" + verdict.replace(" ", "-")
            text = html.escape(verdict if verdict != NOT_TESTABLE else "n/t")
            if assessment and assessment.url and verdict != NOT_TESTABLE:
                text = f'<a href="{html.escape(assessment.url)}">{text}</a>'
            row.append(f'<td class="{css}">{text}</td>')
        rows.append(f"<tr><th>{html.escape(claim.id)}</th>{''.join(row)}</tr>")
    return (
        '<div class="pluralign-table verdict-grid"><table>'
        f"<thead><tr><th>claim</th>{header}</tr></thead><tbody>{''.join(rows)}</tbody>"
        "</table></div>"
    )


def findings_sentences(ledger: Ledger, assessments: Iterable[Assessment]) -> list[str]:
    """What real raters' data supports, contradicts and leaves open, claim by claim (with the
    minimum detectable effect where the ledger's evidence glued one)."""
    real = [a for a in assessments if not a.simulated and a.verdict != NOT_TESTABLE]
    statements = {claim.id: claim for claim in ledger.claims}
    sentences = []
    for verdict, opening in (
        ("supported", "Real raters' data **supports**"),
        ("contradicted", "It **contradicts**"),
        ("inconclusive", "It **leaves open**"),
    ):
        chosen = [a for a in real if a.verdict == verdict]
        if not chosen:
            sentences.append(f"{opening} no claim.")
            continue
        parts = []
        for a in chosen:
            value = a.shown_value(statements[a.claim])
            detail = f"{a.claim} on {a.dataset} ({value}"
            if (mde := a.number("mde")) is not None:
                detail += f"; minimum detectable effect {mde:.3g}"
            detail = html.escape(detail) + ")"
            parts.append(f'<a href="{html.escape(a.url)}">{detail}</a>' if a.url else detail)
        sentences.append(f"{opening} {'; '.join(parts)}.")
    untested = sorted(
        {c.id for c in ledger.claims} - {a.claim for a in real}, key=lambda i: (len(i), i)
    )
    if untested:
        sentences.append(
            f"No public dataset in this build can test {', '.join(untested)}; the simulated "
            "study only checks that the pipeline recovers what was planted."
        )
    return sentences


def findings_markdown(ledger: Ledger, assessments: list[Assessment]) -> str:
    """The intro's opening: the findings in sentences and the verdict grid, computed."""
    sentences = "\n".join(f"- {s}" for s in findings_sentences(ledger, assessments))
    return (
        f":::{{admonition}} Findings\n:class: {FINDINGS_CLASS}\n\n{sentences}\n\n"
        f"{verdict_grid_html(ledger, assessments)}\n\n"
        "Each cell links to its evidence; *n/t*: not testable on that dataset. Chapter 7 gives "
        "every value, interval and reason.\n:::\n"
    )


def add_findings_to_intro(intro: Path, ledger: Ledger, assessments: list[Assessment]) -> None:
    """Insert the findings right under the intro's title (the staging copy, before the build)."""
    lines = intro.read_text().splitlines()
    title = next(i for i, line in enumerate(lines) if line.startswith("# "))
    block = findings_markdown(ledger, assessments).splitlines()
    intro.write_text("\n".join([*lines[: title + 1], "", *block, "", *lines[title + 1 :]]) + "\n")


def embed_json_ld(page: Path, script: str) -> None:
    """Put a JSON-LD `<script>` into a built page's `<head>`."""
    text = page.read_text()
    page.write_text(text.replace("</head>", f"{script}\n</head>", 1))


#: An inline `<script>` element on one line (Jupyter Book 1 repeats some of them).
INLINE_SCRIPT = re.compile(r"^\s*<script>[^\n]*</script>\s*$", re.MULTILINE)


def drop_repeated_inline_scripts(page: Path) -> None:
    """Keep the first of identical inline scripts: sphinx-thebe's `const THEBE_JS_URL` appears
    twice in Jupyter Book 1's pages, and the second declaration is a page error in a browser."""
    text = page.read_text()
    seen: set[str] = set()

    def first_only(match: re.Match[str]) -> str:
        script = match.group(0).strip()
        if script in seen:
            return ""
        seen.add(script)
        return match.group(0)

    page.write_text(INLINE_SCRIPT.sub(first_only, text))
