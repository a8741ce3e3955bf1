"""The manifest, sha256 checks, the mirror and downloads (from file:// URLs, offline)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from pluralign.data import sources
from pluralign.data.sources import (
    ChecksumMismatchError,
    DatasetUnavailableError,
    download,
    read_manifest,
    resolve_file,
)
from pluralign.files import file_sha256


def test_manifest_lists_pinned_sources():
    entries = read_manifest()
    assert {entry.source for entry in entries} == {"popquorn", "sap2022", "sbic_v2", "crehate"}
    for entry in entries:
        assert entry.commit in entry.url, entry
        assert len(entry.sha256) == 64 and entry.bytes > 0 and entry.rows > 0
        assert entry.licence


def test_manifest_hashes_sizes_and_rows_match_the_mirror(mirror):
    for entry in read_manifest():
        path = mirror / entry.source / entry.file
        assert file_sha256(path) == entry.sha256, entry.file
        assert path.stat().st_size == entry.bytes, entry.file
        assert len(pd.read_csv(path)) == entry.rows, entry.file


def test_missing_dataset_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PLURALIGN_DATA_MIRROR", str(tmp_path / "nothing"))
    monkeypatch.setenv("PLURALIGN_DATA_DIR", str(tmp_path / "downloads"))
    with pytest.raises(DatasetUnavailableError) as error:
        resolve_file("popquorn", "offensiveness_raw_data.csv")
    message = str(error.value)
    assert "\n" not in message
    assert "pluralign data fetch popquorn" in message and "PLURALIGN_DATA_MIRROR" in message


def test_a_file_whose_hash_differs_is_refused(tmp_path, monkeypatch):
    (tmp_path / "popquorn").mkdir()
    (tmp_path / "popquorn" / "offensiveness_raw_data.csv").write_text("instance_id\n1\n")
    monkeypatch.setenv("PLURALIGN_DATA_MIRROR", str(tmp_path))
    with pytest.raises(ChecksumMismatchError, match="refused"):
        resolve_file("popquorn", "offensiveness_raw_data.csv")


def test_download_checks_the_hash_and_writes_atomically(tmp_path):
    source = tmp_path / "remote.csv"
    source.write_text("a,b\n1,2\n")
    entry = sources.ManifestEntry(
        "demo", "demo.csv", source.as_uri(), "0" * 40, file_sha256(source), 8, 1, "CC0"
    )
    target = tmp_path / "cache" / "demo" / "demo.csv"
    assert download(entry, target, progress=False) == target
    assert target.read_text() == "a,b\n1,2\n"

    wrong = dataclasses.replace(entry, sha256="f" * 64)
    other = tmp_path / "cache" / "demo" / "wrong.csv"
    with pytest.raises(ChecksumMismatchError):
        download(wrong, other, progress=False)
    assert not other.exists()
    assert [p.name for p in other.parent.iterdir()] == ["demo.csv"]  # no partial file left


def test_fetch_uses_the_download_folder(tmp_path, monkeypatch):
    source = tmp_path / "remote.csv"
    source.write_text("x\n1\n")
    entry = sources.ManifestEntry(
        "demo", "demo.csv", source.as_uri(), "0" * 40, file_sha256(source), 4, 1, "CC0"
    )
    monkeypatch.setattr(sources, "read_manifest", lambda path=None: [entry])
    monkeypatch.delenv("PLURALIGN_DATA_MIRROR", raising=False)
    monkeypatch.setenv("PLURALIGN_DATA_DIR", str(tmp_path / "downloads"))
    (path,) = sources.fetch("demo", progress=False)
    assert path == tmp_path / "downloads" / "demo" / "demo.csv"
    assert resolve_file("demo", "demo.csv") == path
