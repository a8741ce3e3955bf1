"""One driver for chapters 05 and 06: sample and score every model of a sweep profile and the base
model, doing only what is missing, and return one tidy score table.

`collect_behaviour(profile)`:

1. finds the profile's finished runs in the run store (runs not trained yet are listed and
   skipped); if a run lacks both samples and its adapter, stops with `MissingAdapterError` naming
   every such run before any work starts;
2. generates the missing samples of each run (its held-out prompts, seeded with the run's seed),
   then those of the base model, once per (prompt set, seed) the runs use;
3. scores every model's samples with its dataset's scorers (recomputed only when they change);
4. returns the scores, one row per (model, dataset, prompt, sample, metric), with each model's
   condition: `TABLE_COLUMNS`. Base-model rows have `kind == "base"`, `group == "base"` and no
   condition; they appear once per dataset whose runs they answer the prompts of. `base_key` names
   the base model of every row (a tuned model's base; the base model itself), so statistics
   compare each model with its own base.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pluralign.behaviour import samples as samples_store
from pluralign.behaviour.prompts import evaluation_prompts
from pluralign.behaviour.scores import ScorerSuite, ensure_scores, scorer_suite, scores_are_current
from pluralign.behaviour.settings import BehaviourSettings, load_settings
from pluralign.train import store
from pluralign.train.spec import RunSpec, load_profile

#: Columns of the tidy score table.
TABLE_COLUMNS = [
    "model",
    "label",
    "kind",
    "base_key",
    "dataset",
    "group",
    "contrast",
    "scale",
    "aggregation",
    "values",
    "optimiser",
    "seed",
    "prompt_id",
    "sample",
    "scorer",
    "metric",
    "score",
]
TUNED = "tuned"
BASE = "base"


@dataclass
class RunEntry:
    """A finished run of the profile and where its samples go."""

    spec: RunSpec
    folder: Path
    samples_dir: Path
    prompts: pd.DataFrame | None = None


@dataclass
class BaseEntry:
    """The base model answering one prompt set with one seed, for the runs of some datasets."""

    base_model: str
    base_model_sha256: str
    seed: int
    prompts: pd.DataFrame
    samples_dir: Path
    datasets: set[str] = field(default_factory=set)

    @property
    def model_key(self) -> str:
        return samples_store.base_key(self.base_model_sha256)


def run_descriptors(spec: RunSpec) -> dict[str, Any]:
    """A run's columns in the score table."""
    return {
        "model": spec.run_id,
        "label": spec.label,
        "kind": TUNED,
        "base_key": samples_store.base_key(spec.base_model_sha256),
        "dataset": spec.dataset,
        "group": spec.group,
        "contrast": "/".join(sorted(spec.contrast)),
        "scale": spec.scale,
        "aggregation": spec.aggregation,
        "values": spec.values,
        "optimiser": spec.optimiser,
        "seed": spec.seed,
    }


def base_descriptors(entry: BaseEntry, dataset: str) -> dict[str, Any]:
    """The base model's columns in the score table (no condition)."""
    return {
        "model": entry.model_key,
        "label": f"base/{entry.base_model}/seed{entry.seed}",
        "kind": BASE,
        "base_key": entry.model_key,
        "dataset": dataset,
        "group": BASE,
        "contrast": None,
        "scale": None,
        "aggregation": None,
        "values": None,
        "optimiser": None,
        "seed": entry.seed,
    }


def _prompt_table(samples: pd.DataFrame) -> pd.DataFrame:
    """The prompt set of a samples table, in its order."""
    columns = ["prompt_id", "prompt", "prompt_source"]
    return samples.drop_duplicates("prompt_id")[columns].reset_index(drop=True)


class _BaseModels:
    """Base models loaded on first use, once per process call."""

    def __init__(self, device: str | None) -> None:
        self.device = device
        self.loaded: dict[str, tuple[Any, Any]] = {}

    def get(self, name: str) -> tuple[Any, Any]:
        if name not in self.loaded:
            from pluralign.models.base import load_base

            self.loaded[name] = load_base(name, device=self.device)
        return self.loaded[name]


def find_runs(
    profile: str,
    settings: BehaviourSettings,
    root: Path | None = None,
    datasets: list[str] | None = None,
) -> tuple[list[RunEntry], list[RunSpec]]:
    """(the profile's finished runs, its specs not in the store yet)."""
    entries, absent = [], []
    for spec in load_profile(profile, datasets=datasets).specs:
        folder = store.find_run(spec, root)
        if folder is None:
            absent.append(spec)
        else:
            entries.append(RunEntry(spec, folder, samples_store.run_samples_dir(folder, settings)))
    return entries, absent


