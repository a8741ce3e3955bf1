"""One run: spec in, run folder out (`run(spec)`), with no state beyond the spec.

Steps: load the ratings the condition reads and check their sha256 against the spec; split items
into train and held-out; build, balance and cap the pairs; fit the group's reward model; train a
LoRA adapter with DPO or GRPO; evaluate on held-out pairs (and, for GRPO, the group's reward of
sampled replies on held-out prompts); write everything into the run folder atomically.
"""

from __future__ import annotations

import contextlib
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from pluralign.pairs.build import ratings_for_scale
from pluralign.provenance import git_commit
from pluralign.train import store
from pluralign.train.inputs import run_inputs
from pluralign.train.reward import fit_reward_model
from pluralign.train.spec import RunSpec, SpecError


def _git_commit() -> dict[str, Any]:
    """The checkout's commit and whether it had uncommitted changes (None outside git)."""
    commit = git_commit()
    return {"commit": commit.sha, "dirty": commit.dirty}


def hardware() -> dict[str, Any]:
    """The machine a run ran on."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    with contextlib.suppress(OSError):
        info["load_average"] = [round(value, 2) for value in os.getloadavg()]
    return info


def _tidy_pairs(table: pd.DataFrame) -> pd.DataFrame:
    """A pair table ready for parquet: texts dropped, rater lists joined."""
    result = table.drop(columns=[c for c in ("prompt", "chosen", "rejected") if c in table])
    if "raters" in result:
        result = result.assign(raters=result["raters"].map(lambda names: ";".join(map(str, names))))
    return result


def execute(spec: RunSpec, folder: Path) -> None:
    """Do the run and write its files into `folder` (a temporary folder; see `store`)."""
    from pluralign.models.base import default_device, load_base, model_provenance
    from pluralign.train.dpo import train_dpo
    from pluralign.train.grpo import generation_prompts, reward_gain, train_grpo
    from pluralign.train.heldout import evaluate_run

    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    timings: dict[str, float] = {}

    ratings = ratings_for_scale(spec.dataset, spec.scale)
    if str(ratings.attrs.get("sha256", "")) != spec.data_sha256:
        raise SpecError(
            f"{spec.dataset}: the data's sha256 is {ratings.attrs.get('sha256')}, the spec says "
            f"{spec.data_sha256}; rebuild the specs from the profile"
        )
    inputs = run_inputs(spec, ratings)
    if inputs.train_pairs.empty:
        raise SpecError(f"{spec.label}: no training pairs")
    held_responses = set(inputs.split.response_is_held_out(ratings).loc[lambda s: s].index)
    timings["inputs"] = time.perf_counter() - started

    mark = time.perf_counter()
    reward_model = fit_reward_model(
        ratings, spec.group, spec.scale, spec.values, held_responses, spec.hyper.reward_alphas
    )
    reward_model.save(folder / store.REWARD_MODEL_DIR)
    timings["reward_model"] = time.perf_counter() - mark

    mark = time.perf_counter()
    device = default_device()
    model, tokenizer = load_base(spec.base_model, device=device)
    timings["load_model"] = time.perf_counter() - mark

    log_path = folder / store.LOG_FILE
    work_dir = folder / ".trainer"
    grpo_eval: dict[str, Any] | None = None
    reference_key = (
        spec.base_model_sha256,
        device,
        spec.hyper.max_prompt_tokens,
        spec.hyper.max_response_tokens,
    )
    mark = time.perf_counter()
    if spec.optimiser == "dpo":
        result = train_dpo(
            model,
            tokenizer,
            inputs.train_pairs,
            spec.hyper,
            spec.seed,
            log_path,
            work_dir,
            reference_key=reference_key,
        )
    else:
        train_prompts, held_prompts = generation_prompts(ratings, inputs.split, spec.held_out)
        result = train_grpo(
            model, tokenizer, train_prompts, reward_model, spec.hyper, spec.seed, log_path, work_dir
        )
    timings["train"] = time.perf_counter() - mark

    mark = time.perf_counter()
    evaluation, scored, responses = evaluate_run(
        result.model,
        tokenizer,
        inputs.eval_pairs,
        spec.hyper,
        inputs.split.unit,
        spec.seed,
        reference_key=reference_key,
    )
    timings["evaluate"] = time.perf_counter() - mark
    if spec.optimiser == "grpo":
        mark = time.perf_counter()
        grpo_eval = reward_gain(
            result.model,
            tokenizer,
            held_prompts[:16],
            reward_model,
            spec.hyper,
            spec.seed,
            bootstrap_samples=spec.hyper.bootstrap_samples,
        )
        timings["reward_gain"] = time.perf_counter() - mark

    result.model.save_pretrained(folder / store.ADAPTER_DIR)
    if work_dir.exists():
        import shutil

        shutil.rmtree(work_dir, ignore_errors=True)
    _tidy_pairs(scored).to_parquet(folder / "eval_pairs.parquet", index=False)
    responses.to_parquet(folder / "eval_responses.parquet", index=False)
    _tidy_pairs(inputs.train_pairs).to_parquet(folder / "train_pairs.parquet", index=False)

    moved = bool(evaluation.get("moved")) or bool(grpo_eval and grpo_eval.get("moved"))
    metrics = {
        "run_id": spec.run_id,
        "label": spec.label,
        "moved": moved,
        "evaluation": evaluation,
        "grpo_reward_gain": grpo_eval,
        "training": {
            "steps": result.steps,
            "tokens": result.tokens,
            "seconds": round(result.seconds, 2),
            "seconds_per_step": round(result.seconds / max(result.steps, 1), 3),
            **result.details,
        },
        "reward_model": reward_model.card["fit"],
        "counts": inputs.counts,
    }
    store.write_json(folder / store.METRICS_FILE, metrics)
    wall = time.perf_counter() - started
    provenance = {
        "run_id": spec.run_id,
        "started": started_at,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 2),
        "timings_seconds": {key: round(value, 2) for key, value in timings.items()},
        "device": device,
        "dtype": str(next(result.model.parameters()).dtype),
        "hardware": hardware(),
        "libraries": spec.libraries.__dict__ if spec.libraries else None,
        "git": _git_commit(),
        "base_model": model_provenance(spec.base_model),
        "data": {"dataset": spec.dataset, "sha256": spec.data_sha256},
        "code_version": spec.code_version,
    }
    store.write_json(folder / store.PROVENANCE_FILE, provenance)


def run(spec: RunSpec, root: Path | None = None) -> Path:
    """The finished run folder of `spec`: from the store if there, else trained now."""
    found = store.find_run(spec, root)
    if found is not None:
        return found
    return store.build_atomically(spec, lambda folder: execute(spec, folder), root)
