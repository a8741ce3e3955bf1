"""The command line's one error path: a failure the user can cause exits 2 with one plain-text
message (file, row and column where there are some), never a traceback (`--debug` shows one)
and never Rich markup read out of a user's data. Warnings are printed the same plain way.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import click
import typer
from rich.console import Console
from typer.core import TyperGroup

from pluralign.config import ConfigError
from pluralign.data.schema import RatingsValidationError
from pluralign.data.sources import ChecksumMismatchError, DatasetUnavailableError
from pluralign.gaps.estimate import GapAnalysisError
from pluralign.pairs.build import PairsError
from pluralign.parameters import ParameterError

EXIT_BAD_INPUT = 2

#: Exceptions a user's input causes (files, names, parameters); everything else is a bug (exit 1).
USER_ERRORS: tuple[type[BaseException], ...] = (
    RatingsValidationError,
    ChecksumMismatchError,
    DatasetUnavailableError,
    GapAnalysisError,
    PairsError,
    ParameterError,
    ConfigError,
    KeyError,
    OSError,
)

console = Console(stderr=True, highlight=False, soft_wrap=True)

#: Set by `pluralign --debug`: show the traceback of a user error too.
DEBUG_ENV = "PLURALIGN_DEBUG"


def say(message: str, prefix: str = "error") -> None:
    """Print one message to stderr as plain text (no markup, no highlighting, no emoji codes)."""
    console.print(f"{prefix}: {message}", markup=False, emoji=False, highlight=False)


def message_of(error: BaseException) -> str:
    """What a user error says, in one plain message naming the file where there is one."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return str(error)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    """Say `message` and exit with `code` (2: the user's input is at fault)."""
    say(message)
    raise typer.Exit(code)


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


class UserErrorGroup(TyperGroup):
    """The root command: user errors from any sub-command become `error: …` and exit 2;
    warnings raised while a command runs are printed as `warning: …` lines."""

    def invoke(self, ctx: click.Context) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            try:
                return super().invoke(ctx)
            except USER_ERRORS as error:
                if debugging() or ctx.meta.get("pluralign_debug"):
                    raise
                say(message_of(error))
                raise typer.Exit(EXIT_BAD_INPUT) from None
            finally:
                for warning in caught:
                    if issubclass(warning.category, UserWarning):
                        say(str(warning.message), prefix="warning")


def check_output_file(output: Path) -> None:
    """Refuse, before any work, an output path that is a folder or whose folder cannot be made
    or written (nothing is created here: folders are made when the file is written)."""
    if output.is_dir():
        fail(f"{output}: is a folder; give the path of a file to write")
    existing = output.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        fail(f"{output}: cannot create its folder: {existing} is a file")
    if not os.access(existing, os.W_OK):
        fail(f"{output}: cannot write there: {existing} is not writable")
