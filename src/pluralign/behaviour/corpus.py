"""Building the response corpus (`pluralign data corpus`): the embedded model answers the
project's prompts in five response styles, and the project's scorers score the answers.

The study's raters rated LLM responses; its data is not public. This corpus is the stand-in that
the simulated raters of `study-sim` rate. A 135M model barely follows a system prompt, so each
style also gives the reply a prefilled opening (configs/corpus.yml); the opening is part of the
response. The card (`card.json`) records the model, decoding, seeds, wall time and whether the
styles genuinely spread on toxicity and emotional awareness. Reading the corpus is
`pluralign.data.corpus`.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pluralign.config import load_config
from pluralign.data.corpus import corpus_dir, load_prompts, style_spread
from pluralign.models.base import load_base, model_provenance
from pluralign.models.generate import generate_responses
from pluralign.paths import project_root
from pluralign.scorers.emotional_awareness import EmotionalAwarenessProxy
from pluralign.scorers.toxicity import load_toxicity_scorer


@dataclass(frozen=True)
class CorpusDecoding:
    """How the corpus is sampled (`decoding:`)."""

    max_new_tokens: int
    temperature: float
    top_p: float
    batch_size: int


@dataclass(frozen=True)
class CorpusStyle:
    """A response style: its system prompt and the openings prefilled in turn."""

    system: str
    openings: list[str]


@dataclass(frozen=True)
class CorpusFile:
    """`configs/corpus.yml` as written (validated; `CorpusConfig` keeps its blocks as dicts)."""

    model: str
    seed: int
    decoding: CorpusDecoding
    styles: dict[str, CorpusStyle]


@dataclass(frozen=True)
class CorpusConfig:
    """Styles (system prompt + openings), decoding settings, model and seed of the corpus."""

    model: str
    seed: int
    decoding: dict[str, Any]
    styles: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, path: Path | None = None) -> CorpusConfig:
        """`configs/corpus.yml` (or `path`), validated (a bad key: `ConfigError` with its line)."""
        file = load_config(path or project_root() / "configs" / "corpus.yml", CorpusFile)
        styles = {name: dataclasses.asdict(style) for name, style in file.styles.items()}
        return cls(file.model, file.seed, dataclasses.asdict(file.decoding), styles)


def generation_requests(prompts: pd.DataFrame, config: CorpusConfig) -> pd.DataFrame:
    """One row per (prompt, style): the conversation to send and the opening to prefill.

    Openings rotate with the prompt's position, so each style's openings are used evenly.
    """
    rows = []
    for position, prompt in enumerate(prompts.itertuples(index=False)):
        for style, recipe in config.styles.items():
            openings = recipe["openings"]
            rows.append(
                {
                    "prompt_id": prompt.prompt_id,
                    "kind": prompt.kind,
                    "topic": prompt.topic,
                    "prompt": prompt.prompt,
                    "style": style,
                    "response_id": f"{prompt.prompt_id}-{style}",
                    "system": recipe["system"].strip(),
                    "opening": openings[position % len(openings)],
                }
            )
    return pd.DataFrame(rows)


def build_corpus(
    output_dir: Path | None = None,
    model_name: str | None = None,
    limit_prompts: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Generate, score and write the corpus (responses.csv + card.json); return the card."""
    config = CorpusConfig.load()
    model_name = model_name or config.model
    output_dir = output_dir or corpus_dir()
    prompts = load_prompts()
    if limit_prompts is not None:
        prompts = prompts.groupby("kind", group_keys=False).head(limit_prompts // 2)
    requests = generation_requests(prompts, config)

    started = time.perf_counter()
    model, tokenizer = load_base(model_name)
    conversations = [
        [{"role": "system", "content": row.system}, {"role": "user", "content": row.prompt}]
        for row in requests.itertuples(index=False)
    ]
    decoding = config.decoding
    generation_started = time.perf_counter()
    results = generate_responses(
        model,
        tokenizer,
        conversations,
        prefills=list(requests["opening"]),
        max_new_tokens=int(decoding["max_new_tokens"]),
        temperature=float(decoding["temperature"]),
        top_p=float(decoding["top_p"]),
        seed=config.seed,
        batch_size=int(decoding["batch_size"]),
        progress=progress,
    )
    generation_seconds = time.perf_counter() - generation_started
    responses = requests.drop(columns=["system"]).copy()
    responses["response"] = [result.text for result in results]
    responses["new_tokens"] = [result.num_generated_tokens for result in results]
    responses["stopped_at_eos"] = [result.stopped_at_eos for result in results]

    toxicity = load_toxicity_scorer()
    awareness = EmotionalAwarenessProxy()
    responses["toxicity"] = toxicity.score(list(responses["response"]))
    responses["emotional_awareness"] = awareness.score(list(responses["response"]))
    spread = style_spread(responses, seed=config.seed)

    output_dir.mkdir(parents=True, exist_ok=True)
    responses.to_csv(output_dir / "responses.csv", index=False)
    card = {
        "what": "LLM responses generated for the project's own prompts; stand-in for the "
        "paper's unreleased rated responses",
        "model": model_provenance(model_name),
        "decoding": decoding,
        "seed": config.seed,
        "styles": {style: recipe for style, recipe in config.styles.items()},
        "prompts": len(prompts),
        "responses": len(responses),
        "new_tokens_total": int(responses["new_tokens"].sum()),
        "generation_seconds": round(generation_seconds, 1),
        "generation_tokens_per_second": round(
            responses["new_tokens"].sum() / generation_seconds, 1
        ),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "hardware": {"machine": platform.machine(), "processor": platform.processor()},
        "scorers": {"toxicity": toxicity.name, "emotional_awareness": awareness.name},
        "style_spread": spread.to_dict(orient="records"),
        "spread_holds": bool(spread["holds"].all()),
    }
    (output_dir / "card.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
    return card
