"""The smoke build: every chapter executes with papermill, the book builds strictly, and the site
is self-contained with no broken links. Also: chapters run directly with papermill."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from pluralign.cli import app
from pluralign.site_check import check_site

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke_site(mirror, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("book")
    result = CliRunner().invoke(app, ["book", "--profile", "smoke", "--output", str(output)])
    assert result.exit_code == 0, result.output
    return output / "_build"


def test_site_is_offline_and_links_hold(smoke_site):
    assert check_site(smoke_site / "html") == []


def test_chapter_page_has_its_tables_and_figures(smoke_site):
    html = (smoke_site / "html" / "chapters" / "01_data.html").read_text()
    for label in ("fig-01-score-distributions", "fig-01-agreement"):
        assert f'id="{label}"' in html
    assert html.count('<img alt="_images/') + html.count("<img ") >= 2
    assert "<table" in html
    assert "mathjax" in html.lower()


def test_executed_chapters_show_no_warnings_or_local_paths(smoke_site, project_root):
    for path in (smoke_site / "book" / "chapters").glob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            for output in cell.get("outputs", []):
                assert output.get("name") != "stderr", (path.name, output.get("text", "")[:300])
                text = str(output.get("text", "")) + str(
                    output.get("data", {}).get("text/plain", "")
                )
                assert str(project_root) not in text and "site-packages" not in text, path.name


def test_glued_numbers_reached_the_prose(smoke_site):
    html = (smoke_site / "html" / "chapters" / "01_data.html").read_text()
    assert "{glue" not in html and "glue:text" not in html


def test_chapter_run_directly_fails_on_a_wrong_type(mirror, tmp_path, project_root):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            "chapters/01_data.ipynb",
            str(tmp_path / "out.ipynb"),
            "-k",
            "python3",
            "-p",
            "datasets",
            "3",
        ],
        cwd=project_root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "parameter 'datasets' must be list[str], got int 3" in result.stderr + result.stdout


def test_chapter_run_directly_with_papermill(mirror, tmp_path, project_root):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            "chapters/01_data.ipynb",
            str(tmp_path / "out.ipynb"),
            "-k",
            "python3",
            "-p",
            "datasets",
            '["example"]',
            "-p",
            "agreement_bootstrap_samples",
            "5",
        ],
        cwd=project_root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