def check_adapters(entries: list[RunEntry], profile: str) -> None:
    """Raise `MissingAdapterError` listing every run that lacks both its samples and adapter."""
    problems = []
    for entry in entries:
        if samples_store.is_complete(entry.samples_dir):
            continue
        try:
            samples_store.check_adapter(entry.folder, entry.spec, profile)
        except samples_store.MissingAdapterError as error:
            problems.append(str(error))
    if problems:
        raise samples_store.MissingAdapterError("\n".join(problems))


def _base_entries(
    entries: list[RunEntry], settings: BehaviourSettings, root: Path | None
) -> list[BaseEntry]:
    """One base entry per (base model, prompt set, seed) that the runs use."""
    bases: dict[tuple[str, str, int], BaseEntry] = {}
    for entry in entries:
        assert entry.prompts is not None
        spec = entry.spec
        key = (spec.base_model_sha256, samples_store.prompts_key(entry.prompts), spec.seed)
        if key not in bases:
            folder = samples_store.base_samples_dir(
                spec.base_model_sha256, settings, entry.prompts, spec.seed, root
            )
            bases[key] = BaseEntry(
                spec.base_model, spec.base_model_sha256, spec.seed, entry.prompts, folder
            )
        bases[key].datasets.add(spec.dataset)
    return list(bases.values())


def _generate_run(entry: RunEntry, settings: BehaviourSettings, models: _BaseModels, profile: str):
    spec = entry.spec
    adapter = samples_store.check_adapter(entry.folder, spec, profile)
    base, tokenizer = models.get(spec.base_model)
    model = samples_store.adapted_model(base, adapter)
    assert entry.prompts is not None
    table, timing = samples_store.generate_samples(
        model, tokenizer, entry.prompts, settings, spec.seed, spec.run_id
    )
    del model
    metadata = samples_store.samples_metadata(
        spec.run_id,
        TUNED,
        settings,
        entry.prompts,
        spec.seed,
        timing,
        {
            "run_id": spec.run_id,
            "label": spec.label,
            "base_model": spec.base_model,
            "base_model_sha256": spec.base_model_sha256,
            "adapter_sha256": samples_store.adapter_digest(adapter),
        },
    )
    samples_store.write_samples(entry.samples_dir, table, metadata)


def _generate_base(entry: BaseEntry, settings: BehaviourSettings, models: _BaseModels) -> None:
    from pluralign.models.base import model_provenance

    model, tokenizer = models.get(entry.base_model)
    table, timing = samples_store.generate_samples(
        model, tokenizer, entry.prompts, settings, entry.seed, entry.model_key
    )
    metadata = samples_store.samples_metadata(
        entry.model_key,
        BASE,
        settings,
        entry.prompts,
        entry.seed,
        timing,
        {
            "base_model": entry.base_model,
            "base_model_sha256": entry.base_model_sha256,
            "base_model_provenance": model_provenance(entry.base_model),
        },
    )
    samples_store.write_samples(entry.samples_dir, table, metadata)


def _progress(enabled: bool) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[done]}/{task.fields[count]} steps"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    return Progress(*columns, console=Console(stderr=True), disable=not enabled)


def collect_behaviour(
    profile: str,
    root: Path | None = None,
    progress: bool = True,
    datasets: list[str] | None = None,
    device: str | None = None,
) -> pd.DataFrame:
    """The tidy score table of every finished run of `profile` and of the base model (see the
    module docstring), generating and scoring only what is missing; without `progress`, quietly
    (no library warnings or bars: a chapter shows none)."""
    from pluralign.models.base import quiet_libraries

    with contextlib.nullcontext() if progress else quiet_libraries():
        return _collect_behaviour(profile, root, progress, datasets, device)


