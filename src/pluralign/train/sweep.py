"""Sweeps: run every spec of a profile (resumable, with a progress bar and an ETA), and read the
run store back into tidy tables for chapter 04.

The ETA weighs each run by an estimate of its cost (steps × a per-step cost for its optimiser and
model, plus evaluation), so a sweep mixing DPO and GRPO runs gets a fair estimate from the start;
rich's remaining-time column refines it from the pace actually observed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from pluralign.train import store
from pluralign.train.spec import RunSpec, load_profile, spec_from_dict

#: Rough seconds per optimiser step on a 2-core CPU (SmolLM2-135M; the tiny model is ~100× less).
STEP_SECONDS = {"dpo": 4.0, "grpo": 8.0}
EVAL_SECONDS = 60.0


def estimated_seconds(spec: RunSpec) -> float:
    """A rough cost of a run, used only to weigh the progress bar."""
    scale = 0.02 if spec.base_model == "tiny-random-llama" else 1.0
    return scale * (STEP_SECONDS[spec.optimiser] * spec.hyper.steps + EVAL_SECONDS)


def run_sweep(
    profile: str,
    only_missing: bool = True,
    root: Path | None = None,
    datasets: list[str] | None = None,
    progress: bool = True,
) -> list[Path]:
    """Run every spec of `profile` (finished runs are skipped when `only_missing`; otherwise
    they are redone and replaced); returns the run folders in the profile's order."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from pluralign.train.runner import execute, run

    parsed = load_profile(profile, datasets=datasets)
    console = Console(stderr=True)
    for entry in parsed.skipped:
        console.print(f"[yellow]skipped[/] {entry.dataset}/{entry.group}: {entry.reason}")
    todo = [spec for spec in parsed.specs if not only_missing or store.find_run(spec, root) is None]
    total = sum(estimated_seconds(spec) for spec in todo)
    folders: dict[str, Path] = {}
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[done]}/{task.fields[count]} runs"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not progress) as bar:
        task = bar.add_task(f"sweep {parsed.name}", total=total or 1, done=0, count=len(todo))
        for index, spec in enumerate(todo):
            bar.update(task, description=f"{parsed.name}: {spec.label}")
            if only_missing:
                folders[spec.run_id] = run(spec, root)
            else:  # a redo: the finished run stays until its replacement is complete
                folders[spec.run_id] = store.build_atomically(
                    spec, functools.partial(execute, spec), root, replace=True
                )
            bar.update(task, advance=estimated_seconds(spec), done=index + 1)
    result = []
    for spec in parsed.specs:
        folder = folders.get(spec.run_id) or store.find_run(spec, root)
        if folder is not None:
            result.append(folder)
    return result


# --------------------------------------------------------------------------------------------
# reading the store

#: Spec fields that identify an experiment across code and library versions.
VERSION_FIELDS = ("code_version", "libraries", "data_sha256", "base_model_sha256")


def sweep_missing(profiles: Iterable[str], root: Path | None = None) -> list[str]:
    """Train the runs each profile lacks (finished runs are reused), quietly; returns the
    profiles swept (chapter 04 with `train_missing` on)."""
    from pluralign.models.base import quiet_libraries  # loads torch: only when training

    swept = list(profiles)
    if swept:
        with quiet_libraries():
            for profile in swept:
                run_sweep(profile, only_missing=True, root=root, progress=False)
    return swept


def experiment_key(spec: RunSpec) -> str:
    """The spec without its version fields: the same experiment at another code version."""
    data = spec.to_dict()
    for name in VERSION_FIELDS:
        data.pop(name, None)
    return json.dumps(data, sort_keys=True, default=str)


def _flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}_{key}" if prefix else str(key), inner, into)
    elif isinstance(value, list | tuple):
        into[prefix] = ";".join(map(str, value))
    else:
        into[prefix] = value


def run_row(folder: Path) -> dict[str, Any]:
    """One tidy row: the run's spec fields, its metrics and its wall time."""
    spec = store.read_spec(folder)
    metrics = json.loads((folder / store.METRICS_FILE).read_text())
    provenance = json.loads((folder / store.PROVENANCE_FILE).read_text())
    row: dict[str, Any] = {"run_id": spec.run_id, "label": spec.label, "folder": str(folder)}
    spec_data = spec.to_dict()
    hyper = spec_data.pop("hyper")
    held_out = spec_data.pop("held_out")
    libraries = spec_data.pop("libraries") or {}
    _flatten("", spec_data, row)
    _flatten("", hyper, row)
    _flatten("held_out", held_out, row)
    _flatten("lib", libraries, row)
    evaluation = dict(metrics.get("evaluation") or {})
    for name in (
        "preference_accuracy",
        "mean_margin",
        "likelihood_accuracy_base",
        "likelihood_accuracy_tuned",
        "likelihood_accuracy_gain",
    ):
        _flatten(name, evaluation.pop(name, {}), row)
    for name in ("n_pairs", "n_raters", "n_items", "n_responses", "item_unit", "seconds"):
        row[f"eval_{name}"] = evaluation.get(name)
    row["moved"] = metrics.get("moved")
    row["moved_heldout_pairs"] = evaluation.get("moved")
    gain = metrics.get("grpo_reward_gain") or {}
    if gain.get("reward_gain"):
        _flatten("grpo_reward_gain", gain["reward_gain"], row)
        row["grpo_moved"] = gain.get("moved")
    for dimension, fit in (metrics.get("reward_model") or {}).items():
        for part in ("train", "held_out"):
            for stat in ("r2", "spearman"):
                row[f"rm_{dimension}_{part}_{stat}"] = fit[part][stat]
    training = metrics.get("training") or {}
    for name in ("seconds", "seconds_per_step", "tokens", "engine"):
        row[f"train_{name}"] = training.get(name)
    row["wall_seconds"] = provenance.get("wall_seconds")
    row["device"] = provenance.get("device")
    return row


def finished_folders(root: Path | None = None) -> list[Path]:
    base = store.runs_root(root)
    if not base.is_dir():
        return []
    return [folder for folder in sorted(base.iterdir()) if store.is_finished(folder)]


def load_runs(
    profile: str | None = None, root: Path | None = None, folders: Iterable[Path] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, training logs) from the store: one row per run, and one row per logged step.

    With a `profile`, only the runs of that profile's experiments are read; a run made by other
    code or library versions of the same experiment is kept with `current = False` (its spec
    differs only in version fields), so a chapter can show it and say so.
    """
    chosen = list(folders) if folders is not None else finished_folders(root)
    current_ids: set[str] | None = None
    wanted: set[str] | None = None
    if profile is not None:
        specs = load_profile(profile).specs
        current_ids = {spec.run_id for spec in specs}
        wanted = {experiment_key(spec) for spec in specs}
    rows, logs = [], []
    for folder in chosen:
        spec = store.read_spec(folder)
        if wanted is not None and experiment_key(spec) not in wanted:
            continue
        row = run_row(folder)
        row["current"] = current_ids is None or spec.run_id in current_ids
        rows.append(row)
        log_path = folder / store.LOG_FILE
        if log_path.is_file() and log_path.stat().st_size:
            log = pd.read_csv(log_path)
            logs.append(log.assign(run_id=spec.run_id, label=spec.label))
    runs = pd.DataFrame(rows)
    return runs, (pd.concat(logs, ignore_index=True) if logs else pd.DataFrame())


def spec_of(folder: Path) -> RunSpec:
    """The spec a run folder was made from."""
    data = json.loads((Path(folder) / store.SPEC_FILE).read_text())
    data.pop("run_id", None)
    data.pop("label", None)
    return spec_from_dict(data)
