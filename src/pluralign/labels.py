"""Names that tie a chapter's outputs to the published book: figure labels, where the book being
built lives, the site's address, and the book's title and author (as `_config.yml` states them).
Below every stage, so the ledger (which names figures and publishes claims) and the book runner
(which saves and cites them) read one rule."""

from __future__ import annotations

import re
from functools import cache

import yaml

from pluralign.paths import project_root

#: Set by `pluralign book` to the staging tree of the book it builds (`_build/book`).
BOOK_DIR_ENV = "PLURALIGN_BOOK_DIR"
#: The published site's address, when the build knows it (the Pages workflow sets it).
SITE_URL_ENV = "PLURALIGN_SITE_URL"
#: What a figure label looks like: `fig-<two-digit chapter>-<what>`.
LABEL_PATTERN = re.compile(r"^fig-(\d{2})-[a-z0-9]+(?:-[a-z0-9]+)*$")


class FigureFilesError(ValueError):
    """A figure of the book has no citable files, or a sidecar or label is malformed."""


def check_label(label: str) -> int:
    """The chapter number of a figure label; an error unless it reads `fig-<NN>-<what>`."""
    match = LABEL_PATTERN.match(label)
    if match is None:
        raise FigureFilesError(
            f"figure label {label!r} must read fig-<two-digit chapter>-<what> (lower case, "
            "digits and hyphens), e.g. fig-02-gap-forest"
        )
    return int(match.group(1))


def absolute_url(url: str, base_url: str | None) -> str:
    """A site-relative URL made absolute when the site's address is known."""
    return f"{base_url.rstrip('/')}/{url}" if base_url else url


@cache
def book_title_and_author() -> tuple[str, str]:
    """The book's title and author, read from the project's `_config.yml` (their one home)."""
    config = yaml.safe_load((project_root() / "_config.yml").read_text()) or {}
    return str(config["title"]), str(config["author"])
