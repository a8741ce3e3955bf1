"""Command line of the behaviour package, for `src/pluralign/cli.py` to register with
`app.add_typer(behaviour_app)` (no name: `pluralign behaviour --profile P` joins the top level)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pluralign.behaviour.collect import collect_behaviour
from pluralign.behaviour.metrics import means
from pluralign.behaviour.samples import MissingAdapterError
from pluralign.behaviour.settings import SettingsError
from pluralign.train.spec import SpecError

if TYPE_CHECKING:
    import pandas as pd

behaviour_app = typer.Typer(help="Behaviour of the fine-tuned models: samples, scores.")

EXIT_BAD_INPUT = 2


@behaviour_app.command()
def behaviour(
    profile: Annotated[
        str,
        typer.Option(
            help="sweep profile (configs/sweeps/<name>.yml; settings in "
            "configs/behaviour.yml): smoke, quick, design or full"
        ),
    ] = "quick",
    dataset: Annotated[
        list[str] | None, typer.Option(help="only these datasets (repeatable)")
    ] = None,
    root: Annotated[Path | None, typer.Option(help="run store (default: results/runs)")] = None,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: best)")] = None,
    output: Annotated[
        Path | None, typer.Option(help="write the tidy score table here (.parquet or .csv)")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="print the per-model means as JSON records")
    ] = False,
) -> None:
    """Sample and score every finished run of a sweep profile and the base model (only what is
    missing), then show each model's mean toxicity and emotional awareness (proxies)."""
    from rich.console import Console

    console = Console(stderr=True)
    try:
        table = collect_behaviour(profile, root=root, datasets=dataset, device=device)
    except (MissingAdapterError, SettingsError, SpecError) as error:
        console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from error
    if output is not None:
        if output.suffix == ".csv":
            table.to_csv(output, index=False)
        else:
            table.to_parquet(output, index=False)
    if table.empty:
        console.print(f"no finished runs of profile {profile!r} in the run store")
        return
    summary = means(table, ["toxicity", "emotional_awareness"], n_boot=500)
    summary = summary.assign(scorer=summary["metric"].map(_scorer_names(table)))
    columns = ["dataset", "label", "metric", "scorer", "value", "ci_low", "ci_high", "n_prompts"]
    if json_output:
        records = json.loads(summary[columns].to_json(orient="records"))
        typer.echo(json.dumps(records, indent=2))
        return
    console.print(f"{table['model'].nunique()} models, {len(table):,} scores (profile {profile!r})")
    typer.echo(summary[columns].round(4).to_string(index=False))


def _scorer_names(table: pd.DataFrame) -> dict[str, str]:
    """Each metric's scorer name (so that proxies are named as proxies in the output)."""
    pairs = table.drop_duplicates("metric")[["metric", "scorer"]]
    return dict(zip(pairs["metric"], pairs["scorer"], strict=True))
