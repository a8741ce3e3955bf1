"""Figures for the book, drawn with seaborn and matplotlib; captions live in the chapters.

Every figure is also a citable file. `glue_figure` glues it for `{glue:figure}` and, when
`pluralign book` runs the chapter (it sets `PLURALIGN_BOOK_DIR`), saves it as
`figures/<label>.png` and `.svg` with a provenance sidecar `figures/<label>.json` in the book
being built. `pluralign book` completes each sidecar after the chapter ran (`finalise_sidecars`:
chapter, parameters, commit, data sha256), checks that every figure of every chapter has its files
(`missing_figure_files`), adds a "cite this figure" line under each figure (`add_citation_lines`)
and publishes the files at `_build/html/figures/` (`publish_figures`).
"""

from __future__ import annotations

import html
import json
import os
import posixpath
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import nbformat

from pluralign.files import file_sha256
from pluralign.labels import BOOK_DIR_ENV, FigureFilesError, absolute_url, check_label

#: The folder, in the staging tree and in the site, that holds the figure files.
FIGURES_FOLDER = "figures"
FIGURE_FORMATS = ("png", "svg")
#: Resolution of the citable PNG (the inline image in the page is the notebook's own).
PNG_DPI = 200
#: A `{glue:figure}` directive in a markdown cell (backtick or colon fence) and its label.
GLUE_FIGURE_DIRECTIVE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{glue:figure\}\s+(?P<label>\S+)")
#: The class of the paragraph `add_citation_lines` puts under each figure.
CITATION_CLASS = "figure-citation"


