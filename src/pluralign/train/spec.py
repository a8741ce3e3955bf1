"""What determines a fine-tuning run: the `RunSpec`, its id, and the sweep profiles that list them.

A run is a pure function of its spec: the data (by sha256), the group and the groups it is
balanced with, the condition, the optimiser, the base model (by provenance hash), every
hyper-parameter, the seed, the held-out design, the library versions and the code version of the
training package. `run_id` hashes the spec's canonical JSON, so a change to any of them is a new
run and an unchanged spec is a cache hit. Profiles (`configs/sweeps/<name>.yml`) are data: they
are parsed here into validated specs, never into per-group code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pluralign.config import ConfigError, Overrides, load_config
from pluralign.pairs.build import Condition, PairsError, ratings_for_scale, select_group
from pluralign.paths import project_root

OPTIMISERS = ("dpo", "grpo")
HELD_OUT_UNITS = ("auto", "prompt", "response")
DPO_ENGINES = ("trl", "fast")
PROFILES = ("smoke", "quick", "design", "full")
#: Libraries whose versions are part of every spec (a different version is a different run).
SPEC_LIBRARIES = ("torch", "transformers", "trl", "peft")
#: Length of `run_id` (hex digits of the spec's sha256).
RUN_ID_LENGTH = 16


class SpecError(ValueError):
    """A profile or spec that cannot describe a run (unknown field, bad value, missing data)."""


@dataclass(frozen=True)
class HyperParams:
    """Every training and evaluation setting of a run (the profile's `hyper:` block)."""

    steps: int = 32
    learning_rate: float = 5e-4
    batch_size: int = 8
    max_prompt_tokens: int = 64
    max_response_tokens: int = 64
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    #: LoRA only in the top this-many decoder layers (None: every layer). Backpropagation then
    #: stops at the lowest adapted layer, and the fast engine reuses the frozen layers' states.
    lora_top_layers: int | None = None
    dpo_beta: float = 0.1
    #: `trl`: TRL's DPOTrainer (the reference run path); `fast`: the project's plain PyTorch loop.
    dpo_engine: str = "trl"
    grpo_generations: int = 4
    grpo_max_completion_tokens: int = 32
    grpo_beta: float = 0.0
    grpo_temperature: float = 1.0
    #: Training pairs kept after balancing (None: steps × batch size, i.e. one pass, no reuse).
    pair_cap: int | None = None
    #: Held-out pairs evaluated (seeded subsample above this; the cost is per held-out response).
    eval_pair_cap: int = 20000
    bootstrap_samples: int = 1000
    #: Ridge penalty grid of the reward models (chosen by leave-one-out on training items).
    reward_alphas: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise SpecError("steps and batch_size must be at least 1")
        if self.dpo_engine not in DPO_ENGINES:
            raise SpecError(f"dpo_engine must be one of {DPO_ENGINES}, got {self.dpo_engine!r}")
        if self.grpo_generations < 2:
            raise SpecError(
                "grpo_generations must be at least 2 (GRPO compares a prompt's samples)"
            )

    @property
    def training_pairs(self) -> int:
        """How many training pairs a run keeps: `pair_cap`, else one pass of the steps."""
        return self.pair_cap if self.pair_cap is not None else self.steps * self.batch_size


@dataclass(frozen=True)
class HeldOutDesign:
    """How items are held out: by `prompt`, by `response`, or `auto` (prompts when a dataset has
    at least `min_prompts` of them, else responses); a stable hash of (salt, item) decides."""

    unit: str = "auto"
    fraction: float = 0.5
    salt: str = "pluralign-heldout-v1"
    min_prompts: int = 10

    def __post_init__(self) -> None:
        if self.unit not in HELD_OUT_UNITS:
            raise SpecError(f"held_out.unit must be one of {HELD_OUT_UNITS}, got {self.unit!r}")
        if not 0.0 < self.fraction < 1.0:
            raise SpecError("held_out.fraction must lie strictly between 0 and 1")


@dataclass(frozen=True)
class Libraries:
    """Versions of the libraries that shape a run's numbers."""

    torch: str
    transformers: str
    trl: str
    peft: str


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines one fine-tuning run (see the module docstring)."""

    dataset: str
    data_sha256: str
    group: str
    scale: str
    aggregation: str
    values: str
    optimiser: str
    base_model: str
    base_model_sha256: str
    seed: int
    hyper: HyperParams = field(default_factory=HyperParams)
    held_out: HeldOutDesign = field(default_factory=HeldOutDesign)
    #: The other groups of the contrast: all are balanced to equal pair counts before capping.
    balance_with: tuple[str, ...] = ()
    libraries: Libraries | None = None
    code_version: str = ""

    def __post_init__(self) -> None:

        Condition(self.scale, self.aggregation, self.values)  # validates the condition
        if self.optimiser not in OPTIMISERS:
            raise SpecError(f"optimiser must be one of {OPTIMISERS}, got {self.optimiser!r}")
        if self.group in self.balance_with:
            raise SpecError(f"group {self.group!r} cannot be balanced with itself")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def canonical_json(self) -> str:
        """The spec as sorted, compact JSON: what `run_id` hashes."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), default=str)

    @property
    def run_id(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:RUN_ID_LENGTH]

    @property
    def label(self) -> str:
        """A human-readable name (not an identity: two specs can share a label)."""
        return (
            f"{self.dataset}/{self.group}/{self.scale}-{self.aggregation}-{self.values}/"
            f"{self.optimiser}/seed{self.seed}"
        )

    @property
    def contrast(self) -> tuple[str, ...]:
        """The balanced groups, this one first."""
        return (self.group, *self.balance_with)


def spec_from_dict(data: dict[str, Any]) -> RunSpec:
    """A `RunSpec` from its `to_dict()` form (e.g. a run folder's spec.json)."""
    data = dict(data)
    hyper = dict(data.pop("hyper", {}))
    for key in ("lora_targets", "reward_alphas"):
        if key in hyper:
            hyper[key] = tuple(hyper[key])
    held_out = HeldOutDesign(**data.pop("held_out", {}))
    libraries = data.pop("libraries", None)
    data["balance_with"] = tuple(data.get("balance_with", ()))
    return RunSpec(
        **data,
        hyper=HyperParams(**hyper),
        held_out=held_out,
        libraries=Libraries(**libraries) if libraries else None,
    )


# --------------------------------------------------------------------------------------------
# versions


def library_versions() -> Libraries:
    """The installed versions of the libraries named in `SPEC_LIBRARIES`."""
    return Libraries(**{name: importlib.metadata.version(name) for name in SPEC_LIBRARIES})


def code_files() -> list[Path]:
    """The source files whose content is the training code's version: the modules of
    `pluralign/train/` that compute a run (not `NOT_CODE_VERSION`), the pair builder
    `pluralign/pairs/build.py` and the statistics package `pluralign/stats/` (the held-out
    intervals of every run)."""
    package = Path(__file__).resolve().parent
    files = [path for path in sorted(package.glob("*.py")) if path.name not in NOT_CODE_VERSION]
    statistics = sorted((package.parent / "stats").glob("*.py"))
    return [*files, package.parent / "pairs" / "build.py", *statistics]


#: Modules of the training package that cannot change a run's result: how specs are read
#: (`spec`; the spec itself is hashed), how runs are stored (`store`), the sweep loop, its report
#: and the re-keying.
NOT_CODE_VERSION = frozenset(
    {"spec.py", "store.py", "sweep.py", "report.py", "rekey.py", "__init__.py"}
)


@cache
def code_version() -> str:
    """sha256 over the names and contents of `code_files()` (computed once per process)."""
    digest = hashlib.sha256()
    for path in code_files():
        digest.update(f"{path.name}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


@cache
def base_model_sha256(name: str) -> str:
    """A hash of the base model's provenance record (for the embedded model, it includes the
    hash of the converted weights), so a different model or conversion is a different run."""
    from pluralign.models.base import model_provenance

    record = model_provenance(name)
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# profiles


def profile_path(profile: str) -> Path:
    """`configs/sweeps/<profile>.yml`, or `profile` itself if it is a path to a YAML file."""
    candidate = Path(profile)
    if candidate.suffix in (".yml", ".yaml") and candidate.is_file():
        return candidate
    path = project_root() / "configs" / "sweeps" / f"{profile}.yml"
    if not path.is_file():
        raise SpecError(f"no sweep profile {profile!r} (looked for {path})")
    return path


@dataclass(frozen=True)
class SkippedEntry:
    """A profile entry that gave no spec, and why (missing data, absent group)."""

    dataset: str
    group: str
    reason: str


@dataclass(frozen=True)
class SweepProfile:
    """A parsed sweep profile: its specs (in a stable order) and what it had to skip."""

    name: str
    description: str
    specs: tuple[RunSpec, ...]
    skipped: tuple[SkippedEntry, ...]
    budget_minutes: float | None


@dataclass(frozen=True)
class SweepConditions:
    """The conditions a block sweeps: every scale × aggregation × values listed."""

    scale: tuple[str, ...] = ("5pt",)
    aggregation: tuple[str, ...] = ("preserve",)
    values: tuple[str, ...] = ("multi",)


@dataclass(frozen=True)
class HyperByOptimiser:
    """Hyper-parameters that apply to one optimiser's runs only (over the profile's `hyper`)."""

    dpo: Overrides[HyperParams] = field(default_factory=Overrides)
    grpo: Overrides[HyperParams] = field(default_factory=Overrides)


@dataclass(frozen=True)
class SweepDatasetBlock:
    """One block of a dataset's entry: its groups or contrasts, and what it overrides of the
    profile's optimisers, conditions, `hyper` and `held_out`."""

    groups: tuple[str, ...] = ()
    contrasts: tuple[tuple[str, ...], ...] = ()
    optimisers: tuple[str, ...] | None = None
    conditions: Overrides[SweepConditions] = field(default_factory=Overrides)
    hyper: Overrides[HyperParams] = field(default_factory=Overrides)
    held_out: Overrides[HeldOutDesign] = field(default_factory=Overrides)


@dataclass(frozen=True)
class SweepConfig:
    """A sweep profile file (`configs/sweeps/<name>.yml`) as written, before specs are built.
    A dataset maps to one block or a list of blocks (e.g. DPO over every condition, GRPO over
    fewer); a block's settings override the profile's, key by key."""

    description: str = ""
    budget_minutes: float | None = None
    base_model: str = "smollm2-135m-instruct"
    seeds: tuple[int, ...] = (0,)
    optimisers: tuple[str, ...] = ("dpo",)
    conditions: Overrides[SweepConditions] = field(default_factory=Overrides)
    hyper: Overrides[HyperParams] = field(default_factory=Overrides)
    hyper_by_optimiser: HyperByOptimiser = field(default_factory=HyperByOptimiser)
    held_out: Overrides[HeldOutDesign] = field(default_factory=Overrides)
    datasets: dict[str, tuple[SweepDatasetBlock, ...]] = field(default_factory=dict)


def load_sweep_config(path: Path) -> SweepConfig:
    """The sweep profile file at `path`, validated (a bad key is a `SpecError` with its line)."""
    try:
        return load_config(path, SweepConfig)
    except ConfigError as error:
        raise SpecError(str(error)) from error


def _contrasts(block: SweepDatasetBlock, dataset: str) -> list[tuple[str, ...]]:
    """Each group to train with the groups it is balanced with: `contrasts: [[a, b], ...]` gives
    (a, b) and (b, a); `groups: [g, ...]` gives (g,) each."""
    result: list[tuple[str, ...]] = []
    for members in block.contrasts:
        if len(set(members)) != len(members) or len(members) < 2:
            raise SpecError(f"{dataset}: a contrast needs distinct groups, got {members}")
        for index, member in enumerate(members):
            result.append((member, *members[:index], *members[index + 1 :]))
    result.extend((group,) for group in block.groups)
    if not result:
        raise SpecError(f"{dataset}: give `groups` or `contrasts`")
    return result


def load_profile(profile: str, datasets: list[str] | None = None) -> SweepProfile:
    """Parse `configs/sweeps/<profile>.yml` into specs (optionally only some datasets).

    Each dataset is loaded once (its sha256 is part of the spec); a dataset that cannot be loaded
    (e.g. study-sim before its response corpus exists) and a group absent from a dataset are
    listed in `skipped`, not silently dropped. A contrast keeps only the members present.
    """

    path = profile_path(profile)
    config = load_sweep_config(path)
    base_model = config.base_model
    model_hash = base_model_sha256(base_model)
    libraries = library_versions()
    version = code_version()
    seeds = list(config.seeds)
    specs: list[RunSpec] = []
    skipped: list[SkippedEntry] = []
    entries = [(name, block) for name, blocks in config.datasets.items() for block in blocks]
    for dataset, block in entries:
        if datasets is not None and dataset not in datasets:
            continue
        hypers = {
            optimiser: HyperParams(
                **{**config.hyper, **getattr(config.hyper_by_optimiser, optimiser), **block.hyper}
            )
            for optimiser in OPTIMISERS
        }
        held_out = HeldOutDesign(**{**config.held_out, **block.held_out})
        conditions = SweepConditions(**{**config.conditions, **block.conditions})
        optimisers = list(block.optimisers if block.optimisers is not None else config.optimisers)
        contrasts = _contrasts(block, dataset)
        scales = conditions.scale
        hashes: dict[str, str] = {}
        present: dict[str, set[str]] = {}
        dimensions: dict[str, set[str]] = {}
        for scale in scales:
            try:
                ratings = ratings_for_scale(dataset, scale)
            except (FileNotFoundError, OSError, KeyError, ValueError) as error:
                for contrast in contrasts:
                    skipped.append(SkippedEntry(dataset, contrast[0], f"{scale}: {error}"))
                continue
            hashes[scale] = str(ratings.attrs.get("sha256", ""))
            dimensions[scale] = set(ratings["dimension"].unique())
            groups = {member for contrast in contrasts for member in contrast}
            present[scale] = set()
            for group in groups:
                try:
                    if not select_group(ratings, group).empty:
                        present[scale].add(group)
                except PairsError:
                    pass
        for scale in hashes:
            for contrast in contrasts:
                group = contrast[0]
                if group not in present[scale]:
                    skipped.append(SkippedEntry(dataset, group, f"no rater of {group!r}"))
                    continue
                partners = tuple(member for member in contrast[1:] if member in present[scale])
                for aggregation in conditions.aggregation:
                    for values in conditions.values:
                        if values != "multi" and values not in dimensions[scale]:
                            skipped.append(
                                SkippedEntry(dataset, group, f"no ratings on {values!r}")
                            )
                            continue
                        for optimiser in optimisers:
                            for seed in seeds:
                                specs.append(
                                    RunSpec(
                                        dataset=dataset,
                                        data_sha256=hashes[scale],
                                        group=group,
                                        balance_with=partners,
                                        scale=str(scale),
                                        aggregation=str(aggregation),
                                        values=str(values),
                                        optimiser=str(optimiser),
                                        base_model=base_model,
                                        base_model_sha256=model_hash,
                                        seed=seed,
                                        hyper=hypers[str(optimiser)],
                                        held_out=held_out,
                                        libraries=libraries,
                                        code_version=version,
                                    )
                                )
    repeated = sorted({s.label for s in specs if sum(t.run_id == s.run_id for t in specs) > 1})
    if repeated:
        raise SpecError(f"{path}: blocks of a dataset repeat the runs {repeated}")
    return SweepProfile(
        name=path.stem,
        description=config.description.strip(),
        specs=tuple(specs),
        skipped=tuple(skipped),
        budget_minutes=config.budget_minutes,
    )
