"""Notebook contract: chapters are narrative, a literal parameters cell, and calls into src/."""

from __future__ import annotations

import ast

import nbformat
import pytest

from pluralign.book.runner import chapters
from pluralign.parameters import parameters_cell, parse_parameters_cell

CHAPTERS = chapters()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda chapter: chapter.stem)
def test_no_def_or_class_in_chapters(chapter):
    notebook = nbformat.read(chapter.path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            assert not isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
            ), f"{chapter.stem}: logic belongs in src/pluralign, not in a chapter"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda chapter: chapter.stem)
def test_parameters_cell_is_literal_only(chapter):
    notebook = nbformat.read(chapter.path, as_version=4)
    parse_parameters_cell(parameters_cell(notebook))  # raises on anything but literals


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda chapter: chapter.stem)
def test_chapters_are_committed_without_outputs(chapter):
    notebook = nbformat.read(chapter.path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, chapter.stem


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda chapter: chapter.stem)
def test_chapter_checks_its_parameters_first(chapter):
    notebook = nbformat.read(chapter.path, as_version=4)
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    assert "check_parameters(globals())" in code[1], "the cell after the parameters must check them"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda chapter: chapter.stem)
def test_figures_are_labelled_by_chapter(chapter):
    number = chapter.stem.split("_")[0]
    notebook = nbformat.read(chapter.path, as_version=4)
    for cell in notebook.cells:
        for line in cell.source.splitlines():
            if line.startswith(":name: fig-"):
                assert line.startswith(f":name: fig-{number}-"), line
