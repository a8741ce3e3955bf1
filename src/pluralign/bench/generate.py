"""Generation throughput: batched vs one-prompt-at-a-time sampling on the same prompts
(`pluralign bench generate`).

Both paths sample the same number of tokens per prompt (the end-of-turn token is suppressed until
`max_new_tokens`) with the same seeded sampler (`benchmark_generation`), so their token counts are
equal and the texts agree wherever batch shape does not move the logits. Prompts are the project's
corpus prompts as one user turn each (repeated when more are asked for than exist). On a GPU the
model runs in bf16 with a static KV cache by default (preallocated once per batch shape);
`compile_forward=True` lets transformers compile the forward pass, after warm-up calls at both batch
shapes so that compilation is not timed. `random_weights=True` builds the model's shape with random
weights (no weights needed); throughput does not depend on the weights' values.
"""

from __future__ import annotations

from typing import Any

import torch

from pluralign.models.base import default_device, embedded_tokenizer, load_base, random_like_base
from pluralign.models.generate import benchmark_generation, generate_responses
from pluralign.train.inputs import corpus_prompts
from pluralign.train.runner import hardware
from pluralign.train.sequences import prompt_messages

#: Defaults per device kind: short enough to finish in about a minute on a 2-core CPU.
DEVICE_DEFAULTS: dict[str, dict[str, int]] = {
    "cpu": {"prompts": 32, "batch_size": 32, "max_new_tokens": 24},
    "cuda": {"prompts": 64, "batch_size": 64, "max_new_tokens": 32},
}
CACHES = ("auto", "dynamic", "static")


def bench_conversations(count: int) -> list[list[dict[str, str]]]:
    """`count` single-turn conversations from the corpus prompts (cycled if needed)."""

    prompts = corpus_prompts()["prompt"].tolist()
    return [prompt_messages(prompts[index % len(prompts)]) for index in range(count)]


def _load(model: str, random_weights: bool, device: str) -> tuple[Any, Any]:

    if random_weights:
        base = random_like_base(model, seed=0, device=device)
        if model in ("smollm2-135m-instruct", "tiny-random-llama"):
            tokenizer = embedded_tokenizer()
        else:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(model)
        return base, tokenizer
    return load_base(model, device=device)


def bench_generate(
    model: str = "smollm2-135m-instruct",
    random_weights: bool = False,
    prompts: int | None = None,
    batch_size: int | None = None,
    max_new_tokens: int | None = None,
    device: str | None = None,
    cache: str = "auto",
    compile_forward: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Tokens/s sampling `prompts` corpus prompts one at a time vs in batches of `batch_size`.

    `cache`: `auto` (static on CUDA, dynamic on CPU), `dynamic` or `static`. Returns the figures
    of `benchmark_generation` plus the settings and the machine.
    """

    if cache not in CACHES:
        raise ValueError(f"cache must be one of {CACHES}, got {cache!r}")
    target = device or default_device()
    kind = "cuda" if target.startswith("cuda") else "cpu"
    defaults = DEVICE_DEFAULTS[kind]
    prompts = prompts or defaults["prompts"]
    batch_size = batch_size or defaults["batch_size"]
    max_new_tokens = max_new_tokens or defaults["max_new_tokens"]
    cache_used = ("static" if kind == "cuda" else "dynamic") if cache == "auto" else cache

    base, tokenizer = _load(model, random_weights, target)
    base.generation_config.cache_implementation = "static" if cache_used == "static" else None
    base.generation_config.disable_compile = not compile_forward
    conversations = bench_conversations(prompts)
    if compile_forward:  # compile (and capture) both batch shapes before anything is timed
        for size in (1, batch_size):
            generate_responses(
                base,
                tokenizer,
                conversations[:size],
                None,
                max_new_tokens,
                0.7,
                0.9,
                seed,
                batch_size=size,
                progress=False,
                min_new_tokens=max_new_tokens,
            )
    figures = benchmark_generation(
        base,
        tokenizer,
        conversations,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        seed=seed,
    )
    return {
        **figures,
        "model": model,
        "random_weights": random_weights,
        "gpu": torch.cuda.get_device_name(0) if kind == "cuda" else None,
        "cache": cache_used,
        "compile": compile_forward,
        "prompts_from": "corpus prompts (data/corpus/prompts.csv), one user turn each",
        "hardware": hardware(),
    }


def print_bench(figures: dict[str, Any]) -> None:
    """A two-row table: sequential and batched tokens/s, and the speed-up."""
    from rich.console import Console
    from rich.table import Table

    weights = " (random weights)" if figures["random_weights"] else ""
    table = Table(
        title=(
            f"Sampled generation, {figures['model']}{weights} on {figures['device']}"
            f"{' ' + figures['gpu'] if figures.get('gpu') else ''} ({figures['dtype']}, "
            f"{figures['cache']} cache): {figures['n_conversations']} prompts × "
            f"{figures['max_new_tokens']} tokens"
        )
    )
    for column in ("path", "batch size", "tokens", "seconds", "tokens/s"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for name, label in (("sequential", "one prompt at a time"), ("batched", "batched")):
        row = figures[name]
        table.add_row(
            label,
            str(row["batch_size"]),
            f"{row['generated_tokens']:,}",
            f"{row['seconds']:.1f}",
            f"{row['tokens_per_s']:,.1f}",
        )
    console = Console()
    console.print(table)
    console.print(
        f"speed-up: {figures['speedup']}×; identical texts: {figures['identical_texts']} of "
        f"{figures['n_conversations']}"
    )
