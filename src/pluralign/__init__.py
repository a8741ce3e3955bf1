"""pluralign: whose feedback a small model is aligned to, and whether that changes the model."""

__version__ = "0.1.0"
