"""Token sequences and their log-probabilities, shared by training, fast DPO and evaluation.

A (prompt, response) is rendered with the model's chat template exactly as TRL's DPOTrainer does
it (the prompt as a user turn with the generation prompt; the completion is what the full
conversation adds after it, the end-of-turn tokens included), after truncating the prompt and the
response texts to the run's token limits. `log π(response | prompt)` is the sum of the completion
tokens' log-probabilities; the LM head is applied only at completion positions, which skips most
of the vocabulary projection for long prompts.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812


@dataclass(frozen=True)
class Encoded:
    """One tokenised (prompt, response): the prompt ids and the completion ids after them."""

    prompt_ids: tuple[int, ...]
    completion_ids: tuple[int, ...]

    @property
    def length(self) -> int:
        return len(self.prompt_ids) + len(self.completion_ids)


def truncate_texts(tokenizer: Any, texts: Sequence[str], max_tokens: int) -> list[str]:
    """Each text cut to its first `max_tokens` tokens (texts already short are returned as is)."""
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return [
        text if len(tokens) <= max_tokens else tokenizer.decode(tokens[:max_tokens])
        for text, tokens in zip(texts, ids, strict=True)
    ]


def _chat_ids(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool) -> list[int]:
    result = tokenizer.apply_chat_template(
        messages, tokenize=True, add_generation_prompt=generation_prompt, return_dict=True
    )
    return list(result["input_ids"])


def prompt_messages(prompt: str) -> list[dict[str, str]]:
    """The conversation a prompt starts (one user turn; the template adds its system prompt)."""
    return [{"role": "user", "content": prompt}]


def encode(tokenizer: Any, prompt: str, response: str) -> Encoded:
    """Tokenise one (prompt, response) as TRL does for conversational preference data."""
    prompt_ids = _chat_ids(tokenizer, prompt_messages(prompt), generation_prompt=True)
    full = _chat_ids(
        tokenizer,
        [*prompt_messages(prompt), {"role": "assistant", "content": response}],
        generation_prompt=False,
    )
    shared = 0
    for left, right in zip(prompt_ids, full, strict=False):
        if left != right:
            break
        shared += 1
    return Encoded(tuple(full[:shared]), tuple(full[shared:]))


def encode_many(tokenizer: Any, prompts: Sequence[str], responses: Sequence[str]) -> list[Encoded]:
    """`encode` over aligned lists (repeated (prompt, response) texts are tokenised once)."""
    memo: dict[tuple[str, str], Encoded] = {}
    result = []
    for prompt, response in zip(prompts, responses, strict=True):
        key = (prompt, response)
        if key not in memo:
            memo[key] = encode(tokenizer, prompt, response)
        result.append(memo[key])
    return result


def collate(
    sequences: Sequence[Encoded], pad_id: int, device: torch.device | str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded `input_ids`, `attention_mask` and `completion_mask` (1 on completion tokens)."""
    width = max(item.length for item in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(sequences), width), dtype=torch.long)
    completion = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, item in enumerate(sequences):
        tokens = item.prompt_ids + item.completion_ids
        ids[row, : len(tokens)] = torch.tensor(tokens)
        attention[row, : len(tokens)] = 1
        completion[row, len(item.prompt_ids) : len(tokens)] = 1
    return ids.to(device), attention.to(device), completion.to(device)


