"""The one look of every figure and table the book shows: seaborn's theme with one colour-blind-safe
palette, whole tables that scroll (or fold) inside the page and are saved as citable CSV files,
and the figure that says why there is nothing to draw."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from pluralign.files import file_sha256
from pluralign.labels import BOOK_DIR_ENV

#: The palette of every figure: Okabe & Ito's colour-blind-safe colours (seaborn's "colorblind").
PALETTE = "colorblind"
#: Okabe-Ito colours by name, for figures that colour by meaning (verdicts, highlights).
OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}
#: Set by `pluralign book` to the chapter being executed (its stem), for table labels.
CHAPTER_ENV = "PLURALIGN_CHAPTER"
#: Tables with more rows than this fold behind a "show all rows" toggle.
FOLD_ROWS = 15
#: The folder, in the staging tree and the site, that holds the citable table files.
TABLES_FOLDER = "tables"
#: The class of a table's wrapper and of its cite line.
TABLE_CLASS = "pluralign-table"
TABLE_CITATION_CLASS = "table-citation"


def set_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.9, palette=PALETTE)


def show_whole_tables() -> None:
    """Let pandas print every row, column and character of the tables a chapter shows.

    pandas' defaults elide rows past 60, columns past 20 and cut cells at 50 characters; in a
    published book that hides evidence (a claim statement cut mid-sentence, runs left out of a
    table), so every chapter calls this in its first cell and chooses what to show itself.
    """
    pd.set_option("display.max_rows", None)
    pd.set_option("display.max_columns", None)
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.width", None)
    register_table_display()


def register_table_display() -> None:
    """Show DataFrames as `table_html` in the running IPython kernel (no-op outside one)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with every kernel
        return
    shell = get_ipython()
    if shell is None:
        return
    counter = {"n": 0}

    def shown(table: pd.DataFrame) -> str:
        counter["n"] += 1
        return table_html(table, counter["n"])

    shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, shown)


def table_label(number: int, chapter: str | None = None) -> str | None:
    """`tab-<chapter number>-<n>` for the n-th table a chapter shows, when the chapter is known."""
    chapter = chapter or os.environ.get(CHAPTER_ENV)
    if not chapter or not chapter[:2].isdigit():
        return None
    return f"tab-{chapter[:2]}-{number:02d}"


def table_html(table: pd.DataFrame, number: int = 1) -> str:
    """A table as the book shows it: in a wrapper that scrolls sideways inside the content column,
    folded behind a toggle past `FOLD_ROWS` rows, anchored at its label; under `pluralign book`
    also saved as `tables/<label>.csv` with a provenance sidecar, and given a cite line."""
    inner = table.to_html(classes="dataframe", border=0, max_rows=None, max_cols=None)
    label = table_label(number)
    rows, columns = table.shape
    if rows > FOLD_ROWS:
        inner = (
            f"<details><summary>Show all {rows} rows × {columns} columns</summary>{inner}</details>"
        )
    anchor = f' id="{label}"' if label else ""
    cite = ""
    if label and (book_dir := os.environ.get(BOOK_DIR_ENV)):
        save_table(label, table, Path(book_dir) / TABLES_FOLDER)
        cite = (
            f'<p class="{TABLE_CITATION_CLASS}">Cite this table: <code>{label}</code>, '
            f'<a href="../{TABLES_FOLDER}/{label}.csv">{TABLES_FOLDER}/{label}.csv</a> '
            f'(<a href="../{TABLES_FOLDER}/{label}.json">provenance</a>).</p>'
        )
    return f'<div class="{TABLE_CLASS}"{anchor}>{inner}</div>{cite}'


def save_table(label: str, table: pd.DataFrame, folder: Path) -> dict[str, Any]:
    """Write `<label>.csv` and its sidecar `<label>.json` (label, file, sha256, shape, columns);
    the book completes the sidecar with the chapter, its parameters and the commit."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{label}.csv"
    flat = table.copy()
    if isinstance(flat.columns, pd.MultiIndex):
        flat.columns = [" / ".join(map(str, column)) for column in flat.columns]
    flat.to_csv(path, index=not isinstance(flat.index, pd.RangeIndex))
    sidecar = {
        "label": label,
        "files": {"csv": f"{TABLES_FOLDER}/{path.name}"},
        "sha256": {"csv": file_sha256(path)},
        "shape": list(table.shape),
        "columns": [str(column) for column in flat.columns],
        "provenance": {},
    }
    (folder / f"{label}.json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return sidecar


def empty_figure(message: str) -> plt.Figure:
    """A small figure that says why there is nothing to draw (the chapter still gets its figure)."""
    figure, axis = plt.subplots(figsize=(6, 1.5))
    axis.set_axis_off()
    axis.text(0.5, 0.5, message, ha="center", va="center", color="grey")
    return figure
