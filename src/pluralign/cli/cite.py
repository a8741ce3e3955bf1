"""`pluralign cite LABEL`: a citation of a figure, table or claim of the built book in plain text,
BibTeX and CSL-JSON (registered in `app.py` with `app.add_typer(cite_app)`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pluralign.book.cite import CitationError, cite
from pluralign.paths import project_root

cite_app = typer.Typer(help="Cite the built book's figures, tables and claims.")

FORMATS = ("all", "plain", "bibtex", "csl-json")


@cite_app.command("cite")
def cite_command(
    label: Annotated[str, typer.Argument(help="fig-NN-what, tab-NN-n or a claim id (C1)")],
    site: Annotated[
        Path | None, typer.Option(help="the built site (default: _build/html in the project)")
    ] = None,
    format: Annotated[str, typer.Option(help="all, plain, bibtex or csl-json")] = "all",
) -> None:
    """Print a citation with its stable URL, commit and the cited file's sha256."""
    if format not in FORMATS:
        typer.echo(f"error: --format must be one of {', '.join(FORMATS)}", err=True)
        raise typer.Exit(2)
    try:
        citation = cite(label, site or project_root() / "_build" / "html")
    except CitationError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    shown = {
        "all": citation.all_formats,
        "plain": citation.plain,
        "bibtex": citation.bibtex,
        "csl-json": citation.csl_json,
    }[format]()
    typer.echo(shown.rstrip("\n"))
