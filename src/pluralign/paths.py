"""Where the project's files live: the project root, configs, data and caches."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def project_root() -> Path:
    """The project this package belongs to: `PLURALIGN_ROOT`, else the checkout it was installed
    from (the folder holding `_toc.yml`). Never the working directory: a folder holding its own
    `_toc.yml` and `data/MANIFEST` must not replace the project's manifest, configs or chapters."""
    if env := os.environ.get("PLURALIGN_ROOT"):
        root = Path(env).resolve()
        if not (root / "_toc.yml").is_file():
            raise FileNotFoundError(
                f"PLURALIGN_ROOT={env} is not a pluralign project (no _toc.yml)"
            )
        return root
    source_checkout = Path(__file__).resolve().parents[2]
    if (source_checkout / "_toc.yml").is_file():
        return source_checkout
    raise FileNotFoundError(
        "cannot find the pluralign project root (a folder with _toc.yml): install pluralign "
        "from its checkout (pip install -e .) or set PLURALIGN_ROOT to the checkout"
    )


def cache_dir() -> Path:
    """The user cache (`PLURALIGN_CACHE`, default the platform's user cache dir)."""
    return Path(os.environ.get("PLURALIGN_CACHE") or platformdirs.user_cache_dir("pluralign"))


def dataset_download_dir() -> Path:
    """Where `pluralign data fetch` stores downloaded files (`PLURALIGN_DATA_DIR` overrides)."""
    if env := os.environ.get("PLURALIGN_DATA_DIR"):
        return Path(env)
    return cache_dir() / "datasets"


def data_mirror_dir() -> Path | None:
    """A local mirror of the dataset files (`PLURALIGN_DATA_MIRROR`): `<source>/<file>`."""
    env = os.environ.get("PLURALIGN_DATA_MIRROR")
    return Path(env) if env else None
