"""Command-line functions of the training package, for `src/pluralign/cli.py` to register.

`train_app` holds `sweep` (run a sweep profile) and the `bench` group with its `train` and
`generate` targets. Register with `app.add_typer(train_app)` (no name: its commands join the top
level), giving `pluralign sweep --profile P`, `pluralign bench train ...` and
`pluralign bench generate ...`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pluralign.train.rekey import plan_rekey, rekey_store
from pluralign.train.spec import SpecError
from pluralign.train.sweep import load_runs, run_sweep

train_app = typer.Typer(help="Fine-tuning: sweeps of runs, training benchmarks.")
bench_app = typer.Typer(help="Benchmarks.", no_args_is_help=True)
train_app.add_typer(bench_app, name="bench")


@train_app.command()
def sweep(
    profile: Annotated[
        str, typer.Option(help="configs/sweeps/<name>.yml: smoke, quick, design or full")
    ] = "smoke",
    dataset: Annotated[
        list[str] | None, typer.Option(help="only these datasets (repeatable)")
    ] = None,
    redo: Annotated[bool, typer.Option(help="redo finished runs too")] = False,
    root: Annotated[Path | None, typer.Option(help="run store (default: results/runs)")] = None,
) -> None:
    """Run every spec of a sweep profile that is not in the run store yet (resumable)."""
    from rich.console import Console

    console = Console(stderr=True)
    try:
        folders = run_sweep(profile, only_missing=not redo, root=root, datasets=dataset)
    except SpecError as error:
        console.print(f"[bold red]error:[/] {error}")
        raise typer.Exit(2) from error
    runs, _ = load_runs(folders=folders)
    console.print(f"{len(folders)} runs in the store for profile {profile!r}")
    if not runs.empty:
        columns = [
            "label",
            "preference_accuracy_estimate",
            "preference_accuracy_ci_low",
            "preference_accuracy_ci_high",
            "moved",
            "wall_seconds",
        ]
        console.print(runs[[c for c in columns if c in runs]].to_string(index=False))


@train_app.command()
def rekey(
    root: Annotated[Path | None, typer.Option(help="run store (default: results/runs)")] = None,
    dry_run: Annotated[bool, typer.Option(help="list what would move, change nothing")] = False,
) -> None:
    """Give every stored run the current training-code version (README, "Fine-tuning").

    For a move of the training code that retrained runs showed to change no result.
    """

    if dry_run:
        for folder, spec in plan_rekey(root):
            typer.echo(f"{folder.name} -> {spec.run_id}  {spec.label}")
        return
    moved = rekey_store(root)
    for item in moved:
        typer.echo(f"{item.old_id} -> {item.new_id}  {item.label}")
    typer.echo(f"{len(moved)} runs re-keyed")


@bench_app.command("train")
def bench_train_command(
    model: Annotated[str, typer.Option(help="base model name or HF id")] = "smollm2-135m-instruct",
    random_weights: Annotated[
        bool, typer.Option(help="random weights of the model's shape (no weights needed)")
    ] = False,
    steps: Annotated[int, typer.Option(help="optimiser steps per path")] = 4,
    batch_size: Annotated[int | None, typer.Option(help="pairs per step")] = None,
    pairs: Annotated[Path | None, typer.Option(help="a parquet file of pairs")] = None,
    tokenizer: Annotated[Path | None, typer.Option(help="a local tokenizer folder")] = None,
    output: Annotated[Path | None, typer.Option(help="write the figures as JSON here")] = None,
) -> None:
    """DPO tokens/s: the project's fast path vs TRL's DPOTrainer defaults, same pairs."""

    from pluralign.bench.train import bench_train  # loads torch: only for this command

    figures = bench_train(
        model=model,
        random_weights=random_weights,
        pairs=str(pairs) if pairs else None,
        steps=steps,
        batch_size=batch_size,
        tokenizer=str(tokenizer) if tokenizer else None,
    )
    if output is not None:
        output.write_text(json.dumps(figures, indent=2, default=str) + "\n")


@bench_app.command("generate")
def bench_generate_command(
    model: Annotated[str, typer.Option(help="base model name or HF id")] = "smollm2-135m-instruct",
    random_weights: Annotated[
        bool, typer.Option(help="random weights of the model's shape (no weights needed)")
    ] = False,
    batch_size: Annotated[
        int | None, typer.Option(help="prompts per batch (default: 32 on CPU, 64 on GPU)")
    ] = None,
    prompts: Annotated[
        int | None, typer.Option(help="corpus prompts to answer (default: 32 on CPU, 64 on GPU)")
    ] = None,
    max_new_tokens: Annotated[
        int | None, typer.Option(help="tokens sampled per prompt (default: 24 on CPU, 32 on GPU)")
    ] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1 (default: best)")] = None,
    cache: Annotated[
        str, typer.Option(help="KV cache: auto (static on GPU), dynamic or static")
    ] = "auto",
    compile_forward: Annotated[
        bool, typer.Option("--compile", help="let transformers compile the forward pass")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Sampled generation tokens/s: one prompt at a time vs batched, same prompts and samples."""

    from pluralign.bench.generate import bench_generate, print_bench  # loads torch

    figures = bench_generate(
        model=model,
        random_weights=random_weights,
        prompts=prompts,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        device=device,
        cache=cache,
        compile_forward=compile_forward,
    )
    if json_output:
        typer.echo(json.dumps(figures, indent=2, default=str))
    else:
        print_bench(figures)
