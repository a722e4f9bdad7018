"""Digests stay what caches already on disk were written with (a change would refuse every existing cache)."""

import numpy as np
import pytest
import xxhash

from beyond_imagenet.store.digests import text_digest

pytestmark = pytest.mark.faults


def _one_update_per_line(lines):
    """How ids digests were first computed: each line with its newline, fed one at a time."""
    digest = xxhash.xxh3_128()
    for line in lines:
        digest.update(f"{line}\n".encode())
    return digest.hexdigest()


@pytest.mark.parametrize("lines", [[], ["a"], ["fog/3/n01440764/ILSVRC2012_val_00000293.JPEG", "é/ü", ""],
                                   [f"x/{i:06d}.JPEG" for i in range(5000)]])
def test_text_digest_equals_the_per_line_digest(lines):
    assert text_digest(lines) == _one_update_per_line(lines)
    assert text_digest(np.asarray(lines, dtype=object)) == _one_update_per_line(lines)


def test_text_digest_tells_a_moved_line_break():
    assert text_digest(["ab", "c"]) != text_digest(["a", "bc"])
