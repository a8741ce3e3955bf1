"""Tables as citable files: every DataFrame a chapter shows under `pluralign book` is saved by
`pluralign.style.table_html` as `tables/<label>.csv` with a sidecar; here the book completes the
sidecars (chapter, page, anchor, parameters, commit) and publishes them at `_build/html/tables/`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pluralign.book.figures import publish_citable_files
from pluralign.style import TABLES_FOLDER


def finalise_table_sidecars(
    book_dir: Path, chapter: str, parameters: dict[str, Any], build: dict[str, Any]
) -> list[str]:
    """Complete the sidecars of the tables `chapter` just saved (those without a chapter yet)."""
    completed = []
    for path in sorted((book_dir / TABLES_FOLDER).glob(f"tab-{chapter[:2]}-*.json")):
        sidecar = json.loads(path.read_text())
        if "chapter" in sidecar:
            continue
        page = f"chapters/{chapter}.html"
        sidecar.update(
            chapter=chapter,
            page=page,
            url=f"{page}#{sidecar['label']}",
            parameters=parameters,
            **build,
        )
        path.write_text(json.dumps(sidecar, indent=2) + "\n")
        completed.append(sidecar["label"])
    return completed


def publish_tables(book_dir: Path, html_dir: Path) -> list[dict[str, Any]]:
    """Copy the table files into the site (`<html>/tables/`) and write `tables/index.json`."""
    return publish_citable_files(book_dir, html_dir, TABLES_FOLDER, "tables")
