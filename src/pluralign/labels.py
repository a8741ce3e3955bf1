"""Names that tie a chapter's outputs to the published book: figure labels and where the book
being built lives. Below every stage, so the ledger (which names figures) and the book runner
(which saves them) read one rule."""

from __future__ import annotations

import re

#: Set by `pluralign book` to the staging tree of the book it builds (`_build/book`).
BOOK_DIR_ENV = "PLURALIGN_BOOK_DIR"
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
