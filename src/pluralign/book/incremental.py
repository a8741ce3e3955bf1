"""Incremental book builds: a chapter re-executes only when something it reads has changed.

A chapter's key is a hash of everything its executed copy depends on, keyed like the run store (a
sha256 of a canonical JSON spec, cut to 16 hex digits): the notebook's bytes, the parameters it
runs with and the profile, the source of every package module it imports (followed through the
import graph) plus the package's data files (lexicons, scorer weights), the project's `configs/`
and `data/` folders, the sha256 of each dataset its `datasets` parameter names, the run store's
content for chapters that read trained runs, the claims ledger and the keys of the chapters it
reads for chapters that read other executed chapters. The executed notebook and the figure and
table files it wrote are kept under `_build/executed/<stem>/<key>/`; a later build with the same
key copies them back instead of running the chapter.
"""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from pluralign.files import file_sha256
from pluralign.train.store import runs_root

#: Digits of a chapter key (as many as a run id).
KEY_LENGTH = 16
#: Where executed chapters are kept between builds, under `<output root>/_build/`.
CACHE_FOLDER = "executed"
#: Parameters that name a sweep profile: such a chapter reads the run store.
RUN_STORE_PARAMETERS = ("sweep_profile", "sweep_profiles")
#: Folders of the chapter's own outputs restored with it (figures and tables).
OUTPUT_FOLDERS = ("figures", "tables")
#: Project folders every chapter may read through the package (profiles, recipes, the corpus).
PROJECT_INPUTS = ("configs", "data", "claims.yml")
#: Bump when the key's recipe changes, so old cache entries are never mistaken for new ones.
KEY_VERSION = 1


def package_modules(package_dir: Path) -> dict[str, Path]:
    """Every module of the package by dotted name (`pluralign.book.runner` -> its file)."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def imported_modules(source: str, modules: dict[str, Path], importer: str = "") -> set[str]:
    """The package modules an import statement of `source` names (a `from X import y` counts X
    and, where y is a submodule, X.y); relative imports are resolved against `importer`."""
    found: set[str] = set()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return found
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                is_package = modules.get(importer, Path()).name == "__init__.py"
                anchor = importer.split(".")[: len(importer.split(".")) - node.level + is_package]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            parts = name.split(".")
            # `import pluralign.a.b` loads pluralign, pluralign.a and pluralign.a.b.
            found.update(".".join(parts[:n]) for n in range(1, len(parts) + 1))
    return found & set(modules)


def import_closure(roots: Iterable[str], modules: dict[str, Path]) -> set[str]:
    """`roots` and every package module they import, transitively."""
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in seen or name not in modules:
            continue
        seen.add(name)
        pending.extend(imported_modules(modules[name].read_text(), modules, name) - seen)
    return seen


def chapter_source(notebook_path: Path) -> str:
    """The code cells of a chapter, joined (IPython magics dropped so `ast` can read them)."""
    notebook = nbformat.read(notebook_path, as_version=4)
    lines = []
    for cell in notebook.cells:
        if cell.cell_type == "code":
            lines.extend(
                line
                for line in cell.source.splitlines()
                if not line.lstrip().startswith(("%", "!"))
            )
    return "\n".join(lines)


def package_digest(notebook_path: Path, package_dir: Path) -> dict[str, str]:
    """sha256 of each package module the chapter imports (transitively) and of every data file
    in the package (lexicons, weights: read by modules through paths, not imports)."""
    modules = package_modules(package_dir)
    used = import_closure(imported_modules(chapter_source(notebook_path), modules), modules)
    digest = {name: file_sha256(modules[name]) for name in sorted(used)}
    for path in sorted(package_dir.rglob("*")):
        if (
            path.is_file()
            and path.suffix not in (".py", ".pyc")
            and "__pycache__" not in path.parts
        ):
            digest[str(path.relative_to(package_dir))] = file_sha256(path)
    return digest


def tree_digest(path: Path) -> str | None:
    """One sha256 over a file or a folder's files (relative path and content); None if absent."""
    if path.is_file():
        return file_sha256(path)
    if not path.is_dir():
        return None
    digest = hashlib.sha256()
    for item in sorted(path.rglob("*")):
        if item.is_file() and "__pycache__" not in item.parts:
            digest.update(f"{item.relative_to(path).as_posix()}\0{file_sha256(item)}\n".encode())
    return digest.hexdigest()


