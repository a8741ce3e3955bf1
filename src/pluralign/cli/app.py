"""The `pluralign` command line: build the book, fetch and export ratings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from pluralign.book.runner import BookBuildError, ChapterFailedError, run_book
from pluralign.cli.behaviour import behaviour_app
from pluralign.cli.cite import cite_app
from pluralign.cli.errors import DEBUG_ENV, EXIT_BAD_INPUT, UserErrorGroup, check_output_file, fail
from pluralign.cli.train import train_app
from pluralign.data.loaders import DATASETS, load_ratings
from pluralign.data.schema import RatingsValidationError
from pluralign.data.sources import ChecksumMismatchError, DatasetUnavailableError, fetch, sources
from pluralign.files import write_file_atomically
from pluralign.gaps.estimate import GapAnalysisError, rating_gaps
from pluralign.gaps.report import json_records, shown
from pluralign.gaps.strata import stratified_gaps
from pluralign.pairs.build import (
    PairsError,
    balance,
    build_pairs,
    contradiction_share,
    ratings_for_scale,
)
from pluralign.parameters import ParameterError
from pluralign.scorers.toxicity import WEIGHTS_DIR
from pluralign.scorers.toxicity_training import train_toxicity_scorer
from pluralign.scorers.validation import write_ea_validation_report as write_ea
from pluralign.scorers.validation import write_toxicity_validation_report

app = typer.Typer(
    cls=UserErrorGroup,  # one error path: a user's mistake is `error: …` and exit 2
    help="Whose feedback? Re-run the study and build the book.",
    no_args_is_help=True,
    add_completion=False,
)
data_app = typer.Typer(help="Rating datasets: fetch, list, export.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(train_app)  # `pluralign sweep` and `pluralign bench train|generate`
app.add_typer(behaviour_app)  # `pluralign behaviour --profile P`
app.add_typer(cite_app)  # `pluralign cite LABEL`
scorers_app = typer.Typer(help="The project's scorers: train and validate.", no_args_is_help=True)
app.add_typer(scorers_app, name="scorers")
console = Console(stderr=True)

__all__ = ["EXIT_BAD_INPUT", "app", "main"]


@app.callback()
def root(
    context: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="show the traceback of an error, not only its message")
    ] = False,
) -> None:
    """Whose feedback? Re-run the study and build the book."""
    context.meta["pluralign_debug"] = debug or bool(os.environ.get(DEBUG_ENV))


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    fail(message, code)


def parameter_pairs(arguments: list[str]) -> list[tuple[str, str]]:
    """`-p NAME VALUE` pairs, as papermill takes them (typer has no two-value repeatable option)."""
    pairs = []
    rest = list(arguments)
    while rest:
        flag = rest.pop(0)
        if flag not in ("-p", "--parameter") or len(rest) < 2:
            _fail(f"unexpected {flag!r}: parameters are given as -p NAME VALUE")
        pairs.append((rest.pop(0), rest.pop(0)))
    return pairs


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog="Parameters: -p NAME VALUE (repeatable); VALUE is read as YAML, e.g. "
    "-p datasets '[\"popquorn\"]'.",
)
def book(
    context: typer.Context,
    profile: Annotated[
        str, typer.Option(help="configs/profiles/<name>.yml: smoke, quick or full")
    ] = "quick",
    output: Annotated[
        Path | None, typer.Option(help="write _build/ under this folder (default: project root)")
    ] = None,
) -> None:
    """Execute every chapter with papermill (in _toc.yml order), then build the HTML book."""

    overrides = parameter_pairs(context.args)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} chapters"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("checking parameters", total=None)

        def on_chapter(chapter, index, total):
            progress.update(
                task, description=f"running {chapter.stem}", completed=index, total=total
            )

        try:
            html = run_book(profile, overrides, output, on_chapter=on_chapter)
        except ParameterError as error:
            progress.stop()
            _fail(str(error))
        except ChapterFailedError as error:
            progress.stop()
            console.print(f"chapter {error.chapter} failed", markup=False, highlight=False)
            console.print(error.traceback, markup=False, highlight=False)
            raise typer.Exit(1) from None
        except BookBuildError as error:
            progress.stop()
            console.print(str(error), markup=False, highlight=False)
            raise typer.Exit(1) from None
        progress.update(task, description="built", completed=progress.tasks[0].total or 0)
    console.print(f"book: {html / 'index.html'}")


@data_app.command("list")
def data_list() -> None:
    """List the named datasets and where their files come from."""

    for dataset in DATASETS.values():
        files = ", ".join(f"{source}/{file}" for source, file in dataset.files) or "shipped"
        typer.echo(f"{dataset.name:15} {dataset.description} [{files}]")


@data_app.command("fetch")
def data_fetch(
    source: Annotated[
        str, typer.Argument(help="a manifest source (popquorn, sap2022, sbic_v2) or 'all'")
    ],
) -> None:
    """Download a source's files from their commit-pinned URLs, checking each sha256."""

    names = sources() if source == "all" else [source]
    for name in names:
        try:
            for path in fetch(name):
                typer.echo(f"{name}: {path}")
        except KeyError as error:
            _fail(str(error.args[0]))
        except ChecksumMismatchError as error:
            _fail(str(error))
        except OSError as error:
            _fail(f"{name}: download failed: {error}", code=1)


