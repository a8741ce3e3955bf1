"""Run the chapters with papermill and build the book with Jupyter Book 1.

The committed chapters carry no outputs. `run_book` checks every parameter (and the claims
ledger) first, executes the chapters in `_toc.yml` order into a staging copy of the book
(`_build/book`), stops at the first failing chapter, then builds `_build/html` from the executed
copies with a strict Sphinx build.

Around the Sphinx build it makes the book citable: every figure a chapter glues with
`glue_figure` is saved under `_build/book/figures/` with a provenance sidecar, each figure gets a
"cite this figure" line, the files are published at `_build/html/figures/<label>.{png,svg,json}`,
and the claims ledger is evaluated into `_build/html/claims.json`. A figure without its files, a
glue key the ledger names but a chapter in the build lacks, or a URL of claims.json that leads
nowhere fails the build.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

from pluralign import claims
from pluralign.book import figures, incremental, pages, tables
from pluralign.book.site_check import missing_targets
from pluralign.book.site_check import pages as site_pages
from pluralign.book.values import check_parameter_value
from pluralign.claims import standards
from pluralign.config import ConfigError, load_config
from pluralign.files import temporary_environment
from pluralign.labels import SITE_URL_ENV
from pluralign.parameters import (
    Parameter,
    ParameterError,
    check_value,
    notebook_parameters,
    parse_cli_value,
)
from pluralign.paths import project_root
from pluralign.provenance import Commit, git_commit
from pluralign.style import CHAPTER_ENV
from pluralign.train.store import runs_root

#: Files and folders of the book's source copied into the staging tree (chapters are executed).
BOOK_FILES = ("_config.yml", "_toc.yml", "intro.md", "references.bib", "_static")
STRICT_BUILD_FLAGS = ("-W", "-n", "--keep-going")


class ChapterFailedError(RuntimeError):
    """A chapter raised; carries the chapter and its traceback text."""

    def __init__(self, chapter: str, traceback: str):
        self.chapter = chapter
        self.traceback = traceback
        super().__init__(f"chapter {chapter} failed:\n{traceback}")


class BookBuildError(RuntimeError):
    """Jupyter Book reported warnings or errors (the build is strict)."""


@dataclass(frozen=True)
class Chapter:
    """A notebook in the table of contents and the parameters its parameters cell declares."""

    stem: str
    path: Path
    parameters: dict[str, Parameter]


@dataclass
class BookProfile:
    """A named set of the book's parameter values (`configs/profiles/<name>.yml`): `parameters`
    go to every chapter that declares the name, `chapters` to one chapter each."""

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)
    chapters: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class BookProfileFile:
    """A book profile file as written (its values are checked against the chapters later)."""

    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    chapters: dict[str, dict[str, Any] | None] = field(default_factory=dict)


def toc_files(toc: dict[str, Any]) -> list[str]:
    """Every `file:` entry of a Jupyter Book table of contents, in reading order."""
    files = [toc["root"]] if "root" in toc else []
    for key in ("chapters", "sections", "parts"):
        for entry in toc.get(key, []):
            if "file" in entry:
                files.append(entry["file"])
            files.extend(toc_files({k: v for k, v in entry.items() if k != "file"}))
    return files


def chapters(root: Path | None = None) -> list[Chapter]:
    """The notebooks of `_toc.yml`, in order, with their declared parameters."""
    root = root or project_root()
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    found = []
    for entry in toc_files(toc):
        path = root / f"{entry}.ipynb"
        if path.is_file():
            found.append(Chapter(path.stem, path, notebook_parameters(path)))
    return found


def book_profile_path(name: str, root: Path | None = None) -> Path:
    return (root or project_root()) / "configs" / "profiles" / f"{name}.yml"


def book_profile_names(root: Path | None = None) -> list[str]:
    folder = (root or project_root()) / "configs" / "profiles"
    return sorted(path.stem for path in folder.glob("*.yml"))


def load_book_profile(name: str, root: Path | None = None) -> BookProfile:
    """The book profile `name`, validated (a bad key is a `ParameterError` with its line)."""
    path = book_profile_path(name, root)
    if name not in book_profile_names(root) or not path.is_file():  # a name, never a path
        raise ParameterError(
            f"unknown profile {name!r}; profiles: {', '.join(book_profile_names(root))}"
        )
    try:
        data = load_config(path, BookProfileFile)
    except ConfigError as error:
        raise ParameterError(str(error)) from error
    return BookProfile(
        name=name,
        description=data.description,
        parameters=data.parameters,
        chapters={stem: values or {} for stem, values in data.chapters.items()},
    )


def valid_parameters_text(book: list[Chapter]) -> str:
    lines = []
    for chapter in book:
        lines.append(f"  {chapter.stem}:")
        lines.extend(f"    {parameter.describe()}" for parameter in chapter.parameters.values())
    return "\n".join(lines)


def resolve_parameters(
    book: list[Chapter], profile: BookProfile, overrides: list[tuple[str, str]]
) -> dict[str, dict[str, Any]]:
    """Each chapter's parameter values: profile, then `-p` overrides; every one checked.

    An unknown name or a value of the wrong type raises `ParameterError` listing the valid
    parameters, before any chapter runs.
    """
    problems: list[str] = []
    values: dict[str, dict[str, Any]] = {chapter.stem: {} for chapter in book}
    by_stem = {chapter.stem: chapter for chapter in book}

    def assign(chapter: Chapter, name: str, value: Any, origin: str) -> None:
        try:
            check_value(name, chapter.parameters[name].annotation, value)
            check_parameter_value(name, value)
            values[chapter.stem][name] = value
        except ParameterError as error:
            problems.append(f"{origin}: {chapter.stem}: {error}")

    for name, value in profile.parameters.items():
        declaring = [chapter for chapter in book if name in chapter.parameters]
        if not declaring:
            problems.append(f"profile {profile.name}: no chapter declares parameter {name!r}")
        for chapter in declaring:
            assign(chapter, name, value, f"profile {profile.name}")
    for stem, chapter_values in profile.chapters.items():
        if stem not in by_stem:
            problems.append(f"profile {profile.name}: no chapter {stem!r} in _toc.yml")
            continue
        for name, value in (chapter_values or {}).items():
            if name not in by_stem[stem].parameters:
                problems.append(f"profile {profile.name}: {stem} has no parameter {name!r}")
            else:
                assign(by_stem[stem], name, value, f"profile {profile.name}")
    for name, text in overrides:
        declaring = [chapter for chapter in book if name in chapter.parameters]
        if not declaring:
            problems.append(f"-p {name}: no chapter declares parameter {name!r}")
        for chapter in declaring:
            try:
                value = parse_cli_value(chapter.parameters[name].annotation, text)
            except yaml.YAMLError as error:
                problems.append(f"-p {name}: cannot parse {text!r}: {error}")
                continue
            assign(chapter, name, value, f"-p {name}")
    if problems:
        raise ParameterError(
            "\n".join(problems) + "\nValid parameters:\n" + valid_parameters_text(book)
        )
    return values


def stage_book_sources(root: Path, staging: Path) -> None:
    """Copy the book's non-notebook sources into the staging tree (chapters are executed there)."""
    if staging.exists():
        shutil.rmtree(staging)
    (staging / "chapters").mkdir(parents=True)
    for name in BOOK_FILES:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, staging / name)
        elif source.is_file():
            shutil.copy2(source, staging / name)
    for markdown in (root / "chapters").glob("*.md"):
        shutil.copy2(markdown, staging / "chapters" / markdown.name)


