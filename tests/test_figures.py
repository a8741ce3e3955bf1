"""Citable figures: glue_figure saves PNG, SVG and a provenance sidecar under `pluralign book`,
the book completes and checks them, and every figure gets a "cite this figure" line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import pandas as pd
import pytest

from pluralign import style
from pluralign.book import figures
from pluralign.book.runner import BookBuildError, check_executed_book
from pluralign.book.site_check import missing_targets


def small_figure() -> plt.Figure:
    figure, axis = plt.subplots(figsize=(2, 1.5))
    axis.plot([0, 1, 2], [1, 0, 2])
    return figure


@pytest.fixture
def book(tmp_path, monkeypatch) -> Path:
    """A staging tree as `pluralign book` sets it up for the chapters' kernels."""
    monkeypatch.setenv(figures.BOOK_DIR_ENV, str(tmp_path))
    return tmp_path


def test_glue_figure_saves_png_svg_and_sidecar_under_the_book(book, capsys):
    figures.glue_figure("fig-03-pairs", small_figure(), seed=3, scorer="minilm-sbic-head")
    folder = book / figures.FIGURES_FOLDER
    sidecar = json.loads((folder / "fig-03-pairs.json").read_text())
    assert sidecar["label"] == "fig-03-pairs"
    assert sidecar["provenance"] == {"seed": 3, "scorer": "minilm-sbic-head"}
    for extension in ("png", "svg"):
        path = folder / f"fig-03-pairs.{extension}"
        assert sidecar["files"][extension] == f"figures/fig-03-pairs.{extension}"
        assert sidecar["sha256"][extension] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (folder / "fig-03-pairs.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (folder / "fig-03-pairs.svg").read_text()
    assert plt.get_fignums() == []  # closed, so it shows only where it is glued


def test_glue_figure_outside_the_book_saves_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(figures.BOOK_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    figures.glue_figure("fig-03-pairs", small_figure())
    assert list(tmp_path.iterdir()) == []


def test_the_same_figure_gives_the_same_bytes(tmp_path):
    first = figures.save_figure("fig-03-x", small_figure(), tmp_path / "a")
    second = figures.save_figure("fig-03-x", small_figure(), tmp_path / "b")
    for extension in ("png", "svg", "json"):
        assert first[extension].read_bytes() == second[extension].read_bytes(), extension
    plt.close("all")


@pytest.mark.parametrize("label", ["fig-3-pairs", "Fig-03-pairs", "fig-03-", "figure-03-pairs"])
def test_a_malformed_label_is_refused(label, book):
    with pytest.raises(figures.FigureFilesError, match="fig-<two-digit chapter>-<what>"):
        figures.glue_figure(label, small_figure())
    plt.close("all")


def test_provenance_must_be_plain_json(book):
    import numpy as np

    with pytest.raises(figures.FigureFilesError, match="plain JSON"):
        figures.glue_figure("fig-03-pairs", small_figure(), seed=np.int64(3))
    with pytest.raises(figures.FigureFilesError, match="plain JSON"):
        figures.glue_figure("fig-03-pairs", small_figure(), accuracy=float("nan"))
    plt.close("all")


def test_the_book_completes_sidecars_with_chapter_parameters_commit_and_data(book, capsys):
    figures.glue_figure("fig-03-pairs", small_figure())
    figures.glue_figure("fig-03-rates", small_figure(), data_sha256={"popquorn": "given"})
    build = {"profile": "smoke", "commit": {"sha": "f" * 40, "dirty": False}}
    done = figures.finalise_sidecars(
        book,
        "03_preferences",
        {"datasets": ["popquorn"], "seed": 1},
        build,
        data_sha256=lambda name: f"sha-of-{name}",
    )
    assert done == ["fig-03-pairs", "fig-03-rates"]
    sidecar = json.loads((book / "figures" / "fig-03-pairs.json").read_text())
    assert sidecar["chapter"] == "03_preferences"
    assert sidecar["url"] == "chapters/03_preferences.html#fig-03-pairs"
    assert sidecar["parameters"] == {"datasets": ["popquorn"], "seed": 1}
    assert sidecar["commit"]["sha"] == "f" * 40 and sidecar["profile"] == "smoke"
    assert sidecar["provenance"]["data_sha256"] == {"popquorn": "sha-of-popquorn"}
    given = json.loads((book / "figures" / "fig-03-rates.json").read_text())
    assert given["provenance"]["data_sha256"] == {"popquorn": "given"}
    # a later chapter leaves finished sidecars alone, and its own labels must carry its number
    figures.glue_figure("fig-03-late", small_figure())
    with pytest.raises(figures.FigureFilesError, match="fig-04-"):
        figures.finalise_sidecars(book, "04_finetune", {}, build)


def executed_with_figure(book: Path, label: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell(
            f"Text.\n\n```{{glue:figure}} {label}\n:name: {label}\n\nA caption.\n```\n\nAfter."
        )
    ]
    path = book / "chapters" / "03_preferences.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def test_a_figure_without_its_files_fails_the_build_check(book, monkeypatch, capsys):
    from pluralign.claims import ledger as claims

    ledger = claims.load_ledger()
    executed_with_figure(book, "fig-03-pairs")
    assert figures.missing_figure_files(book) == [
        "chapters/03_preferences.ipynb: figure fig-03-pairs has no figures/fig-03-pairs.png, "
        "figures/fig-03-pairs.svg, figures/fig-03-pairs.json; glue it with "
        "pluralign.book.figures.glue_figure, which saves the citable files"
    ]
    with pytest.raises(BookBuildError, match="fig-03-pairs has no"):
        check_executed_book(book, ledger)
    figures.glue_figure("fig-03-pairs", small_figure())
    assert figures.missing_figure_files(book) == []
    check_executed_book(book, ledger)


def test_a_glued_image_counts_as_a_figure():
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("glue(...)")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={"application/papermill.record/image/png": "iVBOR"},
            metadata={"scrapbook": {"name": "fig-03-x", "mime_prefix": ""}},
        )
    ]
    notebook.cells = [cell]
    assert figures.figure_labels(notebook) == {"fig-03-x"}


