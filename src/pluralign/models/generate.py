"""Batched, seeded, sampled generation of chat responses, and a batched-vs-sequential benchmark.

Sampling does not use torch's global RNG. At every step each row takes the argmax of its
temperature-scaled top-p log-probabilities plus Gumbel noise (an exact sample), where the noise is
a hash of (row seed, step, token id). So a row's randomness does not depend on which other rows
share its batch, on the batch size, on other code's use of the RNG, or on the device. What holds:

- same inputs, seed and batch size on the same machine and libraries: identical texts;
- other batch sizes, input orders or extra inputs: each row gets the same noise, so its text is the
  same unless padding and batch shape move its logits enough to reorder the top two perturbed
  scores. In float32 (CPU) that is rare (the tests, and 64 of 64 SmolLM2 responses, agree
  exactly); in bf16 (GPU) logits move by ~1e-2 and texts do diverge across batch sizes.

A row's seed is derived from the base seed, its conversation, its prefill and how many identical
rows precede it, so repeated prompts within one call get different samples.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from tqdm import tqdm  # plain text bars: the notebook flavour needs ipywidgets
from transformers import (
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
)

Conversation = list[dict[str, str]]


@dataclass(frozen=True)
class GenerationResult:
    """One response: `text` is the prefill followed by the generated continuation."""

    text: str
    prefill: str
    num_generated_tokens: int  # up to and including the end-of-turn token, if one was produced
    stopped_at_eos: bool  # False: cut off at max_new_tokens
    seed: int  # the base seed passed to generate_responses
    row_seed: int  # the seed of this row's sampling noise (derived from seed and the inputs)


# --------------------------------------------------------------------------------------------
# sampling

_MASK32 = 0xFFFFFFFF
_GOLDEN32 = 0x9E3779B9
_FIRST_NUCLEUS_WIDTH = 256


def _mul32(values: torch.Tensor, constant: int) -> torch.Tensor:
    """`(values * constant) mod 2**32` for int64 tensors below 2**32, never overflowing int64."""
    low, high = values & 0xFFFF, values >> 16
    return (low * constant + (((high * constant) & 0xFFFF) << 16)) & _MASK32


def _mix32(values: torch.Tensor) -> torch.Tensor:
    """A 32-bit avalanche hash ("lowbias32", C. Wellons) on int64 tensors holding uint32."""
    values = values ^ (values >> 16)
    values = _mul32(values, 0x7FEB352D)
    values = values ^ (values >> 15)
    values = _mul32(values, 0x846CA68B)
    return values ^ (values >> 16)


def gumbel_noise(row_seeds: torch.Tensor, step: int, token_ids: torch.Tensor) -> torch.Tensor:
    """Standard Gumbel noise (float64) for each `(row_seeds[i], step, token_ids[i, j])`.

    A pure function of its arguments (a counter-based hash, no RNG state): the same row, step and
    token always get the same value, on any device and in any batch.
    """
    seeds = row_seeds.to(token_ids.device, torch.int64)[:, None]
    step_keys = _mix32((seeds + ((step + 1) * _GOLDEN32 & _MASK32)) & _MASK32)
    bits = _mix32(_mix32(step_keys ^ token_ids) ^ seeds)
    uniform = (bits.to(torch.float64) + 0.5) / 2.0**32
    return -torch.log(-torch.log(uniform))


def _nucleus(log_probs: torch.Tensor, top_p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The most probable tokens per row, best first, wide enough to hold every row's top-p nucleus;
    returns their log-probs (outside the nucleus: -inf) and their token ids.

    The nucleus is the smallest set of most probable tokens whose mass reaches `top_p` (as in
    transformers' TopPLogitsWarper). On a CPU, sorting the whole vocabulary each step costs more
    than the forward pass, so `topk` is widened until it covers `top_p`; elsewhere one sort is
    cheapest (no host sync).
    """
    vocab = log_probs.shape[-1]
    if top_p >= 1.0:
        return log_probs, torch.arange(vocab, device=log_probs.device).expand_as(log_probs)
    width = min(vocab, _FIRST_NUCLEUS_WIDTH) if log_probs.device.type == "cpu" else vocab
    while True:
        if width == vocab:
            top_log_probs, top_ids = log_probs.sort(dim=-1, descending=True)
        else:
            top_log_probs, top_ids = log_probs.topk(width, dim=-1, sorted=True)
        top_probs = top_log_probs.exp()
        if width == vocab or bool((top_probs.sum(dim=-1) >= top_p).all()):
            break
        width = min(vocab, width * 8)
    mass_before = top_probs.cumsum(dim=-1) - top_probs
    outside = mass_before >= top_p
    return top_log_probs.masked_fill(outside, float("-inf")), top_ids


