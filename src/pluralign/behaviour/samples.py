"""Sampled answers of a fine-tuned model (or of the base model) to its evaluation prompts, stored
beside the run.

Layout in the run store (`results/runs/` or `PLURALIGN_RUNS_DIR`):

- a run: `<run_id>/behaviour/<settings_key>/` holding `samples.parquet` and `samples.json`
  (settings, prompt ids, seconds, tokens/s, hardware), later `scores.parquet` and `scores.json`;
- the base model: `base-<sha12>/behaviour/<settings_key>/<prompts_key>-seed<seed>/`, the same
  files, where `sha12` starts the base model's provenance hash (the spec's `base_model_sha256`)
  and `prompts_key` hashes the prompt set. The base answers each prompt set once per seed; runs
  of several datasets with the same prompts share it.

A samples folder is built in a temporary sibling and renamed into place when complete, so an
interrupted generation leaves nothing that looks finished. A run's samples need its LoRA adapter
(`adapter/`, not committed): when both are missing, `MissingAdapterError` names the run and the
commands that recreate it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pluralign import files
from pluralign.behaviour.settings import BehaviourSettings
from pluralign.files import file_sha256
from pluralign.train import store
from pluralign.train.spec import RunSpec

BEHAVIOUR_DIR = "behaviour"
SAMPLES_FILE = "samples.parquet"
SAMPLES_META = "samples.json"
BASE_PREFIX = "base-"
SAMPLE_COLUMNS = [
    "model",
    "prompt_id",
    "prompt",
    "prompt_source",
    "sample",
    "seed",
    "row_seed",
    "response",
    "generated_tokens",
    "stopped_at_eos",
]


class MissingAdapterError(FileNotFoundError):
    """A run whose samples must be generated but whose LoRA adapter is not in its folder."""


# --------------------------------------------------------------------------------------------
# keys and folders


def base_key(base_model_sha256: str) -> str:
    """The `model` key of a base model: `base-` and the first 12 digits of its provenance hash."""
    return f"{BASE_PREFIX}{base_model_sha256[:12]}"


def prompts_key(prompts: pd.DataFrame) -> str:
    """12 hex digits of the sha256 of the prompt set (ids and texts, in order)."""
    rows = [[str(i), str(p)] for i, p in zip(prompts["prompt_id"], prompts["prompt"], strict=True)]
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()[:12]


def run_samples_dir(run_folder: Path, settings: BehaviourSettings) -> Path:
    return Path(run_folder) / BEHAVIOUR_DIR / settings.settings_key


def base_samples_dir(
    base_model_sha256: str,
    settings: BehaviourSettings,
    prompts: pd.DataFrame,
    seed: int,
    root: Path | None = None,
) -> Path:
    folder = store.runs_root(root) / base_key(base_model_sha256) / BEHAVIOUR_DIR
    return folder / settings.settings_key / f"{prompts_key(prompts)}-seed{seed}"


def is_complete(folder: Path) -> bool:
    """A finished samples folder (both files are written before the folder is renamed)."""
    return (Path(folder) / SAMPLES_FILE).is_file() and (Path(folder) / SAMPLES_META).is_file()


def read_samples(folder: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The samples table and its metadata."""
    folder = Path(folder)
    return pd.read_parquet(folder / SAMPLES_FILE), json.loads((folder / SAMPLES_META).read_text())


def write_json_atomically(path: Path, data: Any) -> None:
    """Write JSON to a temporary file beside `path`, then replace `path` with it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def write_parquet_atomically(path: Path, table: pd.DataFrame) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    table.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def build_folder_atomically(final: Path, build: Callable[[Path], None]) -> Path:
    """Run `build(tmp)` in a fresh temporary sibling of `final`, then rename it to `final`.

    If `build` raises, the temporary folder is removed and `final` does not appear. A complete
    `final` written meanwhile by another process is kept; an incomplete one is replaced.
    Temporaries that killed processes left beside `final` are removed first.
    """
    final = Path(final)
    files.remove_stale_temporaries(final)

    def build_samples(tmp: Path) -> None:
        build(tmp)
        if not is_complete(tmp):
            raise RuntimeError(f"building {final} did not write {SAMPLES_FILE} and {SAMPLES_META}")

    return files.build_folder_atomically(final, build_samples, is_complete)


# --------------------------------------------------------------------------------------------
# models


def recreate_command(run_folder: Path, profile: str) -> str:
    """The commands that recreate a run's adapter and then its samples."""
    return (
        f"rm -r {run_folder} && pluralign sweep --profile {profile} && "
        f"pluralign behaviour --profile {profile}"
    )