@data_app.command("export")
def data_export(
    name_or_path: Annotated[
        str, typer.Argument(help="a dataset name or a study-format CSV/Parquet file")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="the Parquet file to write")],
    strict: Annotated[
        bool, typer.Option(help="refuse demographic values outside the schema's vocabulary")
    ] = False,
) -> None:
    """Write the validated long ratings table of a dataset or file to Parquet."""

    check_output_file(output)
    table = load_ratings(name_or_path, strict=strict)
    write_file_atomically(output, lambda path: table.to_parquet(path, index=False))
    typer.echo(f"{len(table)} ratings -> {output}")


@app.command()
def gaps(
    name_or_path: Annotated[str, typer.Argument(help="a dataset name or a study-format file")],
    as_json: Annotated[
        bool, typer.Option("--json", help="print JSON objects, one per row")
    ] = False,
    bootstrap_samples: Annotated[
        int, typer.Option(min=1, help="two-way bootstrap resamples")
    ] = 2000,
    seed: Annotated[int, typer.Option(help="bootstrap seed")] = 20251118,
    strict: Annotated[
        bool, typer.Option(help="refuse demographic values outside the schema's vocabulary")
    ] = False,
    by: Annotated[
        str | None,
        typer.Option(
            "--by", help="an item field (item_*): the gaps within each of its values (`stratum`)"
        ),
    ] = None,
) -> None:
    """Rating gaps between groups (chapter 02's table) for any ratings file."""
    import json

    import pandas as pd

    try:
        ratings = load_ratings(name_or_path, strict=strict)
        if by is None:
            table = rating_gaps(ratings, bootstrap_samples=bootstrap_samples, seed=seed)
        else:
            table = stratified_gaps(ratings, by, bootstrap_samples=bootstrap_samples, seed=seed)
    except (RatingsValidationError, ChecksumMismatchError, GapAnalysisError) as error:
        _fail(str(error))
    except (DatasetUnavailableError, FileNotFoundError) as error:
        _fail(str(error))
    if as_json:
        typer.echo(json.dumps(json_records(table), indent=2))
        return
    strata = table["stratum"] if by is not None else None
    with pd.option_context("display.width", 250, "display.max_columns", None):
        shown_table = shown(table)
        if strata is not None:
            shown_table.insert(0, "stratum", strata[table["status"] == "reported"].to_numpy())
        typer.echo(shown_table.to_string(index=False))
    skipped = table[table["status"] != "reported"]
    for row in skipped.itertuples(index=False):
        where = f"{by}={row.stratum} " if by is not None else ""
        typer.echo(f"skipped {where}{row.dimension} × {row.contrast}: {row.note}")