def sample_top_p(
    logits: torch.Tensor, temperature: float, top_p: float, row_seeds: torch.Tensor, step: int
) -> torch.Tensor:
    """Draw one token per row from the temperature-scaled top-p distribution (Gumbel-max).

    argmax(log p + Gumbel noise) over the nucleus is an exact sample from the renormalised nucleus.
    The noise is keyed by (row seed, step, token id), so a row's draw does not depend on the other
    rows, and a tiny change in the logits changes the draw only if it reorders the top two
    perturbed scores (more robust to batch-shape rounding than inverse-CDF sampling).
    """
    log_probs = torch.log_softmax(logits.float() / temperature, dim=-1)
    nucleus_log_probs, token_ids = _nucleus(log_probs, top_p)
    perturbed = nucleus_log_probs.double() + gumbel_noise(row_seeds, step, token_ids)
    return token_ids.gather(-1, perturbed.argmax(dim=-1, keepdim=True)).squeeze(-1)


class SeededSampler(LogitsProcessor):
    """Picks each row's sampled token and masks all others, so that greedy argmax returns it."""

    def __init__(self, temperature: float, top_p: float) -> None:
        self.temperature = temperature
        self.top_p = top_p
        self.row_seeds = torch.zeros(0, dtype=torch.int64)
        self.prompt_length = 0

    def start_batch(self, row_seeds: Sequence[int], prompt_length: int, device: Any) -> None:
        """Set the rows' seeds and the padded prompt length before generating a batch."""
        self.row_seeds = torch.tensor(list(row_seeds), dtype=torch.int64, device=device)
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        step = input_ids.shape[1] - self.prompt_length
        chosen = sample_top_p(scores, self.temperature, self.top_p, self.row_seeds, step)
        masked = torch.full_like(scores, float("-inf"))
        masked.scatter_(-1, chosen[:, None], 0.0)
        return masked


# --------------------------------------------------------------------------------------------
# generation


def _row_seeds(
    seed: int, conversations: Sequence[Conversation], prefills: Sequence[str]
) -> list[int]:
    """Per-row seeds from the base seed, the row's content and its occurrence number."""
    seen: dict[str, int] = {}
    seeds = []
    for conversation, prefill in zip(conversations, prefills, strict=True):
        content = json.dumps([conversation, prefill], sort_keys=True, ensure_ascii=False)
        occurrence = seen.get(content, 0)
        seen[content] = occurrence + 1
        key = json.dumps([seed, content, occurrence]).encode()
        seeds.append(int.from_bytes(hashlib.sha256(key).digest()[:4], "little"))
    return seeds


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    configured = model.generation_config.eos_token_id
    if configured is None:
        configured = tokenizer.eos_token_id
    ids = configured if isinstance(configured, list) else [configured]
    return [int(token) for token in ids if token is not None]


def _encode(tokenizer: Any, conversation: Conversation, prefill: str) -> list[int]:
    """The chat prompt with the assistant turn opened, followed by the prefill, as token ids."""
    prompt = tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
    return tokenizer(prompt + prefill, add_special_tokens=False)["input_ids"]


def _device_of(model: Any) -> torch.device:
    return next(model.parameters()).device


def generate_responses(
    model: Any,
    tokenizer: Any,
    conversations: Sequence[Conversation],
    prefills: Sequence[str] | None,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    seed: int,
    batch_size: int = 64,
    progress: bool = True,
    min_new_tokens: int | None = None,
) -> list[GenerationResult]:
    """Sample one response per conversation, in input order (see the module doc on determinism).

    Prompts are sorted by length (longest first) and left-padded in batches of `batch_size`, so
    padding is small and memory trouble shows on the first batch. `temperature == 0` is greedy.
    `min_new_tokens` suppresses the end-of-turn token until that many tokens exist (benchmarks).
    No top-k, repetition penalty or other default of the model's generation config is applied.
    """
    if temperature < 0 or not 0 < top_p <= 1:
        raise ValueError(f"need temperature >= 0 and 0 < top_p <= 1, got {temperature}, {top_p}")
    if batch_size < 1 or max_new_tokens < 1:
        raise ValueError("batch_size and max_new_tokens must be positive")
    prefills = list(prefills) if prefills is not None else [""] * len(conversations)
    if len(prefills) != len(conversations):
        raise ValueError(f"{len(prefills)} prefills for {len(conversations)} conversations")

    device = _device_of(model)
    eos_ids = _eos_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_ids[0]
    row_seeds = _row_seeds(seed, conversations, prefills)
    encoded = [_encode(tokenizer, c, p) for c, p in zip(conversations, prefills, strict=True)]
    order = sorted(range(len(encoded)), key=lambda index: -len(encoded[index]))
    sampler = SeededSampler(temperature, top_p) if temperature > 0 else None
    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        min_new_tokens=min_new_tokens,
        do_sample=False,  # the sampler's noise makes argmax a sample
        num_beams=1,
        repetition_penalty=1.0,
        no_repeat_ngram_size=0,
        eos_token_id=eos_ids,
        pad_token_id=pad_id,
    )

    results: list[GenerationResult | None] = [None] * len(encoded)
    with (
        torch.inference_mode(),
        tqdm(total=len(encoded), desc="generating", unit="resp", disable=not progress) as bar,
    ):
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            width = max(len(encoded[index]) for index in batch)
            input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, index in enumerate(batch):
                ids = encoded[index]
                input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
                attention_mask[row, width - len(ids) :] = 1
            processors = LogitsProcessorList()
            if sampler is not None:
                sampler.start_batch([row_seeds[index] for index in batch], width, device)
                processors.append(sampler)
            output = model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention_mask.to(device),
                generation_config=config,
                logits_processor=processors,
            )
            new_tokens = output[:, width:].tolist()
            for row, index in enumerate(batch):
                results[index] = _result(
                    tokenizer, new_tokens[row], eos_ids, prefills[index], seed, row_seeds[index]
                )
            bar.update(len(batch))
    return [result for result in results if result is not None]