def execute_chapter(chapter: Chapter, output: Path, parameters: dict[str, Any], root: Path) -> None:
    """Run one chapter with papermill (kernel `python3`, working directory = project root)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        papermill.execute_notebook(
            str(chapter.path),
            str(output),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(root),
            progress_bar=False,
        )
    except PapermillExecutionError as error:
        raise ChapterFailedError(
            chapter.stem, "\n".join(error.traceback) or f"{error.ename}: {error.evalue}"
        ) from None


def build_html(staging: Path, output_root: Path) -> Path:
    """Strict Jupyter Book build of the staging tree into `<output_root>/_build/html`."""
    executable = Path(sys.executable).parent / "jupyter-book"
    command = [str(executable), "build", str(staging), "--path-output", str(output_root)]
    result = subprocess.run(
        [*command, *STRICT_BUILD_FLAGS], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BookBuildError(
            f"jupyter-book build failed:\n{result.stdout[-6000:]}{result.stderr[-6000:]}"
        )
    html = output_root / "_build" / "html"
    (html / ".nojekyll").touch()
    return html


def effective_parameters(chapter: Chapter, values: dict[str, Any]) -> dict[str, Any]:
    """What a chapter runs with: its declared defaults, overridden by the profile and `-p`."""
    return {name: parameter.default for name, parameter in chapter.parameters.items()} | values


def site_base_url(staging: Path) -> str | None:
    """The site's address: `PLURALIGN_SITE_URL`, else `html.baseurl` in `_config.yml`, else
    None (citations then give URLs relative to the site)."""
    if url := os.environ.get(SITE_URL_ENV):
        return url
    config = yaml.safe_load((staging / "_config.yml").read_text()) or {}
    return (config.get("html") or {}).get("baseurl") or None


def check_executed_book(staging: Path, ledger: claims.Ledger) -> None:
    """Before the HTML build: every figure has its citable files, and every glue key the claims
    ledger names is glued by the chapters in the build (`BookBuildError` lists all problems)."""
    problems = figures.missing_figure_files(staging)
    try:
        claims.assess_ledger(ledger, staging)
    except claims.ClaimsError as error:
        problems.extend(f"claims.yml: {line}" for line in str(error).splitlines())
    if problems:
        raise BookBuildError("the executed book is incomplete:\n" + "\n".join(problems))


def publish_citable_files(
    staging: Path, html: Path, ledger: claims.Ledger, commit: Commit, profile: str
) -> None:
    """After the HTML build: the figure and table files, claims.json and its schema, the
    ClaimReview JSON-LD of each chapter page and the RO-Crate, all in the site; every URL
    claims.json and the figure and table indexes give must lead to a file (and anchor) there, and
    the JSON-LD and the crate must hold their standards' required properties."""
    entries = figures.publish_figures(staging, html) + tables.publish_tables(staging, html)
    base_url = site_base_url(staging)
    try:
        document = claims.write_claims_json(html, staging, ledger, commit, profile, base_url)
    except claims.ClaimsError as error:
        raise BookBuildError(str(error)) from None
    urls = claims.claims_urls(document) + [
        url for entry in entries for url in (entry["url"], *entry["files"].values()) if url
    ]
    if problems := missing_targets(html, urls):
        raise BookBuildError(
            "claims.json or figures/index.json point nowhere:\n" + "\n".join(problems)
        )
    publish_standards(staging, html, ledger, commit, base_url)


