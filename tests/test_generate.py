"""Batched, seeded generation: determinism, order, prefills, lengths, the sampler, the benchmark.

Fast tests use the tiny random model; the one test on the embedded model is marked slow.
"""

from __future__ import annotations

import pytest
import torch

from pluralign.models import base as models
from pluralign.models.generate import (
    GenerationResult,
    benchmark_generation,
    generate_responses,
    gumbel_noise,
    sample_top_p,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def chat(user: str, system: str = "You are a helpful assistant.") -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


CONVERSATIONS = [
    chat("Hi"),
    chat("Tell me about the weather in a long sentence, please, with detail."),
    chat("What is 2 + 2?", system="Answer rudely."),
    chat("Name a colour."),
    chat("Why is the sky blue? Explain it to a child."),
]
PREFILLS = ["", "Well,", "Sure thing:", "", "Honestly"]


def run(model_and_tokenizer, conversations=CONVERSATIONS, prefills=PREFILLS, **overrides):
    model, tokenizer = model_and_tokenizer
    settings = {
        "max_new_tokens": 8,
        "temperature": 1.0,
        "top_p": 0.9,
        "seed": 7,
        "batch_size": 3,
        "progress": False,
    }
    settings |= overrides
    return generate_responses(model, tokenizer, conversations, prefills, **settings)


def texts(results: list[GenerationResult]) -> list[str]:
    return [result.text for result in results]


def test_same_seed_same_texts_other_seed_other_texts(tiny) -> None:
    first = run(tiny)
    assert texts(first) == texts(run(tiny))
    assert texts(first) != texts(run(tiny, seed=8))
    assert all(result.seed == 7 for result in first)


def test_results_in_input_order_and_include_the_prefill(tiny) -> None:
    results = run(tiny)
    assert len(results) == len(CONVERSATIONS)
    for result, prefill in zip(results, PREFILLS, strict=True):
        assert result.prefill == prefill
        assert result.text.startswith(prefill) and len(result.text) > len(prefill)
        assert 1 <= result.num_generated_tokens <= 8
    reversed_results = run(tiny, conversations=CONVERSATIONS[::-1], prefills=PREFILLS[::-1])
    assert texts(reversed_results)[::-1] == texts(results)


def test_batched_and_one_at_a_time_agree(tiny) -> None:
    batched = run(tiny, batch_size=64)
    one_at_a_time = run(tiny, batch_size=1)
    assert texts(batched) == texts(one_at_a_time)
    assert [r.num_generated_tokens for r in batched] == [
        r.num_generated_tokens for r in one_at_a_time
    ]


def test_rows_do_not_depend_on_their_batch(tiny) -> None:
    alone = run(tiny, conversations=CONVERSATIONS[:2], prefills=PREFILLS[:2])
    assert texts(alone) == texts(run(tiny))[:2]


def test_repeated_prompts_get_different_samples(tiny) -> None:
    results = run(tiny, conversations=[chat("Hi")] * 4, prefills=None, max_new_tokens=6)
    assert len({result.row_seed for result in results}) == 4
    assert len(set(texts(results))) == 4


def test_forced_length_and_greedy(tiny) -> None:
    forced = run(tiny, max_new_tokens=5, min_new_tokens=5)
    assert all(r.num_generated_tokens == 5 and not r.stopped_at_eos for r in forced)
    greedy = run(tiny, temperature=0.0, max_new_tokens=5)
    assert texts(greedy) == texts(run(tiny, temperature=0.0, max_new_tokens=5, seed=99))


def test_stops_at_end_of_turn_and_counts_it() -> None:
    model, tokenizer = models.tiny_model(seed=0)
    with torch.no_grad():  # make <|im_end|> overwhelmingly likely
        model.lm_head.weight[tokenizer.eos_token_id] *= 0
        model.lm_head.bias = None
        model.model.norm.weight.fill_(1.0)
    model.config.tie_word_embeddings = False
    eos_bias = torch.zeros(model.config.vocab_size)
    eos_bias[tokenizer.eos_token_id] = 1e4
    model.lm_head.register_forward_hook(lambda module, args, output: output + eos_bias)
    results = run((model, tokenizer), max_new_tokens=6)
    assert all(r.stopped_at_eos and r.num_generated_tokens == 1 for r in results)
    assert texts(results) == PREFILLS


def test_input_validation(tiny) -> None:
    with pytest.raises(ValueError, match="prefills"):
        run(tiny, prefills=["only one"])
    with pytest.raises(ValueError, match="top_p"):
        run(tiny, top_p=0.0)
    with pytest.raises(ValueError, match="temperature"):
        run(tiny, temperature=-1.0)


def test_gumbel_noise_is_a_pure_function_with_the_right_distribution() -> None:
    seeds = torch.arange(200)
    tokens = torch.arange(1000).expand(200, -1)
    noise = gumbel_noise(seeds, 3, tokens)
    assert torch.equal(noise, gumbel_noise(seeds, 3, tokens))
    assert torch.equal(noise[5:7], gumbel_noise(seeds[5:7], 3, tokens[5:7]))
    assert not torch.equal(noise, gumbel_noise(seeds, 4, tokens))
    assert noise.mean().item() == pytest.approx(0.5772, abs=0.01)  # Euler-Mascheroni
    assert noise.std().item() == pytest.approx(torch.pi / 6**0.5, abs=0.01)


def test_sample_top_p_matches_the_nucleus_distribution() -> None:
    rows = 20_000
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    logits = probs.log().expand(rows, -1)
    seeds = torch.arange(rows)

    def frequencies(top_p: float) -> torch.Tensor:
        drawn = sample_top_p(logits, temperature=1.0, top_p=top_p, row_seeds=seeds, step=0)
        return torch.bincount(drawn, minlength=4).double() / rows

    # the nucleus for top_p 0.9 is {0, 1, 2} (0.5 + 0.3 < 0.9), renormalised by 0.95
    expected = torch.tensor([0.5, 0.3, 0.15, 0.0], dtype=torch.float64) / 0.95
    assert torch.allclose(frequencies(0.9), expected, atol=0.015)
    assert torch.allclose(frequencies(1.0), probs.double(), atol=0.015)
    assert torch.equal(frequencies(0.4), torch.tensor([1.0, 0, 0, 0], dtype=torch.float64))


def test_sample_top_p_widens_past_256_tokens_for_flat_distributions() -> None:
    logits = torch.zeros(300, 5000)
    drawn = sample_top_p(logits, 1.0, 0.9, row_seeds=torch.arange(300), step=0)
    assert len(set(drawn.tolist())) > 250  # ~4,500 equally likely tokens
    assert (drawn >= 256).float().mean() > 0.8


def test_benchmark_counts_equal_tokens(tiny) -> None:
    model, tokenizer = tiny
    report = benchmark_generation(model, tokenizer, CONVERSATIONS, max_new_tokens=4, batch_size=5)
    expected_tokens = len(CONVERSATIONS) * 4
    assert report["sequential"]["generated_tokens"] == expected_tokens
    assert report["batched"]["generated_tokens"] == expected_tokens
    assert report["speedup"] > 0 and report["identical_texts"] == len(CONVERSATIONS)


@pytest.mark.slow
def test_embedded_model_answers_in_chat_format() -> None:
    model, tokenizer = models.load_base(models.EMBEDDED_MODEL, device="cpu")
    results = generate_responses(
        model,
        tokenizer,
        [chat("What is the capital of France?"), chat("Say hello.")],
        ["", "Hello"],
        max_new_tokens=24,
        temperature=0.0,
        top_p=1.0,
        seed=0,
        progress=False,
    )
    assert "Paris" in results[0].text
    assert results[1].text.startswith("Hello")
    assert "<|im_end|>" not in results[0].text and "<|im_start|>" not in results[0].text