def test_citation_lines_follow_each_figure(book):
    path = executed_with_figure(book, "fig-03-pairs")
    assert figures.add_citation_lines(path, "chapters", "abc123") == ["fig-03-pairs"]
    source = nbformat.read(path, as_version=4).cells[0].source
    _, after = source.split("A caption.\n```")
    assert after.startswith('\n\n<p class="figure-citation">Cite this figure:')
    assert 'href="../figures/fig-03-pairs.png">figures/fig-03-pairs.png</a>' in after
    assert 'href="../figures/fig-03-pairs.svg"' in after
    assert 'href="../figures/fig-03-pairs.json">provenance</a>' in after
    assert "commit <code>abc123</code>" in after and after.endswith("After.")


def test_citation_shows_the_absolute_url_when_the_site_has_one():
    line = figures.citation_html("fig-03-pairs", "chapters", "abc", "https://example.org/book/")
    assert ">https://example.org/book/figures/fig-03-pairs.png</a>" in line


def test_published_figures_and_their_index(book, tmp_path_factory):
    figures.glue_figure("fig-03-pairs", small_figure())
    figures.finalise_sidecars(book, "03_preferences", {}, {"commit": {"sha": None}})
    html = tmp_path_factory.mktemp("html")
    (html / "chapters").mkdir()
    (html / "chapters" / "03_preferences.html").write_text('<figure id="fig-03-pairs"></figure>')
    entries = figures.publish_figures(book, html)
    assert [entry["label"] for entry in entries] == ["fig-03-pairs"]
    index = json.loads((html / "figures" / "index.json").read_text())
    urls = [index["figures"][0]["url"], *index["figures"][0]["files"].values()]
    assert missing_targets(html, urls) == []
    assert missing_targets(html, ["chapters/03_preferences.html#fig-03-gone"]) == [
        "chapters/03_preferences.html#fig-03-gone (missing anchor)"
    ]
    assert missing_targets(html, ["figures/fig-03-gone.png"]) == [
        "figures/fig-03-gone.png (missing file)"
    ]


def test_show_whole_tables_prints_every_row_column_and_character():
    """After the chapters' display setting, a long, wide table with long cells renders whole."""
    long_text = "a claim statement that runs well past pandas' fifty-character cut, to its end"
    table = pd.DataFrame({f"column_{i}": [long_text] * 80 for i in range(25)})
    option_names = [
        "display.max_rows",
        "display.max_columns",
        "display.max_colwidth",
        "display.width",
    ]
    saved = {name: pd.get_option(name) for name in option_names}
    try:
        assert "..." in table._repr_html_()  # pandas' defaults elide and cut
        style.show_whole_tables()
        rendered = table._repr_html_()
    finally:
        for name, value in saved.items():
            pd.set_option(name, value)
    assert "..." not in rendered
    assert rendered.count(long_text) == 80 * 25


def test_the_books_title_and_author_are_read_from_its_config(project_root) -> None:
    import yaml

    from pluralign.labels import absolute_url, book_title_and_author

    config = yaml.safe_load((project_root / "_config.yml").read_text())
    assert book_title_and_author() == (config["title"], config["author"])
    assert (
        absolute_url("figures/a.png", "https://x.org/book/") == "https://x.org/book/figures/a.png"
    )
    assert absolute_url("figures/a.png", None) == "figures/a.png"
