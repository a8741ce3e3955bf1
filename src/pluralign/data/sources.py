"""External data files: the manifest, sha256 checks, the local mirror and downloads.

Every third-party file pluralign reads is listed in `data/MANIFEST` with a commit-pinned URL and
its sha256. Nothing is read unless its hash matches, whether it came from the mirror folder
(`PLURALIGN_DATA_MIRROR`) or from `pluralign data fetch`.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from pluralign.files import file_sha256
from pluralign.paths import data_mirror_dir, dataset_download_dir, project_root

CHUNK_BYTES = 1 << 20


class DatasetUnavailableError(FileNotFoundError):
    """A manifest file is neither in the mirror nor downloaded; the message says how to get it."""


class ChecksumMismatchError(ValueError):
    """A file's sha256 differs from the manifest's: it is refused."""


@dataclass(frozen=True)
class ManifestEntry:
    """One external file: where it comes from, what it must hash to, how many records it holds."""

    source: str
    file: str
    url: str
    commit: str
    sha256: str
    bytes: int
    rows: int
    licence: str


def manifest_path() -> Path:
    return project_root() / "data" / "MANIFEST"


def read_manifest(path: Path | None = None) -> list[ManifestEntry]:
    """Parse the tab-separated manifest (lines starting with `#` are comments)."""
    path = path or manifest_path()
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    rows = csv.DictReader(lines, delimiter="\t")
    return [
        ManifestEntry(
            source=row["source"],
            file=row["file"],
            url=row["url"],
            commit=row["commit"],
            sha256=row["sha256"],
            bytes=int(row["bytes"]),
            rows=int(row["rows"]),
            licence=row["licence"],
        )
        for row in rows
    ]


def manifest_entry(source: str, file: str) -> ManifestEntry:
    for entry in read_manifest():
        if entry.source == source and entry.file == file:
            return entry
    raise KeyError(f"{source}/{file} is not in {manifest_path()}")


def sources() -> list[str]:
    """The source folders the manifest names, in manifest order."""
    return list(dict.fromkeys(entry.source for entry in read_manifest()))


def verify(path: Path, entry: ManifestEntry) -> Path:
    """Return `path` if its sha256 matches the manifest; refuse it otherwise."""
    actual = file_sha256(path)
    if actual != entry.sha256:
        raise ChecksumMismatchError(
            f"{path}: sha256 {actual} differs from the manifest's {entry.sha256} "
            f"for {entry.source}/{entry.file}; the file is refused"
        )
    return path


def candidate_paths(entry: ManifestEntry) -> list[Path]:
    """Where the file may already be: the mirror first, then the download folder."""
    places = []
    if (mirror := data_mirror_dir()) is not None:
        places.append(mirror / entry.source / entry.file)
    places.append(dataset_download_dir() / entry.source / entry.file)
    return places


def resolve_file(source: str, file: str) -> Path:
    """The verified local path of a manifest file, or a one-line error saying how to get it."""
    entry = manifest_entry(source, file)
    for path in candidate_paths(entry):
        if path.is_file():
            return verify(path, entry)
    raise DatasetUnavailableError(
        f"{source}/{file} is not available locally: run `pluralign data fetch {source}` "
        f"(downloads from {entry.url}) "
        f"or set PLURALIGN_DATA_MIRROR to a folder holding {source}/{file}"
    )


def download(entry: ManifestEntry, destination: Path, progress: bool = True) -> Path:
    """Download one manifest file, check its sha256, and move it into place atomically.

    `urllib` rather than `requests` because it also reads `file://` URLs, which lets the
    same code be tested offline.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=destination.parent, suffix=".part")
    try:
        with (
            os.fdopen(descriptor, "wb") as out,
            urllib.request.urlopen(entry.url, timeout=60) as response,
            tqdm(
                total=entry.bytes, unit="B", unit_scale=True, desc=entry.file, disable=not progress
            ) as bar,
        ):
            while chunk := response.read(CHUNK_BYTES):
                out.write(chunk)
                bar.update(len(chunk))
        verify(Path(temporary), entry)
        shutil.move(temporary, destination)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return destination


def fetch(source: str, progress: bool = True) -> list[Path]:
    """Make every file of a manifest source available locally (mirror or download)."""
    entries = [entry for entry in read_manifest() if entry.source == source]
    if not entries:
        raise KeyError(f"unknown source {source!r}; the manifest lists: {', '.join(sources())}")
    paths = []
    for entry in entries:
        present = next((path for path in candidate_paths(entry) if path.is_file()), None)
        if present is not None:
            paths.append(verify(present, entry))
        else:
            paths.append(
                download(entry, dataset_download_dir() / entry.source / entry.file, progress)
            )
    return paths
