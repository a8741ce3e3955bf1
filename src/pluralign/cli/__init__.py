"""The `pluralign` command line (see `pluralign.cli.app`)."""

from pluralign.cli.app import app, main

__all__ = ["app", "main"]
