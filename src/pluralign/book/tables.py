"""Tables as citable files: every DataFrame a chapter shows under `pluralign book` is saved by
`pluralign.style.table_html` as `tables/<label>.csv` with a sidecar; here the book completes the
sidecars (chapter, page, anchor, parameters, commit) and publishes them at `_build/html/tables/`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

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
    source = book_dir / TABLES_FOLDER
    target = html_dir / TABLES_FOLDER
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    entries = []
    for sidecar_path in sorted(source.glob("*.json")) if source.is_dir() else []:
        sidecar = json.loads(sidecar_path.read_text())
        shutil.copy2(book_dir / sidecar["files"]["csv"], html_dir / sidecar["files"]["csv"])
        shutil.copy2(sidecar_path, target / sidecar_path.name)
        entries.append(
            {
                "label": sidecar["label"],
                "url": sidecar.get("url"),
                "files": {
                    **sidecar["files"],
                    "provenance": f"{TABLES_FOLDER}/{sidecar_path.name}",
                },
                "chapter": sidecar.get("chapter"),
                "commit": sidecar.get("commit"),
            }
        )
    (target / "index.json").write_text(json.dumps({"tables": entries}, indent=2) + "\n")
    return entries
