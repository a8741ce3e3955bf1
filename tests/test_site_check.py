"""The offline and link checks catch what they are for, on hand-made pages."""

from __future__ import annotations

from pluralign.book.site_check import broken_links, check_site, remote_resources


def page(path, body):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><head></head><body>{body}</body></html>")


def test_a_clean_site_passes(tmp_path):
    page(
        tmp_path / "index.html",
        '<a href="chapters/a.html#fig-1">a</a><a href="https://x.org">x</a>',
    )
    page(tmp_path / "chapters" / "a.html", '<div id="fig-1"></div><img src="../_static/p.png">')
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "p.png").write_bytes(b"png")
    assert check_site(tmp_path) == []


def test_remote_resources_are_found(tmp_path):
    page(
        tmp_path / "index.html",
        '<script src="https://cdn.example/x.js"></script>'
        '<link rel="stylesheet" href="//fonts.example/css">'
        '<img src="http://img.example/a.png"><style>@import "https://a.example/b.css";</style>',
    )
    (tmp_path / "site.css").write_text("body { background: url('https://a.example/bg.png') }")
    problems = remote_resources(tmp_path)
    assert len(problems) == 5, problems


def test_broken_files_and_anchors_are_found(tmp_path):
    page(tmp_path / "index.html", '<a href="missing.html">m</a><a href="b.html#nowhere">b</a>')
    page(tmp_path / "b.html", '<p id="somewhere"></p>')
    problems = broken_links(tmp_path)
    assert problems == [
        "index.html: missing.html (missing file)",
        "index.html: b.html#nowhere (missing anchor)",
    ]
