"""Glued values of executed chapters: what a book build's notebooks (`<book>/chapters/*.ipynb`)
glued, as text, and the parameters each ran with, for `assess` to judge."""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from pluralign.claims.ledger import ClaimsError
from pluralign.labels import BOOK_DIR_ENV
from pluralign.paths import project_root
from pluralign.provenance import executed_parameters


def parse_glued_text(text: str) -> Any:
    """A glued value from its `text/plain` form: Python literals, and nan/inf for floats."""
    stripped = text.strip()
    if stripped in ("nan", "inf", "-inf"):
        return float(stripped)
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError):
        raise ClaimsError(
            f"cannot read the glued value {stripped[:80]!r}: glue plain Python values "
            "(float(x), int(n), str(s)), never NumPy scalars"
        ) from None


@dataclass
class ExecutedChapter:
    """An executed notebook of the build: its glued outputs and the parameters it ran with."""

    stem: str
    path: Path
    parameters: dict[str, Any]
    glued_text: dict[str, str] = field(default_factory=dict)

    def value(self, key: str) -> Any:
        """The glued value of `key`, read back from its text."""
        return parse_glued_text(self.glued_text[key])

    def has(self, key: str) -> bool:
        """Whether the chapter glued `key`."""
        return key in self.glued_text

    def ran_on(self, dataset: str) -> bool:
        """False only when the chapter has a `datasets` parameter that leaves `dataset` out."""
        datasets = self.parameters.get("datasets")
        return not isinstance(datasets, list) or dataset in datasets


def read_executed(path: Path) -> ExecutedChapter:
    """The glued values (as text) and parameters of one executed chapter."""
    notebook = nbformat.read(path, as_version=4)
    glued: dict[str, str] = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if not record:
                continue
            prefix = record.get("mime_prefix", "")
            text = output.get("data", {}).get(prefix + "text/plain")
            if text is not None:
                glued[record["name"]] = "".join(text) if isinstance(text, list) else text
    return ExecutedChapter(path.stem, path, executed_parameters(notebook), glued)


def book_dir(parameter: str = "") -> Path:
    """The executed book to read: the chapter's `book_dir` parameter if given, else the book
    `pluralign book` is building (`PLURALIGN_BOOK_DIR`), else `_build/book` in the project."""
    if parameter:
        path = Path(parameter)
        return path if path.is_absolute() else project_root() / path
    if env := os.environ.get(BOOK_DIR_ENV):
        return Path(env)
    return project_root() / "_build" / "book"


def executed_chapters(book: Path) -> dict[str, ExecutedChapter]:
    """Every executed chapter of a book build, by stem."""
    return {path.stem: read_executed(path) for path in sorted((book / "chapters").glob("*.ipynb"))}
