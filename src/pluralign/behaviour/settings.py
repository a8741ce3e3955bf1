"""The behaviour evaluation's settings (`configs/behaviour.yml`), parsed into a validated dataclass.

The settings that change what a model writes (prompt count, samples, tokens, decoding, the prompt
rule) are hashed into `settings_key`, which names the folder the samples are stored in; the batch
size and the scorers are recorded but not hashed (they do not change the texts on a CPU, and the
scores are recomputed whenever the scorers change).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pluralign.config import ConfigError, load_config
from pluralign.paths import project_root

#: Version of the rule that picks a run's evaluation prompts (`pluralign.behaviour.prompts`) and
#: renders them (one user turn, the model's chat template). Part of `settings_key`.
PROMPT_RULE = "held-out-by-run-split-v1"


class SettingsError(ValueError):
    """A behaviour configuration that cannot be used (unknown key, bad value, unknown profile)."""


@dataclass(frozen=True)
class DecodingBlock:
    """How every model samples (`decoding:`)."""

    temperature: float = 0.7
    top_p: float = 0.9


@dataclass(frozen=True)
class ToxicityBlock:
    """Which Detoxify model scores toxicity (`toxicity:`)."""

    detoxify_checkpoint: str | None = None
    detoxify_model_type: str = "original"
    detoxify_config_path: str | None = None


@dataclass(frozen=True)
class RewardModelBlock:
    """The condition of the reward models that score the samples (`reward_models:`)."""

    scale: str = "5pt"
    values: str = "multi"
    aggregation: str = "preserve"


@dataclass(frozen=True)
class BehaviourProfileBlock:
    """One sweep profile's sampling (`profiles.<name>:`); `reward_models_from` defaults to it."""

    prompts: int
    samples: int
    max_new_tokens: int
    batch_size: int = 64
    reward_models_from: tuple[str, ...] | None = None


@dataclass(frozen=True)
class BehaviourConfig:
    """`configs/behaviour.yml` as written: shared blocks, then one block per sweep profile."""

    decoding: DecodingBlock = field(default_factory=DecodingBlock)
    toxicity: ToxicityBlock = field(default_factory=ToxicityBlock)
    reward_models: RewardModelBlock = field(default_factory=RewardModelBlock)
    profiles: dict[str, BehaviourProfileBlock] = field(default_factory=dict)


@dataclass(frozen=True)
class BehaviourSettings:
    """How models are sampled and scored for one sweep profile."""

    profile: str
    prompts: int
    samples: int
    max_new_tokens: int
    batch_size: int
    temperature: float
    top_p: float
    reward_models_from: tuple[str, ...]
    reward_model_scale: str = "5pt"
    reward_model_values: str = "multi"
    reward_model_aggregation: str = "preserve"
    detoxify_checkpoint: str | None = None
    detoxify_model_type: str = "original"
    detoxify_config_path: str | None = None

    def __post_init__(self) -> None:
        if min(self.prompts, self.samples, self.max_new_tokens, self.batch_size) < 1:
            raise SettingsError("prompts, samples, max_new_tokens and batch_size must be >= 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise SettingsError("need temperature >= 0 and 0 < top_p <= 1")
        if not self.reward_models_from:
            raise SettingsError("reward_models_from must name at least one sweep profile")

    def generation(self) -> dict[str, Any]:
        """What determines the texts a model writes (hashed into `settings_key`)."""
        return {
            "prompt_rule": PROMPT_RULE,
            "prompts": self.prompts,
            "samples": self.samples,
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
        }

    @property
    def settings_key(self) -> str:
        """12 hex digits of the sha256 of `generation()`: the samples' folder name."""
        text = json.dumps(self.generation(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"settings_key": self.settings_key}


def settings_path() -> Path:
    return project_root() / "configs" / "behaviour.yml"


def load_settings(profile: str, path: Path | None = None) -> BehaviourSettings:
    """The settings of `profile` from `configs/behaviour.yml` (or `path`), validated."""
    path = Path(path) if path is not None else settings_path()
    try:
        config = load_config(path, BehaviourConfig)
    except ConfigError as error:
        raise SettingsError(str(error)) from error
    if profile not in config.profiles:
        raise SettingsError(f"{path}: no profile {profile!r}; profiles: {sorted(config.profiles)}")
    block = config.profiles[profile]
    sources = block.reward_models_from
    sources = sources if sources is not None else (profile,)
    return BehaviourSettings(
        profile=profile,
        prompts=block.prompts,
        samples=block.samples,
        max_new_tokens=block.max_new_tokens,
        batch_size=block.batch_size,
        temperature=config.decoding.temperature,
        top_p=config.decoding.top_p,
        reward_models_from=sources,
        reward_model_scale=config.reward_models.scale,
        reward_model_values=config.reward_models.values,
        reward_model_aggregation=config.reward_models.aggregation,
        detoxify_checkpoint=config.toxicity.detoxify_checkpoint,
        detoxify_model_type=config.toxicity.detoxify_model_type,
        detoxify_config_path=config.toxicity.detoxify_config_path,
    )
