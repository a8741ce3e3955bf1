"""Citations of one figure, table or claim of a built book, in plain text, BibTeX and CSL-JSON,
each with its stable URL, the commit it was built from and the sha256 of the cited file, read from
the site's own sidecars (`figures/<label>.json`, `tables/<label>.json`) and `claims.json`."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pluralign.files import file_sha256
from pluralign.labels import SITE_URL_ENV, absolute_url, book_title_and_author


class CitationError(LookupError):
    """The label names nothing the built site publishes, or its file differs from its record."""


@dataclass(frozen=True)
class Citation:
    """What a citation says: the cited thing, where it is, and which bytes it is."""

    label: str
    kind: str  # figure | table | claim
    title: str
    url: str
    file: str
    sha256: str
    commit: str | None
    year: int

    def plain(self) -> str:
        commit = self.commit[:12] if self.commit else "unknown commit"
        book, author = book_title_and_author()
        title = self.title.rstrip(".")
        return (
            f"{author} ({self.year}). {self.kind.capitalize()} {self.label}: {title}. "
            f"In {book}. {self.url} (file {self.file}, sha256 {self.sha256}, commit "
            f"{commit})."
        )

    def bibtex(self) -> str:
        key = re.sub(r"[^A-Za-z0-9]+", "-", f"pluralign-{self.label}").strip("-")
        book, author = book_title_and_author()
        fields = {
            "title": f"{{{self.kind.capitalize()} {self.label}: {self.title}}}",
            "author": f"{{{author}}}",
            "year": str(self.year),
            "booktitle": book,
            "howpublished": f"\\url{{{self.url}}}",
            "version": self.commit or "unknown",
            "note": f"file {self.file}, sha256 {self.sha256}",
        }
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields.items())
        return f"@misc{{{key},\n{body}\n}}"

    def csl_json(self) -> str:
        book, author = book_title_and_author()
        item = {
            "id": f"pluralign-{self.label}",
            "type": {"figure": "figure", "table": "dataset", "claim": "entry"}[self.kind],
            "title": f"{self.kind.capitalize()} {self.label}: {self.title}",
            "author": [{"literal": author}],
            "container-title": book,
            "issued": {"date-parts": [[self.year]]},
            "URL": self.url,
            "version": self.commit,
            "note": f"file {self.file}; sha256 {self.sha256}",
        }
        return json.dumps([item], indent=2, ensure_ascii=False)

    def all_formats(self) -> str:
        return (
            f"Plain text:\n{self.plain()}\n\nBibTeX:\n{self.bibtex()}\n\n"
            f"CSL-JSON:\n{self.csl_json()}\n"
        )


def _checked_sha256(site: Path, relative: str, recorded: str | None) -> str:
    path = site / relative
    if not path.is_file():
        raise CitationError(f"{relative} is not in the site {site}; build the book first")
    actual = file_sha256(path)
    if recorded and recorded != actual:
        raise CitationError(f"{relative}: its sha256 differs from the one its sidecar records")
    return actual


def cite(label: str, site: Path) -> Citation:
    """The citation of `label` (`fig-02-gap-forest`, `tab-05-03` or a claim id such as `C1`)."""
    claims_path = site / "claims.json"
    document = json.loads(claims_path.read_text()) if claims_path.is_file() else {}
    base_url = os.environ.get(SITE_URL_ENV) or document.get("base_url")
    built = document.get("built_at")
    year = datetime.fromisoformat(built).year if built else datetime.now(UTC).year
    for kind, folder, main in (("figure", "figures", "png"), ("table", "tables", "csv")):
        sidecar_path = site / folder / f"{label}.json"
        if label.startswith(kind[:3] + "-") and sidecar_path.is_file():
            sidecar: dict[str, Any] = json.loads(sidecar_path.read_text())
            relative = sidecar["files"][main]
            digest = _checked_sha256(site, relative, sidecar.get("sha256", {}).get(main))
            chapter = sidecar.get("chapter") or "the book"
            return Citation(
                label,
                kind,
                f"from chapter {chapter}",
                absolute_url(relative, base_url),
                relative,
                digest,
                (sidecar.get("commit") or {}).get("sha"),
                year,
            )
    for claim in document.get("claims", []):
        if claim["id"].lower() == label.lower():
            return Citation(
                claim["id"],
                "claim",
                claim["statement"],
                absolute_url(f"claims.json#{claim['id']}", base_url),
                "claims.json",
                file_sha256(claims_path),
                (document.get("commit") or {}).get("sha"),
                year,
            )
    raise CitationError(
        f"{label!r} is no figure, table or claim of the site {site} "
        "(labels: fig-NN-what, tab-NN-n, claim ids such as C1)"
    )
