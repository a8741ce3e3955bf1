"""DPO with a LoRA adapter: TRL's DPOTrainer (the reference engine) and the project's fast loop.

Both train the same LoRA adapter with the same sigmoid DPO loss,
`−log σ(β·[(log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r))])`, AdamW with a linear decay
and gradient clipping at 1. The reference is the base with the adapter disabled (never a second
copy of the model), its log-probabilities are precomputed for the pairs the run uses only, and
gradient checkpointing is off (TRL turns it on by default; off is faster at these sizes). CUDA
runs in bf16, CPU in float32, on the same code path; everything is seeded by the spec.

The fast engine (`dpo_engine: fast`) is a plain PyTorch loop that also: computes the reference
once per distinct (prompt, response), not per pair; batches pairs of similar length; applies the
LM head at completion positions only; and, when LoRA sits in the top k layers only, caches the
frozen layers' hidden states from the reference pass so a training step runs only the top k
layers (checked against the full forward on the first batch, where the fresh adapter is a no-op).
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F  # noqa: N812

from pluralign.train.sequences import (
    Encoded,
    backbone,
    collate,
    completion_logps,
    encode,
    logps_from_layer,
    memoised_reference,
    pad_hidden,
    prompt_messages,
    truncate_texts,
)
from pluralign.train.spec import HyperParams

LOG_COLUMNS = [
    "step",
    "loss",
    "rewards_chosen",
    "rewards_rejected",
    "rewards_margins",
    "rewards_accuracies",
    "learning_rate",
    "grad_norm",
    "tokens",
    "seconds",
]
#: TRL's logged names → the training log's columns.
TRL_LOG_NAMES = {
    "loss": "loss",
    "rewards/chosen": "rewards_chosen",
    "rewards/rejected": "rewards_rejected",
    "rewards/margins": "rewards_margins",
    "rewards/accuracies": "rewards_accuracies",
    "learning_rate": "learning_rate",
    "grad_norm": "grad_norm",
    "num_tokens": "tokens",
    "reward": "reward",
    "reward_std": "reward_std",
    "kl": "kl",
}


@dataclass
class TrainResult:
    """The trained PEFT model and what training cost."""

    model: Any
    steps: int
    tokens: int
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)


class TrainingLog:
    """Writes one CSV row per optimiser step, flushed at once (a killed run shows its progress)."""

    def __init__(self, path: Path, columns: list[str] | None = None) -> None:
        self.path = path
        self.columns = columns or LOG_COLUMNS
        self.started = time.perf_counter()
        self._handle = path.open("w", newline="")
        self._writer = csv.DictWriter(self._handle, fieldnames=self.columns, extrasaction="ignore")
        self._writer.writeheader()
        self._handle.flush()

    def write(self, row: dict[str, Any]) -> None:
        row = {"seconds": round(time.perf_counter() - self.started, 3), **row}
        self._writer.writerow(row)
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def is_cuda(model: Any) -> bool:
    return next(model.parameters()).device.type == "cuda"


def lora_config(hyper: HyperParams, model: Any) -> Any:
    """The run's LoRA adapter: rank, alpha, dropout, target modules, and (optionally) only the top
    `lora_top_layers` decoder layers."""
    from peft import LoraConfig

    layers = None
    if hyper.lora_top_layers is not None:
        total = int(model.config.num_hidden_layers)
        layers = list(range(max(0, total - hyper.lora_top_layers), total))
    return LoraConfig(
        r=hyper.lora_r,
        lora_alpha=hyper.lora_alpha,
        lora_dropout=hyper.lora_dropout,
        target_modules=list(hyper.lora_targets),
        layers_to_transform=layers,
        bias="none",
        task_type="CAUSAL_LM",
    )


def preference_texts(
    tokenizer: Any, pairs: pd.DataFrame, hyper: HyperParams
) -> tuple[list[str], list[str], list[str]]:
    """Prompts, chosen and rejected texts truncated to the run's token limits."""
    return (
        truncate_texts(tokenizer, list(pairs["prompt"]), hyper.max_prompt_tokens),
        truncate_texts(tokenizer, list(pairs["chosen"]), hyper.max_response_tokens),
        truncate_texts(tokenizer, list(pairs["rejected"]), hyper.max_response_tokens),
    )


