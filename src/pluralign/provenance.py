"""What a published number or figure rests on: the commit and the chapter's parameters (the data's
sha256 is `pluralign.data.loaders.dataset_sha256`).

The book records these beside every figure (`figures/<label>.json`) and every claim
(`claims.json`), so that a citation points at one commit and one set of input bytes. Nothing here
is described by hand: each value is read from git, from the data files, or from the executed
notebook.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import yaml

from pluralign.parameters import (
    ParameterError,
    matches,
    parameters_cell,
    parse_annotation,
    parse_parameters_cell,
)
from pluralign.paths import project_root

#: Digits of the commit shown to readers (the full sha is in the JSON files).
SHORT_COMMIT = 12


@dataclass(frozen=True)
class Commit:
    """The checkout a build ran from: `sha` is None outside a git checkout; `dirty` says whether
    tracked files were modified or untracked files added since that commit."""

    sha: str | None
    dirty: bool | None

    @property
    def short(self) -> str:
        if self.sha is None:
            return "unknown commit"
        return self.sha[:SHORT_COMMIT] + (" (with uncommitted changes)" if self.dirty else "")

    def as_json(self) -> dict[str, Any]:
        return {"sha": self.sha, "dirty": self.dirty}


def git_commit(root: Path | None = None) -> Commit:
    """`git rev-parse HEAD` of the project and whether the working tree differs from it."""
    root = root or project_root()

    def git(*arguments: str) -> str | None:
        try:
            result = subprocess.run(
                ["git", "-C", str(root), *arguments],
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError:
            return None
        return result.stdout if result.returncode == 0 else None

    sha = git("rev-parse", "HEAD")
    if sha is None:
        return Commit(None, None)
    status = git("status", "--porcelain")
    return Commit(sha.strip(), None if status is None else bool(status.strip()))


def executed_parameters(notebook: nbformat.NotebookNode) -> dict[str, Any]:
    """The parameter values an executed chapter ran with: its parameters cell's defaults, then
    what papermill injected (text given for a non-text parameter is read as YAML, as the chapter
    itself does)."""
    try:
        declared = parse_parameters_cell(parameters_cell(notebook))
    except ParameterError:  # a notebook without a parameters cell runs with what was injected
        declared = {}
    values = {name: parameter.default for name, parameter in declared.items()}
    injected = notebook.metadata.get("papermill", {}).get("parameters", {}) or {}
    for name, value in injected.items():
        if name in declared and isinstance(value, str):
            expected = parse_annotation(declared[name].annotation)
            if not matches(value, expected):
                value = yaml.safe_load(value)
        values[name] = value
    return values
