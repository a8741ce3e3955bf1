"""The smoke build: every chapter executes with papermill, the book builds strictly, and the site
is self-contained with no broken links; every figure is citable and claims.json holds. Also:
chapters run directly with papermill."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from pluralign import claims
from pluralign.book import figures
from pluralign.book.site_check import check_site, missing_targets
from pluralign.cli.app import app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke_site(mirror, smoke_store, tmp_path_factory) -> Path:
    """The smoke book on a copy of the session's smoke store (chapters 04-06 sample and score
    its runs; chapter 04 finds nothing left to train)."""
    output = tmp_path_factory.mktemp("book")
    runs = tmp_path_factory.mktemp("book-runs") / "runs"
    shutil.copytree(smoke_store, runs)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLURALIGN_RUNS_DIR", str(runs))
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


def test_every_figure_is_published_with_its_sidecar_and_cite_line(smoke_site):
    html = smoke_site / "html"
    labels = set()
    for path in (smoke_site / "book" / "chapters").glob("*.ipynb"):
        labels |= figures.figure_labels(nbformat.read(path, as_version=4))
    assert {"fig-01-agreement", "fig-02-gap-forest"} <= labels
    for label in sorted(labels):
        for extension in ("png", "svg", "json"):
            assert (html / "figures" / f"{label}.{extension}").is_file(), (label, extension)
        sidecar = json.loads((html / "figures" / f"{label}.json").read_text())
        assert sidecar["url"] == f"{sidecar['page']}#{label}"
        assert sidecar["commit"]["sha"] and sidecar["profile"] == "smoke"
        assert sidecar["page"] == f"chapters/{sidecar['chapter']}.html"
        assert isinstance(sidecar["parameters"], dict)
        if "datasets" in sidecar["parameters"]:
            assert set(sidecar["provenance"]["data_sha256"]) == set(
                sidecar["parameters"]["datasets"]
            )
        page = (html / sidecar["page"]).read_text()
        assert f'id="{label}"' in page
        assert f'<a href="../figures/{label}.png">figures/{label}.png</a>' in page
    index = json.loads((html / "figures" / "index.json").read_text())
    assert {entry["label"] for entry in index["figures"]} == labels


def test_claims_json_matches_its_schema_and_its_urls_lead_somewhere(smoke_site):
    html = smoke_site / "html"
    document = json.loads((html / "claims.json").read_text())
    claims.validate_document(document)
    assert (html / "claims.schema.json").is_file()
    assert missing_targets(html, claims.claims_urls(document)) == []
    assert [claim["id"] for claim in document["claims"]] == [
        claim.id for claim in claims.load_ledger().claims
    ]
    c1 = {entry["dataset"]: entry for entry in document["claims"][0]["evidence"]}
    assert c1["popquorn"]["in_build"] and c1["popquorn"]["verdict"] != "not testable"
    assert c1["popquorn"]["url"] == "chapters/02_rating_gaps.html#fig-02-gap-forest"
    assert len(c1["popquorn"]["data_sha256"]) == 64
    assert c1["study-sim"]["role"].startswith("pipeline check")
    ledger_page = html / "chapters" / "07_claims.html"
    if ledger_page.is_file():
        text = ledger_page.read_text()
        assert 'class="claims-ledger"' in text and 'id="fig-07-verdicts"' in text