def backbone(model: Any) -> Any:
    """The causal LM under a PEFT wrapper (LoRA layers live inside it, so they stay active)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def completion_logps(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    completion_mask: torch.Tensor,
) -> torch.Tensor:
    """Sum of log π(token | prefix) over each row's completion tokens (differentiable).

    Runs the decoder once and the LM head only on the positions that predict a completion token.
    """
    causal_lm = backbone(model)
    hidden = causal_lm.get_decoder()(
        input_ids=input_ids, attention_mask=attention_mask, use_cache=False
    ).last_hidden_state
    return logps_from_hidden(causal_lm, hidden, input_ids, completion_mask)


def logps_from_hidden(
    causal_lm: Any, hidden: torch.Tensor, input_ids: torch.Tensor, completion_mask: torch.Tensor
) -> torch.Tensor:
    """Per-row sums of completion-token log-probabilities from the decoder's final hidden states
    (the LM head is applied only where a completion token is predicted)."""
    targets_mask = completion_mask[:, 1:].bool()
    rows, cols = targets_mask.nonzero(as_tuple=True)
    selected = hidden[:, :-1][rows, cols]
    logits = causal_lm.get_output_embeddings()(selected).float()
    token_logps = -F.cross_entropy(logits, input_ids[:, 1:][rows, cols], reduction="none")
    sums = torch.zeros(input_ids.shape[0], dtype=token_logps.dtype, device=token_logps.device)
    return sums.index_add(0, rows, token_logps)


def length_sorted_batches(
    lengths: Sequence[int], max_tokens: int, max_rows: int
) -> list[list[int]]:
    """Indices grouped into batches of similar length (longest first) under a padded-token
    budget, so padding is small and a batch's memory is bounded."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        width = lengths[current[0]] if current else lengths[index]
        if current and ((len(current) + 1) * width > max_tokens or len(current) >= max_rows):
            batches.append(current)
            current = []
        current.append(int(index))
    if current:
        batches.append(current)
    return batches


@torch.no_grad()
def sequence_logps(
    model: Any,
    sequences: Sequence[Encoded],
    pad_id: int,
    max_tokens: int = 8192,
    max_rows: int = 64,
) -> np.ndarray:
    """log π(completion | prompt) of every sequence under `model` (eval mode, no gradients)."""
    if not sequences:
        return np.zeros(0)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    result = np.zeros(len(sequences))
    lengths = [item.length for item in sequences]
    for batch in length_sorted_batches(lengths, max_tokens, max_rows):
        ids, attention, completion = collate([sequences[index] for index in batch], pad_id, device)
        result[batch] = completion_logps(model, ids, attention, completion).double().cpu().numpy()
    model.train(was_training)
    return result


# --------------------------------------------------------------------------------------------
# frozen lower layers: reuse their states


@contextlib.contextmanager
def _only_layers_from(decoder: Any, start: int) -> Iterator[None]:
    """Temporarily keep only the decoder layers from `start` on (for cached inputs)."""
    full = decoder.layers
    decoder.layers = torch.nn.ModuleList(list(full)[start:])
    try:
        yield
    finally:
        decoder.layers = full


def pad_hidden(states: list[torch.Tensor]) -> torch.Tensor:
    width = max(state.shape[0] for state in states)
    batch = states[0].new_zeros((len(states), width, states[0].shape[1]))
    for row, state in enumerate(states):
        batch[row, : state.shape[0]] = state
    return batch


@dataclass
class Reference:
    """Reference log-probs per distinct sequence, and the cached inputs of the first adapted
    layer when LoRA is confined to the top layers (None otherwise)."""

    logps: torch.Tensor
    hidden: list[torch.Tensor] | None
    seconds: float


def reference_pass(model: Any, sequences: list[Encoded], pad_id: int, cut: int | None) -> Reference:
    """Reference log-probs (adapter disabled) for every distinct sequence, capturing the hidden
    states entering layer `cut` when `cut` is set."""
    started = time.perf_counter()
    device = next(model.parameters()).device
    causal_lm = backbone(model)
    logps = torch.zeros(len(sequences), dtype=torch.float64)
    hidden: list[torch.Tensor | None] = [None] * len(sequences)
    captured: list[torch.Tensor] = []
    handle = None
    if cut is not None:
        layer = causal_lm.get_decoder().layers[cut]

        def keep_input(module, args, kwargs):  # type: ignore[no-untyped-def]
            captured.append(args[0] if args else kwargs["hidden_states"])

        handle = layer.register_forward_pre_hook(keep_input, with_kwargs=True)
    lengths = [item.length for item in sequences]
    try:
        with torch.no_grad(), model.disable_adapter():
            for batch in length_sorted_batches(lengths, max_tokens=16384, max_rows=64):
                captured.clear()
                ids, attention, completion = collate([sequences[i] for i in batch], pad_id, device)
                logps[batch] = completion_logps(model, ids, attention, completion).double().cpu()
                if cut is not None:
                    for row, index in enumerate(batch):
                        hidden[index] = captured[0][row, : lengths[index]].detach().clone()
    finally:
        if handle is not None:
            handle.remove()
    cached = [state for state in hidden if state is not None] if cut is not None else None
    return Reference(logps, cached, time.perf_counter() - started)


