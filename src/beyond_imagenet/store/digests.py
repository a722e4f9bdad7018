"""Content digests of what the workflow stores (xxHash's XXH3-128): written when the data is complete, verified
on every read. They catch what a format's own checksums cannot: a value rewritten through the library (which
recomputes its checksum), a lost block read back as zeros (whose checksum is zero too), a file cut at a row boundary.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import xxhash

ALGORITHM = "xxh3_128"
DIGEST_BYTES = 16
READ_CHUNK = 1 << 20


def array_digest(array: np.ndarray) -> str:
    """Hex digest of an array's dtype, shape and bytes (C order)."""
    array = np.ascontiguousarray(array)
    digest = xxhash.xxh3_128(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.data if array.size else b"")
    return digest.hexdigest()


def block_digest(block: np.ndarray) -> np.ndarray:
    """The 16 digest bytes of one block of rows (C order), as uint8."""
    block = np.ascontiguousarray(block)
    return np.frombuffer(xxhash.xxh3_128_digest(block.data if block.size else b""), dtype=np.uint8)


def block_count(rows: int, block_rows: int) -> int:
    """Blocks of `block_rows` rows (the last may be shorter) that cover `rows` rows."""
    return -(-rows // block_rows)


def first_bad_block(array: np.ndarray, digests: np.ndarray, block_rows: int,
                    bounds: np.ndarray | None = None) -> int | None:
    """Index of the first block whose rows do not match their stored digest, or None.

    `bounds` (blocks + 1 row offsets) cut arrays whose blocks are not every `block_rows` rows (layer activations of
    a subset of the images).
    """
    blocks = len(digests)
    for k in range(blocks):
        rows = slice(int(bounds[k]), int(bounds[k + 1])) if bounds is not None else \
            slice(k * block_rows, (k + 1) * block_rows)
        if not np.array_equal(block_digest(array[rows]), digests[k]):
            return k
    return None


def text_digest(lines: Iterable[str]) -> str:
    """Hex digest of strings, one per line (image ids)."""
    text = [str(line) for line in lines]
    # one update of the joined text: the same digest as one update per line (a streaming hash), 3x less CPU
    return xxhash.xxh3_128(("\n".join(text) + "\n").encode() if text else b"").hexdigest()


def file_digest(path: Path) -> str:
    """Hex digest of a file's bytes."""
    digest = xxhash.xxh3_128()
    with open(path, "rb") as handle:
        while block := handle.read(READ_CHUNK):
            digest.update(block)
    return digest.hexdigest()