def short_hash(record: dict[str, Any]) -> str:
    """The run store's recipe: sha256 of sorted, compact JSON, cut to `KEY_LENGTH` digits."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


@dataclass(frozen=True)
class ChapterInputs:
    """What a chapter's executed copy depends on, and its key."""

    stem: str
    record: dict[str, Any]

    @property
    def key(self) -> str:
        return short_hash(self.record)


def chapter_inputs(
    stem: str,
    notebook_path: Path,
    parameters: dict[str, Any],
    profile: str,
    root: Path,
    dataset_sha256: Callable[[str], str | None],
    upstream_keys: dict[str, str] | None = None,
) -> ChapterInputs:
    """The record a chapter's key hashes (see the module docstring). `upstream_keys` are the
    keys of the chapters this one reads (chapter 7 reads every other executed chapter)."""
    datasets = parameters.get("datasets")
    record: dict[str, Any] = {
        "version": KEY_VERSION,
        "chapter": stem,
        "notebook": file_sha256(notebook_path),
        "parameters": parameters,
        "profile": profile,
        "package": package_digest(notebook_path, root / "src" / "pluralign"),
        "project": {name: tree_digest(root / name) for name in PROJECT_INPUTS},
        "datasets": {name: dataset_sha256(name) for name in datasets}
        if isinstance(datasets, list)
        else {},
    }
    if any(name in parameters for name in RUN_STORE_PARAMETERS):
        record["run_store"] = tree_digest(runs_root())
    if upstream_keys:
        record["upstream"] = dict(sorted(upstream_keys.items()))
    return ChapterInputs(stem, record)


def reads_executed_chapters(parameters: dict[str, Any]) -> bool:
    """A chapter that reads the executed book (its `book_dir` parameter) depends on the others."""
    return "book_dir" in parameters


def cache_entry(output_root: Path, stem: str, key: str) -> Path:
    return output_root / "_build" / CACHE_FOLDER / stem / key


def chapter_number(stem: str) -> int:
    return int(stem.split("_")[0])


def chapter_output_files(staging: Path, stem: str) -> list[Path]:
    """The figure and table files a chapter wrote into the staging tree (`fig-NN-*`, `tab-NN-*`)."""
    number = chapter_number(stem)
    found = []
    for folder in OUTPUT_FOLDERS:
        for prefix in ("fig", "tab"):
            found.extend(sorted((staging / folder).glob(f"{prefix}-{number:02d}-*")))
    return found


def store_chapter(output_root: Path, staging: Path, inputs: ChapterInputs) -> Path:
    """Keep a freshly executed chapter (notebook, figure and table files, its key's record);
    other keys of the same chapter are dropped, so the cache holds one copy per chapter."""
    entry = cache_entry(output_root, inputs.stem, inputs.key)
    partial = entry.with_name(entry.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    shutil.copy2(staging / "chapters" / f"{inputs.stem}.ipynb", partial / f"{inputs.stem}.ipynb")
    for path in chapter_output_files(staging, inputs.stem):
        target = partial / path.parent.name / path.name
        target.parent.mkdir(exist_ok=True)
        shutil.copy2(path, target)
    (partial / "inputs.json").write_text(json.dumps(inputs.record, indent=1, default=str) + "\n")
    for old in entry.parent.iterdir():
        if old != partial:
            shutil.rmtree(old)
    partial.rename(entry)  # a key folder without `.partial` is complete
    return entry


def restore_chapter(output_root: Path, staging: Path, inputs: ChapterInputs) -> bool:
    """Copy a kept chapter back into the staging tree; False when none is kept for this key."""
    entry = cache_entry(output_root, inputs.stem, inputs.key)
    if not (entry / "inputs.json").is_file():
        return False
    shutil.copy2(entry / f"{inputs.stem}.ipynb", staging / "chapters" / f"{inputs.stem}.ipynb")
    for folder in OUTPUT_FOLDERS:
        if (entry / folder).is_dir():
            (staging / folder).mkdir(exist_ok=True)
            for path in (entry / folder).iterdir():
                shutil.copy2(path, staging / folder / path.name)
    return True
