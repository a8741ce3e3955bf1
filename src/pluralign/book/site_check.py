"""Checks on the built HTML: nothing is loaded from the network, and no link is broken.

The book must work as a folder of files (offline, or published as it is): every script,
stylesheet, image, font or frame comes from the site itself, and every internal link points at a
file that exists and, where it names an anchor, at an id on that page.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bs4 import BeautifulSoup

#: (tag, attribute) pairs whose URL the browser loads by itself when the page opens.
LOADED = (
    ("script", "src"),
    ("img", "src"),
    ("iframe", "src"),
    ("source", "src"),
    ("video", "src"),
    ("audio", "src"),
    ("embed", "src"),
    ("object", "data"),
    ("input", "src"),
)
LOADED_LINK_RELS = {
    "stylesheet",
    "preload",
    "icon",
    "shortcut",
    "modulepreload",
    "manifest",
    "prefetch",
}
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)|@import\s+['\"]([^'\"]+)['\"]")


def pages(html_dir: Path) -> list[Path]:
    """The site's pages (theme templates copied into `_static` are not pages)."""
    return sorted(
        page
        for page in html_dir.rglob("*.html")
        if "_static" not in page.relative_to(html_dir).parts
    )


def is_remote(url: str) -> bool:
    url = url.strip()
    return url.startswith("//") or urlsplit(url).scheme in ("http", "https", "ftp", "ws", "wss")


def remote_resources(html_dir: Path) -> list[str]:
    """Every resource a page or stylesheet of the site would fetch from the network."""
    problems = []
    for page in pages(html_dir):
        soup = _soup(page)
        for tag, attribute in LOADED:
            for element in soup.find_all(tag):
                url = element.get(attribute)
                if url and is_remote(url):
                    problems.append(f"{page.relative_to(html_dir)}: <{tag} {attribute}={url}>")
        for element in soup.find_all("link"):
            rels = {rel.lower() for rel in element.get("rel", [])}
            url = element.get("href")
            if url and rels & LOADED_LINK_RELS and is_remote(url):
                problems.append(
                    f"{page.relative_to(html_dir)}: <link rel={sorted(rels)} href={url}>"
                )
        for style in soup.find_all("style"):
            problems.extend(
                f"{page.relative_to(html_dir)}: <style> loads {url}"
                for url in _css_urls(style.text)
            )
    for sheet in sorted(html_dir.rglob("*.css")):
        problems.extend(
            f"{sheet.relative_to(html_dir)}: loads {url}"
            for url in _css_urls(sheet.read_text(errors="replace"))
        )
    return problems


def _css_urls(text: str) -> list[str]:
    urls = [first or second for first, second in CSS_URL.findall(text)]
    return [url for url in urls if is_remote(url)]


@cache
def _soup_cached(path: str, mtime: float) -> BeautifulSoup:
    return BeautifulSoup(Path(path).read_text(errors="replace"), "html.parser")


def _soup(page: Path) -> BeautifulSoup:
    return _soup_cached(str(page), page.stat().st_mtime)


def _ids(page: Path) -> set[str]:
    soup = _soup(page)
    return {element["id"] for element in soup.find_all(id=True)} | {
        element["name"] for element in soup.find_all("a", attrs={"name": True})
    }


def broken_links(html_dir: Path) -> list[str]:
    """Internal links (href and src) to a missing file, or to an anchor the target page lacks."""
    problems = []
    for page in pages(html_dir):
        soup = _soup(page)
        for element in soup.find_all(["a", "link", "script", "img", "source", "iframe"]):
            url = element.get("href") or element.get("src")
            if not url or is_remote(url):
                continue
            parts = urlsplit(url)
            if parts.scheme in ("mailto", "data", "javascript", "tel"):
                continue
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(html_dir)}: {url}"
            if not target.exists():
                problems.append(f"{where} (missing file)")
            elif (
                parts.fragment
                and target.suffix == ".html"
                and unquote(parts.fragment) not in _ids(target)
            ):
                problems.append(f"{where} (missing anchor)")
    return problems


def missing_targets(html_dir: Path, urls: list[str]) -> list[str]:
    """Site-relative URLs (`chapters/02_rating_gaps.html#fig-02-gap-forest`,
    `figures/fig-02-gap-forest.png`) whose file is missing, or whose anchor the page lacks; for
    the URLs the site publishes in its JSON files rather than in its pages."""
    problems = []
    for url in urls:
        parts = urlsplit(url)
        target = html_dir / unquote(parts.path)
        if is_remote(url) or not parts.path:
            problems.append(f"{url} (not a path within the site)")
        elif not target.is_file():
            problems.append(f"{url} (missing file)")
        elif (
            parts.fragment
            and target.suffix == ".html"
            and unquote(parts.fragment) not in _ids(target)
        ):
            problems.append(f"{url} (missing anchor)")
    return problems


def check_site(html_dir: Path) -> list[str]:
    """All problems of a built site; empty when it is self-contained and its links hold."""
    return remote_resources(html_dir) + broken_links(html_dir)
