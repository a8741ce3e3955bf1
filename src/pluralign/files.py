"""Files, folders and the environment, done one way everywhere: hashing a file, building a folder
atomically, and setting environment variables for a while.

Every stage uses these (run store, behaviour samples, converted models, scorers, the book), so
they live below all stages and import only the standard library.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

#: Bytes read at a time when hashing (a converted model is ~0.5 GB; never read it whole).
CHUNK_BYTES = 1 << 20
#: What switches the Hugging Face libraries to offline mode.
HUB_OFFLINE_VARIABLES = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 (hex) of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# atomic folders


def temporary_sibling(final: Path) -> Path:
    """A fresh name beside `final` for building it: `.<name>.<pid>.<random>.tmp` (git-ignored)."""
    return final.parent / f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"


def _owner_pid(temporary: Path, final: Path) -> int | None:
    """The process id in a `temporary_sibling` name of `final`, or None if there is none."""
    middle = temporary.name.removeprefix(f".{final.name}.").removesuffix(".tmp")
    pid = middle.split(".")[0]
    return int(pid) if pid.isdigit() else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(final: Path, older_than_s: float | None = None) -> list[Path]:
    """Delete the temporary siblings of `final` that killed builds left behind; return them.

    By default a temporary counts as stale when its process (named in it) no longer runs on
    this machine. With `older_than_s`, it is stale when untouched for that long instead: the
    safe rule for a folder that several machines share, where process ids mean nothing.
    """
    final = Path(final)
    removed = []
    now = time.time()
    for temporary in final.parent.glob(f".{glob.escape(final.name)}.*.tmp"):
        if older_than_s is not None:
            try:
                stale = now - temporary.stat().st_mtime > older_than_s
            except OSError:
                continue
        else:
            pid = _owner_pid(temporary, final)
            stale = pid is not None and pid != os.getpid() and not _pid_alive(pid)
        if stale:
            shutil.rmtree(temporary, ignore_errors=True)
            removed.append(temporary)
    return removed


def _fsync(path: Path) -> None:
    """Flush a file or folder to disk (folders: so that renames and new entries survive)."""
    flags = (os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)) if path.is_dir() else os.O_RDONLY
    try:
        descriptor = os.open(path, flags)
    except OSError:
        return  # some platforms cannot open folders; the files were still flushed
    try:
        with contextlib.suppress(OSError):  # e.g. folders on file systems that refuse it
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_tree(folder: Path) -> None:
    """Flush every file under `folder`, then the folders themselves, deepest first."""
    folders = [folder]
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            continue
        if path.is_dir():
            folders.append(path)
        elif path.is_file():
            _fsync(path)
    for path in reversed(folders):
        _fsync(path)


#: renameat2's flag that swaps two paths in one step (Linux ≥ 3.15).
RENAME_EXCHANGE = 2
AT_FDCWD = -100


def _exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths atomically (Linux renameat2); False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE)
    return result == 0


def _backups(final: Path) -> list[Path]:
    return sorted(final.parent.glob(f".{glob.escape(final.name)}.*.old"))


def recover_replaced(final: Path, is_finished: Callable[[Path], bool]) -> bool:
    """Undo a replacement cut off between its two renames: if `final` is missing and a
    finished `.<name>.*.old` backup of it exists, put the backup back. True if it did."""
    final = Path(final)
    if final.exists():
        for backup in _backups(final):  # a finished swap's leftover: the new folder is in place
            if is_finished(final):
                shutil.rmtree(backup, ignore_errors=True)
        return False
    for backup in _backups(final):
        if is_finished(backup):
            backup.rename(final)
            return True
    return False


def _replace_finished(tmp: Path, final: Path) -> None:
    """Put the finished folder `tmp` where the finished folder `final` is, never leaving a
    moment without a finished `final`: one atomic swap where the system has one, else two
    renames through a `.old` backup that `recover_replaced` restores if cut off between them."""
    if _exchange(tmp, final):
        shutil.rmtree(tmp, ignore_errors=True)  # now the old folder
        return
    backup = final.parent / f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.old"
    final.rename(backup)
    tmp.rename(final)
    shutil.rmtree(backup, ignore_errors=True)


def build_folder_atomically(
    final: Path,
    build: Callable[[Path], object],
    is_finished: Callable[[Path], bool],
    durable: bool = True,
    replace: bool = False,
) -> Path:
    """Build a folder in a temporary sibling, flush it, then rename it to `final`.

    `build(tmp)` writes the folder's content; `is_finished` tells a complete folder from a
    partial one and is checked on `tmp` before the rename. If `build` raises (or the process
    dies), `final` does not appear: the temporary is removed, or a killed process leaves a
    `.<name>.<pid>.<random>.tmp` sibling that `remove_stale_temporaries` clears later. With
    `durable`, every file and folder is fsynced before the rename and the parent after it, so
    a power cut cannot leave a renamed folder with empty files. An unfinished `final` is
    replaced; a finished one written meanwhile by another process is kept (ours is dropped).
    With `replace`, a finished `final` is replaced too — only once the new one is complete,
    by a swap, so an interrupted rebuild leaves the old folder in place.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    recover_replaced(final, is_finished)
    tmp = temporary_sibling(final)
    tmp.mkdir()
    try:
        build(tmp)
        if not is_finished(tmp):
            raise RuntimeError(f"building {final} did not finish it (checked before renaming)")
        if durable:
            _fsync_tree(tmp)
        if final.exists() and not is_finished(final):
            shutil.rmtree(final)  # an unfinished folder from a crash or an older recipe
        if replace and is_finished(final):
            _replace_finished(tmp, final)
        else:
            _rename_into_place(tmp, final, is_finished)
        if durable:
            _fsync(final.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _rename_into_place(tmp: Path, final: Path, is_finished: Callable[[Path], bool]) -> None:
    """Rename `tmp` to an absent `final`; losing a race to another finished build is fine."""
    try:
        tmp.rename(final)
    except OSError:
        if not is_finished(final):  # not a lost race with another process: a real error
            raise


def write_file_atomically(final: Path, write: Callable[[Path], object]) -> Path:
    """Write a file through a temporary sibling, flush it, then rename it over `final`.

    A failed or killed write leaves `final` as it was (absent, or the previous version), never
    a half-written file (its parent folders are made first, since the sibling lives there).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(final)
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, final)
        _fsync(final.parent)
    finally:
        if tmp.exists():
            tmp.unlink()
    return final


# --------------------------------------------------------------------------------------------
# the environment


@contextlib.contextmanager
def temporary_environment(**variables: str | None) -> Iterator[None]:
    """Set environment variables (None: unset one) for the block, then restore each one's prior
    value, unsetting those that were unset. Child processes started inside inherit them."""
    before = {name: os.environ.get(name) for name in variables}
    for name, value in variables.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def hub_offline() -> contextlib.AbstractContextManager[None]:
    """Hugging Face hub access off for the block (local loads must never touch a network)."""
    return temporary_environment(**HUB_OFFLINE_VARIABLES)
