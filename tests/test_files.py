"""The shared file helpers: hashing, atomic folders, temporary environment variables."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pluralign import files


def test_file_sha256_of_a_known_file(tmp_path: Path) -> None:
    path = tmp_path / "abc.txt"
    path.write_bytes(b"abc")
    assert files.file_sha256(path) == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 10_000)  # several chunks
    assert files.file_sha256(str(big)) == hashlib.sha256(big.read_bytes()).hexdigest()


def _has_marker(folder: Path) -> bool:
    return (folder / "done").is_file()


def test_failed_build_leaves_no_finished_folder(tmp_path: Path) -> None:
    final = tmp_path / "out" / "thing"

    def failing(tmp: Path) -> None:
        (tmp / "data.bin").write_bytes(b"half")
        (tmp / "done").write_text("")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        files.build_folder_atomically(final, failing, _has_marker)
    assert not final.exists()
    assert list(final.parent.iterdir()) == []  # the temporary is gone too


def test_unfinished_build_is_refused_and_finished_one_renamed(tmp_path: Path) -> None:
    final = tmp_path / "thing"
    with pytest.raises(RuntimeError, match="did not finish"):
        files.build_folder_atomically(
            final, lambda tmp: (tmp / "data.bin").write_bytes(b"x"), _has_marker
        )
    assert not final.exists()

    def good(tmp: Path) -> None:
        (tmp / "sub").mkdir()
        (tmp / "sub" / "data.bin").write_bytes(b"x")
        (tmp / "done").write_text("")

    assert files.build_folder_atomically(final, good, _has_marker) == final
    assert (final / "sub" / "data.bin").read_bytes() == b"x"
    assert [p.name for p in tmp_path.iterdir()] == ["thing"]


def test_unfinished_final_is_replaced_and_finished_one_kept(tmp_path: Path) -> None:
    final = tmp_path / "thing"
    final.mkdir()
    (final / "stale.bin").write_bytes(b"old")  # no marker: a crash's leftover

    def build(tmp: Path) -> None:
        (tmp / "new.bin").write_bytes(b"new")
        (tmp / "done").write_text("")

    files.build_folder_atomically(final, build, _has_marker)
    assert sorted(p.name for p in final.iterdir()) == ["done", "new.bin"]

    def other(tmp: Path) -> None:  # a second process finishing the same folder later
        (tmp / "other.bin").write_bytes(b"other")
        (tmp / "done").write_text("")

    files.build_folder_atomically(final, other, _has_marker, durable=False)
    assert sorted(p.name for p in final.iterdir()) == ["done", "new.bin"]  # the first one wins


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path: Path) -> None:
    final = tmp_path / "thing"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    stale = tmp_path / f".thing.{dead}.abcd1234.tmp"
    mine = tmp_path / f".thing.{os.getpid()}.abcd1234.tmp"
    other = tmp_path / ".other.1.abcd1234.tmp"
    for folder in (stale, mine, other):
        folder.mkdir()
    assert files.remove_stale_temporaries(final) == [stale]
    assert mine.exists() and other.exists()
    assert files.remove_stale_temporaries(final, older_than_s=3600) == []  # all fresh


def test_temporary_environment_restores_set_and_unset_values(monkeypatch) -> None:
    monkeypatch.setenv("PLURALIGN_TEST_SET", "before")
    monkeypatch.delenv("PLURALIGN_TEST_UNSET", raising=False)
    monkeypatch.setenv("PLURALIGN_TEST_REMOVED", "present")
    with files.temporary_environment(
        PLURALIGN_TEST_SET="during", PLURALIGN_TEST_UNSET="new", PLURALIGN_TEST_REMOVED=None
    ):
        assert os.environ["PLURALIGN_TEST_SET"] == "during"
        assert os.environ["PLURALIGN_TEST_UNSET"] == "new"
        assert "PLURALIGN_TEST_REMOVED" not in os.environ
    assert os.environ["PLURALIGN_TEST_SET"] == "before"
    assert "PLURALIGN_TEST_UNSET" not in os.environ
    assert os.environ["PLURALIGN_TEST_REMOVED"] == "present"


def test_temporary_environment_restores_after_an_error(monkeypatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    with pytest.raises(ValueError), files.hub_offline():
        assert os.environ["HF_HUB_OFFLINE"] == os.environ["TRANSFORMERS_OFFLINE"] == "1"
        raise ValueError
    assert "HF_HUB_OFFLINE" not in os.environ
    assert os.environ["TRANSFORMERS_OFFLINE"] == "0"