def glue_figure(label: str, figure: plt.Figure, **provenance: Any) -> None:
    """Glue a figure under its label (for `{glue:figure}`) and close it, so it shows only once.

    Under `pluralign book` the figure is also saved as `figures/<label>.png`/`.svg` with a
    sidecar `figures/<label>.json`. Keyword arguments are recorded in the sidecar as the figure's
    provenance, as given: pass what the figure rests on and the book cannot know by itself, e.g.
    `run_ids=[...]`, `spec_hashes=[...]`, `scorer="..."`, `model="..."`, `seed=...`,
    `data_sha256={"popquorn": "..."}`. Values must be JSON (plain str, int, float, bool, None,
    lists and dicts of them); the chapter, its parameters, the commit and the sha256 of the
    datasets the chapter read are added by the book.
    """
    from myst_nb import glue

    check_label(label)
    try:
        json.dumps(provenance, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise FigureFilesError(
            f"{label}: provenance must be plain JSON values (str, int, float, bool, None, lists, "
            f"dicts), without NaN: {error}"
        ) from None
    if book_dir := os.environ.get(BOOK_DIR_ENV):
        save_figure(label, figure, Path(book_dir) / FIGURES_FOLDER, provenance)
    glue(label, figure, display=False)
    plt.close(figure)


def save_figure(
    label: str, figure: plt.Figure, folder: Path, provenance: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Write `<label>.png`, `<label>.svg` and the sidecar `<label>.json` into `folder`.

    The files carry no timestamp and the SVG's element ids are salted with the label, so the same
    figure gives the same bytes; the sidecar records each file's sha256.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = {extension: folder / f"{label}.{extension}" for extension in FIGURE_FORMATS}
    with mpl.rc_context({"svg.hashsalt": label}):
        figure.savefig(paths["png"], dpi=PNG_DPI, bbox_inches="tight", metadata={"Software": None})
        figure.savefig(paths["svg"], bbox_inches="tight", metadata={"Date": None})
    sidecar = {
        "label": label,
        "files": {extension: f"{FIGURES_FOLDER}/{path.name}" for extension, path in paths.items()},
        "sha256": {extension: file_sha256(path) for extension, path in paths.items()},
        "provenance": provenance or {},
    }
    paths["json"] = folder / f"{label}.json"
    paths["json"].write_text(json.dumps(sidecar, indent=2) + "\n")
    return paths


def figure_labels(notebook: nbformat.NotebookNode) -> set[str]:
    """The figures of an executed chapter: every label its markdown shows with `{glue:figure}`
    and every image it glues."""
    labels: set[str] = set()
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            labels.update(
                match.group("label")
                for line in cell.source.splitlines()
                if (match := GLUE_FIGURE_DIRECTIVE.match(line.strip()))
            )
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if record and any(_is_image(mime) for mime in output.get("data", {})):
                labels.add(record["name"])
    return labels


def _is_image(mime: str) -> bool:
    """`image/png`, or a glued `application/papermill.record/image/png`."""
    parts = mime.split("/")
    return len(parts) >= 2 and parts[-2] == "image"


def missing_figure_files(book_dir: Path) -> list[str]:
    """Every figure of the executed chapters in `book_dir` that lacks its PNG, SVG or sidecar."""
    problems = []
    folder = book_dir / FIGURES_FOLDER
    for path in sorted((book_dir / "chapters").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for label in sorted(figure_labels(notebook)):
            missing = [
                f"{FIGURES_FOLDER}/{label}.{extension}"
                for extension in (*FIGURE_FORMATS, "json")
                if not (folder / f"{label}.{extension}").is_file()
            ]
            if missing:
                problems.append(
                    f"chapters/{path.name}: figure {label} has no {', '.join(missing)}; glue it "
                    "with pluralign.book.figures.glue_figure, which saves the citable files"
                )
    return problems


def finalise_sidecars(
    book_dir: Path,
    chapter: str,
    parameters: dict[str, Any],
    build: dict[str, Any],
    data_sha256: Callable[[str], str] | None = None,
) -> list[str]:
    """Complete the sidecars a chapter just wrote (those without a chapter yet): the chapter, its
    page and anchor, its parameters, the build (`commit`, `profile`), and, unless the chapter
    passed `data_sha256`, the sha256 of each dataset in its `datasets` parameter. Returns the
    labels completed; a label whose number is not the chapter's is an error."""
    completed = []
    number = int(chapter.split("_")[0])
    for path in sorted((book_dir / FIGURES_FOLDER).glob("*.json")):
        sidecar = json.loads(path.read_text())
        if "chapter" in sidecar:
            continue
        label = sidecar["label"]
        if check_label(label) != number:
            raise FigureFilesError(
                f"{chapter} glued figure {label}: a figure's label carries its chapter's number "
                f"(fig-{number:02d}-...)"
            )
        page = f"chapters/{chapter}.html"
        provenance = sidecar.setdefault("provenance", {})
        datasets = parameters.get("datasets")
        if "data_sha256" not in provenance and data_sha256 and isinstance(datasets, list):
            provenance["data_sha256"] = {name: data_sha256(name) for name in datasets}
        sidecar.update(
            chapter=chapter,
            page=page,
            url=f"{page}#{label}",
            parameters=parameters,
            **build,
        )
        path.write_text(json.dumps(sidecar, indent=2, sort_keys=False) + "\n")
        completed.append(label)
    return completed


def citation_html(label: str, page_dir: str, commit: str, base_url: str | None = None) -> str:
    """The "cite this figure" paragraph under a figure: its label, the stable URL of its PNG
    (absolute when the site's base URL is known), its SVG and provenance, and the commit.
    Links are relative to the page (`page_dir`: the page's folder within the site)."""

    def href(extension: str) -> str:
        return html.escape(
            posixpath.relpath(f"{FIGURES_FOLDER}/{label}.{extension}", page_dir or ".")
        )

    shown = absolute_url(f"{FIGURES_FOLDER}/{label}.png", base_url)
    return (
        f'<p class="{CITATION_CLASS}">Cite this figure: <code>{html.escape(label)}</code>, '
        f'<a href="{href("png")}">{html.escape(shown)}</a> '
        f'(<a href="{href("svg")}">SVG</a>, <a href="{href("json")}">provenance</a>), '
        f"commit <code>{html.escape(commit)}</code>.</p>"
    )


def add_citation_lines(
    notebook_path: Path, page_dir: str, commit: str, base_url: str | None = None
) -> list[str]:
    """Put a `citation_html` paragraph after every `{glue:figure}` block of an executed chapter
    (in the staging tree, before the HTML build); returns the labels cited."""
    notebook = nbformat.read(notebook_path, as_version=4)
    cited = []
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        result: list[str] = []
        open_fence: tuple[str, str] | None = None
        for line in lines:
            result.append(line)
            stripped = line.strip()
            if open_fence is None:
                if match := GLUE_FIGURE_DIRECTIVE.match(stripped):
                    open_fence = (match.group("fence"), match.group("label"))
            elif (
                stripped
                and set(stripped) == {open_fence[0][0]}
                and len(stripped) >= len(open_fence[0])
            ):
                result.extend(["", citation_html(open_fence[1], page_dir, commit, base_url), ""])
                cited.append(open_fence[1])
                open_fence = None
        if cited and result != lines:
            cell.source = "\n".join(result).rstrip("\n")
    if cited:
        nbformat.write(notebook, notebook_path)
    return cited


def publish_figures(book_dir: Path, html_dir: Path) -> list[dict[str, Any]]:
    """Copy the figure files into the site (`<html>/figures/`) and write `figures/index.json`
    (one entry per figure: label, page URL, files, chapter, commit); returns the entries."""
    return publish_citable_files(book_dir, html_dir, FIGURES_FOLDER, "figures")


def publish_citable_files(
    book_dir: Path, html_dir: Path, folder: str, index_key: str
) -> list[dict[str, Any]]:
    """Copy every citable file of `book_dir/<folder>` (each named by its sidecar) and the
    sidecars into the site, and write `<folder>/index.json` under `index_key`; the one way
    figures and tables are published."""
    source = book_dir / folder
    target = html_dir / folder
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    entries = []
    for sidecar_path in sorted(source.glob("*.json")) if source.is_dir() else []:
        sidecar = json.loads(sidecar_path.read_text())
        for relative in sidecar["files"].values():
            shutil.copy2(book_dir / relative, html_dir / relative)
        shutil.copy2(sidecar_path, target / sidecar_path.name)
        entries.append(
            {
                "label": sidecar["label"],
                "url": sidecar.get("url"),
                "files": {**sidecar["files"], "provenance": f"{folder}/{sidecar_path.name}"},
                "chapter": sidecar.get("chapter"),
                "commit": sidecar.get("commit"),
            }
        )
    (target / "index.json").write_text(json.dumps({index_key: entries}, indent=2) + "\n")
    return entries