def train_dpo(
    model: Any,
    tokenizer: Any,
    pairs: pd.DataFrame,
    hyper: HyperParams,
    seed: int,
    log_path: Path,
    work_dir: Path,
    reference_key: tuple[Any, ...] | None = None,
) -> TrainResult:
    """Train a LoRA adapter on `pairs` with the spec's DPO engine (`reference_key`: memoise the
    fast engine's reference pass under this key; see `sequences.REFERENCE_MEMO`)."""
    if hyper.dpo_engine == "fast":
        return train_dpo_fast(model, tokenizer, pairs, hyper, seed, log_path, reference_key)
    return train_dpo_trl(model, tokenizer, pairs, hyper, seed, log_path, work_dir)


# --------------------------------------------------------------------------------------------
# TRL


def log_callback(log: TrainingLog) -> Any:
    """A transformers callback that copies each logged step into the training log."""
    from transformers import TrainerCallback

    class _Copy(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
            if logs and "loss" in logs:
                row = {TRL_LOG_NAMES.get(key, key): value for key, value in logs.items()}
                log.write({"step": state.global_step, **row})

    return _Copy()


def trl_dpo_config(
    hyper: HyperParams, seed: int, output_dir: Path, cuda: bool, tuned: bool = True
) -> Any:
    """TRL's DPOConfig for a run: the project's settings when `tuned`, else TRL's defaults apart
    from what must match for a comparison (steps, batch size, learning rate, β, seed)."""
    from trl import DPOConfig

    common = {
        "output_dir": str(output_dir),
        "max_steps": hyper.steps,
        "per_device_train_batch_size": hyper.batch_size,
        "learning_rate": hyper.learning_rate,
        "beta": hyper.dpo_beta,
        "seed": seed,
        "data_seed": seed,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": [],
        "disable_tqdm": True,
        "use_cpu": not cuda,
        "bf16": cuda,
    }
    if not tuned:
        return DPOConfig(**common)
    return DPOConfig(
        **common,
        gradient_checkpointing=False,
        precompute_ref_log_probs=True,
        precompute_ref_batch_size=32,
        max_length=None,
        dataloader_num_workers=0,
    )


def conversational_dataset(tokenizer: Any, pairs: pd.DataFrame, hyper: HyperParams) -> Any:
    """The pairs as TRL's conversational preference dataset (truncated texts)."""
    from datasets import Dataset

    prompts, chosen, rejected = preference_texts(tokenizer, pairs, hyper)
    return Dataset.from_dict(
        {
            "prompt": [prompt_messages(prompt) for prompt in prompts],
            "chosen": [[{"role": "assistant", "content": text}] for text in chosen],
            "rejected": [[{"role": "assistant", "content": text}] for text in rejected],
        }
    )


def train_dpo_trl(
    model: Any,
    tokenizer: Any,
    pairs: pd.DataFrame,
    hyper: HyperParams,
    seed: int,
    log_path: Path,
    work_dir: Path,
    tuned: bool = True,
) -> TrainResult:
    """TRL's DPOTrainer with a fresh LoRA adapter on `model` (ref_model=None: adapter disabled)."""
    from transformers import PrinterCallback, set_seed
    from trl import DPOTrainer

    cuda = is_cuda(model)
    started = time.perf_counter()
    set_seed(seed)
    dataset = conversational_dataset(tokenizer, pairs, hyper)
    log = TrainingLog(log_path)
    try:
        trainer = DPOTrainer(
            model=model,
            ref_model=None,
            args=trl_dpo_config(hyper, seed, work_dir, cuda, tuned=tuned),
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=lora_config(hyper, model),
            callbacks=[log_callback(log)],
        )
        trainer.remove_callback(PrinterCallback)
        setup = time.perf_counter() - started
        output = trainer.train()
    finally:
        log.close()
    tokens = int(trainer._total_train_tokens)
    trained = trainer.model
    trained.eval()
    return TrainResult(
        model=trained,
        steps=int(output.global_step),
        tokens=tokens,
        seconds=time.perf_counter() - started,
        details={
            "engine": "trl",
            "setup_seconds": round(setup, 2),
            "train_loss": float(output.training_loss),
        },
    )


# --------------------------------------------------------------------------------------------
# the fast loop


def _batches(
    lengths: np.ndarray, batch_size: int, steps: int, seed: int, chunk: int = 8
) -> list[np.ndarray]:
    """`steps` batches of pair indices: each epoch a seeded permutation, cut into chunks of
    `chunk` batches, sorted by length inside a chunk (less padding), batch order shuffled."""
    rng = np.random.default_rng(seed)
    batches: list[np.ndarray] = []
    while len(batches) < steps:
        order = rng.permutation(len(lengths))
        epoch = []
        for start in range(0, len(order), batch_size * chunk):
            block = order[start : start + batch_size * chunk]
            block = block[np.argsort(-lengths[block], kind="stable")]
            epoch.extend(block[i : i + batch_size] for i in range(0, len(block), batch_size))
        rng.shuffle(epoch)
        batches.extend(batch for batch in epoch if len(batch) == batch_size or len(epoch) == 1)
    return batches[:steps]


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """TRL's sigmoid DPO loss; returns (loss, chosen rewards, rejected rewards, margins)."""
    chosen_rewards = beta * (policy_chosen - reference_chosen)
    rejected_rewards = beta * (policy_rejected - reference_rejected)
    margins = chosen_rewards - rejected_rewards
    return -F.logsigmoid(margins).mean(), chosen_rewards, rejected_rewards, margins


def _flush(log: TrainingLog | None, pending: list[tuple[int, float, int, torch.Tensor]]) -> None:
    """Write the pending steps' statistics to the log (one device-to-host copy)."""
    if log is not None and pending:
        values = torch.stack([row[3] for row in pending]).float().cpu().numpy()
        names = ["loss", "rewards_chosen", "rewards_rejected", "rewards_margins"]
        names += ["rewards_accuracies", "grad_norm"]
        for (step, learning_rate, tokens, _), row in zip(pending, values, strict=True):
            log.write(
                {"step": step, "learning_rate": learning_rate, "tokens": tokens}
                | {name: float(value) for name, value in zip(names, row, strict=True)}
            )
    pending.clear()


def train_dpo_fast(
    model: Any,
    tokenizer: Any,
    pairs: pd.DataFrame,
    hyper: HyperParams,
    seed: int,
    log_path: Path | None,
    reference_key: tuple[Any, ...] | None = None,
) -> TrainResult:
    """The project's DPO loop (see the module docstring); LoRA, same loss and optimiser as TRL."""
    from peft import get_peft_model
    from transformers import get_linear_schedule_with_warmup, set_seed

    started = time.perf_counter()
    set_seed(seed)
    policy = get_peft_model(model, lora_config(hyper, model))
    device = next(policy.parameters()).device
    prompts, chosen, rejected = preference_texts(tokenizer, pairs, hyper)
    memo: dict[tuple[str, str], int] = {}
    sequences: list[Encoded] = []
    texts: list[tuple[str, str]] = []

    def index_of(prompt: str, response: str) -> int:
        key = (prompt, response)
        if key not in memo:
            memo[key] = len(sequences)
            sequences.append(encode(tokenizer, prompt, response))
            texts.append(key)
        return memo[key]

    chosen_index = np.array([index_of(p, c) for p, c in zip(prompts, chosen, strict=True)])
    rejected_index = np.array([index_of(p, r) for p, r in zip(prompts, rejected, strict=True)])
    total_layers = int(backbone(policy).config.num_hidden_layers)
    cut = (
        total_layers - hyper.lora_top_layers
        if hyper.lora_top_layers is not None and hyper.lora_top_layers < total_layers
        else None
    )
    reference_started = time.perf_counter()
    logps_array, states = memoised_reference(
        policy, texts, sequences, tokenizer.pad_token_id, cut, reference_key
    )
    reference_seconds = time.perf_counter() - reference_started
    reference_logps = torch.as_tensor(logps_array, dtype=torch.float64).to(device)
    lengths = np.array([item.length for item in sequences])
    pair_lengths = np.maximum(lengths[chosen_index], lengths[rejected_index])
    trainable = [parameter for parameter in policy.parameters() if parameter.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=hyper.learning_rate, weight_decay=0.0)
    schedule = get_linear_schedule_with_warmup(optimiser, 0, hyper.steps)
    log = TrainingLog(log_path) if log_path is not None else None
    policy.train()
    tokens = 0
    # Logged values stay on the device until flushed: one host sync per `log_every` steps on CUDA.
    log_every = 25 if is_cuda(policy) else 1
    pending: list[tuple[int, float, int, torch.Tensor]] = []
    cut_checked = cut is None
    train_started = time.perf_counter()
    try:
        for step, batch in enumerate(_batches(pair_lengths, hyper.batch_size, hyper.steps, seed)):
            rows = np.concatenate([chosen_index[batch], rejected_index[batch]])
            ids, attention, completion = collate(
                [sequences[i] for i in rows], tokenizer.pad_token_id, device
            )
            if cut is not None:
                hidden = pad_hidden([states[i] for i in rows])  # type: ignore[misc]
                logps = logps_from_layer(policy, cut, hidden, ids, attention, completion)
                if not cut_checked:
                    cut_checked = True
                    expected = reference_logps[torch.as_tensor(rows, device=device)]
                    tolerance = 1e-2 + (2e-2 if is_cuda(policy) else 1e-4) * expected.abs()
                    if not bool(((logps.double() - expected).abs() <= tolerance).all()):
                        cut = None  # the partial forward does not reproduce this model: fall back
                        logps = completion_logps(policy, ids, attention, completion)
            else:
                logps = completion_logps(policy, ids, attention, completion)
            policy_chosen, policy_rejected = logps.chunk(2)
            loss, chosen_rewards, rejected_rewards, margins = dpo_loss(
                policy_chosen,
                policy_rejected,
                reference_logps[torch.as_tensor(chosen_index[batch], device=device)].to(
                    logps.dtype
                ),
                reference_logps[torch.as_tensor(rejected_index[batch], device=device)].to(
                    logps.dtype
                ),
                hyper.dpo_beta,
            )
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            learning_rate = schedule.get_last_lr()[0]
            optimiser.step()
            schedule.step()
            optimiser.zero_grad(set_to_none=True)
            tokens += int(lengths[rows].sum())
            pending.append(
                (
                    step + 1,
                    learning_rate,
                    tokens,
                    torch.stack(
                        [
                            loss.detach(),
                            chosen_rewards.detach().mean(),
                            rejected_rewards.detach().mean(),
                            margins.detach().mean(),
                            (margins.detach() > 0).float().mean(),
                            grad_norm.detach().to(loss.dtype),
                        ]
                    ),
                )
            )
            if len(pending) >= log_every or step + 1 == hyper.steps:
                _flush(log, pending)
    finally:
        if log is not None:
            log.close()
    policy.eval()
    return TrainResult(
        model=policy,
        steps=hyper.steps,
        tokens=tokens,
        seconds=time.perf_counter() - started,
        details={
            "engine": "fast",
            "distinct_sequences": len(sequences),
            "reference_seconds": round(reference_seconds, 2),
            "train_seconds": round(time.perf_counter() - train_started, 2),
            "cached_layers_below": cut,
        },
    )