def publish_standards(
    staging: Path, html: Path, ledger: claims.Ledger, commit: Commit, base_url: str | None
) -> None:
    """Embed ClaimReview JSON-LD in each chapter page and write `ro-crate-metadata.json`; a
    review or crate missing a required property fails the build."""
    today = datetime.now(UTC).date()
    assessments = claims.assess_ledger(ledger, staging)
    problems = []
    for page in sorted((html / "chapters").glob("*.html")):
        reviews = standards.claim_reviews(ledger, assessments, page.stem, today, base_url)
        for review in reviews:
            problems.extend(standards.claim_review_problems(review))
        if reviews:
            pages.embed_json_ld(page, standards.json_ld_script(reviews))
    datasets = sorted({a.dataset for a in assessments if a.in_build})
    try:
        package_version = version("pluralign")
    except PackageNotFoundError:
        package_version = "unknown"
    store = runs_root()
    crate = standards.ro_crate(
        html,
        commit.as_json(),
        package_version,
        {name: claims.safe_sha256(name) for name in datasets},
        {"identifier": incremental.tree_digest(store)} if store.is_dir() else None,
        today,
        base_url,
    )
    problems.extend(standards.ro_crate_problems(crate, html))
    if problems:
        raise BookBuildError("ClaimReview or RO-Crate incomplete:\n" + "\n".join(problems))
    (html / standards.RO_CRATE_FILE).write_text(json.dumps(crate, indent=1) + "\n")


def run_book(
    profile_name: str = "quick",
    overrides: list[tuple[str, str]] | None = None,
    output_root: Path | None = None,
    on_chapter: Callable[[Chapter, int, int], None] | None = None,
) -> Path:
    """Check parameters, execute every chapter, build the HTML; return the html folder."""
    root = project_root()
    output_root = (output_root or root).resolve()
    book = chapters(root)
    profile = load_book_profile(profile_name, root)
    values = resolve_parameters(book, profile, overrides or [])
    try:
        ledger = claims.load_ledger(claims.ledger_path(root))
    except claims.ClaimsError as error:
        raise ParameterError(f"claims.yml: {error}") from None
    staging = output_root / "_build" / "book"
    stage_book_sources(root, staging)
    commit = git_commit(root)
    build = {"profile": profile.name, "commit": commit.as_json()}
    # The chapters' kernels inherit these: the profile, and where figures are staged.
    variables = {"PLURALIGN_PROFILE": profile.name, figures.BOOK_DIR_ENV: str(staging)}
    keys: dict[str, str] = {}
    with temporary_environment(**variables):
        for index, chapter in enumerate(book):
            if on_chapter is not None:
                on_chapter(chapter, index, len(book))
            parameters = effective_parameters(chapter, values[chapter.stem])
            inputs = incremental.chapter_inputs(
                chapter.stem,
                chapter.path,
                parameters,
                profile.name,
                root,
                claims.safe_sha256,
                dict(keys) if incremental.reads_executed_chapters(parameters) else None,
            )
            keys[chapter.stem] = inputs.key
            if incremental.restore_chapter(output_root, staging, inputs):
                continue  # nothing it reads changed: its executed copy is reused
            with temporary_environment(**{CHAPTER_ENV: chapter.stem}):
                execute_chapter(
                    chapter, staging / "chapters" / chapter.path.name, values[chapter.stem], root
                )
            try:
                figures.finalise_sidecars(
                    staging, chapter.stem, parameters, build, claims.safe_sha256
                )
                tables.finalise_table_sidecars(staging, chapter.stem, parameters, build)
            except figures.FigureFilesError as error:
                raise BookBuildError(str(error)) from None
            incremental.store_chapter(output_root, staging, inputs)
    check_executed_book(staging, ledger)
    base_url = site_base_url(staging)
    for notebook in sorted((staging / "chapters").glob("*.ipynb")):
        figures.add_citation_lines(notebook, "chapters", commit.short, base_url)
        pages.prepare_executed_notebook(notebook)
    intro = staging / "intro.md"
    if intro.is_file():
        pages.add_findings_to_intro(intro, ledger, claims.assess_ledger(ledger, staging))
    html = build_html(staging, output_root)
    for page in site_pages(html):
        pages.drop_repeated_inline_scripts(page)
    publish_citable_files(staging, html, ledger, commit, profile.name)
    return html