def check_adapter(run_folder: Path, spec: RunSpec, profile: str) -> Path:
    """The run's adapter folder; `MissingAdapterError` (naming the run and the fix) if absent."""
    adapter = Path(run_folder) / store.ADAPTER_DIR
    if not (adapter / "adapter_config.json").is_file():
        raise MissingAdapterError(
            f"run {spec.label} ({spec.run_id}) has no behaviour samples for these settings and "
            f"its LoRA adapter is missing ({adapter}; adapters are not committed). Recreate the "
            f"run, then its samples: {recreate_command(run_folder, profile)}"
        )
    return adapter


def adapted_model(base: Any, adapter: Path) -> Any:
    """A copy of `base` with the run's LoRA adapter merged into its weights (`base` untouched)."""
    from peft import PeftModel

    model = PeftModel.from_pretrained(copy.deepcopy(base), str(adapter))
    return model.merge_and_unload().eval()


def adapter_digest(adapter: Path) -> dict[str, str]:
    """sha256 of each file of an adapter folder (provenance of the samples)."""
    return {
        path.name: file_sha256(path) for path in sorted(Path(adapter).iterdir()) if path.is_file()
    }


# --------------------------------------------------------------------------------------------
# generation


def generate_samples(
    model: Any,
    tokenizer: Any,
    prompts: pd.DataFrame,
    settings: BehaviourSettings,
    seed: int,
    model_key: str,
    progress: bool = False,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """`settings.samples` sampled answers per prompt (batched, seeded), and timing figures.

    Each prompt is one user turn (as in training). Sample `k` of a prompt is its `k`-th repeat, so
    its noise depends only on (seed, prompt, k): tuned and base models draw the same noise.
    """
    import torch

    from pluralign.models.generate import generate_responses
    from pluralign.train.sequences import prompt_messages

    rows = [
        (prompt_id, prompt, source, k)
        for prompt_id, prompt, source in zip(
            prompts["prompt_id"], prompts["prompt"], prompts["prompt_source"], strict=True
        )
        for k in range(settings.samples)
    ]
    conversations = [prompt_messages(prompt) for _, prompt, _, _ in rows]
    device = next(model.parameters()).device
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    results = generate_responses(
        model,
        tokenizer,
        conversations,
        None,
        max_new_tokens=settings.max_new_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
        seed=seed,
        batch_size=settings.batch_size,
        progress=progress,
    )
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    table = pd.DataFrame(
        {
            "model": model_key,
            "prompt_id": [row[0] for row in rows],
            "prompt": [row[1] for row in rows],
            "prompt_source": [row[2] for row in rows],
            "sample": [row[3] for row in rows],
            "seed": seed,
            "row_seed": [result.row_seed for result in results],
            "response": [result.text for result in results],
            "generated_tokens": [result.num_generated_tokens for result in results],
            "stopped_at_eos": [result.stopped_at_eos for result in results],
        },
        columns=SAMPLE_COLUMNS,
    )
    tokens = int(table["generated_tokens"].sum())
    timing = {
        "seconds": round(seconds, 3),
        "generated_tokens": tokens,
        "tokens_per_s": round(tokens / seconds, 2) if seconds > 0 else None,
        "batch_size": settings.batch_size,
        "device": str(device),
        "dtype": str(next(model.parameters()).dtype),
        "torch_threads": torch.get_num_threads(),
    }
    return table, timing


def samples_metadata(
    model_key: str,
    kind: str,
    settings: BehaviourSettings,
    prompts: pd.DataFrame,
    seed: int,
    timing: dict[str, Any],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """What `samples.json` records: the model, settings, prompts, timing, hardware, libraries."""
    import importlib.metadata

    from pluralign.train.runner import hardware

    libraries = {
        name: importlib.metadata.version(name) for name in ("torch", "transformers", "peft")
    }
    return {
        "model": model_key,
        "kind": kind,
        "seed": seed,
        "settings": settings.to_dict(),
        "settings_key": settings.settings_key,
        "prompt_ids": [str(value) for value in prompts["prompt_id"]],
        "prompt_source": str(prompts["prompt_source"].iloc[0]) if len(prompts) else None,
        "prompts_key": prompts_key(prompts),
        "generation": timing,
        "hardware": hardware(),
        "libraries": libraries,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        **extra,
    }


def write_samples(
    final: Path, table: pd.DataFrame, metadata: dict[str, Any]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Store a samples table and its metadata as the folder `final` (atomically)."""

    def build(tmp: Path) -> None:
        table.to_parquet(tmp / SAMPLES_FILE, index=False)
        (tmp / SAMPLES_META).write_text(
            json.dumps(metadata, indent=2, sort_keys=True, default=str) + "\n"
        )

    build_folder_atomically(final, build)
    return read_samples(final)