def logps_from_layer(
    model: Any,
    cut: int,
    hidden: torch.Tensor,
    ids: torch.Tensor,
    attention: torch.Tensor,
    completion: torch.Tensor,
) -> torch.Tensor:
    """Completion log-probs from cached inputs of layer `cut`: only layers ≥ cut run."""
    causal_lm = backbone(model)
    decoder = causal_lm.get_decoder()
    with _only_layers_from(decoder, cut):
        final = decoder(
            inputs_embeds=hidden, attention_mask=attention, use_cache=False
        ).last_hidden_state
    return logps_from_hidden(causal_lm, final, ids, completion)


def first_adapted_layer(model: Any) -> int | None:
    """The lowest decoder layer a PEFT adapter touches, when it is confined to layers above 0
    (then every layer below is frozen and its states can be reused); None otherwise."""
    configs = getattr(model, "peft_config", None)
    if not configs:
        return None
    layers = getattr(next(iter(configs.values())), "layers_to_transform", None)
    if layers is None:
        return None
    lowest = min(layers) if isinstance(layers, list | tuple) else int(layers)
    return lowest if lowest > 0 else None


@torch.no_grad()
def layer_logps(
    model: Any,
    cut: int,
    sequences: Sequence[Encoded],
    hidden: Sequence[torch.Tensor],
    pad_id: int,
    max_tokens: int = 8192,
    max_rows: int = 64,
) -> np.ndarray:
    """log π(completion | prompt) from cached inputs of layer `cut` (only layers ≥ cut run)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    result = np.zeros(len(sequences))
    lengths = [item.length for item in sequences]
    for batch in length_sorted_batches(lengths, max_tokens, max_rows):
        ids, attention, completion = collate([sequences[i] for i in batch], pad_id, device)
        states = pad_hidden([hidden[i] for i in batch])
        values = logps_from_layer(model, cut, states, ids, attention, completion)
        result[batch] = values.double().cpu().numpy()
    model.train(was_training)
    return result


def partial_forward_matches(
    model: Any,
    cut: int,
    sequences: Sequence[Encoded],
    hidden: Sequence[torch.Tensor],
    reference: np.ndarray,
    pad_id: int,
) -> bool:
    """Whether running layers ≥ `cut` from cached states reproduces the reference log-probs
    (adapter disabled), i.e. whether this architecture allows the shortcut."""
    with model.disable_adapter():
        again = layer_logps(model, cut, sequences, hidden, pad_id)
    tolerance = 1e-2 + (2e-2 if next(model.parameters()).device.type == "cuda" else 1e-4) * np.abs(
        reference
    )
    return bool((np.abs(again - reference) <= tolerance).all())


#: Reference log-probabilities and frozen-layer states per (base model, device, token limits,
#: cut layer, prompt, response): a cache of a pure function, kept for the process, so the runs
#: of a sweep compute each text's reference once (results are the same without it).
REFERENCE_MEMO: dict[tuple[Any, ...], tuple[float, torch.Tensor | None]] = {}


def memoised_reference(
    model: Any,
    texts: Sequence[tuple[str, str]],
    sequences: Sequence[Encoded],
    pad_id: int,
    cut: int | None,
    memo_key: tuple[Any, ...] | None,
) -> tuple[np.ndarray, list[torch.Tensor | None]]:
    """Reference log-probs (adapter disabled) and the states entering layer `cut` of each
    sequence, from `REFERENCE_MEMO` where present (only when a `memo_key` is given)."""
    if memo_key is None:
        computed = reference_pass(model, sequences, pad_id, cut)
        states = computed.hidden if computed.hidden is not None else [None] * len(sequences)
        return computed.logps.numpy(), list(states)
    keys = [(*memo_key, cut, prompt, response) for prompt, response in texts]
    todo = [index for index, key in enumerate(keys) if key not in REFERENCE_MEMO]
    if todo:
        computed = reference_pass(model, [sequences[index] for index in todo], pad_id, cut)
        for position, index in enumerate(todo):
            state = computed.hidden[position] if computed.hidden is not None else None
            REFERENCE_MEMO[keys[index]] = (float(computed.logps[position]), state)
    entries = [REFERENCE_MEMO[key] for key in keys]
    return np.array([entry[0] for entry in entries]), [entry[1] for entry in entries]