def _collect_behaviour(
    profile: str,
    root: Path | None,
    progress: bool,
    datasets: list[str] | None,
    device: str | None,
) -> pd.DataFrame:
    from rich.console import Console

    console = Console(stderr=True)
    settings = load_settings(profile)
    entries, absent = find_runs(profile, settings, root, datasets)
    if absent and progress:
        console.print(f"[yellow]{len(absent)} runs not trained yet, skipped:[/]")
        for spec in absent:
            console.print(f"  {spec.label} ({spec.run_id})", highlight=False)
    check_adapters(entries, profile)

    for entry in entries:
        if samples_store.is_complete(entry.samples_dir):
            entry.prompts = _prompt_table(samples_store.read_samples(entry.samples_dir)[0])
        else:
            entry.prompts = evaluation_prompts(entry.spec, settings.prompts)
    bases = _base_entries(entries, settings, root)
    suites: dict[str, ScorerSuite] = {
        dataset: scorer_suite(dataset, settings, root)
        for dataset in sorted({entry.spec.dataset for entry in entries})
    }

    def cost(prompts: pd.DataFrame, generate: bool) -> float:
        """A rough cost for the ETA: tokens to generate; scoring costs a tenth of that."""
        rows = len(prompts) * settings.samples
        return rows * settings.max_new_tokens * (1.0 if generate else 0.1)

    # generation: (label, weight, what); scoring: (label, weight, samples folder, suites)
    generation: list[tuple[str, float, RunEntry | BaseEntry]] = []
    scoring: list[tuple[str, float, Path, list[ScorerSuite]]] = []
    for entry in entries:
        assert entry.prompts is not None
        if not samples_store.is_complete(entry.samples_dir):
            generation.append((f"sampling {entry.spec.label}", cost(entry.prompts, True), entry))
        scoring.append(
            (
                f"scoring {entry.spec.label}",
                cost(entry.prompts, False),
                entry.samples_dir,
                [suites[entry.spec.dataset]],
            )
        )
    for base in bases:
        name = f"base seed {base.seed} for {', '.join(sorted(base.datasets))}"
        if not samples_store.is_complete(base.samples_dir):
            generation.append((f"sampling {name}", cost(base.prompts, True), base))
        suite = [suites[dataset] for dataset in sorted(base.datasets)]
        scoring.append((f"scoring {name}", cost(base.prompts, False), base.samples_dir, suite))
    stale = {label for label, _, folder, suite in scoring if not scores_are_current(folder, suite)}
    count = len(generation) + len(stale)
    total = sum(w for _, w, _ in generation) + sum(
        weight for label, weight, _, _ in scoring if label in stale
    )

    models = _BaseModels(device)
    stored: dict[Path, pd.DataFrame] = {}
    with _progress(progress and count > 0) as bar:
        task = bar.add_task(f"behaviour {profile}", total=total or 1, done=0, count=count)
        done = 0
        for label, weight, item in generation:
            bar.update(task, description=label)
            if isinstance(item, RunEntry):
                _generate_run(item, settings, models, profile)
            else:
                _generate_base(item, settings, models)
            done += 1
            bar.update(task, advance=weight, done=done)
        for label, weight, folder, suite in scoring:
            bar.update(task, description=label)
            stored[folder] = ensure_scores(folder, suite)
            if label in stale:
                done += 1
                bar.update(task, advance=weight, done=done)

    tables = [stored[entry.samples_dir].assign(**run_descriptors(entry.spec)) for entry in entries]
    for base in bases:
        scores = stored[base.samples_dir]
        for dataset in sorted(base.datasets):
            part = scores[scores["dataset"] == dataset].drop(columns="dataset")
            tables.append(part.assign(**base_descriptors(base, dataset)))
    if not tables:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    table = pd.concat(tables, ignore_index=True)[TABLE_COLUMNS]
    table["seed"] = table["seed"].astype(int)
    table["sample"] = table["sample"].astype(int)
    return table


def behaviour_samples(
    profile: str, root: Path | None = None, datasets: list[str] | None = None
) -> pd.DataFrame:
    """The stored samples (texts) of the profile's runs and of the base model, with each model's
    condition (the columns of `TABLE_COLUMNS` up to `seed`); reads only, generates nothing (run
    `collect_behaviour` first). Base rows appear once per dataset, as in the score table."""
    settings = load_settings(profile)
    entries, _ = find_runs(profile, settings, root, datasets)
    tables = []
    sampled = []
    for entry in entries:
        if not samples_store.is_complete(entry.samples_dir):
            continue
        table, _ = samples_store.read_samples(entry.samples_dir)
        tables.append(table.drop(columns="model").assign(**run_descriptors(entry.spec)))
        entry.prompts = _prompt_table(table)
        sampled.append(entry)
    for base in _base_entries(sampled, settings, root):
        if not samples_store.is_complete(base.samples_dir):
            continue
        table, _ = samples_store.read_samples(base.samples_dir)
        for dataset in sorted(base.datasets):
            tables.append(table.drop(columns="model").assign(**base_descriptors(base, dataset)))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
