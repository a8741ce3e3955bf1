"""Where the project's files live: the project root, configs, data and caches."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def project_root() -> Path:
    """The folder holding `_toc.yml`: `PLURALIGN_ROOT`, else the first parent of the working
    directory that has one, else the checkout this package was installed from."""
    if env := os.environ.get("PLURALIGN_ROOT"):
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file():
            return folder
    source_checkout = Path(__file__).resolve().parents[2]
    if (source_checkout / "_toc.yml").is_file():
        return source_checkout
    raise FileNotFoundError(
        "cannot find the pluralign project root (a folder with _toc.yml); "
        "run from inside the checkout or set PLURALIGN_ROOT"
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
