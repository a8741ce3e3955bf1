"""GRPO with a LoRA adapter against the group's own reward model (TRL's GRPOTrainer).

The policy samples `grpo_generations` replies per prompt; the group's reward model (see
`reward.py`) scores each (prompt, reply), and GRPO pushes the policy towards the replies its group
would rate better than the prompt's other samples. Prompts are the dataset's training prompts
when it has many (study-sim); standalone-text datasets (POPQUORN, Sap et al.) have one
instruction-like prompt (and tiny datasets too few), so their GRPO runs reply to the project's
corpus prompts
(`data/corpus/prompts.csv`) instead, split into train and held-out by the run's hash split.

`reward_gain` is GRPO's own measure of movement: on held-out prompts, the group's reward of
the tuned model's samples minus that of the base model's samples (same seeds), with a bootstrap
CI over prompts.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from pluralign.stats.intervals import percentile_interval
from pluralign.train.dpo import (
    TrainingLog,
    TrainResult,
    is_cuda,
    log_callback,
    lora_config,
)
from pluralign.train.inputs import ItemSplit, prompt_split
from pluralign.train.reward import RewardModel
from pluralign.train.sequences import prompt_messages, truncate_texts
from pluralign.train.spec import HeldOutDesign, HyperParams

GRPO_LOG_COLUMNS = [
    "step",
    "loss",
    "reward",
    "reward_std",
    "kl",
    "learning_rate",
    "grad_norm",
    "tokens",
    "seconds",
]


def generation_prompts(
    ratings: pd.DataFrame, split: ItemSplit, design: HeldOutDesign
) -> tuple[list[str], list[str]]:
    """(training prompts, held-out prompts) that GRPO replies to (`inputs.prompt_split`)."""
    prompts = prompt_split(ratings, split, design)
    return list(prompts.train["prompt"]), list(prompts.held_out["prompt"])


def _reward_function(reward_model: RewardModel) -> Any:
    def group_reward(prompts: list[Any], completions: list[Any], **_: Any) -> list[float]:
        users = [
            prompt[-1]["content"] if isinstance(prompt, list) else prompt for prompt in prompts
        ]
        texts = [
            completion[0]["content"] if isinstance(completion, list) else completion
            for completion in completions
        ]
        return [float(value) for value in reward_model.score(users, texts)]

    return group_reward


def train_grpo(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    reward_model: RewardModel,
    hyper: HyperParams,
    seed: int,
    log_path: Path,
    work_dir: Path,
) -> TrainResult:
    """TRL's GRPOTrainer with a fresh LoRA adapter, rewarded by the group's reward model."""
    from datasets import Dataset
    from transformers import PrinterCallback, set_seed
    from trl import GRPOConfig, GRPOTrainer

    if hyper.batch_size % hyper.grpo_generations:
        raise ValueError("GRPO needs batch_size to be a multiple of grpo_generations")
    cuda = is_cuda(model)
    started = time.perf_counter()
    set_seed(seed)
    texts = truncate_texts(tokenizer, prompts, hyper.max_prompt_tokens)
    dataset = Dataset.from_dict({"prompt": [prompt_messages(text) for text in texts]})
    config = GRPOConfig(
        output_dir=str(work_dir),
        max_steps=hyper.steps,
        per_device_train_batch_size=hyper.batch_size,
        num_generations=hyper.grpo_generations,
        max_completion_length=hyper.grpo_max_completion_tokens,
        learning_rate=hyper.learning_rate,
        beta=hyper.grpo_beta,
        temperature=hyper.grpo_temperature,
        seed=seed,
        data_seed=seed,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=not cuda,
        bf16=cuda,
        gradient_checkpointing=False,
        dataloader_num_workers=0,
    )
    log = TrainingLog(log_path, GRPO_LOG_COLUMNS)
    try:
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=[_reward_function(reward_model)],
            args=config,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=lora_config(hyper, model),
            callbacks=[log_callback(log)],
        )
        trainer.remove_callback(PrinterCallback)
        output = trainer.train()
    finally:
        log.close()
    trained = trainer.model
    trained.eval()
    return TrainResult(
        model=trained,
        steps=int(output.global_step),
        tokens=int(getattr(trainer, "_total_train_tokens", 0) or 0),
        seconds=time.perf_counter() - started,
        details={"engine": "trl-grpo", "train_loss": float(output.training_loss)},
    )


@torch.no_grad()
def sample_replies(
    model: Any, tokenizer: Any, prompts: list[str], hyper: HyperParams, seed: int, samples: int
) -> list[list[str]]:
    """`samples` sampled replies per prompt (left-padded batch generation, seeded)."""
    from transformers import set_seed

    device = next(model.parameters()).device
    texts = truncate_texts(tokenizer, prompts, hyper.max_prompt_tokens)
    rendered = [
        tokenizer.apply_chat_template(
            prompt_messages(text), tokenize=False, add_generation_prompt=True
        )
        for text in texts
    ]
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        batch = tokenizer(rendered, return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tokenizer.padding_side = side
    set_seed(seed)
    output = model.generate(
        **batch.to(device),
        do_sample=True,
        temperature=hyper.grpo_temperature,
        top_p=1.0,
        max_new_tokens=hyper.grpo_max_completion_tokens,
        num_return_sequences=samples,
        pad_token_id=tokenizer.pad_token_id,
    )
    replies = tokenizer.batch_decode(
        output[:, batch["input_ids"].shape[1] :], skip_special_tokens=True
    )
    return [replies[i * samples : (i + 1) * samples] for i in range(len(prompts))]


def reward_gain(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    reward_model: RewardModel,
    hyper: HyperParams,
    seed: int,
    samples: int = 2,
    bootstrap_samples: int = 1000,
) -> dict[str, Any]:
    """The group's reward of tuned-model replies minus base-model replies on held-out prompts
    (mean over prompts, with a bootstrap CI over prompts)."""
    if not prompts:
        return {"n_prompts": 0}
    started = time.perf_counter()
    tuned_replies = sample_replies(model, tokenizer, prompts, hyper, seed, samples)
    with model.disable_adapter():
        base_replies = sample_replies(model, tokenizer, prompts, hyper, seed, samples)

    def mean_reward(replies: list[list[str]]) -> np.ndarray:
        flat_prompts = [
            prompt for prompt, group in zip(prompts, replies, strict=True) for _ in group
        ]
        flat = [reply for group in replies for reply in group]
        return reward_model.score(flat_prompts, flat).reshape(len(prompts), samples).mean(axis=1)

    tuned, base = mean_reward(tuned_replies), mean_reward(base_replies)
    gain = tuned - base
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(gain), size=(bootstrap_samples, len(gain)))
    replicates = gain[draws].mean(axis=1)
    low, high = percentile_interval(replicates)
    return {
        "reward_tuned": float(tuned.mean()),
        "reward_base": float(base.mean()),
        "reward_gain": {
            "estimate": float(gain.mean()),
            "ci_low": float(low),
            "ci_high": float(high),
        },
        "moved": bool(low > 0 or high < 0),
        "n_prompts": len(prompts),
        "samples_per_prompt": samples,
        "examples": [
            {"prompt": prompt, "tuned": tuned_group[0], "base": base_group[0]}
            for prompt, tuned_group, base_group in list(
                zip(prompts, tuned_replies, base_replies, strict=True)
            )[:3]
        ],
        "seconds": round(time.perf_counter() - started, 2),
    }
