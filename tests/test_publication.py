"""Fast checks of the publication layer (issue 18): chapter keys for incremental builds, the
ClaimReview and RO-Crate validators (each catches what it must), and citations of a site."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from pluralign.book import cite, incremental
from pluralign.claims import standards


def test_import_closure_follows_the_package(project_root):
    modules = incremental.package_modules(project_root / "src" / "pluralign")
    roots = incremental.imported_modules("from pluralign.book import figures\n", modules)
    closure = incremental.import_closure(roots, modules)
    assert {"pluralign.book.figures", "pluralign.labels"} <= closure
    assert "pluralign.train.dpo" not in closure


def _inputs(tmp_path: Path, project_root: Path, **parameters):
    return incremental.chapter_inputs(
        "07_claims",
        tmp_path / "07_claims.ipynb",
        parameters,
        "smoke",
        project_root,
        lambda name: f"sha-{name}",
    )


def test_a_chapter_key_changes_with_what_it_reads(tmp_path, project_root):
    notebook = json.loads((project_root / "chapters" / "07_claims.ipynb").read_text())
    (tmp_path / "07_claims.ipynb").write_text(json.dumps(notebook))
    key = _inputs(tmp_path, project_root, ledger_file="claims.yml").key
    assert key == _inputs(tmp_path, project_root, ledger_file="claims.yml").key
    assert len(key) == incremental.KEY_LENGTH
    assert key != _inputs(tmp_path, project_root, ledger_file="other.yml").key
    notebook["cells"][0]["source"] = ["# edited prose\n"]
    (tmp_path / "07_claims.ipynb").write_text(json.dumps(notebook))
    assert key != _inputs(tmp_path, project_root, ledger_file="claims.yml").key
    record = _inputs(tmp_path, project_root, ledger_file="claims.yml").record
    assert "pluralign.claims.assess" in record["package"]


def test_a_kept_chapter_is_restored_with_its_files(tmp_path):
    staging, output = tmp_path / "book", tmp_path / "out"
    (staging / "chapters").mkdir(parents=True)
    (staging / "figures").mkdir()
    (staging / "chapters" / "02_x.ipynb").write_text("{}")
    (staging / "figures" / "fig-02-a.png").write_bytes(b"png")
    (staging / "figures" / "fig-03-b.png").write_bytes(b"other chapter")
    inputs = incremental.ChapterInputs("02_x", {"notebook": "n"})
    incremental.store_chapter(output, staging, inputs)
    fresh = tmp_path / "fresh"
    (fresh / "chapters").mkdir(parents=True)
    assert incremental.restore_chapter(output, fresh, inputs)
    assert (fresh / "figures" / "fig-02-a.png").read_bytes() == b"png"
    assert not (fresh / "figures" / "fig-03-b.png").exists()
    assert not incremental.restore_chapter(output, fresh, incremental.ChapterInputs("02_x", {}))


REVIEW = {
    "@context": "https://schema.org",
    "@type": "ClaimReview",
    "name": "C1 on popquorn: supported",
    "url": "chapters/02_rating_gaps.html#fig-02-gap-forest",
    "claimReviewed": "male participants rated responses 18% less toxic",
    "itemReviewed": {
        "@type": "Claim",
        "author": [{"@type": "Person", "name": "Ali"}],
        "appearance": {"@type": "ScholarlyArticle", "url": "https://arxiv.org/abs/2511.14476"},
    },
    "reviewRating": {
        "@type": "Rating",
        "ratingValue": 3,
        "bestRating": 3,
        "worstRating": 1,
        "alternateName": "supported",
    },
    "author": {"@type": "Organization", "name": "The pluralign authors"},
    "datePublished": "2026-01-01",
}


def test_a_complete_claim_review_passes():
    assert standards.claim_review_problems(REVIEW) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("claimReviewed",), "", "claimReviewed"),
        (("itemReviewed", "@type"), "Thing", "not a Claim"),
        (("itemReviewed", "author"), {"name": "x"}, "itemReviewed.author"),
        (("itemReviewed", "appearance"), {}, "appearance"),
        (("reviewRating", "ratingValue"), 9, "outside"),
        (("reviewRating", "alternateName"), "", "alternateName"),
        (("url",), None, "url"),
        (("author",), None, "author"),
        (("datePublished",), "yesterday", "datePublished"),
    ],
)
def test_the_claim_review_check_catches_a_missing_property(path, value, expected):
    review = json.loads(json.dumps(REVIEW))
    target = review
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert any(expected in problem for problem in standards.claim_review_problems(review))


@pytest.fixture
def site(tmp_path) -> Path:
    html = tmp_path / "html"
    (html / "figures").mkdir(parents=True)
    (html / "chapters").mkdir()
    (html / "index.html").write_text("<html></html>")
    (html / "chapters" / "02_x.html").write_text("<html></html>")
    (html / "figures" / "fig-02-a.png").write_bytes(b"png bytes")
    (html / "figures" / "fig-02-a.json").write_text(
        json.dumps(
            {
                "label": "fig-02-a",
                "files": {"png": "figures/fig-02-a.png"},
                "sha256": {"png": cite.file_sha256(html / "figures" / "fig-02-a.png")},
                "chapter": "02_x",
                "commit": {"sha": "a" * 40},
            }
        )
    )
    return html


def test_the_crate_holds_the_profile_and_its_check_catches_gaps(site):
    crate = standards.ro_crate(
        site, {"sha": "a" * 40}, "0.1.0", {"popquorn": "b" * 64}, None, date(2026, 1, 1)
    )
    assert standards.ro_crate_problems(crate, site) == []
    graph = crate["@graph"]
    descriptor = next(e for e in graph if e["@id"] == standards.RO_CRATE_FILE)
    assert descriptor["conformsTo"] == {"@id": "https://w3id.org/ro/crate/1.1"}
    root = next(e for e in graph if e["@id"] == "./")
    broken = json.loads(json.dumps(crate))
    next(e for e in broken["@graph"] if e["@id"] == "./").pop("license")
    assert "the root data entity has no license" in standards.ro_crate_problems(broken)
    broken = json.loads(json.dumps(crate))
    broken["@graph"] = [e for e in broken["@graph"] if e["@id"] != standards.RO_CRATE_FILE]
    assert standards.ro_crate_problems(broken) == ["no metadata descriptor ro-crate-metadata.json"]
    (site / "figures" / "fig-02-a.png").write_bytes(b"changed")
    assert any("sha256 does not match" in p for p in standards.ro_crate_problems(crate, site))
    assert root["hasPart"]


def test_cite_gives_three_formats_with_url_commit_and_sha256(site):
    citation = cite.cite("fig-02-a", site)
    text = citation.all_formats()
    digest = cite.file_sha256(site / "figures" / "fig-02-a.png")
    assert digest in citation.plain() and "a" * 12 in citation.plain()
    assert citation.bibtex().startswith("@misc{pluralign-fig-02-a,")
    assert json.loads(citation.csl_json())[0]["URL"] == "figures/fig-02-a.png"
    assert "Plain text:" in text and "BibTeX:" in text and "CSL-JSON:" in text
    with pytest.raises(cite.CitationError):
        cite.cite("fig-09-none", site)
