"""Seed derivation: a random stream per (seed, key), so one comparison's or one dimension's draws
do not depend on which others are computed.

Every stream is `SeedSequence([seed, key])`; the key is an integer derived from a name in one of
two ways, and each caller keeps the one its published numbers were drawn with (the two give
different streams for the same name):

- `crc32_key(text)`: the CRC-32 of the text (the rating-gap bootstrap, one key per dimension);
- `sha256_key(*identity)`: the first 8 bytes (little-endian) of the sha256 of the JSON list of
  the parts' `str` (the behaviour statistics, one key per comparison).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from typing import Any

import numpy as np


def crc32_key(text: str) -> int:
    """The CRC-32 of `text` (UTF-8): a 32-bit key."""
    return zlib.crc32(text.encode())


def sha256_key(*identity: Any) -> int:
    """A 64-bit key from the sha256 of `json.dumps([str(part) for part in identity])`."""
    text = json.dumps([str(part) for part in identity])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def seed_sequence(seed: int, key: int) -> np.random.SeedSequence:
    """The seed sequence of (seed, key): `SeedSequence([seed, key])`."""
    return np.random.SeedSequence([seed, key])


def generator(seed: int, key: int) -> np.random.Generator:
    """A generator on `seed_sequence(seed, key)` (the stream of `default_rng([seed, key])`)."""
    return np.random.default_rng(seed_sequence(seed, key))


def identity_generator(seed: int, *identity: Any) -> np.random.Generator:
    """The behaviour statistics' stream of one comparison: `generator(seed, sha256_key(*identity))`,
    so a comparison's draws depend only on `seed` and on what it compares."""
    return generator(seed, sha256_key(*identity))