def _result(
    tokenizer: Any, tokens: list[int], eos_ids: list[int], prefill: str, seed: int, row_seed: int
) -> GenerationResult:
    """Cut a row's new tokens at its first end-of-turn token and decode the continuation."""
    stop = next((i for i, token in enumerate(tokens) if token in eos_ids), None)
    kept = tokens if stop is None else tokens[:stop]
    continuation = tokenizer.decode(kept, skip_special_tokens=True)
    return GenerationResult(
        text=prefill + continuation,
        prefill=prefill,
        num_generated_tokens=len(tokens) if stop is None else stop + 1,
        stopped_at_eos=stop is not None,
        seed=seed,
        row_seed=row_seed,
    )


# --------------------------------------------------------------------------------------------
# benchmark


def _timed_generation(model: Any, tokenizer: Any, batch_size: int, **kwargs: Any) -> tuple:
    device = _device_of(model)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    results = generate_responses(model, tokenizer, batch_size=batch_size, progress=False, **kwargs)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    tokens = sum(result.num_generated_tokens for result in results)
    summary = {
        "batch_size": batch_size,
        "seconds": round(seconds, 3),
        "generated_tokens": tokens,
        "tokens_per_s": round(tokens / seconds, 2),
    }
    return summary, results


def benchmark_generation(
    model: Any,
    tokenizer: Any,
    conversations: Sequence[Conversation],
    max_new_tokens: int,
    batch_size: int,
    temperature: float = 0.7,
    top_p: float = 0.9,
    seed: int = 0,
) -> dict[str, Any]:
    """Tokens/s generating `conversations` one at a time vs in batches of `batch_size`.

    Both runs use the same sampled decoding and seed, and both generate exactly
    `max_new_tokens` tokens per conversation (the end-of-turn token is suppressed until then), so
    the token counts are equal and the comparison is fair. One batch is generated first as a
    warm-up (the first run at a new shape pays for memory allocation: 2-3x slower on a GPU).
    """
    settings = {
        "conversations": list(conversations),
        "prefills": None,
        "max_new_tokens": max_new_tokens,
        "min_new_tokens": max_new_tokens,
        "temperature": temperature,
        "top_p": top_p,
        "seed": seed,
    }
    warm_up = {**settings, "conversations": settings["conversations"][:batch_size]}
    _timed_generation(model, tokenizer, batch_size, **warm_up)  # allocator, kernels, caches
    sequential, sequential_results = _timed_generation(model, tokenizer, 1, **settings)
    batched, batched_results = _timed_generation(model, tokenizer, batch_size, **settings)
    same = sum(a.text == b.text for a, b in zip(sequential_results, batched_results, strict=True))
    device = _device_of(model)
    return {
        "model": getattr(model.config, "_name_or_path", "") or type(model).__name__,
        "device": str(device),
        "dtype": str(next(model.parameters()).dtype),
        "torch_threads": torch.get_num_threads(),
        "n_conversations": len(conversations),
        "max_new_tokens": max_new_tokens,
        "decoding": {
            "temperature": temperature,
            "top_p": top_p,
            "seed": seed,
            "forced_length": True,
        },
        "sequential": sequential,
        "batched": batched,
        "speedup": round(batched["tokens_per_s"] / sequential["tokens_per_s"], 2),
        "identical_texts": same,
    }