@app.command()
def pairs(
    name_or_path: Annotated[str, typer.Argument(help="a dataset name or a study-format file")],
    group: Annotated[str, typer.Option(help="a group code (female), field:code, or 'all'")],
    scale: Annotated[str, typer.Option(help="5pt | binary")] = "5pt",
    aggregation: Annotated[str, typer.Option(help="majority | preserve")] = "preserve",
    values: Annotated[str, typer.Option(help="a dimension, or multi")] = "multi",
    balance_with: Annotated[
        str | None,
        typer.Option("--balance", help="subsample to this other group's pair count (seeded)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the pair order and the subsample")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON summary")] = False,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="write pairs (Parquet)")
    ] = None,
) -> None:
    """Build preference pairs for a group under a condition (chapter 03)."""
    import json

    if output is not None:
        check_output_file(output)
    try:
        ratings = ratings_for_scale(name_or_path, scale)
        built = build_pairs(ratings, group, scale, aggregation, values, seed)
        unbalanced = len(built)
        if balance_with is not None:
            other = build_pairs(ratings, balance_with, scale, aggregation, values, seed)
            built = balance({group: built, balance_with: other}, seed)[group]
    except (PairsError, RatingsValidationError, ChecksumMismatchError) as error:
        _fail(str(error))
    except (DatasetUnavailableError, FileNotFoundError) as error:
        _fail(str(error))
    summary = {
        "dataset": ratings.attrs.get("dataset", name_or_path),
        "data_sha256": ratings.attrs.get("sha256"),
        "group": group,
        "scale": scale,
        "aggregation": aggregation,
        "values": values,
        "balanced_with": balance_with,
        "seed": seed,
        "n_pairs": len(built),
        "n_pairs_unbalanced": unbalanced,
        "n_prompts": int(built["prompt_id"].nunique()) if len(built) else 0,
        "contradiction_share": contradiction_share(built) if len(built) else None,
    }
    if output is not None:
        write_file_atomically(output, lambda path: built.to_parquet(path, index=False))
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        for key, value in summary.items():
            typer.echo(f"{key:20} {value}")


@data_app.command("corpus")
def data_corpus(
    model: Annotated[
        str | None, typer.Option(help="base model (default: configs/corpus.yml's model)")
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="folder to write (default: data/corpus)")
    ] = None,
    limit_prompts: Annotated[
        int | None, typer.Option(help="use only this many prompts (half of each kind)")
    ] = None,
) -> None:
    """Generate and score the response corpus (data/corpus/responses.csv and card.json)."""

    from pluralign.behaviour.corpus import build_corpus  # loads torch: only for this command

    card = build_corpus(output, model, limit_prompts)
    typer.echo(
        f"{card['responses']} responses, {card['generation_tokens_per_second']} tokens/s, "
        f"{card['wall_seconds']} s; styles spread as required: {card['spread_holds']}"
    )
    for row in card["style_spread"]:
        typer.echo(
            f"  {row['metric']:20} {row['contrast']:22} {row['mean_difference']:+.3f} "
            f"[{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"
        )
    if not card["spread_holds"]:
        raise typer.Exit(1)


@scorers_app.command("train")
def scorers_train(
    seed: Annotated[int, typer.Option(help="seed of the cross-validation folds")] = 0,
) -> None:
    """Refit the offline toxicity scorer (minilm-sbic-offensive) from SBIC and re-validate it.

    Writes src/pluralign/scorers/weights/ and results/scorers/toxicity_validation.*; needs the
    SBIC, POPQUORN and Sap files (mirror or `pluralign data fetch all`).
    """

    try:
        train_toxicity_scorer(WEIGHTS_DIR, seed=seed)
        report = write_toxicity_validation_report()
        write_ea()
    except DatasetUnavailableError as error:
        _fail(str(error))
    typer.echo(json_dumps(report.get("validation", report)))


def json_dumps(value: object) -> str:
    import json

    return json.dumps(value, indent=2, default=str)


def main() -> None:
    app()
